//! Who may use the agent: the admin's allow-list, the user's approvals, and the cool-down after
//! a refusal. Origins compare as exact (scheme, host, port) tuples: no suffix, substring or
//! pattern match, no `null`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::prompt::{OriginDecision, Prompt};
use super::Error;

/// A parsed web origin (`https://dms.example.gov.vn`, `http://localhost:8080`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses a serialized origin as browsers send it: scheme `https` (or `http`), a host, an
    /// optional port; no user info, path, query or fragment; at most 255 characters.
    ///
    /// # Errors
    /// A text that is not such an origin (including `null`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() > 255 || text.is_empty() {
            return Err("origin length".into());
        }
        let (scheme, rest) = text.split_once("://").ok_or("no scheme")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!("scheme {scheme} not allowed"));
        }
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', '\\', ' ']) {
            return Err("an origin has no path, query, fragment or user info".into());
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (inner, after) = v6.split_once(']').ok_or("bad IPv6 host")?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("bad port")?),
            };
            (format!("[{}]", inner.to_ascii_lowercase()), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (rest.to_ascii_lowercase(), None),
            }
        };
        if host.is_empty()
            || host.ends_with('.')
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        {
            return Err("bad host".into());
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().map_err(|_| "bad port")?),
            None => None,
        };
        let default = if scheme == "https" { 443 } else { 80 };
        Ok(Self {
            port: port.filter(|p| *p != default),
            scheme,
            host,
        })
    }

    /// Whether it is `https`.
    pub fn is_secure(&self) -> bool {
        self.scheme == "https"
    }

    /// Its registrable domain (eTLD+1: `evil.test` for `a.b.evil.test`, `example.gov.vn` for
    /// `dms.example.gov.vn`), or the host itself (an address, `localhost`, a suffix).
    pub fn site(&self) -> String {
        psl::domain_str(&self.host)
            .map(str::to_string)
            .unwrap_or_else(|| self.host.clone())
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}://{}:{port}", self.scheme, self.host),
            None => write!(f, "{}://{}", self.scheme, self.host),
        }
    }
}

/// Where user approvals are remembered (a file in the data folder; injected so this module
/// touches no files).
pub trait ApprovalStore: Send + Sync {
    /// Approved origins.
    fn load(&self) -> Vec<String>;
    /// Replaces the approved origins.
    ///
    /// # Errors
    /// A message when they could not be saved.
    fn save(&self, origins: &[String]) -> Result<(), String>;
}

/// How an origin stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// In the admin policy.
    Policy,
    /// Approved by the user ("always allow").
    Approved,
    /// Not known: the first request asks the user (unless approvals are off).
    Unknown,
    /// Refused: approvals are off, or the user said no recently (cool-down).
    Refused,
}

/// Consent dialogs one registrable domain may raise per [`ASK_WINDOW`].
const MAX_ASKS: usize = 3;
const ASK_WINDOW: Duration = Duration::from_secs(600);

/// The origin policy.
pub struct OriginPolicy {
    admin: Vec<Origin>,
    user_approvals: bool,
    store: Arc<dyn ApprovalStore>,
    cooldown: Duration,
    /// Refusals, by registrable domain: every subdomain of a refused site cools down too.
    denied: Mutex<HashMap<String, Instant>>,
    /// When each registrable domain last raised consent dialogs (for the rate limit).
    asked: Mutex<HashMap<String, Vec<Instant>>>,
    /// The one pending consent dialog: another unknown site meanwhile is refused, not queued.
    asking: Mutex<()>,
}

impl OriginPolicy {
    /// Builds the policy; unparsable admin entries are logged and ignored.
    pub fn new(
        admin: &[String],
        user_approvals: bool,
        store: Arc<dyn ApprovalStore>,
        cooldown: Duration,
    ) -> Self {
        let admin = admin
            .iter()
            .filter_map(|text| match Origin::parse(text) {
                Ok(origin) => Some(origin),
                Err(e) => {
                    tracing::warn!(origin = %text, error = %e, "allowed_origins entry ignored");
                    None
                }
            })
            .collect();
        Self {
            admin,
            user_approvals,
            store,
            cooldown,
            denied: Mutex::new(HashMap::new()),
            asked: Mutex::new(HashMap::new()),
            asking: Mutex::new(()),
        }
    }

    fn approved(&self) -> Vec<Origin> {
        self.store
            .load()
            .iter()
            .filter_map(|t| Origin::parse(t).ok())
            .collect()
    }

    /// Whether the administrator's list names `origin`: answered from memory, with no store to
    /// read and no prompt, so a request handler may ask it without leaving the async thread.
    pub fn allowed_by_admin(&self, origin: &Origin) -> bool {
        self.admin.contains(origin)
    }

    /// Where `origin` stands now (no prompt, no side effect).
    pub fn standing(&self, origin: &Origin) -> Standing {
        if self.admin.contains(origin) {
            return Standing::Policy;
        }
        if self.user_approvals && self.approved().contains(origin) {
            return Standing::Approved;
        }
        let cooling = self
            .denied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&origin.site())
            .is_some_and(|at| at.elapsed() < self.cooldown);
        if !self.user_approvals || cooling || !origin.is_secure() {
            Standing::Refused
        } else {
            Standing::Unknown
        }
    }

    /// Lets the request through, asking the user for an unknown origin (blocking).
    ///
    /// # Errors
    /// [`Error::OriginNotAllowed`] when refused.
    pub fn authorize(&self, origin: &Origin, prompt: &dyn Prompt) -> Result<(), Error> {
        match self.standing(origin) {
            Standing::Policy | Standing::Approved => return Ok(()),
            Standing::Refused => return Err(Error::OriginNotAllowed),
            Standing::Unknown => {}
        }
        // One consent dialog at a time, and no queue behind it: a page cannot line up dialogs
        // (nor hold back another site's request waiting for its turn).
        let Ok(_one_dialog) = self.asking.try_lock() else {
            tracing::info!(%origin, "consent refused: another site's consent dialog is open");
            return Err(Error::OriginNotAllowed);
        };
        // Another request may have been answered meanwhile.
        match self.standing(origin) {
            Standing::Policy | Standing::Approved => return Ok(()),
            Standing::Refused => return Err(Error::OriginNotAllowed),
            Standing::Unknown => {}
        }
        if !self.may_ask(&origin.site()) {
            tracing::info!(%origin, "consent refused: this site asked too often");
            return Err(Error::OriginNotAllowed);
        }
        let decision = prompt
            .approve_origin(&origin.to_string())
            .unwrap_or(OriginDecision::Deny);
        tracing::info!(%origin, ?decision, "origin approval");
        match decision {
            OriginDecision::AllowOnce => Ok(()),
            OriginDecision::AlwaysAllow => {
                let mut list: Vec<String> = self.approved().iter().map(Origin::to_string).collect();
                list.push(origin.to_string());
                list.sort();
                list.dedup();
                if let Err(e) = self.store.save(&list) {
                    tracing::warn!(error = %e, "could not remember the approval");
                }
                Ok(())
            }
            OriginDecision::Deny => {
                self.denied
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(origin.site(), Instant::now());
                Err(Error::OriginNotAllowed)
            }
        }
    }

    /// Whether `site` may raise another consent dialog: at most [`MAX_ASKS`] per
    /// [`ASK_WINDOW`] (a site the user keeps allowing once cannot keep the dialog up).
    fn may_ask(&self, site: &str) -> bool {
        let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
        asked.retain(|_, times| {
            times.retain(|t| t.elapsed() < ASK_WINDOW);
            !times.is_empty()
        });
        let times = asked.entry(site.to_string()).or_default();
        if times.len() >= MAX_ASKS {
            return false;
        }
        times.push(Instant::now());
        true
    }

    /// The admin-listed origins.
    pub fn admin_origins(&self) -> Vec<String> {
        self.admin.iter().map(Origin::to_string).collect()
    }

    /// The user-approved origins.
    pub fn approved_origins(&self) -> Vec<String> {
        self.approved().iter().map(Origin::to_string).collect()
    }

    /// Forgets a user approval. Returns whether it was there.
    ///
    /// # Errors
    /// A message when the store could not be saved.
    pub fn revoke(&self, origin: &Origin) -> Result<bool, String> {
        let before = self.approved();
        let after: Vec<String> = before
            .iter()
            .filter(|o| *o != origin)
            .map(Origin::to_string)
            .collect();
        let removed = after.len() != before.len();
        if removed {
            self.store.save(&after)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_case_and_default_ports() {
        let a = Origin::parse("HTTPS://DMS.Example.gov.vn:443").expect("a");
        assert_eq!(a.to_string(), "https://dms.example.gov.vn");
        assert_eq!(
            Origin::parse("http://localhost:8080")
                .expect("b")
                .to_string(),
            "http://localhost:8080"
        );
        assert_eq!(
            Origin::parse("https://[::1]:47400").expect("c").to_string(),
            "https://[::1]:47400"
        );
    }

    #[test]
    fn parse_refuses_null_paths_userinfo_and_other_schemes() {
        for bad in [
            "null",
            "",
            "file://",
            "https://dms.example.vn/path",
            "https://user@dms.example.vn",
            "chrome-extension://abc",
            "https://dms.example.vn.",
            "https://dms.example.vn:99999",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lookalikes_do_not_match_the_allowed_origin() {
        let allowed = Origin::parse("https://dms.example.vn").expect("allowed");
        for lookalike in [
            "https://dms.example.vn.evil.test",
            "http://dms.example.vn",
            "https://dms.example.vn:8443",
            "https://xdms.example.vn",
            "https://evil-dms.example.vn",
        ] {
            assert_ne!(
                Origin::parse(lookalike).expect("parses"),
                allowed,
                "{lookalike}"
            );
        }
    }

    /// A prompt that counts consent dialogs and answers as told.
    struct Asking(std::sync::atomic::AtomicUsize, OriginDecision);

    impl super::super::Prompt for Asking {
        fn ask_pin(
            &self,
            _: &super::super::PinPrompt,
        ) -> Result<crate::token::PinEntry, crate::token::PinRefusal> {
            Err(crate::token::PinRefusal::Cancelled)
        }
        fn approve_origin(&self, _: &str) -> Result<OriginDecision, crate::token::PinRefusal> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.1)
        }
        fn confirm_batch(
            &self,
            _: &super::super::BatchPrompt,
        ) -> Result<(), crate::token::PinRefusal> {
            Ok(())
        }
    }

    struct Nothing;

    impl ApprovalStore for Nothing {
        fn load(&self) -> Vec<String> {
            Vec::new()
        }
        fn save(&self, _: &[String]) -> Result<(), String> {
            Ok(())
        }
    }

    fn policy() -> OriginPolicy {
        OriginPolicy::new(&[], true, Arc::new(Nothing), Duration::from_secs(600))
    }

    #[test]
    fn a_refusal_cools_down_every_subdomain_of_the_site() {
        let policy = policy();
        let deny = Asking(0.into(), OriginDecision::Deny);
        let first = Origin::parse("https://a.evil.test").expect("origin");
        assert!(policy.authorize(&first, &deny).is_err());
        for other in [
            "https://b.evil.test",
            "https://x.y.evil.test",
            "https://evil.test",
        ] {
            let origin = Origin::parse(other).expect("origin");
            assert_eq!(policy.standing(&origin), Standing::Refused, "{other}");
            assert!(policy.authorize(&origin, &deny).is_err());
        }
        assert_eq!(deny.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another site is its own: dms.example.gov.vn's domain is example.gov.vn.
        let other = Origin::parse("https://dms.example.gov.vn").expect("origin");
        assert_eq!(other.site(), "example.gov.vn");
        assert_eq!(policy.standing(&other), Standing::Unknown);
    }

    #[test]
    fn a_site_allowed_once_cannot_keep_raising_the_dialog() {
        let policy = policy();
        let once = Asking(0.into(), OriginDecision::AllowOnce);
        let origin = Origin::parse("https://meetings.example.test").expect("origin");
        for _ in 0..MAX_ASKS {
            assert!(policy.authorize(&origin, &once).is_ok());
        }
        let sibling = Origin::parse("https://other.example.test").expect("origin");
        assert!(policy.authorize(&sibling, &once).is_err());
        assert_eq!(once.0.load(std::sync::atomic::Ordering::SeqCst), MAX_ASKS);
    }

    #[test]
    fn a_second_unknown_site_is_refused_while_a_consent_dialog_is_open() {
        let policy = Arc::new(policy());
        let held = policy.asking.lock().expect("lock");
        let once = Asking(0.into(), OriginDecision::AllowOnce);
        let origin = Origin::parse("https://second.example.test").expect("origin");
        assert!(policy.authorize(&origin, &once).is_err());
        assert_eq!(once.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        drop(held);
        assert!(policy.authorize(&origin, &once).is_ok());
    }

    /// The check a handler makes without leaving its async thread answers yes for the
    /// administrator's list only: a user's "always allow" (kept in a store that is read from
    /// disk) and a lookalike of a listed origin go through the full check.
    #[test]
    fn only_the_administrators_list_is_answered_from_memory() {
        struct Remembered;
        impl ApprovalStore for Remembered {
            fn load(&self) -> Vec<String> {
                vec!["https://remembered.example.test".into()]
            }
            fn save(&self, _: &[String]) -> Result<(), String> {
                Ok(())
            }
        }
        let policy = OriginPolicy::new(
            &["https://dms.example.gov.vn".into()],
            true,
            Arc::new(Remembered),
            Duration::from_secs(600),
        );
        let listed = Origin::parse("https://dms.example.gov.vn").expect("origin");
        assert!(policy.allowed_by_admin(&listed));
        let remembered = Origin::parse("https://remembered.example.test").expect("origin");
        assert_eq!(policy.standing(&remembered), Standing::Approved);
        assert!(!policy.allowed_by_admin(&remembered));
        for other in [
            "https://dms.example.gov.vn:8443",
            "http://dms.example.gov.vn",
            "https://dms.example.gov.vn.evil.test",
        ] {
            let origin = Origin::parse(other).expect("origin");
            assert!(!policy.allowed_by_admin(&origin), "{other}");
        }
    }
}
