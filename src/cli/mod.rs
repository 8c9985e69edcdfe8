//! The command line's own parts, outside the library: one module per command group, which
//! `main.rs` dispatches to, the agent's HTTPS client (`kyso status`, the benchmark), and the
//! output helpers every command shares.

pub mod agent;
pub mod bench;
pub mod bridge;
pub mod browsers;
pub mod cert;
pub mod certs;
pub mod client;
pub mod demo;
pub mod doctor;
pub mod origins;
pub mod pdf;
pub mod sign;
pub mod trust;
pub mod values;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kyso::api::{ErrorBody, ErrorResponse, Lang};
use kyso::app::App;
use kyso::signing;

/// Every command's runtime: the agent's ([`kyso::server::runtime`]).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    kyso::server::runtime().map_err(|e| e.to_string())
}

pub fn report(error: &signing::Error, json: bool) -> ExitCode {
    let code = error.code();
    if json {
        print_json(&ErrorResponse {
            error: ErrorBody {
                code,
                message: error.user_message(Lang::Vi),
                retries_left: error.retries_left(),
            },
        });
    }
    eprintln!(
        "{}: {}",
        kyso::i18n::text(Lang::Vi, "cli-error"),
        error.user_message(Lang::Vi)
    );
    eprintln!(
        "{}: {}",
        kyso::i18n::text(Lang::En, "cli-error"),
        error.user_message(Lang::En)
    );
    eprintln!("code: {}", code.as_str());
    // The message tells the user to see the log for an internal error: it must be there at
    // the default level, as the agent's answers log it.
    if let signing::Error::Internal(detail) = error {
        tracing::error!(%detail, "internal error");
    } else {
        tracing::debug!(%error, "signing failed");
    }
    ExitCode::FAILURE
}

pub fn print_json<T: serde::Serialize>(value: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

/// Writes `bytes` to `path` through a temporary file, so a failure leaves nothing half-written.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let partial = path.with_extension("kyso-partial");
    std::fs::write(&partial, bytes).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads CRL files (PEM or DER) as DER.
pub fn read_crl_files(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for path in paths {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for crl in kyso::pki::crl::parse(&data).map_err(|e| format!("{}: {e}", path.display()))? {
            out.push(der::Encode::to_der(&crl).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

/// A full id, or a unique prefix of one.
pub fn resolve_certificate(app: &App, text: &str) -> Result<String, signing::Error> {
    let prefix = text.trim().to_ascii_lowercase();
    let matches: Vec<String> = app
        .signing
        .certificates(None)
        .into_iter()
        .map(|c| c.info.id)
        .filter(|id| id.starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(signing::Error::CertificateNotFound),
        _ => Err(signing::Error::BadRequest(format!(
            "{text} matches several certificates"
        ))),
    }
}

/// The `listening on …` lines that `kyso serve` and `kyso run` print once the port is bound.
pub fn print_urls(urls: &[String]) {
    // A closed standard output (the starter stopped reading) must not take the agent down.
    let mut out = std::io::stdout().lock();
    for url in urls {
        let _ = writeln!(out, "listening on {url}");
    }
    let _ = out.flush();
}
