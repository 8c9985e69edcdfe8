//! DMS-attested requests: a DMS server vouches for what a page asks to sign with a short
//! ticket, a JWS compact JWT it signs with its own key, which the page passes along. The agent
//! checks it against the public keys the policy sets for that origin and, when it holds, shows
//! the ticket's document in the PIN dialog instead of what the page says. A script injected
//! into the DMS page (an XSS, an extension) cannot make a ticket, so with `require_ticket` it
//! cannot get anything signed. Checked before any dialog opens; every refusal has its code.
//!
//! Verification is `jsonwebtoken`'s (ring underneath, already in the build for rustls): the
//! algorithm is taken from the key, never from the token's header, so `alg: none`, an HMAC
//! with a public key as secret or another algorithm than the key's are refused.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{Origin, Payload, SignOrder};
use crate::api::TicketClaims as Claims;
use crate::config::AttestedOriginSettings;

/// How far ahead a ticket may expire: a ticket is made for one signature, now.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock difference tolerated between the DMS server and the workstation.
pub const CLOCK_SKEW_SECS: i64 = 60;
/// Live nonces remembered at most; more live tickets than this at once is an attack.
const MAX_REMEMBERED: usize = 100_000;
/// The longest ticket read (a JWT of a few claims is well under 4 KiB).
pub const MAX_TICKET_LEN: usize = 16 * 1024;

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    /// Not a ticket this agent can accept; the text says why (for the log and the answer).
    #[error("ticket invalid: {0}")]
    Invalid(String),
    /// Past its `exp`.
    #[error("ticket expired")]
    Expired,
    /// Its nonce was used before.
    #[error("ticket already used")]
    Replayed,
    /// The policy requires a ticket from this origin and the request has none.
    #[error("a ticket is required from this origin")]
    Required,
}

/// A DMS key and the one algorithm it signs with.
struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

struct AttestedOrigin {
    keys: Vec<Key>,
    require_ticket: bool,
}

/// The attestation policy and the nonces seen.
#[derive(Default)]
pub struct Attestation {
    origins: HashMap<Origin, AttestedOrigin>,
    /// Nonce → its ticket's `exp`, forgotten once past it.
    seen: Mutex<HashMap<String, i64>>,
}

/// Whether a request's document was vouched for by the DMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Attested {
    /// Stated by the page only.
    #[default]
    No,
    /// The DMS server signed a ticket for it; the shown document is the ticket's.
    Yes,
}

impl Attestation {
    /// The keys the policy names, read with `read` (the caller's file access).
    ///
    /// # Errors
    /// An origin that does not parse, a key file that cannot be read or is not a supported
    /// key (P-256, Ed25519, RSA): a policy mistake is said at start, not at the first request.
    pub fn load(
        settings: &[(String, AttestedOriginSettings)],
        read: impl Fn(&Path) -> Result<Vec<u8>, String>,
    ) -> Result<Self, String> {
        let mut origins = HashMap::new();
        for (origin, entry) in settings {
            let parsed =
                Origin::parse(origin).map_err(|e| format!("attested origin {origin:?}: {e}"))?;
            if entry.keys.is_empty() {
                return Err(format!("attested origin {origin}: no keys"));
            }
            let keys = entry
                .keys
                .iter()
                .map(|path| {
                    read(path)
                        .and_then(|pem| parse_key(&pem))
                        .map_err(|e| format!("{}: {e}", path.display()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            origins.insert(
                parsed,
                AttestedOrigin {
                    keys,
                    require_ticket: entry.require_ticket,
                },
            );
        }
        Ok(Self {
            origins,
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// The origins the policy attests (the admin allows them as well).
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        self.origins.keys()
    }

    /// Checks `ticket` for `order` from `origin` at `now` (Unix seconds). On success the order's
    /// document becomes the ticket's, and the answer says it was attested; a request without a
    /// ticket is let through as stated by the page unless the origin requires one.
    ///
    /// # Errors
    /// [`TicketError`]: checked in full before the nonce is remembered, so a refused ticket
    /// does not use up its nonce.
    pub fn check(
        &self,
        origin: Option<&Origin>,
        order: &mut SignOrder,
        ticket: Option<&str>,
        now: i64,
    ) -> Result<Attested, TicketError> {
        let attested = origin.and_then(|o| self.origins.get(o));
        let Some(ticket) = ticket else {
            return match attested {
                Some(a) if a.require_ticket => Err(TicketError::Required),
                _ => Ok(Attested::No),
            };
        };
        let (Some(origin), Some(attested)) = (origin, attested) else {
            return Err(TicketError::Invalid(
                "the policy sets no key for this origin".into(),
            ));
        };
        if ticket.len() > MAX_TICKET_LEN {
            return Err(TicketError::Invalid("too long".into()));
        }
        let claims = verify_signature(&attested.keys, ticket)?;
        if claims.exp < now {
            return Err(TicketError::Expired);
        }
        if claims.exp > now + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS {
            return Err(TicketError::Invalid(format!(
                "exp is more than {MAX_LIFETIME_SECS} s ahead"
            )));
        }
        if Origin::parse(&claims.origin).ok().as_ref() != Some(origin) {
            return Err(TicketError::Invalid("made for another origin".into()));
        }
        if claims.digest_algorithm != order.digest_algorithm {
            return Err(TicketError::Invalid(
                "made for another digest algorithm".into(),
            ));
        }
        let vouched = match &order.payload {
            Payload::Digest(_) => claims.digest.as_deref(),
            Payload::SignedAttributes(_) => claims.signed_attributes.as_deref(),
        };
        let payload = match &order.payload {
            Payload::Digest(d) | Payload::SignedAttributes(d) => d,
        };
        let matches = vouched
            .and_then(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .ok()
            })
            .is_some_and(|bytes| &bytes == payload);
        if !matches {
            return Err(TicketError::Invalid("made for another digest".into()));
        }
        let document = claims.document;
        if document.title.trim().is_empty()
            || document.title.len() > 1000
            || document.number.as_ref().is_some_and(|n| n.len() > 200)
        {
            return Err(TicketError::Invalid("document title or number".into()));
        }
        if claims.jti.is_empty() || claims.jti.len() > 200 {
            return Err(TicketError::Invalid("jti is 1 to 200 bytes".into()));
        }
        self.remember(&claims.jti, claims.exp, now)?;
        order.document = document;
        Ok(Attested::Yes)
    }

    /// Remembers a nonce until its ticket expires; a nonce seen before is a replay.
    fn remember(&self, jti: &str, exp: i64, now: i64) -> Result<(), TicketError> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains_key(jti) {
            return Err(TicketError::Replayed);
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, until| *until + CLOCK_SKEW_SECS >= now);
            if seen.len() >= MAX_REMEMBERED {
                return Err(TicketError::Invalid("too many live tickets".into()));
            }
        }
        seen.insert(jti.to_string(), exp);
        Ok(())
    }
}

/// The claims of `ticket` when one of `keys` signed it with that key's algorithm.
fn verify_signature(keys: &[Key], ticket: &str) -> Result<Claims, TicketError> {
    let header = jsonwebtoken::decode_header(ticket)
        .map_err(|e| TicketError::Invalid(format!("not a JWS: {e}")))?;
    let mut last = TicketError::Invalid(format!("algorithm {:?} is not the DMS key's", header.alg));
    for key in keys.iter().filter(|k| k.algorithm == header.alg) {
        let mut validation = Validation::new(key.algorithm);
        // exp, the origin and the digest are checked by the caller against the request.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        match jsonwebtoken::decode::<Claims>(ticket, &key.key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => {
                last = TicketError::Invalid(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        "the signature does not verify".to_string()
                    }
                    _ => e.to_string(),
                })
            }
        }
    }
    Err(last)
}

/// A DMS public key from PEM: `PUBLIC KEY` (P-256, Ed25519, RSA), `RSA PUBLIC KEY` or a
/// `CERTIFICATE` (its key is used; the certificate itself is not validated: the policy names
/// it, which is the trust).
fn parse_key(text: &[u8]) -> Result<Key, String> {
    let blocks = pem::parse_many(text).map_err(|e| e.to_string())?;
    let block = blocks.first().ok_or("no PEM block")?;
    let spki = match block.tag() {
        "CERTIFICATE" => {
            use der::{Decode, Encode};
            let cert =
                x509_cert::Certificate::from_der(block.contents()).map_err(|e| e.to_string())?;
            cert.tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| e.to_string())?
        }
        "PUBLIC KEY" => block.contents().to_vec(),
        "RSA PUBLIC KEY" => {
            return Ok(Key {
                key: DecodingKey::from_rsa_der(block.contents()),
                algorithm: Algorithm::RS256,
            })
        }
        other => return Err(format!("a {other} is not a public key")),
    };
    key_from_spki(&spki)
}

/// The decoding key and algorithm of a DER SubjectPublicKeyInfo.
fn key_from_spki(spki: &[u8]) -> Result<Key, String> {
    use der::Decode;
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki).map_err(|e| e.to_string())?;
    let bits = info.subject_public_key.raw_bytes();
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        // id-ecPublicKey; the curve must be P-256 for ES256.
        "1.2.840.10045.2.1" => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| "an EC key without its curve".to_string())?;
            if curve.to_string() != "1.2.840.10045.3.1.7" {
                return Err("an EC key on another curve than P-256 (ES256)".into());
            }
            Ok(Key {
                key: DecodingKey::from_ec_der(bits),
                algorithm: Algorithm::ES256,
            })
        }
        "1.3.101.112" => Ok(Key {
            key: DecodingKey::from_ed_der(bits),
            algorithm: Algorithm::EdDSA,
        }),
        "1.2.840.113549.1.1.1" => Ok(Key {
            key: DecodingKey::from_rsa_der(bits),
            algorithm: Algorithm::RS256,
        }),
        other => Err(format!("key algorithm {other} (P-256, Ed25519 or RSA)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Document, Purpose};
    use crate::digest::DigestAlgorithm;

    const DMS: &str = "https://qlvb.example.gov.vn";
    const NOW: i64 = 1_800_000_000;

    /// A DMS key pair: (private PKCS#8 PEM, public SPKI PEM).
    fn key_pair(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(alg).expect("key");
        (key.serialize_pem(), key.public_key_pem())
    }

    fn attestation(public_pems: &[&str], require_ticket: bool) -> Attestation {
        let dir = tempfile::tempdir().expect("dir");
        let keys = public_pems
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                let path = dir.path().join(format!("dms-{i}.pem"));
                std::fs::write(&path, pem).expect("write");
                path
            })
            .collect();
        Attestation::load(
            &[(
                DMS.to_string(),
                AttestedOriginSettings {
                    keys,
                    require_ticket,
                },
            )],
            |path| std::fs::read(path).map_err(|e| e.to_string()),
        )
        .expect("load")
    }

    fn order(digest: &[u8]) -> SignOrder {
        SignOrder {
            certificate_id: "ab".repeat(32),
            digest_algorithm: DigestAlgorithm::Sha256,
            payload: Payload::Digest(digest.to_vec()),
            document: Document {
                title: "Trang web nói: văn bản vô hại".into(),
                number: None,
                purpose: Purpose::Approve,
            },
            rsa_pss: false,
            ticket: None,
            attested: None,
        }
    }

    fn claims(digest: &[u8]) -> serde_json::Value {
        serde_json::json!({
            "origin": DMS,
            "digest": base64::engine::general_purpose::STANDARD.encode(digest),
            "digestAlgorithm": "SHA-256",
            "document": {"title": "Quyết định 12/QĐ-UBND", "number": "12/QĐ-UBND", "purpose": "issue"},
            "exp": NOW + 120,
            "jti": "n-1",
        })
    }

    fn sign(private_pem: &str, alg: Algorithm, claims: &serde_json::Value) -> String {
        let key = match alg {
            Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(private_pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_ec_pem(private_pem.as_bytes()),
        }
        .expect("encoding key");
        jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).expect("jwt")
    }

    fn check(a: &Attestation, ticket: Option<&str>) -> Result<(Attested, SignOrder), TicketError> {
        let mut order = order(&[7u8; 32]);
        let origin = Origin::parse(DMS).expect("origin");
        a.check(Some(&origin), &mut order, ticket, NOW)
            .map(|attested| (attested, order))
    }

    #[test]
    fn a_ticket_from_the_dms_key_attests_its_document_once() {
        let (private, public) = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let a = attestation(&[&public], false);
        let ticket = sign(&private, Algorithm::ES256, &claims(&[7u8; 32]));
        let (attested, order) = check(&a, Some(&ticket)).expect("attested");
        assert_eq!(attested, Attested::Yes);
        assert_eq!(order.document.title, "Quyết định 12/QĐ-UBND");
        assert_eq!(order.document.number.as_deref(), Some("12/QĐ-UBND"));
        assert_eq!(order.document.purpose, Purpose::Issue);
        assert_eq!(check(&a, Some(&ticket)).unwrap_err(), TicketError::Replayed);
        // Without a ticket, a page's own words go through as stated by the page.
        assert_eq!(check(&a, None).expect("no ticket").0, Attested::No);
    }

    #[test]
    fn eddsa_keys_and_certificates_work_too() {
        let (private, public) = key_pair(&rcgen::PKCS_ED25519);
        let a = attestation(&[&public], true);
        let ticket = sign(&private, Algorithm::EdDSA, &claims(&[7u8; 32]));
        assert_eq!(check(&a, Some(&ticket)).expect("ok").0, Attested::Yes);
        // A certificate of the DMS key names it as well.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["qlvb.example.gov.vn".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let a = attestation(&[&cert.pem()], true);
        let ticket = sign(&key.serialize_pem(), Algorithm::ES256, &claims(&[7u8; 32]));
        assert_eq!(check(&a, Some(&ticket)).expect("ok").0, Attested::Yes);
    }

    #[test]
    fn every_kind_of_bad_ticket_is_refused_before_its_nonce_is_spent() {
        let (private, public) = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (other_private, _) = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let a = attestation(&[&public], true);
        let with = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut c = claims(&[7u8; 32]);
            change(&mut c);
            sign(&private, Algorithm::ES256, &c)
        };
        let invalid = |ticket: &str, why: &str| match check(&a, Some(ticket)) {
            Err(TicketError::Invalid(_)) => {}
            other => panic!("{why}: {other:?}"),
        };
        invalid(
            &sign(&other_private, Algorithm::ES256, &claims(&[7u8; 32])),
            "another key",
        );
        invalid(
            &with(&|c| c["origin"] = "https://evil.example".into()),
            "another origin",
        );
        invalid(
            &with(&|c| {
                c["digest"] = base64::engine::general_purpose::STANDARD
                    .encode([8u8; 32])
                    .into()
            }),
            "another digest",
        );
        invalid(
            &with(&|c| c["digestAlgorithm"] = "SHA-384".into()),
            "another algorithm",
        );
        invalid(
            &with(&|c| c["exp"] = (NOW + 3600).into()),
            "exp an hour ahead",
        );
        invalid(&with(&|c| c["jti"] = "".into()), "no nonce");
        assert_eq!(
            check(&a, Some(&with(&|c| c["exp"] = (NOW - 1).into()))).unwrap_err(),
            TicketError::Expired
        );
        // alg none, and HS256 keyed with the public key: the key decides the algorithm.
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&claims(&[7u8; 32]))
        );
        invalid(&none, "alg none");
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(&[7u8; 32]),
            &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
        )
        .expect("hs256");
        invalid(&hs, "HS256 with the public key as secret");
        invalid("not.a.jwt", "garbage");
        invalid(&"a".repeat(MAX_TICKET_LEN + 1), "too long");
        // The nonce of the good ticket was not spent by the refusals above.
        let good = sign(&private, Algorithm::ES256, &claims(&[7u8; 32]));
        assert_eq!(check(&a, Some(&good)).expect("good").0, Attested::Yes);
        // Required: no ticket is refused; an origin with no key cannot use one.
        assert_eq!(check(&a, None).unwrap_err(), TicketError::Required);
        let mut order = order(&[7u8; 32]);
        let stranger = Origin::parse("https://other.example.gov.vn").expect("origin");
        assert!(matches!(
            a.check(Some(&stranger), &mut order, Some(&good), NOW),
            Err(TicketError::Invalid(_))
        ));
        assert_eq!(
            a.check(Some(&stranger), &mut order, None, NOW),
            Ok(Attested::No)
        );
    }

    #[test]
    fn a_policy_naming_an_unusable_key_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secret.pem");
        let (private, _) = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        std::fs::write(&path, private).expect("write");
        let settings = [(
            DMS.to_string(),
            AttestedOriginSettings {
                keys: vec![path],
                require_ticket: true,
            },
        )];
        let err = Attestation::load(&settings, |p| std::fs::read(p).map_err(|e| e.to_string()))
            .err()
            .expect("a private key is not a public key");
        assert!(err.contains("not a public key"), "{err}");
    }
}
