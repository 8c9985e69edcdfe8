//! One workstation, several accounts, hostile pages: the agent serves only its own user, cannot
//! be starved by idle connections, tells only allowed sites that it exists, and keeps its files
//! to its user. Against the running agent, with a second local account made by the test (when
//! it runs as root, as CI does) and removed after.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::agent::*;

/// A second account for the test's lifetime.
struct OtherUser(String);

impl OtherUser {
    fn create() -> Option<Self> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            eprintln!("SKIPPED: making a second account needs root (CI runs as root)");
            return None;
        }
        let name = format!("kysot{}", std::process::id() % 100_000);
        let out = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", &name])
            .output()
            .expect("useradd");
        assert!(out.status.success(), "useradd: {:?}", text_of(&out));
        Some(Self(name))
    }

    /// `curl` as this account: (exit code, what came back).
    fn curl(&self, url: &str, args: &[&str]) -> (i32, String) {
        let out = Command::new("runuser")
            .args(["-u", &self.0, "--", "curl", "-sS", "-k", "--max-time", "10"])
            .args(args)
            .arg(url)
            .output()
            .expect("runuser curl");
        (out.status.code().unwrap_or(-1), text_of(&out))
    }
}

impl Drop for OtherUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}

fn text_of(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Another account's connections are closed before TLS, on the API port and the probe port,
/// while this user's are served.
#[test]
fn another_local_user_gets_nothing_not_even_a_tls_handshake() {
    let Some(other) = OtherUser::create() else {
        return;
    };
    let agent = start("other-user", Options::default()).expect("agent");
    let mine = agent.curl("/v1/status", &[]);
    assert_eq!(mine.status, 200, "{}", mine.body);
    let api = format!("https://127.0.0.1:{}/v1/certificates", agent.port);
    let (code, said) = other.curl(&api, &["-H", &format!("Origin: {DMS}")]);
    assert_ne!(code, 0, "another user was answered: {said}");
    assert!(!said.contains("certificates"), "{said}");
    let probe = format!("http://127.0.0.1:{}/probe", agent.port);
    let (code, said) = other.curl(&probe, &[]);
    assert_ne!(code, 0, "the probe answered another user: {said}");
    let log = std::fs::read_to_string(agent.dir.join("agent.log")).unwrap_or_default();
    assert!(log.contains("another local user"), "{log}");
}

/// A TLS client for the agent's own CA, with the given ALPN.
fn tls_connector(agent: &Agent, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let pem = std::fs::read(agent.ca()).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("cert")).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// 64 and then 1,000 idle connections — TCP without a handshake, TLS without a request
/// (HTTP/1.1 and HTTP/2), and a request whose body never comes — and the DMS is still answered
/// within a second; a body declared at a terabyte is refused at once.
#[test]
fn idle_connections_never_starve_the_agent() {
    use tokio::io::AsyncWriteExt as _;
    kyso::platform::peer::raise_open_file_limit();
    let agent = start("starve", Options::default()).expect("agent");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let port = agent.port;
    let h1 = tls_connector(&agent, b"http/1.1");
    let h2 = tls_connector(&agent, b"h2");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut held = Vec::new();
    for total in [64usize, 1000] {
        let opened: Vec<_> = runtime.block_on(async {
            let mut opened = Vec::new();
            for i in held.len()..total {
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                let kept: Box<dyn std::any::Any + Send> = match i % 4 {
                    0 => Box::new(tcp),
                    1 => Box::new(h1.connect(name.clone(), tcp).await.expect("h1 handshake")),
                    2 => Box::new(h2.connect(name.clone(), tcp).await.expect("h2 handshake")),
                    _ => {
                        let mut tls = h1.connect(name.clone(), tcp).await.expect("handshake");
                        let head = format!(
                            "POST /v1/sign HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {DMS}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
                        );
                        tls.write_all(head.as_bytes()).await.expect("slow body");
                        Box::new(tls)
                    }
                };
                opened.push(kept);
            }
            opened
        });
        held.extend(opened);
        let start = Instant::now();
        let reply = agent.curl("/v1/status", &["-H", &format!("Origin: {DMS}")]);
        let took = start.elapsed();
        assert_eq!(
            reply.status, 200,
            "with {total} idle connections: {}",
            reply.body
        );
        assert!(
            took < Duration::from_secs(1),
            "with {total} idle connections the DMS waited {took:?}"
        );
    }
    let start = Instant::now();
    // HTTP/1.1: over HTTP/2 a body shorter than its declared length is a malformed stream.
    let huge = agent.curl(
        "/v1/sign",
        &[
            "--http1.1",
            "-H",
            &format!("Origin: {DMS}"),
            "-H",
            "Content-Type: application/json",
            "-H",
            "Content-Length: 1000000000000",
            "--data-binary",
            "{",
        ],
    );
    assert_eq!(huge.status, 413, "{}", huge.body);
    assert_eq!(huge.code(), "LIMIT_EXCEEDED");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    drop(held);
}

/// The probe answers every local caller, but lets only the sites this agent serves read the
/// answer: any other website cannot learn that Kyso is installed.
#[test]
fn the_probe_tells_only_allowed_sites() {
    let agent = start("probe", Options::default()).expect("agent");
    let probe = |origin: &str| {
        let out = Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "/dev/null", "-H"])
            .arg(format!("Origin: {origin}"))
            .arg(format!("http://127.0.0.1:{}/probe", agent.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
    };
    let allowed = probe(DMS);
    assert!(allowed.starts_with("http/1.1 204"), "{allowed}");
    assert!(
        allowed.contains(&format!("access-control-allow-origin: {DMS}")),
        "{allowed}"
    );
    for other in [
        "https://evil.test",
        "null",
        "https://dms.example.vn.evil.test",
    ] {
        let said = probe(other);
        assert!(said.starts_with("http/1.1 204"), "{said}");
        assert!(
            !said.contains("access-control-allow-origin"),
            "{other}: {said}"
        );
    }
}

/// Refusals carry the same protective headers as answers, and the agent's files are its
/// user's alone.
#[test]
fn refusals_have_their_headers_and_the_data_folder_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let agent = start("private", Options::default()).expect("agent");
    let foreign_host = agent.curl("/v1/status", &["-H", "Host: evil.test"]);
    assert_eq!(foreign_host.status, 421);
    let refused = agent.curl("/v1/status", &["-H", "Origin: https://evil.test"]);
    assert_eq!(refused.status, 403);
    for reply in [&foreign_host, &refused] {
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&agent.data), 0o700);
    assert_eq!(mode(&agent.data.join("tls")), 0o700);
    for entry in std::fs::read_dir(agent.data.join("tls"))
        .expect("tls dir")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "key") {
            assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
        }
    }
}

/// A free port whose next one is free too (for a range of two).
fn free_pair() -> u16 {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = probe.local_addr().expect("addr").port();
        drop(probe);
        let both = std::net::TcpListener::bind(("127.0.0.1", port))
            .and_then(|a| std::net::TcpListener::bind(("127.0.0.1", port + 1)).map(|b| (a, b)));
        if both.is_ok() {
            return port;
        }
    }
    panic!("no two free ports");
}

/// A terminal server: two users' agents at once. The first takes the first port of the range,
/// the second the next one; each user reaches their own agent and is closed out of the other's.
#[test]
fn two_users_agents_share_the_range_each_reached_by_its_own_user() {
    use std::io::BufRead as _;
    let Some(other) = OtherUser::create() else {
        return;
    };
    let first = free_pair();
    let mine = start(
        "range-mine",
        Options {
            port: first,
            ..Options::default()
        },
    )
    .expect("agent");
    // The other user's agent, with the range first..first+1 and no token: its own folder.
    let home = std::env::temp_dir().join(format!("kyso-range-{}", other.0));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(
        home.join("config.toml"),
        format!(
            "port = {first}\nport_range = 2\ndiscover_modules = false\nallowed_origins = [\"{DMS}\"]\n"
        ),
    )
    .expect("config");
    let chown = Command::new("chown")
        .args(["-R", &other.0])
        .arg(&home)
        .output()
        .expect("chown");
    assert!(chown.status.success(), "{}", text_of(&chown));
    let mut theirs = Command::new("runuser")
        .args(["-u", &other.0, "--", "env"])
        .arg(format!("HOME={}", home.display()))
        .arg(format!(
            "KYSO_POLICY_FILE={}",
            home.join("no-policy.toml").display()
        ))
        .arg(env!("CARGO_BIN_EXE_kyso"))
        .arg("--config")
        .arg(home.join("config.toml"))
        .arg("--data-dir")
        .arg(home.join("data"))
        .args(["--prompter", "terminal", "serve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(home.join("agent.log")).expect("log"))
        .spawn()
        .expect("the other user's agent");
    let mut lines = std::io::BufReader::new(theirs.stdout.take().expect("stdout")).lines();
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    std::thread::spawn(move || for _ in lines {});
    let kill = |mut child: std::process::Child| {
        let _ = Command::new("kill").arg(child.id().to_string()).output();
        let _ = child.wait();
    };
    let expected = format!("listening on https://127.0.0.1:{}", first + 1);
    if line.trim() != expected {
        kill(theirs);
        panic!("the second agent did not take the next port: {line:?}");
    }
    let url = |port: u16| format!("https://127.0.0.1:{port}/v1/status");
    // Each user reaches their own agent, and is closed out of the other's.
    let own = mine.curl("/v1/status", &[]);
    let (their_own, said) = other.curl(&url(first + 1), &[]);
    let (theirs_to_mine, _) = other.curl(&url(first), &[]);
    let mine_to_theirs = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "10"])
        .arg(url(first + 1))
        .output()
        .expect("curl");
    kill(theirs);
    let log = std::fs::read_to_string(home.join("agent.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(
        their_own, 0,
        "the other user could not reach their agent: {said}\n{log}"
    );
    assert!(said.contains("apiVersion"), "{said}");
    assert_ne!(theirs_to_mine, 0, "the other user reached mine");
    assert!(
        !mine_to_theirs.status.success(),
        "I reached the other user's agent: {}",
        text_of(&mine_to_theirs)
    );
}
