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
    /// The bridge: no or a wrong `Authorization: Bearer` token.
    Unauthorized,
    /// The PDF is encrypted with a user password, or with a security handler Kyso cannot open.
    PdfEncrypted,
    /// The PDF has no empty signature placeholder: it was not prepared, or is already signed.
    PdfNotPrepared,
    /// The CMS is not a usable SignedData.
    CmsInvalid,
    /// The CMS was made for other bytes than this prepared file (another preparation, another
    /// document).
    CmsMismatch,
    /// The CMS (with its timestamp and evidence) does not fit the placeholder.
    SignatureTooLarge,
    /// Where the stamp should go is not in the document: the anchor text, the page, the field,
    /// or the leader's signature a seal goes over.
    PlacementNotFound,
    /// The stamp image is not a usable PNG.
    ImageInvalid,
    /// The timestamp authority did not answer, or answered with an unusable token.
    TsaUnavailable,
    /// The DMS ticket does not hold: a wrong signature or algorithm, another origin, digest
    /// or algorithm, or an origin the policy sets no key for.
    TicketInvalid,
    /// The DMS ticket is past its `exp`.
    TicketExpired,
    /// The DMS ticket's nonce (`jti`) was used before.
    TicketReplayed,
    /// The policy requires a DMS ticket from this origin and the request has none.
    TicketRequired,
}

pub use crate::i18n::Lang;

impl ErrorCode {
    /// Every code, in the order of the contract.
    pub const ALL: [Self; 28] = [
        Self::OriginNotAllowed,
        Self::UserCancelled,
        Self::Timeout,
        Self::TokenNotPresent,
        Self::PinIncorrect,
        Self::PinLocked,
        Self::CertificateNotFound,
        Self::CertificateNotValid,
        Self::CertificateRevoked,
        Self::RevocationUnavailable,
        Self::BadRequest,
        Self::Busy,
        Self::PdfMalformed,
        Self::LimitExceeded,
        Self::Internal,
        Self::Unauthorized,
        Self::PdfEncrypted,
        Self::PdfNotPrepared,
        Self::CmsInvalid,
        Self::CmsMismatch,
        Self::SignatureTooLarge,
        Self::PlacementNotFound,
        Self::ImageInvalid,
        Self::TsaUnavailable,
        Self::TicketInvalid,
        Self::TicketExpired,
        Self::TicketReplayed,
        Self::TicketRequired,
    ];

    /// The message a user reads for this code (the catalogue's `error-…`).
    pub fn message(self, lang: Lang) -> String {
        crate::i18n::text(lang, &crate::i18n::code_id("error", self.as_str()))
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest
            | Self::PdfMalformed
            | Self::PdfEncrypted
            | Self::PdfNotPrepared
            | Self::CmsInvalid
            | Self::ImageInvalid => 400,
            Self::Unauthorized => 401,
            Self::CmsMismatch | Self::SignatureTooLarge => 409,
            Self::PlacementNotFound => 422,
            Self::TsaUnavailable => 502,
            Self::LimitExceeded => 413,
            Self::OriginNotAllowed
            | Self::TicketInvalid
            | Self::TicketExpired
            | Self::TicketReplayed
            | Self::TicketRequired => 403,
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
            Self::Unauthorized => "UNAUTHORIZED",
            Self::PdfEncrypted => "PDF_ENCRYPTED",
            Self::PdfNotPrepared => "PDF_NOT_PREPARED",
            Self::CmsInvalid => "CMS_INVALID",
            Self::CmsMismatch => "CMS_MISMATCH",
            Self::SignatureTooLarge => "SIGNATURE_TOO_LARGE",
            Self::PlacementNotFound => "PLACEMENT_NOT_FOUND",
            Self::ImageInvalid => "IMAGE_INVALID",
            Self::TsaUnavailable => "TSA_UNAVAILABLE",
            Self::TicketInvalid => "TICKET_INVALID",
            Self::TicketExpired => "TICKET_EXPIRED",
            Self::TicketReplayed => "TICKET_REPLAYED",
            Self::TicketRequired => "TICKET_REQUIRED",
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

impl From<crate::pades::roles::Role> for Purpose {
    fn from(role: crate::pades::roles::Role) -> Self {
        use crate::pades::roles::Role;
        match role {
            Role::Approve => Self::Approve,
            Role::Issue => Self::Issue,
            Role::Appendix => Self::Appendix,
            Role::Copy => Self::Copy,
            Role::Incoming => Self::Incoming,
        }
    }
}

impl Purpose {
    /// Its wire name (`approve`…), which also keys its catalogue messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Issue => "issue",
            Self::Appendix => "appendix",
            Self::Copy => "copy",
            Self::Incoming => "incoming",
        }
    }

    /// The label the PIN dialog shows (the catalogue's `purpose-…`).
    pub fn label(self, lang: Lang) -> String {
        crate::i18n::text(lang, &format!("purpose-{}", self.name()))
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
    /// The DMS server's ticket for this signature (a JWS compact JWT: `origin`, `digest`,
    /// `digestAlgorithm`, `document`, `exp`, `jti`), when the policy attests the origin: the
    /// PIN dialog then shows the ticket's document as attested by the DMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// What a DMS ticket says: the payload of the JWS compact JWT (ES256, EdDSA or RS256) a DMS
/// server signs with its own key to vouch for one signature, passed by the page as `ticket` in
/// `/v1/sign` (or per item of a batch). The agent checks it with the public key its policy
/// sets for the origin (`[attested_origins."https://…"]`) and then shows the ticket's document
/// in the PIN dialog, marked as confirmed by the DMS.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketClaims {
    /// The page origin the ticket is for (`https://qlvb.example.gov.vn`).
    pub origin: String,
    /// The digest to sign, base64, exactly as sent to `/v1/sign` (format `cms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The signed attributes, base64 (format `raw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_attributes: Option<String>,
    /// The digest algorithm.
    pub digest_algorithm: DigestAlgorithm,
    /// What the dialog shows.
    pub document: Document,
    /// Expiry, Unix seconds: at most 5 minutes ahead.
    pub exp: i64,
    /// A nonce: each ticket is accepted once.
    pub jti: String,
    /// Issued at, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
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
    /// The DMS server's ticket for this document (as in `/v1/sign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
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
    fn every_error_code_has_its_stable_name_and_a_message_in_both_languages() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("json");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let id = crate::i18n::code_id("error", code.as_str());
            let (vi, en) = (code.message(Lang::Vi), code.message(Lang::En));
            assert!(vi != id && en != id && vi != en, "{id}: {vi} / {en}");
        }
        // No wildcard: a code added to the enum stops this compiling until it joins ALL.
        let position = |code: ErrorCode| match code {
            ErrorCode::OriginNotAllowed => 0,
            ErrorCode::UserCancelled => 1,
            ErrorCode::Timeout => 2,
            ErrorCode::TokenNotPresent => 3,
            ErrorCode::PinIncorrect => 4,
            ErrorCode::PinLocked => 5,
            ErrorCode::CertificateNotFound => 6,
            ErrorCode::CertificateNotValid => 7,
            ErrorCode::CertificateRevoked => 8,
            ErrorCode::RevocationUnavailable => 9,
            ErrorCode::BadRequest => 10,
            ErrorCode::Busy => 11,
            ErrorCode::PdfMalformed => 12,
            ErrorCode::LimitExceeded => 13,
            ErrorCode::Internal => 14,
            ErrorCode::Unauthorized => 15,
            ErrorCode::PdfEncrypted => 16,
            ErrorCode::PdfNotPrepared => 17,
            ErrorCode::CmsInvalid => 18,
            ErrorCode::CmsMismatch => 19,
            ErrorCode::SignatureTooLarge => 20,
            ErrorCode::PlacementNotFound => 21,
            ErrorCode::ImageInvalid => 22,
            ErrorCode::TsaUnavailable => 23,
            ErrorCode::TicketInvalid => 24,
            ErrorCode::TicketExpired => 25,
            ErrorCode::TicketReplayed => 26,
            ErrorCode::TicketRequired => 27,
        };
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(position(code), i);
        }
    }

    #[test]
    fn sign_request_refuses_a_pin_field() {
        let body = r#"{"certificateId":"ab","digest":"AA==","digestAlgorithm":"SHA-256",
            "document":{"title":"t","purpose":"approve"},"pin":"123456"}"#;
        let err = serde_json::from_str::<SignRequest>(body).unwrap_err();
        assert!(err.to_string().contains("pin"), "{err}");
    }
}
