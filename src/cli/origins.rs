//! `kyso origins`: the sites allowed by the policy and by the user.

use std::process::ExitCode;

use clap::Subcommand;
use kyso::app::App;

#[derive(Subcommand)]
pub enum OriginsAction {
    /// Origins from the policy and those the user approved.
    List,
    /// Forget a user approval.
    Revoke {
        /// The origin, e.g. https://dms.example.gov.vn
        origin: String,
    },
}

pub fn origins(app: &App, action: OriginsAction) -> Result<ExitCode, String> {
    match action {
        OriginsAction::List => {
            for origin in app.policy.admin_origins() {
                println!("{origin}\t{}", kyso::i18n::both("doctor-policy", &[]));
            }
            for origin in app.policy.approved_origins() {
                println!("{origin}\t{}", kyso::i18n::both("cli-origin-approved", &[]));
            }
            if !app.config.user_approvals {
                println!("({})", kyso::i18n::both("cli-user-approvals-off", &[]));
            }
            Ok(ExitCode::SUCCESS)
        }
        OriginsAction::Revoke { origin } => {
            let parsed =
                kyso::signing::Origin::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
            if app.policy.revoke(&parsed)? {
                println!("{}: {parsed}", kyso::i18n::both("cli-revoked", &[]));
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{parsed}: {}", kyso::i18n::both("cli-not-approved", &[]));
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
