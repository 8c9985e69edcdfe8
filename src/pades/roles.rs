//! The Vietnamese signing roles and their visible stamps (Decree 30/2020, Appendix I; see
//! research/vn-rules.md §1): what each role draws, and where.
//!
//! - `approve`: the leader's handwritten-signature image, centred in the given rectangle.
//! - `issue`: the agency's red seal at its real size over the left third of the leader's
//!   signature, the document number and the date (13 pt, the date italic) where the draft
//!   leaves them blank; refused without a valid personal signature.
//! - `appendix`: no image; top right of page 1, the main document's number and symbol and the
//!   signing time (ISO 8601, +07:00), Times 10 pt.
//! - `copy`: no image; top right of page 1, the copy form ("SAO Y", "SAO LỤC", "TRÍCH SAO"),
//!   the copying organisation and the signing time.

use super::image::RgbaImage;
use super::iso8601_vn;
use super::pdf::{Document, Object};
use super::prepare::{clerk_place, FieldFill, FieldSpec, Placement, Stamp, TextLine};
use super::Error;

/// A signing role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Leader approves.
    Approve,
    /// Clerk issues.
    Issue,
    /// Separate attached file.
    Appendix,
    /// Electronic copy.
    Copy,
    /// An incoming document: the "ĐẾN" block (35 × 50 mm).
    Incoming,
}

impl Role {
    /// The role's name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Issue => "issue",
            Self::Appendix => "appendix",
            Self::Copy => "copy",
            Self::Incoming => "incoming",
        }
    }

    /// Parses `approve|issue|appendix|copy|incoming`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "approve" => Some(Self::Approve),
            "issue" => Some(Self::Issue),
            "appendix" => Some(Self::Appendix),
            "copy" => Some(Self::Copy),
            "incoming" => Some(Self::Incoming),
            _ => None,
        }
    }
}

/// A point on a page: page (from 1) and baseline start in points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// Page, from 1.
    pub page: usize,
    /// x in points.
    pub x: f64,
    /// Baseline y in points.
    pub y: f64,
}

/// Where a visible signature goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    /// A rectangle on a page.
    At(Placement),
    /// Centred above the line holding this text (the signer's name line), searched from the
    /// last page.
    Above(String),
}

/// What a signature stamps: one variant per role (Decree 30, Appendix I), each holding only what
/// its role uses, so a request that gives a role something it cannot use is refused, not
/// silently ignored. The command line's options ([`StampFields`]) and the bridge's JSON
/// (`"role": "issue", …`, the same fields) both become one of these through
/// [`StampSpec::from_fields`]: one rule for what each role needs.
#[derive(Clone, Debug)]
pub enum StampSpec {
    /// The leader approves: the handwritten-signature image at a place (none: invisible), and
    /// the places where the clerk will write the number and the date (found on page 1 when not
    /// given).
    Approve {
        /// The signature image.
        image: Option<RgbaImage>,
        /// Where it goes.
        place: Option<Place>,
        /// Where the number will go.
        number_at: Option<Anchor>,
        /// Where the date will go.
        date_at: Option<Anchor>,
    },
    /// The clerk issues: the seal over the leader's signature (or at a place), the number and
    /// the date in the places the leader's signature created.
    Issue {
        /// The agency's seal.
        seal: RgbaImage,
        /// Where it goes instead of over the leader's signature.
        placement: Option<Placement>,
        /// The document number.
        number: Option<String>,
        /// The issue date.
        date: Option<time::Date>,
    },
    /// A separate attached file: the main document's number and the time, top right.
    Appendix {
        /// The main document's number and symbol.
        number: String,
    },
    /// An electronic copy: the form and the copying organisation ([`RoleRequest::organization`]),
    /// top right.
    Copy {
        /// "SAO Y", "SAO LỤC" or "TRÍCH SAO".
        form: String,
    },
    /// An incoming document: the red "ĐẾN" block (35 × 50 mm).
    Incoming {
        /// The incoming number.
        number: Option<String>,
        /// The date received.
        date: Option<time::Date>,
        /// "Chuyển": forwarded to.
        forward_to: Option<String>,
        /// "Số và ký hiệu HS": the file reference.
        file_reference: Option<String>,
        /// Where the block goes (default: top right of page 1).
        placement: Option<Placement>,
    },
}

/// The loose options a caller gives (flags, JSON fields), before they are checked against the
/// role.
#[derive(Clone, Debug, Default)]
pub struct StampFields {
    /// The signature image (approve) or the seal (issue).
    pub image: Option<RgbaImage>,
    /// A rectangle for the stamp.
    pub placement: Option<Placement>,
    /// Text above which the signature image is centred (approve).
    pub anchor: Option<String>,
    /// The number (issue, appendix, incoming).
    pub number: Option<String>,
    /// The date (issue, incoming).
    pub date: Option<time::Date>,
    /// Where the number will go (approve).
    pub number_at: Option<Anchor>,
    /// Where the date will go (approve).
    pub date_at: Option<Anchor>,
    /// The copy form (copy).
    pub copy_form: Option<String>,
    /// Forwarded to (incoming).
    pub forward_to: Option<String>,
    /// File reference (incoming).
    pub file_reference: Option<String>,
    /// Accept a signature that is not mostly blue or a seal that is not mostly red (agencies
    /// whose images differ); the transparency is still required.
    pub any_colour: bool,
}

impl StampSpec {
    /// The stamp of `role` from `fields`: what the role needs must be there, what it cannot use
    /// must not be (named with the caller's `spell`ing of the option, `--number-at` or
    /// `numberAt`).
    ///
    /// # Errors
    /// [`Error::Placement`] naming the missing or unusable option.
    pub fn from_fields(
        role: Role,
        fields: StampFields,
        spell: impl Fn(&str) -> String,
    ) -> Result<Self, Error> {
        let StampFields {
            image,
            placement,
            anchor,
            number,
            date,
            number_at,
            date_at,
            copy_form,
            forward_to,
            file_reference,
            any_colour,
        } = fields;
        let given = [
            ("image", image.is_some()),
            ("rect", placement.is_some()),
            ("anchor", anchor.is_some()),
            ("number", number.is_some()),
            ("date", date.is_some()),
            ("number-at", number_at.is_some()),
            ("date-at", date_at.is_some()),
            ("copy-form", copy_form.is_some()),
            ("forward-to", forward_to.is_some()),
            ("file-reference", file_reference.is_some()),
        ];
        let takes: &[&str] = match role {
            Role::Approve => &["image", "rect", "anchor", "number-at", "date-at"],
            Role::Issue => &["image", "rect", "number", "date"],
            Role::Appendix => &["number"],
            Role::Copy => &["copy-form"],
            Role::Incoming => &["rect", "number", "date", "forward-to", "file-reference"],
        };
        if let Some((name, _)) = given
            .iter()
            .find(|(name, set)| *set && !takes.contains(name))
        {
            return Err(Error::Placement(format!(
                "vai trò {} không dùng {} / the {} role takes no {}",
                role.name(),
                spell(name),
                role.name(),
                spell(name)
            )));
        }
        let need = |what: &str| Error::Placement(what.to_string());
        // The images Nghị định 30 describes: a transparent background, the signature blue, the
        // seal red.
        let ink = match role {
            Role::Issue => Some(super::image::Ink::Red),
            Role::Approve => Some(super::image::Ink::Blue),
            _ => None,
        };
        if let (Some(image), Some(ink)) = (&image, ink) {
            image.check(ink, any_colour)?;
        }
        Ok(match role {
            Role::Approve => Self::Approve {
                image,
                place: match (placement, anchor) {
                    (Some(_), Some(_)) => {
                        return Err(need(&format!(
                            "{} or {}, not both",
                            spell("rect"),
                            spell("anchor")
                        )))
                    }
                    (Some(p), None) => Some(Place::At(p)),
                    (None, Some(text)) => Some(Place::Above(text)),
                    (None, None) => None,
                },
                number_at,
                date_at,
            },
            Role::Issue => Self::Issue {
                seal: image.ok_or_else(|| {
                    need(&format!(
                        "issuing needs the seal image ({})",
                        spell("image")
                    ))
                })?,
                placement,
                number,
                date,
            },
            Role::Appendix => Self::Appendix {
                number: number.ok_or_else(|| {
                    need(&format!(
                        "an appendix needs the main document's number ({})",
                        spell("number")
                    ))
                })?,
            },
            Role::Copy => Self::Copy {
                form: copy_form.unwrap_or_else(|| "SAO Y".into()),
            },
            Role::Incoming => Self::Incoming {
                number,
                date,
                forward_to,
                file_reference,
                placement,
            },
        })
    }

    /// The role this stamp is for.
    pub fn role(&self) -> Role {
        match self {
            Self::Approve { .. } => Role::Approve,
            Self::Issue { .. } => Role::Issue,
            Self::Appendix { .. } => Role::Appendix,
            Self::Copy { .. } => Role::Copy,
            Self::Incoming { .. } => Role::Incoming,
        }
    }
}

/// A stamp to draw, with what every role shares: the signer and organisation (for the copy
/// line, the incoming block and an agency's own text), the time and the font.
#[derive(Clone, Debug)]
pub struct RoleRequest {
    /// What the role stamps.
    pub stamp: StampSpec,
    /// The organisation (copy, incoming, the template), from the certificate unless given.
    pub organization: Option<String>,
    /// Signing time, Vietnam time.
    pub time: time::OffsetDateTime,
    /// The stamp font (to measure text); `None` for the default.
    pub font: Option<std::path::PathBuf>,
    /// A free text template for an agency's own stamp, lines separated by `|`; `{signer}`,
    /// `{organization}`, `{time}` are replaced (e.g. the Hà Nội form "Ký bởi: {signer}|Cơ
    /// quan: {organization}|Thời gian ký: {time}").
    pub template: Option<String>,
    /// Signer holder name, for `/Name` and the template.
    pub signer: Option<String>,
}

/// "ngày 05 tháng 12 năm 2026", "ngày 15 tháng 3 năm 2026": padded as [`day_text`] and
/// [`month_text`] say.
pub fn date_line(date: time::Date) -> String {
    format!(
        "ngày {} tháng {} năm {:04}",
        day_text(date),
        month_text(date),
        date.year()
    )
}

/// The day as Nghị định 30 writes it (Phụ lục I §II.4.b): a 0 before days below 10.
pub fn day_text(date: time::Date) -> String {
    format!("{:02}", date.day())
}

/// The month as Nghị định 30 writes it (Phụ lục I §II.4.b): a 0 before January and February
/// only ("tháng 01", "tháng 02", then "tháng 3" … "tháng 12").
pub fn month_text(date: time::Date) -> String {
    match u8::from(date.month()) {
        m @ (1 | 2) => format!("0{m}"),
        m => m.to_string(),
    }
}

/// A stamp holding one line of text, its box fitted to the text.
fn text_stamp(
    font: &super::text::Font,
    anchor: Anchor,
    text: &str,
    size: f64,
    italic: bool,
) -> Result<Stamp, Error> {
    let width = font.width(text, size)?;
    let descent = size * 0.25;
    Ok(Stamp {
        placement: Placement {
            page: anchor.page,
            rect: [anchor.x, anchor.y - descent, width + 2.0, size * 1.3],
        },
        image: None,
        lines: vec![TextLine {
            text: text.to_string(),
            size,
            italic,
            x: 0.0,
            y: descent,
            color: [0.0; 3],
        }],
        frame: None,
    })
}

fn page_size(doc: &Document<'_>, page: usize) -> Result<(f64, f64), Error> {
    let [x0, y0, x1, y1] = page_box(doc, page)?;
    Ok((x1 - x0, y1 - y0))
}

/// The page's MediaBox `[x0, y0, x1, y1]` (A4 when it has none).
fn page_box(doc: &Document<'_>, page: usize) -> Result<[f64; 4], Error> {
    let pages = doc.pages()?;
    let (_, dict) = pages
        .get(page.wrapping_sub(1))
        .ok_or_else(|| Error::PlacementNotFound(format!("no page {page}")))?;
    let media: Vec<f64> = doc
        .inherited(dict, b"MediaBox")
        .as_array()
        .map(|a| a.iter().filter_map(Object::as_f64).collect())
        .unwrap_or_default();
    match media[..] {
        [x0, y0, x1, y1] => Ok([x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]),
        _ => Ok([0.0, 0.0, 595.28, 841.89]),
    }
}

/// The top-right line of page 1 (appendix, copy): 20 mm from the right edge, 15 mm from the top.
fn top_right(doc: &Document<'_>, font: &super::text::Font, text: &str) -> Result<Stamp, Error> {
    let (w, h) = page_size(doc, 1)?;
    let size = 10.0;
    let width = font.width(text, size)?;
    let mm = 72.0 / 25.4;
    text_stamp(
        font,
        Anchor {
            page: 1,
            x: w - 20.0 * mm - width,
            y: h - 15.0 * mm - size,
        },
        text,
        size,
        false,
    )
}

/// Where the "ĐẾN" block goes when no place is given (Phụ lục IV): the free space of page 1
/// nearest below the summary line (công văn) or the number and symbol (else the date line),
/// covering no printed text, image or stamp, 10 mm inside the page.
///
/// # Errors
/// [`Error::PlacementNotFound`] when page 1 has no such free space (a scan, a full page).
fn incoming_place(doc: &Document<'_>, size: (f64, f64)) -> Result<Placement, Error> {
    let mm = 72.0 / 25.4;
    let page = page_box(doc, 1)?;
    let anchors = super::layout::incoming_anchors(doc);
    let boxes = super::layout::occupied(doc, 1)?;
    let find = |anchor: (f64, f64, bool)| {
        super::layout::free_place(&boxes, page, anchor, size, 10.0 * mm, 2.0)
    };
    // Below the number or summary, in its column; then below the date, in its column; then
    // anywhere below the first of them (the top of the page for a draft with neither).
    let fallback = anchors
        .first()
        .map_or((page[3], (page[0] + page[2]) / 2.0, false), |&(top, x)| {
            (top, x, false)
        });
    anchors
        .iter()
        .find_map(|&(top, x)| find((top, x, true)))
        .or_else(|| find(fallback))
    .map(|rect| Placement { page: 1, rect })
    .ok_or_else(|| {
        Error::PlacementNotFound(format!(
            "page 1 has no free {:.0} × {:.0} mm space for the \"ĐẾN\" block below the number or summary (it would cover printed text): give its place (rect)",
            size.0 / mm,
            size.1 / mm
        ))
    })
}

/// Name of the text field for the document number.
pub const NUMBER_FIELD: &str = "SoVanBan";
/// Name of the text field for the whole issue date ("ngày dd tháng mm năm yyyy").
pub const DATE_FIELD: &str = "NgayBanHanh";
/// Name of the field for the day, when the draft prints "ngày … tháng … năm".
pub const DAY_FIELD: &str = "NgayBanHanhNgay";
/// Name of the field for the month.
pub const MONTH_FIELD: &str = "NgayBanHanhThang";

/// What a role adds: the signature's stamp, text fields to create, text fields to fill.
#[derive(Default)]
pub struct Plan {
    /// The signature's visible stamp (none: invisible).
    pub stamps: Vec<Stamp>,
    /// Empty fields to create (approve).
    pub create_fields: Vec<FieldSpec>,
    /// Fields to fill (issue).
    pub fill_fields: Vec<FieldFill>,
}

/// The plan of `request` for `doc` (its bytes `data`, to find the leader's signature).
///
/// # Errors
/// [`Error::Placement`] for a missing place, number, date or personal signature.
pub fn plan(doc: &Document<'_>, data: &[u8], request: &RoleRequest) -> Result<Plan, Error> {
    let mut plan = plan_role(doc, data, request)?;
    if let (Some(template), Some(stamp)) = (&request.template, plan.stamps.first_mut()) {
        let time = iso8601_vn(request.time);
        let [_, _, _, h] = stamp.placement.rect;
        let size = 9.0;
        for (i, raw) in template.split('|').enumerate() {
            let text = raw
                .replace("{signer}", request.signer.as_deref().unwrap_or(""))
                .replace(
                    "{organization}",
                    request.organization.as_deref().unwrap_or(""),
                )
                .replace("{time}", &time);
            stamp.lines.push(TextLine {
                text,
                size,
                italic: false,
                x: 2.0,
                y: h - (i as f64 + 1.0) * size * 1.25,
                color: [0.0; 3],
            });
        }
    }
    Ok(plan)
}

fn plan_role(doc: &Document<'_>, data: &[u8], request: &RoleRequest) -> Result<Plan, Error> {
    let need = |what: &str| Error::Placement(what.to_string());
    match &request.stamp {
        StampSpec::Approve {
            image,
            place,
            number_at,
            date_at,
        } => {
            let anchored = match place {
                Some(Place::Above(text)) => {
                    let (w, h) = match image {
                        Some(image) => (
                            150.0,
                            150.0 * f64::from(image.height) / f64::from(image.width).max(1.0),
                        ),
                        None => (150.0, 50.0),
                    };
                    let (page, rect) = super::layout::above_anchor(doc, text, w, h.min(80.0))
                        .ok_or_else(|| {
                            Error::PlacementNotFound(format!(
                                "\"{text}\" is not on any page: give a rectangle instead"
                            ))
                        })?;
                    Some(Placement { page, rect })
                }
                Some(Place::At(placement)) => Some(*placement),
                None => None,
            };
            let stamps = match (&anchored, image) {
                (Some(placement), image) => vec![Stamp {
                    placement: *placement,
                    image: image.clone(),
                    lines: Vec::new(),
                    frame: None,
                }],
                (None, Some(_)) => {
                    return Err(need(
                        "the signature image needs a place (a rectangle or an anchor text)",
                    ))
                }
                (None, None) => Vec::new(),
            };
            // The places where the clerk will write the number and the date.
            let mut create_fields = Vec::new();
            // A place given: what is written starts there. A blank found on the draft: it is
            // centred in the blank and made to fit it, never over a printed glyph.
            let at_point = |name: &str, at: Anchor, width: f64| FieldSpec {
                name: name.to_string(),
                page: at.page,
                rect: [at.x, at.y - 13.0 * 0.25, width, 13.0 * 1.3],
                centred: false,
            };
            let in_blank = |name: &str, blank: super::layout::Blank| FieldSpec {
                name: name.to_string(),
                page: 1,
                rect: [blank.x, blank.y - 13.0 * 0.25, blank.width, 13.0 * 1.3],
                centred: true,
            };
            // Given places win; otherwise the "Số:" and "ngày … tháng … năm" lines of page 1.
            match (number_at, super::layout::number_blank(doc)) {
                (Some(at), _) => create_fields.push(at_point(NUMBER_FIELD, *at, 40.0)),
                (None, Some(blank)) => create_fields.push(in_blank(NUMBER_FIELD, blank)),
                (None, None) => {}
            }
            match date_at {
                Some(at) => create_fields.push(at_point(DATE_FIELD, *at, 190.0)),
                None => {
                    if let Some((day, month)) = super::layout::date_blanks(doc) {
                        create_fields.push(in_blank(DAY_FIELD, day));
                        create_fields.push(in_blank(MONTH_FIELD, month));
                    }
                }
            }
            Ok(Plan {
                stamps,
                create_fields,
                fill_fields: Vec::new(),
            })
        }
        StampSpec::Issue {
            seal,
            placement,
            number,
            date,
        } => {
            let seal = seal.clone();
            let placement = match placement {
                Some(p) => *p,
                None => seal_placement(doc, data, &seal)?,
            };
            let mut fill_fields = Vec::new();
            let missing =
                |name: &str| -> Result<bool, Error> { Ok(clerk_place(doc, name)?.is_none()) };
            if let Some(number) = number {
                let Some(place) = clerk_place(doc, NUMBER_FIELD)? else {
                    return Err(Error::PlacementNotFound(
                        "the draft has no place for the number: prepare the leader's signature with the number's position (after Số:)".into(),
                    ));
                };
                // The blank of "Số: …/QĐ-UBND" takes the number alone: the symbol is printed
                // after it, so "15/QĐ-UBND" is written "15".
                let in_blank = place.centred;
                let text = match number.split_once('/') {
                    Some((alone, _)) if in_blank && !alone.trim().is_empty() => alone.trim(),
                    _ => number.as_str(),
                };
                fill_fields.push(FieldFill {
                    name: NUMBER_FIELD.into(),
                    text: text.to_string(),
                    size: 13.0,
                    italic: false,
                });
            }
            if let Some(date) = *date {
                let italic = |name: &str, text: String| FieldFill {
                    name: name.into(),
                    text,
                    size: 13.0,
                    italic: true,
                };
                if !missing(DATE_FIELD)? {
                    fill_fields.push(italic(DATE_FIELD, date_line(date)));
                } else if !missing(DAY_FIELD)? && !missing(MONTH_FIELD)? {
                    fill_fields.push(italic(DAY_FIELD, day_text(date)));
                    fill_fields.push(italic(MONTH_FIELD, month_text(date)));
                } else {
                    return Err(Error::PlacementNotFound(
                        "the draft has no place for the date: prepare the leader's signature with the date's position".into(),
                    ));
                }
            }
            Ok(Plan {
                stamps: vec![Stamp {
                    placement,
                    image: Some(seal),
                    lines: Vec::new(),
                    frame: None,
                }],
                create_fields: Vec::new(),
                fill_fields,
            })
        }
        StampSpec::Appendix { number } => {
            let font = super::text::Font::stamp(request.font.as_deref(), false)?;
            Ok(Plan {
                stamps: vec![top_right(
                    doc,
                    &font,
                    &format!("{number} {}", iso8601_vn(request.time)),
                )?],
                ..Plan::default()
            })
        }
        StampSpec::Incoming {
            number,
            date,
            forward_to,
            file_reference,
            placement,
        } => {
            let mm = 72.0 / 25.4;
            let (w, h) = (50.0 * mm, 35.0 * mm);
            let placement = match placement {
                Some(p) => *p,
                None => incoming_place(doc, (w, h))?,
            };
            let font = super::text::Font::stamp(request.font.as_deref(), false)?;
            let red = [0.8, 0.0, 0.0];
            let organization = request
                .organization
                .clone()
                .unwrap_or_default()
                .to_uppercase();
            let date =
                date.map(|d| format!("{:02}/{:02}/{:04}", d.day(), u8::from(d.month()), d.year()));
            let rows: Vec<(String, f64)> = vec![
                (organization, 8.0),
                ("ĐẾN".to_string(), 14.0),
                (format!("Số: {}", number.as_deref().unwrap_or("")), 9.0),
                (format!("Ngày: {}", date.as_deref().unwrap_or("")), 9.0),
                (
                    format!("Chuyển: {}", forward_to.as_deref().unwrap_or("")),
                    9.0,
                ),
                (
                    format!(
                        "Số và ký hiệu HS: {}",
                        file_reference.as_deref().unwrap_or("")
                    ),
                    9.0,
                ),
            ];
            let [_, _, bw, bh] = placement.rect;
            let mut y = bh - 4.0;
            let mut lines = Vec::new();
            for (i, (text, size)) in rows.into_iter().enumerate() {
                y -= size * 1.25;
                let width = font.width(&text, size)?;
                // The agency and "ĐẾN" are centred, the fields start at the left.
                let x = if i < 2 {
                    ((bw - width) / 2.0).max(3.0)
                } else {
                    4.0
                };
                lines.push(TextLine {
                    text,
                    size,
                    italic: false,
                    x,
                    y,
                    color: red,
                });
            }
            Ok(Plan {
                stamps: vec![Stamp {
                    placement,
                    image: None,
                    lines,
                    frame: Some(red),
                }],
                ..Plan::default()
            })
        }
        StampSpec::Copy { form } => {
            let organization = request
                .organization
                .as_deref()
                .ok_or_else(|| need("a copy needs the copying organisation"))?;
            let font = super::text::Font::stamp(request.font.as_deref(), false)?;
            Ok(Plan {
                stamps: vec![top_right(
                    doc,
                    &font,
                    &format!("{form} {organization} {}", iso8601_vn(request.time)),
                )?],
                ..Plan::default()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(name: &str) -> String {
        format!("--{name}")
    }

    #[test]
    fn each_role_takes_what_it_uses_and_nothing_else() {
        let seal = RgbaImage {
            width: 1,
            height: 2,
            pixels: vec![200, 10, 20, 255, 0, 0, 0, 0],
            pixels_per_metre: None,
        };
        let number = |n: &str| StampFields {
            number: Some(n.into()),
            ..StampFields::default()
        };
        // The leader's approval takes no number: the clerk writes it.
        let err = StampSpec::from_fields(Role::Approve, number("12"), flag).unwrap_err();
        assert!(err.to_string().contains("takes no --number"), "{err}");
        // Issuing needs the seal.
        let err = StampSpec::from_fields(Role::Issue, number("12"), flag).unwrap_err();
        assert!(err.to_string().contains("--image"), "{err}");
        let issue = StampSpec::from_fields(
            Role::Issue,
            StampFields {
                image: Some(seal),
                ..number("12")
            },
            flag,
        )
        .expect("issue");
        assert_eq!(issue.role(), Role::Issue);
        // An appendix needs the main document's number; a copy defaults to "SAO Y".
        assert!(StampSpec::from_fields(Role::Appendix, StampFields::default(), flag).is_err());
        assert!(matches!(
            StampSpec::from_fields(Role::Copy, StampFields::default(), flag),
            Ok(StampSpec::Copy { form }) if form == "SAO Y"
        ));
        // A place is a rectangle or a line of text, not both.
        let both = StampFields {
            placement: Some(Placement {
                page: 1,
                rect: [0.0, 0.0, 10.0, 10.0],
            }),
            anchor: Some("Nguyễn Văn An".into()),
            ..StampFields::default()
        };
        assert!(StampSpec::from_fields(Role::Approve, both, flag).is_err());
        // The caller's spelling is used in the message.
        let err = StampSpec::from_fields(Role::Copy, number("1"), |n: &str| n.replace('-', "_"))
            .unwrap_err();
        assert!(err.to_string().contains("takes no number"), "{err}");
    }

    #[test]
    fn date_line_is_zero_padded_and_iso_time_has_the_vietnam_offset() {
        let on = |month, day| time::Date::from_calendar_date(2026, month, day).expect("date");
        // Phụ lục I §II.4.b: days below 10 and months 1 and 2 take a 0; no other month does.
        assert_eq!(
            date_line(on(time::Month::March, 5)),
            "ngày 05 tháng 3 năm 2026"
        );
        assert_eq!(
            date_line(on(time::Month::January, 15)),
            "ngày 15 tháng 01 năm 2026"
        );
        assert_eq!(
            date_line(on(time::Month::February, 28)),
            "ngày 28 tháng 02 năm 2026"
        );
        assert_eq!(
            date_line(on(time::Month::December, 5)),
            "ngày 05 tháng 12 năm 2026"
        );
        assert_eq!(
            date_line(on(time::Month::September, 30)),
            "ngày 30 tháng 9 năm 2026"
        );
        let t = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time");
        assert_eq!(iso8601_vn(t), "2026-05-29T03:26:40+07:00");
        assert_eq!(Role::parse("copy"), Some(Role::Copy));
        assert_eq!(Role::parse("sign"), None);
    }
}

/// What a prepare request adds to a role: the field name, `/Reason`, the placeholder size.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Field name (default `Signature<n>`).
    pub field_name: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// DER bytes reserved for the CMS (0: the default).
    pub contents_size: usize,
}

/// The full prepare request for `request` on `doc` (the one path used by the CLI and the bridge).
///
/// # Errors
/// As [`plan`].
pub fn prepare_request(
    doc: &Document<'_>,
    data: &[u8],
    request: &RoleRequest,
    extras: Extras,
) -> Result<super::prepare::PrepareRequest, Error> {
    let plan = plan(doc, data, request)?;
    Ok(super::prepare::PrepareRequest {
        field_name: extras.field_name,
        signer_name: request.signer.clone(),
        reason: extras.reason,
        time: request.time,
        contents_size: if extras.contents_size == 0 {
            super::prepare::DEFAULT_CONTENTS_SIZE
        } else {
            extras.contents_size
        },
        stamps: plan.stamps,
        font: request.font.clone(),
        create_fields: plan.create_fields,
        fill_fields: plan.fill_fields,
        document_timestamp: false,
    })
}

/// Where the clerk's seal goes: at its real size (the PNG's resolution, or the width the
/// caller gave with [`RgbaImage::with_width_mm`]; never a guess), over the left third of the leader's signature image, centred on it
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
    let report = super::verify::verify(data, &super::verify::Options::integrity_only())?;
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
            Error::PlacementNotFound(
                "no valid personal signature of the competent person to seal over".into(),
            )
        })?;
    let (page, rect) = widget_rect(doc, &leader.field)?;
    let (w, h) = seal.size_pt().ok_or_else(|| {
        Error::Placement(
            "the seal image does not say its real size (no pHYs resolution in the PNG): give the seal's width in millimetres"
                .into(),
        )
    })?;
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
    Err(Error::PlacementNotFound(format!(
        "the signature {field} has no visible stamp to seal over"
    )))
}
