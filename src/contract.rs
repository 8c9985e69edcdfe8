//! The one contract: the OpenAPI 3.1 document of the agent's API v1 and of `kyso bridge`,
//! derived from the wire types (`api`, `api::bridge`, the verify report) and the handlers'
//! `#[utoipa::path]`. The error answers come from one table, [`ERRORS`]: which codes each
//! operation can answer; their status is [`ErrorCode::http_status`] (or the one the guard
//! uses), their example bodies the catalogue's messages. `src/openapi.json` is this document,
//! kept by a golden test; the web SDK's types are generated from that file.

use std::collections::BTreeMap;

use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::OpenApi;

use crate::api::{self, ErrorBody, ErrorCode, ErrorResponse, Lang};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kyso",
        version = "1",
        description = "The Kyso agent's API v1 (on each workstation, `https://127.0.0.1:47400`) \
and the DMS bridge (`kyso bridge`, on the DMS server). Errors are \
`{\"error\": {\"code\", \"message\", \"retriesLeft\"?}}` with stable codes; the message follows \
`Accept-Language` (Vietnamese unless English comes first).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers(
        (url = "https://127.0.0.1:47400", description = "agent"),
        (url = "http://127.0.0.1:47480", description = "bridge"),
    ),
    tags(
        (name = "agent", description = "The signing agent on the workstation: tokens, certificates, \
signing. Browser calls need an allowed Origin; the PIN is asked in the agent's own dialog. \
DMS-attested requests: a DMS server signs a ticket (a JWS compact JWT, ES256, EdDSA or RS256, \
whose payload is `TicketClaims`: the page origin, the digest, the document, `exp` at most 5 \
minutes ahead, a `jti` nonce) and the page passes it as `ticket`; the agent verifies it with \
the public key its policy sets for the origin (`[attested_origins.\"https://…\"] keys = [...]`, \
`require_ticket`), shows the ticket's document as confirmed by the DMS, and refuses a bad one \
before any dialog (`TICKET_INVALID`, `TICKET_EXPIRED`, `TICKET_REPLAYED`, `TICKET_REQUIRED`). \
The bridge mints tickets when given the DMS's key (`prepare`'s `ticket`)."),
        (name = "bridge", description = "The stateless PDF service on the DMS server: prepare, \
embed, verify."),
    ),
    paths(
        crate::server::routes::status,
        crate::server::routes::certificates,
        crate::server::routes::sign,
        crate::server::routes::sign_batch,
        crate::server::routes::events,
        crate::bridge::prepare,
        crate::bridge::embed,
        crate::bridge::verify,
    ),
    components(schemas(api::ErrorResponse, api::ErrorBody, api::ErrorCode, api::TicketClaims)),
    modifiers(&ErrorAnswers),
)]
struct ApiDoc;

/// An error an operation can answer: the code, and the status when it is not the code's own
/// (the guard answers a foreign Host with 421, a wrong Content-Type with 415, an unknown
/// path with 404, all `BAD_REQUEST`).
#[derive(Clone, Copy)]
struct Answer(ErrorCode, Option<u16>);

const fn code(code: ErrorCode) -> Answer {
    Answer(code, None)
}

/// What every agent call can meet before its handler: the Host and Origin checks, the user
/// refusing or not answering an unknown origin's approval, an internal failure.
const AGENT_GUARD: [Answer; 4] = [
    code(ErrorCode::OriginNotAllowed),
    code(ErrorCode::Timeout),
    Answer(ErrorCode::BadRequest, Some(421)),
    code(ErrorCode::Internal),
];

/// What a signing call can meet past the guard.
const SIGNING: [Answer; 17] = [
    code(ErrorCode::BadRequest),
    Answer(ErrorCode::BadRequest, Some(415)),
    code(ErrorCode::CertificateNotFound),
    code(ErrorCode::UserCancelled),
    code(ErrorCode::TokenNotPresent),
    code(ErrorCode::PinIncorrect),
    code(ErrorCode::PinLocked),
    code(ErrorCode::CertificateNotValid),
    code(ErrorCode::CertificateRevoked),
    code(ErrorCode::LimitExceeded),
    code(ErrorCode::Busy),
    code(ErrorCode::RevocationUnavailable),
    code(ErrorCode::Timeout),
    code(ErrorCode::TicketInvalid),
    code(ErrorCode::TicketExpired),
    code(ErrorCode::TicketReplayed),
    code(ErrorCode::TicketRequired),
];

/// What every bridge call can meet.
const BRIDGE: [Answer; 5] = [
    code(ErrorCode::BadRequest),
    code(ErrorCode::PdfMalformed),
    code(ErrorCode::LimitExceeded),
    code(ErrorCode::Busy),
    code(ErrorCode::Internal),
];

/// Which errors each operation answers, by path and method.
const ERRORS: [(&str, HttpMethod, &[Answer], &[Answer]); 8] = [
    ("/v1/status", HttpMethod::Get, &AGENT_GUARD, &[]),
    (
        "/v1/certificates",
        HttpMethod::Get,
        &AGENT_GUARD,
        &[code(ErrorCode::BadRequest)],
    ),
    ("/v1/sign", HttpMethod::Post, &AGENT_GUARD, &SIGNING),
    ("/v1/sign/batch", HttpMethod::Post, &AGENT_GUARD, &SIGNING),
    ("/v1/events", HttpMethod::Get, &AGENT_GUARD, &[]),
    ("/v1/prepare", HttpMethod::Post, &BRIDGE, &[]),
    ("/v1/embed", HttpMethod::Post, &BRIDGE, &[]),
    ("/v1/verify", HttpMethod::Post, &BRIDGE, &[]),
];

/// The body an error answer carries, as the agent writes it (Vietnamese).
fn example_body(code: ErrorCode) -> serde_json::Value {
    let body = ErrorResponse {
        error: ErrorBody {
            code,
            message: code.message(Lang::Vi).to_string(),
            retries_left: (code == ErrorCode::PinIncorrect).then_some(2),
        },
    };
    serde_json::to_value(body).unwrap_or_default()
}

/// Adds the error answers of [`ERRORS`] to the operations, and the `origin` security scheme
/// the agent operations name.
struct ErrorAnswers;

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut Document) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "origin",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Origin",
                    "The page's origin, set by the browser: it must be in the agent's allow-list \
(policy or `kyso origins`) or be approved by the user once. Local programs send none and may \
only read the status and the certificates.",
                ))),
            );
        }
        for (path, method, first, then) in ERRORS {
            let Some(item) = openapi.paths.paths.get_mut(path) else {
                continue;
            };
            let operation = match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                _ => None,
            };
            let Some(operation) = operation else {
                continue;
            };
            let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
            for Answer(code, status) in first.iter().chain(then) {
                let codes = by_status
                    .entry(status.unwrap_or_else(|| code.http_status()))
                    .or_default();
                if !codes.contains(code) {
                    codes.push(*code);
                }
            }
            for (status, codes) in by_status {
                let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                let examples = codes.iter().map(|c| {
                    (
                        c.as_str(),
                        ExampleBuilder::new()
                            .summary(c.message(Lang::En))
                            .value(Some(example_body(*c)))
                            .build(),
                    )
                });
                let response = ResponseBuilder::new()
                    .description(names.join(", "))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorResponse")))
                            .examples_from_iter(examples)
                            .build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status.to_string(), response.into());
            }
        }
    }
}

/// The OpenAPI document, as `src/openapi.json` holds it and the bridge serves it.
pub fn document() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_string());
        text.push('\n');
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `src/openapi.json` is what the code says; `KYSO_BLESS=1 cargo test contract` rewrites it
    /// after a deliberate change (then `npm run generate` in `web-sdk/` for the SDK's types).
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/openapi.json");
        if std::env::var_os("KYSO_BLESS").is_some() {
            std::fs::write(path, document()).expect("write src/openapi.json");
        }
        let committed = std::fs::read_to_string(path).expect("src/openapi.json");
        assert!(
            committed == document(),
            "src/openapi.json is not what the code says: run `KYSO_BLESS=1 cargo test --features agent contract` and review the diff"
        );
    }

    #[test]
    fn every_operation_is_named_tagged_and_answers_with_a_schema() {
        let doc: serde_json::Value = serde_json::from_str(document()).expect("json");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), ERRORS.len());
        let mut ids = Vec::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("item") {
                let id = operation["operationId"].as_str().expect("operationId");
                ids.push(id.to_string());
                assert!(operation["tags"][0].is_string(), "{method} {path}: no tag");
                let responses = operation["responses"].as_object().expect("responses");
                assert!(responses.contains_key("200"), "{method} {path}");
                for (status, response) in responses {
                    let content = response["content"].as_object().expect("content");
                    for (kind, media) in content {
                        assert!(
                            media.get("schema").is_some(),
                            "{method} {path} {status} {kind}: no schema"
                        );
                    }
                    if status != "200" {
                        let examples = content["application/json"]["examples"]
                            .as_object()
                            .expect("error examples");
                        assert!(!examples.is_empty(), "{method} {path} {status}");
                    }
                }
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds are unique");
    }

    #[test]
    fn a_wrong_pin_answer_documents_the_retries_left() {
        let doc: serde_json::Value = serde_json::from_str(document()).expect("json");
        let example = &doc["paths"]["/v1/sign"]["post"]["responses"]["409"]["content"]
            ["application/json"]["examples"]["PIN_INCORRECT"]["value"];
        assert_eq!(example["error"]["code"], "PIN_INCORRECT");
        assert_eq!(example["error"]["retriesLeft"], 2);
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "SignRequest",
            "PrepareRequest",
            "Report",
            "ErrorCode",
            "Level",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
    }
}
