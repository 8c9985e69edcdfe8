//! The wire contract of `kyso bridge`, the stateless PDF service on the DMS server: prepare a
//! PDF, embed a CMS, verify a PDF. Files travel as base64 inside JSON. The closed sets (role,
//! level, policy, revocation) are enums, so a wrong value is refused by name when the body is
//! read and the OpenAPI document lists the values.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::digest::DigestAlgorithm;
use crate::pades::archive::Level;
use crate::pades::roles::Role;
use crate::pades::verify::Policy;

/// A rectangle on a page, in points from the bottom-left corner.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageRect {
    /// Page, from 1.
    pub page: usize,
    /// Left edge.
    pub x: f64,
    /// Bottom edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// A point on a page (the start of a text baseline), in points.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagePoint {
    /// Page, from 1.
    pub page: usize,
    /// From the left edge.
    pub x: f64,
    /// From the bottom edge.
    pub y: f64,
}

/// `POST /v1/prepare`: the stamp of one role and where it goes. Options a role does not
/// write are refused by name (`number` on an `appendix`, say).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "pdf": "JVBERi0xLjcK…",
    "role": "issue",
    "certificate": "MIIDxTCCAq2gAwIBAgIU…",
    "image": "iVBORw0KGgo…",
    "number": "12/QĐ-UBND",
    "date": "2026-12-07"
}))]
pub struct PrepareRequest {
    /// The draft, base64.
    pub pdf: String,
    /// Whose stamp: `approve` (the leader), `issue` (the clerk, with the seal), `appendix`,
    /// `copy`, `incoming`. Default `approve`.
    #[serde(default)]
    pub role: Option<Role>,
    /// The signer certificate (base64 DER), for the stamp's name and organisation.
    #[serde(default)]
    pub certificate: Option<String>,
    /// The handwritten signature or the seal, base64 PNG.
    #[serde(default)]
    pub image: Option<String>,
    /// The seal's real width in millimetres when its PNG does not say its resolution (`issue`;
    /// default: the bridge's `seal_size_mm` setting). Never guessed.
    #[serde(default)]
    pub seal_size_mm: Option<f64>,
    /// Accept a signature image that is not mostly blue or a seal that is not mostly red
    /// (agencies whose images differ); the transparent background is still required.
    #[serde(default)]
    pub any_image_colour: bool,
    /// Where the stamp goes; else `anchor`, else the role's default place (`incoming`: the
    /// free space below the number or summary line, covering no printed text).
    #[serde(default)]
    pub rect: Option<PageRect>,
    /// A text in the document the stamp is placed under (the signer's title, say).
    #[serde(default)]
    pub anchor: Option<String>,
    /// The number and symbol written at issuing (`issue`).
    #[serde(default)]
    pub number: Option<String>,
    /// The issuing date, `YYYY-MM-DD` (`issue`).
    #[serde(default)]
    #[schema(format = Date)]
    pub date: Option<String>,
    /// Where the number goes.
    #[serde(default)]
    pub number_at: Option<PagePoint>,
    /// Where the date goes.
    #[serde(default)]
    pub date_at: Option<PagePoint>,
    /// The copy form (`copy`): `sao y`, `sao lục`, `trích sao`.
    #[serde(default)]
    pub copy_form: Option<String>,
    /// The organisation named in the stamp; default the certificate's.
    #[serde(default)]
    pub organization: Option<String>,
    /// Who the incoming document goes to (`incoming`).
    #[serde(default)]
    pub forward_to: Option<String>,
    /// The file reference (`incoming`).
    #[serde(default)]
    pub file_reference: Option<String>,
    /// A stamp template replacing the role's text.
    #[serde(default)]
    pub text: Option<String>,
    /// The signature field's name; default one the document does not use.
    #[serde(default)]
    pub field: Option<String>,
    /// `/Reason` of the signature.
    #[serde(default)]
    pub reason: Option<String>,
    /// Bytes reserved for the CMS (≤ 1 MiB); default large enough for a B-LT signature.
    #[serde(default)]
    pub contents_size: Option<usize>,
    /// Mint a DMS ticket for this signature with the bridge's key (`--ticket-key`): the
    /// page passes it to the agent, which then shows this title and number as confirmed by
    /// the DMS (and refuses requests without one where the policy requires it).
    #[serde(default)]
    pub ticket: Option<TicketRequest>,
}

/// What a minted ticket vouches for, besides the digest (and the purpose, from the role).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TicketRequest {
    /// The DMS page's origin, which will call the agent (`https://qlvb.example.gov.vn`).
    pub origin: String,
    /// The document's title, as the PIN dialog shows it.
    pub title: String,
    /// Its number and symbol, when it has one.
    #[serde(default)]
    pub number: Option<String>,
}

/// `POST /v1/prepare` answer: the prepared file, to keep until the signature comes back, and
/// the digest for the agent.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "prepared": "JVBERi0xLjcK…",
    "digest": "q1xv8vE1HnQ7pQn0d0tq0Yp7lM5b6Qx8x2y9s0Zq3eA=",
    "digestAlgorithm": "SHA-256",
    "byteRange": [0, 1200, 34002, 5310],
    "field": "Signature1"
}))]
pub struct PrepareResponse {
    /// The prepared PDF (signature field and placeholder), base64.
    pub prepared: String,
    /// The digest of its byte range, base64: what `/v1/sign` signs.
    pub digest: String,
    /// Always `SHA-256`.
    pub digest_algorithm: DigestAlgorithm,
    /// The `/ByteRange` the digest covers.
    pub byte_range: [u64; 4],
    /// The signature field's name.
    pub field: String,
    /// How the places of the number and the date were dealt with: `formFields` (the
    /// leader's signature created text fields for the clerk), `recorded` (the draft already
    /// carried signatures, which a new text field would break: the places are recorded in the
    /// leader's field), `filledFields` (the clerk filled the fields) or `signatureWidgets` (the
    /// clerk's signature drew them as its own widgets). Absent when the role has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk_places: Option<crate::pades::prepare::ClerkPlaces>,
    /// The DMS ticket for this digest, when `ticket` was asked: pass it as `ticket` to the
    /// agent's `/v1/sign` (the SDK's `sign({…, ticket})`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// `POST /v1/embed`: the prepared file and the agent's CMS.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "prepared": "JVBERi0xLjcK…",
    "cms": "MIIG…",
    "level": "B-LT",
    "revocation": {"ocsp": ["MIIB…"], "crl": []},
    "chain": ["MIID…"]
}))]
pub struct EmbedRequest {
    /// The prepared PDF from `/v1/prepare`, base64.
    pub prepared: String,
    /// The CMS from `/v1/sign`, base64.
    pub cms: String,
    /// Add a signature timestamp (B-T) from the bridge's TSA.
    #[serde(default)]
    pub timestamp: bool,
    /// PAdES B-LT: the evidence `/v1/sign` returned, stored in the DSS.
    #[serde(default)]
    pub revocation: Option<super::RevocationEvidence>,
    /// PAdES B-LT: certificates of the chain (base64 DER or PEM), stored in the DSS.
    #[serde(default)]
    pub chain: Option<Vec<String>>,
    /// PAdES B-LT: fetch the chain's OCSP responses (else CRLs) now (not on an offline bridge).
    #[serde(default)]
    pub fetch_revocation: bool,
    /// The level; default `B-T` with `timestamp`, else `B-B`.
    #[serde(default)]
    pub level: Option<Level>,
}

/// `POST /v1/embed` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"signed": "JVBERi0xLjcK…"}))]
pub struct EmbedResponse {
    /// The signed PDF, base64.
    pub signed: String,
}

/// How `/v1/verify` establishes revocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RevocationCheck {
    /// OCSP, else CRL: the document's evidence first, then fetched (unless the bridge is
    /// offline).
    #[default]
    Check,
    /// The document's evidence and `crls` only.
    Offline,
    /// The certificate path only.
    Off,
}

/// `POST /v1/verify`: a PDF and what to check it against.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"pdf": "JVBERi0xLjcK…", "policy": "issued", "revocation": "check"}))]
pub struct VerifyRequest {
    /// The PDF, base64.
    pub pdf: String,
    /// A receipt policy to check: `issued` (fully electronic) or `scanned`.
    #[serde(default)]
    pub policy: Option<Policy>,
    /// Extra trusted roots, PEM.
    #[serde(default)]
    pub trust: Option<Vec<String>>,
    /// CRLs to apply (PEM, or base64 DER), in addition to the document's evidence.
    #[serde(default)]
    pub crls: Option<Vec<String>>,
    /// How revocation is established; default `check`.
    #[serde(default)]
    pub revocation: Option<RevocationCheck>,
}

/// `multipart/form-data` of `/v1/prepare`, for large PDFs: the options as JSON and the PDF as a
/// binary part; the answer is then the prepared PDF itself (`application/pdf`) with its facts
/// in `Kyso-Digest`, `Kyso-Digest-Algorithm`, `Kyso-Byte-Range` and `Kyso-Field`.
#[derive(ToSchema)]
#[allow(dead_code)] // a description of the wire only
pub struct PrepareUpload {
    /// The fields of `PrepareRequest` but `pdf`, as JSON.
    #[schema(value_type = Object)]
    options: serde_json::Value,
    /// The draft.
    #[schema(value_type = String, format = Binary)]
    pdf: Vec<u8>,
}

/// `multipart/form-data` of `/v1/embed`: the options (`cms` and the rest of `EmbedRequest`
/// but `prepared`) and the prepared PDF as a binary part; the answer is the signed PDF
/// (`application/pdf`).
#[derive(ToSchema)]
#[allow(dead_code)] // a description of the wire only
pub struct EmbedUpload {
    /// The fields of `EmbedRequest` but `prepared`, as JSON.
    #[schema(value_type = Object)]
    options: serde_json::Value,
    /// The prepared PDF.
    #[schema(value_type = String, format = Binary)]
    prepared: Vec<u8>,
}

/// `multipart/form-data` of `/v1/verify`: the options (the rest of `VerifyRequest`) and the
/// PDF as a binary part; the answer is the same JSON report.
#[derive(ToSchema)]
#[allow(dead_code)] // a description of the wire only
pub struct VerifyUpload {
    /// The fields of `VerifyRequest` but `pdf`, as JSON.
    #[schema(value_type = Object)]
    options: serde_json::Value,
    /// The PDF.
    #[schema(value_type = String, format = Binary)]
    pdf: Vec<u8>,
}

/// A PDF file as the answer's body (`application/pdf`, multipart requests).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // a description of the wire only
pub struct PdfFile(Vec<u8>);
