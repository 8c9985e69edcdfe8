//! Large PDFs without holding them in memory: besides JSON with base64 files, every operation
//! takes `multipart/form-data` — an `options` part (the same JSON, without the file) and the
//! file as a binary part. The file is streamed to a temporary file, worked on through a memory
//! map as the command line does, and the resulting PDF is streamed back from a temporary file
//! (`application/pdf`, its facts in `Kyso-…` headers). The bridge's memory then stays near the
//! CLI's whatever the size of the document; the temporary files go when the answer is sent.

use std::io::Write as _;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use tempfile::TempPath;

use super::{bad, Failure};
use crate::api::ErrorCode;

/// Whether the request carries its file as a binary part.
pub(super) fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// A new temporary file in the system's temporary folder (private to the service under
/// systemd's `PrivateTmp`), removed when the returned path is dropped.
fn temporary() -> Result<(std::fs::File, TempPath), Failure> {
    let file = tempfile::NamedTempFile::new().map_err(|e| {
        tracing::error!(error = %e, "no temporary file");
        Failure::new(ErrorCode::Internal)
    })?;
    let (file, path) = file.into_parts();
    Ok((file, path))
}

/// An empty temporary file for a result.
pub(super) fn output() -> Result<TempPath, Failure> {
    temporary().map(|(_, path)| path)
}

/// Reads a multipart request: `options` (JSON: the operation's request without its file) and
/// the file in the part named `file_field`, streamed to disk with at most `limit` bytes. The
/// options are read as the JSON request is, with the file field set empty, so both forms go
/// through one set of rules.
pub(super) async fn read<T: DeserializeOwned>(
    request: Request,
    file_field: &str,
    limit: usize,
) -> Result<(T, TempPath), Failure> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad(&format!("multipart: {}", e.body_text())))?;
    let mut options: Option<serde_json::Value> = None;
    let mut file: Option<TempPath> = None;
    while let Some(mut part) = multipart
        .next_field()
        .await
        .map_err(|e| bad(&format!("multipart: {}", e.body_text())))?
    {
        match part.name() {
            Some("options") => {
                let text = part
                    .text()
                    .await
                    .map_err(|e| bad(&format!("options: {}", e.body_text())))?;
                if text.len() > 1 << 20 {
                    return Err(bad("options: more than 1 MiB"));
                }
                options =
                    Some(serde_json::from_str(&text).map_err(|e| bad(&format!("options: {e}")))?);
            }
            Some(name) if name == file_field => {
                let (mut writer, path) = temporary()?;
                let mut written = 0usize;
                while let Some(chunk) = part.chunk().await.map_err(|e| Failure {
                    code: ErrorCode::LimitExceeded,
                    detail: e.body_text(),
                })? {
                    written = written.saturating_add(chunk.len());
                    if written > limit {
                        return Err(Failure {
                            code: ErrorCode::LimitExceeded,
                            detail: format!("{file_field} > {limit} bytes"),
                        });
                    }
                    // A blocking write of one chunk (≤ 64 KiB): the disk keeps up with the
                    // network, and the slot is held by this request anyway.
                    writer.write_all(&chunk).map_err(|e| {
                        tracing::error!(error = %e, "writing the temporary file");
                        Failure::new(ErrorCode::Internal)
                    })?;
                }
                writer
                    .flush()
                    .map_err(|_| Failure::new(ErrorCode::Internal))?;
                file = Some(path);
            }
            Some(other) => return Err(bad(&format!("unknown part {other}"))),
            None => return Err(bad("a part without a name")),
        }
    }
    let file = file.ok_or_else(|| bad(&format!("no {file_field} part")))?;
    let mut options = options.unwrap_or_else(|| serde_json::json!({}));
    match options.as_object_mut() {
        Some(map) => {
            if map.contains_key(file_field) {
                return Err(bad(&format!(
                    "{file_field} is the binary part, not an option"
                )));
            }
            map.insert(
                file_field.to_string(),
                serde_json::Value::String(String::new()),
            );
        }
        None => return Err(bad("options: not a JSON object")),
    }
    let input = serde_json::from_value(options).map_err(|e| bad(&format!("options: {e}")))?;
    Ok((input, file))
}

/// Streams a PDF from a temporary file, which is removed once the answer has been sent (or the
/// client has gone).
pub(super) async fn pdf_response(
    path: TempPath,
    facts: Vec<(HeaderName, String)>,
) -> Result<Response, Failure> {
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(error = %e, "reopening the result");
        Failure::new(ErrorCode::Internal)
    })?;
    let length = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let chunks = futures_util::stream::unfold((file, path), |(mut file, path)| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), (file, path)))
            }
            Err(e) => Some((Err(e), (file, path))),
        }
    })
    .boxed();
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in facts {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}
