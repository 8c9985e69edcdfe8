//! RFC 3161 signature timestamps (PAdES B-T): ask a Time-Stamping Authority for a token over
//! the signature value and add it to the CMS as the `signatureTimeStampToken` unsigned
//! attribute, on the server side when the CMS is embedded (the agent needs no network).

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;

use super::ber;
use super::Error;
use crate::digest::DigestAlgorithm;
use crate::pki::algorithm::Hash;
use crate::pki::revocation::Fetch;

/// id-aa-signatureTimeStampToken.
pub const ID_SIGNATURE_TIMESTAMP: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

#[derive(der::Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(der::Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    nonce: u64,
    cert_req: bool,
}

/// The DER TimeStampReq for `hash` (SHA-256) with `nonce`, asking for the TSA certificate.
///
/// # Errors
/// DER encoding.
pub fn request(hash: &[u8], nonce: u64) -> Result<Vec<u8>, Error> {
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: DigestAlgorithm::Sha256.oid(),
                parameters: None,
            },
            hashed_message: OctetString::new(hash).map_err(|e| Error::Cms(e.to_string()))?,
        },
        nonce,
        cert_req: true,
    };
    req.to_der().map_err(|e| Error::Cms(e.to_string()))
}

/// The message imprint and generation time inside a timestamp token (ContentInfo(SignedData)
/// whose content is a TSTInfo).
pub fn token_info(token: &[u8]) -> Option<(Vec<u8>, String)> {
    // Walked by hand: TSA tokens carry certificate sets and attributes that a strict DER
    // decoder may refuse, and only two fields are needed.
    let der = ber::to_der(token)?;
    let content_info = ber::elements(&der)?;
    let explicit = ber::elements(content_info.get(1)?.whole)?;
    let signed_data = ber::elements(explicit.first()?.whole)?;
    let encap = ber::elements(signed_data.get(2)?.whole)?;
    let wrapped = ber::elements(encap.get(1)?.whole)?;
    let tst_der = wrapped.first()?.content;
    let fields = ber::elements(tst_der)?;
    let imprint = ber::elements(fields.get(2)?.whole)?;
    let hashed = imprint.get(1)?.content.to_vec();
    let gen_time = String::from_utf8_lossy(fields.get(4)?.content).into_owned();
    Some((hashed, generalized_to_vn(&gen_time).unwrap_or(gen_time)))
}

/// `20261130113047Z` (or with fractions) → `2026-11-30T18:30:47+07:00`.
fn generalized_to_vn(text: &str) -> Option<String> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 14 || !text.ends_with('Z') {
        return None;
    }
    let n = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<u8>().ok());
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(n(4, 6)?).ok()?, n(6, 8)?)
            .ok()?;
    let t = time::Time::from_hms(n(8, 10)?, n(10, 12)?, n(12, 14)?).ok()?;
    let utc = time::PrimitiveDateTime::new(date, t).assume_utc();
    Some(super::iso8601_vn(utc))
}

/// Checks a TimeStampResp and returns its token.
///
/// # Errors
/// A refused request, or a token for another hash.
pub fn parse_response(response: &[u8], hash: &[u8]) -> Result<Vec<u8>, Error> {
    let fields =
        ber::elements(response).ok_or_else(|| Error::Timestamp("not a TimeStampResp".into()))?;
    let status = fields
        .first()
        .and_then(|s| ber::elements(s.whole))
        .and_then(|s| s.first().map(|v| v.content.to_vec()))
        .ok_or_else(|| Error::Timestamp("no status".into()))?;
    if !(status == [0] || status == [1]) {
        return Err(Error::Timestamp(format!(
            "the TSA refused (status {status:?})"
        )));
    }
    let token = fields
        .get(1)
        .ok_or_else(|| Error::Timestamp("no token".into()))?
        .whole
        .to_vec();
    let (imprint, _) =
        token_info(&token).ok_or_else(|| Error::Timestamp("unreadable token".into()))?;
    if imprint != hash {
        return Err(Error::Timestamp(
            "the token is for another signature".into(),
        ));
    }
    Ok(token)
}

/// Where a timestamp comes from and what its authority must chain to: the TSA's URL
/// (`http://` or `https://`, through the agent's TLS stack and the proxy from the environment),
/// the trust anchors its certificate is validated against, and the network port.
pub struct Tsa<'a> {
    /// The TSA's URL.
    pub url: &'a str,
    /// Roots the TSA certificate must chain to (empty: the path cannot be proven, a warning).
    pub anchors: &'a [x509_cert::Certificate],
    /// HTTP(S) for the TSA and for the TSA certificate's revocation status.
    pub fetch: &'a dyn Fetch,
}

/// Asks `tsa` for a token over `imprint` (SHA-256) with a fresh random nonce, then checks the
/// answer: the imprint, the nonce, the TSA's signature, and the TSA certificate's path
/// (purpose timeStamping) at the token's time. A path proven invalid (a forged or revoked TSA,
/// one without the timeStamping purpose) is refused, and so is a TSA outside the configured
/// roots; a path whose revocation status cannot be established (or with no roots configured)
/// is logged.
///
/// # Errors
/// Network, a refused request, a token that does not verify, an invalid TSA path.
pub fn stamp(imprint: &[u8], tsa: &Tsa<'_>) -> Result<(Vec<u8>, Proven), Error> {
    // A random nonce (63 bits: a positive INTEGER), echoed by the TSA: a replayed or
    // substituted token does not carry it.
    let mut random = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| Error::Timestamp("no randomness for the nonce".into()))?;
    let nonce = u64::from_le_bytes(random) >> 1;
    let response = tsa
        .fetch
        .post(
            tsa.url,
            "application/timestamp-query",
            &request(imprint, nonce)?,
        )
        .map_err(Error::Timestamp)?;
    let token = parse_response(&response, imprint)?;
    let proven = verify_token(
        &token,
        &|hash| {
            if hash == Hash::Sha256 {
                imprint.to_vec()
            } else {
                Vec::new()
            }
        },
        Some(nonce),
    )
    .map_err(Error::Timestamp)?;
    let report = crate::pki::check::check(
        &crate::pki::check::Request {
            certificate: &proven.tsa,
            anchors: tsa.anchors,
            intermediates: &proven.certificates,
            crls: &[],
            ocsp: &[],
            at: proven.time,
            purpose: crate::pki::path::Purpose::Timestamping,
            revocation: crate::pki::check::RevocationMode::Online,
            time_proven: true,
        },
        tsa.fetch,
    );
    match report.verdict {
        crate::pki::Verdict::Valid => {}
        crate::pki::Verdict::Invalid => {
            let why: Vec<String> = report.reasons.iter().map(ToString::to_string).collect();
            return Err(Error::Timestamp(format!(
                "the TSA certificate is not valid: {}",
                why.join("; ")
            )));
        }
        crate::pki::Verdict::Unknown => {
            let why: Vec<String> = report.reasons.iter().map(ToString::to_string).collect();
            // With roots configured, a TSA outside them is refused: its timestamps would not
            // be provable where they are checked. Without roots, or when only the TSA's
            // revocation status is missing, the token is kept and the gap logged.
            let untrusted = report
                .reasons
                .iter()
                .any(|r| r.code == crate::pki::Reason::NoTrustedPath);
            if untrusted && !tsa.anchors.is_empty() {
                return Err(Error::Timestamp(format!(
                    "the TSA certificate does not chain to a trusted root: {}",
                    why.join("; ")
                )));
            }
            tracing::warn!(tsa = tsa.url, reasons = %why.join("; "), "the TSA certificate's path is not proven");
        }
    }
    Ok((token, proven))
}

/// Adds a signature timestamp from `tsa` to a DER CMS (single signer): PAdES B-T.
///
/// # Errors
/// TSA or CMS errors.
pub fn timestamp_cms(cms: &[u8], tsa: &Tsa<'_>) -> Result<Vec<u8>, Error> {
    let bad = |e: der::Error| Error::Cms(e.to_string());
    let content = ContentInfo::from_der(cms).map_err(bad)?;
    let mut signed: SignedData = content.content.decode_as().map_err(bad)?;
    let mut signers: Vec<_> = signed.signer_infos.0.iter().cloned().collect();
    let signer = signers
        .first_mut()
        .ok_or_else(|| Error::Cms("no signer".into()))?;
    let hash = DigestAlgorithm::Sha256.digest(signer.signature.as_bytes());
    let (token, _) = stamp(&hash, tsa)?;
    let attribute = x509_cert::attr::Attribute {
        oid: ID_SIGNATURE_TIMESTAMP,
        values: SetOfVec::try_from(vec![Any::from_der(&token).map_err(bad)?]).map_err(bad)?,
    };
    signer.unsigned_attrs = Some(SetOfVec::try_from(vec![attribute]).map_err(bad)?);
    signed.signer_infos = cms::signed_data::SignerInfos::try_from(signers).map_err(bad)?;
    ContentInfo {
        content_type: content.content_type,
        content: Any::encode_from(&signed).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// The signature timestamp tokens in the unsigned attributes of a CMS (BER or DER).
pub fn embedded_tokens(cms: &[u8]) -> Vec<Vec<u8>> {
    let Some(der) = ber::to_der(cms) else {
        return Vec::new();
    };
    let Ok(signed) = ContentInfo::from_der(&der).and_then(|c| c.content.decode_as::<SignedData>())
    else {
        return Vec::new();
    };
    signed
        .signer_infos
        .0
        .iter()
        .flat_map(|s| s.unsigned_attrs.iter().flat_map(|set| set.iter()))
        .filter(|a| a.oid == ID_SIGNATURE_TIMESTAMP)
        .flat_map(|a| a.values.iter())
        .filter_map(|v| v.to_der().ok())
        .collect()
}

/// A signature timestamp whose token verified: its time is proven.
#[derive(Clone, Debug)]
pub struct Proven {
    /// genTime, seconds since the epoch (fractions dropped).
    pub time: u64,
    /// genTime as Vietnamese local time, ISO 8601.
    pub display: String,
    /// The TSA's certificate.
    pub tsa: x509_cert::Certificate,
    /// The TSA token's own certificates (to complete the TSA's path).
    pub certificates: Vec<x509_cert::Certificate>,
}

/// Verifies an RFC 3161 token: the imprint against `imprint_of` (the hash, with the token's
/// own algorithm, of what was stamped: a signature value, or a document's byte range), the
/// nonce when `nonce` is given, the TSA's signature over the token. The TSA's path is the
/// caller's to validate (it needs the trust anchors and the revocation policy).
///
/// # Errors
/// Why the token proves nothing, in English.
pub fn verify_token(
    token: &[u8],
    imprint_of: &dyn Fn(Hash) -> Vec<u8>,
    nonce: Option<u64>,
) -> Result<Proven, String> {
    use crate::pki::algorithm::verify_signature;
    let parts = super::signed_data::signed_data_parts(token)?;
    let (tst, certificates, signer) = (&parts.content[..], parts.certificates, &parts.signer);
    let der = &parts.der;
    let fields = ber::elements(tst).ok_or("malformed TSTInfo")?;
    let imprint = fields
        .get(2)
        .and_then(|f| ber::elements(f.whole))
        .ok_or("malformed message imprint")?;
    let algorithm = imprint
        .first()
        .and_then(|a| ber::elements(a.whole))
        .and_then(|a| {
            a.first()
                .and_then(|o| ObjectIdentifier::from_bytes(o.content).ok())
        })
        .and_then(|oid| Hash::from_oid(&oid))
        .ok_or("unsupported imprint hash")?;
    let hashed = imprint.get(1).map(|h| h.content).ok_or("no imprint")?;
    if imprint_of(algorithm) != hashed {
        return Err("the timestamp is for other data (imprint mismatch)".into());
    }
    let gen_time = fields
        .get(4)
        .map(|f| String::from_utf8_lossy(f.content).into_owned())
        .ok_or("no genTime")?;
    let display = generalized_to_vn(&gen_time).ok_or("malformed genTime")?;
    let time =
        time::OffsetDateTime::parse(&display, &time::format_description::well_known::Rfc3339)
            .map_err(|_| "malformed genTime")?
            .unix_timestamp();
    if let Some(sent) = nonce {
        let echoed = fields
            .iter()
            .skip(5)
            .find(|f| f.whole.first() == Some(&0x02))
            .map(|f| f.content);
        if !nonce_matches(echoed, sent) {
            return Err("the TSA's nonce does not match the request".into());
        }
    }
    let tsa = super::signed_data::find_signer(signer, &certificates)
        .cloned()
        .ok_or("the TSA certificate is not in the token")?;
    let digest = Hash::from_oid(&signer.digest_alg.oid).ok_or("unsupported TSA digest")?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("the token has no signed attributes")?;
    let message_digest = attrs
        .iter()
        .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or("the token has no message digest")?;
    if message_digest.as_bytes() != digest.digest_parts(&[tst]).as_slice() {
        return Err("the TSTInfo does not match the TSA's signature".into());
    }
    let raw = ber::signed_attributes_raw(der).ok_or("cannot read the token's signed attributes")?;
    match verify_signature(
        &tsa.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        Some(digest),
        &raw,
        signer.signature.as_bytes(),
    ) {
        Ok(true) => {}
        Ok(false) => return Err("the TSA's signature does not verify".into()),
        Err(e) => return Err(e.to_string()),
    }
    Ok(Proven {
        time: u64::try_from(time).unwrap_or(0),
        display,
        tsa,
        certificates,
    })
}

/// Whether the content of the INTEGER a TSA echoed is the nonce sent. Compared as numbers: DER
/// puts a 0x00 before a magnitude whose top bit is set (1 nonce in 256 here), and a TSA may
/// write the same number with more leading zeros.
fn nonce_matches(echoed: Option<&[u8]>, sent: u64) -> bool {
    let magnitude =
        |bytes: &[u8]| -> Vec<u8> { bytes.iter().copied().skip_while(|b| *b == 0).collect() };
    echoed.is_some_and(|e| {
        !e.is_empty() && e[0] & 0x80 == 0 && magnitude(e) == magnitude(&sent.to_be_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_is_compared_as_a_number() {
        let sent = 0x009a_bcde_f012_3456_u64;
        // As DER writes it: 0x00 before the 0x9A.
        let der = der::Encode::to_der(&sent).expect("der");
        assert_eq!(&der[..3], &[0x02, 0x08, 0x00]);
        assert!(nonce_matches(Some(&der[2..]), sent));
        assert!(nonce_matches(
            Some(&[0x00, 0x00, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56]),
            sent
        ));
        assert!(!nonce_matches(Some(&der[3..5]), sent));
        assert!(!nonce_matches(None, sent));
        // Without its 0x00 the same bytes are a negative INTEGER: never our nonce.
        assert!(!nonce_matches(
            Some(&[0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56]),
            sent
        ));
        assert!(nonce_matches(Some(&[0x01]), 1));
    }
}
