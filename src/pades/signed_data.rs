//! CMS SignedData, as signatures and timestamp tokens carry it: taken apart without a strict
//! DER SET OF decoder, its certificates, and the signer's certificate among them.

use cms::cert::CertificateChoices;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::Decode;
use x509_cert::Certificate;

use super::ber;

/// A CMS SignedData taken apart: its encapsulated content, certificates and first signer.
pub struct SignedDataParts {
    /// The whole structure, re-encoded as DER.
    pub der: Vec<u8>,
    /// The encapsulated content (a timestamp's TSTInfo; empty when detached).
    pub content: Vec<u8>,
    /// The certificates it carries (at most 64).
    pub certificates: Vec<x509_cert::Certificate>,
    /// The first signer.
    pub signer: cms::signed_data::SignerInfo,
}

/// Takes a BER or DER ContentInfo(SignedData) apart. Walked by hand down to the parts, which
/// are then decoded strictly: TSAs and signing software write certificate sets in any order,
/// which a DER SET OF decoder refuses.
///
/// # Errors
/// What is missing, in English.
pub fn signed_data_parts(cms: &[u8]) -> Result<SignedDataParts, String> {
    let der = ber::to_der(cms).ok_or("the CMS is not BER")?;
    let bad = || "not a CMS SignedData".to_string();
    let content_info = ber::elements(&der).ok_or_else(bad)?;
    let explicit = ber::elements(content_info.get(1).ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let signed_data = ber::elements(explicit.first().ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let encap = ber::elements(signed_data.get(2).ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let content = encap
        .get(1)
        .and_then(|wrapped| ber::elements(wrapped.whole))
        .and_then(|w| w.first().map(|c| c.content.to_vec()))
        .unwrap_or_default();
    let certificates: Vec<x509_cert::Certificate> = signed_data
        .iter()
        .skip(3)
        .find(|e| e.whole.first() == Some(&0xa0))
        .and_then(|e| ber::elements(e.whole))
        .map(|list| {
            list.iter()
                .take(64)
                .filter_map(|c| x509_cert::Certificate::from_der(c.whole).ok())
                .collect()
        })
        .unwrap_or_default();
    let signer = signed_data
        .last()
        .and_then(|set| ber::elements(set.whole))
        .and_then(|infos| infos.first().map(|i| i.whole))
        .and_then(|whole| cms::signed_data::SignerInfo::from_der(whole).ok())
        .ok_or("no readable signer")?;
    Ok(SignedDataParts {
        der,
        content,
        certificates,
        signer,
    })
}

/// The X.509 certificates a SignedData carries.
pub fn certificates_of(signed: &SignedData) -> Vec<Certificate> {
    signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// The certificate of `signer` among `certs` (by issuer and serial, or subject key id).
pub fn find_signer<'a>(signer: &SignerInfo, certs: &'a [Certificate]) -> Option<&'a Certificate> {
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
