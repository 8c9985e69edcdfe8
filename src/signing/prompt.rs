//! The port through which the core asks the user: a PIN, an origin approval, a batch
//! confirmation. The terminal, scripted and (later) GUI prompts implement it in [`crate::ui`].
//! Methods block and are called from token worker threads, so implementations must be
//! thread-safe.

use crate::api::Document;
use crate::certificate::Kind;
use crate::token::{PinEntry, PinRefusal, PinState};

/// A document as the prompt shows it: with whether the DMS server vouched for it (a ticket),
/// or only the page stated it.
#[derive(Clone, Debug)]
pub struct ShownDocument {
    /// Title, number, purpose.
    pub document: Document,
    /// From a DMS ticket the agent verified.
    pub attested: bool,
}

/// Everything the PIN prompt shows: who asks, what is signed, with which certificate, and the
/// token's PIN state.
#[derive(Clone, Debug)]
pub struct PinPrompt {
    /// The requesting origin in full (`https://dms.example.gov.vn`), or `None` for the CLI.
    pub origin: Option<String>,
    /// How that origin was allowed: by the agency's policy or by the user's own approval.
    pub standing: Option<super::Standing>,
    /// The documents (one, or every document of a batch).
    pub documents: Vec<ShownDocument>,
    /// The signer certificate.
    pub signer: SignerSummary,
    /// The token label.
    pub token_label: String,
    /// PIN state before this attempt.
    pub pin_state: PinState,
    /// Retries left, when known.
    pub retries_left: Option<u32>,
    /// Pin-pad: tell the user to type on the device; no PIN field.
    pub protected_auth_path: bool,
    /// `CKA_ALWAYS_AUTHENTICATE` key: this PIN is for signature number `n` (from 0).
    pub per_signature: Option<usize>,
    /// The certificate status check, when the policy asks for one: a prompt shows its line
    /// (a warning when the status is unknown) before it takes the PIN, and a window prompt
    /// that opens before the check ends shows "checking" and updates itself.
    pub status: Option<super::PendingCheck>,
}

/// The certificate as a user recognises it.
#[derive(Clone, Debug)]
pub struct SignerSummary {
    /// Subject CN.
    pub holder: String,
    /// Subject O.
    pub organization: Option<String>,
    /// Issuer CN (the CA).
    pub issuer: String,
    /// notAfter, ISO 8601.
    pub valid_until: String,
    /// notAfter, Unix seconds (shown as the user reads dates).
    pub not_after: i64,
    /// Whole days left before notAfter.
    pub days_left: i64,
    /// Personal or organisation.
    pub kind: Kind,
    /// Certificate serial, hex.
    pub serial: String,
}

/// A batch to confirm before the PIN is asked.
#[derive(Clone, Debug)]
pub struct BatchPrompt {
    /// The requesting origin.
    pub origin: Option<String>,
    /// How that origin was allowed.
    pub standing: Option<super::Standing>,
    /// Every document.
    pub documents: Vec<ShownDocument>,
    /// The one certificate for all of them.
    pub signer: SignerSummary,
}

/// The user's answer to "may this site use your digital signature?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginDecision {
    /// This request only.
    AllowOnce,
    /// Remember the approval.
    AlwaysAllow,
    /// Refuse (and cool down before asking again).
    Deny,
}

/// The prompt port.
pub trait Prompt: Send + Sync {
    /// Asks for the token PIN (or tells the user to use the pin-pad).
    ///
    /// # Errors
    /// [`PinRefusal`] when the user cancels or does not answer in time.
    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal>;

    /// Asks whether an origin not in the policy may use the agent.
    ///
    /// # Errors
    /// [`PinRefusal`] when the prompt is dismissed or times out (treated as a denial).
    fn approve_origin(&self, origin: &str) -> Result<OriginDecision, PinRefusal>;

    /// Shows every document of a batch and asks to go on.
    ///
    /// # Errors
    /// [`PinRefusal`] when the user cancels or does not answer in time.
    fn confirm_batch(&self, batch: &BatchPrompt) -> Result<(), PinRefusal>;

    /// The token has taken the PIN asked last (or a pin-pad login ended): a pin-pad's "type the
    /// PIN on the device" window, left open during the login, can close. Default: nothing.
    fn pin_used(&self) {}

    /// Shows a batch's progress once signing has begun, with a way to stop it: stopping sets
    /// `abort` and the documents not yet signed come back `USER_CANCELLED`. Prompts without a
    /// window show nothing (the default).
    fn batch_progress(
        &self,
        _total: usize,
        _abort: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<Box<dyn BatchProgress>> {
        None
    }
}

/// A batch's progress on screen; dropping it closes the window.
pub trait BatchProgress: Send {
    /// `done` documents of the batch are signed.
    fn signed(&self, done: usize);
}

/// Shows one dialog at a time, whichever request or token asks: a second prompt waits until
/// the first is answered, so a user never faces two PIN dialogs at once.
pub struct OneAtATime {
    inner: std::sync::Arc<dyn Prompt>,
    lock: std::sync::Mutex<()>,
}

impl OneAtATime {
    /// Wraps a prompt.
    pub fn new(inner: std::sync::Arc<dyn Prompt>) -> Self {
        Self {
            inner,
            lock: std::sync::Mutex::new(()),
        }
    }

    fn hold(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Prompt for OneAtATime {
    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        let _one = self.hold();
        self.inner.ask_pin(request)
    }

    // Not in the PIN dialogs' turn: the origin policy keeps consent to one dialog at a time
    // itself, and a PIN request from an allowed site must never wait behind an unknown site's
    // consent dialog.
    fn approve_origin(&self, origin: &str) -> Result<OriginDecision, PinRefusal> {
        self.inner.approve_origin(origin)
    }

    fn confirm_batch(&self, batch: &BatchPrompt) -> Result<(), PinRefusal> {
        let _one = self.hold();
        self.inner.confirm_batch(batch)
    }

    fn pin_used(&self) {
        self.inner.pin_used();
    }

    // Not a question: shown beside whatever dialog comes next, so it takes no turn.
    fn batch_progress(
        &self,
        total: usize,
        abort: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<Box<dyn BatchProgress>> {
        self.inner.batch_progress(total, abort)
    }
}
