//! A prompt that answers from a TOML file, for tests and unattended demos only:
//! `pin = "123456"` (or `[pins]` by token label), `consent = "allow"|"always"|"deny"`,
//! `action = "confirm"|"cancel"`, `delay_ms = N`, `record = "FILE"` (each prompt appends
//! what it showed, as a JSON line: what a test checks the dialog would have said).
//! The file is read at every prompt, so a test can change the answer between requests.
//! Selecting it logs a loud warning: a PIN in a file defeats the point of a PIN.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::signing::{BatchPrompt, OriginDecision, PinPrompt, Prompt};
use crate::token::{PinEntry, PinRefusal};

/// Answers prompts from a file.
pub struct ScriptedPrompt {
    file: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Script {
    pin: Option<String>,
    /// PINs by token label, for demos with several tokens.
    pins: Option<std::collections::HashMap<String, String>>,
    consent: Option<String>,
    action: Option<String>,
    /// Seconds to wait before answering (to test timeouts and busy tokens).
    delay_ms: Option<u64>,
    /// Appends what each prompt showed (a JSON line: its kind and the view) to this file.
    record: Option<PathBuf>,
}

impl ScriptedPrompt {
    /// Uses `file`; warns loudly in the log.
    pub fn new(file: PathBuf) -> Self {
        tracing::warn!(
            file = %file.display(),
            "SCRIPTED PROMPTER: PINs and approvals come from a file. For tests only, never on a real workstation."
        );
        Self { file }
    }

    fn script(&self) -> Script {
        let script = std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|text| toml::from_str::<Script>(&text).ok());
        if script.is_none() {
            tracing::error!(file = %self.file.display(), "scripted prompter: unreadable script, answering cancel");
        }
        let script = script.unwrap_or(Script {
            action: Some("cancel".into()),
            ..Script::default()
        });
        if let Some(ms) = script.delay_ms {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        script
    }

    /// Appends `shown` to the script's record file, when it names one.
    fn record(script: &Script, shown: serde_json::Value) {
        let Some(path) = &script.record else {
            return;
        };
        use std::io::Write as _;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{shown}"));
        if let Err(e) = written {
            tracing::error!(file = %path.display(), error = %e, "scripted prompter: record not written");
        }
    }

    fn confirmed(script: &Script) -> bool {
        script.action.as_deref().unwrap_or("confirm") == "confirm"
    }
}

impl Prompt for ScriptedPrompt {
    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        let script = self.script();
        // The dialog's text is composed only for a reader (the log or the record file): the
        // benchmark's prompt is this one, and a real dialog's time is the person's.
        if script.record.is_some() || tracing::enabled!(tracing::Level::INFO) {
            let lines = super::describe_pin_prompt(request);
            tracing::info!(?lines, "scripted PIN prompt");
            Self::record(
                &script,
                serde_json::json!({"kind": "pin", "view": super::pin_view(request), "lines": lines}),
            );
        }
        if !Self::confirmed(&script) {
            return Err(match script.action.as_deref() {
                Some("timeout") => PinRefusal::TimedOut,
                _ => PinRefusal::Cancelled,
            });
        }
        if request.protected_auth_path {
            return Ok(PinEntry::PinPad);
        }
        script
            .pins
            .and_then(|pins| pins.get(&request.token_label).cloned())
            .or(script.pin)
            .map(|pin| PinEntry::Pin(SecretString::from(pin)))
            .ok_or(PinRefusal::Cancelled)
    }

    fn approve_origin(&self, origin: &str) -> Result<OriginDecision, PinRefusal> {
        let script = self.script();
        tracing::info!(origin, "scripted origin approval");
        Self::record(
            &script,
            serde_json::json!({"kind": "consent", "origin": origin}),
        );
        match script.consent.as_deref().unwrap_or("deny") {
            "allow" | "once" => Ok(OriginDecision::AllowOnce),
            "always" => Ok(OriginDecision::AlwaysAllow),
            _ => Ok(OriginDecision::Deny),
        }
    }

    fn confirm_batch(&self, batch: &BatchPrompt) -> Result<(), PinRefusal> {
        let script = self.script();
        tracing::info!(
            documents = batch.documents.len(),
            "scripted batch confirmation"
        );
        let view = super::batch_view(crate::i18n::user_lang(), batch);
        Self::record(&script, serde_json::json!({"kind": "batch", "view": view}));
        if Self::confirmed(&script) {
            Ok(())
        } else {
            Err(PinRefusal::Cancelled)
        }
    }
}
