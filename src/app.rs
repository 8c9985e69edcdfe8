//! The composition root: turns a [`Config`] and a prompter name into running parts. The only
//! place that names concrete implementations (PKCS#11 tokens, terminal or scripted prompt).

use std::path::PathBuf;
use std::sync::Arc;

use crate::certificate::{self, CertificateInfo};
use crate::config::{Config, Source};
use crate::signing::{Prompt, SigningService};
use crate::token::pkcs11::{ModuleSpec, Pkcs11Tokens, Settings};
use crate::token::registry;
use crate::ui::scripted::ScriptedPrompt;
use crate::ui::terminal::TerminalPrompt;

/// Errors while wiring the application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad `--prompter` value.
    #[error("unknown prompter {0:?}: use `terminal` or `scripted:FILE`")]
    Prompter(String),
    /// A chain certificate file cannot be read.
    #[error("chain certificate {path}: {message}")]
    Chain {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The running parts.
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// The token layer.
    pub tokens: Arc<Pkcs11Tokens>,
    /// The signing use cases.
    pub signing: SigningService,
}

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
        })
        .collect();
    if config.discover_modules {
        for (vendor, path) in registry::discover(&registry::search_dirs()) {
            let already = specs.iter().any(|s| {
                std::fs::canonicalize(&s.path).ok().as_ref() == Some(&path) || s.path == path
            });
            if !already {
                specs.push(ModuleSpec {
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
        let extra_chain = chain_certificates(&config)?;
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
        let signing = SigningService::new(tokens.clone(), prompt, extra_chain);
        Ok(Self {
            config,
            tokens,
            signing,
        })
    }
}
