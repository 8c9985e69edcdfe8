//! `kyso browsers`: the browsers' managed policies that let the DMS origins reach the agent
//! without the Local Network Access prompt ([`kyso::platform::browsers`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kyso::config::Config;
use kyso::platform::browsers;

/// What to do with the browser policies.
#[derive(clap::Subcommand)]
pub enum BrowsersAction {
    /// Write them for the allowed origins (the policy's `allowed_origins` and attested
    /// origins); with none, remove them. Needs root (the installers run it).
    Install,
    /// Remove them (the installers run it on removal).
    Uninstall,
    /// Which installed browser has them, for which origins.
    Status,
}

/// The origins the browsers should let through: the agency's (allowed and attested).
pub fn origins(config: &Config) -> Vec<String> {
    let mut origins: Vec<String> = config
        .allowed_origins
        .iter()
        .cloned()
        .chain(config.attested_origins.iter().map(|(o, _)| o.clone()))
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

/// Where the policies live: `/`, or `KYSO_BROWSER_POLICY_ROOT` (tests, image builders).
fn root() -> PathBuf {
    std::env::var_os("KYSO_BROWSER_POLICY_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn report(results: Vec<(PathBuf, Result<&'static str, String>)>) -> ExitCode {
    let mut failed = false;
    for (file, result) in results {
        match result {
            Ok(what) => println!("{what}: {}", file.display()),
            Err(e) => {
                eprintln!("kyso: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Windows: the machine policies in the registry, through `reg.exe`. (Compiled everywhere so
/// that it is type-checked here; run on Windows only.)
fn registry(origins: &[String]) -> ExitCode {
    let mut failed = false;
    for args in browsers::registry_commands(origins) {
        let ok = std::process::Command::new("reg")
            .args(&args)
            .output()
            .is_ok_and(|o| o.status.success());
        // Deleting a key that is not there fails harmlessly.
        if !ok && args.first().map(String::as_str) == Some("add") {
            eprintln!("kyso: reg {}", args.join(" "));
            failed = true;
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `plutil ARGS`; its error output when it fails.
fn plutil(args: &[String]) -> Result<Vec<u8>, String> {
    let output = std::process::Command::new("/usr/bin/plutil")
        .args(args)
        .output()
        .map_err(|e| format!("plutil: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "plutil {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// macOS: our keys in each installed browser's `/Library/Managed Preferences` plist, edited
/// with `plutil` (with no origins: removed). Run on macOS only.
fn managed_preferences(
    root: &Path,
    origins: &[String],
) -> Vec<(PathBuf, Result<&'static str, String>)> {
    browsers::plist_targets(root)
        .into_iter()
        .filter(|t| {
            if origins.is_empty() {
                t.file.exists()
            } else {
                t.app.exists()
            }
        })
        .map(|target| {
            let result = (|| {
                if !target.file.exists() {
                    if let Some(dir) = target.file.parent() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("{}: {e}", dir.display()))?;
                    }
                    std::fs::write(&target.file, browsers::EMPTY_PLIST)
                        .map_err(|e| format!("{}: {e}", target.file.display()))?;
                }
                for args in browsers::plist_commands(&target, origins) {
                    // Removing a key that is not there fails harmlessly.
                    if let Err(e) = plutil(&args) {
                        if args.first().map(String::as_str) != Some("-remove") {
                            return Err(e);
                        }
                    }
                }
                Ok(if origins.is_empty() {
                    "removed"
                } else {
                    "written"
                })
            })();
            (target.file, result)
        })
        .collect()
}

/// macOS: one line per installed browser, from its plist read as JSON.
fn managed_preferences_status(root: &Path, origins: &[String]) -> Vec<String> {
    browsers::plist_targets(root)
        .iter()
        .filter(|t| t.app.exists())
        .map(|target| {
            let file = target.file.display().to_string();
            let document = target
                .file
                .exists()
                .then(|| {
                    plutil(&[
                        "-convert".into(),
                        "json".into(),
                        "-o".into(),
                        "-".into(),
                        file,
                    ])
                })
                .and_then(Result::ok)
                .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
            let state = browsers::plist_state(document.as_ref(), target.firefox, origins);
            status_line(target.browser, origins, &state, target.file.display())
        })
        .collect()
}

/// Runs `kyso browsers ACTION`: the registry on Windows, the managed-preferences plists on
/// macOS, the policy files elsewhere. (Every branch is compiled on every system, so the
/// Windows and macOS ones are type-checked here too.)
pub fn run(config: &Config, action: &BrowsersAction) -> ExitCode {
    let root = root();
    let origins = origins(config);
    match action {
        BrowsersAction::Install if cfg!(windows) => registry(&origins),
        BrowsersAction::Uninstall if cfg!(windows) => registry(&[]),
        BrowsersAction::Install if cfg!(target_os = "macos") => {
            report(managed_preferences(&root, &origins))
        }
        BrowsersAction::Uninstall if cfg!(target_os = "macos") => {
            report(managed_preferences(&root, &[]))
        }
        BrowsersAction::Install => report(browsers::install(&root, &origins)),
        BrowsersAction::Uninstall => report(browsers::uninstall(&root)),
        BrowsersAction::Status => {
            for line in status_lines(&root, &origins) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
    }
}

/// Windows: one line per installed browser, from its machine policy keys (`reg query`).
fn registry_status(origins: &[String]) -> Vec<String> {
    let query = |key: &str| {
        std::process::Command::new("reg")
            .args(["query", key])
            .output()
            .map(|out| browsers::registry_values(&String::from_utf8_lossy(&out.stdout)))
            .unwrap_or_default()
    };
    browsers::WINDOWS_BROWSERS
        .iter()
        .filter(|(_, program, _)| Path::new(program).exists())
        .map(|(browser, _, key)| {
            let document = browsers::registry_document(*key, query);
            let state = browsers::plist_state(Some(&document), key.is_none(), origins);
            status_line(
                browser,
                origins,
                &state,
                key.unwrap_or(browsers::FIREFOX_REGISTRY_KEY),
            )
        })
        .collect()
}

/// One line per installed browser: whether its policy lets `origins` through.
pub fn status_lines(root: &Path, origins: &[String]) -> Vec<String> {
    if cfg!(windows) {
        return registry_status(origins);
    }
    if cfg!(target_os = "macos") {
        return managed_preferences_status(root, origins);
    }
    browsers::targets(root)
        .iter()
        .filter(|t| t.installed(root))
        .map(|target| {
            let state = browsers::state(target, origins);
            status_line(target.browser, origins, &state, target.file.display())
        })
        .collect()
}

/// One browser's status line: its name, what its policy says, where the policy lives.
fn status_line(
    browser: &str,
    origins: &[String],
    state: &browsers::State,
    place: impl std::fmt::Display,
) -> String {
    format!("{browser}: {} ({place})", state_text(origins, state))
}

fn state_text(origins: &[String], state: &browsers::State) -> &'static str {
    match (origins.is_empty(), state) {
        (true, _) => "no allowed origins to pre-allow",
        (false, browsers::State::Covers) => "pre-allows the DMS origins",
        (false, browsers::State::Stale) => {
            "policy lacks some DMS origins: run `kyso browsers install`"
        }
        (false, browsers::State::Missing) => {
            "no policy: users will be asked to allow local network access (`kyso browsers install`)"
        }
    }
}
