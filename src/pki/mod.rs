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
    /// Vietnamese, then English.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Valid => ("hợp lệ", "valid"),
            Self::Unknown => ("chưa xác định", "validity unknown"),
            Self::Invalid => ("không hợp lệ", "invalid"),
        }
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
    /// Vietnamese, then English: what a clerk reads.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            Self::NoTrustedPath => (
                "chứng thư số không dẫn tới chứng thư gốc tin cậy",
                "the certificate does not chain to a trusted root",
            ),
            Self::Expired => ("chứng thư số đã hết hạn", "a certificate had expired"),
            Self::NotYetValid => (
                "chứng thư số chưa có hiệu lực",
                "a certificate was not yet valid",
            ),
            Self::IssuerNotCa => (
                "bên cấp chứng thư không phải tổ chức cung cấp dịch vụ chứng thực (giả mạo)",
                "an issuer is not a certification authority (forged issuer)",
            ),
            Self::IssuerKeyUsage => (
                "bên cấp chứng thư không được phép ký chứng thư số",
                "an issuer's key may not sign certificates",
            ),
            Self::PathLength => (
                "chuỗi chứng thư dài hơn mức bên cấp cho phép",
                "the path is longer than an issuer allows",
            ),
            Self::UnknownCriticalExtension => (
                "chứng thư số có phần mở rộng bắt buộc không xử lý được",
                "a certificate has a critical extension that is not understood",
            ),
            Self::NameConstraints => (
                "tên trong chứng thư số nằm ngoài phạm vi bên cấp được phép",
                "a name is outside an issuer's name constraints",
            ),
            Self::MalformedCertificate => {
                ("chứng thư số sai cấu trúc", "a certificate is malformed")
            }
            Self::KeyUsage => (
                "chứng thư số không dùng được cho mục đích này",
                "the certificate may not be used for this purpose",
            ),
            Self::Revoked => ("chứng thư số đã bị thu hồi", "a certificate was revoked"),
            Self::RevokedLater => (
                "chứng thư số bị thu hồi sau thời điểm ký đã được chứng thực (chữ ký vẫn hợp lệ)",
                "the certificate was revoked after the proven signing time (the signature stays valid)",
            ),
            Self::RevokedAfterClaimedTime => (
                "chứng thư số đã bị thu hồi; thời điểm ký không có dấu thời gian chứng thực",
                "the certificate was revoked and the signing time is not proven by a timestamp",
            ),
            Self::CrlInvalid => (
                "danh sách thu hồi (CRL) không hợp lệ",
                "a certificate revocation list is not valid",
            ),
            Self::RevocationUnavailable => (
                "không kiểm tra được trạng thái thu hồi của chứng thư số",
                "the revocation status could not be checked",
            ),
            Self::PathBuildingLimit => (
                "chuỗi chứng thư quá phức tạp để kiểm tra",
                "the certificate path is too complex to check",
            ),
            Self::UnsupportedAlgorithm => (
                "thuật toán chữ ký không được hỗ trợ",
                "a signature algorithm is not supported",
            ),
        }
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
        let (vi, en) = self.code.text();
        if self.detail.is_empty() {
            write!(f, "{vi} / {en}")
        } else {
            write!(f, "{vi} / {en} ({})", self.detail)
        }
    }
}

/// Seconds since the Unix epoch of a certificate or CRL time.
pub fn unix_seconds(time: &x509_cert::time::Time) -> u64 {
    time.to_unix_duration().as_secs()
}
