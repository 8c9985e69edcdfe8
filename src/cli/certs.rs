//! `kyso certs`: the tokens and the signing certificates on them.

use std::process::ExitCode;

use kyso::api;
use kyso::app::App;
use kyso::certificate::Kind;
use kyso::ui::report;

use super::print_json;

pub fn certs(app: &App, json: bool, kind: Option<Kind>) -> Result<ExitCode, String> {
    let mut status = app.signing.status();
    if let Some(kind) = kind {
        status.certificates.retain(|c| c.kind == kind);
    }
    if json {
        print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    if status.tokens.is_empty() {
        println!("{}", kyso::i18n::both("cli-no-token", &[]));
    }
    for token in &status.tokens {
        println!(
            "Token \"{}\" — {} {} — serial {} — {} — PIN: {:?}{}",
            token.label,
            token.manufacturer,
            token.model,
            token.serial,
            kyso::i18n::both(
                if token.present {
                    "tray-token-present"
                } else {
                    "tray-token-removed"
                },
                &[]
            ),
            token.pin_state,
            token
                .retries_left
                .map(|n| format!(
                    " ({})",
                    kyso::i18n::both("dialog-tries-left", &[("n", n.into())])
                ))
                .unwrap_or_default()
        );
        for cert in status
            .certificates
            .iter()
            .filter(|c| c.token.serial == token.serial)
        {
            print_certificate(cert);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_certificate(cert: &api::CertificateDto) {
    for line in report::certificate_lines(cert) {
        println!("{line}");
    }
}
