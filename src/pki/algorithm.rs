//! Signature algorithms Kyso can check: one place that maps an X.509/CMS algorithm identifier
//! and a public key to a `ring` verifier, for certificates, CRLs, OCSP responses, timestamps and
//! CMS signer infos alike.

use const_oid::ObjectIdentifier;
use der::Encode;
use ring::signature as rs;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// A digest algorithm named by a CMS `digestAlgorithm` or implied by a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1: only for old signatures and legacy certificates.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The hash named by a digest-algorithm OID, `None` when Kyso does not know it.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match oid.to_string().as_str() {
            "1.3.14.3.2.26" => Some(Self::Sha1),
            "2.16.840.1.101.3.4.2.1" => Some(Self::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Self::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest of the concatenation of `parts`.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        let mut ctx = ring::digest::Context::new(algorithm);
        for part in parts {
            ctx.update(part);
        }
        ctx.finish().as_ref().to_vec()
    }
}

/// Why a signature could not be checked at all (as opposed to a signature that is wrong).
#[derive(Debug, thiserror::Error)]
#[error("unsupported signature algorithm: {0}")]
pub struct Unsupported(pub String);

/// Verifies `signature` over `message` with the key in `spki`, the algorithm given by
/// `algorithm` (and `hash` when the algorithm names only the key type, as CMS may).
///
/// # Errors
/// [`Unsupported`] when the algorithm or the key type is one Kyso cannot check; `Ok(false)`
/// means the signature is wrong.
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    hash: Option<Hash>,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, Unsupported> {
    let key = spki.subject_public_key.raw_bytes();
    let alg = algorithm.oid.to_string();
    let hash = match alg.as_str() {
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => Some(Hash::Sha1),
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => Some(Hash::Sha256),
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(Hash::Sha384),
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(Hash::Sha512),
        "1.2.840.113549.1.1.10" => {
            // RSASSA-PSS: the hash is in the parameters ([0] hashAlgorithm, default SHA-1).
            algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.to_der().ok())
                .and_then(|der| pss_hash(&der))
                .or(Some(Hash::Sha1))
        }
        _ => hash,
    };
    let key_type = spki.algorithm.oid.to_string();
    let verifier: &dyn rs::VerificationAlgorithm = match (key_type.as_str(), alg.as_str(), hash) {
        ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10", "1.2.840.113549.1.1.10", Some(h)) => {
            match h {
                Hash::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
                Hash::Sha1 => return Err(Unsupported("RSA-PSS with SHA-1".into())),
            }
        }
        ("1.2.840.113549.1.1.1", _, Some(h)) => match h {
            Hash::Sha1 => &rs::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            Hash::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        },
        ("1.2.840.10045.2.1", _, Some(h)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            match (curve.as_str(), h) {
                ("1.2.840.10045.3.1.7", Hash::Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
                ("1.2.840.10045.3.1.7", Hash::Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
                ("1.3.132.0.34", Hash::Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
                ("1.3.132.0.34", Hash::Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
                (c, h) => {
                    return Err(Unsupported(format!(
                        "ECDSA on curve {c} with {h:?} is not supported"
                    )))
                }
            }
        }
        ("1.3.101.112", _, _) => &rs::ED25519,
        (k, a, _) => {
            return Err(Unsupported(format!(
                "signature algorithm {a} with key {k} is not supported"
            )))
        }
    };
    Ok(rs::UnparsedPublicKey::new(verifier, key)
        .verify(message, signature)
        .is_ok())
}

/// The hash of RSASSA-PSS parameters: the first OID inside `[0]`, bounds-checked.
fn pss_hash(params_der: &[u8]) -> Option<Hash> {
    let at = params_der.iter().position(|b| *b == 0xa0)?;
    let oid_at = params_der.get(at..)?.iter().position(|b| *b == 0x06)? + at;
    let len = *params_der.get(oid_at + 1)? as usize;
    let oid = ObjectIdentifier::from_bytes(params_der.get(oid_at + 2..oid_at + 2 + len)?).ok()?;
    Hash::from_oid(&oid)
}
