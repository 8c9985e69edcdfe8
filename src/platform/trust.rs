//! Putting the agent's local CA into the trust stores browsers use, and taking it out.
//!
//! - Linux: the NSS databases (`~/.pki/nssdb` for Chrome/Chromium, each Firefox profile) through
//!   `certutil` (package `libnss3-tools`); the system store (`/usr/local/share/ca-certificates`,
//!   `update-ca-certificates`) only when asked with `--system` and run as root, because a CA in
//!   the system store is trusted by every user of the machine, and another user's agent on the
//!   same port must not be trusted by this user's browser.
//! - Windows: the current user's Root store (`certutil -user -addstore Root`).
//! - macOS: the login keychain (`security add-trusted-cert -r trustRoot`).
//!
//! The Windows and macOS paths are compiled only there and cannot run on the Linux CI machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One store and what happened to it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoreReport {
    /// Human name (`nss:/home/u/.pki/nssdb`, `system`, `windows-user-root`…).
    pub store: String,
    /// Whether the CA is in it after the operation.
    pub trusted: bool,
    /// A problem, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Which stores to touch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope {
    /// Also the machine-wide store (root only).
    pub system: bool,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The NSS databases of this user: Chrome/Chromium's (created if missing) and Firefox profiles.
pub fn nss_databases() -> Vec<PathBuf> {
    let Some(home) = home() else {
        return Vec::new();
    };
    let mut dbs = vec![home.join(".pki/nssdb")];
    for base in [
        home.join(".mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
        home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
    ] {
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                if entry.path().join("cert9.db").exists() {
                    dbs.push(entry.path());
                }
            }
        }
    }
    dbs
}

fn run(cmd: &mut Command) -> Result<String, String> {
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Err(format!("{}: {e}", cmd.get_program().to_string_lossy())),
    }
}

fn nss_has(db: &Path, nickname: &str) -> bool {
    run(Command::new("certutil")
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .args(["-L", "-n", nickname]))
    .is_ok()
}

fn nss_install(db: &Path, nickname: &str, ca_pem: &Path) -> Result<(), String> {
    if !db.join("cert9.db").exists() {
        std::fs::create_dir_all(db).map_err(|e| e.to_string())?;
        run(Command::new("certutil")
            .arg("-d")
            .arg(format!("sql:{}", db.display()))
            .args(["-N", "--empty-password"]))?;
    }
    run(Command::new("certutil")
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .args(["-A", "-t", "C,,", "-n", nickname, "-i"])
        .arg(ca_pem))
    .map(|_| ())
}

fn nss_remove(db: &Path, nickname: &str) -> Result<(), String> {
    while nss_has(db, nickname) {
        run(Command::new("certutil")
            .arg("-d")
            .arg(format!("sql:{}", db.display()))
            .args(["-D", "-n", nickname]))?;
    }
    Ok(())
}

const SYSTEM_DIR: &str = "/usr/local/share/ca-certificates";

fn system_file(nickname: &str) -> PathBuf {
    PathBuf::from(SYSTEM_DIR).join(format!("{}.crt", nickname.replace(' ', "-").to_lowercase()))
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// Installs the CA (PEM file, nickname) into every store of this user (and the system store
/// when `scope.system`).
pub fn install(ca_pem: &Path, nickname: &str, scope: Scope) -> Vec<StoreReport> {
    let mut reports = Vec::new();
    if cfg!(target_os = "linux") {
        for db in nss_databases() {
            let result = nss_install(&db, nickname, ca_pem);
            reports.push(StoreReport {
                store: format!("nss:{}", db.display()),
                trusted: nss_has(&db, nickname),
                error: result.err(),
            });
        }
        if scope.system {
            let result = if is_root() {
                std::fs::copy(ca_pem, system_file(nickname))
                    .map_err(|e| e.to_string())
                    .and_then(|_| run(&mut Command::new("update-ca-certificates")).map(|_| ()))
            } else {
                Err("the system store needs root (sudo kyso trust install --system)".into())
            };
            reports.push(StoreReport {
                store: "system".into(),
                trusted: system_file(nickname).exists(),
                error: result.err(),
            });
        }
    }
    #[cfg(target_os = "windows")]
    {
        let result = run(Command::new("certutil")
            .args(["-user", "-f", "-addstore", "Root"])
            .arg(ca_pem));
        reports.push(StoreReport {
            store: "windows-user-root".into(),
            trusted: result.is_ok(),
            error: result.err(),
        });
    }
    #[cfg(target_os = "macos")]
    {
        let keychain = home()
            .map(|h| h.join("Library/Keychains/login.keychain-db"))
            .unwrap_or_default();
        let result = run(Command::new("security")
            .args(["add-trusted-cert", "-r", "trustRoot", "-k"])
            .arg(&keychain)
            .arg(ca_pem));
        reports.push(StoreReport {
            store: "macos-login-keychain".into(),
            trusted: result.is_ok(),
            error: result.err(),
        });
    }
    reports
}

/// Where the machine-wide copies of the agency's roots go on Linux (removed with the package).
pub const ANCHOR_DIR: &str = "/usr/local/share/ca-certificates/kyso";

/// Adds root certificates (the agency's CA roots, DER) to the machine's trust store, for every
/// user and program — what the installers run as root/SYSTEM (letter 000 asks IT to install the
/// CA root on every workstation). Linux: `ANCHOR_DIR` + `update-ca-certificates`; Windows: the
/// machine Root store (`certutil -addstore`); macOS: the System keychain.
pub fn install_anchors(certificates: &[Vec<u8>]) -> Vec<StoreReport> {
    use base64::Engine as _;
    let mut reports = Vec::new();
    let scratch = std::env::temp_dir().join(format!("kyso-anchors-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        return vec![StoreReport {
            store: "system".into(),
            trusted: false,
            error: Some(e.to_string()),
        }];
    }
    for (i, der) in certificates.iter().enumerate() {
        let name = crate::certificate::CertificateInfo::from_der(der)
            .ok()
            .and_then(|c| c.common_name)
            .unwrap_or_else(|| format!("root-{i}"));
        let file_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let file_name = format!("{file_name}-{}", &crate::certificate::id_of(der)[..8]);
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        let result = if cfg!(target_os = "linux") {
            std::fs::create_dir_all(ANCHOR_DIR)
                .and_then(|_| {
                    std::fs::write(Path::new(ANCHOR_DIR).join(format!("{file_name}.crt")), &pem)
                })
                .map_err(|e| e.to_string())
        } else {
            let file = scratch.join(format!("{file_name}.cer"));
            std::fs::write(&file, der)
                .map_err(|e| e.to_string())
                .and_then(|_| add_to_machine_store(&file))
        };
        reports.push(StoreReport {
            store: format!("system:{name}"),
            trusted: result.is_ok(),
            error: result.err(),
        });
    }
    if cfg!(target_os = "linux") && !certificates.is_empty() {
        if let Err(e) = run(&mut Command::new("update-ca-certificates")) {
            reports.push(StoreReport {
                store: "update-ca-certificates".into(),
                trusted: false,
                error: Some(e),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    reports
}

#[cfg(target_os = "windows")]
fn add_to_machine_store(file: &Path) -> Result<(), String> {
    run(Command::new("certutil")
        .args(["-f", "-addstore", "Root"])
        .arg(file))
    .map(|_| ())
}

#[cfg(target_os = "macos")]
fn add_to_machine_store(file: &Path) -> Result<(), String> {
    run(Command::new("security")
        .args([
            "add-trusted-cert",
            "-d",
            "-r",
            "trustRoot",
            "-k",
            "/Library/Keychains/System.keychain",
        ])
        .arg(file))
    .map(|_| ())
}

#[cfg(not(any(target_os = "windows", target_os = "macos")))]
fn add_to_machine_store(_file: &Path) -> Result<(), String> {
    Err("no machine store on this system".into())
}

/// Where the CA is trusted now.
pub fn status(nickname: &str) -> Vec<StoreReport> {
    let mut reports = Vec::new();
    if cfg!(target_os = "linux") {
        for db in nss_databases() {
            reports.push(StoreReport {
                store: format!("nss:{}", db.display()),
                trusted: db.join("cert9.db").exists() && nss_has(&db, nickname),
                error: None,
            });
        }
        reports.push(StoreReport {
            store: "system".into(),
            trusted: system_file(nickname).exists(),
            error: None,
        });
    }
    #[cfg(target_os = "windows")]
    {
        let found =
            run(Command::new("certutil").args(["-user", "-store", "Root", nickname])).is_ok();
        reports.push(StoreReport {
            store: "windows-user-root".into(),
            trusted: found,
            error: None,
        });
    }
    #[cfg(target_os = "macos")]
    {
        let found =
            run(Command::new("security").args(["find-certificate", "-c", nickname])).is_ok();
        reports.push(StoreReport {
            store: "macos-login-keychain".into(),
            trusted: found,
            error: None,
        });
    }
    reports
}

/// Removes the CA (by nickname) from every store it is in.
pub fn uninstall(nickname: &str) -> Vec<StoreReport> {
    let mut reports = Vec::new();
    if cfg!(target_os = "linux") {
        for db in nss_databases() {
            if !db.join("cert9.db").exists() {
                continue;
            }
            let result = nss_remove(&db, nickname);
            reports.push(StoreReport {
                store: format!("nss:{}", db.display()),
                trusted: nss_has(&db, nickname),
                error: result.err(),
            });
        }
        let file = system_file(nickname);
        if file.exists() {
            let result = std::fs::remove_file(&file)
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    run(Command::new("update-ca-certificates").arg("--fresh")).map(|_| ())
                });
            reports.push(StoreReport {
                store: "system".into(),
                trusted: file.exists(),
                error: result.err(),
            });
        }
    }
    #[cfg(target_os = "windows")]
    {
        let result = run(Command::new("certutil").args(["-user", "-delstore", "Root", nickname]));
        reports.push(StoreReport {
            store: "windows-user-root".into(),
            trusted: false,
            error: result.err(),
        });
    }
    #[cfg(target_os = "macos")]
    {
        let result = run(Command::new("security").args(["delete-certificate", "-c", nickname]));
        reports.push(StoreReport {
            store: "macos-login-keychain".into(),
            trusted: false,
            error: result.err(),
        });
    }
    reports
}
