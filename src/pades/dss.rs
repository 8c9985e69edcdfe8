//! PAdES B-LT: the validation data of a signature — its certificate chain, OCSP responses and
//! CRLs — written into the document security store (`/DSS` with `/Certs`, `/OCSPs`, `/CRLs` and
//! a `/VRI` entry for the signature) in an incremental update after it, so that a verifier years
//! later, or on an air-gapped machine, proves the signature without the network. Earlier DSS
//! entries are kept. Later signatures stay valid (verifiers allow DSS updates).

use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::Certificate;

use super::pdf::{Dict, Document, Object};
use super::update::Update;
use super::Error;
use crate::pki::revocation::{self, Fetch};

/// Validation data to store, DER.
#[derive(Clone, Debug, Default)]
pub struct ValidationData {
    /// Certificates (the chain).
    pub certs: Vec<Vec<u8>>,
    /// OCSPResponse.
    pub ocsps: Vec<Vec<u8>>,
    /// CertificateList.
    pub crls: Vec<Vec<u8>>,
}

impl ValidationData {
    /// Nothing to store.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty() && self.ocsps.is_empty() && self.crls.is_empty()
    }
}

/// One piece of revocation data, told apart by its structure.
pub enum Evidence {
    /// A DER OCSPResponse.
    Ocsp(Vec<u8>),
    /// A DER CertificateList.
    Crl(Vec<u8>),
}

/// Whether `bytes` (DER, or a PEM CRL) are an OCSP response or a CRL.
pub fn classify(bytes: &[u8]) -> Option<Evidence> {
    if x509_ocsp::OcspResponse::from_der(bytes).is_ok() {
        return Some(Evidence::Ocsp(bytes.to_vec()));
    }
    crate::pki::crl::parse(bytes)
        .ok()
        .and_then(|list| list.first().and_then(|c| c.to_der().ok()))
        .map(Evidence::Crl)
}

/// The signer certificate and every certificate of a CMS (a signature or a timestamp token).
fn cms_certificates(cms: &[u8]) -> Result<(Certificate, Vec<Certificate>), Error> {
    let parts = super::signed_data::signed_data_parts(cms).map_err(Error::Cms)?;
    let signer = super::signed_data::find_signer(&parts.signer, &parts.certificates)
        .cloned()
        .ok_or_else(|| Error::Cms("the signer certificate is not in the CMS".into()))?;
    Ok((signer, parts.certificates))
}

/// Gathers the chain of the signer of `cms` (from the CMS and `extra`) and, through `fetch`,
/// the OCSP response (else the CRL) of each certificate of it below the root.
///
/// # Errors
/// A CMS without its signer certificate.
pub fn gather(
    cms: &[u8],
    extra: &[Certificate],
    fetch: &dyn Fetch,
) -> Result<ValidationData, Error> {
    let (signer, mut pool) = cms_certificates(cms)?;
    pool.extend(extra.iter().cloned());
    let chain = revocation::chain_of(&signer, &pool);
    let status = revocation::chain_status(&chain, crate::certificate::unix_now(), fetch);
    if let revocation::ChainVerdict::Unknown(findings) = &status.verdict {
        for finding in findings {
            tracing::warn!(%finding, "no revocation data for the DSS");
        }
    }
    let evidence = status.evidence;
    Ok(ValidationData {
        certs: chain.iter().filter_map(|c| c.to_der().ok()).collect(),
        ocsps: evidence.ocsp,
        crls: evidence.crl,
    })
}

/// Appends an incremental update that adds `data` to the document security store, with a
/// `/VRI` entry for the last signature of `pdf`. Returns `pdf` unchanged when `data` is empty.
///
/// # Errors
/// An unreadable PDF.
pub fn append(pdf: &[u8], data: &ValidationData) -> Result<Vec<u8>, Error> {
    if data.is_empty() {
        return Ok(pdf.to_vec());
    }
    let dedup = |items: &[Vec<u8>]| {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for item in items {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        out
    };
    let data = &ValidationData {
        certs: dedup(&data.certs),
        ocsps: dedup(&data.ocsps),
        crls: dedup(&data.crls),
    };
    let doc = Document::load(pdf)?;
    let (catalog_n, catalog) = doc.catalog()?;
    let catalog_gen = match doc.xref.get(&catalog_n) {
        Some(super::pdf::XrefEntry::Offset(_, g)) => *g,
        _ => 0,
    };
    let old = doc
        .get(&catalog, b"DSS")
        .as_dict()
        .cloned()
        .unwrap_or_default();
    let mut update = Update::new(&doc);
    // Keep what the store holds; add what it lacks (by content).
    let mut lists = Vec::new();
    let mut vri_refs = Vec::new();
    for (key, items) in [
        (&b"Certs"[..], &data.certs),
        (b"OCSPs", &data.ocsps),
        (b"CRLs", &data.crls),
    ] {
        let mut refs: Vec<Object> = doc.get(&old, key).as_array().cloned().unwrap_or_default();
        let present: Vec<Vec<u8>> = refs
            .iter()
            .filter_map(|r| doc.stream_data(&doc.resolve(r)).ok())
            .collect();
        let mut mine = Vec::new();
        for item in items {
            if let Some(i) = present.iter().position(|p| p == item) {
                mine.push(refs[i].clone());
                continue;
            }
            let n = update.add_stream(Dict::default(), item);
            refs.push(Object::Ref(n, 0));
            mine.push(Object::Ref(n, 0));
        }
        lists.push((key, refs));
        vri_refs.push(mine);
    }
    let mut dss = Dict::default();
    dss.set(b"Type", Object::Name(b"DSS".to_vec()));
    for (key, refs) in lists {
        if !refs.is_empty() {
            dss.set(key, Object::Array(refs));
        }
    }
    // VRI: keyed by the upper-case SHA-1 of the signature's /Contents.
    let mut vri = doc.get(&old, b"VRI").as_dict().cloned().unwrap_or_default();
    if let Some(contents) = signature_contents(&doc).pop() {
        let key = hex::encode_upper(sha1(&contents));
        let mut entry = Dict::default();
        entry.set(b"Type", Object::Name(b"VRI".to_vec()));
        for (name, refs) in [
            (&b"Cert"[..], &vri_refs[0]),
            (b"OCSP", &vri_refs[1]),
            (b"CRL", &vri_refs[2]),
        ] {
            if !refs.is_empty() {
                entry.set(name, Object::Array(refs.clone()));
            }
        }
        vri.set(key.as_bytes(), Object::Dict(entry));
    }
    if !vri.0.is_empty() {
        dss.set(b"VRI", Object::Dict(vri));
    }
    let dss_n = update.add(&Object::Dict(dss));
    let mut new_catalog = catalog.clone();
    new_catalog.set(b"DSS", Object::Ref(dss_n, 0));
    update.put(catalog_n, catalog_gen, &Object::Dict(new_catalog));
    let needs_newline = !matches!(pdf.last(), Some(b'\n' | b'\r'));
    let base = pdf.len() + usize::from(needs_newline);
    let mut out = pdf.to_vec();
    if needs_newline {
        out.push(b'\n');
    }
    out.extend(update.serialize(&doc, base));
    Ok(out)
}

fn sha1(data: &[u8]) -> Vec<u8> {
    crate::pki::algorithm::Hash::Sha1.digest_parts(&[data])
}

/// The `/Contents` of every signature and document timestamp of `doc`, in file order.
pub fn signature_contents(doc: &Document<'_>) -> Vec<Vec<u8>> {
    let mut found: Vec<(i64, Vec<u8>)> = Vec::new();
    for n in doc.xref.keys().copied().take(1_000_000) {
        let Ok(object) = doc.object(n) else {
            continue;
        };
        let Some(dict) = object.as_dict() else {
            continue;
        };
        let Some(range) = dict.get(b"ByteRange").and_then(Object::as_array) else {
            continue;
        };
        let end = range
            .get(2)
            .and_then(Object::as_int)
            .zip(range.get(3).and_then(Object::as_int))
            .map(|(a, b)| a.saturating_add(b))
            .unwrap_or(0);
        if let Some(contents) = dict.get(b"Contents").and_then(Object::as_string) {
            if contents.iter().any(|b| *b != 0) {
                found.push((end, contents.to_vec()));
            }
        }
    }
    found.sort_by_key(|(end, _)| *end);
    found.into_iter().map(|(_, c)| c).collect()
}

/// SHA-256 of the evidence, for logs.
pub fn describe(data: &ValidationData) -> String {
    let mut h = sha2::Sha256::new();
    for item in data.certs.iter().chain(&data.ocsps).chain(&data.crls) {
        h.update(item);
    }
    format!(
        "{} certificates, {} OCSP responses, {} CRLs ({})",
        data.certs.len(),
        data.ocsps.len(),
        data.crls.len(),
        hex::encode(&h.finalize()[..8])
    )
}
