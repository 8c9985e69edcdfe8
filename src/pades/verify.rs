//! Checking the signatures of a received PDF, as the receiving clerk must (letter 000): each
//! signature is **valid** (intact, signature value right, chain to a trusted root), **validity
//! unknown** (intact, but the chain does not reach a trusted root, or the algorithm or
//! certificate could not be checked) or **invalid** (bytes changed inside the signed range, a
//! digest or signature mismatch, or page content changed in a later revision).

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use x509_cert::Certificate;

use super::changes::{Lock, Permissions};
use super::pdf::{decode_text, Dict, Document, Object};
use super::signed_data::{certificates_of, find_signer};
use crate::certificate::{CertificateInfo, Kind};
use crate::i18n::Lang;
use crate::pki::algorithm::{verify_signature, Hash};
use crate::pki::check as pki_check;
use crate::pki::path::Purpose;

pub use crate::pki::Verdict;

pub use super::changes::Change;

/// The report on one signature.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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
    /// Time of an RFC 3161 signature timestamp that verified (imprint, TSA signature, TSA
    /// path), Vietnamese local time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The time the certificate was validated at: the timestamp's when proven, else the
    /// claimed signing time, else now.
    pub validation_time: Option<String>,
    /// Where the validation time comes from: `timestamp` (proven), `claimed` (`/M` or the
    /// signing-time attribute, not proven), `now`.
    pub time_source: &'static str,
    /// The signer certificate (issuing CA, validity period: Thông tư 15/2025 Đ.6.4.b).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSummary>,
    /// The certificate path validated, with the revocation status of each certificate.
    pub path: Vec<crate::pki::check::PathEntry>,
    /// The certificate was valid (path, revocation) at the validation time.
    pub valid_at_signing_time: bool,
    /// The certificate path is valid now (revocation not re-checked).
    pub valid_now: bool,
    /// The verdict.
    /// A document timestamp (PAdES B-LTA), not a signer: `signer` is the TSA.
    pub document_timestamp: bool,
    pub verdict: Verdict,
    /// Stable reason codes (`docs/verification.md`): why, when not valid, and notes.
    pub reason_codes: Vec<String>,
    /// For each code, what locates it (a subject, an algorithm, a date), in English; may be
    /// empty.
    pub reason_details: Vec<String>,
    /// For each code, its catalogue message, "Vietnamese / English (detail)".
    pub reasons: Vec<String>,
}

/// What a report says of the signer certificate.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuing CA (issuer distinguished name).
    pub issuer: String,
    /// Issuing CA's common name.
    pub issuer_name: Option<String>,
    /// Serial number (hex).
    pub serial: String,
    /// Valid from (ISO 8601, UTC).
    pub not_before: String,
    /// Valid until.
    pub not_after: String,
}

impl SignatureReport {
    fn reason(&mut self, code: &str, detail: impl Into<String>) {
        let detail = detail.into();
        self.reasons
            .push(reason_text(code, &detail, self.document_timestamp, None));
        self.reason_codes.push(code.to_string());
        self.reason_details.push(detail);
    }

    fn finding(&mut self, finding: &crate::pki::Finding) {
        self.reason(&finding.code.code(), finding.detail.clone());
    }

    /// The reasons in `lang` alone (`None`: "Vietnamese / English"), with their codes.
    pub fn reasons_in(&self, lang: Option<Lang>) -> Vec<(String, String)> {
        self.reason_codes
            .iter()
            .zip(&self.reason_details)
            .map(|(code, detail)| {
                let text = reason_text(code, detail, self.document_timestamp, lang);
                (code.clone(), text)
            })
            .collect()
    }
}

/// What a reason code means (the catalogue's `reason-…`): in `lang`, or "Vietnamese /
/// English" for `None`, with the detail in brackets. `TSA_…` codes are the timestamp
/// authority's certificate's reasons.
pub fn reason_text(
    code: &str,
    detail: &str,
    document_timestamp: bool,
    lang: Option<Lang>,
) -> String {
    let one = |lang: Lang| match code.strip_prefix("TSA_") {
        Some(inner) => {
            let why = crate::i18n::text(lang, &crate::i18n::code_id("reason", inner));
            crate::i18n::message(lang, "reason-tsa-not-proven", &[("why", why.into())])
        }
        None => crate::i18n::message(
            lang,
            &crate::i18n::code_id("reason", code),
            &[(
                "timestamp",
                if document_timestamp { "yes" } else { "no" }.into(),
            )],
        ),
    };
    let text = match lang {
        Some(lang) => one(lang),
        None => format!("{} / {}", one(Lang::Vi), one(Lang::En)),
    };
    if detail.is_empty() {
        text
    } else {
        format!("{text} ({detail})")
    }
}

/// What a verification is checked against.
pub struct Options<'a> {
    /// Trusted roots (DER).
    pub anchors: &'a [Vec<u8>],
    /// CRLs (DER) given by the caller, in addition to the evidence in the file.
    pub crls: &'a [Vec<u8>],
    /// How revocation is established.
    pub revocation: crate::pki::check::RevocationMode,
    /// How revocation data is fetched when it is.
    pub fetch: &'a dyn crate::pki::revocation::Fetch,
    /// A receipt policy to check (letters 002 and 004).
    pub policy: Option<Policy>,
    /// Set when the caller has gone (the bridge's client disconnected): stop.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    /// The user password of an encrypted document (empty: owner-password-only documents).
    pub password: &'a [u8],
}

impl Options<'_> {
    /// Integrity only: no anchors, nothing fetched (used by prepare to find the leader).
    pub fn integrity_only() -> Options<'static> {
        Options {
            anchors: &[],
            crls: &[],
            revocation: crate::pki::check::RevocationMode::Off,
            fetch: &crate::pki::revocation::NoFetch,
            policy: None,
            cancel: None,
            password: b"",
        }
    }
}

/// The report on a document.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every signature, in file order.
    pub signatures: Vec<SignatureReport>,
    /// The `issued` policy result, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyResult>,
}

/// What the `issued` policy found (Decree 30 Đ.5.1, letter 004).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// Signature fields: (field name, signature dictionary, widget dictionary).
pub(crate) fn signature_fields(doc: &Document<'_>) -> Vec<(String, Dict, Dict)> {
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
    // Each field object once (a /Kids cycle or a shared kid would repeat it), at most
    // MAX_FIELDS of them, at most MAX_FIELD_DEPTH deep (the name grows with the depth).
    const MAX_FIELDS: usize = 100_000;
    const MAX_FIELD_DEPTH: usize = 32;
    let mut seen = std::collections::HashSet::new();
    while let Some((field, prefix, inherited_ft)) = stack.pop() {
        if let Some(r) = field.as_ref() {
            if !seen.insert(r) {
                continue;
            }
        }
        if seen.len() > MAX_FIELDS || prefix.matches('.').count() >= MAX_FIELD_DEPTH {
            continue;
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

/// Whether a signature field shows an image: its own widget, or one of its widget kids (a
/// clerk's signature that also draws the number and date has three).
fn has_image(doc: &Document<'_>, field: &Dict) -> bool {
    widget_has_image(doc, field)
        || doc.get(field, b"Kids").as_array().is_some_and(|kids| {
            kids.iter()
                .take(16)
                .filter_map(|kid| doc.resolve(kid).as_dict().cloned())
                .any(|kid| widget_has_image(doc, &kid))
        })
}

fn widget_has_image(doc: &Document<'_>, widget: &Dict) -> bool {
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

/// Evidence a document carries for validation: the DSS's certificates, CRLs and OCSP responses.
#[derive(Default)]
struct Evidence {
    certs: Vec<Certificate>,
    crls: Vec<x509_cert::crl::CertificateList>,
    ocsp: Vec<Vec<u8>>,
}

/// The most evidence objects read from a DSS (each list); more is refused as hostile.
const MAX_DSS_ENTRIES: usize = 1_000;

fn dss_evidence(doc: &Document<'_>) -> Evidence {
    let mut evidence = Evidence::default();
    let Ok((_, catalog)) = doc.catalog() else {
        return evidence;
    };
    let dss = doc.get(&catalog, b"DSS");
    let Some(dss) = dss.as_dict() else {
        return evidence;
    };
    let streams = |key: &[u8]| -> Vec<Vec<u8>> {
        doc.get(dss, key)
            .as_array()
            .map(|a| {
                a.iter()
                    .take(MAX_DSS_ENTRIES)
                    .filter_map(|o| doc.stream_data(&doc.resolve(o)).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    evidence.certs = streams(b"Certs")
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    evidence.crls = streams(b"CRLs")
        .iter()
        .filter_map(|d| x509_cert::crl::CertificateList::from_der(d).ok())
        .collect();
    evidence.ocsp = streams(b"OCSPs");
    evidence
}

/// The adbe-revocationInfoArchival signed attribute: `[0]` CRLs, `[1]` OCSP responses.
fn adbe_revocation(signer: &SignerInfo, evidence: &mut Evidence) {
    let Some(value) = signer
        .signed_attrs
        .iter()
        .flat_map(|set| set.iter())
        .find(|a| a.oid.to_string() == "1.2.840.113583.1.1.8")
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.to_der().ok())
    else {
        return;
    };
    let Some(fields) = super::ber::elements(&value) else {
        return;
    };
    for field in fields {
        let Some(list) = super::ber::elements(field.whole).and_then(|inner| {
            inner
                .first()
                .and_then(|seq| super::ber::elements(seq.whole))
        }) else {
            continue;
        };
        for item in list.iter().take(MAX_DSS_ENTRIES) {
            match field.whole.first() {
                Some(0xa0) => {
                    if let Ok(crl) = x509_cert::crl::CertificateList::from_der(item.whole) {
                        evidence.crls.push(crl);
                    }
                }
                Some(0xa1) => evidence.ocsp.push(item.whole.to_vec()),
                _ => {}
            }
        }
    }
}

/// Verifies every signature of `data`.
///
/// # Errors
/// A file that is not a readable PDF.
pub fn verify(data: &[u8], options: &Options<'_>) -> Result<Report, super::Error> {
    let doc = Document::load_with_password(data, options.password)?;
    let anchors: Vec<Certificate> = options
        .anchors
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let mut evidence = dss_evidence(&doc);
    evidence.crls.extend(
        options
            .crls
            .iter()
            .filter_map(|d| x509_cert::crl::CertificateList::from_der(d).ok()),
    );
    let mut signatures = Vec::new();
    let mut fields = signature_fields(&doc);
    fields.sort_by_key(|(_, sig, _)| {
        sig.get(b"ByteRange")
            .and_then(Object::as_array)
            .and_then(|r| r.get(1))
            .and_then(Object::as_int)
            .unwrap_or(0)
    });
    let locks = fields
        .iter()
        .filter_map(|(_, sig, widget)| Some((signed_end(sig)?, field_locks(&doc, sig, widget))))
        .collect();
    let context = Context {
        anchors: &anchors,
        evidence: &evidence,
        options,
        docmdp: certification(&doc),
        locks,
    };
    for (field, sig, widget) in fields {
        if options
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(super::Error::Cancelled);
        }
        signatures.push(check_one(&doc, data, &context, field, &sig, &widget));
    }
    let policy = options.policy.map(|p| check_policy(p, &signatures));
    Ok(Report { signatures, policy })
}

struct Context<'a> {
    anchors: &'a [Certificate],
    evidence: &'a Evidence,
    options: &'a Options<'a>,
    /// The certification signature's end and DocMDP level.
    docmdp: Option<(usize, i64)>,
    /// Each signature's end and its FieldMDP locks.
    locks: Vec<(usize, Vec<Lock>)>,
}

impl Context<'_> {
    /// What the signatures ending at or before `end` permit after it.
    fn permissions(&self, end: usize) -> Permissions {
        Permissions {
            docmdp: self.docmdp.filter(|(e, _)| *e <= end).map(|(_, p)| p),
            locks: self
                .locks
                .iter()
                .filter(|(e, _)| *e <= end)
                .flat_map(|(_, l)| l.iter().cloned())
                .collect(),
        }
    }
}

/// The end of the revision a signature covers (`/ByteRange` offset + length of the second part).
fn signed_end(sig: &Dict) -> Option<usize> {
    let range: Vec<i64> = sig
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map(|a| a.iter().filter_map(Object::as_int).collect())
        .unwrap_or_default();
    let [_, _, start, len] = range[..] else {
        return None;
    };
    usize::try_from(start.checked_add(len)?).ok()
}

/// The FieldMDP locks a signature sets: its `/Reference` entries and its field's `/Lock`.
fn field_locks(doc: &Document<'_>, sig: &Dict, widget: &Dict) -> Vec<Lock> {
    let mut locks = Vec::new();
    for reference in doc.get(sig, b"Reference").as_array().into_iter().flatten() {
        let reference = doc.resolve(reference);
        let Some(r) = reference.as_dict() else {
            continue;
        };
        if doc.get(r, b"TransformMethod").as_name() == Some(b"FieldMDP") {
            if let Some(lock) = doc
                .get(r, b"TransformParams")
                .as_dict()
                .and_then(|p| Lock::from_dict(doc, p))
            {
                locks.push(lock);
            }
        }
    }
    if let Some(lock) = doc
        .get(widget, b"Lock")
        .as_dict()
        .and_then(|l| Lock::from_dict(doc, l))
    {
        locks.push(lock);
    }
    locks
}

/// The certification signature (catalog `/Perms /DocMDP`): its end and its P (default 2).
fn certification(doc: &Document<'_>) -> Option<(usize, i64)> {
    let (_, catalog) = doc.catalog().ok()?;
    let perms = doc.get(&catalog, b"Perms");
    let sig = doc.get(perms.as_dict()?, b"DocMDP");
    let sig = sig.as_dict()?;
    let mut level = 2;
    for reference in doc.get(sig, b"Reference").as_array().into_iter().flatten() {
        let reference = doc.resolve(reference);
        if let Some(r) = reference.as_dict() {
            if doc.get(r, b"TransformMethod").as_name() == Some(b"DocMDP") {
                if let Some(p) = doc
                    .get(r, b"TransformParams")
                    .as_dict()
                    .and_then(|t| doc.get(t, b"P").as_int())
                {
                    level = p.clamp(1, 3);
                }
            }
        }
    }
    Some((signed_end(sig)?, level))
}

/// What a received document must carry to count as issued (letters 002 and 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Policy {
    /// Way 2 (fully electronic, Decree 30 Đ.5.1): a valid personal signature of the competent
    /// person and, after it, a valid organisation signature whose stamp shows the seal.
    Issued,
    /// Way 1 (a scanned paper document): a valid organisation signature; the seal and the
    /// handwritten signature are on the scan itself.
    Scanned,
}

impl Policy {
    /// Parses `issued` / `scanned`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "issued" => Some(Self::Issued),
            "scanned" => Some(Self::Scanned),
            _ => None,
        }
    }
}

/// Checks `policy` against every valid signature, in file order: any valid personal signature
/// followed by any valid organisation signature with a seal image meets `Issued` (later
/// incoming or copy stamps do not undo it).
fn check_policy(policy: Policy, signatures: &[SignatureReport]) -> PolicyResult {
    let valid = |kind: Kind| {
        signatures
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.kind == Some(kind) && s.verdict == Verdict::Valid)
            .map(|(i, _)| i)
    };
    let first_personal = valid(Kind::Personal).next();
    let mut missing = Vec::new();
    match policy {
        Policy::Scanned => {
            if valid(Kind::Organization).next().is_none() {
                missing.push(
                    "chữ ký số hợp lệ của cơ quan, tổ chức / a valid organisation signature".into(),
                );
            }
        }
        Policy::Issued => {
            let org_with_seal = valid(Kind::Organization).filter(|o| signatures[*o].has_image);
            let after_personal = |o: &usize| first_personal.is_some_and(|p| p < *o);
            if first_personal.is_none() {
                missing.push(
                    "chữ ký số hợp lệ của cá nhân có thẩm quyền / a valid personal signature"
                        .into(),
                );
            }
            if valid(Kind::Organization).next().is_none() {
                missing.push(
                    "chữ ký số hợp lệ của cơ quan, tổ chức / a valid organisation signature".into(),
                );
            } else if org_with_seal.clone().next().is_none() {
                missing.push("hình ảnh con dấu của chữ ký cơ quan, tổ chức / the seal image of the organisation signature".into());
            } else if first_personal.is_some() && !org_with_seal.clone().any(|o| after_personal(&o))
            {
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
    context: &Context<'_>,
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
        validation_time: None,
        time_source: "now",
        certificate: None,
        path: Vec::new(),
        valid_at_signing_time: false,
        valid_now: false,
        document_timestamp: false,
        verdict: Verdict::Invalid,
        reason_codes: Vec::new(),
        reason_details: Vec::new(),
        reasons: Vec::new(),
    };
    let range: Vec<i64> = sig
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map(|a| a.iter().filter_map(Object::as_int).collect())
        .unwrap_or_default();
    let [r0, r1, r2, r3] = range[..] else {
        report.reason("BYTE_RANGE_INVALID", "");
        return report;
    };
    let end = r2.checked_add(r3).unwrap_or(-1);
    if r0 != 0 || r1 < 2 || r2 <= r1 || r3 < 0 || end < 0 || end as u64 > data.len() as u64 {
        report.reason("BYTE_RANGE_INVALID", "it does not fit the file");
        return report;
    }
    let (a, b, end) = (r1 as usize, r2 as usize, end as usize);
    let contents = sig
        .get(b"Contents")
        .and_then(Object::as_string)
        .unwrap_or(&[]);
    // The gap must be exactly this signature's /Contents hex string: '<', hex digits, '>'
    // (a relocated /ByteRange that excludes something else is signature wrapping).
    let gap_is_contents = data.get(a) == Some(&b'<')
        && data.get(b - 1) == Some(&b'>')
        && data[a + 1..b - 1].iter().all(u8::is_ascii_hexdigit)
        && (b - a - 2) / 2 >= contents.len()
        && hex_decode_prefix(&data[a + 1..b - 1], contents.len()).as_deref() == Some(contents);
    if !gap_is_contents {
        report.reason("BYTE_RANGE_GAP_NOT_CONTENTS", "");
        return report;
    }
    report.covers_whole_file = end == data.len();
    if !report.covers_whole_file {
        report.later_changes = super::changes::analyse(
            data,
            end,
            &context.permissions(end),
            context.options.password,
        );
    }
    let cms_der = super::ber::to_der(contents).unwrap_or_default();
    let cms = cms_der.as_slice();
    if sub_filter == "ETSI.RFC3161" {
        report.document_timestamp = true;
        let covered: [&[u8]; 2] = [&data[..a], &data[b..end]];
        return check_document_timestamp(report, cms, &covered, context);
    }
    let parsed = ContentInfo::from_der(cms)
        .ok()
        .and_then(|ci| ci.content.decode_as::<SignedData>().ok());
    let Some(signed) = parsed else {
        report.reason("CMS_DAMAGED", sub_filter.clone());
        report.verdict = Verdict::Unknown;
        return report;
    };
    let certs = certificates_of(&signed);
    let Some(signer) = signed.signer_infos.0.iter().next() else {
        report.reason("NO_SIGNER", "");
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
            report.certificate = Some(CertificateSummary {
                subject: info.subject.clone(),
                issuer: info.issuer.clone(),
                issuer_name: info.issuer_common_name.clone(),
                serial: info.serial.clone(),
                not_before: crate::certificate::iso8601(info.not_before),
                not_after: crate::certificate::iso8601(info.not_after),
            });
        }
    }
    let Some(hash) = Hash::from_oid(&signer.digest_alg.oid) else {
        report.reason(
            "UNSUPPORTED_ALGORITHM",
            format!("digest algorithm {}", signer.digest_alg.oid),
        );
        report.verdict = Verdict::Unknown;
        return report;
    };
    let content_digest = hash.digest_parts(&[&data[..a], &data[b..end]]);
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .and_then(|e| e.decode_as::<der::asn1::OctetString>().ok())
        .map(|o| o.as_bytes().to_vec());
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
            let (expected, sha1_ok) = if sub_filter == "adbe.pkcs7.sha1" {
                let range_sha1 = Hash::Sha1.digest_parts(&[&data[..a], &data[b..end]]);
                (
                    econtent.as_ref().map(|inner| hash.digest_parts(&[inner])),
                    econtent.as_deref() == Some(range_sha1.as_slice()),
                )
            } else {
                (Some(content_digest.clone()), true)
            };
            let raw = super::ber::signed_attributes_raw(cms)
                .or_else(|| attrs.to_der().ok())
                .unwrap_or_default();
            (raw, md.is_some() && md == expected && sha1_ok)
        }
        None => match econtent {
            // No signed attributes: the signature is over the content itself — for
            // adbe.pkcs7.sha1 the encapsulated SHA-1 of the range, else the range.
            Some(inner) => {
                let matches = inner == Hash::Sha1.digest_parts(&[&data[..a], &data[b..end]])
                    || inner == content_digest;
                (inner, matches)
            }
            None => (
                data[..a].iter().chain(&data[b..end]).copied().collect(),
                true,
            ),
        },
    };
    report.intact = intact;
    if !intact {
        report.reason("DIGEST_MISMATCH", "");
        return report;
    }
    let Some(cert) = signer_cert else {
        report.reason("NO_SIGNER_CERTIFICATE", "");
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
            report.reason("SIGNATURE_INVALID", "");
            return report;
        }
        Err(unsupported) => {
            report.reason("UNSUPPORTED_ALGORITHM", unsupported.0);
            report.verdict = Verdict::Unknown;
            return report;
        }
    }
    if report.later_changes.iter().any(|c| !c.allowed) {
        report.reason("MODIFIED_AFTER_SIGNING", "");
        report.verdict = Verdict::Invalid;
        return report;
    }
    // Evidence: the DSS, the CMS's certificates and CRLs, the adbe attribute, the caller's.
    let mut evidence = Evidence {
        certs: context.evidence.certs.clone(),
        crls: context.evidence.crls.clone(),
        ocsp: context.evidence.ocsp.clone(),
    };
    evidence.certs.extend(certs.iter().cloned());
    for choice in signed.crls.iter().flat_map(|set| set.0.iter()) {
        if let cms::revocation::RevocationInfoChoice::Crl(crl) = choice {
            evidence.crls.push(crl.clone());
        }
    }
    adbe_revocation(signer, &mut evidence);
    // The validation time: a verified signature timestamp proves it; /M only claims it.
    let now = crate::certificate::unix_now();
    let claimed = report.signing_time.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    let mut at = match claimed {
        Some(t) => {
            report.time_source = "claimed";
            u64::try_from(t.unix_timestamp()).unwrap_or(0)
        }
        None => now,
    };
    let token = signer
        .unsigned_attrs
        .iter()
        .flat_map(|set| set.iter())
        .find(|a| a.oid == super::timestamp::ID_SIGNATURE_TIMESTAMP);
    if let Some(token) = token
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.to_der().ok())
    {
        let stamped = signer.signature.as_bytes();
        match super::timestamp::verify_token(&token, &|h| h.digest_parts(&[stamped]), None) {
            Ok(proven) => {
                let mut intermediates = evidence.certs.clone();
                intermediates.extend(proven.certificates.iter().cloned());
                let tsa = pki_check::check(
                    &pki_check::Request {
                        certificate: &proven.tsa,
                        anchors: context.anchors,
                        intermediates: &intermediates,
                        crls: &evidence.crls,
                        ocsp: &evidence.ocsp,
                        at: proven.time,
                        purpose: Purpose::Timestamping,
                        revocation: context.options.revocation,
                        // The token's own signature vouches for its time.
                        time_proven: true,
                    },
                    context.options.fetch,
                );
                if tsa.verdict == Verdict::Valid {
                    report.timestamp = Some(proven.display);
                    report.time_source = "timestamp";
                    at = proven.time;
                } else {
                    for finding in &tsa.reasons {
                        report.reason(
                            &format!("TSA_{}", finding.code.code()),
                            finding.detail.clone(),
                        );
                    }
                }
            }
            Err(why) => report.reason("TIMESTAMP_INVALID", why.to_string()),
        }
    }
    report.validation_time = Some(crate::certificate::iso8601(at));
    let request = pki_check::Request {
        certificate: cert,
        anchors: context.anchors,
        intermediates: &evidence.certs,
        crls: &evidence.crls,
        ocsp: &evidence.ocsp,
        at,
        purpose: Purpose::DocumentSigning,
        revocation: context.options.revocation,
        time_proven: report.time_source != "claimed",
    };
    let at_signing = pki_check::check(&request, context.options.fetch);
    report.path = at_signing.path.clone();
    report.trusted = !at_signing.path.is_empty();
    report.valid_at_signing_time = at_signing.verdict == Verdict::Valid;
    let now_check = pki_check::check(
        &pki_check::Request {
            at: now,
            revocation: pki_check::RevocationMode::Off,
            ..request
        },
        &crate::pki::revocation::NoFetch,
    );
    report.valid_now = now_check.verdict == Verdict::Valid;
    for finding in &at_signing.reasons {
        report.finding(finding);
    }
    report.verdict = at_signing.verdict;
    if report.verdict == Verdict::Valid && report.time_source == "claimed" && !report.valid_now {
        report.reason("SIGNING_TIME_NOT_PROVEN", "");
    }
    report
}

/// A document timestamp (PAdES B-LTA): the token's imprint is the hash of the byte range
/// (`covered`), its TSA's path is validated at the token's time; it proves that the file up to
/// here, with the validation data stored before it, existed then.
fn check_document_timestamp(
    mut report: SignatureReport,
    token: &[u8],
    covered: &[&[u8]],
    context: &Context<'_>,
) -> SignatureReport {
    let proven = match super::timestamp::verify_token(token, &|h| h.digest_parts(covered), None) {
        Ok(proven) => proven,
        Err(why) => {
            report.reason("TIMESTAMP_INVALID", why.to_string());
            return report;
        }
    };
    report.intact = true;
    report.signature_valid = true;
    report.signer = Some(
        CertificateInfo::from_der(&proven.tsa.to_der().unwrap_or_default())
            .map(|i| i.holder().to_string())
            .unwrap_or_else(|_| proven.tsa.tbs_certificate.subject.to_string()),
    );
    report.timestamp = Some(proven.display.clone());
    report.time_source = "timestamp";
    report.validation_time = Some(crate::certificate::iso8601(proven.time));
    if report.later_changes.iter().any(|c| !c.allowed) {
        report.reason("MODIFIED_AFTER_SIGNING", "");
        return report;
    }
    let mut intermediates = context.evidence.certs.clone();
    intermediates.extend(proven.certificates.iter().cloned());
    let request = pki_check::Request {
        certificate: &proven.tsa,
        anchors: context.anchors,
        intermediates: &intermediates,
        crls: &context.evidence.crls,
        ocsp: &context.evidence.ocsp,
        at: proven.time,
        purpose: Purpose::Timestamping,
        revocation: context.options.revocation,
        time_proven: true,
    };
    let at_time = pki_check::check(&request, context.options.fetch);
    report.path = at_time.path.clone();
    report.trusted = !at_time.path.is_empty();
    report.valid_at_signing_time = at_time.verdict == Verdict::Valid;
    report.valid_now = pki_check::check(
        &pki_check::Request {
            at: crate::certificate::unix_now(),
            revocation: pki_check::RevocationMode::Off,
            ..request
        },
        &crate::pki::revocation::NoFetch,
    )
    .verdict
        == Verdict::Valid;
    for finding in &at_time.reasons {
        report.finding(finding);
    }
    report.verdict = at_time.verdict;
    report
}

/// The first `n` bytes that the hex digits `hex` spell (an odd digit count pads with 0).
fn hex_decode_prefix(hex: &[u8], n: usize) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    (0..n)
        .map(|i| {
            let hi = digit(*hex.get(2 * i)?)?;
            let lo = hex.get(2 * i + 1).map_or(Some(0), |c| digit(*c))?;
            Some(hi << 4 | lo)
        })
        .collect()
}

/// SHA-256 fingerprint, for logs.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(der))
}
