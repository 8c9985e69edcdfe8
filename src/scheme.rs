//! How a key signs: the scheme (RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA) and the DER form of a
//! PKCS#11 ECDSA signature. Shared by the token, which signs, and CAdES, which names the
//! algorithm in the CMS (`cades` adds `algorithm_identifier`); neither depends on the other.

use der::Encode;

use crate::digest::DigestAlgorithm;

/// How the signature value is computed; decides the CMS signatureAlgorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (`sha256WithRSAEncryption`…).
    RsaPkcs1v15,
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss,
    /// ECDSA, DER `SEQUENCE { r, s }` (`ecdsa-with-SHA256`…).
    Ecdsa,
}

impl SignatureScheme {
    /// A short name for logs and the API (`RSASSA-PKCS1-v1_5-SHA-256`…).
    pub fn name(self, digest: DigestAlgorithm) -> String {
        let scheme = match self {
            Self::RsaPkcs1v15 => "RSASSA-PKCS1-v1_5",
            Self::RsaPss => "RSASSA-PSS",
            Self::Ecdsa => "ECDSA",
        };
        format!("{scheme}-{}", digest.name())
    }
}

/// Re-encodes a PKCS#11 ECDSA signature (`r ‖ s`, each half the length) as the DER
/// `SEQUENCE { INTEGER r, INTEGER s }` that X.509 and CMS expect.
///
/// # Errors
/// A DER error when the input is empty or of odd length.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, der::Error> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(der::ErrorKind::Length {
            tag: der::Tag::Sequence,
        }
        .into());
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let sig = EcdsaSignature {
        r: der::asn1::UintRef::new(r)?,
        s: der::asn1::UintRef::new(s)?,
    };
    sig.to_der()
}

#[derive(der::Sequence)]
struct EcdsaSignature<'a> {
    r: der::asn1::UintRef<'a>,
    s: der::asn1::UintRef<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_raw_to_der_strips_and_pads_integers() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x00;
        raw[1] = 0x7f; // r starts with a zero byte: stripped
        raw[32] = 0x80; // s has the top bit set: a 0x00 is prepended
        let der = ecdsa_raw_to_der(&raw).expect("der");
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..4], &[0x02, 31]);
        assert_eq!(der[4], 0x7f);
        let s_at = 4 + 31;
        assert_eq!(&der[s_at..s_at + 3], &[0x02, 33, 0x00]);
        assert!(ecdsa_raw_to_der(&raw[..63]).is_err());
    }
}
