//! API v1 routes and the checks every request passes: Host allow-list (DNS rebinding), exact
//! Origin allow-list with CORS answered for that origin only, JSON bodies only, size limits,
//! `Cache-Control: no-store`, stable error codes in Vietnamese or English.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt as _};
use serde::de::DeserializeOwned;

use crate::api::{self, Lang};
use crate::certificate::Kind;
use crate::signing::{Error, Origin, OriginPolicy, SignOrder, SigningService};
use crate::token::{JobTiming, TokenEvent};

/// Largest body of `/v1/sign`.
const SIGN_BODY_LIMIT: usize = 64 * 1024;
/// Largest body of `/v1/sign/batch`.
const BATCH_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Signing use cases.
    pub signing: Arc<SigningService>,
    /// Who may call.
    pub policy: Arc<OriginPolicy>,
    /// The port, for the Host check.
    pub port: u16,
}

/// The origin of the request as the guard validated it (`None`: a local non-browser client).
#[derive(Clone)]
struct RequestOrigin(Option<Origin>);

/// API v1.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/certificates", get(certificates))
        .route("/v1/sign", post(sign))
        .route("/v1/sign/batch", post(sign_batch))
        .route("/v1/events", get(events))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

fn error_response(error: &Error, lang: Lang) -> Response {
    let status = StatusCode::from_u16(error.code().http_status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Error::Internal(detail) = error {
        tracing::error!(%detail, "internal error");
    }
    (status, Json(error.to_response(lang))).into_response()
}

fn bad_request(status: StatusCode, detail: &str, lang: Lang) -> Response {
    let mut response = error_response(&Error::BadRequest(detail.to_string()), lang);
    *response.status_mut() = status;
    response
}

async fn not_found(headers: HeaderMap) -> Response {
    bad_request(StatusCode::NOT_FOUND, "no such endpoint", lang(&headers))
}

/// The checks before any handler (Host, Origin, preflight), and the headers every answer
/// carries, refusals included.
async fn guard(state: State<AppState>, request: Request, next: Next) -> Response {
    let mut response = checks(state, request, next).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn checks(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let lang = lang(request.headers());
    // HTTP/2 carries the host in :authority, HTTP/1.1 in Host.
    let host = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    let allowed_hosts = [
        format!("127.0.0.1:{}", state.port),
        format!("localhost:{}", state.port),
        format!("[::1]:{}", state.port),
    ];
    if !allowed_hosts.contains(&host) {
        tracing::warn!(%host, "request with a foreign Host refused (DNS rebinding?)");
        let refusal = bad_request(StatusCode::MISDIRECTED_REQUEST, "host not allowed", lang);
        return after_reading_body(request, refusal).await;
    }
    let origin = match request.headers().get(header::ORIGIN) {
        None => None,
        Some(value) => match value.to_str().ok().map(Origin::parse) {
            Some(Ok(origin)) => Some(origin),
            _ => {
                let refusal = error_response(&Error::OriginNotAllowed, lang);
                return after_reading_body(request, refusal).await;
            }
        },
    };
    if request.method() == Method::OPTIONS {
        return match origin {
            Some(origin) => preflight(&origin, request.headers()),
            None => error_response(&Error::OriginNotAllowed, lang),
        };
    }
    let read_only = request.method() == Method::GET
        && matches!(request.uri().path(), "/v1/status" | "/v1/certificates");
    if origin.is_none() && !read_only {
        // Browsers always send Origin on these; only local programs omit it.
        let refusal = error_response(&Error::OriginNotAllowed, lang);
        return after_reading_body(request, refusal).await;
    }
    request
        .extensions_mut()
        .insert(RequestOrigin(origin.clone()));
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        add_cors(response.headers_mut(), &origin);
    }
    response
}

/// Answers a refusal only once the (small, bounded) body has been read: a client still sending
/// would otherwise see its HTTP/2 stream reset, or its HTTP/1.1 connection closed, instead of
/// the readable refusal.
async fn after_reading_body(request: Request, refusal: Response) -> Response {
    const MAX_DRAIN: usize = 1 << 20;
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        to_bytes(request.into_body(), MAX_DRAIN),
    )
    .await;
    refusal
}

fn add_cors(headers: &mut HeaderMap, origin: &Origin) {
    if let Ok(value) = HeaderValue::from_str(&origin.to_string()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// Answers a CORS preflight for a well-formed origin, allowed or not: the real request is
/// checked on its own, and a refused page must be able to read its refusal.
fn preflight(origin: &Origin, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    add_cors(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, accept-language"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Private Network Access preflight (Chrome's predecessor of Local Network Access).
    if request
        .get("access-control-request-private-network")
        .is_some_and(|v| v == "true")
    {
        headers.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// Runs blocking work (prompts, token calls) in place on this worker thread: the runtime hands
/// the thread's other tasks to a fresh thread and this request goes on with no hand-off (each
/// hand-off between threads cost tens of microseconds per request, issue 19). HTTP/2 streams are
/// tasks of their own, so other requests of the connection carry on. The handler cannot be
/// dropped while it runs: work that must stop when the client goes (a batch) uses
/// [`blocking`]. On a single-threaded runtime (tests) it falls back to [`blocking`].
async fn in_place<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread
    {
        tokio::task::block_in_place(work)
    } else {
        blocking(work).await
    }
}

/// Runs blocking work (prompts, token calls) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("worker task: {e}")))?
}

/// Lets the origin through (asking the user for an unknown one); local clients pass.
async fn authorize(state: &AppState, origin: &RequestOrigin) -> Result<(), Error> {
    match &origin.0 {
        None => return Ok(()),
        // The administrator's list is in memory: no blocking work, so no hand-off of the
        // thread (which cost `/v1/status` about half its round trip).
        Some(origin) if state.policy.allowed_by_admin(origin) => return Ok(()),
        Some(_) => {}
    }
    let check = authorization(state, origin);
    in_place(check).await
}

/// [`authorize`] as blocking work, for a handler that has more blocking work to do after it
/// (one hand-off of the async thread instead of two).
fn authorization(
    state: &AppState,
    origin: &RequestOrigin,
) -> impl FnOnce() -> Result<(), Error> + Send + 'static {
    let origin = origin.0.clone();
    let policy = state.policy.clone();
    let signing = state.signing.clone();
    move || match origin {
        Some(origin) => policy.authorize(&origin, signing.prompt().as_ref()),
        None => Ok(()),
    }
}

/// How long a request body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn json_body<T: DeserializeOwned>(
    request: Request,
    limit: usize,
    lang: Lang,
) -> Result<T, Response> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    // Read the (bounded) body before answering, even to refuse it: a client still sending
    // would otherwise see a reset connection instead of the refusal. Up to 1 MiB past the
    // limit is read (and dropped) so that an oversized body still gets its readable 413. A body
    // declared larger than that is refused at once, before a byte of it is read (a client
    // declaring a terabyte and sending one byte must not hold the connection), and one that
    // trickles is given up after BODY_TIMEOUT.
    const DRAIN_ALLOWANCE: usize = 1 << 20;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = if declared.is_some_and(|n| n > limit.saturating_add(DRAIN_ALLOWANCE) as u64) {
        Err(())
    } else {
        match tokio::time::timeout(
            BODY_TIMEOUT,
            to_bytes(request.into_body(), limit.saturating_add(DRAIN_ALLOWANCE)),
        )
        .await
        {
            Err(_) => return Err(error_response(&Error::Timeout, lang)),
            Ok(read) => {
                read.map_err(|_| ())
                    .and_then(|b| if b.len() > limit { Err(()) } else { Ok(b) })
            }
        }
    };
    if !is_json {
        return Err(bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
            lang,
        ));
    }
    let bytes = bytes.map_err(|_| {
        let code = api::ErrorCode::LimitExceeded;
        let mut response = (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(api::ErrorResponse {
                error: api::ErrorBody {
                    code,
                    message: format!("{} (body > {limit} bytes)", code.message(lang)),
                    retries_left: None,
                },
            }),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    })?;
    // serde refuses unknown fields (a `pin` above all) and duplicate keys.
    serde_json::from_slice(&bytes).map_err(|e| {
        let detail = e.to_string();
        let detail = detail.split(" at line").next().unwrap_or("invalid JSON");
        bad_request(StatusCode::BAD_REQUEST, detail, lang)
    })
}

/// The agent, its tokens and their signing certificates.
#[utoipa::path(
    get, path = "/v1/status", tag = "agent", operation_id = "getStatus",
    security(("origin" = []), ()),
    responses((status = 200, description = "The agent, its tokens and their certificates", body = api::StatusResponse)),
)]
pub(crate) async fn status(State(state): State<AppState>, request: Request) -> Response {
    let lang = lang(request.headers());
    let origin = origin_of(&request);
    if let Err(e) = authorize(&state, &origin).await {
        return error_response(&e, lang);
    }
    Json(state.signing.status()).into_response()
}

/// `?kind=personal|organization`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CertificatesQuery {
    /// Only personal certificates (the leader's) or only organisation ones (the seal).
    #[param(value_type = Option<Kind>)]
    kind: Option<String>,
}

/// The signing certificates of every token seen (`token.present` tells which can sign now).
#[utoipa::path(
    get, path = "/v1/certificates", tag = "agent", operation_id = "listCertificates",
    security(("origin" = []), ()),
    params(CertificatesQuery),
    responses((status = 200, description = "Signing certificates", body = api::CertificatesResponse)),
)]
pub(crate) async fn certificates(
    State(state): State<AppState>,
    query: Result<Query<CertificatesQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let lang = lang(request.headers());
    let kind = match query.map(|q| q.0.kind) {
        Ok(None) => None,
        Ok(Some(text)) => match Kind::parse(&text) {
            Some(kind) => Some(kind),
            None => {
                return bad_request(
                    StatusCode::BAD_REQUEST,
                    "kind is personal or organization",
                    lang,
                )
            }
        },
        Err(_) => return bad_request(StatusCode::BAD_REQUEST, "unknown query parameter", lang),
    };
    let origin = origin_of(&request);
    if let Err(e) = authorize(&state, &origin).await {
        return error_response(&e, lang);
    }
    let certificates = state
        .signing
        .certificates(kind)
        .iter()
        .map(|c| c.to_dto())
        .collect();
    Json(api::CertificatesResponse { certificates }).into_response()
}

/// The origin the guard validated for this request.
fn origin_of(request: &Request) -> RequestOrigin {
    request
        .extensions()
        .get::<RequestOrigin>()
        .cloned()
        .unwrap_or(RequestOrigin(None))
}

/// Signs one digest (format `cms`) or server-built signed attributes (`raw`). The PIN is asked
/// in the agent's own dialog, never over the API.
#[utoipa::path(
    post, path = "/v1/sign", tag = "agent", operation_id = "sign",
    security(("origin" = [])),
    request_body = api::SignRequest,
    responses((status = 200, description = "The signature, its certificate, chain and revocation evidence", body = api::SignResponse)),
)]
pub(crate) async fn sign(State(state): State<AppState>, request: Request) -> Response {
    let received = std::time::Instant::now();
    let lang = lang(request.headers());
    let origin = origin_of(&request);
    let body: api::SignRequest = match json_body(request, SIGN_BODY_LIMIT, lang).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut order = match SignOrder::from_request(body) {
        Ok(order) => order,
        Err(e) => return error_response(&e, lang),
    };
    let origin_text = origin.0.as_ref().map(|o| o.to_string());
    // A ticket is judged before anything is shown: a refused one opens no dialog at all.
    if let Err(e) = state
        .signing
        .attest(origin_text.as_deref(), std::slice::from_mut(&mut order))
    {
        return error_response(&e, lang);
    }
    let authorized = authorization(&state, &origin);
    let signing = state.signing.clone();
    let timing = Arc::new(JobTiming::default());
    let job_timing = timing.clone();
    let signed = in_place(move || {
        authorized()?;
        signing.sign_timed(order, origin_text.as_deref(), &job_timing)
    });
    let mut response = match signed.await {
        Ok(signed) => Json(signed.to_response()).into_response(),
        Err(e) => error_response(&e, lang),
    };
    if let Ok(value) = HeaderValue::from_str(&server_timing(received.elapsed(), &timing)) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// `Server-Timing` of a signing request: the token's calls, the PIN prompt and the rest, Kyso's
/// own work from the handler's start to the answer (the TLS and HTTP framing around it
/// excepted). Browsers show it in the developer tools' timing tab; a page's script cannot read
/// it (no `Timing-Allow-Origin`, not in `Access-Control-Expose-Headers`). `kyso bench --agent`
/// reads it to split a round trip into Kyso's code, the token and the exchange.
fn server_timing(total: Duration, timing: &JobTiming) -> String {
    let (token, prompt) = (timing.token(), timing.prompt());
    let kyso = total.saturating_sub(token).saturating_sub(prompt);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "token;dur={:.3};desc=\"PKCS#11\", prompt;dur={:.3};desc=\"PIN\", kyso;dur={:.3}",
        ms(token),
        ms(prompt),
        ms(kyso)
    )
}

/// Sets the batch's abort flag when the client goes away (the handler future is dropped
/// before the batch ends); disarmed once it has ended.
struct AbortOnDrop(Option<Arc<AtomicBool>>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(abort) = &self.0 {
            abort.store(true, Ordering::SeqCst);
        }
    }
}

/// One confirmation and one PIN for many documents (one certificate, one algorithm). Items
/// fail on their own: a result per item, in order.
#[utoipa::path(
    post, path = "/v1/sign/batch", tag = "agent", operation_id = "signBatch",
    security(("origin" = [])),
    request_body = api::BatchSignRequest,
    responses((status = 200, description = "One result per item, in order", body = api::BatchSignResponse)),
)]
pub(crate) async fn sign_batch(State(state): State<AppState>, request: Request) -> Response {
    let lang = lang(request.headers());
    let origin = origin_of(&request);
    let body: api::BatchSignRequest = match json_body(request, BATCH_BODY_LIMIT, lang).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut orders = match SignOrder::from_batch(body) {
        Ok(orders) => orders,
        Err(e) => return error_response(&e, lang),
    };
    let origin_text = origin.0.as_ref().map(|o| o.to_string());
    if let Err(e) = state.signing.attest(origin_text.as_deref(), &mut orders) {
        return error_response(&e, lang);
    }
    if let Err(e) = authorize(&state, &origin).await {
        return error_response(&e, lang);
    }
    let abort = Arc::new(AtomicBool::new(false));
    let guard = AbortOnDrop(Some(abort.clone()));
    // The batch runs on a blocking thread and hands each document's answer on as soon as the
    // token has signed it, serialised there; the answer streams while the token signs the next
    // (a batch's JSON, CMS and TLS work no longer waits for the last signature).
    let (answers, mut received) = tokio::sync::mpsc::unbounded_channel::<BatchAnswer>();
    let signing = state.signing.clone();
    tokio::task::spawn_blocking(move || {
        let mut outbox = Outbox::new(answers);
        let mut certificates = crate::signing::EncodedCertificates::default();
        let outcome =
            signing.sign_batch_each(orders, origin_text.as_deref(), abort, &mut |_, result| {
                outbox.push(&match result {
                    Ok(signed) => {
                        api::BatchResult::Signed(signed.to_response_with(&mut certificates))
                    }
                    Err(e) => api::BatchResult::Failed(e.to_response(lang)),
                });
            });
        outbox.flush();
        let _ = outbox.to.send(BatchAnswer::End(outcome));
    });
    // Nothing is answered before the first document is signed or the batch refused whole
    // (cancelled, wrong PIN, no token…), so that a refusal keeps its own status code.
    let first = match received.recv().await {
        Some(BatchAnswer::Item(json)) => json,
        Some(BatchAnswer::End(Err(e))) => {
            guard.disarm();
            return error_response(&e, lang);
        }
        Some(BatchAnswer::End(Ok(()))) | None => {
            guard.disarm();
            return error_response(
                &Error::Internal("the batch ended with no result".into()),
                lang,
            );
        }
    };
    // The client going away drops the body, and with it the guard: the batch stops.
    let state = StreamedBatch {
        first: Some(first),
        received,
        guard: Some(guard),
        ended: false,
    };
    let chunks = stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let mut chunk = Vec::new();
        let mut item = match state.first.take() {
            Some(item) => {
                chunk.extend_from_slice(b"{\"results\":[");
                item
            }
            None => match state.received.recv().await {
                Some(BatchAnswer::Item(item)) => {
                    chunk.push(b',');
                    item
                }
                // The service answers every document once it has answered one: the end.
                Some(BatchAnswer::End(_)) | None => return Some((Ok(state.end()), state)),
            },
        };
        // Answers already waiting go out in the same chunk: fewer writes and wake-ups.
        loop {
            match item {
                Ok(json) => chunk.extend_from_slice(&json),
                Err(e) => return Some((Err(std::io::Error::other(e)), state)),
            }
            if chunk.len() >= 256 * 1024 {
                break;
            }
            item = match state.received.try_recv() {
                Ok(BatchAnswer::Item(next)) => {
                    chunk.push(b',');
                    next
                }
                Ok(BatchAnswer::End(_)) => {
                    chunk.extend_from_slice(&state.end());
                    break;
                }
                Err(_) => break,
            };
        }
        Some((Ok(axum::body::Bytes::from(chunk)), state))
    });
    let mut response = Response::new(axum::body::Body::from_stream(chunks));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The streamed answer of a batch: the first document's JSON (held until the body starts),
/// the rest as they come, the abort guard that lives as long as the body.
struct StreamedBatch {
    first: Option<Result<Vec<u8>, String>>,
    received: tokio::sync::mpsc::UnboundedReceiver<BatchAnswer>,
    guard: Option<AbortOnDrop>,
    ended: bool,
}

impl StreamedBatch {
    /// The array's end: the batch is over, nothing to stop any more.
    fn end(&mut self) -> axum::body::Bytes {
        if let Some(guard) = self.guard.take() {
            guard.disarm();
        }
        self.ended = true;
        axum::body::Bytes::from_static(b"]}")
    }
}

/// What the blocking batch hands the streaming answer: documents' JSON (one or more, comma
/// separated), then the end.
enum BatchAnswer {
    Item(Result<Vec<u8>, String>),
    End(Result<(), Error>),
}

/// A batch's answers on their way to the stream, handed over in groups: the first document's
/// at once (it decides the status code), then whenever [`Outbox::BYTES`] have gathered or
/// [`Outbox::DELAY`] has passed. Each hand-over wakes the async writer: one per document was a
/// wake-up every 50 µs in an EC batch, on the CPU the token's thread is not using.
struct Outbox {
    to: tokio::sync::mpsc::UnboundedSender<BatchAnswer>,
    json: Vec<u8>,
    since: std::time::Instant,
    handed_any: bool,
}

impl Outbox {
    const BYTES: usize = 64 * 1024;
    const DELAY: std::time::Duration = std::time::Duration::from_millis(2);

    fn new(to: tokio::sync::mpsc::UnboundedSender<BatchAnswer>) -> Self {
        Self {
            to,
            json: Vec::with_capacity(Self::BYTES + 16 * 1024),
            since: std::time::Instant::now(),
            handed_any: false,
        }
    }

    fn push(&mut self, item: &api::BatchResult) {
        let mark = self.json.len();
        if mark > 0 {
            self.json.push(b',');
        }
        if let Err(e) = serde_json::to_writer(&mut self.json, item) {
            self.json.truncate(mark);
            self.flush();
            let _ = self.to.send(BatchAnswer::Item(Err(e.to_string())));
            return;
        }
        if !self.handed_any || self.json.len() >= Self::BYTES || self.since.elapsed() >= Self::DELAY
        {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.json.is_empty() {
            return;
        }
        let json = std::mem::replace(&mut self.json, Vec::with_capacity(Self::BYTES + 16 * 1024));
        let _ = self.to.send(BatchAnswer::Item(Ok(json)));
        self.handed_any = true;
        self.since = std::time::Instant::now();
    }
}

fn event_name(event: &TokenEvent) -> &'static str {
    match event {
        TokenEvent::TokenInserted { .. } => "tokenInserted",
        TokenEvent::TokenRemoved { .. } => "tokenRemoved",
        TokenEvent::PinLocked { .. } => "pinLocked",
    }
}

/// Server-sent events: `tokenInserted`, `tokenRemoved`, `pinLocked`, `certificateExpiring`
/// (data: JSON). The stream starts with a `: subscribed` comment.
#[utoipa::path(
    get, path = "/v1/events", tag = "agent", operation_id = "events",
    security(("origin" = [])),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String,
        example = "event: tokenInserted\ndata: {\"label\":\"VGCA\",\"serial\":\"0A1B2C\"}\n\n")),
)]
pub(crate) async fn events(State(state): State<AppState>, request: Request) -> Response {
    let lang = lang(request.headers());
    let origin = origin_of(&request);
    if let Err(e) = authorize(&state, &origin).await {
        return error_response(&e, lang);
    }
    let expiring: Vec<Result<Event, std::convert::Infallible>> = state
        .signing
        .certificates(None)
        .into_iter()
        .filter(|c| {
            c.token.present && c.info.days_left() <= crate::certificate::EXPIRY_WARNING_DAYS
        })
        .map(|c| {
            Ok(Event::default().event("certificateExpiring").data(
                serde_json::json!({
                    "type": "certificateExpiring",
                    "certificateId": c.info.id,
                    "holder": c.info.holder(),
                    "daysLeft": c.info.days_left(),
                })
                .to_string(),
            ))
        })
        .collect();
    let receiver = state.signing.tokens().subscribe();
    let live = stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    let sse = Event::default().event(event_name(&event)).data(data);
                    return Some((Ok(sse), receiver));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream: std::pin::Pin<
        Box<dyn Stream<Item = Result<Event, std::convert::Infallible>> + Send>,
    > = Box::pin(
        // A first comment tells the client the subscription is live: events from here on
        // reach it (tests and pages await it instead of guessing).
        stream::iter(std::iter::once(Ok(Event::default().comment("subscribed"))).chain(expiring))
            .chain(live),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod outbox_tests {
    use super::*;

    fn failed(i: usize) -> api::BatchResult {
        api::BatchResult::Failed(Error::BadRequest(format!("document {i}")).to_response(Lang::En))
    }

    fn handed(received: &mut tokio::sync::mpsc::UnboundedReceiver<BatchAnswer>) -> Vec<String> {
        let mut groups = Vec::new();
        while let Ok(BatchAnswer::Item(json)) = received.try_recv() {
            groups.push(String::from_utf8(json.expect("json")).expect("utf-8"));
        }
        groups
    }

    #[test]
    fn the_first_answer_goes_at_once_the_rest_in_groups_none_lost() {
        let (to, mut received) = tokio::sync::mpsc::unbounded_channel();
        let mut outbox = Outbox::new(to);
        outbox.push(&failed(0));
        assert_eq!(
            handed(&mut received).len(),
            1,
            "the first answer decides the status"
        );
        for i in 1..4 {
            outbox.push(&failed(i));
        }
        assert!(
            handed(&mut received).is_empty(),
            "small answers close together wait"
        );
        std::thread::sleep(Outbox::DELAY);
        outbox.push(&failed(4));
        let group = handed(&mut received);
        assert_eq!(group.len(), 1, "an answer older than the delay goes");
        outbox.push(&failed(5));
        outbox.flush();
        let last = handed(&mut received);
        // The groups are comma-separated answers: inside `[...]` they are the results in order.
        let all: Vec<serde_json::Value> =
            serde_json::from_str(&format!("[{},{}]", group[0], last[0])).expect("json array");
        let messages: Vec<&str> = all
            .iter()
            .map(|v| v["error"]["message"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(messages.len(), 5);
        assert!(messages[0].contains("document 1") && messages[4].contains("document 5"));
    }
}
