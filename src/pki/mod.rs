//! Public-key infrastructure checks a verifier can stake a decision on: RFC 5280 certification
//! path building and validation ([`path`]), name constraints ([`names`]), CRLs ([`crl`]) and
//! the signature algorithms behind all of them ([`algorithm`]).
//!
//! The outcome of a check is one of letter 000's three states: valid (proven), invalid (proven
//! wrong: expired, revoked, a forged issuer…) or unknown (not provable here: no path to a trusted
//! root, no usable revocation status). Every reason has a stable code for `--json` and the
//! bridge, and a Vietnamese and an English text for people.

pub mod algorithm;
pub mod check;
pub mod crl;
pub mod names;
pub mod path;
pub mod revocation;

use serde::Serialize;

/// The three states a reader sees (letter 000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Hợp lệ: proven valid.
    Valid,
    /// Chưa xác định (chưa kiểm tra được tính hợp lệ): not provable here.
    Unknown,
    /// Không hợp lệ: proven not valid.
    Invalid,
}

impl Verdict {
    /// What a reader sees (the catalogue's `verdict-…`).
    pub fn label(self, lang: crate::i18n::Lang) -> String {
        let name = match self {
            Self::Valid => "valid",
            Self::Unknown => "unknown",
            Self::Invalid => "invalid",
        };
        crate::i18n::text(lang, &format!("verdict-{name}"))
    }
}

/// Why a certificate (or a path) is not valid, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// No path from the certificate to a configured trust anchor.
    NoTrustedPath,
    /// A certificate of the path had expired at the validation time.
    Expired,
    /// A certificate of the path was not yet valid at the validation time.
    NotYetValid,
    /// An issuer is not a CA (basic constraints absent or cA false): a forged issuer.
    IssuerNotCa,
    /// An issuer's key usage does not allow signing certificates (keyCertSign).
    IssuerKeyUsage,
    /// A CA's pathLenConstraint is exceeded.
    PathLength,
    /// A certificate carries a critical extension Kyso does not process.
    UnknownCriticalExtension,
    /// A name is outside a CA's name constraints.
    NameConstraints,
    /// A certificate is malformed or breaks an RFC 5280 rule (duplicate extensions, a
    /// signature algorithm that differs from the one in the signed part…).
    MalformedCertificate,
    /// The end certificate may not be used for this purpose (key usage, extended key usage).
    KeyUsage,
    /// A certificate of the path was revoked at the validation time.
    Revoked,
    /// A note on a valid verdict: revoked, but after the proven signing time.
    RevokedLater,
    /// Revoked after the claimed signing time, which no timestamp proves.
    RevokedAfterClaimedTime,
    /// A CRL that covers a certificate of the path is itself not valid.
    CrlInvalid,
    /// The revocation status of a certificate of the path could not be established.
    RevocationUnavailable,
    /// Path building gave up (too many candidates, too deep, too many name comparisons).
    PathBuildingLimit,
    /// A signature or key algorithm Kyso cannot check.
    UnsupportedAlgorithm,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Self; 17] = [
        Self::NoTrustedPath,
        Self::Expired,
        Self::NotYetValid,
        Self::IssuerNotCa,
        Self::IssuerKeyUsage,
        Self::PathLength,
        Self::UnknownCriticalExtension,
        Self::NameConstraints,
        Self::MalformedCertificate,
        Self::KeyUsage,
        Self::Revoked,
        Self::RevokedLater,
        Self::RevokedAfterClaimedTime,
        Self::CrlInvalid,
        Self::RevocationUnavailable,
        Self::PathBuildingLimit,
        Self::UnsupportedAlgorithm,
    ];

    /// The stable code (`NO_TRUSTED_PATH`), as the reports carry it.
    pub fn code(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// What a clerk reads (the catalogue's `reason-…`).
    pub fn message(self, lang: crate::i18n::Lang) -> String {
        crate::i18n::text(lang, &crate::i18n::code_id("reason", &self.code()))
    }

    /// Whether this reason proves the certificate wrong (invalid) or only leaves its validity
    /// unproven (unknown).
    pub fn is_proof_of_invalidity(self) -> bool {
        !matches!(
            self,
            Self::NoTrustedPath
                | Self::RevokedLater
                | Self::RevokedAfterClaimedTime
                | Self::CrlInvalid
                | Self::RevocationUnavailable
                | Self::PathBuildingLimit
                | Self::UnsupportedAlgorithm
        )
    }
}

/// One reason with the detail that locates it (which certificate, which CRL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The stable code.
    pub code: Reason,
    /// Where, in English (a subject, a date): for logs and the report's small print.
    pub detail: String,
}

impl Finding {
    /// A finding with its detail.
    pub fn new(code: Reason, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = crate::i18n::both(&crate::i18n::code_id("reason", &self.code.code()), &[]);
        if self.detail.is_empty() {
            write!(f, "{text}")
        } else {
            write!(f, "{text} ({})", self.detail)
        }
    }
}

/// Seconds since the Unix epoch of a certificate or CRL time.
pub fn unix_seconds(time: &x509_cert::time::Time) -> u64 {
    time.to_unix_duration().as_secs()
}
