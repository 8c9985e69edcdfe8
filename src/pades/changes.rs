//! What happened to a document after a signature: the later revisions compared one by one (as
//! pyHanko and EU DSS do), each change classified as allowed or not.
//!
//! Allowed after a signature: later signatures and their fields (an empty signature field
//! signed, a new signature field with its widget), filling existing form fields where DocMDP
//! and FieldMDP allow it, the document security store (DSS/VRI), document timestamps, and the
//! harmless catalog, Info and XMP updates real signers make (`/Version`, metadata). Anything
//! else that can change what a reader sees is not: page content, resources or page objects, a
//! new or changed annotation or widget that is not a signature field's (a shadow attack), a
//! removed annotation or field, a signed field's appearance, an existing object changed in
//! place that something else still shows, bytes after the last `%%EOF`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::pdf::{decode_text, find, Dict, Document, Object};

/// A change made after a signature, in a later revision.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Object number (0: the document's structure).
    pub object: u32,
    /// What it is.
    pub what: String,
    /// Whether the signature's permissions allow it.
    pub allowed: bool,
}

/// Which fields a FieldMDP lock (a signature's `/Reference` or its field's `/Lock`) protects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Every field.
    All,
    /// Only these (fully qualified names).
    Include(Vec<String>),
    /// Every field but these.
    Exclude(Vec<String>),
}

impl Lock {
    fn covers(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Include(names) => names.iter().any(|n| n == name),
            Self::Exclude(names) => !names.iter().any(|n| n == name),
        }
    }

    /// The lock described by a `/Lock` or FieldMDP `/TransformParams` dictionary.
    pub fn from_dict(doc: &Document<'_>, dict: &Dict) -> Option<Self> {
        let names = || -> Vec<String> {
            doc.get(dict, b"Fields")
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| doc.resolve(o).as_string().map(decode_text))
                        .collect()
                })
                .unwrap_or_default()
        };
        match doc.get(dict, b"Action").as_name()? {
            b"All" => Some(Self::All),
            b"Include" => Some(Self::Include(names())),
            b"Exclude" => Some(Self::Exclude(names())),
            _ => None,
        }
    }
}

/// What the signatures up to this one permit.
#[derive(Clone, Debug, Default)]
pub struct Permissions {
    /// The certification signature's DocMDP level (1 no changes, 2 form filling and signing,
    /// 3 also annotations); `None` without a certification signature.
    pub docmdp: Option<i64>,
    /// FieldMDP locks of this and earlier signatures.
    pub locks: Vec<Lock>,
}

impl Permissions {
    fn may_fill_forms(&self) -> bool {
        self.docmdp.is_none_or(|p| p >= 2)
    }
    fn may_annotate(&self) -> bool {
        self.docmdp == Some(3)
    }
    fn locked(&self, field: &str) -> bool {
        self.locks.iter().any(|l| l.covers(field))
    }
}

/// The most revisions after a signature that are analysed; more is refused as hostile.
const MAX_REVISIONS: usize = 256;
/// The most objects scanned for references to an appearance stream changed in place.
const MAX_SCAN: usize = 200_000;

/// The changes after `signed_end` (the end of the signed revision), revision by revision.
pub fn analyse(
    data: &[u8],
    signed_end: usize,
    permissions: &Permissions,
    password: &[u8],
) -> Vec<Change> {
    let structure = |what: &str| Change {
        object: 0,
        what: what.into(),
        allowed: false,
    };
    let Ok(signed) = Document::load_with_password(&data[..signed_end], password) else {
        return vec![structure("the signed revision cannot be read")];
    };
    let ends = revision_ends(data, signed_end, password);
    if ends.len() > MAX_REVISIONS {
        return vec![structure("too many revisions after the signature")];
    }
    let mut out = Vec::new();
    let last = ends.last().copied().unwrap_or(signed_end);
    if data[last..]
        .iter()
        .any(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t' | b'\0'))
    {
        out.push(structure(
            "bytes after the last %%EOF, outside any revision",
        ));
    }
    let mut prev = signed;
    for end in ends {
        let Ok(next) = Document::load_with_password(&data[..end], password) else {
            out.push(structure("a later revision cannot be read"));
            break;
        };
        step(&prev, &next, permissions, &mut out);
        prev = next;
    }
    out
}

/// The end (after `%%EOF` and its end of line) of each revision that starts after `from`.
fn revision_ends(data: &[u8], from: usize, password: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = from;
    while let Some(found) = find(&data[at..], b"%%EOF") {
        let mut end = at + found + 5;
        while matches!(data.get(end), Some(b'\r' | b'\n')) {
            end += 1;
        }
        // Only an %%EOF that ends a readable revision counts (one inside a stream does not).
        if Document::load_with_password(&data[..end], password).is_ok_and(|d| d.startxref >= from) {
            ends.push(end);
        }
        at = end;
        if ends.len() > MAX_REVISIONS {
            break;
        }
    }
    ends
}

/// A field's fully qualified name and whether it (or an ancestor) is a signature field.
fn field_facts(doc: &Document<'_>, dict: &Dict) -> (String, bool) {
    let mut names = Vec::new();
    let mut is_sig = false;
    let mut current = dict.clone();
    for _ in 0..32 {
        if let Some(t) = current.get(b"T").and_then(Object::as_string) {
            names.push(decode_text(t));
        }
        if current.get(b"FT").and_then(Object::as_name) == Some(b"Sig") {
            is_sig = true;
        }
        match doc.get(&current, b"Parent").as_dict() {
            Some(parent) => current = parent.clone(),
            None => break,
        }
    }
    names.reverse();
    (names.join("."), is_sig)
}

/// Object `n` as a dictionary (empty when it is not one).
fn dict_of(doc: &Document<'_>, n: u32) -> Dict {
    doc.object(n)
        .ok()
        .and_then(|o| o.as_dict().cloned())
        .unwrap_or_default()
}

fn is_field_or_widget(dict: &Dict) -> bool {
    dict.get(b"FT").is_some()
        || dict.get(b"Subtype").and_then(Object::as_name) == Some(b"Widget")
        || (dict.get(b"T").is_some() && dict.get(b"Parent").is_some())
}

fn annots_of(doc: &Document<'_>, page: &Dict) -> Vec<u32> {
    doc.get(page, b"Annots")
        .as_array()
        .map(|a| a.iter().filter_map(Object::as_ref).map(|r| r.0).collect())
        .unwrap_or_default()
}

/// Every field object reachable from `/AcroForm /Fields` (bounded, cycles cut).
fn fields_of(doc: &Document<'_>) -> HashSet<u32> {
    let mut seen = HashSet::new();
    let Ok((_, catalog)) = doc.catalog() else {
        return seen;
    };
    let form = doc.get(&catalog, b"AcroForm");
    let mut stack: Vec<u32> = form
        .as_dict()
        .and_then(|f| {
            doc.get(f, b"Fields")
                .as_array()
                .map(|a| a.iter().filter_map(Object::as_ref).map(|r| r.0).collect())
        })
        .unwrap_or_default();
    while let Some(n) = stack.pop() {
        if seen.len() >= 100_000 || !seen.insert(n) {
            continue;
        }
        if let Some(kids) = doc
            .object(n)
            .ok()
            .as_ref()
            .and_then(Object::as_dict)
            .map(|d| doc.get(d, b"Kids"))
        {
            if let Some(kids) = kids.as_array() {
                stack.extend(kids.iter().filter_map(Object::as_ref).map(|r| r.0));
            }
        }
    }
    seen
}

/// Every reference inside `object` (bounded depth).
fn references(object: &Object, out: &mut Vec<u32>, depth: usize) {
    if depth > 32 {
        return;
    }
    match object {
        Object::Ref(n, _) => out.push(*n),
        Object::Array(items) => items.iter().for_each(|i| references(i, out, depth + 1)),
        Object::Dict(d) | Object::Stream(d, _) => {
            d.0.iter().for_each(|(_, v)| references(v, out, depth + 1))
        }
        _ => {}
    }
}

/// Appearance streams named by a field or widget's `/AP` (N, D, R, and their states).
fn appearance_streams(doc: &Document<'_>, dict: &Dict) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(ap) = doc.get(dict, b"AP").as_dict() {
        for (_, entry) in &ap.0 {
            match entry {
                Object::Ref(n, _) => {
                    let resolved = doc.resolve(entry);
                    match resolved {
                        Object::Dict(states) => references(&Object::Dict(states), &mut out, 0),
                        _ => out.push(*n),
                    }
                }
                other => references(other, &mut out, 0),
            }
        }
    }
    out
}

fn same(a: &Object, b: &Object) -> bool {
    match (a, b) {
        (Object::Int(_) | Object::Real(_), Object::Int(_) | Object::Real(_)) => {
            (a.as_f64().unwrap_or(f64::NAN) - b.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9
        }
        (Object::Array(x), Object::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Object::Dict(x), Object::Dict(y)) | (Object::Stream(x, _), Object::Stream(y, _)) => {
            same_dict(x, y)
        }
        _ => a == b,
    }
}

fn same_dict(x: &Dict, y: &Dict) -> bool {
    x.0.len() == y.0.len()
        && x.0
            .iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
}

fn without(d: &Dict, keys: &[&[u8]]) -> Dict {
    let mut d = d.clone();
    for k in keys {
        d.remove(k);
    }
    d
}

/// Whether the signature dictionary `v` certifies (a DocMDP transform): only the first
/// signature of a document may.
fn is_certification(doc: &Document<'_>, v: &Object) -> bool {
    let sig = doc.resolve(v);
    let Some(sig) = sig.as_dict() else {
        return false;
    };
    doc.get(sig, b"Reference").as_array().is_some_and(|refs| {
        refs.iter().any(|r| {
            doc.resolve(r)
                .as_dict()
                .is_some_and(|d| doc.get(d, b"TransformMethod").as_name() == Some(b"DocMDP"))
        })
    })
}

/// Whether the signature dictionary `v` (a reference) is a document timestamp.
fn is_doc_timestamp(doc: &Document<'_>, v: &Object) -> bool {
    doc.resolve(v)
        .as_dict()
        .and_then(|d| {
            d.get(b"SubFilter")
                .and_then(Object::as_name)
                .map(<[u8]>::to_vec)
        })
        .is_some_and(|s| s == b"ETSI.RFC3161")
}

/// One revision compared with the one before.
fn step(
    prev: &Document<'_>,
    next: &Document<'_>,
    permissions: &Permissions,
    out: &mut Vec<Change>,
) {
    let mut push = |object: u32, what: String, allowed: bool| {
        out.push(Change {
            object,
            what,
            allowed,
        })
    };
    let written: Vec<u32> = {
        let mut v: Vec<u32> = next
            .sections
            .first()
            .map(|s| s.entries.keys().copied().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    };
    // Pages: the same page objects in the same order.
    let prev_pages = prev.pages().unwrap_or_default();
    let next_pages = next.pages().unwrap_or_default();
    if prev_pages.iter().map(|p| p.0).collect::<Vec<_>>()
        != next_pages.iter().map(|p| p.0).collect::<Vec<_>>()
    {
        push(0, "pages added, removed or reordered".into(), false);
    }
    // Widget kids of signature fields, by object number, with their field.
    let signature_kids: HashMap<u32, Dict> = fields_of(next)
        .into_iter()
        .map(|n| dict_of(next, n))
        .filter(|d| field_facts(next, d).1)
        .flat_map(|field| {
            next.get(&field, b"Kids")
                .as_array()
                .map(|kids| {
                    kids.iter()
                        .take(64)
                        .filter_map(Object::as_ref)
                        .map(|(kid, _)| (kid, field.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    // Annotations: none removed; new ones are signature widgets (or, under DocMDP P=3, any
    // annotation that is not a form widget).
    for ((_, before), (_, after)) in prev_pages.iter().zip(&next_pages) {
        let old = annots_of(prev, before);
        let new = annots_of(next, after);
        for n in old.iter().filter(|n| !new.contains(n)) {
            push(*n, "annotation removed".into(), false);
        }
        for n in new.iter().filter(|n| !old.contains(n)) {
            let mut dict = dict_of(next, *n);
            let (mut name, mut is_sig) = field_facts(next, &dict);
            let widget = dict.get(b"Subtype").and_then(Object::as_name) == Some(b"Widget");
            // A widget kid listed by a signature field without naming it as /Parent (Kyso's
            // clerk signature on a multi-page draft): judged as that field's widget.
            if let (true, false, Some(field)) = (widget, is_sig, signature_kids.get(n)) {
                (name, is_sig) = field_facts(next, field);
                dict = field.clone();
            }
            let (what, allowed) = if widget && is_sig {
                // A new signature widget may not show an existing signature (a stamp swap).
                let shows_old = dict
                    .get(b"V")
                    .and_then(Object::as_ref)
                    .is_some_and(|(v, _)| prev.xref.contains_key(&v));
                if shows_old {
                    (
                        format!("a second widget for an existing signature ({name})"),
                        false,
                    )
                } else if dict.get(b"V").is_some_and(|v| is_certification(next, v))
                    || next
                        .get(&dict, b"Lock")
                        .as_dict()
                        .is_some_and(|l| l.get(b"P").is_some())
                {
                    (
                        format!("a certification signature added after signing ({name})"),
                        false,
                    )
                } else {
                    (format!("signature field widget added ({name})"), true)
                }
            } else if !widget && permissions.may_annotate() {
                (
                    "annotation added (DocMDP allows annotations)".to_string(),
                    true,
                )
            } else {
                let kind = dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .unwrap_or_else(|| "annotation".into());
                (
                    format!("{kind} annotation added over the signed page"),
                    false,
                )
            };
            push(*n, what, allowed);
        }
    }
    // Form fields: none removed; new ones are signature fields.
    let old_fields = fields_of(prev);
    let new_fields = fields_of(next);
    for n in old_fields.iter().filter(|n| !new_fields.contains(n)) {
        push(*n, "form field removed".into(), false);
    }
    for n in new_fields.iter().filter(|n| !old_fields.contains(n)) {
        let dict = dict_of(next, *n);
        let (name, is_sig) = field_facts(next, &dict);
        let has_kids = dict.get(b"Kids").is_some();
        if is_sig || (has_kids && dict.get(b"FT").is_none()) || signature_kids.contains_key(n) {
            continue;
        }
        push(*n, format!("form field added ({name})"), false);
    }
    // Objects written in this revision.
    let catalog = prev.catalog().ok();
    let catalog_n = catalog.as_ref().map(|(n, _)| *n);
    let acroform_n = catalog
        .as_ref()
        .and_then(|(_, c)| c.get(b"AcroForm"))
        .and_then(Object::as_ref)
        .map(|r| r.0);
    let fields_array_n = catalog
        .as_ref()
        .map(|(_, c)| prev.get(c, b"AcroForm"))
        .and_then(|f| {
            f.as_dict()
                .and_then(|f| f.get(b"Fields"))
                .and_then(Object::as_ref)
        })
        .map(|r| r.0);
    let info_n = prev
        .trailer
        .get(b"Info")
        .and_then(Object::as_ref)
        .map(|r| r.0);
    let annots_arrays: Vec<u32> = prev_pages
        .iter()
        .filter_map(|(_, p)| p.get(b"Annots").and_then(Object::as_ref).map(|r| r.0))
        .collect();
    let page_numbers: HashSet<u32> = prev_pages.iter().map(|p| p.0).collect();
    // Appearance streams of the fields filled or signed in this revision, changed in place:
    // allowed only when nothing else in the earlier revision refers to them.
    let mut filled_appearances: HashMap<u32, u32> = HashMap::new();
    let mut pending_streams: Vec<u32> = Vec::new();
    for &n in &written {
        let before = prev.xref.get(&n).and_then(|e| prev.object_at(n, *e).ok());
        let Some(after) = next.object(n).ok() else {
            push(n, "removed".into(), false);
            continue;
        };
        let Some(before) = before else {
            continue; // Added: judged through whatever refers to it (checked above and below).
        };
        let unchanged = match (&before, &after) {
            (Object::Stream(..), Object::Stream(..)) => {
                same(&before, &after)
                    && prev.stream_data(&before).ok() == next.stream_data(&after).ok()
            }
            _ => same(&before, &after),
        };
        if unchanged {
            continue;
        }
        let old = before.as_dict().cloned().unwrap_or_default();
        let new = after.as_dict().cloned().unwrap_or_default();
        let only = |keys: &[&[u8]]| same_dict(&without(&old, keys), &without(&new, keys));
        let kind = old.type_name().map(<[u8]>::to_vec);
        let (what, allowed): (String, bool) = if Some(n) == catalog_n {
            if !only(&[b"AcroForm", b"DSS", b"Extensions", b"Version", b"Metadata"]) {
                (
                    "catalog changed (or a certification added after signing)".into(),
                    false,
                )
            } else {
                (
                    "catalog: form, security data, version or metadata".into(),
                    true,
                )
            }
        } else if Some(n) == acroform_n {
            if only(&[b"Fields", b"SigFlags", b"DR", b"DA", b"NeedAppearances"]) {
                ("form dictionary: fields or settings".into(), true)
            } else {
                ("form settings changed".into(), false)
            }
        } else if Some(n) == fields_array_n || annots_arrays.contains(&n) {
            // Their entries were judged above.
            ("list of fields or annotations updated".into(), true)
        } else if page_numbers.contains(&n) {
            if only(&[b"Annots"]) {
                ("page annotations updated".into(), true)
            } else {
                ("page dictionary changed".into(), false)
            }
        } else if matches!(kind.as_deref(), Some(b"Sig" | b"DocTimeStamp")) {
            ("an existing signature dictionary changed".into(), false)
        } else if is_field_or_widget(&old) {
            let (name, is_sig) = field_facts(prev, &old);
            let verdict = if is_sig {
                let signing = old.get(b"V").is_none()
                    && only(&[b"V", b"AP", b"AS", b"MK", b"F", b"Lock", b"SV"]);
                let timestamp_only = new.get(b"V").is_some_and(|v| is_doc_timestamp(next, v));
                let certifies = new.get(b"V").is_some_and(|v| is_certification(next, v))
                    || next
                        .get(&new, b"Lock")
                        .as_dict()
                        .is_some_and(|l| l.get(b"P").is_some());
                match (signing, permissions.docmdp) {
                    (false, _) => (
                        format!("a signed field or its appearance changed ({name})"),
                        false,
                    ),
                    (true, _) if certifies => (
                        format!("a certification signature added after signing ({name})"),
                        false,
                    ),
                    (true, Some(1)) if !timestamp_only => (
                        format!("signing is not allowed by the certification (P=1) ({name})"),
                        false,
                    ),
                    (true, _) => (format!("empty signature field signed ({name})"), true),
                }
            } else if !only(&[b"V", b"AP", b"AS", b"MK"]) {
                (
                    format!("a form field changed beyond its value ({name})"),
                    false,
                )
            } else if !permissions.may_fill_forms() {
                (
                    format!("form filling is not allowed by the certification ({name})"),
                    false,
                )
            } else if permissions.locked(&name) {
                (format!("a locked field was changed ({name})"), false)
            } else {
                (format!("form field filled ({name})"), true)
            };
            if verdict.1 {
                for s in appearance_streams(prev, &old) {
                    filled_appearances.insert(s, n);
                }
            }
            verdict
        } else if matches!(kind.as_deref(), Some(b"DSS" | b"VRI")) {
            ("validation data updated".into(), true)
        } else if Some(n) == info_n || kind.as_deref() == Some(b"Metadata") {
            ("document information updated".into(), true)
        } else if matches!(kind.as_deref(), Some(b"ObjStm" | b"XRef")) {
            continue;
        } else {
            pending_streams.push(n);
            continue;
        };
        push(n, what, allowed);
    }
    // An existing object changed in place: allowed only as the appearance of a field filled or
    // signed in this revision that nothing else refers to.
    if !pending_streams.is_empty() {
        let mut referrers: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&holder, entry) in prev.xref.iter().take(MAX_SCAN) {
            if let Ok(object) = prev.object_at(holder, *entry) {
                let mut refs = Vec::new();
                references(&object, &mut refs, 0);
                for r in refs {
                    if pending_streams.contains(&r) {
                        referrers.entry(r).or_default().push(holder);
                    }
                }
            }
        }
        for n in pending_streams {
            let allowed = filled_appearances.get(&n).is_some_and(|field| {
                referrers.get(&n).is_none_or(|holders| {
                    holders.iter().all(|h| {
                        h == field
                            || prev
                                .object(*h)
                                .ok()
                                .as_ref()
                                .and_then(Object::as_dict)
                                .is_some_and(|d| {
                                    // The field's own /AP dictionary, when indirect.
                                    !d.0.is_empty()
                                        && d.0.iter().all(|(k, _)| {
                                            matches!(k.as_slice(), b"N" | b"D" | b"R")
                                        })
                                })
                    })
                })
            });
            let what = if allowed {
                "appearance of the filled field replaced"
            } else {
                "an existing object changed"
            };
            push(n, what.into(), allowed);
        }
    }
}
