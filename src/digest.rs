//! The digest algorithms a signature may use: SHA-256, SHA-384 and SHA-512.
//!
//! One place knows their names, lengths, OIDs and the PKCS#1 DigestInfo prefixes, so the wire
//! contract, the token and the CMS builder cannot disagree.

use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// A SHA-2 digest algorithm accepted for signing. SHA-1 is refused on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum DigestAlgorithm {
    /// SHA-256 (32-byte digest), the default for PAdES in Vietnam.
    #[serde(rename = "SHA-256")]
    Sha256,
    /// SHA-384 (48-byte digest).
    #[serde(rename = "SHA-384")]
    Sha384,
    /// SHA-512 (64-byte digest).
    #[serde(rename = "SHA-512")]
    Sha512,
}

impl DigestAlgorithm {
    /// All supported algorithms, strongest last.
    pub const ALL: [DigestAlgorithm; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The name used on the wire and on the command line (`SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Parses `SHA-256`, `sha256`, `SHA256`… (case and dash insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        let norm: String = text
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.as_str() {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Length of a digest in bytes; a digest of any other length is refused.
    #[allow(clippy::len_without_is_empty)] // an algorithm has a length, never "emptiness"
    pub fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The algorithm's object identifier (NIST hash OIDs).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => const_oid::db::rfc5912::ID_SHA_256,
            Self::Sha384 => const_oid::db::rfc5912::ID_SHA_384,
            Self::Sha512 => const_oid::db::rfc5912::ID_SHA_512,
        }
    }

    /// Maps an OID back to the algorithm.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.oid() == *oid)
    }

    /// Hashes `data` in one call.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }

    /// An incremental hasher, for data that comes in pieces (a PDF's two byte ranges).
    pub fn hasher(self) -> Hasher {
        match self {
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// DER prefix of the PKCS#1 v1.5 `DigestInfo` (RFC 8017 §9.2 note 1) that precedes the
    /// digest when a token only offers raw `CKM_RSA_PKCS`.
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// `DigestInfo ‖ H`: what `CKM_RSA_PKCS` must sign for a PKCS#1 v1.5 signature.
    pub fn digest_info(self, digest: &[u8]) -> Vec<u8> {
        let mut out = self.digest_info_prefix().to_vec();
        out.extend_from_slice(digest);
        out
    }
}

/// An incremental hasher of one of the [`DigestAlgorithm`]s.
pub enum Hasher {
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_common_spellings_and_refuses_sha1() {
        assert_eq!(
            DigestAlgorithm::parse("SHA-256"),
            Some(DigestAlgorithm::Sha256)
        );
        assert_eq!(
            DigestAlgorithm::parse("sha384"),
            Some(DigestAlgorithm::Sha384)
        );
        assert_eq!(
            DigestAlgorithm::parse("Sha_512"),
            Some(DigestAlgorithm::Sha512)
        );
        assert_eq!(DigestAlgorithm::parse("SHA-1"), None);
    }

    #[test]
    fn digest_info_prefix_is_the_der_of_the_oid_and_length() {
        for alg in DigestAlgorithm::ALL {
            let prefix = alg.digest_info_prefix();
            // The last byte is the OCTET STRING length, the total the SEQUENCE length.
            assert_eq!(prefix[prefix.len() - 1] as usize, alg.len());
            assert_eq!(prefix[1] as usize, prefix.len() - 2 + alg.len());
            let oid_der = der::Encode::to_der(&alg.oid()).expect("oid");
            assert_eq!(&prefix[4..4 + oid_der.len()], oid_der.as_slice());
            assert_eq!(alg.digest(b"abc").len(), alg.len());
        }
    }
}
