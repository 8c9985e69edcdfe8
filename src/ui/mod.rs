//! The user's side of the [`crate::signing::Prompt`] port. Strings are Vietnamese first,
//! English second. The native dialogs and the tray come in their own module; here are the
//! terminal prompt (`kyso sign` at a console) and the scripted prompt for tests.

#[cfg(feature = "desktop")]
pub mod dialog;
pub mod report;
pub mod scripted;
pub mod terminal;
pub mod tray;

use crate::api::{Lang, Purpose};
use crate::i18n::{both, message};
use crate::signing::PinPrompt;

/// The lines a prompt shows before asking for a PIN, in both languages, retries and the
/// certificate status included. For prompts that cannot update what they showed (the
/// terminal, the scripted prompt), so it waits for the status check to end.
pub fn describe_pin_prompt(request: &PinPrompt) -> Vec<String> {
    let mut lines = describe_request(request);
    lines.extend(
        request
            .status
            .as_ref()
            .map(|status| status.outcome().prompt_line()),
    );
    lines.extend(retries_line(request));
    lines
}

/// The retries left, when the token has seen a wrong PIN: a warning on the final try.
pub fn retries_line(request: &PinPrompt) -> Option<String> {
    match (request.retries_left, request.pin_state) {
        (Some(1), _) | (_, crate::token::PinState::FinalTry) => Some(both("prompt-final-try", &[])),
        (Some(n), state) if state != crate::token::PinState::Ok => {
            Some(both("dialog-tries-left", &[("n", n.into())]))
        }
        _ => None,
    }
}

/// Who asks, what is signed, with which certificate and token.
pub fn describe_request(request: &PinPrompt) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match &request.origin {
        Some(origin) => both("prompt-requested-by", &[("origin", origin.as_str().into())]),
        None => both("prompt-requested-by-cli", &[]),
    });
    for (i, doc) in request.documents.iter().enumerate() {
        let number = doc
            .number
            .as_deref()
            .map(|n| {
                let number = message(Lang::Vi, "dialog-document-number", &[("number", n.into())]);
                format!(" — {number}")
            })
            .unwrap_or_default();
        lines.push(format!(
            "{}. {} / {}: {}{}",
            i + 1,
            doc.purpose.label(Lang::Vi),
            doc.purpose.label(Lang::En),
            doc.title,
            number
        ));
    }
    let signer = &request.signer;
    let kind = report::kind_label(signer.kind);
    let organization = signer
        .organization
        .as_deref()
        .map(|o| format!(", {o}"))
        .unwrap_or_default();
    lines.push(format!(
        "{}: {} ({kind}){organization}",
        both("label-certificate", &[]),
        signer.holder
    ));
    lines.push(both(
        "prompt-issued-by",
        &[
            ("issuer", signer.issuer.as_str().into()),
            ("until", signer.valid_until.as_str().into()),
        ],
    ));
    lines.push(format!(
        "{}: {}",
        both("prompt-token", &[]),
        request.token_label
    ));
    if let Some(n) = request.per_signature {
        lines.push(both("prompt-per-signature", &[("n", (n + 1).into())]));
    }
    lines
}

/// The purpose label pair, used by prompts that show one line per document.
pub fn purpose_label(purpose: Purpose) -> String {
    format!("{} / {}", purpose.label(Lang::Vi), purpose.label(Lang::En))
}
