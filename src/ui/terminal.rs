//! A prompt on the controlling terminal, for `kyso sign` run by a person at a console. It shows
//! the same facts as the GUI dialog and reads the PIN without echo from the TTY (never from
//! standard input, so a pipe cannot feed it).

use crate::i18n::{message, text, user_lang};
use std::io::{BufRead, Write};

use secrecy::SecretString;

use crate::signing::{BatchPrompt, OriginDecision, PinPrompt, Prompt};
use crate::token::{PinEntry, PinRefusal};

/// Asks on the terminal.
pub struct TerminalPrompt;

fn show(lines: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(err, "  {line}");
    }
}

fn ask_line(question: &str) -> Option<String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let tty = std::fs::File::open(if cfg!(windows) { "CONIN$" } else { "/dev/tty" }).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(tty).read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

impl Prompt for TerminalPrompt {
    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        let lang = user_lang();
        eprintln!("Kyso — {}", text(lang, "dialog-sign-heading"));
        show(&super::describe_pin_prompt(request));
        if request.protected_auth_path {
            eprintln!("{}", text(lang, "dialog-pinpad"));
            return Ok(PinEntry::PinPad);
        }
        match rpassword::prompt_password(format!("{}: ", text(lang, "prompt-terminal-pin"))) {
            Ok(pin) if !pin.is_empty() => Ok(PinEntry::Pin(SecretString::from(pin))),
            Ok(_) => Err(PinRefusal::Cancelled),
            Err(e) => {
                tracing::warn!(error = %e, "no terminal to read the PIN from");
                Err(PinRefusal::Cancelled)
            }
        }
    }

    fn approve_origin(&self, origin: &str) -> Result<OriginDecision, PinRefusal> {
        let origin = super::clean(origin, 255);
        let question = message(
            user_lang(),
            "dialog-origin-question",
            &[("origin", origin.as_str().into())],
        );
        let answer = ask_line(&format!("{question} [o]nce / [a]lways / [N]o: "))
            .ok_or(PinRefusal::Cancelled)?;
        Ok(match answer.to_ascii_lowercase().as_str() {
            "o" | "once" => OriginDecision::AllowOnce,
            "a" | "always" => OriginDecision::AlwaysAllow,
            _ => OriginDecision::Deny,
        })
    }

    fn confirm_batch(&self, batch: &BatchPrompt) -> Result<(), PinRefusal> {
        let lang = user_lang();
        let count = batch.documents.len();
        eprintln!(
            "{}:",
            message(lang, "dialog-batch-heading", &[("count", count.into())])
        );
        let view = super::batch_view(lang, batch);
        show(&view.lines());
        let answer = ask_line(&format!("{}? [y/N]: ", text(lang, "dialog-continue")))
            .ok_or(PinRefusal::Cancelled)?;
        if matches!(
            answer.to_ascii_lowercase().as_str(),
            "y" | "yes" | "c" | "co" | "có"
        ) {
            Ok(())
        } else {
            Err(PinRefusal::Cancelled)
        }
    }
}
