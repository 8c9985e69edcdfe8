//! Tokens: the USB keys (PKCS#11) that hold the signers' private keys.
//!
//! This module owns the types the rest of the agent sees (tokens, PIN states, events, sign jobs)
//! and the [`TokenProvider`] trait; [`pkcs11`] is the one implementation and the only place that
//! imports `cryptoki`. Nothing here knows HTTP or a UI: the PIN comes through an
//! [`Authenticator`] supplied with each job.

pub mod pkcs11;
pub mod registry;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::certificate::CertificateInfo;
use crate::digest::DigestAlgorithm;
use crate::scheme::SignatureScheme;

/// Errors of the token layer. The cause is kept (`CKR_…` code and the failing function) for the
/// log; [`crate::signing`] turns these into what a user is told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No present token holds this certificate (it was removed, or never seen).
    #[error("token not present")]
    TokenNotPresent,
    /// No token offers a certificate with this id.
    #[error("certificate {0} not found on any token")]
    CertificateNotFound(String),
    /// The certificate is on the token but its private key is not (matched by `CKA_ID`).
    #[error("no private key with the certificate's CKA_ID")]
    KeyNotFound,
    /// The PIN was wrong; the token's counters after the attempt.
    #[error("PIN incorrect")]
    PinIncorrect {
        /// The PIN state read from the token after the failed login.
        state: PinState,
        /// Retries left when they can be known (see [`PinState::retries_left`]).
        retries_left: Option<u32>,
    },
    /// The PIN has the wrong length for this token (no attempt was counted).
    #[error("PIN length out of range")]
    PinLength,
    /// The user PIN is locked: no login is attempted; the SO or the CA must unlock it.
    #[error("PIN locked")]
    PinLocked,
    /// The user cancelled the PIN prompt.
    #[error("cancelled by the user")]
    Cancelled,
    /// The prompt timed out, or the token did not answer within the configured time.
    #[error("timed out")]
    Timeout,
    /// The module is busy with another operation on this token for too long.
    #[error("token busy")]
    Busy,
    /// The key type is not one Kyso signs with.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// A digest of the wrong length for its algorithm.
    #[error("a {alg} digest has {expected} bytes, got {got}")]
    DigestLength {
        /// The algorithm.
        alg: DigestAlgorithm,
        /// Its digest length.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {path}: {message}")]
    Module {
        /// The module path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Any other PKCS#11 failure, with the function that returned it.
    #[error("PKCS#11 {function} failed: {rv}")]
    Pkcs11 {
        /// `CKR_…` name.
        rv: String,
        /// PKCS#11 function.
        function: String,
    },
    /// The module's worker thread is gone (it panicked or the agent is shutting down).
    #[error("token worker stopped")]
    WorkerGone,
}

/// The user PIN's state, from the token flags `CKF_USER_PIN_COUNT_LOW`, `_FINAL_TRY`, `_LOCKED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PinState {
    /// No failed attempt since the last good login.
    Ok,
    /// At least one wrong PIN since the last good login.
    CountLow,
    /// The next wrong PIN locks the token.
    FinalTry,
    /// Locked: the token refuses every login.
    Locked,
}

impl PinState {
    /// Retries left, when known. PKCS#11 flags say "count low", "final try" and "locked" but not
    /// the count itself, so: final try is 1 and locked is 0; for "count low" the agent counts the
    /// wrong PINs it saw since the last good one against `retry_limit` (policy `pin_retry_limit`,
    /// default 3, what most tokens in Vietnam use) and never says fewer than 2 while the token
    /// does not say "final try".
    pub fn retries_left(self, observed_failures: u32, retry_limit: Option<u32>) -> Option<u32> {
        match self {
            Self::Locked => Some(0),
            Self::FinalTry => Some(1),
            Self::CountLow => match retry_limit {
                Some(limit) if observed_failures > 0 => {
                    Some(limit.saturating_sub(observed_failures).max(2))
                }
                _ => None,
            },
            Self::Ok => None,
        }
    }
}

/// Identifies a token across slots and re-initialisations: its module and serial number.
/// Slot ids are never used as identity (SoftHSM and many drivers renumber them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenRef {
    /// Path of the PKCS#11 module that serves it.
    pub module: String,
    /// Token serial number (`CK_TOKEN_INFO.serialNumber`).
    pub serial: String,
    /// Token label, for people.
    pub label: String,
}

/// A certificate found on a token, with its pairing facts.
#[derive(Clone, Debug)]
pub struct TokenCertificate {
    /// The parsed certificate.
    pub info: CertificateInfo,
    /// `CKA_ID` shared with the private key.
    pub key_id: Vec<u8>,
    /// A key object (private, or public when private keys are hidden before login) has the same
    /// `CKA_ID`: this certificate can sign.
    pub has_key: bool,
}

/// A token as last seen by its module's worker.
#[derive(Clone, Debug)]
pub struct TokenStatus {
    /// Identity.
    pub token: TokenRef,
    /// `CK_TOKEN_INFO.model`.
    pub model: String,
    /// `CK_TOKEN_INFO.manufacturerID`.
    pub manufacturer: String,
    /// Plugged in now. A removed token stays listed (with its certificates) so that signing
    /// with it says "insert the token" rather than "unknown certificate".
    pub present: bool,
    /// PIN state from the token flags.
    pub pin_state: PinState,
    /// Retries left when known (see [`PinState::retries_left`]).
    pub retries_left: Option<u32>,
    /// Pin-pad reader: the PIN is typed on the device, never in Kyso.
    pub protected_auth_path: bool,
    /// Every certificate on it (signers and CA certificates).
    pub certificates: Vec<TokenCertificate>,
}

/// A loaded (or failed) PKCS#11 module, for `kyso doctor`.
#[derive(Clone, Debug)]
pub struct ModuleStatus {
    /// Path as configured or discovered.
    pub path: String,
    /// Where it came from: `config`, `policy` or `registry:<vendor>`.
    pub source: String,
    /// Library description and version when loaded.
    pub library: Option<String>,
    /// Why it failed to load, if it did.
    pub error: Option<String>,
    /// Not loaded because none of its tokens can be connected now (no matching USB device,
    /// no SoftHSM2 token): loaded within a poll of one being plugged in.
    pub waiting_for_device: bool,
}

/// Slot changes and PIN events, published for the agent's event stream and the tray.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TokenEvent {
    /// A token appeared.
    TokenInserted {
        /// Which token.
        token: TokenRef,
    },
    /// A token disappeared.
    TokenRemoved {
        /// Which token.
        token: TokenRef,
    },
    /// A token's user PIN became locked.
    PinLocked {
        /// Which token.
        token: TokenRef,
    },
}

/// What the token asks the user for before it signs.
#[derive(Clone, Debug)]
pub struct PinRequest {
    /// The token.
    pub token: TokenRef,
    /// PIN state before this attempt.
    pub pin_state: PinState,
    /// Retries left, when known.
    pub retries_left: Option<u32>,
    /// Pin-pad: the PIN is entered on the device; the prompt only tells the user so.
    pub protected_auth_path: bool,
    /// A `CKA_ALWAYS_AUTHENTICATE` key: this PIN is for one signature (`index` of the job).
    pub per_signature: Option<usize>,
}

/// The user's answer to a [`PinRequest`].
pub enum PinEntry {
    /// The PIN typed by the user; dropped (and zeroised) right after `C_Login`.
    Pin(SecretString),
    /// Pin-pad token: log in with a NULL PIN and let the device ask.
    PinPad,
}

/// Why no PIN was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRefusal {
    /// The user pressed Cancel (or Esc).
    Cancelled,
    /// Nobody answered in time.
    TimedOut,
}

/// Supplies the PIN for one job; implemented by [`crate::signing`] over its `Prompt`.
/// Called on the module's worker thread, so it may block.
pub trait Authenticator: Send {
    /// Asks for the PIN.
    fn pin(&mut self, request: &PinRequest) -> Result<PinEntry, PinRefusal>;

    /// The login that used the last entry is over, either way (a pin-pad's "type on the
    /// device" window can close).
    fn pin_used(&mut self) {}
}

/// A signing job: several digests, one certificate, one login (a batch is one job).
pub struct SignJob {
    /// Certificate id (hex SHA-256).
    pub certificate_id: String,
    /// How to sign.
    pub scheme: SignatureScheme,
    /// The algorithm the digests were made with.
    pub digest_algorithm: DigestAlgorithm,
    /// What the key signs: one digest per document (for CMS, the digest of the signed
    /// attributes).
    pub digests: Vec<Vec<u8>>,
    /// Where the PIN comes from.
    pub authenticator: Box<dyn Authenticator>,
    /// Set to abort a batch between two signatures.
    pub abort: Arc<AtomicBool>,
    /// Told how many digests are signed, after each one (the batch progress window).
    pub on_signed: Option<Box<dyn FnMut(usize) + Send>>,
    /// Filled in by the module's worker: how long the job took there, and the PIN prompt in it.
    pub timing: Arc<JobTiming>,
}

/// Where a signing job's time went on the module's worker: the PIN prompt (a person, or a
/// pin-pad) and the rest, the token's calls. The agent reports both (`Server-Timing`) so that
/// a slow request says whether the token, the person or Kyso took the time.
#[derive(Debug, Default)]
pub struct JobTiming {
    job_ns: AtomicU64,
    prompt_ns: AtomicU64,
}

impl JobTiming {
    fn add(counter: &AtomicU64, time: Duration) {
        let ns = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
    }

    /// Adds a span of the job on the worker (the prompt included).
    pub fn add_job(&self, time: Duration) {
        Self::add(&self.job_ns, time);
    }

    /// Adds a PIN prompt's time.
    pub fn add_prompt(&self, time: Duration) {
        Self::add(&self.prompt_ns, time);
    }

    /// The PIN prompts' time.
    pub fn prompt(&self) -> Duration {
        Duration::from_nanos(self.prompt_ns.load(Ordering::Relaxed))
    }

    /// The job on the worker less its prompts: the token's calls (and the worker's few steps
    /// between them).
    pub fn token(&self) -> Duration {
        Duration::from_nanos(self.job_ns.load(Ordering::Relaxed)).saturating_sub(self.prompt())
    }
}

/// Per-digest results of a job that logged in. Items after an abort or a removal carry the error.
pub type SignResults = Vec<Result<Vec<u8>, Error>>;

/// Every token-side capability the signing use cases need.
pub trait TokenProvider: Send + Sync {
    /// Tokens as last seen (never waits for a busy token; a copy of every certificate).
    fn tokens(&self) -> Vec<TokenStatus>;
    /// A number that changes whenever [`Self::tokens`] may answer differently, so that a
    /// caller can keep what it derived from the last answer (the signer of back-to-back
    /// requests) instead of copying every certificate again. `None`: no such promise.
    fn generation(&self) -> Option<u64> {
        None
    }
    /// Modules and their load state.
    fn modules(&self) -> Vec<ModuleStatus>;
    /// Rescans every module now and waits for the result (used at start and by `doctor`).
    fn refresh(&self);
    /// Signs the job's digests: checks presence and PIN state, asks the PIN, logs in, signs each
    /// digest, logs out. Blocks the caller; never runs on an async runtime thread.
    /// `on_signature` may be called on the caller's thread with each signature of a batch as the
    /// token makes it (index, signature), in order, so that the caller builds each document's
    /// CMS and answer while the token signs the next; the results hold every outcome again.
    ///
    /// # Errors
    /// A [`Error`] when nothing could be signed (not present, wrong PIN, cancelled…).
    fn sign(
        &self,
        job: SignJob,
        on_signature: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<SignResults, Error>;
    /// Subscribes to slot and PIN events.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<TokenEvent>;

    /// A hint that a signing job for this certificate follows within a moment, given before the
    /// request's own checks so that the token's thread is awake when the job arrives.
    fn about_to_sign(&self, _certificate_id: &str) {}
}
