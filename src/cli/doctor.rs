//! `kyso doctor`: modules, tokens, PIN states, certificates and their expiry.

use std::process::ExitCode;

use kyso::app::App;
use kyso::token::TokenProvider;
use kyso::ui::report;

use super::print_json;

pub fn doctor(app: &App, json: bool) -> Result<ExitCode, String> {
    let modules = app.tokens.modules();
    let status = app.signing.status();
    if json {
        let modules: Vec<serde_json::Value> = modules
            .iter()
            .map(|m| serde_json::json!({"path": m.path, "source": m.source, "library": m.library, "error": m.error}))
            .collect();
        print_json(&serde_json::json!({
            "agentVersion": status.agent_version,
            "configFile": app.config.user_file,
            "policyFile": app.config.policy_file,
            "policyPresent": app.config.policy_present,
            "modules": modules,
            "tokens": status.tokens,
            "certificates": status.certificates,
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
            },
        )
    );
    Ok(ExitCode::SUCCESS)
}
