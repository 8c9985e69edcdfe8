//! The certificate status check before signing (Nghị định 23/2025 Đ.15.1, Thông tư 15/2025
//! Đ.5): the signer certificate and every CA above it, OCSP from the AIA else the CDP's CRL.
//! The check starts when a request arrives and runs on its own thread while the prompts are
//! open; a result stays cached until the earliest nextUpdate, so the next signature of the day
//! costs nothing. The network is reached only through the injected [`Fetch`].

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use der::Decode as _;

use crate::config::RevocationCheck;
use crate::pki::revocation::{self, ChainVerdict, Evidence, Fetch};

/// What the check established.
#[derive(Clone, Debug)]
pub enum Checked {
    /// Not revoked: the signer and every CA have a status.
    Good(Evidence),
    /// The signer or a CA is revoked; the text names which and since when.
    Revoked(String),
    /// Some status could not be established; the text says what was tried.
    Unknown(String, Evidence),
}

impl Checked {
    /// The line the PIN prompt shows for this result.
    pub fn prompt_line(&self) -> String {
        match self {
            Self::Good(_) => crate::i18n::text(crate::i18n::user_lang(), "status-good"),
            Self::Revoked(_) => crate::i18n::text(crate::i18n::user_lang(), "status-revoked"),
            Self::Unknown(..) => unknown_warning(),
        }
    }

    /// The evidence to return with the signature.
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            Self::Good(e) | Self::Unknown(_, e) => Some(e),
            Self::Revoked(_) => None,
        }
    }
}

/// The warning line of the PIN dialog when the status is not determinable (in the user's
/// language, as the dialog).
pub fn unknown_warning() -> String {
    crate::i18n::text(crate::i18n::user_lang(), "status-unknown")
}

/// The line shown while the check is still running.
pub fn checking_line() -> String {
    crate::i18n::text(crate::i18n::user_lang(), "status-checking")
}

/// The longest a signature waits for a check after the PIN was given (the fetches have their
/// own 5 s time-outs; this bounds a chain of several certificates and URLs).
pub const LONGEST_WAIT: Duration = Duration::from_secs(45);

/// A check in progress (or done): cloned into the prompt, which may show it as it ends.
#[derive(Clone)]
pub struct PendingCheck {
    cell: Arc<(Mutex<Option<Checked>>, Condvar)>,
}

impl std::fmt::Debug for PendingCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCheck")
            .field("result", &self.result())
            .finish()
    }
}

impl PendingCheck {
    fn empty() -> Self {
        Self {
            cell: Arc::new((Mutex::new(None), Condvar::new())),
        }
    }

    /// A check already done (a cached result).
    pub fn done(result: Checked) -> Self {
        let check = Self::empty();
        check.finish(result);
        check
    }

    fn finish(&self, result: Checked) {
        let (slot, ready) = &*self.cell;
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(result);
        }
        ready.notify_all();
    }

    /// The result if the check has ended.
    pub fn result(&self) -> Option<Checked> {
        self.cell.0.lock().ok().and_then(|s| s.clone())
    }

    /// Waits up to `timeout` for the result; a check that has not ended by then is
    /// `Unknown` (and stays pending for anyone who waits longer).
    pub fn wait(&self, timeout: Duration) -> Option<Checked> {
        let (slot, ready) = &*self.cell;
        let deadline = Instant::now() + timeout;
        let mut guard = slot.lock().ok()?;
        while guard.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            guard = ready.wait_timeout(guard, left).ok()?.0;
        }
        guard.clone()
    }

    /// Waits for the end of the check, at most [`LONGEST_WAIT`]: what a signature relies on.
    pub fn outcome(&self) -> Checked {
        self.wait(LONGEST_WAIT).unwrap_or_else(|| {
            Checked::Unknown(
                "the status check did not end in time".into(),
                Evidence::default(),
            )
        })
    }
}

/// The agent's status checker: the policy, the network port and the cache.
pub struct StatusChecker {
    policy: RevocationCheck,
    fetch: Arc<dyn Fetch + Send + Sync>,
    /// Results by signer certificate id, with the time they stop being current.
    cache: Mutex<HashMap<String, (Checked, u64)>>,
}

/// How long a revoked result is remembered (revocation is final; an hour bounds the memory of a
/// test or a mistaken CRL).
const REVOKED_KEPT_SECS: u64 = 3600;
/// How long an undecided status (no revocation pointer, responder unreachable) is kept before
/// it is asked again: a clerk's run of requests does not wait on (or re-spawn a check for) a
/// responder that just failed, and one that comes back is asked again within half a minute.
const UNKNOWN_KEPT_SECS: u64 = 30;

impl StatusChecker {
    /// A checker with `policy`, fetching through `fetch`.
    pub fn new(policy: RevocationCheck, fetch: Arc<dyn Fetch + Send + Sync>) -> Self {
        Self {
            policy,
            fetch,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> RevocationCheck {
        self.policy
    }

    /// Starts checking `certificate` (DER) with `chain` above it (DER, issuer first), keyed by
    /// `id`; returns at once. A cached, still current result is returned done.
    pub fn start(
        self: &Arc<Self>,
        id: &str,
        certificate: &[u8],
        chain: &[Vec<u8>],
    ) -> PendingCheck {
        let now = crate::certificate::unix_now();
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (_, until)| *until > now);
            if let Some((hit, _)) = cache.get(id) {
                tracing::debug!(certificate = id, "status check: cached");
                return PendingCheck::done(hit.clone());
            }
        }
        let pending = PendingCheck::empty();
        let parsed: Result<Vec<x509_cert::Certificate>, _> = std::iter::once(certificate)
            .chain(chain.iter().map(Vec::as_slice))
            .map(x509_cert::Certificate::from_der)
            .collect();
        let certs = match parsed {
            Ok(certs) => certs,
            Err(e) => {
                pending.finish(Checked::Unknown(
                    format!("unreadable certificate: {e}"),
                    Evidence::default(),
                ));
                return pending;
            }
        };
        let (this, slot, id) = (self.clone(), pending.clone(), id.to_string());
        let spawned = std::thread::Builder::new()
            .name("kyso-status".into())
            .spawn(move || {
                let started = Instant::now();
                let status = revocation::chain_status(&certs, now, this.fetch.as_ref());
                let (result, until) = match status.verdict {
                    ChainVerdict::Good => (Checked::Good(status.evidence), status.fresh_until),
                    ChainVerdict::Revoked(finding) => (
                        Checked::Revoked(finding.to_string()),
                        Some(now + REVOKED_KEPT_SECS),
                    ),
                    ChainVerdict::Unknown(findings) => {
                        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
                        (
                            Checked::Unknown(text.join("; "), status.evidence),
                            Some(now + UNKNOWN_KEPT_SECS),
                        )
                    }
                };
                tracing::info!(
                    certificate = %id,
                    result = ?std::mem::discriminant(&result),
                    ms = started.elapsed().as_millis() as u64,
                    "certificate status checked"
                );
                if let (Some(until), Ok(mut cache)) = (until, this.cache.lock()) {
                    cache.insert(id, (result.clone(), until));
                }
                slot.finish(result);
            });
        if spawned.is_err() {
            pending.finish(Checked::Unknown(
                "no thread for the status check".into(),
                Evidence::default(),
            ));
        }
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_text_parses_and_defaults_to_warn() {
        assert_eq!(
            RevocationCheck::parse("Require"),
            Some(RevocationCheck::Require)
        );
        assert_eq!(RevocationCheck::parse(" off "), Some(RevocationCheck::Off));
        assert_eq!(RevocationCheck::parse("maybe"), None);
        assert_eq!(RevocationCheck::default(), RevocationCheck::Warn);
    }

    #[test]
    fn a_pending_check_times_out_then_delivers() {
        let pending = PendingCheck::empty();
        assert!(pending.wait(Duration::from_millis(20)).is_none());
        let later = pending.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            later.finish(Checked::Revoked("test".into()));
        });
        assert!(matches!(
            pending.wait(Duration::from_secs(5)),
            Some(Checked::Revoked(_))
        ));
    }

    #[test]
    fn an_unreadable_certificate_is_unknown_not_good() {
        let checker = Arc::new(StatusChecker::new(
            RevocationCheck::Warn,
            Arc::new(revocation::NoFetch),
        ));
        let pending = checker.start("x", b"not a certificate", &[]);
        assert!(matches!(pending.result(), Some(Checked::Unknown(..))));
    }
}
