//! `kyso trust`: the agent's local CA in the browsers' trust stores, the machine's roots.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use kyso::app;
use kyso::certificate;
use kyso::config::Config;

#[derive(Subcommand)]
pub enum TrustAction {
    /// Create the local CA if needed and trust it (NSS databases of Chrome/Chromium and Firefox).
    Install {
        /// Also the machine-wide store (needs root; every user of the machine then trusts it).
        #[arg(long)]
        system: bool,
    },
    /// Where the local CA is trusted.
    Status,
    /// Remove the local CA from every store.
    Uninstall,
    /// Print the local CA certificate (PEM).
    ExportCa,
    /// Add root certificates (files, or folders of .pem/.crt/.cer/.der) to the machine's trust
    /// store for every user — what the installers run as root/SYSTEM with the agency's roots.
    Anchors {
        /// Certificate files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// One line per trust store: trusted or not, and why not.
pub fn print_store_reports(
    reports: Vec<kyso::platform::trust::StoreReport>,
) -> Vec<kyso::platform::trust::StoreReport> {
    for r in &reports {
        println!(
            "{} {}{}",
            kyso::i18n::both(
                if r.trusted {
                    "cli-trusted"
                } else {
                    "cli-not-trusted"
                },
                &[]
            ),
            r.store,
            r.error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
    }
    reports
}

pub fn trust(config: &Config, action: &TrustAction) -> Result<ExitCode, String> {
    use kyso::platform::trust as store;
    // Machine-wide roots: no local CA is made (this runs as root or SYSTEM in installers).
    if let TrustAction::Anchors { paths } = action {
        let anchors = certificate::read_certificate_files(paths)?;
        let reports = print_store_reports(store::install_anchors(&anchors));
        return Ok(if reports.iter().all(|r| r.trusted) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let identity = kyso::tls::ensure(&config.data_dir).map_err(|e| e.to_string())?;
    let print = print_store_reports;
    match action {
        TrustAction::Install { system } => {
            let reports = print(app::install_trust(
                &config.data_dir,
                &identity,
                store::Scope { system: *system },
            ));
            if reports.iter().any(|r| r.trusted) {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{}", kyso::i18n::both("cli-ca-not-installed", &[]));
                Ok(ExitCode::FAILURE)
            }
        }
        TrustAction::Status => {
            println!(
                "{} ({})",
                identity.ca_nickname(),
                kyso::i18n::both(
                    "cli-leaf-days-left",
                    &[("days", identity.leaf_days_left().into())]
                )
            );
            print(store::status(&identity.ca_nickname()));
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::Uninstall => {
            print(store::uninstall(&identity.ca_nickname()));
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::ExportCa => {
            print!("{}", identity.ca_pem());
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::Anchors { .. } => Ok(ExitCode::SUCCESS),
    }
}
