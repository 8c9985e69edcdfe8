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
        println!("Không tìm thấy thiết bị ký số / No token found (kyso doctor tells why)");
    }
    for token in &status.tokens {
        println!(
            "Token \"{}\" — {} {} — serial {} — {} — PIN: {:?}{}",
            token.label,
            token.manufacturer,
            token.model,
            token.serial,
            if token.present {
                "đã cắm / present"
            } else {
                "đã rút / removed"
            },
            token.pin_state,
            token
                .retries_left
                .map(|n| format!(" ({n} lần thử / tries)"))
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
