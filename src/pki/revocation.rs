//! Revocation status (RFC 6960 OCSP, RFC 5280 CRLs) of one certificate: evidence at hand first
//! (the document's DSS, the CMS, files), else OCSP from the certificate's AIA, else the CRL from
//! its CDP, fetched through a [`Fetch`] (HTTP or HTTPS, proxy from the environment, 5 s, size
//! limit). Every OCSP response is verified: its signature, a responder that is the CA itself
//! or delegated by it (id-kp-OCSPSigning, issued by the CA), the certificate id, the nonce when
//! one was sent, and that it speaks for the validation time.

use std::sync::Mutex;
use std::time::Duration;

use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, ResponderId,
    TbsRequest, Version,
};

use super::algorithm::{verify_signature, Hash};
use super::path::{self, Inputs, Outcome, Purpose};
use super::{unix_seconds, Finding, Reason};

const OID_AIA_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_AIA_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
const OID_CDP: &str = "2.5.29.31";
const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";
const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const OID_OCSP_NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
const OID_SHA1: &str = "1.3.14.3.2.26";

/// The largest OCSP response or CRL Kyso reads from the network.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Network time-out for one OCSP or CRL request.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on an OCSP response's thisUpdate.
const SKEW: u64 = 300;

/// How revocation data is fetched: HTTP in production, anything in tests.
pub trait Fetch: Sync {
    /// GET `url`.
    ///
    /// # Errors
    /// A message naming the URL.
    fn get(&self, url: &str) -> Result<Vec<u8>, String>;
    /// POST `body` with `content_type` to `url`.
    ///
    /// # Errors
    /// A message naming the URL.
    fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<Vec<u8>, String>;
}

/// HTTP and HTTPS (rustls, TLS 1.2 and 1.3) with a 5 s time-out, a size limit, the proxy from
/// the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`) and a cache of CRLs by URL.
/// HTTPS servers are checked against Mozilla's roots, or against the PEM bundle that
/// `SSL_CERT_FILE` names (an agency whose TSA or OCSP server uses the national root).
pub struct HttpFetch {
    agent: ureq::Agent,
    cache: Mutex<Vec<(String, Vec<u8>, u64)>>,
}

impl Default for HttpFetch {
    fn default() -> Self {
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .proxy(ureq::Proxy::try_from_env())
            .http_status_as_error(true);
        if let Some(roots) = bundle_roots() {
            builder = builder.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        let config = builder.build();
        Self {
            agent: config.into(),
            cache: Mutex::new(Vec::new()),
        }
    }
}

/// The certificates of the `SSL_CERT_FILE` bundle, when it names a readable one.
/// Read once per process: the bridge makes a client per request, and a system bundle holds
/// a hundred and more certificates.
fn bundle_roots() -> Option<ureq::tls::RootCerts> {
    static ROOTS: std::sync::OnceLock<Option<ureq::tls::RootCerts>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let path = std::env::var_os("SSL_CERT_FILE")?;
            let data = std::fs::read(&path)
                .map_err(|e| tracing::warn!(error = %e, "SSL_CERT_FILE is not readable"))
                .ok()?;
            let certs: Vec<_> = crate::certificate::read_pem_or_der(&data)
                .ok()?
                .into_iter()
                .map(|der| ureq::tls::Certificate::from_der(&der).to_owned())
                .collect();
            (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
        })
        .clone()
}

impl HttpFetch {
    fn read(
        url: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, String> {
        let mut response = response.map_err(|e| format!("{url}: {e}"))?;
        response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"))
    }
}

impl Fetch for HttpFetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let now = crate::certificate::unix_now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((_, body, _)) = cache.iter().find(|(u, _, until)| u == url && *until >= now)
            {
                return Ok(body.clone());
            }
        }
        let body = Self::read(url, self.agent.get(url).call())?;
        // Cache a CRL until its nextUpdate (an hour when it states none).
        let until = CertificateList::from_der(&body)
            .ok()
            .and_then(|c| c.tbs_cert_list.next_update.map(|t| unix_seconds(&t)))
            .unwrap_or(now + 3600);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(u, _, until)| u != url && *until >= now);
            cache.push((url.to_string(), body.clone(), until));
        }
        Ok(body)
    }

    fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        Self::read(
            url,
            self.agent
                .post(url)
                .header("Content-Type", content_type)
                .send(body),
        )
    }
}

/// A [`Fetch`] that refuses: `--offline`, `offline = true`.
pub struct NoFetch;

impl Fetch for NoFetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("{url}: offline"))
    }
    fn post(&self, url: &str, _: &str, _: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!("{url}: offline"))
    }
}

/// Revocation data gathered over the network, DER, to keep with a signature.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// OCSPResponse.
    pub ocsp: Vec<Vec<u8>>,
    /// CertificateList.
    pub crl: Vec<Vec<u8>>,
    /// Issuer certificates fetched from the AIA's caIssuers (a token that holds only the
    /// signer's certificate), to complete the chain sent with the signature.
    pub issuers: Vec<Vec<u8>>,
}

/// An OCSP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked.
    Good,
    /// Revoked since.
    Revoked {
        /// Revocation time.
        since: u64,
    },
}

/// Where a status was found.
#[derive(Debug)]
pub enum Found {
    /// A verified OCSP response.
    Ocsp {
        /// What it says.
        status: CertStatus,
        /// Until when it is current (its nextUpdate), when it says.
        next_update: Option<u64>,
    },
    /// A CRL of the issuer (to be checked by path validation, which decides what it proves).
    Crl(Box<CertificateList>),
}

/// The status of `cert`, issued by `issuer`: OCSP responses at hand, then (with `fetch`)
/// OCSP from the AIA, then the CDP's CRL. Fetched data is added to `evidence`.
///
/// # Errors
/// [`Reason::RevocationUnavailable`] with what was tried.
pub fn status(
    cert: &Certificate,
    issuer: &Certificate,
    at_hand: &[Vec<u8>],
    at: u64,
    fetch: Option<&dyn Fetch>,
    evidence: &mut Evidence,
) -> Result<Found, Finding> {
    let mut tried = Vec::new();
    for response in at_hand {
        match check_response(response, cert, issuer, None, at) {
            Ok((status, next_update)) => {
                return Ok(Found::Ocsp {
                    status,
                    next_update,
                })
            }
            Err(Some(why)) => tried.push(why),
            Err(None) => {}
        }
    }
    let Some(fetch) = fetch else {
        tried.push("offline: nothing fetched".into());
        return Err(unavailable(cert, &tried));
    };
    for url in ocsp_urls(cert) {
        let nonce = fresh_nonce();
        let request = match build_request(cert, issuer, &nonce) {
            Ok(r) => r,
            Err(e) => {
                tried.push(e);
                continue;
            }
        };
        match fetch.post(&url, "application/ocsp-request", &request) {
            Ok(body) => match check_response(&body, cert, issuer, Some(&nonce), at) {
                Ok((status, next_update)) => {
                    evidence.ocsp.push(body);
                    return Ok(Found::Ocsp {
                        status,
                        next_update,
                    });
                }
                Err(why) => tried.push(format!(
                    "{url}: {}",
                    why.unwrap_or_else(|| "no answer for this certificate".into())
                )),
            },
            Err(e) => tried.push(e),
        }
    }
    for url in crl_urls(cert) {
        match fetch.get(&url) {
            Ok(body) => match CertificateList::from_der(&body) {
                Ok(crl) if crl.tbs_cert_list.issuer == cert.tbs_certificate.issuer => {
                    evidence.crl.push(body);
                    return Ok(Found::Crl(Box::new(crl)));
                }
                Ok(_) => tried.push(format!("{url}: a CRL of another issuer")),
                Err(e) => tried.push(format!("{url}: not a CRL ({e})")),
            },
            Err(e) => tried.push(e),
        }
    }
    if tried.is_empty() {
        tried.push("the certificate names no OCSP responder and no CRL".into());
    }
    Err(unavailable(cert, &tried))
}

/// What the revocation data says of a whole chain, as a signer needs it before signing.
#[derive(Clone, Debug)]
pub enum ChainVerdict {
    /// Every certificate below the root has a status, and none is revoked.
    Good,
    /// A certificate of the chain is revoked (the finding names which and since when).
    Revoked(Finding),
    /// Some status could not be established (nothing revoked was seen).
    Unknown(Vec<Finding>),
}

/// The status of a chain and the evidence that shows it.
#[derive(Clone, Debug)]
pub struct ChainStatus {
    /// The verdict.
    pub verdict: ChainVerdict,
    /// The OCSP responses and CRLs fetched, to keep with the signature.
    pub evidence: Evidence,
    /// Until when every status stays current (the earliest nextUpdate), when all say.
    pub fresh_until: Option<u64>,
}

/// Orders `pool` into the chain of `leaf`, leaf first, issuer by issuer (signature checked),
/// up to a self-issued certificate or one whose issuer is not in the pool (at most 10).
pub fn chain_of(leaf: &Certificate, pool: &[Certificate]) -> Vec<Certificate> {
    let mut chain = vec![leaf.clone()];
    while let Some(current) = chain.last() {
        let tbs = &current.tbs_certificate;
        if tbs.issuer == tbs.subject || chain.len() >= 10 {
            break;
        }
        let Some(issuer) = pool.iter().find(|c| {
            c.tbs_certificate.subject == tbs.issuer
                && !chain.contains(c)
                && path::signed_by(current, c).unwrap_or(false)
        }) else {
            break;
        };
        chain.push(issuer.clone());
    }
    chain
}

/// The revocation status at `at` of every certificate of `chain` (leaf first, as
/// [`chain_of`] orders it) but a self-issued root: OCSP from each AIA, else the CDP's CRL,
/// through `fetch`. A missing issuer is fetched from the AIA's caIssuers (kept in the
/// evidence); a certificate whose issuer cannot be had has no provable status.
pub fn chain_status(chain: &[Certificate], at: u64, fetch: &dyn Fetch) -> ChainStatus {
    let mut chain = chain.to_vec();
    let mut evidence = Evidence::default();
    let mut unknown = Vec::new();
    let mut fresh_until: Option<u64> = None;
    let mut fresh = |until: Option<u64>, all: &mut bool| match until {
        Some(t) => fresh_until = Some(fresh_until.map_or(t, |f| f.min(t))),
        None => *all = false,
    };
    let mut all_fresh = true;
    let mut i = 0;
    while i < chain.len().min(10) {
        let cert = chain[i].clone();
        i += 1;
        let tbs = &cert.tbs_certificate;
        if tbs.issuer == tbs.subject {
            break;
        }
        if chain.len() == i {
            if let Some((issuer, der)) = fetch_issuer(&cert, fetch) {
                chain.push(issuer);
                evidence.issuers.push(der);
            }
        }
        let Some(issuer) = chain.get(i) else {
            unknown.push(Finding::new(
                Reason::RevocationUnavailable,
                format!("{}: its issuer's certificate is not known", tbs.subject),
            ));
            break;
        };
        let revoked = |since: u64, source: &str| {
            Finding::new(
                Reason::Revoked,
                format!(
                    "{} revoked {} ({source})",
                    tbs.subject,
                    crate::certificate::iso8601(since)
                ),
            )
        };
        match status(&cert, issuer, &[], at, Some(fetch), &mut evidence) {
            Ok(Found::Ocsp {
                status: CertStatus::Revoked { since },
                ..
            }) if since <= at => {
                return ChainStatus {
                    verdict: ChainVerdict::Revoked(revoked(since, "OCSP")),
                    evidence,
                    fresh_until: None,
                }
            }
            Ok(Found::Ocsp { next_update, .. }) => fresh(next_update, &mut all_fresh),
            Ok(Found::Crl(crl)) => {
                match super::crl::status(&cert, issuer, std::slice::from_ref(&crl)) {
                    Ok(Some(super::crl::Status::Revoked { since })) if since <= at => {
                        return ChainStatus {
                            verdict: ChainVerdict::Revoked(revoked(since, "CRL")),
                            evidence,
                            fresh_until: None,
                        }
                    }
                    Ok(Some(super::crl::Status::Good { next_update, .. })) => {
                        fresh(next_update, &mut all_fresh);
                    }
                    Ok(Some(super::crl::Status::Revoked { .. })) => fresh(None, &mut all_fresh),
                    Ok(None) => unknown.push(Finding::new(
                        Reason::RevocationUnavailable,
                        format!("{}: the CRL does not name its issuer", tbs.subject),
                    )),
                    Err(finding) => unknown.push(finding),
                }
            }
            Err(finding) => unknown.push(finding),
        }
    }
    let verdict = if unknown.is_empty() {
        ChainVerdict::Good
    } else {
        ChainVerdict::Unknown(unknown)
    };
    ChainStatus {
        fresh_until: fresh_until.filter(|_| all_fresh && matches!(verdict, ChainVerdict::Good)),
        verdict,
        evidence,
    }
}

fn unavailable(cert: &Certificate, tried: &[String]) -> Finding {
    Finding::new(
        Reason::RevocationUnavailable,
        format!("{}: {}", cert.tbs_certificate.subject, tried.join("; ")),
    )
}

fn fresh_nonce() -> Vec<u8> {
    let mut nonce = vec![0u8; 16];
    let rng = ring::rand::SystemRandom::new();
    let _ = ring::rand::SecureRandom::fill(&rng, &mut nonce);
    nonce
}

/// OCSP responder URLs (http/https) from the AIA.
pub fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    aia_urls(cert, OID_AIA_OCSP)
}

fn aia_urls(cert: &Certificate, method: &str) -> Vec<String> {
    extension_value(cert, OID_AIA)
        .and_then(|v| AuthorityInfoAccessSyntax::from_der(v).ok())
        .map(|aia| {
            aia.0
                .into_iter()
                .filter(|a| a.access_method.to_string() == method)
                .filter_map(|a| uri(&a.access_location))
                .collect()
        })
        .unwrap_or_default()
}

/// The issuer certificate URLs (http/https) from the AIA (caIssuers).
pub fn ca_issuer_urls(cert: &Certificate) -> Vec<String> {
    aia_urls(cert, OID_AIA_CA_ISSUERS)
}

/// The issuer of `cert` from its AIA caIssuers: a DER or PEM certificate, or a certs-only
/// PKCS#7 bundle (`.p7c`), whichever holds a certificate whose key verifies `cert`.
fn fetch_issuer(cert: &Certificate, fetch: &dyn Fetch) -> Option<(Certificate, Vec<u8>)> {
    for url in ca_issuer_urls(cert) {
        let Ok(body) = fetch.get(&url) else {
            continue;
        };
        let mut candidates: Vec<Vec<u8>> =
            crate::certificate::read_pem_or_der(&body).unwrap_or_default();
        let bundle = cms::content_info::ContentInfo::from_der(&body)
            .and_then(|c| c.content.decode_as::<cms::signed_data::SignedData>());
        if let Ok(bundle) = bundle {
            candidates.extend(
                bundle
                    .certificates
                    .iter()
                    .flat_map(|set| set.0.iter())
                    .filter_map(|choice| match choice {
                        cms::cert::CertificateChoices::Certificate(c) => c.to_der().ok(),
                        _ => None,
                    }),
            );
        }
        for der in candidates.into_iter().take(16) {
            if let Ok(candidate) = Certificate::from_der(&der) {
                if candidate.tbs_certificate.subject == cert.tbs_certificate.issuer
                    && path::signed_by(cert, &candidate).unwrap_or(false)
                {
                    return Some((candidate, der));
                }
            }
        }
    }
    None
}

/// CRL URLs (http/https) from the CDP.
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    extension_value(cert, OID_CDP)
        .and_then(|v| CrlDistributionPoints::from_der(v).ok())
        .map(|cdp| {
            cdp.0
                .into_iter()
                .filter_map(|dp| match dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| uri(&n))
                .collect()
        })
        .unwrap_or_default()
}

fn uri(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(u) => {
            let u = u.to_string();
            (u.starts_with("http://") || u.starts_with("https://")).then_some(u)
        }
        _ => None,
    }
}

fn extension_value<'c>(cert: &'c Certificate, oid: &str) -> Option<&'c [u8]> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

fn cert_id(
    cert: &Certificate,
    issuer: &Certificate,
    hash: Hash,
    alg: spki::AlgorithmIdentifierOwned,
) -> Result<CertId, String> {
    let name = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: alg,
        issuer_name_hash: OctetString::new(hash.digest_parts(&[&name]))
            .map_err(|e| e.to_string())?,
        issuer_key_hash: OctetString::new(hash.digest_parts(&[key])).map_err(|e| e.to_string())?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

fn sha1_alg() -> spki::AlgorithmIdentifierOwned {
    spki::AlgorithmIdentifierOwned {
        oid: const_oid::ObjectIdentifier::new_unwrap(OID_SHA1),
        parameters: Some(der::Any::null()),
    }
}

/// A DER OCSPRequest for `cert` with a nonce (SHA-1 certificate id: what every responder
/// understands; it is an identifier, not a signature).
///
/// # Errors
/// An encoding error.
pub fn build_request(
    cert: &Certificate,
    issuer: &Certificate,
    nonce: &[u8],
) -> Result<Vec<u8>, String> {
    let id = cert_id(cert, issuer, Hash::Sha1, sha1_alg())?;
    let nonce_ext = x509_cert::ext::Extension {
        extn_id: const_oid::ObjectIdentifier::new_unwrap(OID_OCSP_NONCE),
        critical: false,
        extn_value: OctetString::new(
            OctetString::new(nonce.to_vec())
                .and_then(|o| o.to_der())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![nonce_ext]),
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| e.to_string())
}

/// Verifies a DER OCSPResponse for `cert`. `Err(None)`: the response is about other
/// certificates; `Err(Some(why))`: it is about this one (or unreadable) but proves nothing.
fn check_response(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    nonce: Option<&[u8]>,
    at: u64,
) -> Result<(CertStatus, Option<u64>), Option<String>> {
    let response =
        OcspResponse::from_der(der).map_err(|e| Some(format!("not an OCSP response ({e})")))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(Some(format!(
            "responder answered {:?}",
            response.response_status
        )));
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| Some("empty OCSP response".to_string()))?;
    if bytes.response_type.to_string() != OID_OCSP_BASIC {
        return Err(Some("not a basic OCSP response".into()));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| Some(format!("basic OCSP response: {e}")))?;
    let data = &basic.tbs_response_data;
    // Which single response is ours: match the id with the hash it was computed with.
    let single = data.responses.iter().find(|s| {
        Hash::from_oid(&s.cert_id.hash_algorithm.oid)
            .and_then(|h| cert_id(cert, issuer, h, s.cert_id.hash_algorithm.clone()).ok())
            .is_some_and(|id| {
                id.issuer_name_hash == s.cert_id.issuer_name_hash
                    && id.issuer_key_hash == s.cert_id.issuer_key_hash
                    && id.serial_number == s.cert_id.serial_number
            })
    });
    let Some(single) = single else {
        return Err(None);
    };
    // The responder: the CA itself, or a certificate the CA issued for OCSP signing.
    let signer = responder_certificate(&basic, issuer).map_err(Some)?;
    let tbs = data.to_der().map_err(|e| Some(e.to_string()))?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| Some("OCSP signature is not whole bytes".to_string()))?;
    match verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        &basic.signature_algorithm,
        None,
        &tbs,
        signature,
    ) {
        Ok(true) => {}
        Ok(false) => return Err(Some("OCSP response signature does not verify".into())),
        Err(e) => return Err(Some(e.to_string())),
    }
    if let Some(sent) = nonce {
        let echoed = data
            .response_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id.to_string() == OID_OCSP_NONCE)
            .map(|e| e.extn_value.as_bytes().to_vec());
        if let Some(echoed) = echoed {
            let expected = OctetString::new(sent.to_vec())
                .and_then(|o| o.to_der())
                .unwrap_or_default();
            if echoed != expected && echoed != sent {
                return Err(Some(
                    "OCSP nonce does not match (replayed response?)".into(),
                ));
            }
        }
    }
    let this_update = single.this_update.0.to_unix_duration().as_secs();
    let next_update = single.next_update.map(|t| t.0.to_unix_duration().as_secs());
    let now = crate::certificate::unix_now();
    if this_update > now + SKEW {
        return Err(Some("OCSP response from the future".into()));
    }
    // It speaks for the validation time when issued after it, or current at it.
    if this_update < at && next_update.is_some_and(|n| n < at) {
        return Err(Some("OCSP response too old for the validation time".into()));
    }
    match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => Ok((CertStatus::Good, next_update)),
        x509_ocsp::CertStatus::Revoked(info) => Ok((
            CertStatus::Revoked {
                since: info.revocation_time.0.to_unix_duration().as_secs(),
            },
            next_update,
        )),
        x509_ocsp::CertStatus::Unknown(_) => {
            Err(Some("the responder does not know the certificate".into()))
        }
    }
}

fn responder_certificate<'r>(
    basic: &'r BasicOcspResponse,
    issuer: &'r Certificate,
) -> Result<&'r Certificate, String> {
    let names = |cert: &Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByName(name) => *name == cert.tbs_certificate.subject,
        ResponderId::ByKey(hash) => {
            let key = cert
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes();
            hash.as_bytes() == Hash::Sha1.digest_parts(&[key]).as_slice()
        }
    };
    let names_issuer = names(issuer);
    if names_issuer {
        return Ok(issuer);
    }
    // Delegated: issued by the CA directly, id-kp-OCSPSigning, valid at the time it signed.
    let produced = basic
        .tbs_response_data
        .produced_at
        .0
        .to_unix_duration()
        .as_secs();
    for candidate in basic.certs.iter().flatten() {
        let names_it = names(candidate);
        if !names_it || candidate.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            continue;
        }
        let only_issuer = [issuer.clone()];
        let outcome = path::validate(
            candidate,
            &Inputs {
                anchors: &only_issuer,
                intermediates: &[],
                crls: &[],
                at: produced,
                purpose: Purpose::OcspSigning,
            },
        );
        match outcome {
            Outcome::Valid(_) => return Ok(candidate),
            Outcome::Failed(f) => return Err(format!("OCSP responder certificate: {f}")),
        }
    }
    Err("the OCSP responder is neither the CA nor delegated by it".into())
}
