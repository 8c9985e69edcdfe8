//! Certificate revocation lists (RFC 5280 §5, §6.3): whether a CRL may speak for an issuer, and
//! what it says of one certificate. Indirect and delta CRLs and partitioned CRLs (a critical
//! issuingDistributionPoint) are refused fail-closed: no Vietnamese CA publishes them.

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::Certificate;

use super::algorithm::verify_signature;
use super::{unix_seconds, Finding, Reason};

const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_AKI: &str = "2.5.29.35";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_INVALIDITY_DATE: &str = "2.5.29.24";
const OID_EXPIRED_CERTS_ON_CRL: &str = "2.5.29.60";

/// What the CRLs say of one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not listed on a valid CRL issued at `this_update` (valid until `next_update`).
    Good {
        /// When the CRL was issued.
        this_update: u64,
        /// When the next one is due, if stated.
        next_update: Option<u64>,
    },
    /// Listed as revoked since `since`.
    Revoked {
        /// The revocation date.
        since: u64,
    },
}

/// Parses a CRL from DER or PEM.
///
/// # Errors
/// A message when the bytes hold no CRL.
pub fn parse(data: &[u8]) -> Result<Vec<CertificateList>, String> {
    if let Ok(crl) = CertificateList::from_der(data) {
        return Ok(vec![crl]);
    }
    let text = std::str::from_utf8(data).map_err(|_| "not a DER or PEM CRL".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN X509 CRL-----") {
        let body_start = start + "-----BEGIN X509 CRL-----".len();
        let Some(end) = rest[body_start..].find("-----END X509 CRL-----") else {
            break;
        };
        let body: String = rest[body_start..body_start + end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("PEM CRL: {e}"))?;
        out.push(CertificateList::from_der(&der).map_err(|e| format!("CRL: {e}"))?);
        rest = &rest[body_start + end..];
    }
    if out.is_empty() {
        return Err("no CRL found (expected DER or PEM 'X509 CRL')".into());
    }
    Ok(out)
}

/// Whether `crl` is a valid CRL of `issuer`: same name, signed by its key, cRLSign allowed,
/// a non-critical CRL number, no critical extension Kyso does not process.
///
/// # Errors
/// [`Reason::CrlInvalid`] with what is wrong.
pub fn check_issued_by(crl: &CertificateList, issuer: &Certificate) -> Result<(), Finding> {
    let bad = |what: &str| {
        Finding::new(
            Reason::CrlInvalid,
            format!("CRL of {}: {what}", crl.tbs_cert_list.issuer),
        )
    };
    let tbs = &crl.tbs_cert_list;
    if tbs.signature != crl.signature_algorithm {
        return Err(bad("signature algorithm differs from the signed one"));
    }
    let signed = tbs.to_der().map_err(|_| bad("cannot re-encode"))?;
    let signature = crl
        .signature
        .as_bytes()
        .ok_or_else(|| bad("signature is not whole bytes"))?;
    match verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        &crl.signature_algorithm,
        None,
        &signed,
        signature,
    ) {
        Ok(true) => {}
        Ok(false) => return Err(bad("signature does not verify with the issuer's key")),
        Err(e) => return Err(bad(&e.to_string())),
    }
    let key_usage = issuer
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == OID_KEY_USAGE);
    if let Some(ext) = key_usage {
        let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
            .map_err(|_| bad("issuer key usage is malformed"))?;
        if !ku.crl_sign() {
            return Err(bad("the issuer's key may not sign CRLs (no cRLSign)"));
        }
    }
    let mut has_number = false;
    for ext in tbs.crl_extensions.iter().flatten() {
        match ext.extn_id.to_string().as_str() {
            OID_CRL_NUMBER if ext.critical => return Err(bad("critical CRL number")),
            OID_CRL_NUMBER => has_number = true,
            OID_AKI if !ext.critical => {}
            _ if ext.critical => {
                return Err(bad(&format!(
                    "critical extension {} is not processed",
                    ext.extn_id
                )))
            }
            _ => {}
        }
    }
    if !has_number {
        return Err(bad("no CRL number"));
    }
    for entry in tbs.revoked_certificates.iter().flatten() {
        for ext in entry.crl_entry_extensions.iter().flatten() {
            let known = matches!(
                ext.extn_id.to_string().as_str(),
                OID_REASON_CODE | OID_INVALIDITY_DATE | OID_EXPIRED_CERTS_ON_CRL
            );
            if ext.critical && !known {
                return Err(bad(&format!(
                    "critical entry extension {} is not processed",
                    ext.extn_id
                )));
            }
        }
    }
    Ok(())
}

/// The status of `cert` (issued by `issuer`) on the CRLs in `crls` that name its issuer.
/// `Ok(None)` when no CRL names the issuer.
///
/// # Errors
/// [`Reason::CrlInvalid`] when CRLs name the issuer but none of them is valid.
pub fn status(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[CertificateList],
) -> Result<Option<Status>, Finding> {
    let mut first_error = None;
    let mut best: Option<Status> = None;
    for crl in crls
        .iter()
        .filter(|c| c.tbs_cert_list.issuer == cert.tbs_certificate.issuer)
    {
        if let Err(e) = check_issued_by(crl, issuer) {
            first_error.get_or_insert(e);
            continue;
        }
        let tbs = &crl.tbs_cert_list;
        let listed = tbs
            .revoked_certificates
            .iter()
            .flatten()
            .find(|r| r.serial_number == cert.tbs_certificate.serial_number);
        let status = match listed {
            Some(entry) => Status::Revoked {
                since: unix_seconds(&entry.revocation_date),
            },
            None => Status::Good {
                this_update: unix_seconds(&tbs.this_update),
                next_update: tbs.next_update.as_ref().map(unix_seconds),
            },
        };
        // A revocation on any valid CRL wins; otherwise the newest CRL speaks.
        best = Some(match (best, status) {
            (Some(r @ Status::Revoked { .. }), _) | (_, r @ Status::Revoked { .. }) => r,
            (Some(Status::Good { this_update: a, .. }), Status::Good { this_update: b, .. })
                if a >= b =>
            {
                best.unwrap_or(status)
            }
            (_, s) => s,
        });
    }
    match (best, first_error) {
        (Some(s), _) => Ok(Some(s)),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(None),
    }
}
