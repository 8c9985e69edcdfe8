//! Tickets the bridge mints for its DMS (given the DMS's private key): the prepare call returns
//! one with the digest, so a DMS that uses the bridge gets attested requests without writing
//! JOSE code. The key type gives the algorithm: P-256 → ES256, Ed25519 → EdDSA, RSA → RS256.

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::api::{Document, TicketClaims};
use crate::digest::DigestAlgorithm;

/// How long a minted ticket lives: the page passes it to the agent at once, and the user then
/// has the dialog's own timeout.
pub const TICKET_LIFETIME_SECS: i64 = 120;

/// The DMS's signing key.
pub struct TicketKey {
    key: EncodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketKey({:?})", self.algorithm)
    }
}

impl TicketKey {
    /// A PEM private key: PKCS#8 (`PRIVATE KEY`: P-256, Ed25519 or RSA) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    ///
    /// # Errors
    /// Not such a key.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let block = pem::parse(text).map_err(|e| e.to_string())?;
        let der = block.contents();
        let rng = ring::rand::SystemRandom::new();
        match block.tag() {
            "PRIVATE KEY" => {
                if ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &rng,
                )
                .is_ok()
                {
                    Ok(Self {
                        key: EncodingKey::from_ec_der(der),
                        algorithm: Algorithm::ES256,
                    })
                } else if ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).is_ok() {
                    Ok(Self {
                        key: EncodingKey::from_ed_der(der),
                        algorithm: Algorithm::EdDSA,
                    })
                } else if ring::signature::RsaKeyPair::from_pkcs8(der).is_ok() {
                    Ok(Self {
                        key: EncodingKey::from_rsa_pem(text).map_err(|e| e.to_string())?,
                        algorithm: Algorithm::RS256,
                    })
                } else {
                    Err("a PKCS#8 key that is not P-256, Ed25519 or RSA".into())
                }
            }
            "RSA PRIVATE KEY" => Ok(Self {
                key: EncodingKey::from_rsa_der(der),
                algorithm: Algorithm::RS256,
            }),
            other => Err(format!("a {other} is not a private key (PKCS#8 or PKCS#1)")),
        }
    }

    /// A ticket for signing `digest` (base64, as the page sends it) from `origin`, showing
    /// `document`; it expires [`TICKET_LIFETIME_SECS`] after `now`.
    ///
    /// # Errors
    /// The key fails to sign (it should not).
    pub fn mint(
        &self,
        origin: &str,
        digest: &str,
        document: Document,
        now: i64,
    ) -> Result<String, String> {
        let mut nonce = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| "no randomness".to_string())?;
        let claims = TicketClaims {
            origin: origin.to_string(),
            digest: Some(digest.to_string()),
            signed_attributes: None,
            digest_algorithm: DigestAlgorithm::Sha256,
            document,
            exp: now + TICKET_LIFETIME_SECS,
            jti: hex::encode(nonce),
            iat: Some(now),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.key)
            .map_err(|e| e.to_string())
    }
}
