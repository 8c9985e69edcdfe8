//! Hostile input never crashes, hangs or exhausts Kyso: every crafted file of
//! `tests/fixtures/hostile.py` and every fuzz regression in `tests/hostile/` through
//! `kyso pdf verify`, `kyso pdf prepare` and `kyso pdf lines` under a 2 GiB address-space
//! limit and a time-out, and through the bridge, which must answer each with a stable code,
//! keep no internal detail in its answers, and stay up.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

fn kyso_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kyso"))
}

fn hostile_files() -> Vec<PathBuf> {
    // Generated once per test process (the tests run in parallel).
    static GENERATED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = GENERATED
        .get_or_init(|| generate(&root.join("target/kyso-tests/hostile")))
        .clone();
    let mut files = Vec::new();
    for dir in [generated, root.join("tests/hostile")] {
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            files.push(entry.path());
        }
    }
    files.sort();
    assert!(files.len() >= 29, "{}", files.len());
    files
}

fn generate(generated: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("python3")
        .arg(root.join("tests/fixtures/hostile.py"))
        .arg(generated)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "hostile.py");
    generated.to_path_buf()
}

/// Runs kyso with `args` under `ulimit -v` (2 GiB) and a 60 s time-out; returns the exit code
/// and the output.
fn bounded(args: &[String]) -> (i32, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "ulimit -v 2097152; exec timeout 60 '{}' {}",
        kyso_bin().display(),
        quoted.join(" ")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("KYSO_POLICY_FILE", "/nonexistent/kyso-policy.toml")
        .output()
        .expect("bash");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn crafted_files_get_an_answer_from_every_pdf_command_within_bounds() {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kyso-tests/hostile-out");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let mut failures = Vec::new();
    for file in hostile_files() {
        let f = file.display().to_string();
        let out = out_dir.join("prepared.pdf").display().to_string();
        let runs: Vec<Vec<String>> = vec![
            vec![
                "pdf".into(),
                "verify".into(),
                f.clone(),
                "--json".into(),
                "--offline".into(),
            ],
            vec![
                "pdf".into(),
                "prepare".into(),
                f.clone(),
                "-o".into(),
                out.clone(),
            ],
            vec![
                "pdf".into(),
                "prepare".into(),
                f.clone(),
                "-o".into(),
                out.clone(),
                "--role".into(),
                "incoming".into(),
                "--number".into(),
                "1".into(),
                "--date".into(),
                "2026-01-01".into(),
            ],
            vec!["pdf".into(), "lines".into(), f.clone()],
        ];
        for args in runs {
            let (code, text) = bounded(&args);
            // 0 valid/done, 1 invalid, 2 unknown, 3 a clear error; never a signal, a panic
            // (101), the time-out (124) or an allocation abort (134).
            if !(0..=3).contains(&code) || text.contains("panicked") {
                failures.push(format!(
                    "{args:?} → {code}: {}",
                    text.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

struct Bridge {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

fn bridge(max_body: usize, concurrency: usize) -> Bridge {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = kyso::bridge::BridgeConfig {
        max_body,
        concurrency,
        trust_anchors: Vec::new(),
        tsa_url: None,
        offline: true,
        crls: Vec::new(),
        web_dir: None,
        samples_dir: None,
        agent_port: None,
        openapi: Some(kyso::contract::document()),
        token: None,
        seal_size_mm: None,
        ticket_key: None,
    };
    runtime.spawn(async move {
        let _ = kyso::bridge::serve(listener, config).await;
    });
    Bridge {
        port,
        _runtime: runtime,
    }
}

fn post(port: u16, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent
        .post(&format!("http://127.0.0.1:{port}{path}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("bridge answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json, text)
}

#[test]
fn the_bridge_answers_crafted_files_with_stable_codes_and_stays_up() {
    let b = bridge(64 << 20, 2);
    let b64 = base64::engine::general_purpose::STANDARD;
    for file in hostile_files() {
        let pdf = b64.encode(std::fs::read(&file).expect("read"));
        for (path, body) in [
            ("/v1/verify", serde_json::json!({ "pdf": pdf })),
            (
                "/v1/prepare",
                serde_json::json!({ "pdf": pdf, "role": "approve" }),
            ),
        ] {
            let (status, json, text) = post(b.port, path, &body);
            let name = file.display();
            assert!(
                matches!(status, 200 | 400 | 413),
                "{path} {name}: {status} {text}"
            );
            if status != 200 {
                let code = json["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    ["BAD_REQUEST", "PDF_MALFORMED", "LIMIT_EXCEEDED"].contains(&code),
                    "{path} {name}: {text}"
                );
            }
            assert!(
                !text.contains("panicked") && !text.contains("src/"),
                "{text}"
            );
        }
    }
    // A placeholder of a terabyte is refused, not allocated.
    let small = hostile_files()
        .into_iter()
        .find(|p| p.ends_with("kids-cycle.pdf"))
        .expect("kids-cycle.pdf");
    let pdf = b64.encode(std::fs::read(small).expect("read"));
    let (status, json, text) = post(
        b.port,
        "/v1/prepare",
        &serde_json::json!({ "pdf": pdf, "role": "approve", "contentsSize": 1_000_000_000_000u64 }),
    );
    assert_eq!(status, 413, "{text}");
    assert_eq!(json["error"]["code"], "LIMIT_EXCEEDED", "{text}");
    // An option the role cannot use is refused by name, not ignored.
    let (status, json, text) = post(
        b.port,
        "/v1/prepare",
        &serde_json::json!({ "pdf": pdf, "role": "approve", "numberAt": {"page": 1, "x": 1.0, "y": 1.0}, "forwardTo": "Phòng Tổng hợp" }),
    );
    assert_eq!(status, 400, "{text}");
    assert_eq!(json["error"]["code"], "BAD_REQUEST", "{text}");
    assert!(text.contains("forwardTo"), "{text}");
    // Still up.
    let (status, _, text) = post(b.port, "/v1/verify", &serde_json::json!({ "pdf": "" }));
    assert_eq!(status, 400, "{text}");
}

/// Sends only the head of a request (and `partial` body bytes), then reads the answer the
/// bridge gives without the rest.
fn head_only(port: u16, content_length: usize, partial: &[u8]) -> (std::net::TcpStream, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
    .expect("write head");
    stream.write_all(partial).expect("write part");
    (stream, String::new())
}

#[test]
fn the_bridge_counts_bodies_against_its_limits_before_reading_them() {
    let b = bridge(1 << 20, 1);
    // A body announced larger than the limit: refused at once, nothing read.
    let (mut stream, mut answer) = head_only(b.port, 100 << 20, b"");
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // A client that holds the only slot while trickling its body: the next one is BUSY at once,
    // without its body being buffered.
    let (_holder, _) = head_only(b.port, 1000, b"{\"pdf\":\"");
    // A wait on time: nothing tells when the holder has been admitted, and a probe sent sooner
    // would take the only slot itself (and make the holder the one refused).
    std::thread::sleep(Duration::from_millis(300));
    let (status, json, text) = post(b.port, "/v1/verify", &serde_json::json!({ "pdf": "" }));
    assert_eq!(status, 503, "{text}");
    assert_eq!(json["error"]["code"], "BUSY");
}
