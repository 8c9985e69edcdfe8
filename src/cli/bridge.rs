//! `kyso bridge`: the stateless PDF service for DMS servers.

use std::path::PathBuf;
use std::process::ExitCode;

use kyso::certificate;
use kyso::config::Config;

use super::{read_crl_files, runtime};

/// The bridge's options.
#[derive(clap::Args)]
pub struct BridgeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:47480")]
    pub listen: std::net::SocketAddr,
    /// Serve the demo page and the SDK from this web-sdk folder.
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// Largest request body, MiB (a PDF travels as base64: 280 MiB carries a 200 MiB PDF).
    #[arg(long, default_value_t = 280)]
    pub max_body_mb: usize,
    /// File holding the bearer token every `/v1/` and `/metrics` request must send
    /// (`Authorization: Bearer TOKEN`); e.g. `openssl rand -hex 32 > /etc/kyso/bridge.token`.
    #[arg(
        long,
        env = "KYSO_BRIDGE_TOKEN_FILE",
        required_unless_present = "insecure_no_auth"
    )]
    pub token_file: Option<PathBuf>,
    /// Accept requests without a token (only behind something that authenticates, or on a
    /// machine where every local program may sign PDFs).
    #[arg(long, conflicts_with = "token_file")]
    pub insecure_no_auth: bool,
    /// Operations at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// CRLs (PEM or DER) applied to every verification (air-gapped servers).
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// The DMS's private key (PEM: PKCS#8 P-256, Ed25519 or RSA): prepare then mints a DMS
    /// ticket when asked (`ticket`), which the workstations' policy checks with the public key.
    #[arg(long, env = "KYSO_BRIDGE_TICKET_KEY")]
    pub ticket_key: Option<PathBuf>,
}

/// The token in `path`, trimmed: at least 16 characters, so that a placeholder or an empty
/// file is not taken for a secret.
fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < 16 || token.contains(char::is_whitespace) {
        return Err(format!(
            "{}: the token must be one line of at least 16 characters (openssl rand -hex 32)",
            path.display()
        ));
    }
    Ok(token.to_string())
}

/// Serves the bridge until the process ends.
///
/// # Errors
/// The address is taken; an unreadable trust anchor or CRL file.
pub fn run(config: &Config, args: &BridgeArgs) -> Result<ExitCode, String> {
    let anchors = certificate::read_certificate_files(&config.trust_anchors)?;
    let token = match &args.token_file {
        Some(path) => Some(read_token(path)?),
        None => {
            tracing::warn!("the bridge accepts requests without a token (--insecure-no-auth)");
            None
        }
    };
    let ticket_key = match &args.ticket_key {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(std::sync::Arc::new(
                kyso::bridge::ticket::TicketKey::from_pem(&pem)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            ))
        }
        None => None,
    };
    let bridge = kyso::bridge::BridgeConfig {
        max_body: args.max_body_mb * 1024 * 1024,
        concurrency: args.concurrency,
        trust_anchors: anchors,
        tsa_url: config.tsa_url.clone(),
        offline: config.offline,
        crls: read_crl_files(&args.crl)?,
        web_dir: args.web_dir.clone(),
        samples_dir: None,
        agent_port: Some(config.port),
        openapi: Some(kyso::contract::document()),
        token,
        seal_size_mm: config.seal_size_mm,
        ticket_key,
    };
    let listen = args.listen;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("{listen}: {e}"))?;
        println!(
            "bridge listening on http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        kyso::bridge::serve(listener, bridge)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ExitCode::SUCCESS)
    })
}
