//! One certificate checked as a verifier must (`kyso cert verify`, and each signer, timestamp
//! authority and OCSP responder inside `kyso pdf verify`): a validated path, then the
//! revocation status of every certificate of it, as one report with letter 000's verdict.

use der::Decode;
use serde::Serialize;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::path::{self, CrlStatus, Inputs, Outcome, Purpose};
use super::revocation::{self, Fetch};
use super::{unix_seconds, Finding, Reason, Verdict};
use crate::certificate::iso8601;

/// How revocation is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationMode {
    /// The path only (CRLs given are still applied).
    Off,
    /// Every certificate of the path needs a status, from the evidence given only: nothing is
    /// fetched (air-gapped receiving machines).
    Offline,
    /// Every certificate of the path needs a status: evidence given first, then OCSP from the
    /// AIA, else the CRL from the CDP, over the network.
    Online,
}

/// What to check.
pub struct Request<'a> {
    /// The certificate.
    pub certificate: &'a Certificate,
    /// Trusted roots.
    pub anchors: &'a [Certificate],
    /// Untrusted certificates that may complete the path.
    pub intermediates: &'a [Certificate],
    /// CRLs at hand (files, the DSS, the CMS).
    pub crls: &'a [CertificateList],
    /// OCSP responses at hand (DER OCSPResponse).
    pub ocsp: &'a [Vec<u8>],
    /// The validation time, seconds since the epoch.
    pub at: u64,
    /// What the certificate must be usable for.
    pub purpose: Purpose,
    /// How revocation is established.
    pub revocation: RevocationMode,
    /// Whether `at` is proven (a verified timestamp, or a time the caller states). A
    /// certificate revoked after an unproven (claimed) signing time may have signed after its
    /// revocation with a backdated claim: validity unknown, not valid.
    pub time_proven: bool,
}

/// One certificate of the path, as the report shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathEntry {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// Start of validity (ISO 8601, UTC).
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
    /// Revocation status: `good`, `revokedLater`, `notChecked`, `anchor`.
    pub status: &'static str,
    /// Where the status came from (`crl`, `ocsp`), when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

/// The result.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Letter 000's verdict.
    pub verdict: Verdict,
    /// Why, when not valid; notes (revoked after the validation time) when valid.
    pub reasons: Vec<Finding>,
    /// The validation time (ISO 8601, UTC).
    pub validation_time: String,
    /// The validated path, end certificate first (empty when none was found).
    pub path: Vec<PathEntry>,
}

impl Report {
    /// Exit status of `kyso cert verify`: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }
}

fn failed(finding: Finding, at: u64) -> Report {
    let verdict = if finding.code.is_proof_of_invalidity() {
        Verdict::Invalid
    } else {
        Verdict::Unknown
    };
    Report {
        verdict,
        reasons: vec![finding],
        validation_time: iso8601(at),
        path: Vec::new(),
    }
}

/// Checks one certificate.
pub fn check(request: &Request<'_>, fetch: &dyn Fetch) -> Report {
    let mut crls: Vec<CertificateList> = request.crls.to_vec();
    let inputs = |crls: &[CertificateList]| -> Outcome {
        path::validate(
            request.certificate,
            &Inputs {
                anchors: request.anchors,
                intermediates: request.intermediates,
                crls,
                at: request.at,
                purpose: request.purpose,
            },
        )
    };
    let valid = match inputs(&crls) {
        Outcome::Valid(p) => p,
        Outcome::Failed(f) => return failed(f, request.at),
    };
    let mut report = Report {
        verdict: Verdict::Valid,
        reasons: Vec::new(),
        validation_time: iso8601(request.at),
        path: Vec::new(),
    };
    // What is fetched here only decides; `pades::dss::gather` collects evidence to keep.
    let mut fetched = revocation::Evidence::default();
    let certs = &valid.certificates;
    let mut statuses: Vec<(CrlStatus, Option<&'static str>)> = valid
        .crl_status
        .iter()
        .map(|s| (*s, (*s != CrlStatus::NotChecked).then_some("crl")))
        .collect();
    if request.revocation != RevocationMode::Off {
        for i in 0..statuses.len() {
            if statuses[i].0 != CrlStatus::NotChecked {
                continue;
            }
            let (cert, issuer) = (&certs[i], &certs[i + 1]);
            let found = revocation::status(
                cert,
                issuer,
                request.ocsp,
                request.at,
                (request.revocation == RevocationMode::Online).then_some(fetch),
                &mut fetched,
            );
            match found {
                Ok(revocation::Found::Ocsp {
                    status: revocation::CertStatus::Good,
                    ..
                }) => {
                    statuses[i] = (CrlStatus::Good, Some("ocsp"));
                }
                Ok(revocation::Found::Ocsp {
                    status: revocation::CertStatus::Revoked { since },
                    ..
                }) => {
                    if since <= request.at {
                        return failed(
                            Finding::new(
                                Reason::Revoked,
                                format!(
                                    "{} revoked {} (OCSP)",
                                    cert.tbs_certificate.subject,
                                    iso8601(since)
                                ),
                            ),
                            request.at,
                        );
                    }
                    statuses[i] = (CrlStatus::RevokedLater { since }, Some("ocsp"));
                }
                Ok(revocation::Found::Crl(crl)) => {
                    crls.push(*crl);
                    // Re-validate with the new CRL: the same checks decide what it proves.
                    match inputs(&crls) {
                        Outcome::Valid(p) => {
                            statuses[i] = (
                                p.crl_status
                                    .get(i)
                                    .copied()
                                    .unwrap_or(CrlStatus::NotChecked),
                                Some("crl"),
                            );
                        }
                        Outcome::Failed(f) => return failed(f, request.at),
                    }
                }
                Err(finding) => {
                    report.verdict = Verdict::Unknown;
                    report.reasons.push(finding);
                }
            }
        }
    }
    for (i, cert) in certs.iter().enumerate() {
        let (status, source) = statuses
            .get(i)
            .copied()
            .unwrap_or((CrlStatus::NotChecked, None));
        let status_text = match (i + 1 == certs.len(), status) {
            (true, _) => "anchor",
            (false, CrlStatus::Good) => "good",
            (false, CrlStatus::RevokedLater { since }) => {
                let subject = &cert.tbs_certificate.subject;
                if request.time_proven {
                    report.reasons.push(Finding::new(
                        Reason::RevokedLater,
                        format!(
                            "{subject} was revoked {}, after the proven signing time",
                            iso8601(since)
                        ),
                    ));
                } else {
                    report.verdict = Verdict::Unknown;
                    report.reasons.push(Finding::new(
                        Reason::RevokedAfterClaimedTime,
                        format!(
                            "{subject} was revoked {}, after a signing time that no timestamp proves",
                            iso8601(since)
                        ),
                    ));
                }
                "revokedLater"
            }
            (false, CrlStatus::NotChecked) => "notChecked",
        };
        report.path.push(entry(cert, status_text, source));
    }
    report
}

fn entry(cert: &Certificate, status: &'static str, source: Option<&'static str>) -> PathEntry {
    let tbs = &cert.tbs_certificate;
    PathEntry {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        serial: hex::encode_upper(tbs.serial_number.as_bytes()),
        not_before: iso8601(unix_seconds(&tbs.validity.not_before)),
        not_after: iso8601(unix_seconds(&tbs.validity.not_after)),
        status,
        source,
    }
}

/// Parses DER certificates, skipping none: a certificate that does not parse is an error.
///
/// # Errors
/// The index and the decoder's message.
pub fn parse_certificates(ders: &[Vec<u8>]) -> Result<Vec<Certificate>, String> {
    ders.iter()
        .enumerate()
        .map(|(i, d)| Certificate::from_der(d).map_err(|e| format!("certificate {}: {e}", i + 1)))
        .collect()
}

impl Report {
    /// The report as a person reads it: Vietnamese first (or English alone with `en`).
    pub fn render(&self, subject: &str, en: bool) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        use crate::i18n::{both, text, Lang};
        let pick = |id: &str| {
            if en {
                text(Lang::En, id)
            } else {
                both(id, &[])
            }
        };
        let en_label = self.verdict.label(Lang::En);
        let _ = writeln!(out, "{}: {subject}", pick("label-certificate"));
        let _ = writeln!(
            out,
            "{}: {}",
            pick("label-verdict"),
            if en {
                en_label.to_uppercase()
            } else {
                format!(
                    "{} ({en_label})",
                    self.verdict.label(Lang::Vi).to_uppercase()
                )
            }
        );
        let _ = writeln!(
            out,
            "{}: {}",
            pick("label-validation-time"),
            self.validation_time
        );
        for reason in &self.reasons {
            let id = crate::i18n::code_id("reason", &reason.code.code());
            let _ = writeln!(
                out,
                "  - {} [{:?}] {}",
                pick(&id),
                reason.code,
                reason.detail
            );
        }
        if !self.path.is_empty() {
            let _ = writeln!(out, "{}:", pick("label-path"));
            for (i, p) in self.path.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {}. {} ({} {} → {}; {})",
                    i + 1,
                    p.subject,
                    p.serial,
                    p.not_before,
                    p.not_after,
                    p.status
                );
            }
        }
        out
    }
}
