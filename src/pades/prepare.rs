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
}

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
    /// Visible stamp, or `None` for an invisible signature (on page 1).
    pub stamp: Option<Stamp>,
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
fn build_update(doc: &Document<'_>, request: &PrepareRequest) -> Result<(Update, String), Error> {
    let pages = doc.pages()?;
    let page_index = request
        .stamp
        .as_ref()
        .map(|s| s.placement.page)
        .unwrap_or(1);
    let (page_n, page_dict) =
        pages
            .get(page_index.wrapping_sub(1))
            .cloned()
            .ok_or(Error::Placement(format!(
                "the document has {} pages, not {page_index}",
                pages.len()
            )))?;
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
    sig.set(b"Type", Object::Name(b"Sig".to_vec()));
    sig.set(b"Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set(b"SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    // Placeholders, replaced by exact byte patterns below.
    sig.set(b"ByteRange", Object::Name(b"KYSO_BYTE_RANGE".to_vec()));
    sig.set(b"Contents", Object::Name(b"KYSO_CONTENTS".to_vec()));
    sig.set(b"M", Object::String(pdf_date(request.time).into_bytes()));
    if let Some(name) = &request.signer_name {
        sig.set(b"Name", text_string(name));
    }
    if let Some(reason) = &request.reason {
        sig.set(b"Reason", text_string(reason));
    }
    let sig_n = update.add(&Object::Dict(sig));

    let mut widget = Dict::default();
    widget.set(b"Type", Object::Name(b"Annot".to_vec()));
    widget.set(b"Subtype", Object::Name(b"Widget".to_vec()));
    widget.set(b"FT", Object::Name(b"Sig".to_vec()));
    widget.set(b"T", text_string(&field_name));
    widget.set(b"V", Object::Ref(sig_n, 0));
    widget.set(b"F", Object::Int(132));
    widget.set(b"P", Object::Ref(page_n, 0));
    let rect = match &request.stamp {
        Some(stamp) => {
            let [x, y, w, h] = stamp.placement.rect;
            if !(w > 0.0 && h > 0.0) {
                return Err(Error::Placement("the stamp rectangle is empty".into()));
            }
            let appearance = appearance_stream(&mut update, stamp, w, h);
            let mut ap = Dict::default();
            ap.set(b"N", Object::Ref(appearance, 0));
            widget.set(b"AP", Object::Dict(ap));
            [x, y, x + w, y + h]
        }
        None => [0.0; 4],
    };
    widget.set(
        b"Rect",
        Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()),
    );
    let widget_n = update.add(&Object::Dict(widget));

    // The page's /Annots, wherever the array lives.
    let annot_ref = page_dict.get(b"Annots").and_then(Object::as_ref);
    let mut annots = doc
        .get(&page_dict, b"Annots")
        .as_array()
        .cloned()
        .unwrap_or_default();
    annots.push(Object::Ref(widget_n, 0));
    match annot_ref {
        Some((n, g)) => update.put(n, g, &Object::Array(annots)),
        None => {
            let mut page = page_dict.clone();
            page.set(b"Annots", Object::Array(annots));
            update.put(page_n, generation(doc, page_n), &Object::Dict(page));
        }
    }

    fields.push(Object::Ref(widget_n, 0));
    acroform.set(b"Fields", Object::Array(fields));
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
    Ok((update, field_name))
}

fn generation(doc: &Document<'_>, n: u32) -> u16 {
    match doc.xref.get(&n) {
        Some(super::pdf::XrefEntry::Offset(_, g)) => *g,
        _ => 0,
    }
}

/// The form XObject of a visible stamp: the image centred, aspect ratio kept.
fn appearance_stream(update: &mut Update, stamp: &Stamp, w: f64, h: f64) -> u32 {
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
    let (update, field) = build_update(doc, request)?;
    let original_len = doc.data.len();
    let needs_newline = !matches!(doc.data.last(), Some(b'\n' | b'\r'));
    let base = original_len + usize::from(needs_newline);
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

    // One pass over the original: copy and hash.
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut copied = 0usize;
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
        copied += n;
    }
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
    })
}

/// Where the clerk's seal goes: at its real size (from the PNG resolution; 40 mm when the PNG
/// does not say), over the left third of the leader's signature image, centred on it
/// vertically (Decree 30, Appendix I §II.8.a). The leader's signature is the last valid
/// personal signature in the document.
///
/// # Errors
/// [`Error::Placement`] when there is no valid personal signature to seal (Đ.32.2 d).
pub fn seal_placement(
    doc: &Document<'_>,
    data: &[u8],
    seal: &RgbaImage,
) -> Result<Placement, Error> {
    let report = super::verify::verify(data, &[], false)?;
    let leader = report
        .signatures
        .iter()
        .rev()
        .find(|s| {
            s.kind == Some(crate::certificate::Kind::Personal)
                && s.intact
                && s.signature_valid
                && s.verdict != super::verify::Verdict::Invalid
        })
        .ok_or_else(|| {
            Error::Placement(
                "chưa có chữ ký hợp lệ của người có thẩm quyền / no valid personal signature to issue".into(),
            )
        })?;
    let (page, rect) = widget_rect(doc, &leader.field)?;
    let (w, h) = seal.size_pt().unwrap_or((
        40.0 / 25.4 * 72.0,
        40.0 / 25.4 * 72.0 * f64::from(seal.height) / f64::from(seal.width),
    ));
    let [x0, y0, x1, y1] = rect;
    let right = x0 + (x1 - x0) / 3.0;
    let centre_y = (y0 + y1) / 2.0;
    Ok(Placement {
        page,
        rect: [right - w, centre_y - h / 2.0, w, h],
    })
}

/// The page (from 1) and rectangle of a signature field's widget.
fn widget_rect(doc: &Document<'_>, field: &str) -> Result<(usize, [f64; 4]), Error> {
    let pages = doc.pages()?;
    for (index, (_, page)) in pages.iter().enumerate() {
        for annot in doc
            .get(page, b"Annots")
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let Some(dict) = doc.resolve(&annot).as_dict().cloned() else {
                continue;
            };
            let name = dict
                .get(b"T")
                .and_then(Object::as_string)
                .map(super::pdf::decode_text);
            if name.as_deref() != Some(field) {
                continue;
            }
            let rect: Vec<f64> = doc
                .get(&dict, b"Rect")
                .as_array()
                .map(|a| a.iter().filter_map(Object::as_f64).collect())
                .unwrap_or_default();
            if let [a, b, c, d] = rect[..] {
                if (c - a).abs() > 1.0 && (d - b).abs() > 1.0 {
                    return Ok((index + 1, [a.min(c), b.min(d), a.max(c), b.max(d)]));
                }
            }
        }
    }
    Err(Error::Placement(format!(
        "the signature {field} has no visible stamp to seal over"
    )))
}
