//! The wire contract of API v1: request and response types, the stable error codes and their
//! Vietnamese / English messages. No HTTP framework and no domain logic here: this is the source
//! the web SDK and the docs follow. Field names are camelCase on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod bridge;

use crate::certificate::{Kind, Validity};
use crate::digest::DigestAlgorithm;

/// The API version this agent speaks.
pub const API_VERSION: u32 = 1;

/// The user PIN's state on the wire: `ok`, `countLow` (a wrong PIN since the last good one),
/// `finalTry` (the next wrong PIN locks the token), `locked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PinState {
    /// No failed attempt since the last good login.
    Ok,
    /// At least one wrong PIN since the last good login.
    CountLow,
    /// The next wrong PIN locks the token.
    FinalTry,
    /// Locked: the token refuses every login.
    Locked,
}

/// Stable error codes. Never renamed or reused; new ones are only added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The requesting origin is not in the allow-list and was not approved.
    OriginNotAllowed,
    /// The user cancelled the prompt.
    UserCancelled,
    /// The user or the token did not answer in time.
    Timeout,
    /// The token holding the certificate is not plugged in.
    TokenNotPresent,
    /// Wrong PIN (or a PIN of the wrong length); `retriesLeft` when known.
    PinIncorrect,
    /// The PIN is locked; the token must be unlocked by its issuer.
    PinLocked,
    /// No certificate with that id on any token.
    CertificateNotFound,
    /// The certificate is expired or not yet valid.
    CertificateNotValid,
    /// The signer certificate or a CA certificate above it is revoked; nothing was signed.
    CertificateRevoked,
    /// The policy requires the certificate status and it could not be established (OCSP and
    /// CRL unreachable); nothing was signed.
    RevocationUnavailable,
    /// The request is malformed.
    BadRequest,
    /// Another signing operation holds the token.
    Busy,
    /// The PDF cannot be read (damaged, or not a PDF).
    PdfMalformed,
    /// The input exceeds a safety limit (size, decoded size, nesting, placeholder size).
    LimitExceeded,
    /// Anything else; details are in the agent's log only.
    Internal,
}

/// A language for user-facing messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// Tiếng Việt (default).
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language`-like string; Vietnamese unless English
    /// comes first.
    pub fn from_accept_language(header: &str) -> Self {
        let first = header
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if first.starts_with("en") {
            Self::En
        } else {
            Self::Vi
        }
    }
}

impl ErrorCode {
    /// The message a user reads for this code.
    pub fn message(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            Self::OriginNotAllowed => (
                "Trang web này chưa được phép dùng chữ ký số. Hãy liên hệ bộ phận CNTT.",
                "This website is not allowed to use digital signing. Contact your IT staff.",
            ),
            Self::UserCancelled => ("Người dùng đã hủy thao tác ký.", "Signing was cancelled."),
            Self::Timeout => (
                "Hết thời gian chờ. Vui lòng thử lại.",
                "The operation timed out. Please try again.",
            ),
            Self::TokenNotPresent => (
                "Chưa cắm thiết bị ký số (USB token). Hãy cắm token rồi thử lại.",
                "The USB token is not plugged in. Insert it and try again.",
            ),
            Self::PinIncorrect => ("Mã PIN không đúng.", "The PIN is incorrect."),
            Self::PinLocked => (
                "Mã PIN đã bị khóa. Hãy liên hệ đơn vị cấp chứng thư số để mở khóa.",
                "The PIN is locked. Ask the certificate issuer to unlock the token.",
            ),
            Self::CertificateNotFound => (
                "Không tìm thấy chứng thư số trên thiết bị.",
                "The certificate was not found on any token.",
            ),
            Self::CertificateNotValid => (
                "Chứng thư số đã hết hạn hoặc chưa có hiệu lực.",
                "The certificate is expired or not yet valid.",
            ),
            Self::CertificateRevoked => (
                "Chứng thư số đã bị thu hồi (hoặc chứng thư của CA cấp nó đã bị thu hồi). Không thể ký; hãy liên hệ đơn vị cấp chứng thư số.",
                "The certificate (or its CA's certificate) is revoked. Signing is refused; contact the certificate issuer.",
            ),
            Self::RevocationUnavailable => (
                "Không kiểm tra được trạng thái thu hồi của chứng thư số (OCSP/CRL không trả lời) và chính sách bắt buộc kiểm tra. Hãy kiểm tra kết nối mạng rồi thử lại.",
                "The certificate's revocation status could not be checked (no OCSP/CRL answer) and the policy requires it. Check the network and try again.",
            ),
            Self::BadRequest => ("Yêu cầu không hợp lệ.", "The request is invalid."),
            Self::Busy => (
                "Thiết bị ký số đang bận với một thao tác khác.",
                "The token is busy with another operation.",
            ),
            Self::PdfMalformed => (
                "Tệp PDF bị hỏng hoặc không phải PDF.",
                "The PDF is damaged or not a PDF.",
            ),
            Self::LimitExceeded => (
                "Dữ liệu vượt quá giới hạn an toàn.",
                "The input exceeds a safety limit.",
            ),
            Self::Internal => (
                "Lỗi hệ thống. Xem nhật ký của Kyso.",
                "Internal error. See the Kyso log.",
            ),
        };
        match lang {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest | Self::PdfMalformed => 400,
            Self::LimitExceeded => 413,
            Self::OriginNotAllowed => 403,
            Self::CertificateNotFound => 404,
            Self::Timeout => 408,
            Self::UserCancelled
            | Self::TokenNotPresent
            | Self::PinIncorrect
            | Self::PinLocked
            | Self::CertificateNotValid
            | Self::CertificateRevoked => 409,
            Self::Busy | Self::RevocationUnavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The wire name (`PIN_INCORRECT`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            Self::UserCancelled => "USER_CANCELLED",
            Self::Timeout => "TIMEOUT",
            Self::TokenNotPresent => "TOKEN_NOT_PRESENT",
            Self::PinIncorrect => "PIN_INCORRECT",
            Self::PinLocked => "PIN_LOCKED",
            Self::CertificateNotFound => "CERTIFICATE_NOT_FOUND",
            Self::CertificateNotValid => "CERTIFICATE_NOT_VALID",
            Self::CertificateRevoked => "CERTIFICATE_REVOKED",
            Self::RevocationUnavailable => "REVOCATION_UNAVAILABLE",
            Self::BadRequest => "BAD_REQUEST",
            Self::Busy => "BUSY",
            Self::PdfMalformed => "PDF_MALFORMED",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::Internal => "INTERNAL",
        }
    }
}

/// `{"error": {...}}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// The error body.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Message in the requested language.
    pub message: String,
    /// Wrong PIN: retries left, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries_left: Option<u32>,
}

/// What the signature is for; shown in the PIN prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// The leader approves a draft ("Ký phê duyệt").
    Approve,
    /// The clerk issues it with the organisation's seal ("Ký phát hành").
    Issue,
    /// A separate attached file ("Ký văn bản kèm theo").
    Appendix,
    /// An electronic copy ("Ký sao văn bản").
    Copy,
    /// An incoming document ("Ký văn bản đến").
    Incoming,
}

impl Purpose {
    /// The Vietnamese label a user reads, then the English one.
    pub fn label(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            Self::Approve => ("Ký phê duyệt", "Approval signature"),
            Self::Issue => ("Ký phát hành", "Issuing signature"),
            Self::Appendix => ("Ký văn bản kèm theo", "Attachment signature"),
            Self::Copy => ("Ký sao văn bản", "Copy signature"),
            Self::Incoming => ("Ký văn bản đến", "Incoming document signature"),
        };
        match lang {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// The document being signed, as the DMS describes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    /// Title ("Quyết định về việc …").
    pub title: String,
    /// Number and symbol ("12/QĐ-UBND"), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Why it is signed.
    pub purpose: Purpose,
}

/// `cms` (the agent builds CAdES) or `raw` (the server built the signed attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignFormat {
    /// Detached CMS SignedData around the digest.
    #[default]
    Cms,
    /// A bare signature over server-built signed attributes.
    Raw,
}

/// Certificate as listed by `GET /v1/certificates` and `kyso certs --json`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDto {
    /// Hex SHA-256 of the DER.
    pub id: String,
    /// Subject (`CN=…, O=…`).
    pub subject: String,
    /// Holder (subject CN).
    pub holder: String,
    /// Subject organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Subject e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Issuer (`CN=…, O=…`).
    pub issuer: String,
    /// Serial, upper-case hex.
    pub serial: String,
    /// notBefore, ISO 8601 UTC.
    pub not_before: String,
    /// notAfter, ISO 8601 UTC.
    pub not_after: String,
    /// Validity now.
    pub validity: Validity,
    /// Days until notAfter.
    pub days_left: i64,
    /// `RSA-2048`, `EC P-256`…
    pub key_algorithm: String,
    /// personal / organization.
    pub kind: Kind,
    /// Label and serial of the token that holds it.
    pub token: TokenRefDto,
    /// The certificate, base64 DER.
    pub certificate: String,
    /// The chain above it, base64 DER, issuer first.
    pub chain: Vec<String>,
}

/// Which token.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRefDto {
    /// Label.
    pub label: String,
    /// Serial number.
    pub serial: String,
    /// Plugged in now.
    pub present: bool,
}

/// A token in `GET /v1/status` and `kyso certs --json`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenDto {
    /// Label.
    pub label: String,
    /// Model.
    pub model: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Serial number.
    pub serial: String,
    /// Plugged in now.
    pub present: bool,
    /// PIN state.
    pub pin_state: PinState,
    /// Retries left, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries_left: Option<u32>,
    /// Pin-pad reader.
    pub protected_auth_path: bool,
    /// Module path.
    pub module: String,
    /// Ids of the signing certificates on it.
    pub certificates: Vec<String>,
}

/// `GET /v1/status` and `kyso certs --json`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    /// Agent version.
    pub agent_version: String,
    /// API version.
    pub api_version: u32,
    /// Tokens.
    pub tokens: Vec<TokenDto>,
    /// Signing certificates.
    pub certificates: Vec<CertificateDto>,
}

/// `POST /v1/sign` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignResponse {
    /// Base64 DER CMS (format `cms`), absent for `raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cms: Option<String>,
    /// Base64 signature value.
    pub signature: String,
    /// `RSASSA-PKCS1-v1_5-SHA-256`, `ECDSA-SHA-256`…
    pub signature_algorithm: String,
    /// Signer certificate, base64 DER.
    pub certificate: String,
    /// Chain, base64 DER.
    pub chain: Vec<String>,
    /// The revocation data the agent checked before signing (OCSP responses, CRLs), for the
    /// DMS to store in the PDF (PAdES B-LT, `kyso pdf embed --revocation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationEvidence>,
    /// What the status check established: `good`, `unknown` (signed after a warning) or
    /// `notChecked` (the policy turns the check off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_status: Option<RevocationStatus>,
}

/// Revocation data, base64 DER.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RevocationEvidence {
    /// DER OCSPResponse, base64.
    pub ocsp: Vec<String>,
    /// DER CertificateList, base64.
    pub crl: Vec<String>,
}

/// The outcome of the status check before signing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RevocationStatus {
    /// The signer and every CA above it are not revoked.
    Good,
    /// Not determinable; the signer was warned and signed.
    Unknown,
    /// No check (policy `revocation_check = "off"`).
    NotChecked,
}

/// Request of `POST /v1/sign`: wire form, validated by [`crate::signing`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// Certificate id.
    pub certificate_id: String,
    /// Base64 digest of the document's ByteRange (format `cms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Base64 DER of server-built signed attributes (format `raw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_attributes: Option<String>,
    /// Digest algorithm.
    pub digest_algorithm: DigestAlgorithm,
    /// `cms` or `raw`.
    #[serde(default)]
    pub format: SignFormat,
    /// The document.
    pub document: Document,
}

/// `GET /v1/certificates` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificatesResponse {
    /// Signing certificates (all tokens seen; `token.present` tells which can sign now).
    pub certificates: Vec<CertificateDto>,
}

/// One document of a batch.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchItem {
    /// Base64 digest (format `cms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Base64 DER signed attributes (format `raw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_attributes: Option<String>,
    /// The document.
    pub document: Document,
}

/// `POST /v1/sign/batch`: one certificate, one algorithm, one format for every item.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchSignRequest {
    /// Certificate id.
    pub certificate_id: String,
    /// Digest algorithm.
    pub digest_algorithm: DigestAlgorithm,
    /// `cms` or `raw`.
    #[serde(default)]
    pub format: SignFormat,
    /// The documents (1 to [`MAX_BATCH`]).
    pub items: Vec<BatchItem>,
}

/// The most documents one batch may carry.
pub const MAX_BATCH: usize = 500;

/// One result of a batch: a signature or an error.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    /// Signed.
    Signed(SignResponse),
    /// Failed.
    Failed(ErrorResponse),
}

/// `POST /v1/sign/batch` answer, one result per item, in order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchSignResponse {
    /// Results.
    pub results: Vec<BatchResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialize_to_their_stable_names() {
        for code in [
            ErrorCode::OriginNotAllowed,
            ErrorCode::PinIncorrect,
            ErrorCode::TokenNotPresent,
            ErrorCode::CertificateNotValid,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).expect("json");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(!code.message(Lang::Vi).is_empty());
        }
    }

    #[test]
    fn sign_request_refuses_a_pin_field() {
        let body = r#"{"certificateId":"ab","digest":"AA==","digestAlgorithm":"SHA-256",
            "document":{"title":"t","purpose":"approve"},"pin":"123456"}"#;
        let err = serde_json::from_str::<SignRequest>(body).unwrap_err();
        assert!(err.to_string().contains("pin"), "{err}");
    }

    #[test]
    fn accept_language_prefers_vietnamese_unless_english_first() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("vi-VN,en;q=0.5"), Lang::Vi);
        assert_eq!(Lang::from_accept_language(""), Lang::Vi);
    }
}
