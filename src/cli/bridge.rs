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
    /// Largest request body, MiB.
    #[arg(long, default_value_t = 64)]
    pub max_body_mb: usize,
    /// Operations at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// CRLs (PEM or DER) applied to every verification (air-gapped servers).
    #[arg(long)]
    pub crl: Vec<PathBuf>,
}

/// Serves the bridge until the process ends.
///
/// # Errors
/// The address is taken; an unreadable trust anchor or CRL file.
pub fn run(config: &Config, args: &BridgeArgs) -> Result<ExitCode, String> {
    let anchors = certificate::read_certificate_files(&config.trust_anchors)?;
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
