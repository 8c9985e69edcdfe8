//! Path validation and revocation on real parts: a test PKI whose certificates name an OCSP
//! responder and CRLs on loopback (`tests/fixtures/make-revocation-pki.sh`), `openssl ocsp` as
//! the responder (a delegated responder certificate), the CRLs served by a plain HTTP server.
//! Checked through `kyso cert verify` and through `kyso pdf verify` on drafts signed with the
//! test keys (CMS by `openssl cms -sign`, embedded by `kyso pdf embed`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn kyso() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kyso"));
    cmd.env("KYSO_POLICY_FILE", "/nonexistent/kyso-policy.toml")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY");
    cmd
}

/// A port no other test of this run was given: the system's free port, never one handed out
/// before (two quick binds can return the same number, and two servers on one port made the
/// OCSP and CRL fetches of a test wait on the wrong one).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

struct Servers {
    children: Vec<Child>,
}

impl Servers {
    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Pki {
    dir: PathBuf,
    servers: Servers,
    ports: (u16, u16),
}

impl Pki {
    fn pem(&self, name: &str) -> String {
        self.dir.join(format!("{name}.pem")).display().to_string()
    }
}

fn pki(name: &str) -> Pki {
    let (ocsp_port, crl_port) = (free_port(), free_port());
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/kyso-tests/revocation-{name}"));
    let status = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-revocation-pki.sh"))
        .arg(&dir)
        .arg(ocsp_port.to_string())
        .arg(crl_port.to_string())
        .stdout(Stdio::null())
        .status()
        .expect("make-revocation-pki.sh");
    assert!(status.success());
    let servers = start_servers(&dir, ocsp_port, crl_port);
    Pki {
        dir,
        servers,
        ports: (ocsp_port, crl_port),
    }
}

/// The PKI's OCSP responder and CRL server, again (after `servers.stop()`).
fn restart_servers(p: &Pki) -> Servers {
    start_servers(&p.dir, p.ports.0, p.ports.1)
}

fn start_servers(dir: &Path, ocsp_port: u16, crl_port: u16) -> Servers {
    // `openssl ocsp` serves one connection at a time and stalls on a bare connect, so its
    // readiness is read from its log rather than probed.
    let ocsp_log = dir.join("ocsp.log");
    let ocsp = Command::new("openssl")
        .args([
            "ocsp",
            "-index",
            "index.txt",
            "-port",
            &ocsp_port.to_string(),
        ])
        .args([
            "-rsigner", "ocsp.pem", "-rkey", "ocsp.key", "-CA", "ca.pem", "-ndays", "1",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&ocsp_log).expect("log"))
        .spawn()
        .expect("openssl ocsp");
    let http = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &crl_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            "crl",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("http.server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&ocsp_log).is_ok_and(|l| l.contains("waiting for OCSP client")) {
        assert!(Instant::now() < deadline, "openssl ocsp did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for(crl_port);
    Servers {
        children: vec![ocsp, http],
    }
}

/// `kyso cert verify CERT --trust root --intermediate … EXTRA… --json`: exit code and report.
fn cert_verify(
    p: &Pki,
    cert: &str,
    intermediates: &[&str],
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let mut cmd = kyso();
    cmd.args([
        "cert",
        "verify",
        &p.pem(cert),
        "--trust",
        &p.pem("root"),
        "--json",
    ]);
    for i in intermediates {
        cmd.args(["--intermediate", &p.pem(i)]);
    }
    cmd.args(extra);
    let out = cmd.output().expect("kyso");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn sources(report: &serde_json::Value) -> Vec<String> {
    report["path"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["status"].as_str().unwrap_or(""),
                        e["source"].as_str().unwrap_or("-")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn certificates_are_checked_by_path_and_by_ocsp_or_crl() {
    let mut p = pki("cert");
    // Good: the signer's status from the delegated OCSP responder, the CA's from the root CRL.
    let (code, r) = cert_verify(&p, "good", &["ca"], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(sources(&r), ["good/ocsp", "good/crl", "anchor/-"], "{r:#}");
    // Revoked: OCSP says so.
    let (code, r) = cert_verify(&p, "revoked", &["ca"], &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(codes(&r), ["REVOKED"]);
    // No AIA: the CDP's CRL.
    let (code, r) = cert_verify(&p, "crl-only", &["ca"], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(sources(&r)[0], "good/crl");
    // No URL at all: status not determinable, validity unknown.
    let (code, r) = cert_verify(&p, "no-urls", &["ca"], &[]);
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(codes(&r), ["REVOCATION_UNAVAILABLE"]);
    // Broken paths are invalid whatever the revocation status.
    for (cert, intermediates, reason) in [
        ("expired", &["ca"][..], "EXPIRED"),
        ("forged-org", &["ca", "good"][..], "ISSUER_NOT_CA"),
        ("no-kcs-leaf", &["ca", "no-kcs-ca"][..], "ISSUER_KEY_USAGE"),
        (
            "len0-leaf",
            &["ca", "len0-ca", "len0-sub"][..],
            "PATH_LENGTH",
        ),
    ] {
        let (code, r) = cert_verify(&p, cert, intermediates, &[]);
        assert_eq!(code, 1, "{cert}: {r:#}");
        assert_eq!(codes(&r), [reason], "{cert}");
    }
    // Without the intermediate there is no path: unknown, not invalid.
    let (code, r) = cert_verify(&p, "good", &[], &[]);
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(codes(&r), ["NO_TRUSTED_PATH"]);
    // --offline: nothing fetched, so unknown; with the CRLs given, decided.
    let (code, r) = cert_verify(&p, "good", &["ca"], &["--offline"]);
    assert_eq!(code, 2, "{r:#}");
    let crls = [p.dir.join("ca.crl.pem"), p.dir.join("root.crl.pem")];
    let crl_args: Vec<String> = crls
        .iter()
        .flat_map(|c| ["--crl".to_string(), c.display().to_string()])
        .collect();
    let crl_args: Vec<&str> = crl_args.iter().map(String::as_str).collect();
    let mut offline = vec!["--offline"];
    offline.extend(&crl_args);
    assert_eq!(cert_verify(&p, "good", &["ca"], &offline).0, 0);
    assert_eq!(cert_verify(&p, "revoked", &["ca"], &offline).0, 1);
    // --no-revocation: the path only, except that CRLs given still apply.
    assert_eq!(
        cert_verify(&p, "revoked", &["ca"], &["--no-revocation"]).0,
        0
    );
    let mut path_only = vec!["--no-revocation"];
    path_only.extend(&crl_args);
    assert_eq!(cert_verify(&p, "revoked", &["ca"], &path_only).0, 1);
    // A CRL that names the CA but whose signature is not the CA's: status unknown.
    let forged_crl = p.dir.join("forged.crl");
    let mut der = std::fs::read(p.dir.join("crl/ca.crl")).expect("crl");
    let last = der.len() - 1;
    der[last] ^= 0x55;
    std::fs::write(&forged_crl, der).expect("write");
    let (code, r) = cert_verify(
        &p,
        "good",
        &["ca"],
        &[
            "--no-revocation",
            "--crl",
            &forged_crl.display().to_string(),
        ],
    );
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(codes(&r), ["CRL_INVALID"]);
    // The responder and the CRL server down: unknown, with the reason, within the time-outs.
    p.servers.stop();
    let started = Instant::now();
    let (code, r) = cert_verify(&p, "good", &["ca"], &[]);
    assert_eq!(code, 2, "{r:#}");
    assert!(
        codes(&r).iter().all(|c| c == "REVOCATION_UNAVAILABLE"),
        "{r:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Usage errors are never 2.
    let out = kyso()
        .args(["cert", "verify", &p.pem("good"), "--bogus"])
        .output()
        .expect("kyso");
    assert_eq!(out.status.code(), Some(3));
    let out = kyso()
        .args([
            "cert",
            "verify",
            "/nonexistent.pem",
            "--trust",
            &p.pem("root"),
        ])
        .output()
        .expect("kyso");
    assert_eq!(out.status.code(), Some(3));
}

/// A one-page PDF.
fn draft() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
        "<< /Length 36 >>\nstream\nBT /F1 12 Tf 72 770 Td (Hello) Tj ET\nendstream".to_string(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Signs a draft with `signer`'s key: prepare, `openssl cms -sign` over the byte range, embed.
fn sign_with(p: &Pki, signer: &str, chain: &[&str]) -> PathBuf {
    sign_with_embed_args(p, signer, chain, &[])
}

fn sign_with_embed_args(p: &Pki, signer: &str, chain: &[&str], embed_args: &[&str]) -> PathBuf {
    let dir = p.dir.join(format!("pdf-{signer}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let draft_path = dir.join("draft.pdf");
    std::fs::write(&draft_path, draft()).expect("draft");
    let prepared = dir.join("prepared.pdf");
    let out = kyso()
        .args([
            "pdf",
            "prepare",
            &draft_path.display().to_string(),
            "-o",
            &prepared.display().to_string(),
            "--json",
        ])
        .output()
        .expect("prepare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let range: Vec<usize> = info["byteRange"]
        .as_array()
        .expect("range")
        .iter()
        .map(|v| v.as_u64().unwrap_or(0) as usize)
        .collect();
    let bytes = std::fs::read(&prepared).expect("prepared");
    let mut signed_bytes = bytes[..range[1]].to_vec();
    signed_bytes.extend(&bytes[range[2]..range[2] + range[3]]);
    let content = dir.join("content.bin");
    std::fs::write(&content, signed_bytes).expect("content");
    let certfile = dir.join("chain.pem");
    let chain_pem: String = chain
        .iter()
        .map(|c| std::fs::read_to_string(p.pem(c)).expect("pem"))
        .collect();
    std::fs::write(&certfile, chain_pem).expect("chain");
    let cms = dir.join("sig.der");
    let status = Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-nosmimecap",
        ])
        .args([
            "-in",
            &content.display().to_string(),
            "-signer",
            &p.pem(signer),
        ])
        .args([
            "-inkey",
            &p.dir.join(format!("{signer}.key")).display().to_string(),
        ])
        .args([
            "-certfile",
            &certfile.display().to_string(),
            "-out",
            &cms.display().to_string(),
        ])
        .status()
        .expect("openssl cms");
    assert!(status.success());
    let signed = dir.join("signed.pdf");
    let out = kyso()
        .args([
            "pdf",
            "embed",
            &prepared.display().to_string(),
            "--cms",
            &cms.display().to_string(),
            "-o",
            &signed.display().to_string(),
        ])
        .args(embed_args)
        .output()
        .expect("embed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    signed
}

fn pdf_verify(p: &Pki, file: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = kyso()
        .args([
            "pdf",
            "verify",
            &file.display().to_string(),
            "--trust",
            &p.pem("root"),
            "--json",
        ])
        .args(extra)
        .output()
        .expect("kyso");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap_or(-1),
        report["signatures"][0].clone(),
    )
}

#[test]
fn signed_drafts_are_valid_invalid_or_unknown_as_their_certificates_are() {
    let mut p = pki("pdf");
    let good = sign_with(&p, "good", &["ca"]);
    let revoked = sign_with(&p, "revoked", &["ca"]);
    let forged = sign_with(&p, "forged-org", &["ca", "good"]);
    let (code, s) = pdf_verify(&p, &good, &[]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["validAtSigningTime"], true);
    assert_eq!(s["certificate"]["issuerName"], "Kyso Revocation CA");
    assert_eq!(s["timeSource"], "claimed");
    let (code, s) = pdf_verify(&p, &revoked, &[]);
    assert_eq!(code, 1, "{s:#}");
    assert!(
        s["reasonCodes"]
            .as_array()
            .is_some_and(|c| c.contains(&"REVOKED".into())),
        "{s:#}"
    );
    let (code, s) = pdf_verify(&p, &forged, &[]);
    assert_eq!(code, 1, "{s:#}");
    assert!(
        s["reasonCodes"]
            .as_array()
            .is_some_and(|c| c.contains(&"ISSUER_NOT_CA".into())),
        "{s:#}"
    );
    // Offline, with nothing in the file: unknown, saying why.
    let (code, s) = pdf_verify(&p, &good, &["--offline"]);
    assert_eq!(code, 2, "{s:#}");
    assert_eq!(s["verdict"], "unknown");
    assert!(
        s["reasons"]
            .to_string()
            .contains("không kiểm tra được trạng thái thu hồi"),
        "{s:#}"
    );
    // Signed, then revoked: the signing time is only claimed (no timestamp), so the signature
    // may as well have been made after the revocation with a backdated /M: unknown, not valid.
    let later = sign_with(&p, "crl-only", &["ca"]);
    assert_eq!(pdf_verify(&p, &later, &[]).0, 0);
    std::thread::sleep(Duration::from_millis(1100));
    let status = Command::new("bash")
        .args(["-c", "openssl ca -config db/ca/ca.cnf -revoke crl-only.pem 2>/dev/null && openssl ca -gencrl -config db/ca/ca.cnf -out ca.crl.pem 2>/dev/null && openssl crl -in ca.crl.pem -outform DER -out crl/ca.crl"])
        .current_dir(&p.dir)
        .status()
        .expect("bash");
    assert!(status.success());
    let (code, s) = pdf_verify(&p, &later, &[]);
    assert_eq!(code, 2, "{s:#}");
    assert!(
        s["reasonCodes"]
            .as_array()
            .is_some_and(|c| c.contains(&"REVOKED_AFTER_CLAIMED_TIME".into())),
        "{s:#}"
    );
    // The responder and the CRL server down: unknown too.
    p.servers.stop();
    let (code, s) = pdf_verify(&p, &good, &[]);
    assert_eq!(code, 2, "{s:#}");
}

/// Evidence in the file is enough: pyHanko adds the document security store (`sign ltvfix`,
/// fetching from the loopback responder and CRL server); then, with both servers stopped,
/// `kyso pdf verify --offline` proves the signature valid from the DSS alone, and without the
/// DSS the same file is validity unknown.
#[test]
fn the_document_security_store_alone_proves_revocation_offline() {
    let mut p = pki("dss");
    let signed = sign_with(&p, "good", &["ca"]);
    let with_dss = p.dir.join("pdf-good/with-dss.pdf");
    std::fs::copy(&signed, &with_dss).expect("copy");
    let pyhanko = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kyso-venv/bin/pyhanko");
    let out = Command::new(&pyhanko)
        .args([
            "sign",
            "ltvfix",
            "--field",
            "Signature1",
            "--trust",
            &p.pem("root"),
            "--trust-replace",
        ])
        .args(["--other-certs", &p.pem("ca")])
        .arg(&with_dss)
        .output()
        .expect("pyhanko (tests/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.servers.stop();
    let (code, s) = pdf_verify(&p, &with_dss, &["--offline"]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["path"][0]["status"], "good", "{s:#}");
    let (code, _) = pdf_verify(&p, &signed, &["--offline"]);
    assert_eq!(code, 2);
}

/// PAdES B-LT (a first step of the Thông tư 15 signing issue): `kyso pdf embed
/// --fetch-revocation` stores the chain, the signer's OCSP response and the CA's CRL in the
/// DSS; with the responder and the CRL server stopped, `kyso pdf verify --offline` proves the
/// signature from the file alone, and so does pyHanko with fetching disabled, revocation
/// checking set to hard-fail and the file's DSS as its only validation data.
#[test]
fn embed_stores_the_validation_data_that_proves_the_signature_offline() {
    let mut p = pki("blt");
    let signed = sign_with_embed_args(
        &p,
        "good",
        &["ca"],
        &["--fetch-revocation", "--chain", &p.pem("root")],
    );
    p.servers.stop();
    let (code, s) = pdf_verify(&p, &signed, &["--offline"]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["path"][0]["source"], "ocsp", "{s:#}");
    assert_eq!(s["path"][1]["source"], "crl", "{s:#}");
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kyso-venv/bin/python");
    let script = r#"
import sys
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.keys import load_cert_from_pemder
root = load_cert_from_pemder(sys.argv[1])
reader = PdfFileReader(open(sys.argv[2], "rb"))
dss = DocumentSecurityStore.read_dss(reader)
context = dss.as_validation_context(
    {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"})
status = validate_pdf_signature(reader.embedded_signatures[0], context)
print("trusted" if status.trusted and status.bottom_line else "NOT trusted", status.summary())
"#;
    let out = Command::new(&python)
        .args(["-c", script, &p.pem("root")])
        .arg(&signed)
        .output()
        .expect("pyHanko's python (tests/install-deps.sh installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.starts_with("trusted"),
        "{text}"
    );
}

/// The bridge's embed does the same for a DMS server: `fetchRevocation` and `chain` in the
/// /v1/embed body, and the signed file it returns proves itself offline.
#[test]
fn the_bridge_embeds_the_validation_data_too() {
    use base64::Engine as _;
    let mut p = pki("bridge-blt");
    let signed = sign_with(&p, "good", &["ca"]);
    let dir = signed.parent().expect("dir").to_path_buf();
    let port = free_port();
    // The bridge as a DMS server runs it: a bearer token from a file.
    let token = "bridge-test-token-0123456789abcdef";
    let token_file = dir.join("bridge.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token");
    let bearer = format!("Bearer {token}");
    let mut bridge = kyso()
        .args(["bridge", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kyso bridge");
    wait_for(port);
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = serde_json::json!({
        "prepared": b64.encode(std::fs::read(dir.join("prepared.pdf")).expect("prepared")),
        "cms": b64.encode(std::fs::read(dir.join("sig.der")).expect("cms")),
        "fetchRevocation": true,
        "chain": [std::fs::read_to_string(p.pem("root")).expect("root")],
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&format!("http://127.0.0.1:{port}/v1/embed"))
        .header("Authorization", &bearer)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("bridge");
    let text = response.body_mut().read_to_string().expect("body");
    // A level the bridge does not know is a clear 400, and B-LTA without a TSA too.
    for level in ["B-LTX", "B-LTA"] {
        let mut body = body.clone();
        body["level"] = serde_json::json!(level);
        let mut refused = agent
            .post(&format!("http://127.0.0.1:{port}/v1/embed"))
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("bridge");
        assert_eq!(refused.status(), 400, "{level}");
        let answer = refused.body_mut().read_to_string().expect("body");
        assert!(answer.contains("BAD_REQUEST"), "{level}: {answer}");
    }
    let _ = bridge.kill();
    let _ = bridge.wait();
    let answer: serde_json::Value = serde_json::from_str(&text).expect("json");
    let with_dss = dir.join("bridge-blt.pdf");
    std::fs::write(
        &with_dss,
        b64.decode(answer["signed"].as_str().expect(&text))
            .expect("b64"),
    )
    .expect("write");
    // The same embed at B-LTA, on a bridge configured with an https TSA.
    let (mut tsa, url) = https_tsa(&p);
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            "tsa_url = \"{url}\"\ntrust_anchors = [\"{}\"]\n",
            p.pem("root")
        ),
    )
    .expect("config");
    let port = free_port();
    let mut bridge = kyso()
        .env("SSL_CERT_FILE", p.pem("root"))
        .arg("--config")
        .arg(&config)
        .args(["bridge", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kyso bridge");
    wait_for(port);
    let mut lta = body.clone();
    lta["level"] = serde_json::json!("B-LTA");
    let mut response = agent
        .post(&format!("http://127.0.0.1:{port}/v1/embed"))
        .header("Authorization", &bearer)
        .header("Content-Type", "application/json")
        .send(lta.to_string())
        .expect("bridge");
    let text = response.body_mut().read_to_string().expect("body");
    let _ = bridge.kill();
    let _ = bridge.wait();
    tsa.stop();
    let answer: serde_json::Value = serde_json::from_str(&text).expect(&text);
    let archived = dir.join("bridge-blta.pdf");
    std::fs::write(
        &archived,
        b64.decode(answer["signed"].as_str().expect(&text))
            .expect("b64"),
    )
    .expect("write");

    p.servers.stop();
    let (code, s) = pdf_verify(&p, &with_dss, &["--offline"]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["path"][0]["source"], "ocsp", "{s:#}");
    let (code, report) = pdf_verify_all(&p, &archived);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["signatures"][0]["timeSource"], "timestamp",
        "{report:#}"
    );
    assert_eq!(
        report["signatures"][1]["documentTimestamp"], true,
        "{report:#}"
    );
    pyhanko_offline(&p, &archived);
}

// ---- The agent's status check before signing (Thông tư 15/2025 Đ.5) and PAdES B-LT/B-LTA ----

mod common;

use common::agent::{self, Agent, Options, DMS};

/// Certificate id of a PKI certificate (hex SHA-256 of its DER).
fn id(p: &Pki, name: &str) -> String {
    kyso::certificate::id_of(&std::fs::read(p.dir.join(format!("{name}.der"))).expect("der"))
}

/// A `kyso serve` on the PKI's SoftHSM2 token, the scripted prompt answering the PIN, logging
/// at info (the prompt logs the lines it shows).
fn status_agent(p: &Pki, name: &str, policy: &str) -> Agent {
    agent::start(
        name,
        Options {
            extra_config: &format!("revocation_check = \"{policy}\"\n"),
            env: vec![
                ("SOFTHSM2_CONF", p.dir.join("token/softhsm2.conf")),
                ("KYSO_LOG", PathBuf::from("info")),
            ],
            ..Options::default()
        },
    )
    .expect("kyso serve")
}

fn sign_request(p: &Pki, signer: &str) -> String {
    serde_json::json!({
        "certificateId": id(p, signer),
        "digest": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        "digestAlgorithm": "SHA-256",
        "document": {"title": "Công văn thử kiểm tra thu hồi", "purpose": "approve"}
    })
    .to_string()
}

fn log_count(agent: &Agent, needle: &str) -> usize {
    std::fs::read_to_string(agent.dir.join("agent.log"))
        .unwrap_or_default()
        .matches(needle)
        .count()
}

const PROMPT_LOG: &str = "scripted PIN prompt";
const CHECK_LOG: &str = "certificate status checked";
const UNKNOWN_LINE: &str = "không kiểm tra được trạng thái thu hồi";

/// Every outcome of the check before signing, on one agent (policy `warn`): a good signer
/// signs and gets the OCSP response and CRL that show it; a revoked signer, and a signer whose
/// CA is revoked, get `CERTIFICATE_REVOKED` without a PIN prompt; a certificate with no
/// OCSP/CRL URL signs after the prompt showed the warning; a batch is checked once; a good
/// result stays cached until its nextUpdate (it still signs with the servers stopped).
#[test]
fn the_agent_checks_the_status_before_it_signs() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut p = pki("agent-status");
    let agent = status_agent(&p, "status-warn", "warn");

    let reply = agent.post("/v1/sign", DMS, &sign_request(&p, "good"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let good = reply.json();
    assert_eq!(good["revocationStatus"], "good", "{good:#}");
    let ocsp = good["revocation"]["ocsp"].as_array().expect("ocsp");
    let crl = good["revocation"]["crl"].as_array().expect("crl");
    assert_eq!(ocsp.len(), 1, "the signer's OCSP response: {good:#}");
    assert_eq!(
        crl.len(),
        1,
        "the CA's status from the root's CRL: {good:#}"
    );
    assert_eq!(good["chain"].as_array().map(Vec::len), Some(2), "{good:#}");
    // The evidence is what openssl reads as a successful, good OCSP response.
    let der = p.dir.join("agent-ocsp.der");
    std::fs::write(
        &der,
        b64.decode(ocsp[0].as_str().expect("b64")).expect("b64"),
    )
    .expect("w");
    let out = Command::new("openssl")
        .args([
            "ocsp",
            "-respin",
            &der.display().to_string(),
            "-resp_text",
            "-noverify",
        ])
        .output()
        .expect("openssl ocsp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Cert Status: good"), "{text}");
    assert_eq!(log_count(&agent, PROMPT_LOG), 1);

    for revoked in ["revoked", "under-revoked-ca"] {
        let reply = agent.post("/v1/sign", DMS, &sign_request(&p, revoked));
        assert_eq!(reply.status, 409, "{revoked}: {}", reply.body);
        assert_eq!(reply.code(), "CERTIFICATE_REVOKED", "{revoked}");
        assert_eq!(log_count(&agent, PROMPT_LOG), 1, "{revoked}: no PIN prompt");
    }

    let reply = agent.post("/v1/sign", DMS, &sign_request(&p, "crl-only"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["revocationStatus"], "good");
    assert_eq!(
        reply.json()["revocation"]["crl"].as_array().map(Vec::len),
        Some(2)
    );

    let warned = log_count(&agent, UNKNOWN_LINE);
    let checks = log_count(&agent, CHECK_LOG);
    let items: Vec<(&str, serde_json::Value)> = (0..3)
        .map(|i| {
            (
                "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
                serde_json::json!({"title": format!("Văn bản {i}"), "purpose": "approve"}),
            )
        })
        .collect();
    let batch = serde_json::json!({
        "certificateId": id(&p, "no-urls"),
        "digestAlgorithm": "SHA-256",
        "items": items.iter().map(|(d, doc)| serde_json::json!({"digest": d, "document": doc})).collect::<Vec<_>>(),
    });
    let reply = agent.post("/v1/sign/batch", DMS, &batch.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"]
        .as_array()
        .cloned()
        .expect("results");
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r["revocationStatus"], "unknown", "{r:#}");
        assert!(r["cms"].is_string(), "{r:#}");
    }
    assert_eq!(
        log_count(&agent, CHECK_LOG),
        checks + 1,
        "one check for the batch"
    );
    assert_eq!(
        log_count(&agent, UNKNOWN_LINE),
        warned + 1,
        "the prompt showed the warning"
    );

    // Cached until nextUpdate: the good signer still has its status with the servers down.
    p.servers.stop();
    let reply = agent.post("/v1/sign", DMS, &sign_request(&p, "good"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["revocationStatus"], "good");
    assert_eq!(reply.json()["revocation"], good["revocation"]);
}

/// A token that holds only the signer's certificate, as many real tokens do: the agent fetches
/// the CA (a PKCS#7 bundle) and the root from the AIA's caIssuers, checks both, and returns them
/// as the chain, in the response and in the CMS.
#[test]
fn a_token_without_its_ca_gets_the_chain_from_the_aia() {
    use base64::Engine as _;
    let p = pki("agent-aia");
    let agent = agent::start(
        "status-aia",
        Options {
            extra_config: "revocation_check = \"require\"\n",
            env: vec![("SOFTHSM2_CONF", p.dir.join("token-leaf/softhsm2.conf"))],
            ..Options::default()
        },
    )
    .expect("kyso serve");
    let reply = agent.post("/v1/sign", DMS, &sign_request(&p, "good"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["revocationStatus"], "good", "{answer:#}");
    let b64 = base64::engine::general_purpose::STANDARD;
    let chain: Vec<Vec<u8>> = answer["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|c| b64.decode(c.as_str().expect("b64")).expect("b64"))
        .collect();
    let der = |name: &str| std::fs::read(p.dir.join(format!("{name}.der"))).expect("der");
    assert_eq!(chain, vec![der("ca"), der("root")]);
    let cms = p.dir.join("aia.p7s");
    std::fs::write(
        &cms,
        b64.decode(answer["cms"].as_str().expect("cms"))
            .expect("b64"),
    )
    .expect("write");
    let out = Command::new("openssl")
        .args(["pkcs7", "-print_certs", "-noout", "-inform", "DER", "-in"])
        .arg(&cms)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Kyso Revocation CA"),
        "the CMS carries the CA: {text}"
    );
}

/// `kyso sign --revocation-out DIR` keeps the evidence of the check as files that `kyso pdf
/// embed --revocation` takes: the signer's OCSP response and the CA's CRL.
#[test]
fn kyso_sign_writes_the_evidence_it_checked() {
    let p = pki("sign-evidence");
    let dir = p.dir.join("cli");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "pkcs11_modules = [\"{}\"]\ndiscover_modules = false\nrevocation_check = \"require\"\n",
            common::SOFTHSM
        ),
    )
    .expect("config");
    std::fs::write(dir.join("prompt.toml"), "pin = \"123456\"\n").expect("script");
    // `kyso` on the PKI's token with this configuration and the scripted PIN.
    let on_token = |args: &[std::ffi::OsString]| {
        kyso()
            .env("SOFTHSM2_CONF", p.dir.join("token/softhsm2.conf"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--prompter")
            .arg(format!("scripted:{}", dir.join("prompt.toml").display()))
            .args(args)
            .output()
            .expect("kyso")
    };
    let sign = |signer: &str, out: &Path, more: &[std::ffi::OsString]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "sign".into(),
            "--cert".into(),
            id(&p, signer).into(),
            "--digest".into(),
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into(),
            "--out".into(),
            out.into(),
        ];
        args.extend_from_slice(more);
        on_token(&args)
    };
    let evidence = dir.join("evidence");
    let out = sign(
        "good",
        &dir.join("sig.der"),
        &["--revocation-out".into(), evidence.clone().into()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ocsp = evidence.join("ocsp-1.der");
    let out = Command::new("openssl")
        .args([
            "ocsp",
            "-respin",
            &ocsp.display().to_string(),
            "-resp_text",
            "-noverify",
        ])
        .output()
        .expect("openssl ocsp");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Cert Status: good"));
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-issuer", "-in"])
        .arg(evidence.join("crl-1.der"))
        .output()
        .expect("openssl crl");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Kyso Revocation Root"));
    // The revoked signer: refused, nothing written.
    let out = sign("revoked", &dir.join("revoked.der"), &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("thu hồi"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("revoked.der").exists());
    // kyso doctor shows what the check before signing finds for each certificate.
    let out = on_token(&["doctor".into(), "--json".into()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["revocationCheck"], "require", "{report:#}");
    let status_of = |name: &str| {
        report["revocation"]
            .as_array()
            .and_then(|list| list.iter().find(|r| r["certificateId"] == id(&p, name)))
            .map(|r| r["status"].clone())
    };
    for (name, expected) in [
        ("good", "good"),
        ("revoked", "revoked"),
        ("under-revoked-ca", "revoked"),
        ("no-urls", "unknown"),
    ] {
        assert_eq!(
            status_of(name),
            Some(serde_json::json!(expected)),
            "{name}: {report:#}"
        );
    }
}

/// The responder and the CRL server down: under `warn` the signer is warned in the prompt and
/// signs (status `unknown`); under `require` the agent refuses with `REVOCATION_UNAVAILABLE`
/// before any prompt; under `off` nothing is checked.
#[test]
fn an_unreachable_responder_warns_or_refuses_as_the_policy_says() {
    let mut p = pki("agent-down");
    p.servers.stop();
    let warn = status_agent(&p, "status-down-warn", "warn");
    let reply = warn.post("/v1/sign", DMS, &sign_request(&p, "good"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["revocationStatus"], "unknown");
    assert_eq!(log_count(&warn, UNKNOWN_LINE), 1);

    let require = status_agent(&p, "status-down-require", "require");
    let reply = require.post("/v1/sign", DMS, &sign_request(&p, "good"));
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.code(), "REVOCATION_UNAVAILABLE");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("thu hồi")));
    assert_eq!(log_count(&require, PROMPT_LOG), 0, "no PIN prompt");

    let off = status_agent(&p, "status-down-off", "off");
    let reply = off.post("/v1/sign", DMS, &sign_request(&p, "revoked"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["revocationStatus"], "notChecked");
    assert_eq!(log_count(&off, CHECK_LOG), 0);
}

/// pyHanko, fetching disabled and revocation hard-fail, with the file's DSS as its only
/// validation data: every signature trusted with at most archival updates after it, and every
/// document timestamp valid. Prints one line per signature.
fn pyhanko_offline(p: &Pki, file: &Path) -> String {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kyso-venv/bin/python");
    let script = r#"
import sys
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.keys import load_cert_from_pemder
root = load_cert_from_pemder(sys.argv[1])
reader = PdfFileReader(open(sys.argv[2], "rb"))
def context():
    dss = DocumentSecurityStore.read_dss(reader)
    return dss.as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"})
ok = True
for sig in reader.embedded_signatures:
    if sig.sig_object.get("/Type") == "/DocTimeStamp":
        status = validate_pdf_timestamp(sig, validation_context=context())
        good = status.valid and status.intact and status.trusted
        print("timestamp", "trusted" if good else "NOT trusted", status.timestamp)
    else:
        status = validate_pdf_signature(sig, context())
        good = status.bottom_line and status.trusted
        print("signature", "trusted" if good else "NOT trusted", status.modification_level,
              status.summary())
    ok = ok and good
sys.exit(0 if ok else 1)
"#;
    let out = Command::new(&python)
        .args(["-c", script, &p.pem("root")])
        .arg(file)
        .output()
        .expect("pyHanko's python (tests/install-deps.sh installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pyHanko: {text}");
    text
}

/// An https TSA on loopback (`openssl ts` behind Python's TLS), its certificate from the PKI;
/// stopped when the returned guard is dropped (a failing test leaves no server behind).
fn https_tsa(p: &Pki) -> (Servers, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tsa.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&p.dir)
        .arg(p.pem("tls"))
        .arg(p.dir.join("tls.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tsa.py");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("port");
    (
        Servers {
            children: vec![child],
        },
        format!("https://127.0.0.1:{}/", line.trim()),
    )
}

/// The whole TT 15 chain on real parts: `kyso pdf sign --level B-LTA` through the token (the
/// agent's status check and its evidence), a signature timestamp and a document timestamp from
/// an https TSA whose path is validated; then, with the responder and CRL server stopped,
/// `kyso pdf verify --offline` and pyHanko (hard-fail, no fetching) prove the signature and the
/// timestamp from the file alone; `kyso pdf timestamp` extends it and both still hold.
#[test]
fn b_lta_signs_timestamps_and_proves_itself_offline() {
    let mut p = pki("blta");
    let (mut tsa, url) = https_tsa(&p);
    let dir = p.dir.join("blta");
    std::fs::create_dir_all(&dir).expect("dir");
    let draft_path = dir.join("draft.pdf");
    std::fs::write(&draft_path, draft()).expect("draft");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "pkcs11_modules = [\"{}\"]\ndiscover_modules = false\ntrust_anchors = [\"{}\"]\n",
            common::SOFTHSM,
            p.pem("root")
        ),
    )
    .expect("config");
    let script = dir.join("prompt.toml");
    std::fs::write(&script, "pin = \"123456\"\n").expect("script");
    let (token_conf, root_pem) = (p.dir.join("token/softhsm2.conf"), p.pem("root"));
    let cli = |args: &[&str]| {
        let out = kyso()
            .env("SOFTHSM2_CONF", &token_conf)
            .env("SSL_CERT_FILE", &root_pem)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--prompter")
            .arg(format!("scripted:{}", script.display()))
            .args(args)
            .output()
            .expect("kyso");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let signed = dir.join("signed.pdf");
    let (ok, err) = cli(&[
        "pdf",
        "sign",
        &draft_path.display().to_string(),
        "--with",
        &id(&p, "good"),
        "-o",
        &signed.display().to_string(),
        "--tsa",
        &url,
        "--level",
        "B-LTA",
    ]);
    assert!(ok, "{err}");
    // A TSA over http:// that is not there: a clear error, no output file.
    let nowhere = dir.join("nowhere.pdf");
    let (ok, err) = cli(&[
        "pdf",
        "timestamp",
        &signed.display().to_string(),
        "-o",
        &nowhere.display().to_string(),
        "--tsa",
        &format!("http://127.0.0.1:{}/", free_port()),
    ]);
    assert!(!ok && err.contains("127.0.0.1"), "{err}");
    assert!(!nowhere.exists());
    // A TSA outside the roots this machine trusts is refused, nothing written.
    let elsewhere = dir.join("elsewhere.toml");
    std::fs::write(
        &elsewhere,
        format!("trust_anchors = [\"{}\"]\n", p.pem("len0-ca")),
    )
    .expect("config");
    let out = kyso()
        .env("SSL_CERT_FILE", &root_pem)
        .arg("--config")
        .arg(&elsewhere)
        .args(["pdf", "timestamp", &signed.display().to_string(), "-o"])
        .arg(&nowhere)
        .args(["--tsa", &url])
        .output()
        .expect("kyso");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("trusted root"),
        "{err}"
    );
    assert!(!nowhere.exists());
    p.servers.stop();
    let (code, report) = pdf_verify_all(&p, &signed);
    assert_eq!(code, 0, "{report:#}");
    let signatures = report["signatures"].as_array().expect("signatures");
    assert_eq!(signatures.len(), 2, "{report:#}");
    assert_eq!(signatures[0]["timeSource"], "timestamp", "{report:#}");
    assert_eq!(signatures[1]["documentTimestamp"], true, "{report:#}");
    let text = pyhanko_offline(&p, &signed);
    assert_eq!(text.matches("trusted").count(), 2, "{text}");

    // A second archive timestamp over the first (the servers back up to gather its data).
    tsa.stop();
    let servers = restart_servers(&p);
    let (mut tsa, url) = https_tsa(&p);
    let extended = dir.join("extended.pdf");
    let (ok, err) = cli(&[
        "pdf",
        "timestamp",
        &signed.display().to_string(),
        "-o",
        &extended.display().to_string(),
        "--tsa",
        &url,
    ]);
    tsa.stop();
    assert!(ok, "{err}");
    drop(servers);
    let (code, report) = pdf_verify_all(&p, &extended);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["signatures"].as_array().map(Vec::len), Some(3));
    let text = pyhanko_offline(&p, &extended);
    assert_eq!(text.matches("trusted").count(), 3, "{text}");
    assert!(!text.contains("NOT trusted"), "{text}");
}

fn pdf_verify_all(p: &Pki, file: &Path) -> (i32, serde_json::Value) {
    let out = kyso()
        .args([
            "pdf",
            "verify",
            &file.display().to_string(),
            "--trust",
            &p.pem("root"),
        ])
        .args(["--offline", "--json"])
        .output()
        .expect("kyso");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}
