//! The HTTPS agent (`kyso serve`) over real TLS: curl trusting only the agent's own CA (no
//! insecure flag), every CMS checked by OpenSSL, and the refusals a signing agent owes its users.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::agent::*;
use common::*;

#[test]
fn certificates_sign_and_batch_over_tls_verify_with_openssl() {
    let fx = fixture("agent");
    let agent = start("happy", Options::default()).expect("agent starts");
    let certs = agent.curl(
        "/v1/certificates?kind=personal",
        &["-H", &format!("Origin: {DMS}")],
    );
    assert_eq!(certs.status, 200, "{}", certs.body);
    assert_eq!(
        certs.header("access-control-allow-origin").as_deref(),
        Some(DMS)
    );
    assert_eq!(certs.header("cache-control").as_deref(), Some("no-store"));
    let list = certs.json();
    let kinds: Vec<&str> = list["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| *k == "personal"),
        "{kinds:?}"
    );

    for name in ["personal", "personal-ec"] {
        let (content, digest) = document(&agent.dir, &format!("{name}.bin"), "SHA-256");
        let reply = agent.post("/v1/sign", DMS, &sign_body(fx, name, &digest));
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        // Where the time went: the token's calls, the PIN prompt, Kyso's own work; for the
        // developer tools, not for the page's script.
        let timing = reply.header("server-timing").expect("Server-Timing");
        let dur = |metric: &str| -> f64 {
            timing
                .split(',')
                .find_map(|m| m.trim().strip_prefix(&format!("{metric};dur=")))
                .and_then(|rest| rest.split(';').next()?.parse().ok())
                .unwrap_or_else(|| panic!("{metric} in {timing}"))
        };
        assert!(dur("token") > 0.0, "{timing}");
        assert!(dur("prompt") >= 0.0 && dur("kyso") > 0.0, "{timing}");
        assert!(
            !reply
                .header("access-control-expose-headers")
                .unwrap_or_default()
                .to_ascii_lowercase()
                .contains("server-timing"),
            "a page's script does not read it"
        );
        let cms = agent.dir.join(format!("{name}.p7s"));
        std::fs::write(&cms, b64(reply.json()["cms"].as_str().expect("cms"))).expect("write");
        openssl_verify(fx, &cms, &content).unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    let docs: Vec<(PathBuf, String)> = (0..3)
        .map(|i| document(&agent.dir, &format!("batch-{i}.bin"), "SHA-256"))
        .collect();
    let body = batch_body(
        fx,
        "personal",
        docs.iter().enumerate().map(|(i, (_, d))| {
            (
                d.as_str(),
                serde_json::json!({"title": format!("Văn bản {i}"), "purpose": "issue"}),
            )
        }),
    );
    let reply = agent.post("/v1/sign/batch", DMS, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 3);
    for ((content, _), result) in docs.iter().zip(results) {
        let cms = content.with_extension("p7s");
        std::fs::write(&cms, b64(result["cms"].as_str().expect("cms"))).expect("write");
        openssl_verify(fx, &cms, content).expect("batch item verifies");
    }

    // `kyso status` asks the running agent over TLS, trusting its CA.
    let status = Command::new(env!("CARGO_BIN_EXE_kyso"))
        .env("KYSO_POLICY_FILE", agent.dir.join("no-policy.toml"))
        .arg("--data-dir")
        .arg(&agent.data)
        .args(["status", "--port", &agent.port.to_string()])
        .output()
        .expect("kyso status");
    assert!(status.status.success(), "{:?}", text(&status));
    let reported: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(reported["apiVersion"], 1);
    assert!(
        reported["tokens"].as_array().is_some_and(|t| t.len() == 2),
        "{reported}"
    );
}

#[test]
fn the_local_ca_is_name_constrained_and_its_key_is_not_kept() {
    let agent = start("ca", Options::default()).expect("agent starts");
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(agent.ca())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    assert!(text.contains("DNS:localhost"), "{text}");
    assert!(text.contains("IP:127.0.0.1/255.255.255.255"), "{text}");
    assert!(
        text.contains("IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"),
        "{text}"
    );
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    // Only the leaf's key is on disk.
    let keys: Vec<String> = std::fs::read_dir(agent.data.join("tls"))
        .expect("tls dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("PRIVATE KEY")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(keys, vec!["leaf-key.pem".to_string()]);
    // The plain-HTTP probe (on the agent's own port) answers only GET /probe, with 204 and nothing else.
    let probe = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://127.0.0.1:{}{path}", agent.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(probe("/probe"), "204");
    assert_ne!(probe("/v1/status"), "200");
    // TLS 1.1 is refused.
    let old = Command::new("curl")
        .args(["-sS", "--tls-max", "1.1", "--cacert"])
        .arg(agent.ca())
        .arg(format!("https://127.0.0.1:{}/v1/status", agent.port))
        .output()
        .expect("curl");
    assert!(!old.status.success());
}

#[test]
fn foreign_and_lookalike_origins_get_a_readable_refusal_and_nothing_else() {
    let fx = fixture("agent");
    let agent = start("origins", Options::default()).expect("agent starts");
    let (_, digest) = document(&agent.dir, "o.bin", "SHA-256");
    for origin in [
        "https://dms.example.vn.evil.test",
        "http://dms.example.vn",
        "https://dms.example.vn:8443",
        "https://evil.test",
    ] {
        let reply = agent.post("/v1/sign", origin, &sign_body(fx, "personal", &digest));
        assert_eq!(reply.status, 403, "{origin}: {}", reply.body);
        assert_eq!(reply.code(), "ORIGIN_NOT_ALLOWED", "{origin}");
        // The page can read its refusal: CORS for that origin, never credentials, never *.
        assert_eq!(
            reply.header("access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert!(reply.header("access-control-allow-credentials").is_none());
        assert!(reply.json().get("cms").is_none());
        let status = agent.curl("/v1/status", &["-H", &format!("Origin: {origin}")]);
        assert_eq!(status.status, 403, "{origin}");
        assert!(!status.body.contains("certificates"));
    }
    let null = agent.post("/v1/sign", "null", &sign_body(fx, "personal", &digest));
    assert_eq!(null.status, 403);
    assert!(null.header("access-control-allow-origin").is_none());
    // Preflight of a foreign origin: answered for that origin, with the PNA header.
    let preflight = agent.curl(
        "/v1/sign",
        &[
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://evil.test",
            "-H",
            "Access-Control-Request-Method: POST",
            "-H",
            "Access-Control-Request-Private-Network: true",
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some("https://evil.test")
    );
    assert_eq!(
        preflight
            .header("access-control-allow-private-network")
            .as_deref(),
        Some("true")
    );
    // The events channel refuses a foreign origin before it opens.
    let events = agent.curl("/v1/events", &["-H", "Origin: https://evil.test"]);
    assert_eq!(events.status, 403);
    assert_eq!(events.code(), "ORIGIN_NOT_ALLOWED");
}

#[test]
fn an_unknown_origin_asks_once_and_a_denial_cools_down() {
    let fx = fixture("agent");
    let agent = start("consent", Options::default()).expect("agent starts");
    let (_, digest) = document(&agent.dir, "c.bin", "SHA-256");
    let site = "https://van-phong.example.vn";
    agent.set_script("pin = \"123456\"\nconsent = \"deny\"\n");
    assert_eq!(
        agent
            .post("/v1/sign", site, &sign_body(fx, "personal", &digest))
            .code(),
        "ORIGIN_NOT_ALLOWED"
    );
    // Denied: even if the user would now say yes, no new dialog during the cool-down.
    agent.set_script("pin = \"123456\"\nconsent = \"always\"\n");
    assert_eq!(
        agent
            .post("/v1/sign", site, &sign_body(fx, "personal", &digest))
            .code(),
        "ORIGIN_NOT_ALLOWED"
    );
    // The refusal cools down the whole site (its registrable domain), not only that origin.
    assert_eq!(
        agent
            .post(
                "/v1/sign",
                "https://khac.example.vn",
                &sign_body(fx, "personal", &digest)
            )
            .code(),
        "ORIGIN_NOT_ALLOWED"
    );
    // Another site is asked, approved for good, and remembered.
    let other = "https://mot-cua.example.org";
    let reply = agent.post("/v1/sign", other, &sign_body(fx, "personal", &digest));
    assert_eq!(reply.status, 200, "{}", reply.body);
    agent.set_script("pin = \"123456\"\nconsent = \"deny\"\n");
    assert_eq!(
        agent
            .post("/v1/sign", other, &sign_body(fx, "personal", &digest))
            .status,
        200
    );
    let list = agent
        .command(fx)
        .args(["origins", "list"])
        .output()
        .expect("origins list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(other) && listed.contains(DMS) && !listed.contains(site),
        "{listed}"
    );
    let revoke = agent
        .command(fx)
        .args(["origins", "revoke", other])
        .output()
        .expect("origins revoke");
    assert!(revoke.status.success());
    assert_eq!(
        agent
            .post("/v1/sign", other, &sign_body(fx, "personal", &digest))
            .code(),
        "ORIGIN_NOT_ALLOWED"
    );
}

#[test]
fn malformed_requests_get_4xx_with_stable_codes() {
    let fx = fixture("agent");
    let agent = start("malformed", Options::default()).expect("agent starts");
    let (_, digest) = document(&agent.dir, "m.bin", "SHA-256");
    let good = sign_body(fx, "personal", &digest);
    // Wrong Host (DNS rebinding).
    let host = agent.curl("/v1/status", &["-H", "Host: evil.test", "--http1.1"]);
    assert_eq!(host.status, 421);
    assert_eq!(host.code(), "BAD_REQUEST");
    // Simple-request content types.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let reply = agent.curl(
            "/v1/sign",
            &[
                "-H",
                &format!("Origin: {DMS}"),
                "-H",
                &format!("Content-Type: {content_type}"),
                "--data-binary",
                &good,
            ],
        );
        assert_eq!(reply.status, 415, "{content_type}");
        assert_eq!(reply.code(), "BAD_REQUEST");
    }
    let mut with_pin: serde_json::Value = serde_json::from_str(&good).expect("json");
    with_pin["pin"] = "123456".into();
    let reply = agent.post("/v1/sign", DMS, &with_pin.to_string());
    assert_eq!((reply.status, reply.code().as_str()), (400, "BAD_REQUEST"));
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("pin"),
        "{}",
        reply.body
    );
    let duplicate = good.replacen("{", "{\"digestAlgorithm\":\"SHA-256\",", 1);
    assert_eq!(agent.post("/v1/sign", DMS, &duplicate).status, 400);
    let huge = agent.dir.join("huge.json");
    std::fs::write(&huge, format!("{{\"x\":\"{}\"}}", "A".repeat(200_000))).expect("write");
    let reply = agent.post("/v1/sign", DMS, &format!("@{}", huge.display()));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (413, "LIMIT_EXCEEDED")
    );
    let short = sign_body(fx, "personal", "AAAA");
    assert_eq!(agent.post("/v1/sign", DMS, &short).code(), "BAD_REQUEST");
    let unknown = good.replace(&fx.id("personal"), &"ab".repeat(32));
    let reply = agent.post("/v1/sign", DMS, &unknown);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (404, "CERTIFICATE_NOT_FOUND")
    );
    let expired = good.replace(&fx.id("personal"), &fx.id("expired"));
    assert_eq!(
        agent.post("/v1/sign", DMS, &expired).code(),
        "CERTIFICATE_NOT_VALID"
    );
    let reply = agent.post("/v1/sign", DMS, "{not json");
    assert_eq!(reply.status, 400);
    // English when asked.
    let english = agent.curl(
        "/v1/sign",
        &[
            "-H",
            &format!("Origin: {DMS}"),
            "-H",
            "Content-Type: application/json",
            "-H",
            "Accept-Language: en-US",
            "--data-binary",
            &unknown,
        ],
    );
    assert!(
        english.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not found"),
        "{}",
        english.body
    );
    // Sign without an Origin (not a browser) is refused; reading status is not.
    let no_origin = agent.curl(
        "/v1/sign",
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &good,
        ],
    );
    assert_eq!(no_origin.code(), "ORIGIN_NOT_ALLOWED");
    assert_eq!(agent.curl("/v1/status", &[]).status, 200);
    // The agent is still alive and well after all of that.
    assert_eq!(agent.post("/v1/sign", DMS, &good).status, 200);
}

#[test]
fn cancel_wrong_pin_removal_and_busy_map_to_their_codes() {
    let fx = fixture("agent");
    let control = fx.dir.join("agent-fault.ctl");
    std::fs::write(&control, "pin_retries=3\ncounter_epoch=agent\n").expect("control");
    let agent = start(
        "faults",
        Options {
            modules: vec![fault_module()],
            extra_config: "token_timeout_secs = 1\npoll_interval_ms = 200\n",
            env: vec![("KYSO_FAULT_CONTROL", control.clone())],
            ..Options::default()
        },
    )
    .expect("agent starts");
    let (_, digest) = document(&agent.dir, "f.bin", "SHA-256");
    let body = sign_body(fx, "personal", &digest);

    agent.set_script("action = \"cancel\"\n");
    let reply = agent.post("/v1/sign", DMS, &body);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (409, "USER_CANCELLED")
    );

    agent.set_script("pin = \"000000\"\n");
    let reply = agent.post("/v1/sign", DMS, &body);
    assert_eq!(reply.code(), "PIN_INCORRECT", "{}", reply.body);
    assert_eq!(reply.json()["error"]["retriesLeft"], 2);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("Còn 2 lần thử"));

    // Events: an allowed origin hears about the removal.
    let events_out = agent.dir.join("events.txt");
    let mut events = Command::new("curl")
        .args(["-sS", "-N", "--max-time", "6", "--cacert"])
        .arg(agent.ca())
        .args(["-H", &format!("Origin: {DMS}"), "-o"])
        .arg(&events_out)
        .arg(format!("https://127.0.0.1:{}/v1/events", agent.port))
        .spawn()
        .expect("curl events");
    wait_until("the event stream is live", || {
        std::fs::read_to_string(&events_out).is_ok_and(|t| t.contains(": subscribed"))
    });
    std::fs::write(&control, "present=0\npin_retries=3\ncounter_epoch=agent\n").expect("control");
    wait_until("the agent sees the token removed", || {
        agent.curl("/v1/status", &[]).json()["tokens"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["present"] == false))
    });
    agent.set_script("pin = \"123456\"\n");
    let reply = agent.post("/v1/sign", DMS, &body);
    assert_eq!(reply.code(), "TOKEN_NOT_PRESENT", "{}", reply.body);
    std::fs::write(&control, "present=1\npin_retries=3\ncounter_epoch=agent\n").expect("control");
    let _ = events.wait();
    let heard = std::fs::read_to_string(&events_out).unwrap_or_default();
    assert!(heard.contains("event: tokenRemoved"), "{heard}");
    assert!(heard.contains("event: tokenInserted"), "{heard}");

    // A second request while the first waits at the PIN prompt: BUSY, no second dialog.
    agent.set_script("pin = \"123456\"\ndelay_ms = 3000\n");
    let first = agent.post_in_background("/v1/sign", DMS, &body);
    // The one wait on time left: nothing on the API says "a PIN prompt is open", and the
    // first request's prompt lasts 3 s, six times this margin.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let second = agent.post("/v1/sign", DMS, &body);
    assert_eq!(
        (second.status, second.code().as_str()),
        (503, "BUSY"),
        "{}",
        second.body
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let first = first.join().expect("first");
    assert!(first.json()["cms"].is_string(), "{}", first.body);
}

#[test]
fn a_port_taken_by_another_program_is_a_clear_error() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = blocker.local_addr().expect("addr").port();
    let error = match start(
        "taken",
        Options {
            port,
            ..Options::default()
        },
    ) {
        Ok(_) => panic!("started on a taken port"),
        Err(e) => e,
    };
    assert!(
        error.contains(&format!("port {port} is used by another program")),
        "{error}"
    );
}

#[test]
fn chromium_trusts_the_agent_after_kyso_trust_install() {
    let agent = start("chromium", Options::default()).expect("agent starts");
    let home = agent.dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let url = format!("https://127.0.0.1:{}/v1/status", agent.port);
    let load = |home: &Path| {
        let out = Command::new("/usr/bin/chromium")
            .env("HOME", home)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--dump-dom",
            ])
            .arg(format!(
                "--user-data-dir={}",
                home.join("profile").display()
            ))
            .arg(&url)
            .output()
            .expect("chromium");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Before: the CA is unknown, no page.
    let before = load(&home);
    assert!(!before.contains("agentVersion"), "{before}");
    let fx = fixture("agent");
    let install = Command::new(env!("CARGO_BIN_EXE_kyso"))
        .env("HOME", &home)
        .env("KYSO_POLICY_FILE", agent.dir.join("no-policy.toml"))
        .env("SOFTHSM2_CONF", &fx.softhsm_conf)
        .arg("--data-dir")
        .arg(&agent.data)
        .args(["trust", "install"])
        .output()
        .expect("trust install");
    assert!(install.status.success(), "{:?}", text(&install));
    assert!(String::from_utf8_lossy(&install.stdout).contains(".pki/nssdb"));
    let after = load(&home);
    assert!(after.contains("agentVersion"), "{after}");
    let status = Command::new(env!("CARGO_BIN_EXE_kyso"))
        .env("HOME", &home)
        .arg("--data-dir")
        .arg(&agent.data)
        .args(["trust", "status"])
        .output()
        .expect("trust status");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("trusted"),
        "{:?}",
        text(&status)
    );
}

/// Polls `condition` every 50 ms for up to 20 s: what a test waits for, instead of a guess.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A DMS key pair made by openssl: (private PKCS#8 PEM, public key file).
fn dms_key(dir: &Path, name: &str, spec: &[&str]) -> (Vec<u8>, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub.pem"));
    let out = Command::new("openssl")
        .arg("genpkey")
        .args(spec)
        .arg("-out")
        .arg(&private)
        .output()
        .expect("openssl genpkey");
    assert!(out.status.success(), "{:?}", text(&out));
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .output()
        .expect("openssl pkey");
    assert!(out.status.success(), "{:?}", text(&out));
    (std::fs::read(&private).expect("key"), public)
}

/// DMS-attested requests against the running agent: the policy names the DMS's public keys
/// (P-256, Ed25519, RSA) for its origin and requires tickets. Every refusal comes before any
/// dialog, with its code; a good ticket signs, and the dialog shows the ticket's document as
/// confirmed by the DMS, never the page's; the same ticket twice is a replay. An origin the
/// policy allows without keys signs as before, its document marked as stated by the page.
#[test]
fn dms_tickets_are_checked_before_any_dialog_and_their_document_is_shown() {
    use base64::Engine as _;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    const QLVB: &str = "https://qlvb.example.gov.vn";
    let fx = fixture("agent");
    let dir = fx.dir.join("tickets-keys");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (ec, ec_pub) = dms_key(
        &dir,
        "ec",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let (ed, ed_pub) = dms_key(&dir, "ed", &["-algorithm", "ED25519"]);
    let (rsa, rsa_pub) = dms_key(
        &dir,
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let (stranger, _) = dms_key(
        &dir,
        "stranger",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[attested_origins.\"{QLVB}\"]\nkeys = [{:?}, {:?}, {:?}]\nrequire_ticket = true\n",
            ec_pub.display().to_string(),
            ed_pub.display().to_string(),
            rsa_pub.display().to_string()
        ),
    )
    .expect("policy");
    let record = dir.join("shown.jsonl");
    let agent = start(
        "tickets",
        Options {
            script: &format!(
                "pin = \"123456\"\nrecord = {:?}\n",
                record.display().to_string()
            ),
            env: vec![("KYSO_POLICY_FILE", policy)],
            ..Options::default()
        },
    )
    .expect("agent");
    let (content, digest) = document(&agent.dir, "ticketed.bin", "SHA-256");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut nonce = 0;
    let mut claims = |change: &dyn Fn(&mut serde_json::Value)| {
        nonce += 1;
        let mut c = serde_json::json!({
            "origin": QLVB,
            "digest": digest,
            "digestAlgorithm": "SHA-256",
            "document": {"title": "Quyết định phê duyệt kế hoạch 2027", "number": "15/QĐ-UBND", "purpose": "approve"},
            "exp": now + 120,
            "jti": format!("nonce-{nonce}-{}", rand_suffix()),
        });
        change(&mut c);
        c
    };
    let sign = |pem: &[u8], alg: Algorithm, claims: &serde_json::Value| {
        let key = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            _ => EncodingKey::from_ec_pem(pem),
        }
        .expect("key");
        jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("jwt")
    };
    // What the page sends: its own, harmless-looking title, and the ticket (or none).
    let body = |ticket: Option<&str>| {
        let mut body: serde_json::Value =
            serde_json::from_str(&sign_body(fx, "personal", &digest)).expect("body");
        body["document"]["title"] = "Thư mời họp (vô hại)".into();
        if let Some(ticket) = ticket {
            body["ticket"] = ticket.into();
        }
        body.to_string()
    };
    let shown = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("record"))
            .collect()
    };
    let refused = |ticket: Option<String>, code: &str, why: &str| {
        let reply = agent.post("/v1/sign", QLVB, &body(ticket.as_deref()));
        assert_eq!(
            (reply.status, reply.code()),
            (403, code.to_string()),
            "{why}: {}",
            reply.body
        );
        assert!(
            shown().is_empty(),
            "{why}: a dialog was shown: {:?}",
            shown()
        );
    };
    let b64url = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };

    refused(None, "TICKET_REQUIRED", "no ticket");
    refused(
        Some(sign(&stranger, Algorithm::ES256, &claims(&|_| {}))),
        "TICKET_INVALID",
        "another key",
    );
    refused(
        Some(format!(
            "{}.{}.",
            b64url(&serde_json::json!({"alg": "none"})),
            b64url(&claims(&|_| {}))
        )),
        "TICKET_INVALID",
        "alg none",
    );
    refused(
        Some(sign(
            &ec,
            Algorithm::ES256,
            &claims(&|c| c["exp"] = (now - 10).into()),
        )),
        "TICKET_EXPIRED",
        "expired",
    );
    refused(
        Some(sign(
            &ec,
            Algorithm::ES256,
            &claims(&|c| c["origin"] = "https://dms.example.vn".into()),
        )),
        "TICKET_INVALID",
        "another origin",
    );
    refused(
        Some(sign(
            &ec,
            Algorithm::ES256,
            &claims(&|c| {
                c["digest"] = base64::engine::general_purpose::STANDARD
                    .encode([1u8; 32])
                    .into()
            }),
        )),
        "TICKET_INVALID",
        "another digest",
    );
    refused(
        Some(sign(
            &ec,
            Algorithm::ES256,
            &claims(&|c| c["digestAlgorithm"] = "SHA-512".into()),
        )),
        "TICKET_INVALID",
        "another digest algorithm",
    );
    // A batch is refused whole when one of its documents lacks its ticket.
    let good_item = sign(&ec, Algorithm::ES256, &claims(&|_| {}));
    let mut batch: serde_json::Value = serde_json::from_str(&batch_body(
        fx,
        "personal",
        [
            (
                digest.as_str(),
                serde_json::json!({"title": "a", "purpose": "approve"}),
            ),
            (
                digest.as_str(),
                serde_json::json!({"title": "b", "purpose": "approve"}),
            ),
        ],
    ))
    .expect("batch");
    batch["items"][0]["ticket"] = good_item.into();
    let reply = agent.post("/v1/sign/batch", QLVB, &batch.to_string());
    assert_eq!(
        (reply.status, reply.code()),
        (403, "TICKET_REQUIRED".to_string()),
        "{}",
        reply.body
    );
    assert!(shown().is_empty());

    // Good tickets from each of the DMS's keys sign; the dialog shows the ticket's document.
    let mut signed = 0;
    for (pem, alg) in [
        (&ec, Algorithm::ES256),
        (&ed, Algorithm::EdDSA),
        (&rsa, Algorithm::RS256),
    ] {
        let ticket = sign(pem, alg, &claims(&|_| {}));
        let reply = agent.post("/v1/sign", QLVB, &body(Some(&ticket)));
        assert_eq!(reply.status, 200, "{alg:?}: {}", reply.body);
        signed += 1;
        let cms = agent.dir.join(format!("ticketed-{signed}.p7s"));
        std::fs::write(&cms, b64(reply.json()["cms"].as_str().expect("cms"))).expect("cms");
        openssl_verify(fx, &cms, &content).expect("openssl cms -verify");
        let last = shown().pop().expect("a dialog");
        let document = &last["view"]["documents"][0];
        assert_eq!(
            document["title"], "Quyết định phê duyệt kế hoạch 2027",
            "{last}"
        );
        assert_eq!(document["attested"], true, "{last}");
        assert_eq!(
            document["source"], "xác nhận bởi hệ thống quản lý văn bản",
            "{last}"
        );
        assert_eq!(last["view"]["allowedBy"], "được cơ quan cho phép", "{last}");
        assert!(
            !last.to_string().contains("vô hại"),
            "the page's title was shown: {last}"
        );
        // The same ticket again is a replay, refused before the dialog.
        let before = shown().len();
        let reply = agent.post("/v1/sign", QLVB, &body(Some(&ticket)));
        assert_eq!(reply.code(), "TICKET_REPLAYED", "{}", reply.body);
        assert_eq!(shown().len(), before);
    }

    // The README's Node example (no JOSE library) makes tickets the agent accepts.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/node/ticket.mjs");
    let out = Command::new("node")
        .arg(&example)
        .args([
            QLVB,
            digest.as_str(),
            "Công văn 7/UBND-VP",
            "7/UBND-VP",
            "issue",
        ])
        .env("KYSO_TICKET_KEY", dir.join("ec.key"))
        .output()
        .expect("node (installed by tests/install-deps.sh)");
    assert!(out.status.success(), "{:?}", text(&out));
    let ticket = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let reply = agent.post("/v1/sign", QLVB, &body(Some(&ticket)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let last = shown().pop().expect("a dialog");
    assert_eq!(
        last["view"]["documents"][0]["title"], "Công văn 7/UBND-VP",
        "{last}"
    );
    assert_eq!(
        last["view"]["documents"][0]["action"], "Ký phát hành",
        "{last}"
    );

    // The plainly allowed origin: no keys, so a ticket cannot be checked and is refused; without
    // one it signs as before, its document marked as stated by the page.
    let reply = agent.post(
        "/v1/sign",
        DMS,
        &body(Some(&sign(
            &ec,
            Algorithm::ES256,
            &claims(&|c| c["origin"] = DMS.into()),
        ))),
    );
    assert_eq!(reply.code(), "TICKET_INVALID", "{}", reply.body);
    let reply = agent.post("/v1/sign", DMS, &body(None));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let last = shown().pop().expect("a dialog");
    assert_eq!(
        last["view"]["documents"][0]["title"], "Thư mời họp (vô hại)",
        "{last}"
    );
    assert_eq!(last["view"]["documents"][0]["attested"], false, "{last}");
    assert_eq!(
        last["view"]["documents"][0]["source"], "do trang web cung cấp",
        "{last}"
    );
    // Dates as users read them, one language.
    let until = last["view"]["certificate"]["validUntil"]
        .as_str()
        .expect("until");
    assert!(
        until.len() == 10 && until.as_bytes()[2] == b'/' && until.as_bytes()[5] == b'/',
        "{until}"
    );
    assert!(
        !last["lines"].to_string().contains("Requested by"),
        "{last}"
    );
}
