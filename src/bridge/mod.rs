//! `kyso bridge`: the PDF side as an HTTP service for DMS servers in any language (Java, .NET,
//! PHP…): prepare a PDF (returns the prepared file and its digest), embed a CMS (checks it
//! belongs to the prepared file), verify a PDF. It keeps nothing between calls, so any number of
//! bridges can run behind a load balancer; the DMS keeps the prepared file in its own storage.
//! Bodies are JSON with base64 files, bounded in size; a few operations run at once, more get
//! `BUSY`. It can also serve the demo DMS page and the web SDK.

mod files;
mod service;
pub mod ticket;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;

use crate::api::bridge::{
    EmbedRequest, EmbedResponse, PagePoint, PrepareRequest, PrepareResponse, RevocationCheck,
    VerifyRequest,
};
use crate::api::{ErrorBody, ErrorCode, ErrorResponse, Lang};
use crate::certificate::{self, CertificateInfo};
use crate::pades::prepare::Placement;
use crate::pades::roles::{self, Anchor, Role, RoleRequest, StampFields, StampSpec};

pub use service::Metrics;

/// How the bridge runs.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// Largest request body in bytes (a PDF in base64 is 4/3 of its size).
    pub max_body: usize,
    /// Operations at once; more get `BUSY`.
    pub concurrency: usize,
    /// Roots trusted by verify.
    pub trust_anchors: Vec<Vec<u8>>,
    /// TSA for `timestamp: true` on embed.
    pub tsa_url: Option<String>,
    /// Never fetch revocation data (air-gapped): status only from the document and `crls`.
    pub offline: bool,
    /// CRLs (DER) applied to every verification, e.g. those IT copies to an air-gapped server.
    pub crls: Vec<Vec<u8>>,
    /// Folder with the demo page (`demo/`) and the built SDK (`dist/`): `web-sdk/`.
    pub web_dir: Option<PathBuf>,
    /// Folder with the demo's sample files (sample.pdf, signature.png, seal.png).
    pub samples_dir: Option<PathBuf>,
    /// The agent port the demo page should use (served as `/config.json`).
    pub agent_port: Option<u16>,
    /// The OpenAPI document served as `/openapi.json` ([`crate::contract::document`], given
    /// by the caller: the contract documents these handlers, so the bridge does not name it).
    pub openapi: Option<&'static str>,
    /// The bearer token every `/v1/` and `/metrics` request must carry; `None` only when the
    /// operator chose `--insecure-no-auth` (or for the loopback demo).
    pub token: Option<String>,
    /// The agency seal's real width (mm) for seal PNGs that do not say their resolution.
    pub seal_size_mm: Option<f64>,
    /// The DMS's private key: prepare mints a ticket when asked (`ticket`).
    pub ticket_key: Option<std::sync::Arc<ticket::TicketKey>>,
}

pub(crate) struct Shared {
    config: BridgeConfig,
    slots: Arc<tokio::sync::Semaphore>,
    metrics: Metrics,
}

/// Why a request failed: a stable code and, for the caller's own mistakes (`BAD_REQUEST`,
/// `PLACEMENT_NOT_FOUND`), what was wrong with the input. Turned into the answer once, in the
/// caller's language.
#[derive(Debug)]
pub(crate) struct Failure {
    code: ErrorCode,
    detail: String,
}

impl Failure {
    fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: String::new(),
        }
    }

    /// The answer: the code's status and its catalogue message in `lang`.
    fn into_response(self, lang: Lang) -> Response {
        let status =
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let message = if self.detail.is_empty() {
            self.code.message(lang)
        } else {
            format!("{} ({})", self.code.message(lang), self.detail)
        };
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code,
                message,
                retries_left: None,
            },
        };
        let mut response =
            (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
        response.extensions_mut().insert(self.code);
        response
    }
}

fn bad(detail: &str) -> Failure {
    Failure {
        code: ErrorCode::BadRequest,
        detail: detail.to_string(),
    }
}

/// The caller's language, from `Accept-Language` (Vietnamese unless English comes first).
fn lang_of(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

/// Answers a handler's result in the request's language.
fn answer(result: Result<Response, Failure>, lang: Lang) -> Response {
    result.unwrap_or_else(|failure| failure.into_response(lang))
}

/// Where a request's PDF is: decoded from the JSON's base64, or streamed to a temporary file
/// from a multipart part (large documents; see `files`).
enum Source {
    Bytes(Vec<u8>),
    File(tempfile::TempPath),
}

/// Reads an operation's request: JSON (the file in base64 in `file_field`), or multipart with
/// the file as a binary part (then returned as a temporary file).
async fn read<T: for<'de> Deserialize<'de>>(
    request: Request,
    file_field: &str,
    limit: usize,
) -> Result<(T, Option<tempfile::TempPath>), Failure> {
    if files::is_multipart(&request) {
        let (input, file) = files::read(request, file_field, limit).await?;
        Ok((input, Some(file)))
    } else {
        Ok((body(request, limit).await?, None))
    }
}

/// The certificates among `ders` that parse (the chain a client sent for the DSS).
fn parse_certificates(ders: &[Vec<u8>]) -> Vec<x509_cert::Certificate> {
    ders.iter()
        .filter_map(|d| <x509_cert::Certificate as der::Decode>::from_der(d).ok())
        .collect()
}

/// 404 for a path the bridge does not serve.
fn not_found(detail: &str) -> Response {
    let mut response = bad(detail).into_response(Lang::Vi);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A slot of the concurrency limit, taken before the body is read (so that many large bodies
/// cannot be buffered at once) and held until the work is finished, even when the client has
/// gone; with a body announced larger than the limit refused before a byte of it is read.
struct Admission {
    permit: tokio::sync::OwnedSemaphorePermit,
}

fn admit(shared: &Shared, request: &Request) -> Result<Admission, Failure> {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > shared.config.max_body as u64) {
        return Err(Failure {
            code: ErrorCode::LimitExceeded,
            detail: format!("body > {} bytes", shared.config.max_body),
        });
    }
    let permit = shared
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| Failure::new(ErrorCode::Busy))?;
    Ok(Admission { permit })
}

/// Set when the handler is dropped (the client went away): long work checks it and stops.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn body<T: for<'de> Deserialize<'de>>(request: Request, limit: usize) -> Result<T, Failure> {
    let bytes = to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| Failure {
            code: ErrorCode::LimitExceeded,
            detail: format!("body > {limit} bytes"),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        bad(e
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or("invalid JSON"))
    })
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, Failure> {
    B64.decode(text.trim())
        .map_err(|_| bad(&format!("{field} is not base64")))
}

/// Runs `work` on a blocking thread within the admission's slot. A panic is logged and
/// answered `INTERNAL` without its text (no internal detail goes back to the caller).
async fn run_limited<T: Send + 'static>(
    admission: Admission,
    work: impl FnOnce() -> Result<T, crate::pades::Error> + Send + 'static,
) -> Result<T, Failure> {
    let permit = admission.permit;
    let task = tokio::task::spawn_blocking(move || {
        let result = work();
        drop(permit);
        result
    });
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(pades_failure(&e)),
        Err(e) => {
            tracing::error!(error = %e, "bridge work failed");
            Err(Failure::new(ErrorCode::Internal))
        }
    }
}

/// One mapping from PDF-tool errors to stable codes. Only the caller's own mistakes carry a
/// detail (in English, naming no option of the command line and no internal state); the rest
/// is the code's message alone, and the log has the cause.
fn pades_failure(e: &crate::pades::Error) -> Failure {
    use crate::pades::pdf::Error as PdfError;
    use crate::pades::Error as E;
    let with_detail = |code| Failure {
        code,
        detail: e.to_string(),
    };
    match e {
        E::Pdf(PdfError::TooLarge(_)) => with_detail(ErrorCode::LimitExceeded),
        E::Pdf(PdfError::Encrypted(_)) => Failure::new(ErrorCode::PdfEncrypted),
        E::Pdf(PdfError::Syntax(_) | PdfError::Missing(..)) => {
            Failure::new(ErrorCode::PdfMalformed)
        }
        E::Image(_) => Failure::new(ErrorCode::ImageInvalid),
        E::Placement(m) if m.contains("limit") => with_detail(ErrorCode::LimitExceeded),
        E::Placement(_) => with_detail(ErrorCode::BadRequest),
        E::PlacementNotFound(what) => Failure {
            code: ErrorCode::PlacementNotFound,
            detail: what.clone(),
        },
        E::NoPlaceholder => Failure::new(ErrorCode::PdfNotPrepared),
        E::Cms(_) => Failure::new(ErrorCode::CmsInvalid),
        E::CmsMismatch => Failure::new(ErrorCode::CmsMismatch),
        E::CmsTooLarge { needed, available } => Failure {
            code: ErrorCode::SignatureTooLarge,
            detail: format!("{needed} > {available} bytes: give a larger contentsSize"),
        },
        E::Timestamp(why) => {
            tracing::warn!(%why, "timestamp authority");
            Failure::new(ErrorCode::TsaUnavailable)
        }
        E::Cancelled | E::Io(_) | E::Font(_) | E::Internal(_) => {
            tracing::error!(error = %e, "bridge work failed");
            Failure::new(ErrorCode::Internal)
        }
    }
}

/// Adds the signature field, the role's stamp and the placeholder; returns the prepared PDF
/// and the digest to sign. Keeps nothing: the DMS stores the prepared file.
#[utoipa::path(
    post, path = "/v1/prepare", tag = "bridge", operation_id = "preparePdf",
    security(()),
    request_body(content(
        (PrepareRequest = "application/json"),
        (crate::api::bridge::PrepareUpload = "multipart/form-data"),
    )),
    responses((status = 200, description = "The prepared PDF and the digest to sign: JSON for a \
JSON request, the PDF itself for a multipart one",
        content(
            (PrepareResponse = "application/json"),
            (crate::api::bridge::PdfFile = "application/pdf"),
        ),
        headers(
            ("Kyso-Digest" = String, description = "multipart: the digest to sign, base64"),
            ("Kyso-Digest-Algorithm" = String, description = "multipart: SHA-256"),
            ("Kyso-Byte-Range" = String, description = "multipart: the /ByteRange, four numbers"),
            ("Kyso-Field" = String, description = "multipart: the signature field's name"),
            ("Kyso-Ticket" = String, description = "multipart: the DMS ticket, when `ticket` was asked"),
            ("Kyso-Clerk-Places" = String, description = "multipart: how the number's and \
date's places were dealt with (`clerkPlaces`)"),
        ),
    )),
)]
pub(crate) async fn prepare(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let lang = lang_of(request.headers());
    answer(prepare_request(shared, request).await, lang)
}

async fn prepare_request(shared: Arc<Shared>, request: Request) -> Result<Response, Failure> {
    let admission = admit(&shared, &request)?;
    let (input, pdf): (PrepareRequest, _) = read(request, "pdf", shared.config.max_body).await?;
    let pdf = match pdf {
        Some(file) => Source::File(file),
        None => Source::Bytes(b64("pdf", &input.pdf)?),
    };
    let role = input.role.unwrap_or(Role::Approve);
    if input.seal_size_mm.is_some() && role != Role::Issue {
        return Err(bad(
            "sealSizeMm is the seal's size: only for the issue role",
        ));
    }
    let signer = match input.certificate.as_deref().map(|c| b64("certificate", c)) {
        Some(Ok(der)) => match CertificateInfo::from_der(&der) {
            Ok(info) => Some(info),
            Err(e) => return Err(bad(&e.to_string())),
        },
        Some(Err(r)) => return Err(r),
        None => None,
    };
    let image = match input.image.as_deref().map(|i| b64("image", i)) {
        Some(Ok(bytes)) => match crate::pades::image::RgbaImage::from_png(&bytes) {
            Ok(image) => Some(match input.seal_size_mm.or(shared.config.seal_size_mm) {
                Some(mm) if role == Role::Issue => image.with_width_mm(mm),
                _ => image,
            }),
            Err(e) => return Err(pades_failure(&e.into())),
        },
        Some(Err(r)) => return Err(r),
        None => None,
    };
    let date = match input.date.as_deref() {
        Some(text) => match time::Date::parse(
            text,
            &time::macros::format_description!("[year]-[month]-[day]"),
        ) {
            Ok(d) => Some(d),
            Err(_) => return Err(bad("date is YYYY-MM-DD")),
        },
        None => None,
    };
    let anchor = |a: Option<PagePoint>| {
        a.map(|a| Anchor {
            page: a.page,
            x: a.x,
            y: a.y,
        })
    };
    let fields = StampFields {
        image,
        placement: input.rect.map(|r| Placement {
            page: r.page,
            rect: [r.x, r.y, r.width, r.height],
        }),
        anchor: input.anchor,
        number: input.number,
        date,
        number_at: anchor(input.number_at),
        date_at: anchor(input.date_at),
        copy_form: input.copy_form,
        forward_to: input.forward_to,
        file_reference: input.file_reference,
        any_colour: input.any_image_colour,
    };
    // The JSON spelling of an option, for the error message.
    let camel = |name: &str| {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    let stamp = match StampSpec::from_fields(role, fields, camel) {
        Ok(stamp) => stamp,
        Err(e) => return Err(bad(&e.to_string())),
    };
    let role_request = RoleRequest {
        stamp,
        organization: input
            .organization
            .or_else(|| signer.as_ref().and_then(|s| s.organization.clone())),
        time: crate::pades::vietnam_now(),
        font: None,
        template: input.text,
        signer: signer.as_ref().map(|s| s.holder().to_string()),
    };
    let extras = roles::Extras {
        field_name: input.field,
        reason: input.reason,
        contents_size: input.contents_size.unwrap_or(0),
    };
    // A ticket for the digest, when the DMS asks the bridge to vouch for it.
    let minter = match (input.ticket, &shared.config.ticket_key) {
        (Some(request), Some(key)) => {
            // The agent compares it with the page's origin exactly; here only its shape.
            let origin = request.origin.trim();
            if origin.len() > 255
                || !(origin.starts_with("https://") || origin.starts_with("http://"))
                || origin.splitn(4, '/').nth(3).is_some()
            {
                return Err(bad("ticket.origin is an origin (https://host[:port])"));
            }
            if request.title.trim().is_empty() || request.title.len() > 1000 {
                return Err(bad("ticket.title is 1 to 1000 bytes"));
            }
            let key = key.clone();
            let purpose = crate::api::Purpose::from(role);
            Some(move |digest: &str| {
                key.mint(
                    &request.origin,
                    digest,
                    crate::api::Document {
                        title: request.title,
                        number: request.number,
                        purpose,
                    },
                    time::OffsetDateTime::now_utc().unix_timestamp(),
                )
                .map_err(|e| {
                    tracing::error!(error = %e, "ticket not minted");
                    Failure::new(ErrorCode::Internal)
                })
            })
        }
        (Some(_), None) => {
            return Err(bad(
                "this bridge has no ticket key (kyso bridge --ticket-key) to mint tickets with",
            ))
        }
        (None, _) => None,
    };
    let pdf = match pdf {
        Source::Bytes(pdf) => pdf,
        Source::File(input) => {
            let output = files::output()?;
            let written = output.to_path_buf();
            let prepared = run_limited(admission, move || {
                let map = crate::pades::map_file(&input)?;
                let doc = crate::pades::pdf::Document::load(&map)?;
                let request = roles::prepare_request(&doc, &map, &role_request, extras)?;
                drop(doc);
                drop(map);
                crate::pades::prepare_file(&input, &written, &request)
            })
            .await?;
            let [a, b, c, d] = prepared.byte_range;
            let mut headers = vec![
                (
                    HeaderName::from_static("kyso-digest"),
                    B64.encode(&prepared.digest),
                ),
                (
                    HeaderName::from_static("kyso-digest-algorithm"),
                    "SHA-256".into(),
                ),
                (
                    HeaderName::from_static("kyso-byte-range"),
                    format!("{a} {b} {c} {d}"),
                ),
                (HeaderName::from_static("kyso-field"), prepared.field),
            ];
            if let Some(places) = prepared.clerk_places {
                headers.push((
                    HeaderName::from_static("kyso-clerk-places"),
                    places.wire_name().into(),
                ));
            }
            if let Some(mint) = minter {
                headers.push((
                    HeaderName::from_static("kyso-ticket"),
                    mint(&B64.encode(&prepared.digest))?,
                ));
            }
            return files::pdf_response(output, headers).await;
        }
    };
    let result = run_limited(admission, move || {
        let doc = crate::pades::pdf::Document::load(&pdf)?;
        let request = roles::prepare_request(&doc, &pdf, &role_request, extras)?;
        drop(doc);
        crate::pades::prepare_bytes(&pdf, &request)
    })
    .await?;
    let (bytes, prepared) = result;
    let digest = B64.encode(&prepared.digest);
    let ticket = match minter {
        Some(mint) => Some(mint(&digest)?),
        None => None,
    };
    Ok(Json(PrepareResponse {
        prepared: B64.encode(&bytes),
        digest,
        digest_algorithm: crate::digest::DigestAlgorithm::Sha256,
        byte_range: prepared.byte_range,
        field: prepared.field,
        clerk_places: prepared.clerk_places,
        ticket,
    })
    .into_response())
}

/// Writes the CMS into the prepared PDF after checking they belong together; optionally a
/// timestamp (B-T), the validation data (B-LT) and a document timestamp (B-LTA).
#[utoipa::path(
    post, path = "/v1/embed", tag = "bridge", operation_id = "embedSignature",
    security(()),
    request_body(content(
        (EmbedRequest = "application/json"),
        (crate::api::bridge::EmbedUpload = "multipart/form-data"),
    )),
    responses((status = 200, description = "The signed PDF: JSON for a JSON request, the PDF \
itself for a multipart one",
        content(
            (EmbedResponse = "application/json"),
            (crate::api::bridge::PdfFile = "application/pdf"),
        ),
    )),
)]
pub(crate) async fn embed(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let lang = lang_of(request.headers());
    answer(embed_request(shared, request).await, lang)
}

async fn embed_request(shared: Arc<Shared>, request: Request) -> Result<Response, Failure> {
    let admission = admit(&shared, &request)?;
    let (input, file): (EmbedRequest, _) =
        read(request, "prepared", shared.config.max_body).await?;
    let cms = b64("cms", &input.cms)?;
    let prepared = match file {
        Some(file) => Source::File(file),
        None => Source::Bytes(b64("prepared", &input.prepared)?),
    };
    let level = match input.level {
        Some(level) => level,
        None if input.timestamp => crate::pades::archive::Level::T,
        None => crate::pades::archive::Level::B,
    };
    let tsa_url = shared.config.tsa_url.clone();
    if level.needs_tsa() && tsa_url.is_none() {
        return Err(bad("no tsa_url configured for timestamps"));
    }
    // Revocation data is gathered for B-LT and above, or when asked.
    let dss_level = if input.fetch_revocation {
        level.max(crate::pades::archive::Level::Lt)
    } else {
        level
    };
    let anchors: Vec<x509_cert::Certificate> = shared
        .config
        .trust_anchors
        .iter()
        .filter_map(|d| <x509_cert::Certificate as der::Decode>::from_der(d).ok())
        .collect();
    let mut data = crate::pades::dss::ValidationData::default();
    let revocation = input.revocation.unwrap_or_default();
    for (field, list, into) in [
        ("revocation.ocsp", &revocation.ocsp, &mut data.ocsps),
        ("revocation.crl", &revocation.crl, &mut data.crls),
    ] {
        for item in list {
            match b64(field, item) {
                Ok(der) => into.push(der),
                Err(r) => return Err(r),
            }
        }
    }
    for item in input.chain.unwrap_or_default() {
        let parsed = certificate::read_pem_or_der(item.as_bytes())
            .ok()
            .or_else(|| B64.decode(item.trim()).ok().map(|der| vec![der]));
        match parsed {
            Some(mut ders) => data.certs.append(&mut ders),
            None => return Err(bad("chain: not PEM or base64 DER certificates")),
        }
    }
    let offline = shared.config.offline;
    // A prepared file that came as a binary part is signed from disk into a temporary file
    // and streamed back; one that came in the JSON is signed in memory.
    let output = match &prepared {
        Source::File(_) => Some(files::output()?),
        Source::Bytes(_) => None,
    };
    let written = output.as_ref().map(|o| o.to_path_buf());
    let signed = run_limited(admission, move || {
        let network = crate::pki::revocation::HttpFetch::default();
        let revocation: &dyn crate::pki::revocation::Fetch = if offline {
            &crate::pki::revocation::NoFetch
        } else {
            &network
        };
        let tsa = tsa_url.as_deref().map(|url| crate::pades::timestamp::Tsa {
            url,
            anchors: &anchors,
            fetch: &network,
        });
        let stamp = tsa.as_ref().filter(|_| level.needs_tsa());
        let extra = parse_certificates(&data.certs);
        match (prepared, written) {
            (Source::File(input), Some(written)) => {
                crate::pades::embed_file(&input, &cms, &written, stamp)?;
                if dss_level > crate::pades::archive::Level::T || !data.is_empty() {
                    // B-LT and above read the signed file again to store its validation data;
                    // that pass holds the file in memory once.
                    let signed = crate::pades::map_file(&written)?;
                    let extended = crate::pades::archive::extend(
                        &signed, dss_level, data, &extra, revocation, stamp,
                    )?;
                    drop(signed);
                    std::fs::write(&written, extended)?;
                }
                Ok(None)
            }
            (Source::Bytes(prepared), _) => {
                let signed = crate::pades::embed_bytes(&prepared, &cms, stamp)?;
                crate::pades::archive::extend(&signed, dss_level, data, &extra, revocation, stamp)
                    .map(Some)
            }
            (Source::File(_), None) => Err(crate::pades::Error::Internal("no output file")),
        }
    })
    .await?;
    match (signed, output) {
        (Some(signed), _) => Ok(Json(EmbedResponse {
            signed: B64.encode(signed),
        })
        .into_response()),
        (None, Some(output)) => files::pdf_response(output, Vec::new()).await,
        (None, None) => Err(Failure::new(ErrorCode::Internal)),
    }
}

/// Each signature valid, unknown or invalid (integrity, path, revocation, later revisions),
/// with stable reason codes; and a receipt policy when asked.
#[utoipa::path(
    post, path = "/v1/verify", tag = "bridge", operation_id = "verifyPdf",
    security(()),
    request_body(content(
        (VerifyRequest = "application/json"),
        (crate::api::bridge::VerifyUpload = "multipart/form-data"),
    )),
    responses((status = 200, description = "The verification report", body = crate::pades::verify::Report)),
)]
pub(crate) async fn verify(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let lang = lang_of(request.headers());
    answer(verify_request(shared, request).await, lang)
}

async fn verify_request(shared: Arc<Shared>, request: Request) -> Result<Response, Failure> {
    let admission = admit(&shared, &request)?;
    let (input, file): (VerifyRequest, _) = read(request, "pdf", shared.config.max_body).await?;
    let pdf = match file {
        Some(file) => Source::File(file),
        None => Source::Bytes(b64("pdf", &input.pdf)?),
    };
    let issued = input.policy;
    let mut anchors = shared.config.trust_anchors.clone();
    for pem in input.trust.unwrap_or_default() {
        match certificate::read_pem_or_der(pem.as_bytes()) {
            Ok(certs) => anchors.extend(certs),
            Err(e) => return Err(bad(&e.to_string())),
        }
    }
    let mut crls = shared.config.crls.clone();
    for text in input.crls.unwrap_or_default() {
        let parsed = crate::pki::crl::parse(text.as_bytes()).or_else(|_| {
            B64.decode(text.trim())
                .map_err(|e| e.to_string())
                .and_then(|der| crate::pki::crl::parse(&der))
        });
        match parsed.and_then(|list| {
            list.iter()
                .map(|c| der::Encode::to_der(c).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        }) {
            Ok(mut ders) => crls.append(&mut ders),
            Err(e) => return Err(bad(&format!("crls: {e}"))),
        }
    }
    use crate::pki::check::RevocationMode;
    let revocation = match (input.revocation.unwrap_or_default(), shared.config.offline) {
        (RevocationCheck::Check, false) => RevocationMode::Online,
        (RevocationCheck::Check | RevocationCheck::Offline, _) => RevocationMode::Offline,
        (RevocationCheck::Off, _) => RevocationMode::Off,
    };
    let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    run_limited(admission, move || {
        let fetch = crate::pki::revocation::HttpFetch::default();
        // A large document is read through a memory map, as the command line reads it.
        let mapped;
        let bytes: &[u8] = match &pdf {
            Source::Bytes(bytes) => bytes,
            Source::File(path) => {
                mapped = crate::pades::map_file(path)?;
                &mapped
            }
        };
        crate::pades::verify::verify(
            bytes,
            &crate::pades::verify::Options {
                anchors: &anchors,
                crls: &crls,
                revocation,
                fetch: &fetch,
                policy: issued,
                cancel: Some(&cancelled),
                password: b"",
            },
        )
    })
    .await
    .map(|report| Json(report).into_response())
}

async fn demo_config(State(shared): State<Arc<Shared>>) -> Response {
    Json(serde_json::json!({
        "agentPort": shared.config.agent_port.unwrap_or(crate::config::DEFAULT_PORT),
        // The page asks for DMS tickets when the bridge can mint them.
        "tickets": shared.config.ticket_key.is_some(),
    }))
    .into_response()
}

async fn openapi(State(shared): State<Arc<Shared>>) -> Response {
    match shared.config.openapi {
        Some(document) => ([(header::CONTENT_TYPE, "application/json")], document).into_response(),
        None => not_found("no such file"),
    }
}

/// Serves the demo page, the SDK and the samples, by name only (no paths from the request).
async fn asset(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let (dir, file, kind) = match name.as_str() {
        "" | "index.html" => (
            shared.config.web_dir.as_ref().map(|d| d.join("demo")),
            "index.html",
            "text/html; charset=utf-8",
        ),
        "demo.js" => (
            shared.config.web_dir.as_ref().map(|d| d.join("demo")),
            "demo.js",
            "text/javascript",
        ),
        "kyso.js" | "vgca.js" => (
            shared.config.web_dir.as_ref().map(|d| d.join("dist")),
            name.as_str(),
            "text/javascript",
        ),
        // The SDK's messages, generated from the catalogue; kyso.js imports them.
        "generated/messages.js" => (
            shared.config.web_dir.as_ref().map(|d| d.join("dist")),
            name.as_str(),
            "text/javascript",
        ),
        "sample.pdf" => (
            shared.config.samples_dir.clone(),
            "sample.pdf",
            "application/pdf",
        ),
        "signature.png" | "seal.png" => (
            shared.config.samples_dir.clone(),
            name.as_str(),
            "image/png",
        ),
        _ => return not_found("no such file"),
    };
    let Some(dir) = dir else {
        return not_found("no demo here");
    };
    match tokio::fs::read(dir.join(file)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found("missing file"),
    }
}

async fn index(state: State<Arc<Shared>>) -> Response {
    asset(state, Path(String::new())).await
}

async fn generated_asset(state: State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    asset(state, Path(format!("generated/{name}"))).await
}

/// The bridge's routes: the operations, the probes and metrics, the contract and the demo's
/// files; every request counted and logged, the operations and metrics behind the token.
pub fn router(config: BridgeConfig) -> Router {
    let shared = Arc::new(Shared {
        slots: Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1))),
        config,
        metrics: Metrics::default(),
    });
    let max_body = shared.config.max_body;
    Router::new()
        .route("/v1/prepare", post(prepare))
        .route("/v1/embed", post(embed))
        .route("/v1/verify", post(verify))
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        .route("/openapi.json", get(openapi))
        .route("/config.json", get(demo_config))
        .route("/", get(index))
        .route("/{name}", get(asset))
        .route("/generated/{name}", get(generated_asset))
        // After routing (the route is known), the token check inside the observer, so refusals
        // are counted and logged too.
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            service::authenticate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            service::observe,
        ))
        // The multipart reader's own limit (JSON bodies are bounded by `body`).
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

/// Serves the bridge on a bound listener until the process ends.
///
/// # Errors
/// The listener fails.
pub async fn serve(listener: tokio::net::TcpListener, config: BridgeConfig) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

#[cfg(test)]
mod tests;
