//! The composition root: turns a [`Config`] and a prompter name into running parts. The only
//! place that names concrete implementations (PKCS#11 tokens, terminal or scripted prompt).

pub mod approvals;
/// The desktop agent: the tray and the native dialogs around the HTTPS agent (`kyso run`).
#[cfg(feature = "desktop")]
pub mod desktop;

use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use crate::certificate::{self, CertificateInfo};
use crate::config::{Config, Source};
use crate::platform::devices::Presence;
use crate::platform::trust;
use crate::signing::{OneAtATime, OriginPolicy, Prompt, SigningService, StatusChecker};
use crate::token::pkcs11::{ModuleSpec, Pkcs11Tokens, Settings};
use crate::token::registry;
use crate::ui::scripted::ScriptedPrompt;
use crate::ui::terminal::TerminalPrompt;
use approvals::ApprovalFile;

/// Errors while wiring the application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad `--prompter` value.
    #[error("unknown prompter {0:?}: use `gui`, `terminal` or `scripted:FILE`")]
    Prompter(String),
    /// The TLS identity cannot be made or read.
    #[error(transparent)]
    Tls(#[from] crate::tls::Error),
    /// The server cannot start.
    #[error(transparent)]
    Server(#[from] crate::server::Error),
    /// A chain certificate file cannot be read.
    #[error("chain certificate {path}: {message}")]
    Chain {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The policy names a DMS key that cannot be read or used.
    #[error("policy: {0}")]
    Policy(String),
}

/// The running parts.
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// The token layer.
    pub tokens: Arc<Pkcs11Tokens>,
    /// The signing use cases.
    pub signing: Arc<SigningService>,
    /// Who may call the agent.
    pub policy: Arc<OriginPolicy>,
}

/// How long a refused origin waits before it may ask again.
const DENY_COOLDOWN: Duration = Duration::from_secs(10 * 60);

/// Modules to load: configured ones first (policy or user), then those the registry finds.
pub fn module_specs(config: &Config) -> Vec<ModuleSpec> {
    let mut specs: Vec<ModuleSpec> = config
        .pkcs11_modules
        .iter()
        .map(|(path, source)| ModuleSpec {
            path: path.clone(),
            source: match source {
                Source::Policy => "policy".into(),
                Source::User => "config".into(),
            },
            // A module the registry knows is a token maker's; any other is always loaded.
            presence: Presence::of_module(path, registry::is_known(path)),
        })
        .collect();
    if config.discover_modules {
        for (vendor, path) in registry::discover(&registry::search_dirs()) {
            let already = specs.iter().any(|s| {
                std::fs::canonicalize(&s.path).ok().as_ref() == Some(&path) || s.path == path
            });
            if !already {
                specs.push(ModuleSpec {
                    presence: Presence::of_module(&path, true),
                    path,
                    source: format!("registry:{vendor}"),
                });
            }
        }
    }
    specs
}

/// Builds the prompt named on the command line: `terminal` or `scripted:FILE`.
///
/// # Errors
/// [`Error::Prompter`] for anything else.
pub fn prompter(spec: &str) -> Result<Arc<dyn Prompt>, Error> {
    match spec.split_once(':') {
        Some(("scripted", file)) if !file.is_empty() => {
            Ok(Arc::new(ScriptedPrompt::new(PathBuf::from(file))))
        }
        None if spec == "terminal" => Ok(Arc::new(TerminalPrompt)),
        #[cfg(feature = "desktop")]
        None if spec == "gui" => Ok(Arc::new(crate::ui::dialog::GuiPrompt::new(
            Duration::from_secs(120),
        ))),
        _ => Err(Error::Prompter(spec.to_string())),
    }
}

fn chain_certificates(config: &Config) -> Result<Vec<CertificateInfo>, Error> {
    let mut out = Vec::new();
    for path in &config.chain_certificates {
        let fail = |message: String| Error::Chain {
            path: path.clone(),
            message,
        };
        let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        for der in certificate::read_pem_or_der(&data).map_err(|e| fail(e.to_string()))? {
            out.push(CertificateInfo::from_der(&der).map_err(|e| fail(e.to_string()))?);
        }
    }
    Ok(out)
}

impl App {
    /// Starts the token workers, waits for their first scan, and wires the signing service.
    ///
    /// # Errors
    /// An unreadable chain certificate file.
    pub fn start(config: Config, prompt: Arc<dyn Prompt>) -> Result<Self, Error> {
        // The data folder is the user's alone (its CA key, approvals and log inside).
        if let Err(e) = crate::platform::files::private_dir(&config.data_dir) {
            tracing::warn!(dir = %config.data_dir.display(), error = %e, "data folder not made private");
        }
        let extra_chain = chain_certificates(&config)?;
        let attestation = crate::signing::Attestation::load(&config.attested_origins, |path| {
            std::fs::read(path).map_err(|e| e.to_string())
        })
        .map_err(Error::Policy)?;
        let tokens = Arc::new(Pkcs11Tokens::start(
            module_specs(&config),
            Settings {
                poll_interval: config.poll_interval,
                token_timeout: config.token_timeout,
                prompt_timeout: config.prompt_timeout,
                pin_retry_limit: config.pin_retry_limit,
            },
        ));
        crate::token::TokenProvider::refresh(tokens.as_ref());
        let prompt: Arc<dyn Prompt> = Arc::new(OneAtATime::new(prompt));
        let fetch: Arc<dyn crate::pki::revocation::Fetch + Send + Sync> = if config.offline {
            Arc::new(crate::pki::revocation::NoFetch)
        } else {
            Arc::new(crate::pki::revocation::HttpFetch::default())
        };
        // An origin whose DMS attests its requests is one the agency allows.
        let mut allowed = config.allowed_origins.clone();
        allowed.extend(attestation.origins().map(ToString::to_string));
        let policy = Arc::new(OriginPolicy::new(
            &allowed,
            config.user_approvals,
            Arc::new(ApprovalFile::new(&config.data_dir)),
            DENY_COOLDOWN,
        ));
        let signing = Arc::new(
            SigningService::new(tokens.clone(), prompt, extra_chain)
                .with_status_check(Some(Arc::new(StatusChecker::new(
                    config.revocation_check,
                    fetch,
                ))))
                .with_attestation(Arc::new(attestation))
                .with_origin_policy(policy.clone()),
        );
        Ok(Self {
            config,
            tokens,
            signing,
            policy,
        })
    }

    /// Runs the HTTPS agent until the process ends: TLS identity (created or renewed), both
    /// loopback listeners on the first free port of `port .. port + ports`, the routes, and a
    /// daily leaf renewal check. `on_ready` receives the URLs once the port is bound.
    ///
    /// # Errors
    /// The port is taken, or the TLS identity cannot be made.
    pub async fn serve(
        &self,
        port: u16,
        ports: u16,
        on_ready: impl FnOnce(&[String]),
    ) -> Result<(), Error> {
        let identity = crate::tls::ensure(&self.config.data_dir)?;
        retrust_if_renewed(&self.config.data_dir, &identity);
        let resolver = crate::tls::LeafResolver::new(&identity)?;
        let tls = crate::tls::server_config(resolver.clone())?;
        let listeners = crate::server::bind(port, ports).await?;
        // Where this user's agent listens, for `kyso status` and the doctor (a terminal server
        // gives each user the next free port of the range).
        let _ = crate::platform::files::write_private(
            &self.config.data_dir.join("port"),
            listeners.port.to_string().as_bytes(),
        );
        let state = crate::server::AppState {
            signing: self.signing.clone(),
            policy: self.policy.clone(),
            port: listeners.port,
        };
        on_ready(&listeners.urls());
        let data_dir = self.config.data_dir.clone();
        tokio::spawn(async move {
            let mut daily = tokio::time::interval(Duration::from_secs(24 * 3600));
            daily.tick().await;
            loop {
                daily.tick().await;
                match crate::tls::ensure(&data_dir) {
                    Ok(identity) if identity.renewed => {
                        retrust_if_renewed(&data_dir, &identity);
                        if let Err(e) = resolver.replace(&identity) {
                            tracing::error!(error = %e, "renewed leaf not loaded");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "TLS renewal check failed"),
                }
            }
        });
        listeners
            .serve(tls, crate::server::router(state), self.policy.clone())
            .await;
        Ok(())
    }
}

/// Where the CA was installed (`DATA_DIR/tls/trust.json`), so a renewal can put the new CA in
/// the same places and take the old one out.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct TrustRecord {
    /// Nickname of the installed CA.
    pub nickname: String,
    /// Whether the system store was included.
    pub system: bool,
}

fn trust_record_path(data_dir: &std::path::Path) -> PathBuf {
    crate::tls::Paths::new(data_dir).dir.join("trust.json")
}

/// Reads the trust record, if `kyso trust install` ran.
pub fn trust_record(data_dir: &std::path::Path) -> Option<TrustRecord> {
    let text = std::fs::read_to_string(trust_record_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Installs the CA of `identity` into the user's trust stores (and the system store when
/// asked) and records where.
pub fn install_trust(
    data_dir: &std::path::Path,
    identity: &crate::tls::Identity,
    scope: trust::Scope,
) -> Vec<trust::StoreReport> {
    let reports = trust::install(&identity.paths.ca, &identity.ca_nickname(), scope);
    let record = TrustRecord {
        nickname: identity.ca_nickname(),
        system: scope.system,
    };
    if let Ok(text) = serde_json::to_string(&record) {
        let _ = std::fs::write(trust_record_path(data_dir), text);
    }
    reports
}

/// The first `kyso run` of a user (autostart after an install): creates this user's local CA and
/// trusts it in this user's stores, so the browser trusts the agent without IT touching each
/// account. Never run as root for everyone: each user gets a CA of their own. Returns what was
/// done, or `None` when the CA was already installed.
pub fn trust_on_first_run(data_dir: &std::path::Path) -> Option<Vec<trust::StoreReport>> {
    if trust_record(data_dir).is_some() {
        return None;
    }
    match crate::tls::ensure(data_dir) {
        Ok(identity) => Some(install_trust(
            data_dir,
            &identity,
            trust::Scope { system: false },
        )),
        Err(e) => {
            tracing::error!(error = %e, "no local CA on first run");
            None
        }
    }
}

/// After a renewal, replaces the old CA by the new one wherever the old one was installed.
fn retrust_if_renewed(data_dir: &std::path::Path, identity: &crate::tls::Identity) {
    if !identity.renewed {
        return;
    }
    let Some(old) = trust_record(data_dir) else {
        return;
    };
    if old.nickname == identity.ca_nickname() {
        return;
    }
    tracing::info!(old = %old.nickname, new = %identity.ca_nickname(), "re-installing the renewed local CA");
    let _ = trust::uninstall(&old.nickname);
    let _ = install_trust(data_dir, identity, trust::Scope { system: old.system });
}
