//! What makes the bridge a service an operator can run: the bearer-token check, the health
//! and readiness probes, Prometheus metrics and one structured log line per request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest as _, Sha256};

use super::{lang_of, Failure, Shared};
use crate::api::ErrorCode;

/// Upper bounds of the duration histogram, seconds: a verify with network revocation checks
/// takes seconds, a prepare of a small draft milliseconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(String, u16), u64>,
    errors: BTreeMap<&'static str, u64>,
    durations: BTreeMap<String, Histogram>,
    bytes_in: u64,
    bytes_out: u64,
}

/// The bridge's counters since it started, in Prometheus' text format at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn record(
        &self,
        route: &str,
        status: u16,
        code: Option<ErrorCode>,
        seconds: f64,
        bytes: (u64, u64),
    ) {
        let Ok(mut c) = self.counters.lock() else {
            return;
        };
        *c.requests.entry((route.to_string(), status)).or_default() += 1;
        if let Some(code) = code {
            *c.errors.entry(code.as_str()).or_default() += 1;
        }
        let h = c.durations.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
        c.bytes_in += bytes.0;
        c.bytes_out += bytes.1;
    }

    /// The text exposition (version 0.0.4).
    pub fn render(&self, slots_free: usize, slots: usize) -> String {
        use std::fmt::Write as _;
        let Ok(c) = self.counters.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kyso_bridge_requests_total Requests answered, by route and HTTP status."
        );
        let _ = writeln!(out, "# TYPE kyso_bridge_requests_total counter");
        for ((route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "kyso_bridge_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP kyso_bridge_errors_total Error answers, by stable error code."
        );
        let _ = writeln!(out, "# TYPE kyso_bridge_errors_total counter");
        for (code, n) in &c.errors {
            let _ = writeln!(out, "kyso_bridge_errors_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP kyso_bridge_request_duration_seconds Time to answer, by route."
        );
        let _ = writeln!(out, "# TYPE kyso_bridge_request_duration_seconds histogram");
        for (route, h) in &c.durations {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "kyso_bridge_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "kyso_bridge_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "kyso_bridge_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "kyso_bridge_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP kyso_bridge_request_bytes_total Request body bytes received."
        );
        let _ = writeln!(out, "# TYPE kyso_bridge_request_bytes_total counter");
        let _ = writeln!(out, "kyso_bridge_request_bytes_total {}", c.bytes_in);
        let _ = writeln!(
            out,
            "# HELP kyso_bridge_response_bytes_total Response body bytes sent."
        );
        let _ = writeln!(out, "# TYPE kyso_bridge_response_bytes_total counter");
        let _ = writeln!(out, "kyso_bridge_response_bytes_total {}", c.bytes_out);
        let _ = writeln!(out, "# HELP kyso_bridge_slots_busy Operations running now.");
        let _ = writeln!(out, "# TYPE kyso_bridge_slots_busy gauge");
        let _ = writeln!(
            out,
            "kyso_bridge_slots_busy {}",
            slots.saturating_sub(slots_free)
        );
        let _ = writeln!(out, "# HELP kyso_bridge_slots Operations allowed at once.");
        let _ = writeln!(out, "# TYPE kyso_bridge_slots gauge");
        let _ = writeln!(out, "kyso_bridge_slots {slots}");
        out
    }
}

/// Whether a path needs the bearer token: the operations and the metrics. The probes, the
/// OpenAPI document and the demo's static files do not.
fn protected(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/metrics"
}

/// Refuses a protected request without the right `Authorization: Bearer` token. The tokens
/// are compared as SHA-256 digests, so the comparison's time says nothing about the token.
pub(super) async fn authenticate(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = shared.config.token.as_deref() else {
        return next.run(request).await;
    };
    if !protected(request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if Sha256::digest(presented.as_bytes()) == Sha256::digest(token.as_bytes())
        && !presented.is_empty()
    {
        return next.run(request).await;
    }
    let lang = lang_of(request.headers());
    let mut response = Failure::new(ErrorCode::Unauthorized).into_response(lang);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"kyso-bridge\""),
    );
    response
}

/// Counts and logs every request: route, status, stable code, duration, bytes.
pub(super) async fn observe(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let bytes_in = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let code = response.extensions().get::<ErrorCode>().copied();
    // A streamed PDF has no exact size hint; its Content-Length says it.
    let bytes_out = response.body().size_hint().exact().unwrap_or_else(|| {
        response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    });
    shared
        .metrics
        .record(&route, status, code, seconds, (bytes_in, bytes_out));
    tracing::info!(
        target: "kyso::bridge::access",
        %method,
        route,
        status,
        code = code.map(ErrorCode::as_str).unwrap_or(""),
        duration_ms = (seconds * 1000.0).round() as u64,
        bytes_in,
        bytes_out,
        "request"
    );
    response
}

/// Liveness: the process answers.
pub(super) async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// Readiness: a slot is free for one more operation (else 503, so a load balancer sends the
/// request to another bridge).
pub(super) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let free = shared.slots.available_permits();
    let body =
        serde_json::json!({ "status": if free > 0 { "ready" } else { "busy" }, "slotsFree": free });
    let status = if free > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `/metrics`.
pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let text = shared.metrics.render(
        shared.slots.available_permits(),
        shared.config.concurrency.max(1),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_count_requests_errors_durations_and_bytes() {
        let m = Metrics::default();
        m.record("/v1/prepare", 200, None, 0.02, (100, 200));
        m.record(
            "/v1/embed",
            409,
            Some(ErrorCode::CmsMismatch),
            0.3,
            (50, 80),
        );
        let text = m.render(3, 4);
        assert!(text.contains("kyso_bridge_requests_total{route=\"/v1/prepare\",status=\"200\"} 1"));
        assert!(text.contains("kyso_bridge_errors_total{code=\"CMS_MISMATCH\"} 1"));
        assert!(text.contains(
            "kyso_bridge_request_duration_seconds_bucket{route=\"/v1/prepare\",le=\"0.025\"} 1"
        ));
        assert!(text.contains(
            "kyso_bridge_request_duration_seconds_bucket{route=\"/v1/prepare\",le=\"0.01\"} 0"
        ));
        assert!(text.contains(
            "kyso_bridge_request_duration_seconds_bucket{route=\"/v1/embed\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains("kyso_bridge_request_bytes_total 150"));
        assert!(text.contains("kyso_bridge_response_bytes_total 280"));
        assert!(text.contains("kyso_bridge_slots_busy 1"));
    }

    #[test]
    fn only_operations_and_metrics_need_the_token() {
        assert!(protected("/v1/prepare") && protected("/metrics"));
        assert!(!protected("/healthz") && !protected("/readyz") && !protected("/openapi.json"));
    }
}
