//! X.509 certificates as the agent needs them: an id, a readable holder, a kind (personal or
//! organisation), a validity state, the key algorithm, and the chain to send along.
//!
//! Parsing is strict DER (`x509-cert`); nothing here trusts or validates a chain cryptographically:
//! that is the verifier's job on the server side.

use std::time::{SystemTime, UNIX_EPOCH};

use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use x509_cert::name::Name;

/// Errors while reading a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a DER X.509 certificate.
    #[error("not a DER X.509 certificate: {0}")]
    Der(#[from] der::Error),
    /// A PEM file held no certificate.
    #[error("no certificate in PEM data")]
    NoPem,
}

/// Whether a certificate belongs to a person (a leader) or to an organisation (its seal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A person's certificate: the competent person's signature ("chữ ký cá nhân").
    Personal,
    /// An organisation's certificate: the agency's seal ("chữ ký cơ quan, tổ chức").
    Organization,
}

impl Kind {
    /// Parses `personal` / `organization` (also `organisation`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "personal" => Some(Self::Personal),
            "organization" | "organisation" => Some(Self::Organization),
            _ => None,
        }
    }
}

/// Where `now` stands in the certificate's validity period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Validity {
    /// Inside notBefore..notAfter.
    Valid,
    /// After notAfter: listed, but signing with it is refused.
    Expired,
    /// Before notBefore: listed, but signing with it is refused.
    NotYetValid,
}

/// The public key behind a certificate, which decides the signature mechanism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// rsaEncryption; signs with PKCS#1 v1.5 unless PSS is asked for.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// id-RSASSA-PSS key: signs with PSS only.
    RsaPss {
        /// Modulus length in bits.
        bits: usize,
    },
    /// id-ecPublicKey on a named curve.
    Ec {
        /// `P-256`, `P-384`, `P-521` or the curve OID.
        curve: String,
    },
    /// Anything else (listed, cannot sign).
    Other(String),
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::RsaPss { bits } => write!(f, "RSA-PSS-{bits}"),
            Self::Ec { curve } => write!(f, "EC {curve}"),
            Self::Other(oid) => write!(f, "{oid}"),
        }
    }
}

/// A parsed certificate with the derived facts the agent shows and uses.
#[derive(Clone, Debug)]
pub struct CertificateInfo {
    /// Lower-case hex SHA-256 of the DER: the id used on the API and the command line.
    pub id: String,
    /// The DER bytes.
    pub der: Vec<u8>,
    /// Subject as `CN=…, O=…` (RFC 4514 order: most specific first).
    pub subject: String,
    /// Subject common name (the holder shown in prompts).
    pub common_name: Option<String>,
    /// Subject organisation (O).
    pub organization: Option<String>,
    /// Subject e-mail address, if any (needed for the CA's renewal forms).
    pub email: Option<String>,
    /// Issuer as `CN=…, O=…`.
    pub issuer: String,
    /// Issuer common name.
    pub issuer_common_name: Option<String>,
    /// Serial number, upper-case hex (as CAs print it on renewal forms).
    pub serial: String,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
    /// The key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Personal or organisation, by the rule in [`classify`].
    pub kind: Kind,
    /// basicConstraints cA=true.
    pub is_ca: bool,
    /// Subject DER (for chain building).
    subject_der: Vec<u8>,
    /// Issuer DER (for chain building).
    issuer_der: Vec<u8>,
}

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
const OID_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
const OID_C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const OID_L: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const OID_ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
const OID_GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");
const OID_PSEUDONYM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.65");
const OID_UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
const OID_EMAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Prefixes of Vietnamese personal identifiers carried in UID or serialNumber: identity card
/// (CMND, CMT), citizen card (CCCD), passport (HC), personal id (PID, CMTND).
const PERSONAL_ID_PREFIXES: [&str; 6] = ["CMND", "CMTND", "CMT", "CCCD", "HC", "PID"];

/// Hex SHA-256 of a certificate's DER: the certificate id everywhere in Kyso.
pub fn id_of(der: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(der))
}

impl CertificateInfo {
    /// Parses a DER certificate.
    ///
    /// # Errors
    /// [`Error::Der`] when the bytes are not a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let cert = x509_cert::Certificate::from_der(der)?;
        let tbs = &cert.tbs_certificate;
        let attrs = name_attributes(&tbs.subject);
        let issuer_attrs = name_attributes(&tbs.issuer);
        let first = |attrs: &[(ObjectIdentifier, String)], oid| {
            attrs
                .iter()
                .find(|(o, _)| *o == oid)
                .map(|(_, v)| v.clone())
        };
        let is_ca = tbs
            .extensions
            .iter()
            .flatten()
            .find(|ext| ext.extn_id == OID_BASIC_CONSTRAINTS)
            .and_then(|ext| {
                x509_cert::ext::pkix::BasicConstraints::from_der(ext.extn_value.as_bytes()).ok()
            })
            .is_some_and(|bc| bc.ca);
        Ok(Self {
            id: id_of(der),
            der: der.to_vec(),
            subject: format_name(&attrs),
            common_name: first(&attrs, OID_CN),
            organization: first(&attrs, OID_O),
            email: first(&attrs, OID_EMAIL),
            issuer: format_name(&issuer_attrs),
            issuer_common_name: first(&issuer_attrs, OID_CN),
            serial: hex::encode_upper(tbs.serial_number.as_bytes()),
            not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
            key_algorithm: key_algorithm(&tbs.subject_public_key_info),
            kind: classify(&attrs),
            is_ca,
            subject_der: tbs.subject.to_der()?,
            issuer_der: tbs.issuer.to_der()?,
        })
    }

    /// Where `now` (seconds since the epoch) stands in the validity period.
    pub fn validity_at(&self, now: u64) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    /// Validity now.
    pub fn validity(&self) -> Validity {
        self.validity_at(unix_now())
    }

    /// Whole days until notAfter (negative once expired).
    pub fn days_left(&self) -> i64 {
        (self.not_after as i64 - unix_now() as i64).div_euclid(86_400)
    }

    /// Self-signed: subject equals issuer.
    pub fn is_self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    /// The holder shown to a user: CN, else the whole subject.
    pub fn holder(&self) -> &str {
        self.common_name.as_deref().unwrap_or(&self.subject)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats seconds since the epoch as ISO 8601 UTC (`2026-11-30T10:00:00Z`).
pub fn iso8601(secs: u64) -> String {
    match der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs)) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        ),
        Err(_) => secs.to_string(),
    }
}

/// The classification rule, documented in the README:
///
/// 1. A subject with a personal identifier is **personal**: a UID or serialNumber starting with
///    CMND/CMT/CCCD/HC/PID (Vietnamese identity documents), or a givenName, surname, pseudonym or
///    title attribute (only people have those).
/// 2. Otherwise a subject with an organisation (O) is an **organization** certificate: the
///    agency's seal (Ban Cơ yếu organisation certificates carry O and the tax/budget code as
///    `UID=MST:…` / `UID=MNS:…`).
/// 3. Anything else is **personal**.
pub fn classify(subject: &[(ObjectIdentifier, String)]) -> Kind {
    let personal_id = subject.iter().any(|(oid, value)| {
        let upper = value.trim().to_uppercase();
        ((*oid == OID_UID || *oid == OID_SERIAL_NUMBER)
            && PERSONAL_ID_PREFIXES.iter().any(|p| {
                upper.starts_with(&format!("{p}:")) || upper.starts_with(&format!("{p}-"))
            }))
            || [OID_GIVEN_NAME, OID_SURNAME, OID_PSEUDONYM, OID_TITLE].contains(oid)
    });
    let has_organization = subject.iter().any(|(oid, _)| *oid == OID_O);
    if !personal_id && has_organization {
        Kind::Organization
    } else {
        Kind::Personal
    }
}

/// The attributes of a name in encoding order, each decoded to text.
pub fn name_attributes(name: &Name) -> Vec<(ObjectIdentifier, String)> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .map(|atv| (atv.oid, any_to_string(&atv.value)))
        .collect()
}

fn any_to_string(value: &der::Any) -> String {
    let bytes = value.value();
    match value.tag() {
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Tag::TeletexString => bytes.iter().map(|b| *b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn short_name(oid: &ObjectIdentifier) -> String {
    let known = [
        (OID_CN, "CN"),
        (OID_O, "O"),
        (OID_OU, "OU"),
        (OID_L, "L"),
        (OID_ST, "ST"),
        (OID_C, "C"),
        (OID_UID, "UID"),
        (OID_EMAIL, "E"),
        (OID_SERIAL_NUMBER, "SERIALNUMBER"),
        (OID_TITLE, "T"),
        (OID_GIVEN_NAME, "G"),
        (OID_SURNAME, "SN"),
    ];
    known
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| oid.to_string())
}

fn format_name(attrs: &[(ObjectIdentifier, String)]) -> String {
    attrs
        .iter()
        .rev()
        .map(|(oid, value)| format!("{}={}", short_name(oid), value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_algorithm(spki: &spki::SubjectPublicKeyInfoOwned) -> KeyAlgorithm {
    let oid = spki.algorithm.oid;
    let rsa_bits = || {
        spki.subject_public_key
            .as_bytes()
            .and_then(|bytes| RsaPublicKey::from_der(bytes).ok())
            .map(|key| key.modulus.as_bytes().len() * 8)
            .unwrap_or(0)
    };
    if oid == OID_RSA {
        KeyAlgorithm::Rsa { bits: rsa_bits() }
    } else if oid == OID_RSA_PSS {
        KeyAlgorithm::RsaPss { bits: rsa_bits() }
    } else if oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .map(|curve| match curve.to_string().as_str() {
                "1.2.840.10045.3.1.7" => "P-256".to_string(),
                "1.3.132.0.34" => "P-384".to_string(),
                "1.3.132.0.35" => "P-521".to_string(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "unknown".to_string());
        KeyAlgorithm::Ec { curve }
    } else {
        KeyAlgorithm::Other(oid.to_string())
    }
}

/// RFC 8017 RSAPublicKey, read only for the modulus length.
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

/// Builds the chain above `leaf` from a pool of certificates (those on the token and those the
/// configuration names), issuer by issuer, stopping at a self-signed certificate. The leaf is not
/// part of the result. Matching is by name only; a loop or a missing issuer ends the chain.
pub fn chain_for(leaf: &CertificateInfo, pool: &[&CertificateInfo]) -> Vec<CertificateInfo> {
    let mut chain: Vec<CertificateInfo> = Vec::new();
    let mut current = leaf;
    while !current.is_self_issued() {
        let Some(issuer) = pool.iter().copied().find(|candidate| {
            candidate.subject_der == current.issuer_der
                && candidate.id != leaf.id
                && !chain.iter().any(|c| c.id == candidate.id)
        }) else {
            break;
        };
        chain.push(issuer.clone());
        current = chain.last().unwrap_or(leaf);
    }
    chain
}

/// Days before a certificate's end when the tray and the API start warning about its renewal.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Reads every `CERTIFICATE` block of a PEM file (or a single DER certificate).
///
/// # Errors
/// [`Error::NoPem`] when the data holds no certificate.
pub fn read_pem_or_der(data: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    if data.first() == Some(&0x30) {
        return Ok(vec![data.to_vec()]);
    }
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut inside = false;
    let mut b64 = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            inside = true;
            b64.clear();
        } else if line == "-----END CERTIFICATE-----" {
            inside = false;
            if let Ok(der) =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b64)
            {
                out.push(der);
            }
        } else if inside {
            b64.push_str(line);
        }
    }
    if out.is_empty() {
        Err(Error::NoPem)
    } else {
        Ok(out)
    }
}

/// Reads the certificates of every file given; a folder stands for the certificate files in it
/// (`.pem`, `.crt`, `.cer`, `.der`, in name order), so IT can drop the agency's roots into
/// `/etc/kyso/trust-anchors/` without editing the policy.
///
/// # Errors
/// A file that cannot be read or holds no certificate, with its path.
pub fn read_certificate_files(paths: &[std::path::PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<std::path::PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["pem", "crt", "cer", "der"].contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut out = Vec::new();
    for file in files {
        let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        out.extend(read_pem_or_der(&data).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(ObjectIdentifier, &str)]) -> Vec<(ObjectIdentifier, String)> {
        pairs.iter().map(|(o, v)| (*o, (*v).to_string())).collect()
    }

    #[test]
    fn classify_vgca_organisation_subject_as_organization() {
        let subject = attrs(&[
            (OID_C, "VN"),
            (OID_L, "Hà Nội"),
            (OID_O, "VĂN PHÒNG CHÍNH PHỦ"),
            (OID_CN, "CỔNG THÔNG TIN ĐIỆN TỬ CHÍNH PHỦ"),
            (OID_UID, "MNS:1032158"),
            (OID_UID, "MST:0102357802"),
        ]);
        assert_eq!(classify(&subject), Kind::Organization);
    }

    #[test]
    fn classify_subject_with_citizen_id_as_personal_even_with_o() {
        let subject = attrs(&[
            (OID_C, "VN"),
            (OID_O, "UBND tỉnh Bắc Kạn"),
            (OID_CN, "Nguyễn Văn An"),
            (OID_UID, "CCCD:001090000001"),
        ]);
        assert_eq!(classify(&subject), Kind::Personal);
        let titled = attrs(&[
            (OID_O, "Sở TT&TT"),
            (OID_TITLE, "Giám đốc"),
            (OID_CN, "Hà Văn Tiến"),
        ]);
        assert_eq!(classify(&titled), Kind::Personal);
    }

    #[test]
    fn classify_subject_without_o_as_personal() {
        assert_eq!(
            classify(&attrs(&[(OID_CN, "Nguyễn Văn An")])),
            Kind::Personal
        );
    }

    #[test]
    fn read_pem_or_der_refuses_text_without_certificate() {
        assert!(matches!(read_pem_or_der(b"hello"), Err(Error::NoPem)));
    }

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_780_000_000), "2026-05-28T20:26:40Z");
    }
}
