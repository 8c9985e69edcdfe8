//! The bridge in process (tower's `oneshot` on its router): the token check, the probes and
//! metrics, and a stable code for each way a request can fail, in the caller's language.
//! Real signatures through the bridge are tested end to end (`tests/revocation.rs`, the
//! examples in `examples/`).

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tower::ServiceExt as _;

use super::{router, BridgeConfig};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn config(token: Option<&str>) -> BridgeConfig {
    BridgeConfig {
        max_body: 8 * 1024 * 1024,
        concurrency: 2,
        trust_anchors: Vec::new(),
        tsa_url: None,
        offline: true,
        crls: Vec::new(),
        web_dir: None,
        samples_dir: None,
        agent_port: None,
        openapi: Some("{}"),
        token: token.map(String::from),
        seal_size_mm: None,
        ticket_key: None,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: serde_json::Value,
    text: String,
}

async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = app.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

const AUTH: (&str, &str) = ("authorization", "Bearer 0123456789abcdef0123456789abcdef");

fn pdf() -> String {
    B64.encode(crate::pades::tests::minimal_pdf())
}

#[tokio::test]
async fn operations_and_metrics_need_the_token_the_probes_do_not() {
    let app = router(config(Some(TOKEN)));
    let body = serde_json::json!({ "pdf": pdf() });
    let none = call(&app, Method::POST, "/v1/verify", Some(body.clone()), &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
    assert_eq!(none.json["error"]["code"], "UNAUTHORIZED");
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    let wrong = call(
        &app,
        Method::POST,
        "/v1/verify",
        Some(body.clone()),
        &[("authorization", "Bearer 0123456789abcdef0123456789abcdeX")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = call(&app, Method::POST, "/v1/verify", Some(body), &[AUTH]).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert!(right.json["signatures"]
        .as_array()
        .is_some_and(Vec::is_empty));
    assert_eq!(
        call(&app, Method::GET, "/metrics", None, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    for path in ["/healthz", "/readyz"] {
        let probe = call(&app, Method::GET, path, None, &[]).await;
        assert_eq!(probe.status, StatusCode::OK, "{path}");
    }
    assert_eq!(
        call(&app, Method::GET, "/readyz", None, &[]).await.json["slotsFree"],
        2
    );
    let metrics = call(&app, Method::GET, "/metrics", None, &[AUTH]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .text
            .contains("kyso_bridge_requests_total{route=\"/v1/verify\",status=\"401\"} 2"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("kyso_bridge_errors_total{code=\"UNAUTHORIZED\"} 3"),
        "{}",
        metrics.text
    );
    assert!(metrics
        .text
        .contains("kyso_bridge_requests_total{route=\"/v1/verify\",status=\"200\"} 1"));
}

#[tokio::test]
async fn every_failure_has_its_own_code_and_speaks_the_callers_language() {
    let app = router(config(None));
    let en = ("accept-language", "en-US,en;q=0.9");
    // Not a PDF.
    let garbage = B64.encode(b"this is not a pdf");
    let a = call(
        &app,
        Method::POST,
        "/v1/prepare",
        Some(serde_json::json!({ "pdf": garbage })),
        &[en],
    )
    .await;
    assert_eq!(
        (a.status.as_u16(), a.json["error"]["code"].as_str()),
        (400, Some("PDF_MALFORMED")),
        "{}",
        a.text
    );
    assert!(a.json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("The PDF is damaged")));
    // An anchor text that is not in the document: where the stamp goes is not found.
    let image = {
        let mut png = Vec::new();
        {
            // A blue stroke on a transparent background, as a signature image must be.
            let mut encoder = png::Encoder::new(&mut png, 2, 1);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().expect("png");
            writer
                .write_image_data(&[20, 40, 200, 255, 0, 0, 0, 0])
                .expect("png");
        }
        B64.encode(png)
    };
    let body = serde_json::json!({ "pdf": pdf(), "role": "approve", "image": image, "anchor": "Không có dòng này" });
    let a = call(&app, Method::POST, "/v1/prepare", Some(body), &[]).await;
    assert_eq!(
        (a.status.as_u16(), a.json["error"]["code"].as_str()),
        (422, Some("PLACEMENT_NOT_FOUND")),
        "{}",
        a.text
    );
    let message = a.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Không tìm thấy vị trí"), "{message}");
    assert!(
        !message.contains("--"),
        "no command-line option in a bridge message: {message}"
    );
    // A signature image that is not a PNG.
    let body =
        serde_json::json!({ "pdf": pdf(), "image": B64.encode(b"GIF89a"), "anchor": "Hello" });
    let a = call(&app, Method::POST, "/v1/prepare", Some(body), &[]).await;
    assert_eq!(a.json["error"]["code"], "IMAGE_INVALID", "{}", a.text);
    // An option the role does not take is named as the JSON spells it.
    let body = serde_json::json!({ "pdf": pdf(), "role": "appendix", "copyForm": "sao y" });
    let a = call(&app, Method::POST, "/v1/prepare", Some(body), &[en]).await;
    assert_eq!(a.json["error"]["code"], "BAD_REQUEST", "{}", a.text);
    assert!(
        a.text.contains("copyForm") && !a.text.contains("--"),
        "{}",
        a.text
    );
    // A value outside a closed set is refused by name.
    let body = serde_json::json!({ "pdf": pdf(), "role": "approver" });
    let a = call(&app, Method::POST, "/v1/prepare", Some(body), &[]).await;
    assert_eq!(a.json["error"]["code"], "BAD_REQUEST");
    assert!(a.text.contains("approver"), "{}", a.text);
    // Embedding into a file that was never prepared.
    let body = serde_json::json!({ "prepared": pdf(), "cms": B64.encode([0x30, 0x00]) });
    let a = call(&app, Method::POST, "/v1/embed", Some(body), &[en]).await;
    assert_eq!(a.json["error"]["code"], "PDF_NOT_PREPARED", "{}", a.text);
    // Prepared, then a CMS that is not one, then a CMS made for other bytes.
    let prepared = call(
        &app,
        Method::POST,
        "/v1/prepare",
        Some(serde_json::json!({ "pdf": pdf() })),
        &[],
    )
    .await;
    assert_eq!(prepared.status, StatusCode::OK, "{}", prepared.text);
    let prepared = prepared.json["prepared"]
        .as_str()
        .expect("prepared")
        .to_string();
    let body = serde_json::json!({ "prepared": prepared, "cms": B64.encode(b"not DER") });
    let a = call(&app, Method::POST, "/v1/embed", Some(body), &[]).await;
    assert_eq!(a.json["error"]["code"], "CMS_INVALID", "{}", a.text);
    let body =
        serde_json::json!({ "prepared": prepared, "cms": B64.encode(cms_for_other_bytes()) });
    let a = call(&app, Method::POST, "/v1/embed", Some(body), &[en]).await;
    assert_eq!(
        (a.status.as_u16(), a.json["error"]["code"].as_str()),
        (409, Some("CMS_MISMATCH")),
        "{}",
        a.text
    );
    assert!(a.json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("another file")));
    // A timestamp asked of a bridge without a TSA.
    let body = serde_json::json!({ "prepared": prepared, "cms": B64.encode(cms_for_other_bytes()), "level": "B-T" });
    let a = call(&app, Method::POST, "/v1/embed", Some(body), &[]).await;
    assert_eq!(a.json["error"]["code"], "BAD_REQUEST", "{}", a.text);
}

/// A well-formed CAdES SignedData whose message digest is not the prepared file's.
fn cms_for_other_bytes() -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["signer".into()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    crate::cades::sign_detached(
        crate::digest::DigestAlgorithm::Sha256,
        crate::scheme::SignatureScheme::Ecdsa,
        &[7u8; 32],
        &crate::cades::SignerCertificates {
            certificate: cert.der(),
            chain: &[],
        },
        |_| Ok::<_, std::io::Error>(vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]),
    )
    .expect("cms")
}

/// A `multipart/form-data` body: `options` (JSON) and one binary part.
fn multipart(options: serde_json::Value, name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kyso-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\nContent-Type: application/json\r\n\r\n{options}\r\n"
    ).as_bytes());
    body.extend(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    ).as_bytes());
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_multipart(
    app: &axum::Router,
    path: &str,
    (kind, body): (String, Vec<u8>),
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, bytes.to_vec())
}

/// Large documents go as binary parts and come back as `application/pdf`, through the same
/// rules as JSON: the same digest facts, the same refusals.
#[tokio::test]
async fn a_pdf_can_travel_as_a_binary_part_and_come_back_as_a_pdf() {
    let app = router(config(None));
    let draft = crate::pades::tests::minimal_pdf();
    let (status, headers, prepared) = send_multipart(
        &app,
        "/v1/prepare",
        multipart(serde_json::json!({ "role": "approve" }), "pdf", &draft),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&prepared)
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(headers["kyso-digest-algorithm"], "SHA-256");
    assert_eq!(
        headers[header::CONTENT_LENGTH].to_str().ok(),
        Some(prepared.len().to_string().as_str())
    );
    let digest = B64
        .decode(headers["kyso-digest"].as_bytes())
        .expect("digest");
    let range: Vec<usize> = headers["kyso-byte-range"]
        .to_str()
        .expect("range")
        .split(' ')
        .map(|n| n.parse().expect("number"))
        .collect();
    // The digest is of the returned file's byte range, as /v1/sign will sign it.
    let mut hasher = crate::digest::DigestAlgorithm::Sha256.hasher();
    hasher.update(&prepared[range[0]..range[0] + range[1]]);
    hasher.update(&prepared[range[2]..range[2] + range[3]]);
    assert_eq!(hasher.finish(), digest);
    // The streamed answer is counted by its length.
    let metrics = call(&app, Method::GET, "/metrics", None, &[]).await;
    let sent: u64 = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("kyso_bridge_response_bytes_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(sent >= prepared.len() as u64, "{sent} < {}", prepared.len());
    // The same file over JSON gives the same digest facts.
    let json = call(
        &app,
        Method::POST,
        "/v1/prepare",
        Some(serde_json::json!({ "pdf": B64.encode(&draft) })),
        &[],
    )
    .await;
    assert_eq!(json.json["byteRange"].as_array().map(Vec::len), Some(4));
    // Embedding a signature made for other bytes is refused the same way.
    let options = serde_json::json!({ "cms": B64.encode(cms_for_other_bytes()) });
    let (status, _, body) =
        send_multipart(&app, "/v1/embed", multipart(options, "prepared", &prepared)).await;
    assert_eq!(status.as_u16(), 409);
    assert!(String::from_utf8_lossy(&body).contains("CMS_MISMATCH"));
    // Verify answers its JSON report for a binary part too.
    let (status, _, body) = send_multipart(
        &app,
        "/v1/verify",
        multipart(serde_json::json!({ "revocation": "off" }), "pdf", &prepared),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let report: serde_json::Value = serde_json::from_slice(&body).expect("report");
    assert!(report["signatures"].is_array());
    // The file is the binary part, never also an option; an unknown part is refused.
    let (status, _, body) = send_multipart(
        &app,
        "/v1/verify",
        multipart(serde_json::json!({ "pdf": "AAAA" }), "pdf", &prepared),
    )
    .await;
    assert_eq!(status.as_u16(), 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = send_multipart(
        &app,
        "/v1/verify",
        multipart(serde_json::json!({}), "document", &prepared),
    )
    .await;
    assert_eq!(status.as_u16(), 400);
}

/// With the DMS's key, prepare mints a ticket for its digest that the agent's check accepts
/// with the public key (origin, digest, the document and the role's purpose); without a key,
/// asking for one is a clear `BAD_REQUEST`.
#[tokio::test]
async fn prepare_mints_a_ticket_the_agent_accepts() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let mut with_key = config(None);
    with_key.ticket_key = Some(std::sync::Arc::new(
        super::ticket::TicketKey::from_pem(key.serialize_pem().as_bytes()).expect("ticket key"),
    ));
    let ask = serde_json::json!({
        "pdf": pdf(),
        "ticket": {"origin": "https://qlvb.example.gov.vn", "title": "Quyết định 12", "number": "12/QĐ-UBND"}
    });
    let answer = call(
        &router(with_key),
        Method::POST,
        "/v1/prepare",
        Some(ask.clone()),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let ticket = answer.json["ticket"].as_str().expect("a ticket");
    let digest = B64
        .decode(answer.json["digest"].as_str().expect("digest"))
        .expect("b64");

    let dir = tempfile::tempdir().expect("dir");
    let public = dir.path().join("dms.pub.pem");
    std::fs::write(&public, key.public_key_pem()).expect("write");
    let attestation = crate::signing::Attestation::load(
        &[(
            "https://qlvb.example.gov.vn".to_string(),
            crate::config::AttestedOriginSettings {
                keys: vec![public],
                require_ticket: true,
            },
        )],
        |p| std::fs::read(p).map_err(|e| e.to_string()),
    )
    .expect("attestation");
    let mut order = crate::signing::SignOrder::from_request(crate::api::SignRequest {
        certificate_id: "ab".repeat(32),
        digest: Some(B64.encode(&digest)),
        signed_attributes: None,
        digest_algorithm: crate::digest::DigestAlgorithm::Sha256,
        format: crate::api::SignFormat::Cms,
        document: crate::api::Document {
            title: "what the page says".into(),
            number: None,
            purpose: crate::api::Purpose::Copy,
        },
        ticket: Some(ticket.to_string()),
    })
    .expect("order");
    let origin = crate::signing::Origin::parse("https://qlvb.example.gov.vn").expect("origin");
    let ticket = order.ticket.take();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(
        attestation.check(Some(&origin), &mut order, ticket.as_deref(), now),
        Ok(crate::signing::Attested::Yes)
    );
    assert_eq!(order.document.title, "Quyết định 12");
    assert_eq!(order.document.number.as_deref(), Some("12/QĐ-UBND"));
    assert_eq!(order.document.purpose, crate::api::Purpose::Approve);

    let refused = call(
        &router(config(None)),
        Method::POST,
        "/v1/prepare",
        Some(ask),
        &[],
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(refused.text.contains("ticket key"), "{}", refused.text);
}
