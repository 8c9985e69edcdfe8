//! The HTTP API in process: the router driven with tower's `oneshot`, no socket, no TLS.
//!
//! The token here is a double (`SoftToken`: a software P-256 key in memory) because what these
//! tests check is the HTTP layer — Host and Origin checks, CORS, body limits, wire shapes,
//! stable codes and their languages — not PKCS#11; the real token path (SoftHSM2 through
//! cryptoki, the fault module) is tested end to end in `tests/agent.rs` and
//! `tests/token_faults.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrecy::SecretString;
use tower::ServiceExt as _;

use super::{router, AppState};
use crate::certificate::CertificateInfo;
use crate::signing::{
    ApprovalStore, BatchPrompt, OriginDecision, OriginPolicy, PinPrompt, Prompt, SigningService,
};
use crate::token::{
    ModuleStatus, PinEntry, PinRefusal, PinRequest, PinState, SignJob, SignResults,
    TokenCertificate, TokenEvent, TokenProvider, TokenRef, TokenStatus,
};

const PORT: u16 = 47999;
const DMS: &str = "https://dms.example.gov.vn";

/// A token double: one present token, one P-256 key and its self-signed certificate.
struct SoftToken {
    status: TokenStatus,
    key: ring::signature::EcdsaKeyPair,
    events: tokio::sync::broadcast::Sender<TokenEvent>,
}

impl SoftToken {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Nguyễn Văn Thử");
        params.distinguished_name.push(
            rcgen::DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]),
            "CCCD:001090000999",
        );
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
        let cert = params.self_signed(&key).expect("certificate");
        let info = CertificateInfo::from_der(cert.der()).expect("info");
        let rng = ring::rand::SystemRandom::new();
        let signing_key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("pkcs8");
        Self {
            status: TokenStatus {
                token: TokenRef {
                    module: "soft".into(),
                    serial: "0001".into(),
                    label: "Thử nghiệm".into(),
                },
                model: "double".into(),
                manufacturer: "kyso tests".into(),
                present: true,
                pin_state: PinState::Ok,
                retries_left: None,
                protected_auth_path: false,
                certificates: vec![TokenCertificate {
                    info,
                    key_id: vec![1],
                    has_key: true,
                }],
            },
            key: signing_key,
            events: tokio::sync::broadcast::channel(4).0,
        }
    }

    fn certificate_id(&self) -> String {
        self.status.certificates[0].info.id.clone()
    }
}

impl TokenProvider for SoftToken {
    fn tokens(&self) -> Vec<TokenStatus> {
        vec![self.status.clone()]
    }
    fn modules(&self) -> Vec<ModuleStatus> {
        Vec::new()
    }
    fn refresh(&self) {}
    fn sign(
        &self,
        mut job: SignJob,
        on_signature: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<SignResults, crate::token::Error> {
        let request = PinRequest {
            token: self.status.token.clone(),
            pin_state: PinState::Ok,
            retries_left: None,
            protected_auth_path: false,
            per_signature: None,
        };
        match job.authenticator.pin(&request) {
            Ok(PinEntry::Pin(_) | PinEntry::PinPad) => {}
            Err(PinRefusal::Cancelled) => return Err(crate::token::Error::Cancelled),
            Err(PinRefusal::TimedOut) => return Err(crate::token::Error::Timeout),
        }
        job.authenticator.pin_used();
        let rng = ring::rand::SystemRandom::new();
        // ring's ECDSA hashes what it signs, so this signs the digest bytes as a message: these
        // tests check the HTTP layer's shapes, not the signature (the real path is verified by
        // `openssl cms -verify` in tests/agent.rs).
        // Every other signature is told as it is made, as a token does for a batch: the caller
        // must answer the same whether it heard of a signature early or only at the end.
        Ok(job
            .digests
            .iter()
            .enumerate()
            .map(|(index, d)| {
                let signature = self
                    .key
                    .sign(&rng, d)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| crate::token::Error::Cancelled);
                if let (Ok(signature), true) = (&signature, index % 2 == 0) {
                    on_signature(index, signature);
                }
                signature
            })
            .collect())
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<TokenEvent> {
        self.events.subscribe()
    }
}

/// Answers every PIN prompt (and counts them); refuses origin approvals.
#[derive(Default)]
struct CountingPrompt {
    asked: Mutex<usize>,
}

impl Prompt for CountingPrompt {
    fn ask_pin(&self, _: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        *self.asked.lock().expect("lock") += 1;
        Ok(PinEntry::Pin(SecretString::from("1234".to_string())))
    }
    fn approve_origin(&self, _: &str) -> Result<OriginDecision, PinRefusal> {
        Ok(OriginDecision::Deny)
    }
    fn confirm_batch(&self, _: &BatchPrompt) -> Result<(), PinRefusal> {
        Ok(())
    }
}

#[derive(Default)]
struct NoApprovals;

impl ApprovalStore for NoApprovals {
    fn load(&self) -> Vec<String> {
        Vec::new()
    }
    fn save(&self, _: &[String]) -> Result<(), String> {
        Ok(())
    }
}

struct Fixture {
    router: axum::Router,
    prompt: Arc<CountingPrompt>,
    certificate_id: String,
}

fn fixture() -> Fixture {
    let token = Arc::new(SoftToken::new());
    let certificate_id = token.certificate_id();
    let prompt = Arc::new(CountingPrompt::default());
    let signing = Arc::new(SigningService::new(token, prompt.clone(), Vec::new()));
    let policy = Arc::new(OriginPolicy::new(
        &[DMS.to_string()],
        false,
        Arc::new(NoApprovals),
        Duration::from_secs(60),
    ));
    Fixture {
        router: router(AppState {
            signing,
            policy,
            port: PORT,
        }),
        prompt,
        certificate_id,
    }
}

fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, format!("127.0.0.1:{PORT}"))
}

async fn send(
    router: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, headers, json)
}

fn sign_body(certificate_id: &str) -> String {
    serde_json::json!({
        "certificateId": certificate_id,
        "digest": B64.encode([7u8; 32]),
        "digestAlgorithm": "SHA-256",
        "document": {"title": "Công văn thử", "purpose": "approve"}
    })
    .to_string()
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_anything_else() {
    let f = fixture();
    let request = Request::builder()
        .uri("/v1/status")
        .header(header::HOST, "kyso.attacker.example:47999")
        .body(Body::empty())
        .expect("request");
    let (status, _, json) = send(&f.router, request).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(json["error"]["code"], "BAD_REQUEST");
}

#[tokio::test]
async fn only_the_allowed_origin_gets_cors_and_answers() {
    let f = fixture();
    let preflight = request(Method::OPTIONS, "/v1/sign")
        .header(header::ORIGIN, DMS)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&f.router, preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok()),
        Some(DMS)
    );
    let foreign = request(Method::GET, "/v1/status")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .expect("request");
    let (status, headers, json) = send(&f.router, foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["error"]["code"], "ORIGIN_NOT_ALLOWED");
    // The refused page may read its refusal (and nothing else): the SDK shows
    // ORIGIN_NOT_ALLOWED instead of a network error.
    assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
    assert_eq!(
        headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

#[tokio::test]
async fn status_lists_the_token_and_its_certificate_with_the_wire_pin_state() {
    let f = fixture();
    let (status, _, json) = send(
        &f.router,
        request(Method::GET, "/v1/status")
            .header(header::ORIGIN, DMS)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["apiVersion"], 1);
    assert_eq!(json["tokens"][0]["pinState"], "ok");
    assert_eq!(json["certificates"][0]["id"], f.certificate_id);
    assert_eq!(json["certificates"][0]["holder"], "Nguyễn Văn Thử");
}

#[tokio::test]
async fn a_sign_request_signs_once_and_answers_the_wire_shape() {
    let f = fixture();
    let (status, _, json) = send(
        &f.router,
        request(Method::POST, "/v1/sign")
            .header(header::ORIGIN, DMS)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(sign_body(&f.certificate_id)))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["cms"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(json["signatureAlgorithm"], "ECDSA-SHA-256");
    // No status checker wired: the check is off, and the answer says so.
    assert_eq!(json["revocationStatus"], "notChecked");
    assert!(json.get("revocation").is_none());
    assert_eq!(*f.prompt.asked.lock().expect("lock"), 1);
}

#[tokio::test]
async fn a_batch_streams_one_answer_per_document_in_order() {
    let f = fixture();
    let items: Vec<serde_json::Value> = (0..7u8)
        .map(|i| {
            serde_json::json!({
                "digest": B64.encode([i; 32]),
                "document": {"title": format!("Văn bản {i}"), "purpose": "approve"}
            })
        })
        .collect();
    let body = serde_json::json!({
        "certificateId": f.certificate_id,
        "digestAlgorithm": "SHA-256",
        "items": items,
    });
    let (status, headers, json) = send(
        &f.router,
        request(Method::POST, "/v1/sign/batch")
            .header(header::ORIGIN, DMS)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 7, "{json}");
    for (i, result) in results.iter().enumerate() {
        // Each CMS carries its own document's digest (messageDigest), in the items' order,
        // whether the token told its signature early or only at the end.
        let cms = B64
            .decode(result["cms"].as_str().expect("cms"))
            .expect("base64");
        let digest = [u8::try_from(i).expect("small"); 32];
        assert!(
            cms.windows(32).any(|w| w == digest),
            "result {i} is not document {i}'s"
        );
        assert_eq!(result["signatureAlgorithm"], "ECDSA-SHA-256");
    }
    // One confirmation and one PIN for the whole batch.
    assert_eq!(*f.prompt.asked.lock().expect("lock"), 1);
}

#[tokio::test]
async fn malformed_requests_get_stable_codes_in_the_asked_language() {
    let f = fixture();
    let post = |body: String, lang: &str| {
        request(Method::POST, "/v1/sign")
            .header(header::ORIGIN, DMS)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_LANGUAGE, lang)
            .body(Body::from(body))
            .expect("request")
    };
    // A PIN over the API is refused as an unknown field, never read.
    let mut with_pin: serde_json::Value =
        serde_json::from_str(&sign_body(&f.certificate_id)).expect("json");
    with_pin["pin"] = serde_json::json!("1234");
    let (status, _, json) = send(&f.router, post(with_pin.to_string(), "en")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"]["code"], "BAD_REQUEST");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("The request is invalid")));
    // Not JSON, in Vietnamese by default.
    let (status, _, json) = send(&f.router, post("{".into(), "vi")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Yêu cầu không hợp lệ")));
    // Too large: a readable 413, not a dropped connection.
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(200 * 1024));
    let (status, _, json) = send(&f.router, post(huge, "vi")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["error"]["code"], "LIMIT_EXCEEDED");
    // An unknown certificate.
    let (status, _, json) = send(&f.router, post(sign_body(&"ab".repeat(32)), "vi")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"]["code"], "CERTIFICATE_NOT_FOUND");
    // An unknown endpoint.
    let (status, _, json) = send(
        &f.router,
        request(Method::GET, "/v1/nothing")
            .header(header::ORIGIN, DMS)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"]["code"], "BAD_REQUEST");
    // None of these asked for a PIN.
    assert_eq!(*f.prompt.asked.lock().expect("lock"), 0);
}
