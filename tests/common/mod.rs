//! Shared fixtures for the integration tests: a real SoftHSM2 PKI built by
//! `tests/fixtures/make-token.sh`, the `kyso` binary, the fault-injecting module, and OpenSSL as
//! the independent verifier.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const LEADER_PIN: &str = "123456";
pub const CLERK_PIN: &str = "654321";

/// The PKI and tokens of one test binary, built once.
pub struct Fixture {
    pub dir: PathBuf,
    pub softhsm_conf: PathBuf,
    pub pki: PathBuf,
}

impl Fixture {
    pub fn pem(&self, name: &str) -> PathBuf {
        self.pki.join(format!("{name}.pem"))
    }
    pub fn root(&self) -> PathBuf {
        self.pem("root")
    }
    /// Certificate id (hex SHA-256 of the DER) of a fixture certificate.
    pub fn id(&self, name: &str) -> String {
        let der = std::fs::read(self.pki.join(format!("{name}.der"))).expect("der");
        kyso::certificate::id_of(&der)
    }
}

pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Builds the fixture under `target/kyso-tests/<name>` (fresh each run), once per name and
/// test binary: two names are two PKIs and two token sets.
pub fn fixture(name: &str) -> &'static Fixture {
    static FIXTURES: std::sync::Mutex<Vec<(String, &'static Fixture)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = FIXTURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, fixture)) = built.iter().find(|(n, _)| n == name) {
        return fixture;
    }
    let dir = target_dir().join("kyso-tests").join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-token.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .output()
        .expect("run make-token.sh");
    assert!(
        out.status.success(),
        "make-token.sh failed (are softhsm2, opensc and openssl installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fixture: &'static Fixture = Box::leak(Box::new(Fixture {
        softhsm_conf: dir.join("softhsm2.conf"),
        pki: dir.join("pki"),
        dir,
    }));
    built.push((name.to_string(), fixture));
    fixture
}

/// The test-only fault-injecting PKCS#11 module (built by `cargo build -p kyso-fault-token`).
pub fn fault_module() -> PathBuf {
    let path = target_dir().join("libkyso_fault_token.so");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p kyso-fault-token` first (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// Writes a user config that loads exactly `modules` (no discovery).
pub fn write_config(dir: &Path, name: &str, modules: &[&Path], extra: &str) -> PathBuf {
    let list: Vec<String> = modules
        .iter()
        .map(|m| format!("{:?}", m.display().to_string()))
        .collect();
    write_whole(
        &dir.join(name),
        format!(
            "pkcs11_modules = [{}]\ndiscover_modules = false\n{extra}",
            list.join(", ")
        )
        .as_bytes(),
    )
}

/// Writes `path` whole, by renaming a finished file over it: tests running side by side call
/// the same setup, and a plain write (truncate, then write) let another test's `kyso` read an
/// empty config or PIN script: `tests/cli.rs` failed about one run in eight (USER_CANCELLED,
/// CERTIFICATE_NOT_FOUND; an empty config also turns module discovery on).
pub fn write_whole(path: &Path, bytes: &[u8]) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.{n}.partial", std::process::id()));
    std::fs::write(&partial, bytes).expect("write a test file");
    std::fs::rename(&partial, path).expect("move a test file into place");
    path.to_path_buf()
}

/// Writes a scripted-prompter file.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    write_whole(&dir.join(name), body.as_bytes())
}

/// A `kyso` command with the fixture's SoftHSM configuration and no system policy.
/// SoftHSM2 keeps a token in files: a login in one process rewrites them while another process
/// reads them, and the reader then finds no certificate or key for a moment, or its own login
/// fails (`CKR_GENERAL_ERROR`). A real token has one reader, the agent; so the `kyso` processes
/// of a test binary that use a token take turns: hold this while one runs.
pub fn token_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a command that uses the token, in its turn ([`token_turn`]).
pub fn output_in_turn(command: &mut Command) -> Output {
    let _turn = token_turn();
    command.output().expect("run kyso")
}

pub fn kyso(fx: &Fixture) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kyso"));
    cmd.env("SOFTHSM2_CONF", &fx.softhsm_conf)
        .env("KYSO_POLICY_FILE", fx.dir.join("no-policy.toml"))
        .env_remove("KYSO_LOG")
        .arg("--data-dir")
        .arg(fx.dir.join("data"));
    cmd
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `openssl cms -verify` of a detached CMS over `content`, trusting the fixture root.
pub fn openssl_verify(fx: &Fixture, cms: &Path, content: &Path) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(cms)
        .arg("-content")
        .arg(content)
        .arg("-CAfile")
        .arg(fx.root())
        .args(["-out", "/dev/null"])
        .output()
        .expect("run openssl");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && stderr.contains("Verification successful") {
        Ok(())
    } else {
        Err(stderr)
    }
}

/// `openssl cms -cmsout -print` of a DER CMS.
pub fn openssl_print(cms: &Path) -> String {
    let out = Command::new("openssl")
        .args(["cms", "-cmsout", "-print", "-inform", "DER", "-in"])
        .arg(cms)
        .output()
        .expect("run openssl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Random content and its digest, base64.
pub fn document(dir: &Path, name: &str, alg: &str) -> (PathBuf, String) {
    use base64::Engine as _;
    let path = dir.join(name);
    let mut bytes = Vec::new();
    for i in 0..4096u32 {
        bytes.extend_from_slice(&(i.wrapping_mul(2_654_435_761) ^ name.len() as u32).to_le_bytes());
    }
    bytes.extend_from_slice(name.as_bytes());
    std::fs::write(&path, &bytes).expect("write document");
    let alg = kyso::digest::DigestAlgorithm::parse(alg).expect("alg");
    (
        path,
        base64::engine::general_purpose::STANDARD.encode(alg.digest(&bytes)),
    )
}
pub mod agent;
