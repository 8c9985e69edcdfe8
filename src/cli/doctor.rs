//! `kyso doctor`: modules, tokens, PIN states, certificates and their expiry.

use std::process::ExitCode;

use kyso::app::App;
use kyso::signing::Checked;
use kyso::token::TokenProvider;
use kyso::ui::report;

use super::print_json;

/// Runs `kyso doctor`: what the agent sees, and the revocation status of every valid signing
/// certificate on a present token as the check before signing finds it now.
pub fn doctor(app: &App, json: bool) -> Result<ExitCode, String> {
    let modules = app.tokens.modules();
    let status = app.signing.status();
    let policy = app.signing.revocation_policy();
    let checks: Vec<(&kyso::api::CertificateDto, Option<Checked>)> = status
        .certificates
        .iter()
        .filter(|c| c.token.present && c.validity == kyso::certificate::Validity::Valid)
        .map(|c| (c, app.signing.revocation_status(&c.id)))
        .collect();
    let state = |checked: &Option<Checked>| match checked {
        None => ("notChecked", String::new()),
        Some(Checked::Good(_)) => ("good", String::new()),
        Some(Checked::Unknown(detail, _)) => ("unknown", detail.clone()),
        Some(Checked::Revoked(detail)) => ("revoked", detail.clone()),
    };
    // Whether each installed browser lets the DMS origins through without asking.
    let browsers = super::browsers::status_lines(
        std::path::Path::new("/"),
        &super::browsers::origins(&app.config),
    );
    if json {
        let modules: Vec<serde_json::Value> = modules
            .iter()
            .map(|m| serde_json::json!({"path": m.path, "source": m.source, "library": m.library, "error": m.error, "waitingForDevice": m.waiting_for_device}))
            .collect();
        print_json(&serde_json::json!({
            "agentVersion": status.agent_version,
            "configFile": app.config.user_file,
            "policyFile": app.config.policy_file,
            "policyPresent": app.config.policy_present,
            "modules": modules,
            "tokens": status.tokens,
            "certificates": status.certificates,
            "revocationCheck": format!("{policy:?}").to_lowercase(),
            "revocation": checks.iter().map(|(c, checked)| {
                let (state, detail) = state(checked);
                serde_json::json!({"certificateId": c.id, "holder": c.holder, "status": state, "detail": detail})
            }).collect::<Vec<_>>(),
            "browsers": browsers,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        report::diagnostics(
            &status,
            &modules,
            &report::Sources {
                user_file: (&app.config.user_file, app.config.user_file.exists()),
                policy_file: (&app.config.policy_file, app.config.policy_present),
                trust_anchors: &app.config.trust_anchors,
                port: kyso::config::running_port(&app.config),
            },
        )
    );
    println!(
        "{}: {}",
        kyso::i18n::both("cli-revocation-policy", &[]),
        format!("{policy:?}").to_lowercase()
    );
    for (certificate, checked) in &checks {
        let line = match checked {
            None => kyso::i18n::both("cli-not-checked", &[]),
            Some(Checked::Revoked(detail)) => {
                format!("{} — {detail}", kyso::i18n::both("cli-revoked-upper", &[]))
            }
            Some(unknown @ Checked::Unknown(detail, _)) => {
                format!("{} — {detail}", unknown.prompt_line())
            }
            Some(good) => good.prompt_line(),
        };
        println!("  {}: {line}", certificate.holder);
    }
    if !browsers.is_empty() {
        println!("Local Network Access (browsers):");
        for line in &browsers {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
