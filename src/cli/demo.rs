//! `kyso demo`: the whole signing workflow on one machine without a USB token — the agent on a
//! SoftHSM2 demo token (made by `tests/fixtures/make-token.sh`), the bridge, and the demo DMS
//! page. `--headless` plays the page's part from Rust: the leader approves the bundled
//! Vietnamese draft, the clerk issues it with number, date and seal, the receiving clerk
//! verifies; it prints the signed PDF's path last.

use std::process::ExitCode;

use kyso::app::{self as app, App};
use kyso::certificate;
use kyso::config::Config;

use super::{read_crl_files, runtime};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::client::AgentConnection;

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
#[error("demo: {0}")]
pub struct Error(pub String);

fn fail(e: impl std::fmt::Display) -> Error {
    Error(e.to_string())
}

async fn call(
    connection: &mut AgentConnection,
    path: &str,
    origin: Option<&str>,
    body: Value,
) -> Result<Value, Error> {
    let payload = serde_json::to_vec(&body).map_err(fail)?;
    let reply = connection
        .request("POST", path, origin, Some(payload))
        .await
        .map_err(fail)?;
    let value: Value = serde_json::from_slice(&reply.body).map_err(fail)?;
    if reply.status != 200 {
        return Err(Error(format!("{path} answered {}: {value}", reply.status)));
    }
    Ok(value)
}

/// Plays leader, clerk and receiving clerk against a running agent and bridge; returns the
/// signed PDF's path.
///
/// # Errors
/// Any step that fails, with the answer that made it fail.
pub async fn headless(
    dir: &Path,
    agent_port: u16,
    bridge_port: u16,
    ca: &[u8],
) -> Result<PathBuf, Error> {
    let origin = format!("http://127.0.0.1:{bridge_port}");
    let docs = dir.join("docs");
    let read =
        |name: &str| std::fs::read(docs.join(name)).map_err(|e| Error(format!("{name}: {e}")));
    let mut agent = AgentConnection::connect(agent_port, ca)
        .await
        .map_err(fail)?;
    let mut bridge = AgentConnection::connect_plain(bridge_port)
        .await
        .map_err(fail)?;
    let reply = agent
        .request("GET", "/v1/certificates", Some(&origin), None)
        .await
        .map_err(fail)?;
    let certificates: Value = serde_json::from_slice(&reply.body).map_err(fail)?;
    let pick = |kind: &str| {
        certificates["certificates"]
            .as_array()
            .and_then(|list| {
                let usable = |c: &&Value| {
                    c["kind"] == kind && c["validity"] == "valid" && c["token"]["present"] == true
                };
                // The leader of the sample draft, when the token has him.
                list.iter()
                    .filter(usable)
                    .find(|c| c["holder"] == "Nguyễn Văn An")
                    .or_else(|| list.iter().find(usable))
                    .cloned()
            })
            .ok_or_else(|| Error(format!("no valid {kind} certificate on the demo token")))
    };
    let (leader, clerk) = (pick("personal")?, pick("organization")?);
    let today = kyso::pades::vietnam_now().date();
    let date = format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let mut pdf = read("sample.pdf")?;
    for (who, role, image, extra) in [
        (
            &leader,
            "approve",
            "signature.png",
            json!({ "anchor": "Nguyễn Văn An" }),
        ),
        (
            &clerk,
            "issue",
            "seal.png",
            json!({ "number": "12", "date": date }),
        ),
    ] {
        let mut request = json!({
            "pdf": B64.encode(&pdf),
            "role": role,
            "certificate": who["certificate"],
            "image": B64.encode(read(image)?),
        });
        if let (Some(target), Some(more)) = (request.as_object_mut(), extra.as_object()) {
            target.extend(more.clone());
        }
        let prepared = call(&mut bridge, "/v1/prepare", None, request).await?;
        let signed = call(
            &mut agent,
            "/v1/sign",
            Some(&origin),
            json!({
                "certificateId": who["id"],
                "digest": prepared["digest"],
                "digestAlgorithm": "SHA-256",
                "document": { "title": "Quyết định về việc thử nghiệm ký số", "number": "12/QĐ-UBND", "purpose": role },
            }),
        )
        .await?;
        let embedded = call(
            &mut bridge,
            "/v1/embed",
            None,
            json!({ "prepared": prepared["prepared"], "cms": signed["cms"] }),
        )
        .await?;
        pdf = B64
            .decode(embedded["signed"].as_str().unwrap_or_default())
            .map_err(fail)?;
        eprintln!("{role}: {} ✓", who["holder"].as_str().unwrap_or("?"));
    }
    let root = std::fs::read_to_string(dir.join("token/pki/root.pem")).map_err(fail)?;
    let report = call(
        &mut bridge,
        "/v1/verify",
        None,
        json!({ "pdf": B64.encode(&pdf), "policy": "issued", "trust": [root] }),
    )
    .await?;
    for signature in report["signatures"].as_array().cloned().unwrap_or_default() {
        eprintln!(
            "kiểm tra / verify: {} — {}",
            signature["signer"].as_str().unwrap_or("?"),
            signature["verdict"].as_str().unwrap_or("?")
        );
    }
    if report["policy"]["met"] != true {
        return Err(Error(format!(
            "the issued document does not verify: {report}"
        )));
    }
    let out = dir.join("signed.pdf");
    std::fs::write(&out, &pdf).map_err(fail)?;
    Ok(out)
}

/// `kyso demo`: the whole workflow on a SoftHSM2 demo token.
pub fn command(
    dir: &std::path::Path,
    headless: bool,
    agent_port: u16,
    bridge_port: u16,
    web_dir: &std::path::Path,
    attested: bool,
) -> Result<ExitCode, String> {
    // Before any PKCS#11 module is loaded, on the only thread there is.
    std::env::set_var("SOFTHSM2_CONF", dir.join("token/softhsm2.conf"));
    let runtime = runtime()?;
    runtime.block_on(async {
        let bridge_listener = tokio::net::TcpListener::bind(("127.0.0.1", bridge_port))
            .await
            .map_err(|e| format!("demo page port {bridge_port}: {e}"))?;
        let bridge_port = bridge_listener.local_addr().map_err(|e| e.to_string())?.port();
        let origin = format!("http://127.0.0.1:{bridge_port}");
        let settings: kyso::config::Settings = toml::from_str(&format!(
            "pkcs11_modules = [\"/usr/lib/softhsm/libsofthsm2.so\"]\ndiscover_modules = false\nallowed_origins = [\"{origin}\"]\n"
        ))
        .map_err(|e| e.to_string())?;
        let mut config = Config::merge(settings, Default::default(), dir.join("data"), dir.join("config.toml"), dir.join("no-policy"), false);
        // Attested: a DMS key made for this run; the agent requires its tickets from the page.
        let ticket_key = if attested {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
            let public = dir.join("dms.pub.pem");
            std::fs::write(&public, key.public_key_pem()).map_err(|e| e.to_string())?;
            config.attested_origins = vec![(
                origin.clone(),
                kyso::config::AttestedOriginSettings { keys: vec![public], require_ticket: true },
            )];
            Some(std::sync::Arc::new(kyso::bridge::ticket::TicketKey::from_pem(key.serialize_pem().as_bytes())?))
        } else {
            None
        };
        // A person at a desktop gets the real PIN dialog; the headless run (and a machine
        // without a display) answers from the demo's pins.toml.
        let desktop = !headless
            && cfg!(feature = "desktop")
            && (!cfg!(target_os = "linux") || std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some());
        let prompter = if desktop { "gui".to_string() } else { format!("scripted:{}", dir.join("pins.toml").display()) };
        let prompt = app::prompter(&prompter).map_err(|e| e.to_string())?;
        let app = std::sync::Arc::new(App::start(config, prompt).map_err(|e| e.to_string())?);
        let (ready, port) = tokio::sync::oneshot::channel();
        let agent = app.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready);
            if let Err(e) = agent
                .serve(agent_port, 1, |urls| {
                    let port = urls.first().and_then(|u| u.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok());
                    if let (Some(tx), Some(port)) = (ready.take(), port) {
                        let _ = tx.send(port);
                    }
                })
                .await
            {
                eprintln!("kyso: {e}");
                std::process::exit(2);
            }
        });
        let agent_port = port.await.map_err(|_| "the agent did not start".to_string())?;
        let root = std::fs::read(dir.join("token/pki/root.pem")).map_err(|e| e.to_string())?;
        let bridge = kyso::bridge::BridgeConfig {
            max_body: 64 * 1024 * 1024,
            concurrency: 4,
            trust_anchors: certificate::read_pem_or_der(&root).map_err(|e| e.to_string())?,
            tsa_url: None,
            offline: false,
            crls: read_crl_files(&[dir.join("token/pki/crls.pem")])?,
            web_dir: Some(web_dir.to_path_buf()),
            samples_dir: Some(dir.join("docs")),
            agent_port: Some(agent_port),
            openapi: Some(kyso::contract::document()),
            // The demo page calls the bridge itself, on loopback: no token.
            token: None,
            seal_size_mm: None,
            ticket_key,
        };
        tokio::spawn(async move {
            let _ = kyso::bridge::serve(bridge_listener, bridge).await;
        });
        if headless {
            let ca = kyso::tls::read_ca(&dir.join("data")).map_err(|e| e.to_string())?;
            let signed = self::headless(dir, agent_port, bridge_port, &ca).await.map_err(|e| e.to_string())?;
            println!("{}", signed.display());
            return Ok(ExitCode::SUCCESS);
        }
        println!("agent listening on https://127.0.0.1:{agent_port}");
        println!(
            "PIN: {}",
            if desktop { "hộp thoại Kyso / Kyso's dialog (demo PINs 123456, 654321)" } else { "pins.toml (no display)" }
        );
        println!("Kyso demo: open {origin}/  (Ctrl-C to stop)");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = tokio::signal::ctrl_c().await;
        Ok(ExitCode::SUCCESS)
    })
}
