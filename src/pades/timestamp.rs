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
    // A random nonce (63 bits: a positive INTEGER), echoed by the TSA: a replayed or
    // substituted token does not carry it.
    let mut random = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| Error::Timestamp("no randomness for the nonce".into()))?;
    let nonce = u64::from_le_bytes(random) >> 1;
    let response = post(tsa_url, &request(&hash, nonce)?)?;
    let token = parse_response(&response, &hash)?;
    verify_token(&token, signer.signature.as_bytes(), Some(nonce)).map_err(Error::Timestamp)?;
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

/// Verifies an RFC 3161 token over `stamped` (the bytes whose hash is the imprint, for a
/// signature timestamp the signature value): the imprint with the token's own hash algorithm,
/// the nonce when `nonce` is given, the TSA's signature over the token. The TSA's path is the
/// caller's to validate (it needs the trust anchors and the revocation policy).
///
/// # Errors
/// Why the token proves nothing, in English.
pub fn verify_token(token: &[u8], stamped: &[u8], nonce: Option<u64>) -> Result<Proven, String> {
    use crate::pki::algorithm::{verify_signature, Hash};
    // Walked by hand down to the parts, which are then decoded strictly: TSAs write
    // certificate sets in any order, which a DER SET OF decoder refuses.
    let der = ber::to_der(token).ok_or("the timestamp token is not BER")?;
    let bad = || "the timestamp token is not a CMS SignedData".to_string();
    let content_info = ber::elements(&der).ok_or_else(bad)?;
    let explicit = ber::elements(content_info.get(1).ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let signed_data = ber::elements(explicit.first().ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let encap = ber::elements(signed_data.get(2).ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let wrapped = ber::elements(encap.get(1).ok_or_else(bad)?.whole).ok_or_else(bad)?;
    let tst = wrapped
        .first()
        .ok_or("the timestamp token has no TSTInfo")?
        .content;
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
        .ok_or("the timestamp token has no readable signer")?;
    let signer = &signer;
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
    if algorithm.digest_parts(&[stamped]) != hashed {
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
        let sent_bytes = der::asn1::Uint::new(&sent.to_be_bytes()).map_err(|e| e.to_string())?;
        if echoed != Some(sent_bytes.as_bytes()) {
            return Err("the TSA's nonce does not match the request".into());
        }
    }
    let tsa = super::verify::find_signer(signer, &certificates)
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
    let raw =
        ber::signed_attributes_raw(&der).ok_or("cannot read the token's signed attributes")?;
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
