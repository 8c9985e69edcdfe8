//! RFC 5280 §6.1 certification path building and validation for the document-signing profile.
//!
//! Path building is a bounded depth-first search from the end certificate up to a trust
//! anchor, over the anchors and the untrusted intermediates (the CMS's certificates, the DSS,
//! `--intermediate` files): candidates are matched by name and, when both sides carry them, by
//! authority/subject key identifier, and their signature is checked before the search goes
//! deeper. A certificate never appears twice in a path (cycles), paths are at most
//! [`MAX_PATH_LEN`] long, and the whole search costs at most [`SIGNATURE_BUDGET`] signature
//! checks. Each complete path is then validated; the first that passes wins, else the most
//! telling failure is reported.
//!
//! Trust anchors are certificates and are checked like the others (validity, basic
//! constraints, critical extensions): an expired root anchors nothing.

use std::collections::HashSet;

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage,
    KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::Certificate;

use super::algorithm::verify_signature;
use super::crl::{self, Status};
use super::names::{self, COMPARISON_BUDGET};
use super::{unix_seconds, Finding, Reason};

/// The longest path, end certificate and anchor included.
pub const MAX_PATH_LEN: usize = 10;
/// The most signature checks one path search may make.
pub const SIGNATURE_BUDGET: usize = 256;

const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_SAN: &str = "2.5.29.17";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
const OID_CERT_POLICIES: &str = "2.5.29.32";
const OID_CRL_DP: &str = "2.5.29.31";
const OID_AKI: &str = "2.5.29.35";
const OID_SKI: &str = "2.5.29.14";
const OID_POLICY_CONSTRAINTS: &str = "2.5.29.36";
const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";
const OID_KP_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
const OID_KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
const OID_ANY_EKU: &str = "2.5.29.37.0";

/// What the end certificate is to be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// No restriction on the end certificate's key usage (`kyso cert verify` by default: the
    /// path alone).
    Any,
    /// A document signer (CMS/PAdES): digitalSignature or nonRepudiation when key usage is
    /// present. The extended key usage is not restricted: Vietnamese CAs put clientAuth and
    /// emailProtection there.
    DocumentSigning,
    /// An RFC 3161 timestamping authority: id-kp-timeStamping required.
    Timestamping,
    /// A delegated OCSP responder: id-kp-OCSPSigning required.
    OcspSigning,
}

/// Everything a path validation reads.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The trusted roots (and any certificate IT chose to trust directly).
    pub anchors: &'a [Certificate],
    /// Untrusted certificates that may complete a path.
    pub intermediates: &'a [Certificate],
    /// CRLs to apply: a certificate on a valid one is revoked; an invalid one that names the
    /// issuer makes the status unknown.
    pub crls: &'a [CertificateList],
    /// The validation time, seconds since the epoch.
    pub at: u64,
    /// What the end certificate must be usable for.
    pub purpose: Purpose,
}

/// What the CRLs given said of one certificate of a valid path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlStatus {
    /// No CRL for it among the inputs.
    NotChecked,
    /// Not revoked at the validation time.
    Good,
    /// Revoked, but only after the validation time (valid at signing time, with a note).
    RevokedLater {
        /// The revocation date.
        since: u64,
    },
}

/// A validated path: the end certificate first, the trust anchor last.
#[derive(Clone, Debug)]
pub struct ValidPath {
    /// The certificates.
    pub certificates: Vec<Certificate>,
    /// The CRL status of each certificate but the anchor, in the same order.
    pub crl_status: Vec<CrlStatus>,
}

/// The result of a path validation.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A path to a trust anchor passed every check.
    Valid(ValidPath),
    /// Proven not valid (see [`Reason::is_proof_of_invalidity`]), or not provable.
    Failed(Finding),
}

/// Builds and validates a path from `leaf` to one of `inputs.anchors`.
pub fn validate(leaf: &Certificate, inputs: &Inputs<'_>) -> Outcome {
    let mut search = Search {
        inputs,
        signatures_left: SIGNATURE_BUDGET,
        failure: None,
        found: None,
    };
    if inputs.anchors.iter().any(|a| a == leaf) {
        search.complete(&[leaf]);
    } else {
        let mut path = vec![leaf];
        search.extend(&mut path);
    }
    match (search.found, search.failure) {
        (Some(path), _) => Outcome::Valid(path),
        (None, Some(failure)) => Outcome::Failed(failure),
        (None, None) => Outcome::Failed(Finding::new(
            Reason::NoTrustedPath,
            format!(
                "no issuer of {} among the trusted roots and the certificates given",
                leaf.tbs_certificate.subject
            ),
        )),
    }
}

struct Search<'i, 'a> {
    inputs: &'i Inputs<'a>,
    signatures_left: usize,
    /// The most telling failure so far: a complete path that failed a check beats "no path".
    failure: Option<Finding>,
    found: Option<ValidPath>,
}

impl<'a> Search<'_, 'a> {
    fn note(&mut self, finding: Finding) {
        let rank = |f: &Finding| match f.code {
            Reason::NoTrustedPath => 0,
            Reason::PathBuildingLimit | Reason::UnsupportedAlgorithm => 1,
            _ => 2,
        };
        if self
            .failure
            .as_ref()
            .is_none_or(|f| rank(&finding) > rank(f))
        {
            self.failure = Some(finding);
        }
    }

    /// Extends `path` (non-empty, its last certificate not yet anchored) towards an anchor.
    fn extend(&mut self, path: &mut Vec<&'a Certificate>) {
        let Some(current) = path.last().copied() else {
            return;
        };
        let candidates = self
            .inputs
            .anchors
            .iter()
            .map(|c| (c, true))
            .chain(self.inputs.intermediates.iter().map(|c| (c, false)));
        for (candidate, is_anchor) in candidates {
            if self.found.is_some() {
                return;
            }
            if !may_have_issued(candidate, current) {
                continue;
            }
            if !is_anchor && path.iter().any(|c| same_entity(c, candidate)) {
                continue;
            }
            if self.signatures_left == 0 {
                self.note(Finding::new(
                    Reason::PathBuildingLimit,
                    "too many candidate issuers",
                ));
                return;
            }
            self.signatures_left -= 1;
            match signed_by(current, candidate) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(finding) => {
                    self.note(finding);
                    continue;
                }
            }
            path.push(candidate);
            if is_anchor {
                if path.len() <= MAX_PATH_LEN {
                    let complete = path.clone();
                    self.complete(&complete);
                } else {
                    self.note(Finding::new(Reason::PathBuildingLimit, "path too long"));
                }
            } else if path.len() < MAX_PATH_LEN {
                self.extend(path);
            } else {
                self.note(Finding::new(Reason::PathBuildingLimit, "path too long"));
            }
            path.pop();
        }
    }

    fn complete(&mut self, path: &[&Certificate]) {
        match check_path(path, self.inputs) {
            Ok(found) => self.found = Some(found),
            Err(finding) => self.note(finding),
        }
    }
}

/// Name chaining, with key identifiers when both certificates carry them.
fn may_have_issued(issuer: &Certificate, child: &Certificate) -> bool {
    if issuer.tbs_certificate.subject != child.tbs_certificate.issuer {
        return false;
    }
    let aki = extension(child, OID_AKI)
        .and_then(|e| AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
        .and_then(|a| a.key_identifier);
    let ski = extension(issuer, OID_SKI)
        .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok());
    match (aki, ski) {
        (Some(a), Some(s)) => a == s.0,
        _ => true,
    }
}

/// The same certificate, or the same subject with the same key (a cross-certificate loop).
fn same_entity(a: &Certificate, b: &Certificate) -> bool {
    a == b
        || (a.tbs_certificate.subject == b.tbs_certificate.subject
            && a.tbs_certificate.subject_public_key_info
                == b.tbs_certificate.subject_public_key_info)
}

/// Whether `issuer`'s key verifies `child`'s signature.
pub(crate) fn signed_by(child: &Certificate, issuer: &Certificate) -> Result<bool, Finding> {
    let tbs = child
        .tbs_certificate
        .to_der()
        .map_err(|e| Finding::new(Reason::MalformedCertificate, e.to_string()))?;
    let Some(signature) = child.signature.as_bytes() else {
        return Ok(false);
    };
    verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        &child.signature_algorithm,
        None,
        &tbs,
        signature,
    )
    .map_err(|e| Finding::new(Reason::UnsupportedAlgorithm, e.to_string()))
}

fn extension<'c>(cert: &'c Certificate, oid: &str) -> Option<&'c x509_cert::ext::Extension> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == oid)
}

/// What one certificate says of itself, decoded once.
struct Profile {
    basic: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    ext_key_usage: Option<ExtendedKeyUsage>,
    name_constraints: Option<x509_cert::ext::pkix::NameConstraints>,
    self_issued: bool,
}

/// Decodes the extensions RFC 5280 path validation needs and refuses what it forbids:
/// duplicates, unknown critical extensions, critical key identifiers or AIA, a non-critical
/// policy constraint, a malformed known extension.
fn profile(cert: &Certificate) -> Result<Profile, Finding> {
    let tbs = &cert.tbs_certificate;
    let subject = tbs.subject.to_string();
    let malformed =
        |what: String| Finding::new(Reason::MalformedCertificate, format!("{what} ({subject})"));
    if cert.signature_algorithm != tbs.signature {
        return Err(malformed(
            "outer and inner signature algorithms differ".into(),
        ));
    }
    if tbs.issuer.0.is_empty() {
        return Err(malformed("empty issuer".into()));
    }
    let mut seen = HashSet::new();
    let mut p = Profile {
        basic: None,
        key_usage: None,
        ext_key_usage: None,
        name_constraints: None,
        self_issued: tbs.subject == tbs.issuer,
    };
    for ext in tbs.extensions.iter().flatten() {
        let oid = ext.extn_id.to_string();
        if !seen.insert(oid.clone()) {
            return Err(malformed(format!("extension {oid} appears twice")));
        }
        let value = ext.extn_value.as_bytes();
        let decode_err = |e: der::Error| malformed(format!("extension {oid}: {e}"));
        match oid.as_str() {
            OID_BASIC_CONSTRAINTS => {
                p.basic = Some(BasicConstraints::from_der(value).map_err(decode_err)?)
            }
            OID_KEY_USAGE => p.key_usage = Some(KeyUsage::from_der(value).map_err(decode_err)?),
            OID_EXT_KEY_USAGE => {
                p.ext_key_usage = Some(ExtendedKeyUsage::from_der(value).map_err(decode_err)?)
            }
            OID_NAME_CONSTRAINTS => p.name_constraints = Some(names::decode(value)?),
            OID_AKI | OID_SKI | OID_AIA if ext.critical => {
                return Err(malformed(format!("extension {oid} must not be critical")))
            }
            OID_AIA => {
                AuthorityInfoAccessSyntax::from_der(value).map_err(decode_err)?;
            }
            OID_POLICY_CONSTRAINTS if !ext.critical => {
                return Err(malformed("policy constraints must be critical".into()))
            }
            OID_SAN | OID_CERT_POLICIES | OID_CRL_DP | OID_AKI | OID_SKI => {}
            _ if ext.critical => {
                return Err(Finding::new(
                    Reason::UnknownCriticalExtension,
                    format!("{oid} ({subject})"),
                ))
            }
            _ => {}
        }
    }
    if p.basic.as_ref().is_some_and(|b| b.ca) && tbs.subject.0.is_empty() {
        return Err(malformed("CA with an empty subject".into()));
    }
    Ok(p)
}

fn check_path(path: &[&Certificate], inputs: &Inputs<'_>) -> Result<ValidPath, Finding> {
    let profiles = path
        .iter()
        .map(|c| profile(c))
        .collect::<Result<Vec<_>, _>>()?;
    for cert in &path[..path.len().saturating_sub(1)] {
        // Extensions, and so basic constraints and key usage, need v3; old roots may be v1.
        if cert.tbs_certificate.version != x509_cert::certificate::Version::V3 {
            return Err(Finding::new(
                Reason::MalformedCertificate,
                format!(
                    "{} is not a version 3 certificate",
                    cert.tbs_certificate.subject
                ),
            ));
        }
    }
    for cert in path {
        let validity = &cert.tbs_certificate.validity;
        let subject = &cert.tbs_certificate.subject;
        let not_before = unix_seconds(&validity.not_before);
        let not_after = unix_seconds(&validity.not_after);
        if inputs.at < not_before {
            return Err(Finding::new(
                Reason::NotYetValid,
                format!(
                    "{subject} valid from {}",
                    crate::certificate::iso8601(not_before)
                ),
            ));
        }
        if inputs.at > not_after {
            return Err(Finding::new(
                Reason::Expired,
                format!(
                    "{subject} expired {}",
                    crate::certificate::iso8601(not_after)
                ),
            ));
        }
    }
    // Issuers: CAs allowed to sign certificates, within their path length.
    for (i, (cert, p)) in path.iter().zip(&profiles).enumerate() {
        let subject = &cert.tbs_certificate.subject;
        let is_ca = p.basic.as_ref().is_some_and(|b| b.ca);
        let cert_sign = p.key_usage.as_ref().map(KeyUsage::key_cert_sign);
        if cert_sign == Some(true) && !is_ca {
            return Err(Finding::new(
                Reason::KeyUsage,
                format!("{subject}: keyCertSign without cA"),
            ));
        }
        if i == 0 {
            if p.name_constraints.is_some() && !is_ca {
                return Err(Finding::new(
                    Reason::MalformedCertificate,
                    format!("{subject}: name constraints in an end certificate"),
                ));
            }
            continue;
        }
        if !is_ca {
            return Err(Finding::new(
                Reason::IssuerNotCa,
                format!("{subject} issued a certificate but is not a CA"),
            ));
        }
        if cert_sign == Some(false) {
            return Err(Finding::new(
                Reason::IssuerKeyUsage,
                format!("{subject} lacks keyCertSign"),
            ));
        }
        if let Some(limit) = p.basic.as_ref().and_then(|b| b.path_len_constraint) {
            let below = profiles[1..i].iter().filter(|q| !q.self_issued).count();
            if below > usize::from(limit) {
                return Err(Finding::new(
                    Reason::PathLength,
                    format!("{subject} allows {limit} intermediate(s), the path has {below}"),
                ));
            }
        }
    }
    // Name constraints of each CA apply to every certificate below it, except self-issued
    // intermediates.
    let mut budget = COMPARISON_BUDGET;
    for i in 1..path.len() {
        let Some(nc) = &profiles[i].name_constraints else {
            continue;
        };
        for j in 0..i {
            if j > 0 && profiles[j].self_issued {
                continue;
            }
            names::check(path[j], nc, &mut budget)?;
        }
    }
    check_purpose(path[0], &profiles[0], inputs.purpose)?;
    // CRLs given as input.
    let mut crl_status = Vec::with_capacity(path.len().saturating_sub(1));
    for pair in path.windows(2) {
        let status = match crl::status(pair[0], pair[1], inputs.crls)? {
            None => CrlStatus::NotChecked,
            Some(Status::Good { .. }) => CrlStatus::Good,
            Some(Status::Revoked { since }) if since <= inputs.at => {
                return Err(Finding::new(
                    Reason::Revoked,
                    format!(
                        "{} revoked {}",
                        pair[0].tbs_certificate.subject,
                        crate::certificate::iso8601(since)
                    ),
                ))
            }
            Some(Status::Revoked { since }) => CrlStatus::RevokedLater { since },
        };
        crl_status.push(status);
    }
    Ok(ValidPath {
        certificates: path.iter().map(|c| (*c).clone()).collect(),
        crl_status,
    })
}

fn check_purpose(leaf: &Certificate, p: &Profile, purpose: Purpose) -> Result<(), Finding> {
    let subject = &leaf.tbs_certificate.subject;
    let eku_has = |oid: &str| {
        p.ext_key_usage.as_ref().is_some_and(|e| {
            e.0.iter()
                .any(|o| o.to_string() == oid || o.to_string() == OID_ANY_EKU)
        })
    };
    let ok = match purpose {
        Purpose::Any => true,
        Purpose::DocumentSigning => p
            .key_usage
            .as_ref()
            .is_none_or(|ku| ku.digital_signature() || ku.non_repudiation()),
        Purpose::Timestamping => eku_has(OID_KP_TIME_STAMPING),
        Purpose::OcspSigning => eku_has(OID_KP_OCSP_SIGNING),
    };
    if ok {
        Ok(())
    } else {
        Err(Finding::new(
            Reason::KeyUsage,
            format!("{subject} may not be used for {purpose:?}"),
        ))
    }
}
