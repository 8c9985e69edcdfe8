//! `kyso serve`, `kyso run`, `kyso status`: the agent itself, and asking a running one.

use std::process::ExitCode;

use kyso::app::App;
use kyso::config::Config;

use super::{print_json, runtime};

pub fn agent_status(config: &Config, port: u16) -> Result<ExitCode, String> {
    let ca = kyso::tls::read_ca(&config.data_dir)
        .map_err(|e| format!("no local CA yet (start kyso serve first): {e}"))?;
    let reply = runtime()?.block_on(async {
        let mut connection = super::client::AgentConnection::connect(port, &ca).await?;
        connection.request("GET", "/v1/status", None, None).await
    });
    match reply {
        Ok(reply) if reply.status == 200 => {
            let value: serde_json::Value =
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
            print_json(&value);
            Ok(ExitCode::SUCCESS)
        }
        Ok(reply) => Err(format!(
            "agent answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The ports to try: `--port N` exactly, else the configured range (47400–47409 by default).
fn range(app: &App, port: Option<u16>) -> (u16, u16) {
    match port {
        Some(port) => (port, 1),
        None => (app.config.port, app.config.port_range),
    }
}

/// `kyso serve` (and `kyso run` without the desktop feature): the HTTPS agent until the
/// process ends.
///
/// # Errors
/// The port is taken, or the TLS identity cannot be made.
pub fn serve(app: &App, port: Option<u16>) -> Result<ExitCode, String> {
    let (port, ports) = range(app, port);
    runtime()?
        .block_on(app.serve(port, ports, super::print_urls))
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// `kyso run`: the agent with its tray and native dialogs.
///
/// # Errors
/// As [`serve`], or the tray cannot start.
#[cfg(feature = "desktop")]
pub fn run_desktop(app: App, port: Option<u16>) -> Result<ExitCode, String> {
    let (port, ports) = range(&app, port);
    kyso::app::desktop::run(app, port, ports, super::print_urls)?;
    Ok(ExitCode::SUCCESS)
}
