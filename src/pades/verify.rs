//! Checking the signatures of a received PDF, as the receiving clerk must (letter 000): each
//! signature is **valid** (intact, signature value right, chain to a trusted root), **validity
//! unknown** (intact, but the chain does not reach a trusted root, or the algorithm or
//! certificate could not be checked) or **invalid** (bytes changed inside the signed range, a
//! digest or signature mismatch, or page content changed in a later revision).

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::{Decode, Encode};
use serde::Serialize;
use sha2::Digest as _;
use x509_cert::Certificate;

use super::pdf::{decode_text, Dict, Document, Object};
use crate::certificate::{CertificateInfo, Kind};
use crate::pki::algorithm::{verify_signature, Hash};

pub use crate::pki::Verdict;

/// A change made after a signature, in a later revision.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Object number.
    pub object: u32,
    /// What it is.
    pub what: String,
    /// Whether it is allowed after an approval signature (signatures, form fields, annotations,
    /// security data) or a change of the document's content.
    pub allowed: bool,
}

/// The report on one signature.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureReport {
    /// Field name.
    pub field: String,
    /// `/SubFilter`.
    pub sub_filter: String,
    /// Signer common name.
    pub signer: Option<String>,
    /// Signer organisation.
    pub organization: Option<String>,
    /// Personal or organisation certificate.
    pub kind: Option<Kind>,
    /// Signing time (`/M` or the signing-time attribute) in +07:00, ISO 8601.
    pub signing_time: Option<String>,
    /// The signed bytes are unchanged (digest matches).
    pub intact: bool,
    /// The signature value verifies with the signer's key.
    pub signature_valid: bool,
    /// The chain reaches a trust anchor.
    pub trusted: bool,
    /// The signature covers the whole file.
    pub covers_whole_file: bool,
    /// Changes in later revisions.
    pub later_changes: Vec<Change>,
    /// Visible, with an image in its appearance (a seal or a handwritten signature).
    pub has_image: bool,
    /// Time of an RFC 3161 signature timestamp whose imprint matches the signature
    /// (GeneralizedTime as the TSA wrote it); the TSA's own chain is not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not valid.
    pub reasons: Vec<String>,
}

/// The report on a document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every signature, in file order.
    pub signatures: Vec<SignatureReport>,
    /// The `issued` policy result, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyResult>,
}

/// What the `issued` policy found (Decree 30 Đ.5.1, letter 004).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResult {
    /// Met.
    pub met: bool,
    /// What is missing.
    pub missing: Vec<String>,
}

impl Report {
    /// The worst verdict (Invalid > Unknown > Valid), `None` when there is no signature.
    pub fn overall(&self) -> Option<Verdict> {
        self.signatures.iter().map(|s| s.verdict).max()
    }

    /// Exit status: 0 all valid (and the policy met), 1 any invalid, 2 any unknown.
    pub fn exit_code(&self) -> u8 {
        match self.overall() {
            Some(Verdict::Invalid) => 1,
            Some(Verdict::Unknown) => 2,
            None => 1,
            Some(Verdict::Valid) => {
                if self.policy.as_ref().is_some_and(|p| !p.met) {
                    1
                } else {
                    0
                }
            }
        }
    }
}

fn find_signer<'a>(signer: &SignerInfo, certs: &'a [Certificate]) -> Option<&'a Certificate> {
    certs.iter().find(|c| match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            c.tbs_certificate.extensions.iter().flatten().any(|e| {
                e.extn_id.to_string() == "2.5.29.14"
                    && e.extn_value.as_bytes().ends_with(ski.0.as_bytes())
            })
        }
    })
}

/// Whether `cert` chains to one of `anchors` through `pool`, each signature checked.
fn chains_to_anchor(cert: &Certificate, pool: &[Certificate], anchors: &[Certificate]) -> bool {
    let mut current = cert.clone();
    for _ in 0..10 {
        if anchors.contains(&current) {
            return true;
        }
        let issuers = anchors
            .iter()
            .chain(pool.iter())
            .filter(|c| c.tbs_certificate.subject == current.tbs_certificate.issuer);
        let mut next = None;
        for issuer in issuers {
            let Ok(tbs) = current.tbs_certificate.to_der() else {
                continue;
            };
            let ok = verify_signature(
                &issuer.tbs_certificate.subject_public_key_info,
                &current.signature_algorithm,
                None,
                &tbs,
                current.signature.raw_bytes(),
            )
            .unwrap_or(false);
            if ok {
                if anchors.iter().any(|a| a == issuer) {
                    return true;
                }
                next = Some(issuer.clone());
                break;
            }
        }
        match next {
            Some(n) if n != current => current = n,
            _ => return false,
        }
    }
    false
}

/// Signature fields: (field name, signature dictionary, widget dictionary).
fn signature_fields(doc: &Document<'_>) -> Vec<(String, Dict, Dict)> {
    let mut out = Vec::new();
    let Ok((_, catalog)) = doc.catalog() else {
        return out;
    };
    let acroform = doc.get(&catalog, b"AcroForm");
    let Some(fields) = acroform.as_dict().map(|d| doc.get(d, b"Fields")) else {
        return out;
    };
    let mut stack: Vec<(Object, String, Option<Vec<u8>>)> = fields
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|f| (f, String::new(), None))
        .collect();
    let mut visited = 0;
    while let Some((field, prefix, inherited_ft)) = stack.pop() {
        visited += 1;
        if visited > 100_000 {
            break;
        }
        let Some(dict) = doc.resolve(&field).as_dict().cloned() else {
            continue;
        };
        let name = dict.get(b"T").and_then(Object::as_string).map(decode_text);
        let full = match (&name, prefix.is_empty()) {
            (Some(n), true) => n.clone(),
            (Some(n), false) => format!("{prefix}.{n}"),
            (None, _) => prefix.clone(),
        };
        let ft = dict
            .get(b"FT")
            .and_then(Object::as_name)
            .map(<[u8]>::to_vec)
            .or(inherited_ft);
        if let Some(kids) = doc.get(&dict, b"Kids").as_array() {
            for kid in kids.iter().rev() {
                stack.push((kid.clone(), full.clone(), ft.clone()));
            }
        }
        if ft.as_deref() == Some(b"Sig") {
            if let Some(v) = doc.get(&dict, b"V").as_dict() {
                out.push((full, v.clone(), dict.clone()));
            }
        }
    }
    out
}

fn has_image(doc: &Document<'_>, widget: &Dict) -> bool {
    let rect: Vec<f64> = doc
        .get(widget, b"Rect")
        .as_array()
        .map(|a| a.iter().filter_map(Object::as_f64).collect())
        .unwrap_or_default();
    if rect.len() != 4 || (rect[2] - rect[0]).abs() < 1.0 || (rect[3] - rect[1]).abs() < 1.0 {
        return false;
    }
    let ap = doc.get(widget, b"AP");
    let Some(normal) = ap.as_dict().map(|d| doc.get(d, b"N")) else {
        return false;
    };
    let mut stack = vec![normal];
    let mut seen = 0;
    while let Some(object) = stack.pop() {
        seen += 1;
        if seen > 50 {
            break;
        }
        let Some(dict) = object.as_dict() else {
            continue;
        };
        if dict.get(b"Subtype").and_then(Object::as_name) == Some(b"Image") {
            return true;
        }
        if let Some(resources) = doc.get(dict, b"Resources").as_dict() {
            if let Some(xobjects) = doc.get(resources, b"XObject").as_dict() {
                for (_, x) in &xobjects.0 {
                    stack.push(doc.resolve(x));
                }
            }
        }
    }
    false
}

/// Classifies what later revisions changed compared with the revision a signature covers.
fn later_changes(data: &[u8], signed_end: usize) -> Vec<Change> {
    let Ok(full) = Document::load(data) else {
        return Vec::new();
    };
    let Ok(signed) = Document::load(&data[..signed_end]) else {
        return vec![Change {
            object: 0,
            what: "the signed revision cannot be read".into(),
            allowed: false,
        }];
    };
    let mut changed: Vec<u32> = Vec::new();
    for section in full.sections.iter().filter(|s| s.offset >= signed_end) {
        for n in section.entries.keys() {
            if !changed.contains(n) {
                changed.push(*n);
            }
        }
    }
    changed.sort_unstable();
    let signed_pages = signed.pages().unwrap_or_default();
    let final_pages = full.pages().unwrap_or_default();
    let mut content_objects: Vec<u32> = Vec::new();
    for (_, page) in &signed_pages {
        let mut refs = Vec::new();
        match page.get(b"Contents") {
            Some(Object::Ref(n, _)) => {
                refs.push(*n);
                if let Some(items) = signed.object(*n).ok().as_ref().and_then(Object::as_array) {
                    refs.extend(items.iter().filter_map(Object::as_ref).map(|r| r.0));
                }
            }
            Some(Object::Array(items)) => {
                refs.extend(items.iter().filter_map(Object::as_ref).map(|r| r.0))
            }
            _ => {}
        }
        if let Some(resources) = signed.inherited(page, b"Resources").as_dict() {
            if let Some(Object::Ref(n, _)) = page.get(b"Resources") {
                refs.push(*n);
            }
            if let Some(xobjects) = signed.get(resources, b"XObject").as_dict() {
                refs.extend(
                    xobjects
                        .0
                        .iter()
                        .filter_map(|(_, v)| v.as_ref())
                        .map(|r| r.0),
                );
            }
        }
        content_objects.extend(refs);
    }
    let mut out = Vec::new();
    if signed_pages.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        != final_pages.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    {
        out.push(Change {
            object: 0,
            what: "pages added, removed or reordered".into(),
            allowed: false,
        });
    }
    let catalog = signed.catalog().ok();
    let catalog_n = catalog.as_ref().map(|(n, _)| *n);
    let acroform_n = catalog
        .as_ref()
        .and_then(|(_, c)| c.get(b"AcroForm"))
        .and_then(Object::as_ref)
        .map(|r| r.0);
    let info_n = signed
        .trailer
        .get(b"Info")
        .and_then(Object::as_ref)
        .map(|r| r.0);
    let annots_arrays: Vec<u32> = signed_pages
        .iter()
        .filter_map(|(_, p)| p.get(b"Annots").and_then(Object::as_ref).map(|r| r.0))
        .collect();
    let without = |d: &Dict, keys: &[&[u8]]| {
        let mut d = d.clone();
        for k in keys {
            d.remove(k);
        }
        d
    };
    for n in changed {
        let before = signed.object(n).ok();
        let after = full.object(n).ok();
        let change = match (&before, &after) {
            (None, Some(a)) => Change {
                object: n,
                what: describe(a, "added"),
                allowed: true,
            },
            (Some(_), None) => Change {
                object: n,
                what: "removed".into(),
                allowed: false,
            },
            (Some(b), Some(a)) => {
                let same_bytes = match (b, a) {
                    (Object::Stream(_, _), Object::Stream(_, _)) => {
                        signed.stream_data(b).ok() == full.stream_data(a).ok() && same(b, a)
                    }
                    _ => same(b, a),
                };
                if same_bytes {
                    continue;
                }
                let old = b.as_dict().cloned().unwrap_or_default();
                let new = a.as_dict().cloned().unwrap_or_default();
                let only = |keys: &[&[u8]]| same_dict(&without(&old, keys), &without(&new, keys));
                let (what, allowed) = if content_objects.contains(&n) {
                    ("page content or resources changed", false)
                } else if signed_pages.iter().any(|(p, _)| *p == n) {
                    if only(&[b"Annots"]) {
                        ("page annotations updated", true)
                    } else {
                        ("page dictionary changed", false)
                    }
                } else if Some(n) == catalog_n {
                    if only(&[b"AcroForm", b"DSS", b"Extensions", b"Perms"]) {
                        ("catalog: form or security data", true)
                    } else {
                        ("catalog changed", false)
                    }
                } else if Some(n) == acroform_n {
                    if only(&[b"Fields", b"SigFlags", b"DR", b"DA", b"NeedAppearances"]) {
                        ("form fields added", true)
                    } else {
                        ("form settings changed", false)
                    }
                } else if annots_arrays.contains(&n) {
                    ("page annotations updated", true)
                } else if old.type_name() == Some(b"Sig")
                    || old.type_name() == Some(b"DocTimeStamp")
                {
                    ("an existing signature dictionary changed", false)
                } else if old.get(b"FT").is_some()
                    || old.get(b"Subtype").and_then(Object::as_name) == Some(b"Widget")
                {
                    if old.get(b"V").is_none() && only(&[b"V", b"AP", b"AS", b"MK", b"F"]) {
                        ("empty form field filled", true)
                    } else {
                        ("a filled form field or its appearance changed", false)
                    }
                } else if matches!(old.type_name(), Some(b"DSS") | Some(b"VRI")) {
                    ("validation data updated", true)
                } else if Some(n) == info_n || old.type_name() == Some(b"Metadata") {
                    ("document information updated", true)
                } else {
                    ("an existing object changed", false)
                };
                Change {
                    object: n,
                    what: what.into(),
                    allowed,
                }
            }
            (None, None) => continue,
        };
        out.push(change);
    }
    out
}

/// Equality as a PDF reader sees it: dictionary key order and `612` vs `612.0` do not matter.
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

fn describe(object: &Object, verb: &str) -> String {
    let kind = object
        .as_dict()
        .and_then(|d| {
            d.get(b"Type")
                .or(d.get(b"FT"))
                .or(d.get(b"Subtype"))
                .and_then(Object::as_name)
        })
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_else(|| "object".into());
    format!("{kind} {verb}")
}

fn pdf_date_to_iso(raw: &[u8]) -> Option<String> {
    let text = decode_text(raw);
    let digits = text.strip_prefix("D:").unwrap_or(&text);
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<i32>().ok());
    let (y, mo, d) = (num(0, 4)?, num(4, 6).unwrap_or(1), num(6, 8).unwrap_or(1));
    let (h, mi, s) = (
        num(8, 10).unwrap_or(0),
        num(10, 12).unwrap_or(0),
        num(12, 14).unwrap_or(0),
    );
    let rest = digits.get(14..).unwrap_or("");
    let (sign, oh, om) = match rest.chars().next() {
        Some('+') | Some('-') => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let parts: Vec<&str> = rest[1..].split('\'').collect();
            (
                sign,
                parts
                    .first()
                    .and_then(|p| p.parse::<i32>().ok())
                    .unwrap_or(0),
                parts
                    .get(1)
                    .and_then(|p| p.parse::<i32>().ok())
                    .unwrap_or(0),
            )
        }
        _ => (1, 0, 0),
    };
    let month = time::Month::try_from(mo as u8).ok()?;
    let date = time::Date::from_calendar_date(y, month, d as u8).ok()?;
    let t = time::Time::from_hms(h as u8, mi as u8, s as u8).ok()?;
    let offset = time::UtcOffset::from_hms((sign * oh) as i8, (sign * om) as i8, 0).ok()?;
    let vn = time::UtcOffset::from_hms(7, 0, 0).ok()?;
    let local = time::PrimitiveDateTime::new(date, t)
        .assume_offset(offset)
        .to_offset(vn);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    ))
}

/// Verifies every signature of `data` against `anchors` (DER certificates).
///
/// # Errors
/// A file that is not a readable PDF.
pub fn verify(
    data: &[u8],
    anchors: &[Vec<u8>],
    policy_issued: bool,
) -> Result<Report, super::Error> {
    let doc = Document::load(data)?;
    let anchors: Vec<Certificate> = anchors
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let mut signatures = Vec::new();
    let mut fields = signature_fields(&doc);
    fields.sort_by_key(|(_, sig, _)| {
        sig.get(b"ByteRange")
            .and_then(Object::as_array)
            .and_then(|r| r.get(1))
            .and_then(Object::as_int)
            .unwrap_or(0)
    });
    for (field, sig, widget) in fields {
        signatures.push(check_one(&doc, data, &anchors, field, &sig, &widget));
    }
    let policy = policy_issued.then(|| issued_policy(&signatures));
    Ok(Report { signatures, policy })
}

fn issued_policy(signatures: &[SignatureReport]) -> PolicyResult {
    let mut missing = Vec::new();
    let personal = signatures
        .iter()
        .position(|s| s.kind == Some(Kind::Personal) && s.verdict == Verdict::Valid);
    let organization = signatures
        .iter()
        .rposition(|s| s.kind == Some(Kind::Organization) && s.verdict == Verdict::Valid);
    if personal.is_none() {
        missing
            .push("chữ ký số hợp lệ của cá nhân có thẩm quyền / a valid personal signature".into());
    }
    match organization {
        None => missing
            .push("chữ ký số hợp lệ của cơ quan, tổ chức / a valid organisation signature".into()),
        Some(o) => {
            if !signatures[o].has_image {
                missing.push("hình ảnh con dấu của chữ ký cơ quan, tổ chức / the seal image of the organisation signature".into());
            }
            if personal.is_some_and(|p| p > o) {
                missing.push("chữ ký cơ quan phải ký sau chữ ký cá nhân / the organisation must sign after the person".into());
            }
        }
    }
    PolicyResult {
        met: missing.is_empty(),
        missing,
    }
}

fn check_one(
    doc: &Document<'_>,
    data: &[u8],
    anchors: &[Certificate],
    field: String,
    sig: &Dict,
    widget: &Dict,
) -> SignatureReport {
    let sub_filter = sig
        .get(b"SubFilter")
        .and_then(Object::as_name)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let mut report = SignatureReport {
        field,
        sub_filter: sub_filter.clone(),
        signer: None,
        organization: None,
        kind: None,
        signing_time: sig
            .get(b"M")
            .and_then(Object::as_string)
            .and_then(pdf_date_to_iso),
        intact: false,
        signature_valid: false,
        trusted: false,
        covers_whole_file: false,
        later_changes: Vec::new(),
        has_image: has_image(doc, widget),
        timestamp: None,
        verdict: Verdict::Invalid,
        reasons: Vec::new(),
    };
    let range: Vec<i64> = sig
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map(|a| a.iter().filter_map(Object::as_int).collect())
        .unwrap_or_default();
    let [r0, r1, r2, r3] = range[..] else {
        report
            .reasons
            .push("không có /ByteRange hợp lệ / no usable /ByteRange".into());
        return report;
    };
    let (a, b, end) = (r1 as usize, r2 as usize, (r2 + r3) as usize);
    if r0 != 0 || r1 < 0 || r2 <= r1 || r3 < 0 || end > data.len() || a >= data.len() {
        report
            .reasons
            .push("/ByteRange không khớp với tệp / the /ByteRange does not fit the file".into());
        return report;
    }
    let contents = sig
        .get(b"Contents")
        .and_then(Object::as_string)
        .unwrap_or(&[]);
    // The gap must be exactly the /Contents hex string.
    if data.get(a) != Some(&b'<') || data.get(b - 1) != Some(&b'>') {
        report
            .reasons
            .push("vùng loại trừ của /ByteRange không phải /Contents / the /ByteRange gap is not the /Contents string".into());
        return report;
    }
    report.covers_whole_file = end == data.len();
    if !report.covers_whole_file {
        report.later_changes = later_changes(data, end);
    }
    let cms_der = super::ber::to_der(contents).unwrap_or_default();
    let cms = cms_der.as_slice();
    if sub_filter == "ETSI.RFC3161" {
        report.reasons.push(
            "dấu thời gian của văn bản (không phải người ký) / document timestamp (not a signer)"
                .into(),
        );
        report.verdict = Verdict::Unknown;
        return report;
    }
    let parsed = ContentInfo::from_der(cms)
        .ok()
        .and_then(|ci| ci.content.decode_as::<SignedData>().ok());
    let Some(signed) = parsed else {
        report.reasons.push(format!(
            "unsupported or damaged signature container ({sub_filter})"
        ));
        report.verdict = Verdict::Unknown;
        return report;
    };
    let certs: Vec<Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let Some(signer) = signed.signer_infos.0.iter().next() else {
        report
            .reasons
            .push("không có người ký trong chữ ký / no signer in the CMS".into());
        return report;
    };
    let signer_cert = find_signer(signer, &certs);
    if let Some(cert) = signer_cert {
        if let Ok(info) = cert
            .to_der()
            .map_err(|_| ())
            .and_then(|d| CertificateInfo::from_der(&d).map_err(|_| ()))
        {
            report.signer = Some(info.holder().to_string());
            report.organization = info.organization.clone();
            report.kind = Some(info.kind);
        }
    }
    let Some(hash) = Hash::from_oid(&signer.digest_alg.oid) else {
        report.reasons.push(format!(
            "digest algorithm {} not supported",
            signer.digest_alg.oid
        ));
        report.verdict = Verdict::Unknown;
        return report;
    };
    let content_digest = hash.digest_parts(&[&data[..a], &data[b..end]]);
    // What the signature covers: the signed attributes (with a message-digest), or the content.
    let (message, intact) = match &signer.signed_attrs {
        Some(attrs) => {
            let md = attrs
                .iter()
                .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
                .and_then(|a| a.values.iter().next())
                .and_then(|v| v.decode_as::<der::asn1::OctetString>().ok())
                .map(|o| o.as_bytes().to_vec());
            if report.signing_time.is_none() {
                report.signing_time = attrs
                    .iter()
                    .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.5")
                    .and_then(|a| a.values.iter().next())
                    .and_then(|v| v.to_der().ok())
                    .and_then(|der| x509_cert::time::Time::from_der(&der).ok())
                    .map(|t| crate::certificate::iso8601(t.to_unix_duration().as_secs()));
            }
            // adbe.pkcs7.sha1: the signed content is the SHA-1 of the range.
            let expected = if sub_filter == "adbe.pkcs7.sha1" {
                signed
                    .encap_content_info
                    .econtent
                    .as_ref()
                    .and_then(|e| e.decode_as::<der::asn1::OctetString>().ok())
                    .map(|o| o.as_bytes().to_vec())
                    .map(|inner| hash.digest_parts(&[&inner]))
            } else {
                Some(content_digest.clone())
            };
            let sha1_ok = sub_filter != "adbe.pkcs7.sha1"
                || signed
                    .encap_content_info
                    .econtent
                    .as_ref()
                    .and_then(|e| e.decode_as::<der::asn1::OctetString>().ok())
                    .is_some_and(|o| {
                        o.as_bytes()
                            == Hash::Sha1
                                .digest_parts(&[&data[..a], &data[b..end]])
                                .as_slice()
                    });
            let raw = super::ber::signed_attributes_raw(cms)
                .or_else(|| attrs.to_der().ok())
                .unwrap_or_default();
            (raw, md.is_some() && md == expected && sha1_ok)
        }
        None => {
            // No signed attributes: the signature is over the content itself — for
            // adbe.pkcs7.sha1 the encapsulated SHA-1 of the range, else the range.
            let econtent = signed
                .encap_content_info
                .econtent
                .as_ref()
                .and_then(|e| e.decode_as::<der::asn1::OctetString>().ok())
                .map(|o| o.as_bytes().to_vec());
            match econtent {
                Some(inner) => {
                    let matches = inner == Hash::Sha1.digest_parts(&[&data[..a], &data[b..end]])
                        || inner == content_digest;
                    (inner, matches)
                }
                None => (
                    data[..a].iter().chain(&data[b..end]).copied().collect(),
                    true,
                ),
            }
        }
    };
    report.intact = intact;
    if let Some(attrs) = &signer.unsigned_attrs {
        let token = attrs
            .iter()
            .find(|a| a.oid == super::timestamp::ID_SIGNATURE_TIMESTAMP)
            .and_then(|a| a.values.iter().next())
            .and_then(|v| v.to_der().ok());
        if let Some((imprint, time)) = token.as_deref().and_then(super::timestamp::token_info) {
            let expected = crate::digest::DigestAlgorithm::parse("SHA-256")
                .map(|d| d.digest(signer.signature.as_bytes()))
                .unwrap_or_default();
            // Imprints of other hash lengths (SHA-1/384/512) are shown without the check.
            if imprint.len() != expected.len() || imprint == expected {
                report.timestamp = Some(time);
            } else {
                report.reasons.push(
                    "dấu thời gian không khớp chữ ký / the timestamp is for another signature"
                        .into(),
                );
            }
        }
    }
    if !intact {
        report.reasons.push(
            "nội dung đã ký bị thay đổi / the signed bytes were changed (digest mismatch)".into(),
        );
        return report;
    }
    let Some(cert) = signer_cert else {
        report
            .reasons
            .push("chữ ký không kèm chứng thư số của người ký / the signer certificate is not in the signature".into());
        report.verdict = Verdict::Unknown;
        return report;
    };
    match verify_signature(
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        Some(hash),
        &message,
        signer.signature.as_bytes(),
    ) {
        Ok(true) => report.signature_valid = true,
        Ok(false) => {
            report
                .reasons
                .push("giá trị chữ ký không đúng / the signature value does not verify".into());
            return report;
        }
        Err(unsupported) => {
            report.reasons.push(unsupported.to_string());
            report.verdict = Verdict::Unknown;
            return report;
        }
    }
    if report.later_changes.iter().any(|c| !c.allowed) {
        report
            .reasons
            .push("nội dung văn bản bị thay đổi sau khi ký / the document content was changed after this signature".into());
        report.verdict = Verdict::Invalid;
        return report;
    }
    report.trusted = chains_to_anchor(cert, &certs, anchors);
    if report.trusted {
        report.verdict = Verdict::Valid;
    } else {
        report.reasons.push(
            "chứng thư số không dẫn tới chứng thư gốc tin cậy (cài đặt chứng thư gốc) / the certificate chain does not reach a trusted root (install the CA root)".into(),
        );
        report.verdict = Verdict::Unknown;
    }
    report
}

/// SHA-256 fingerprint, for logs.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(der))
}
