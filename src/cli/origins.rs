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
                println!("{origin}	chính sách / policy");
            }
            for origin in app.policy.approved_origins() {
                println!("{origin}	người dùng cho phép / approved by the user");
            }
            if !app.config.user_approvals {
                println!(
                    "(người dùng không được tự cho phép / user approvals are turned off by policy)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        OriginsAction::Revoke { origin } => {
            let parsed =
                kyso::signing::Origin::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
            if app.policy.revoke(&parsed)? {
                println!("Đã thu hồi / revoked: {parsed}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{parsed} không có trong danh sách người dùng cho phép / was not approved by the user");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
