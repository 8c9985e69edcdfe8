//! A running `kyso serve` for the integration tests, and curl trusting only its own CA.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::*;

pub const DMS: &str = "https://dms.example.vn";

/// A running `kyso serve` with its own data folder (and so its own local CA).
pub struct Agent {
    pub child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub dir: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Options<'a> {
    pub modules: Vec<PathBuf>,
    pub extra_config: &'a str,
    pub script: &'a str,
    /// `None`: the scripted prompt reading `script`; `Some("gui")`: the native dialogs.
    pub prompter: Option<&'a str>,
    pub env: Vec<(&'a str, PathBuf)>,
    pub port: u16,
    /// `serve` (headless) or `run` (with the tray).
    pub subcommand: &'a str,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            modules: vec![PathBuf::from(SOFTHSM)],
            extra_config: "",
            script: "pin = \"123456\"\nconsent = \"deny\"\n",
            prompter: None,
            subcommand: "serve",
            env: Vec::new(),
            port: 0,
        }
    }
}

/// Starts `kyso serve` (or `run`) on the `agent` fixture's tokens: tests that compare ids use
/// `fixture("agent")` too.
pub fn start(name: &str, options: Options<'_>) -> Result<Agent, String> {
    let fx = fixture("agent");
    let dir = fx.dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let modules: Vec<&Path> = options.modules.iter().map(PathBuf::as_path).collect();
    let config = write_config(
        &dir,
        "config.toml",
        &modules,
        &format!("allowed_origins = [\"{DMS}\"]\n{}", options.extra_config),
    );
    let script = write_script(&dir, "prompt.toml", options.script);
    let data = dir.join("data");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kyso"));
    command
        .env("SOFTHSM2_CONF", &fx.softhsm_conf)
        .env("KYSO_POLICY_FILE", dir.join("no-policy.toml"))
        // What the prompts say, whatever the machine's locale (tests read it).
        .env("KYSO_LANG", "vi")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .arg("--prompter")
        .arg(
            options
                .prompter
                .map_or_else(|| format!("scripted:{}", script.display()), str::to_string),
        )
        .args([options.subcommand, "--port", &options.port.to_string()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("agent.log")).map_err(|e| e.to_string())?);
    for (key, value) in &options.env {
        command.env(key, value);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok);
    let Some(port) = first
        .as_deref()
        .and_then(|l| l.strip_prefix("listening on https://127.0.0.1:"))
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        let _ = child.wait();
        let err = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
        return Err(format!("no listening line (got {first:?}); stderr: {err}"));
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Agent {
        child,
        port,
        data,
        dir,
    })
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

impl Agent {
    /// `kyso` on this agent's configuration and data folder (no system policy).
    pub fn command(&self, fx: &Fixture) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kyso"));
        command
            .env("KYSO_POLICY_FILE", self.dir.join("no-policy.toml"))
            .env("SOFTHSM2_CONF", &fx.softhsm_conf)
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .arg("--data-dir")
            .arg(&self.data);
        command
    }

    pub fn ca(&self) -> PathBuf {
        self.data.join("tls/ca.pem")
    }

    /// What a request needs, detached from the process so another thread can call.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            ca: self.ca(),
            dir: self.dir.clone(),
            port: self.port,
        }
    }

    /// curl trusting only the agent's CA.
    pub fn curl(&self, path: &str, args: &[&str]) -> Reply {
        self.endpoint().curl(path, args)
    }

    /// A JSON POST from `origin`.
    pub fn post(&self, path: &str, origin: &str, body: &str) -> Reply {
        self.endpoint().post(path, origin, body)
    }

    /// The same POST on another thread, for requests that wait on a dialog.
    pub fn post_in_background(
        &self,
        path: &str,
        origin: &str,
        body: &str,
    ) -> std::thread::JoinHandle<Reply> {
        let (endpoint, path, origin, body) = (
            self.endpoint(),
            path.to_string(),
            origin.to_string(),
            body.to_string(),
        );
        std::thread::spawn(move || endpoint.post(&path, &origin, &body))
    }

    pub fn set_script(&self, body: &str) {
        std::fs::write(self.dir.join("prompt.toml"), body).expect("script");
    }
}

/// The agent's address, CA and scratch folder.
#[derive(Clone)]
pub struct Endpoint {
    pub ca: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
}

impl Endpoint {
    /// curl trusting only the agent's CA.
    pub fn curl(&self, path: &str, args: &[&str]) -> Reply {
        let headers = self.dir.join(format!("h-{}", rand_suffix()));
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "60", "--cacert"])
            .arg(&self.ca)
            .arg("-D")
            .arg(&headers)
            .args(args)
            .arg(format!("https://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("curl");
        let head = std::fs::read_to_string(&headers).unwrap_or_default();
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Reply {
            status,
            headers: head,
            body: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }

    pub fn post(&self, path: &str, origin: &str, body: &str) -> Reply {
        self.curl(
            path,
            &[
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ],
        )
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn sign_body(fx: &Fixture, name: &str, digest: &str) -> String {
    serde_json::json!({
        "certificateId": fx.id(name),
        "digest": digest,
        "digestAlgorithm": "SHA-256",
        "document": {"title": "Quyết định về việc thử nghiệm", "number": "12/QĐ-UBND", "purpose": "approve"}
    })
    .to_string()
}

/// A `/v1/sign/batch` body: one certificate, SHA-256, each digest with its document.
pub fn batch_body<'a>(
    fx: &Fixture,
    name: &str,
    items: impl IntoIterator<Item = (&'a str, serde_json::Value)>,
) -> String {
    serde_json::json!({
        "certificateId": fx.id(name),
        "digestAlgorithm": "SHA-256",
        "items": items.into_iter().map(|(digest, document)| serde_json::json!({
            "digest": digest, "document": document
        })).collect::<Vec<_>>()
    })
    .to_string()
}

pub fn b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
