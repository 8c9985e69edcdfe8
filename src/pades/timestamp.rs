//! RFC 3161 signature timestamps (PAdES B-T): ask a Time-Stamping Authority for a token over
//! the signature value and add it to the CMS as the `signatureTimeStampToken` unsigned
//! attribute, on the server side when the CMS is embedded (the agent needs no network).

use std::io::{Read, Write};
use std::time::Duration;

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;

use super::ber;
use super::Error;
use crate::digest::DigestAlgorithm;

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
    Some(super::roles::iso8601_vn(utc))
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

/// POSTs `body` to an `http://` TSA and returns the response body.
///
/// # Errors
/// Network errors, HTTPS URLs (not supported yet), non-200 answers.
pub fn post(url: &str, body: &[u8]) -> Result<Vec<u8>, Error> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::Timestamp("only http:// TSA URLs are supported".into()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let fail = |e: std::io::Error| Error::Timestamp(format!("{url}: {e}"));
    let mut stream = std::net::TcpStream::connect(&address).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(fail)?;
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/timestamp-query\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(fail)?;
    stream.write_all(body).map_err(fail)?;
    let mut response = Vec::new();
    stream
        .take(4 << 20)
        .read_to_end(&mut response)
        .map_err(fail)?;
    let split = super::pdf::find(&response, b"\r\n\r\n")
        .ok_or_else(|| Error::Timestamp("bad HTTP answer".into()))?;
    let status_line = String::from_utf8_lossy(&response[..split])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    if !status_line.contains(" 200") {
        return Err(Error::Timestamp(format!("{url} answered {status_line}")));
    }
    Ok(response[split + 4..].to_vec())
}

/// Adds a signature timestamp from `tsa_url` to a DER CMS (single signer).
///
/// # Errors
/// TSA or CMS errors.
pub fn timestamp_cms(cms: &[u8], tsa_url: &str) -> Result<Vec<u8>, Error> {
    let bad = |e: der::Error| Error::Cms(e.to_string());
    let content = ContentInfo::from_der(cms).map_err(bad)?;
    let mut signed: SignedData = content.content.decode_as().map_err(bad)?;
    let mut signers: Vec<_> = signed.signer_infos.0.iter().cloned().collect();
    let signer = signers
        .first_mut()
        .ok_or_else(|| Error::Cms("no signer".into()))?;
    let hash = DigestAlgorithm::Sha256.digest(signer.signature.as_bytes());
    let nonce = u64::from_le_bytes(
        DigestAlgorithm::Sha256.digest(
            &std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes(),
        )[..8]
            .try_into()
            .unwrap_or([7; 8]),
    ) >> 1;
    let response = post(tsa_url, &request(&hash, nonce)?)?;
    let token = parse_response(&response, &hash)?;
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
