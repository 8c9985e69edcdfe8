//! Embedding the CMS the agent returned into a prepared PDF: find the empty placeholder of the
//! newest signature, check that the CMS belongs to these bytes (its message-digest equals the
//! ByteRange digest) and fits, then write its hex in place. Nothing is written otherwise.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};

use super::pdf::{Document, Object};
use super::Error;
use crate::digest::DigestAlgorithm;

/// The placeholder of the newest unsigned signature in a prepared file.
#[derive(Clone, Copy, Debug)]
pub struct Placeholder {
    /// `[0, a, b, c]`.
    pub byte_range: [usize; 4],
}

impl Placeholder {
    /// Hex digits available between `<` and `>`.
    pub fn capacity_hex(&self) -> usize {
        self.byte_range[2] - self.byte_range[1] - 2
    }
}

/// Finds the newest signature whose `/Contents` is still all zeros.
///
/// # Errors
/// No empty signature placeholder.
pub fn find_placeholder(doc: &Document<'_>) -> Result<Placeholder, Error> {
    let data = doc.data;
    let mut candidates: Vec<[usize; 4]> = Vec::new();
    for n in doc.xref.keys() {
        let Ok(object) = doc.object(*n) else { continue };
        let Some(dict) = object.as_dict() else {
            continue;
        };
        if dict.type_name() != Some(b"Sig") {
            continue;
        }
        let Some(range) = dict.get(b"ByteRange").and_then(Object::as_array) else {
            continue;
        };
        let values: Vec<usize> = range
            .iter()
            .filter_map(|v| v.as_int())
            .map(|v| v as usize)
            .collect();
        let [zero, a, b, c] = values[..] else {
            continue;
        };
        if zero != 0 || b <= a + 2 || b + c != data.len() || b > data.len() {
            continue;
        }
        let hex = &data[a + 1..b - 1];
        if data[a] == b'<' && data[b - 1] == b'>' && hex.iter().all(|h| *h == b'0') {
            candidates.push([0, a, b, c]);
        }
    }
    candidates
        .into_iter()
        .max_by_key(|r| r[1])
        .map(|byte_range| Placeholder { byte_range })
        .ok_or(Error::NoPlaceholder)
}

/// Digest of the ByteRange with `alg`, hashing the two ranges in place.
pub fn range_digest(data: &[u8], byte_range: [usize; 4], alg: DigestAlgorithm) -> Vec<u8> {
    let [a0, l0, b0, l1] = byte_range;
    let mut hasher = alg.hasher();
    hasher.update(&data[a0..a0 + l0]);
    hasher.update(&data[b0..b0 + l1]);
    hasher.finish()
}

/// The digest algorithm and message-digest attribute of a CMS's single signer.
///
/// # Errors
/// Not a SignedData with one signer and a message-digest.
pub fn cms_message_digest(cms: &[u8]) -> Result<(DigestAlgorithm, Vec<u8>), Error> {
    let content = ContentInfo::from_der(cms).map_err(|e| Error::Cms(e.to_string()))?;
    let signed: SignedData = content
        .content
        .decode_as()
        .map_err(|e| Error::Cms(e.to_string()))?;
    let signer = signed
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or(Error::Cms("no signer".into()))?;
    let alg = DigestAlgorithm::from_oid(&signer.digest_alg.oid)
        .ok_or_else(|| Error::Cms(format!("unsupported digest {}", signer.digest_alg.oid)))?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or(Error::Cms("no signed attributes".into()))?;
    let digest = attrs
        .iter()
        .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<der::asn1::OctetString>().ok())
        .ok_or(Error::Cms("no message-digest".into()))?;
    Ok((alg, digest.as_bytes().to_vec()))
}

/// Checks `cms` against the prepared bytes and returns the hex to write at `a + 1`.
///
/// # Errors
/// [`Error::CmsMismatch`] when the CMS was made for other bytes; [`Error::CmsTooLarge`] when
/// it does not fit.
pub fn check(
    placeholder: &Placeholder,
    cms: &[u8],
    range_digest: impl FnOnce(DigestAlgorithm) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, Error> {
    // Re-encode to drop any trailing padding a caller may have kept.
    let cms = ContentInfo::from_der(cms)
        .and_then(|c| c.to_der())
        .map_err(|e| Error::Cms(e.to_string()))?;
    let (alg, digest) = cms_message_digest(&cms)?;
    if range_digest(alg)? != digest {
        return Err(Error::CmsMismatch);
    }
    let hex = hex::encode(&cms).into_bytes();
    if hex.len() > placeholder.capacity_hex() {
        return Err(Error::CmsTooLarge {
            needed: cms.len(),
            available: placeholder.capacity_hex() / 2,
        });
    }
    Ok(hex)
}
