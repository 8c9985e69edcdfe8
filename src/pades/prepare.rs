//! Preparing a PDF for a signature: an incremental update with the signature dictionary
//! (`/Adobe.PPKLite`, `/ETSI.CAdES.detached`, `/M`, a zero-filled `/Contents` placeholder and
//! the `/ByteRange`), the field and its widget on a page (with a visible stamp or none), the
//! AcroForm with `/SigFlags 3`. The original bytes are copied unchanged and hashed in the same
//! single pass; the result is the prepared file and the SHA-256 digest the signer signs.

use std::io::{Read, Write};

use sha2::Digest as _;

use super::image::RgbaImage;
use super::pdf::{text_string, Dict, Document, Object};
use super::update::Update;
use super::Error;

/// Where a visible stamp goes: a page (1-based) and a rectangle in points
/// (`[x, y, width, height]`, origin bottom-left).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Page number, from 1.
    pub page: usize,
    /// x, y, width, height in points.
    pub rect: [f64; 4],
}

/// The visible part of a signature.
#[derive(Clone, Debug)]
pub struct Stamp {
    /// Where.
    pub placement: Placement,
    /// The image, centred in the rectangle with its aspect ratio kept.
    pub image: Option<RgbaImage>,
    /// Text lines drawn in the rectangle (after the image).
    pub lines: Vec<TextLine>,
    /// A frame around the rectangle, in this RGB colour (the "ĐẾN" stamp).
    pub frame: Option<[f64; 3]>,
}

/// One line of text in a stamp.
#[derive(Clone, Debug)]
pub struct TextLine {
    /// The text (precomposed Vietnamese letters).
    pub text: String,
    /// Font size in points.
    pub size: f64,
    /// Italic (the date line of Decree 30).
    pub italic: bool,
    /// Baseline start, from the stamp rectangle's bottom-left corner, in points.
    pub x: f64,
    /// Baseline height from the rectangle's bottom.
    pub y: f64,
    /// RGB colour, 0..1 (black for Decree 30 text, red for the "ĐẾN" stamp).
    pub color: [f64; 3],
}

/// The largest signature placeholder: a CMS with its chain, a timestamp and revocation
/// evidence is well under 1 MiB; more is a mistake or an attack on memory.
pub const MAX_CONTENTS_SIZE: usize = 1 << 20;

/// What to prepare.
#[derive(Clone, Debug)]
pub struct PrepareRequest {
    /// Field name (default `Signature<n>`).
    pub field_name: Option<String>,
    /// `/Name`: the signer, from the certificate.
    pub signer_name: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/M`, the signing time (Vietnam time).
    pub time: time::OffsetDateTime,
    /// Bytes reserved for the DER CMS (the placeholder holds twice as many hex digits).
    pub contents_size: usize,
    /// Visible stamps: the first is the signature's widget, the others locked stamp
    /// annotations covered by the same signature; none: an invisible signature.
    pub stamps: Vec<Stamp>,
    /// The stamp font (regular and italic are looked up next to it by name), or the default.
    pub font: Option<std::path::PathBuf>,
    /// Empty text fields to create (the number and date the clerk will fill).
    pub create_fields: Vec<FieldSpec>,
    /// Existing text fields to fill.
    pub fill_fields: Vec<FieldFill>,
    /// A document timestamp (`/DocTimeStamp`, `ETSI.RFC3161`, PAdES B-LTA) instead of a
    /// signature: its `/Contents` takes an RFC 3161 token, and it has no signer, time or reason.
    pub document_timestamp: bool,
}

/// An empty text field to create.
#[derive(Clone, Debug)]
pub struct FieldSpec {
    /// Field name.
    pub name: String,
    /// Page, from 1.
    pub page: usize,
    /// x, y, width, height in points.
    pub rect: [f64; 4],
    /// A blank found on the printed line: what is written is centred in it and made to fit
    /// (`/Q 1`); else it starts at the given point.
    pub centred: bool,
}

/// A text field to fill with a value drawn in the stamp font.
#[derive(Clone, Debug)]
pub struct FieldFill {
    /// Field name.
    pub name: String,
    /// Its value.
    pub text: String,
    /// Font size.
    pub size: f64,
    /// Italic.
    pub italic: bool,
}

/// A top-level field by name: (object number, dictionary).
///
/// # Errors
/// A broken document.
fn find_field(doc: &Document<'_>, name: &str) -> Result<Option<(u32, Dict)>, Error> {
    let (_, catalog) = doc.catalog()?;
    let acroform = doc.get(&catalog, b"AcroForm");
    let fields = acroform
        .as_dict()
        .map(|d| doc.get(d, b"Fields"))
        .unwrap_or(Object::Null);
    for field in fields.as_array().cloned().unwrap_or_default() {
        let Some((n, _)) = field.as_ref() else {
            continue;
        };
        let Some(dict) = doc.object(n)?.as_dict().cloned() else {
            continue;
        };
        if dict
            .get(b"T")
            .and_then(Object::as_string)
            .map(super::pdf::decode_text)
            .as_deref()
            == Some(name)
        {
            return Ok(Some((n, dict)));
        }
    }
    Ok(None)
}

/// What prepare tells the caller.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prepared {
    /// `[0, a, b, c]`.
    pub byte_range: [u64; 4],
    /// SHA-256 of the ByteRange, what the agent signs.
    pub digest: Vec<u8>,
    /// The field name.
    pub field: String,
    /// DER bytes the placeholder can take.
    pub capacity: usize,
    /// Where the number and the date are (to be) written, when this signature deals with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clerk_places: Option<ClerkPlaces>,
}

/// How a signature dealt with the places of the document's number and date.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ClerkPlaces {
    /// The leader's preparation created empty text fields for the clerk: filling them is form
    /// filling, which every earlier signature allows.
    FormFields,
    /// The draft already carried signatures, which a new text field would break in strict
    /// verifiers: the places are recorded in the leader's signature field instead.
    Recorded,
    /// The clerk filled the text fields.
    FilledFields,
    /// The clerk's signature drew the number and date as widgets of its own field (the places
    /// the leader recorded), so that no text field is added after a signature.
    SignatureWidgets,
}

impl ClerkPlaces {
    /// Its name on the wire (`formFields`…), as serde writes it.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::FormFields => "formFields",
            Self::Recorded => "recorded",
            Self::FilledFields => "filledFields",
            Self::SignatureWidgets => "signatureWidgets",
        }
    }

    /// Its catalogue message id (`places-*`).
    pub fn message_id(self) -> &'static str {
        match self {
            Self::FormFields => "places-form-fields",
            Self::Recorded => "places-recorded",
            Self::FilledFields => "places-filled-fields",
            Self::SignatureWidgets => "places-signature-widgets",
        }
    }
}

/// The key of a signature field's dictionary holding the places the leader recorded for the
/// clerk (`<< /SoVanBan [page x0 y0 x1 y1 centred] … >>`), when text fields could not be added.
const PLACES_KEY: &[u8] = b"KysoClerkPlaces";

/// Where the clerk writes one of the document's fields (number, date, day, month).
#[derive(Clone, Debug)]
pub struct ClerkPlace {
    /// Page, from 1.
    pub page: usize,
    /// `[x0, y0, x1, y1]` in points.
    pub rect: [f64; 4],
    /// A blank of the printed line: what is written is centred and made to fit.
    pub centred: bool,
    /// The text field (object number, dictionary), or none for a place recorded in the
    /// leader's signature field.
    pub field: Option<(u32, Dict)>,
}

/// The place of `name`: its text field, else a place recorded by the leader's signature.
///
/// # Errors
/// A broken document.
pub fn clerk_place(doc: &Document<'_>, name: &str) -> Result<Option<ClerkPlace>, Error> {
    let numbers = |o: &Object| -> Vec<f64> {
        o.as_array()
            .map(|a| a.iter().filter_map(|v| doc.resolve(v).as_f64()).collect())
            .unwrap_or_default()
    };
    if let Some((n, dict)) = find_field(doc, name)? {
        let page = match dict.get(b"P").and_then(Object::as_ref) {
            Some((page_n, _)) => doc
                .pages()?
                .iter()
                .position(|(p, _)| *p == page_n)
                .map_or(1, |i| i + 1),
            None => 1,
        };
        let [x0, y0, x1, y1] = numbers(&doc.get(&dict, b"Rect"))[..] else {
            return Err(Error::Placement(format!(
                "the field {name} has no rectangle"
            )));
        };
        return Ok(Some(ClerkPlace {
            page,
            rect: [x0, y0, x1, y1],
            centred: doc.get(&dict, b"Q").as_int() == Some(1),
            field: Some((n, dict)),
        }));
    }
    for (_, _, widget) in super::verify::signature_fields(doc) {
        let Some(places) = doc.get(&widget, PLACES_KEY).as_dict().cloned() else {
            continue;
        };
        let entry = doc.get(&places, name.as_bytes());
        let values = numbers(&entry);
        let centred = entry
            .as_array()
            .and_then(|a| a.last())
            .is_some_and(|v| matches!(doc.resolve(v), Object::Bool(true)));
        if let [page, x0, y0, x1, y1] = values[..] {
            if page >= 1.0 && x1 > x0 && y1 > y0 {
                return Ok(Some(ClerkPlace {
                    page: page as usize,
                    rect: [x0, y0, x1, y1],
                    centred,
                    field: None,
                }));
            }
        }
    }
    Ok(None)
}

/// Default DER bytes reserved: a chain of 3–4 certificates plus a timestamp fits.
pub const DEFAULT_CONTENTS_SIZE: usize = 16 * 1024;

/// Width of the ByteRange placeholder (four numbers of up to 10 digits and spaces).
const BYTE_RANGE_WIDTH: usize = 48;

fn pdf_date(t: time::OffsetDateTime) -> String {
    let offset = t.offset();
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}'{:02}'",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// Builds the update for `doc`; returns it with the field name.
fn build_update(
    doc: &Document<'_>,
    request: &PrepareRequest,
) -> Result<(Update, String, Option<ClerkPlaces>), Error> {
    let pages = doc.pages()?;
    let page_of = |index: usize| {
        pages
            .get(index.wrapping_sub(1))
            .cloned()
            .ok_or(Error::PlacementNotFound(format!(
                "the document has {} pages, not {index}",
                pages.len()
            )))
    };
    for stamp in &request.stamps {
        let [_, _, w, h] = stamp.placement.rect;
        if !(w > 0.0 && h > 0.0) {
            return Err(Error::Placement("the stamp rectangle is empty".into()));
        }
        page_of(stamp.placement.page)?;
    }
    let (catalog_n, catalog) = doc.catalog()?;
    let mut update = Update::new(doc);

    // AcroForm: inline, indirect, or new.
    let acroform_ref = catalog.get(b"AcroForm").and_then(Object::as_ref);
    let mut acroform = doc
        .get(&catalog, b"AcroForm")
        .as_dict()
        .cloned()
        .unwrap_or_default();
    let mut fields: Vec<Object> = doc
        .get(&acroform, b"Fields")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let existing_names: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            doc.resolve(f).as_dict().and_then(|d| {
                d.get(b"T")
                    .and_then(Object::as_string)
                    .map(super::pdf::decode_text)
            })
        })
        .collect();
    let field_name = match &request.field_name {
        Some(name) if existing_names.contains(name) => {
            return Err(Error::Placement(format!(
                "a field named {name} already exists"
            )))
        }
        Some(name) => name.clone(),
        None => (1..)
            .map(|i| format!("Signature{i}"))
            .find(|n| !existing_names.contains(n))
            .unwrap_or_else(|| "Signature".into()),
    };

    let mut sig = Dict::default();
    let (kind, sub_filter): (&[u8], &[u8]) = if request.document_timestamp {
        (b"DocTimeStamp", b"ETSI.RFC3161")
    } else {
        (b"Sig", b"ETSI.CAdES.detached")
    };
    sig.set(b"Type", Object::Name(kind.to_vec()));
    sig.set(b"Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set(b"SubFilter", Object::Name(sub_filter.to_vec()));
    // Placeholders, replaced by exact byte patterns when the update is serialised.
    sig.set(b"ByteRange", Object::Name(b"KYSO_BYTE_RANGE".to_vec()));
    sig.set(b"Contents", Object::Name(b"KYSO_CONTENTS".to_vec()));
    if !request.document_timestamp {
        sig.set(b"M", Object::String(pdf_date(request.time).into_bytes()));
        if let Some(name) = &request.signer_name {
            sig.set(b"Name", text_string(name));
        }
        if let Some(reason) = &request.reason {
            sig.set(b"Reason", text_string(reason));
        }
    }
    let sig_n = update.add(&Object::Dict(sig));

    let fonts = StampFonts::load(request)?;
    let widget_base = |page_n: u32| {
        let mut widget = Dict::default();
        widget.set(b"Type", Object::Name(b"Annot".to_vec()));
        widget.set(b"Subtype", Object::Name(b"Widget".to_vec()));
        widget.set(b"F", Object::Int(132));
        widget.set(b"P", Object::Ref(page_n, 0));
        widget
    };
    let rect_object = |[x, y, w, h]: [f64; 4]| {
        Object::Array(
            [x, y, x + w, y + h]
                .iter()
                .map(|v| Object::Real(*v))
                .collect(),
        )
    };
    if request.stamps.len() > 1 {
        return Err(Error::Placement("one visible stamp per signature".into()));
    }
    let field_n = update.reserve();
    // (page object, widget object) pairs to list in the pages' /Annots.
    let mut placed: Vec<(u32, u32)> = Vec::new();
    let mut clerk_places = None;

    // The clerk's number and date: an existing text field is filled (form filling); a place
    // the leader recorded becomes a widget of this signature's own field.
    // (page object, appearance, [x, y, w, h]) of what this signature draws besides its stamp.
    let mut parts: Vec<(u32, u32, [f64; 4])> = Vec::new();
    for fill in &request.fill_fields {
        let place = clerk_place(doc, &fill.name)?.ok_or_else(|| {
            Error::PlacementNotFound(format!(
                "the draft has no field {}: prepare the leader's signature with its place",
                fill.name
            ))
        })?;
        let [x0, y0, x1, y1] = place.rect;
        let (size, x) = if place.centred {
            fit_in_blank(fonts.as_ref(), fill, x1 - x0)?
        } else {
            (fill.size, 1.0)
        };
        let stamp = Stamp {
            placement: Placement {
                page: place.page,
                rect: [x0, y0, x1 - x0, y1 - y0],
            },
            image: None,
            lines: vec![TextLine {
                text: fill.text.clone(),
                size,
                italic: fill.italic,
                x,
                y: fill.size * 0.25,
                color: [0.0; 3],
            }],
            frame: None,
        };
        let appearance = appearance_stream(&mut update, &stamp, fonts.as_ref())?;
        let mut ap = Dict::default();
        ap.set(b"N", Object::Ref(appearance, 0));
        match place.field {
            Some((n, dict)) => {
                let mut filled = dict;
                filled.set(b"V", text_string(&fill.text));
                filled.set(b"AP", Object::Dict(ap));
                update.put(n, generation(doc, n), &Object::Dict(filled));
                clerk_places = Some(ClerkPlaces::FilledFields);
            }
            None => {
                let (page_n, _) = page_of(place.page)?;
                parts.push((page_n, appearance, stamp.placement.rect));
                clerk_places = Some(ClerkPlaces::SignatureWidgets);
            }
        }
    }

    // The signature's field and its widget (one dictionary, or a field with the widgets as
    // kids when the clerk's number and date are drawn by this signature).
    let (page_n, _) = page_of(
        request
            .stamps
            .first()
            .map(|s| s.placement.page)
            .unwrap_or(1),
    )?;
    let mut widget = widget_base(page_n);
    let (mut rect, mut appearance) = match request.stamps.first() {
        Some(stamp) => (
            stamp.placement.rect,
            Some(appearance_stream(&mut update, stamp, fonts.as_ref())?),
        ),
        None => ([0.0; 4], None),
    };
    // What is drawn on the stamp's page joins the stamp in one widget; only what lies on
    // another page needs a widget of its own, a kid of this field. Poppler before 23 reads a
    // kid that names its /Parent as a field of its own and then reports the signature as
    // unsigned, so the kids do not name it (the field lists them; pyHanko and Kyso find them
    // from there).
    if let Some(main) = appearance {
        let (same_page, other_pages): (Vec<_>, Vec<_>) =
            parts.into_iter().partition(|(p, _, _)| *p == page_n);
        if !same_page.is_empty() {
            let mut all = vec![(main, rect)];
            all.extend(same_page.iter().map(|(_, a, r)| (*a, *r)));
            let (union, joined) = composite_appearance(&mut update, &all);
            rect = union;
            appearance = Some(joined);
        }
        parts = other_pages;
    }
    if let Some(appearance) = appearance {
        let mut ap = Dict::default();
        ap.set(b"N", Object::Ref(appearance, 0));
        widget.set(b"AP", Object::Dict(ap));
    }
    widget.set(b"Rect", rect_object(rect));
    let kid_widgets: Vec<(u32, Dict)> = parts
        .into_iter()
        .map(|(page_n, appearance, rect)| {
            let mut kid = widget_base(page_n);
            let mut ap = Dict::default();
            ap.set(b"N", Object::Ref(appearance, 0));
            kid.set(b"AP", Object::Dict(ap));
            kid.set(b"Rect", rect_object(rect));
            (page_n, kid)
        })
        .collect();
    let mut field = Dict::default();
    field.set(b"FT", Object::Name(b"Sig".to_vec()));
    field.set(b"T", text_string(&field_name));
    field.set(b"V", Object::Ref(sig_n, 0));

    // Empty text fields the clerk will fill, created with the leader's signature so that
    // filling them later is form filling, which keeps the leader's signature valid. A text
    // field added after another party's signature is a change strict verifiers refuse
    // (pyHanko: "More form fields added than expected"): then the places are recorded in
    // this signature's field instead, for the clerk's signature to draw in.
    let signed_before = !super::verify::signature_fields(doc).is_empty();
    let mut new_fields = Vec::new();
    if signed_before && !request.create_fields.is_empty() {
        let mut places = Dict::default();
        for spec in &request.create_fields {
            page_of(spec.page)?;
            let [x, y, w, h] = spec.rect;
            let mut entry = vec![Object::Int(spec.page as i64)];
            entry.extend([x, y, x + w, y + h].iter().map(|v| Object::Real(*v)));
            entry.push(Object::Bool(spec.centred));
            places.set(spec.name.as_bytes(), Object::Array(entry));
        }
        field.set(PLACES_KEY, Object::Dict(places));
        clerk_places = Some(ClerkPlaces::Recorded);
    } else {
        for spec in &request.create_fields {
            let (page_n, _) = page_of(spec.page)?;
            let mut text_field = widget_base(page_n);
            text_field.set(b"F", Object::Int(4));
            text_field.set(b"FT", Object::Name(b"Tx".to_vec()));
            text_field.set(b"T", text_string(&spec.name));
            text_field.set(b"DA", Object::String(b"/Helv 13 Tf 0 g".to_vec()));
            if spec.centred {
                text_field.set(b"Q", Object::Int(1));
            }
            text_field.set(b"Rect", rect_object(spec.rect));
            let n = update.add(&Object::Dict(text_field));
            placed.push((page_n, n));
            new_fields.push(Object::Ref(n, 0));
            clerk_places = Some(ClerkPlaces::FormFields);
        }
    }

    if kid_widgets.is_empty() {
        for (key, value) in field.0 {
            widget.set(&key, value);
        }
        update.put(field_n, 0, &Object::Dict(widget));
        placed.push((page_n, field_n));
    } else {
        let main = update.add(&Object::Dict(widget));
        placed.push((page_n, main));
        let mut kids = vec![Object::Ref(main, 0)];
        for (page_n, kid) in kid_widgets {
            let n = update.add(&Object::Dict(kid));
            placed.push((page_n, n));
            kids.push(Object::Ref(n, 0));
        }
        field.set(b"Kids", Object::Array(kids));
        update.put(field_n, 0, &Object::Dict(field));
    }

    // Each page's /Annots, wherever its array lives.
    let mut page_numbers: Vec<u32> = placed.iter().map(|(p, _)| *p).collect();
    page_numbers.dedup();
    for page_n in page_numbers {
        let page_dict = pages
            .iter()
            .find(|(n, _)| *n == page_n)
            .map(|(_, d)| d.clone())
            .ok_or(Error::Internal("page vanished"))?;
        let annot_ref = page_dict.get(b"Annots").and_then(Object::as_ref);
        let mut annots = doc
            .get(&page_dict, b"Annots")
            .as_array()
            .cloned()
            .unwrap_or_default();
        annots.extend(
            placed
                .iter()
                .filter(|(p, _)| *p == page_n)
                .map(|(_, w)| Object::Ref(*w, 0)),
        );
        match annot_ref {
            Some((n, g)) => update.put(n, g, &Object::Array(annots)),
            None => {
                let mut page = page_dict.clone();
                page.set(b"Annots", Object::Array(annots));
                update.put(page_n, generation(doc, page_n), &Object::Dict(page));
            }
        }
    }

    fields.push(Object::Ref(field_n, 0));
    fields.extend(new_fields);
    acroform.set(b"Fields", Object::Array(fields));
    if !request.create_fields.is_empty() && acroform.get(b"DR").is_none() {
        // The default appearance of the text fields names Helvetica.
        let mut helv = Dict::default();
        helv.set(b"Type", Object::Name(b"Font".to_vec()));
        helv.set(b"Subtype", Object::Name(b"Type1".to_vec()));
        helv.set(b"BaseFont", Object::Name(b"Helvetica".to_vec()));
        let mut fonts_dict = Dict::default();
        fonts_dict.set(b"Helv", Object::Dict(helv));
        let mut dr = Dict::default();
        dr.set(b"Font", Object::Dict(fonts_dict));
        acroform.set(b"DR", Object::Dict(dr));
    }
    acroform.set(b"SigFlags", Object::Int(3));
    match acroform_ref {
        Some((n, g)) => update.put(n, g, &Object::Dict(acroform)),
        None => {
            let acroform_n = update.add(&Object::Dict(acroform));
            let mut catalog = catalog.clone();
            catalog.set(b"AcroForm", Object::Ref(acroform_n, 0));
            update.put(
                catalog_n,
                generation(doc, catalog_n),
                &Object::Dict(catalog),
            );
        }
    }
    Ok((update, field_name, clerk_places))
}

/// The regular and italic stamp fonts, loaded only when a stamp has text.
/// The smallest size a number or a date is written at to fit a printed blank.
pub const MIN_FILL_SIZE: f64 = 8.0;

/// The size and left offset that centre `fill` in a blank `width` points wide: its own size
/// when it fits, else smaller down to [`MIN_FILL_SIZE`].
///
/// # Errors
/// [`Error::Placement`] when it does not fit even then (the draft's blank is too narrow).
fn fit_in_blank(
    fonts: Option<&StampFonts>,
    fill: &FieldFill,
    width: f64,
) -> Result<(f64, f64), Error> {
    let Some(fonts) = fonts else {
        return Err(Error::Internal("no font for a field"));
    };
    let font = match (&fonts.italic, fill.italic) {
        (Some(italic), true) => italic,
        _ => &fonts.regular,
    };
    let natural = font.width(&fill.text, fill.size)?;
    let size = if natural <= width {
        fill.size
    } else {
        fill.size * width / natural.max(f64::EPSILON)
    };
    if size < MIN_FILL_SIZE {
        return Err(Error::Placement(format!(
            "\"{}\" does not fit the blank the draft leaves for it ({width:.1} pt wide, even at {MIN_FILL_SIZE} pt): give the number's and the date's places (number-at, date-at) when the leader signs",
            fill.text
        )));
    }
    let used = font.width(&fill.text, size)?;
    Ok((size, ((width - used) / 2.0).max(0.0)))
}

struct StampFonts {
    regular: super::text::Font,
    italic: Option<super::text::Font>,
}

impl StampFonts {
    fn load(request: &PrepareRequest) -> Result<Option<Self>, Error> {
        let italics: Vec<bool> = request
            .stamps
            .iter()
            .flat_map(|s| s.lines.iter().map(|l| l.italic))
            .chain(request.fill_fields.iter().map(|f| f.italic))
            .collect();
        if italics.is_empty() {
            return Ok(None);
        }
        let regular = super::text::Font::stamp(request.font.as_deref(), false)?;
        let italic = if italics.iter().any(|i| *i) {
            // An agency font: its italic is not known, so the same file is used.
            Some(super::text::Font::stamp(
                request.font.as_deref(),
                request.font.is_none(),
            )?)
        } else {
            None
        };
        Ok(Some(Self { regular, italic }))
    }
}

/// The form XObject of a visible stamp: the image centred (aspect ratio kept), then the text.
fn appearance_stream(
    update: &mut Update,
    stamp: &Stamp,
    fonts: Option<&StampFonts>,
) -> Result<u32, Error> {
    let [_, _, w, h] = stamp.placement.rect;
    let mut resources = Dict::default();
    let mut content = String::new();
    if let Some(image) = &stamp.image {
        let n = image.add_to(update);
        let mut xobjects = Dict::default();
        xobjects.set(b"Im1", Object::Ref(n, 0));
        resources.set(b"XObject", Object::Dict(xobjects));
        let scale = (w / f64::from(image.width)).min(h / f64::from(image.height));
        let (iw, ih) = (
            f64::from(image.width) * scale,
            f64::from(image.height) * scale,
        );
        content.push_str(&format!(
            "q {iw:.3} 0 0 {ih:.3} {:.3} {:.3} cm /Im1 Do Q\n",
            (w - iw) / 2.0,
            (h - ih) / 2.0
        ));
    }
    if let (false, Some(fonts)) = (stamp.lines.is_empty(), fonts) {
        let mut set = super::text::FontSet::default();
        let names: Vec<String> = stamp
            .lines
            .iter()
            .map(|l| {
                set.use_text(
                    if l.italic {
                        fonts.italic.as_ref().unwrap_or(&fonts.regular)
                    } else {
                        &fonts.regular
                    },
                    &l.text,
                )
            })
            .collect();
        let (font_resources, maps) = set.write(update)?;
        resources.set(b"Font", Object::Dict(font_resources));
        content.push_str("BT\n");
        for (line, name) in stamp.lines.iter().zip(&names) {
            let map = maps.get(name).ok_or(Error::Internal("font map"))?;
            let [r, g, b] = line.color;
            content.push_str(&format!(
                "{r:.3} {g:.3} {b:.3} rg /{name} {:.2} Tf 1 0 0 1 {:.3} {:.3} Tm {} Tj\n",
                line.size,
                line.x,
                line.y,
                super::text::encode(map, &line.text)
            ));
        }
        content.push_str("ET\n");
    }
    if let Some([r, g, b]) = stamp.frame {
        content.push_str(&format!(
            "q {r:.3} {g:.3} {b:.3} RG 1.2 w 1 1 {:.3} {:.3} re S Q\n",
            w - 2.0,
            h - 2.0
        ));
    }
    Ok(add_form(update, w, h, resources, &content))
}

/// Adds a form XObject `w` × `h` points drawing `content` with `resources`.
fn add_form(update: &mut Update, w: f64, h: f64, resources: Dict, content: &str) -> u32 {
    let mut dict = Dict::default();
    dict.set(b"Type", Object::Name(b"XObject".to_vec()));
    dict.set(b"Subtype", Object::Name(b"Form".to_vec()));
    dict.set(
        b"BBox",
        Object::Array(vec![
            Object::Int(0),
            Object::Int(0),
            Object::Real(w),
            Object::Real(h),
        ]),
    );
    dict.set(b"Resources", Object::Dict(resources));
    update.add_stream(dict, content.as_bytes())
}

/// One form XObject that paints the given appearances (`[x, y, w, h]` each, page space) where
/// they are: the signature's stamp and the number and date it writes on the same page.
/// Returns the union rectangle and the form.
fn composite_appearance(update: &mut Update, parts: &[(u32, [f64; 4])]) -> ([f64; 4], u32) {
    let x0 = parts
        .iter()
        .map(|(_, r)| r[0])
        .fold(f64::INFINITY, f64::min);
    let y0 = parts
        .iter()
        .map(|(_, r)| r[1])
        .fold(f64::INFINITY, f64::min);
    let x1 = parts
        .iter()
        .map(|(_, r)| r[0] + r[2])
        .fold(f64::NEG_INFINITY, f64::max);
    let y1 = parts
        .iter()
        .map(|(_, r)| r[1] + r[3])
        .fold(f64::NEG_INFINITY, f64::max);
    let mut xobjects = Dict::default();
    let mut content = String::new();
    for (i, (form, [x, y, _, _])) in parts.iter().enumerate() {
        let name = format!("P{i}");
        xobjects.set(name.as_bytes(), Object::Ref(*form, 0));
        content.push_str(&format!(
            "q 1 0 0 1 {:.3} {:.3} cm /{name} Do Q\n",
            x - x0,
            y - y0
        ));
    }
    let mut resources = Dict::default();
    resources.set(b"XObject", Object::Dict(xobjects));
    let form = add_form(update, x1 - x0, y1 - y0, resources, &content);
    ([x0, y0, x1 - x0, y1 - y0], form)
}

fn generation(doc: &Document<'_>, n: u32) -> u16 {
    match doc.xref.get(&n) {
        Some(super::pdf::XrefEntry::Offset(_, g)) => *g,
        _ => 0,
    }
}

/// Copies `input` to `out` and returns the SHA-256 of what it copied and how many bytes. The
/// hashing runs on a second thread, a chunk behind the copy: on a large file reading and writing
/// and hashing overlap instead of adding up (issue 19: one-pass signing at 100 MB). Four 1 MiB
/// buffers circulate, so memory stays flat whatever the size.
fn copy_and_hash(
    input: &mut impl Read,
    out: &mut impl Write,
) -> Result<(sha2::Sha256, usize), Error> {
    const CHUNK: usize = 1 << 20;
    std::thread::scope(|scope| {
        let (to_hash, chunks) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (give_back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
        let hashing = scope.spawn(move || {
            let mut hasher = sha2::Sha256::new();
            for chunk in chunks {
                hasher.update(&chunk);
                let _ = give_back.send(chunk);
            }
            hasher
        });
        let mut spare: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; CHUNK]).collect();
        let mut copied = 0usize;
        // On an early return the sender drops, the hashing thread ends and the scope joins it.
        loop {
            let mut buffer = match spare.pop() {
                Some(buffer) => buffer,
                None => returned
                    .recv()
                    .map_err(|_| Error::Internal("the hashing thread stopped"))?,
            };
            buffer.resize(CHUNK, 0);
            let n = input.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            buffer.truncate(n);
            out.write_all(&buffer)?;
            copied += n;
            to_hash
                .send(buffer)
                .map_err(|_| Error::Internal("the hashing thread stopped"))?;
        }
        drop(to_hash);
        let hasher = hashing
            .join()
            .map_err(|_| Error::Internal("the hashing thread panicked"))?;
        Ok((hasher, copied))
    })
}

/// Prepares `input` into `out`: copies the original, appends the update, returns the digest.
/// `input` is read once, sequentially (`input_len` bytes).
///
/// # Errors
/// Unreadable PDF, impossible placement, I/O.
pub fn prepare(
    doc: &Document<'_>,
    mut input: impl Read,
    mut out: impl Write,
    request: &PrepareRequest,
) -> Result<Prepared, Error> {
    let (update, field, clerk_places) = build_update(doc, request)?;
    let original_len = doc.data.len();
    let needs_newline = !matches!(doc.data.last(), Some(b'\n' | b'\r'));
    let base = original_len + usize::from(needs_newline);
    if request.contents_size > MAX_CONTENTS_SIZE {
        return Err(Error::Placement(format!(
            "contents size {} is above the {MAX_CONTENTS_SIZE}-byte limit",
            request.contents_size
        )));
    }
    let capacity = request.contents_size.max(1024);
    let contents = format!("<{}>", "0".repeat(capacity * 2));
    let range_placeholder = format!("[{}]", " ".repeat(BYTE_RANGE_WIDTH));
    let mut tail = update.serialize_with(
        doc,
        base,
        &[
            (b"/KYSO_CONTENTS", contents.as_bytes()),
            (b"/KYSO_BYTE_RANGE", range_placeholder.as_bytes()),
        ],
    );
    let contents_at =
        super::pdf::find(&tail, contents.as_bytes()).ok_or(Error::Internal("placeholder lost"))?;
    let a = base + contents_at;
    let b = a + contents.len();
    let total = base + tail.len();
    let c = total - b;
    let byte_range = [0u64, a as u64, b as u64, c as u64];
    let range_text = format!("[0 {a} {b} {c}]");
    let range_at = super::pdf::find(&tail, range_placeholder.as_bytes())
        .ok_or(Error::Internal("range lost"))?;
    let padded = format!("{range_text:<width$}", width = range_placeholder.len());
    tail[range_at..range_at + padded.len()].copy_from_slice(padded.as_bytes());

    // One pass over the original: copied here while another thread hashes what was copied.
    let (mut hasher, copied) = copy_and_hash(&mut input, &mut out)?;
    if copied != original_len {
        return Err(Error::Internal("the input changed while it was read"));
    }
    if needs_newline {
        hasher.update(b"\n");
        out.write_all(b"\n")?;
    }
    hasher.update(&tail[..contents_at]);
    hasher.update(&tail[contents_at + contents.len()..]);
    out.write_all(&tail)?;
    out.flush()?;
    Ok(Prepared {
        byte_range,
        digest: hasher.finalize().to_vec(),
        field,
        capacity,
        clerk_places,
    })
}
