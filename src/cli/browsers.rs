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

/// Windows: the machine policies in the registry, through `reg.exe`.
#[cfg(windows)]
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

/// Runs `kyso browsers ACTION`.
pub fn run(config: &Config, action: &BrowsersAction) -> ExitCode {
    #[cfg(windows)]
    match action {
        BrowsersAction::Install => return registry(&origins(config)),
        BrowsersAction::Uninstall => return registry(&[]),
        BrowsersAction::Status => {}
    }
    let root = root();
    match action {
        BrowsersAction::Install => report(browsers::install(&root, &origins(config))),
        BrowsersAction::Uninstall => report(browsers::uninstall(&root)),
        BrowsersAction::Status => {
            for line in status_lines(&root, &origins(config)) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
    }
}

/// One line per installed browser: whether its policy lets `origins` through.
pub fn status_lines(root: &Path, origins: &[String]) -> Vec<String> {
    browsers::targets(root)
        .iter()
        .filter(|t| t.installed(root))
        .map(|target| {
            let state = match (origins.is_empty(), browsers::state(target, origins)) {
                (true, _) => "no allowed origins to pre-allow".to_string(),
                (false, browsers::State::Covers) => "pre-allows the DMS origins".to_string(),
                (false, browsers::State::Stale) => {
                    "policy lacks some DMS origins: run `kyso browsers install`".to_string()
                }
                (false, browsers::State::Missing) => {
                    "no policy: users will be asked to allow local network access (`kyso browsers install`)"
                        .to_string()
                }
            };
            format!("{}: {state} ({})", target.browser, target.file.display())
        })
        .collect()
}
