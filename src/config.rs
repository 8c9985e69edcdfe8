//! Configuration: the user's settings file and the system policy that IT deploys. Every key
//! the policy sets wins over the user's; everything else has a default.
//!
//! Files (TOML):
//! - user: `--config FILE`, else `config.toml` in the `directories` config folder
//!   (`~/.config/kyso/config.toml` on Linux);
//! - policy: `$KYSO_POLICY_FILE`, else `/etc/kyso/policy.toml` (Linux),
//!   `/Library/Application Support/Kyso/policy.toml` (macOS),
//!   `%ProgramData%\Kyso\policy.toml` (Windows); on Windows the values under
//!   `HKLM\SOFTWARE\Policies\Kyso` (MSI properties, Group Policy) win over that file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Errors while reading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid TOML or has an unknown key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The settings file named with `--config` does not exist (a typo must not run with the
    /// defaults, silently).
    #[error("{0}: no such settings file")]
    Missing(PathBuf),
    /// No home folder to keep user data in, and no `--data-dir`.
    #[error("no user data folder; pass --data-dir")]
    NoDataDir,
}

/// How the agent treats the status check (`revocation_check` in the policy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationCheck {
    /// Refuse to sign when the status cannot be established (`REVOCATION_UNAVAILABLE`).
    Require,
    /// Sign after showing a warning in the PIN dialog when the status cannot be established.
    #[default]
    Warn,
    /// Do not check (a revoked certificate is then not noticed).
    Off,
}

impl RevocationCheck {
    /// Parses the policy text (`require`, `warn`, `off`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "require" => Some(Self::Require),
            "warn" => Some(Self::Warn),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// The keys a settings file or the policy may set. Unknown keys are refused so that a typo in a
/// policy pushed to hundreds of machines is caught, not ignored.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTPS port on loopback (default 47400): the first of the range the agent tries.
    pub port: Option<u16>,
    /// How many ports from `port` the agent may take (default 10: 47400–47409): on a shared
    /// terminal server each user's agent takes the first free one.
    pub port_range: Option<u16>,
    /// Exact origins (`https://dms.example.gov.vn`) allowed to call the agent.
    pub allowed_origins: Option<Vec<String>>,
    /// Whether users may approve origins that the policy does not list (default true).
    pub user_approvals: Option<bool>,
    /// PKCS#11 module paths to load, in addition to discovered ones.
    pub pkcs11_modules: Option<Vec<PathBuf>>,
    /// Whether to look for the registry's known modules (default true).
    pub discover_modules: Option<bool>,
    /// PEM files of intermediate/root certificates to send along when the token lacks them.
    pub chain_certificates: Option<Vec<PathBuf>>,
    /// PEM files of root certificates trusted when verifying received PDFs (the Ban Cơ yếu
    /// and national roots IT installs).
    pub trust_anchors: Option<Vec<PathBuf>>,
    /// RFC 3161 timestamp authority (`http://…`) used when embedding signatures (PAdES B-T).
    pub tsa_url: Option<String>,
    /// The agency seal's real width in millimetres, for seal images whose PNG does not say
    /// its resolution (seals differ by agency: Nghị định 30 prints them at their real size).
    pub seal_size_mm: Option<f64>,
    /// Seconds the user has to answer a prompt (default 120).
    pub prompt_timeout_secs: Option<u64>,
    /// Seconds a token may take for one call (default 30).
    pub token_timeout_secs: Option<u64>,
    /// Seconds between slot scans (default 1.5).
    pub poll_interval_ms: Option<u64>,
    /// Wrong PINs that lock the tokens in use (default 3), for "retries left".
    pub pin_retry_limit: Option<u32>,
    /// Whether the login entry (XDG autostart, the Windows Run key, the LaunchAgent) starts the
    /// agent (default true). IT turns it off here or with the MSI's `AUTOSTART=0`.
    pub autostart: Option<bool>,
    /// Never fetch revocation data (OCSP, CRLs) over the network: air-gapped receiving
    /// machines verify with the evidence in the document and the files given (default false).
    pub offline: Option<bool>,
    /// The certificate status check before signing (Thông tư 15/2025): `require` refuses to
    /// sign when the status cannot be established, `warn` (default) warns in the PIN dialog,
    /// `off` does not check.
    pub revocation_check: Option<RevocationCheck>,
    /// DMS-attested origins (policy only): the DMS server's public keys that sign tickets,
    /// and whether a ticket is required (`[attested_origins."https://qlvb.example.gov.vn"]`).
    pub attested_origins: Option<std::collections::BTreeMap<String, AttestedOriginSettings>>,
}

/// One origin's attestation settings (see [`crate::signing::ticket`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttestedOriginSettings {
    /// PEM public keys (`PUBLIC KEY`, `RSA PUBLIC KEY`) or certificates of the DMS server.
    pub keys: Vec<PathBuf>,
    /// Refuse requests from this origin that carry no valid ticket.
    #[serde(default)]
    pub require_ticket: bool,
}

/// Where a module path came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The user's file.
    User,
    /// The system policy.
    Policy,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// HTTPS port: the first of the range.
    pub port: u16,
    /// Ports the agent may take from `port` (at least 1).
    pub port_range: u16,
    /// Allowed origins.
    pub allowed_origins: Vec<String>,
    /// User approvals of origins allowed.
    pub user_approvals: bool,
    /// Configured module paths and their source.
    pub pkcs11_modules: Vec<(PathBuf, Source)>,
    /// Discover known modules.
    pub discover_modules: bool,
    /// Chain certificate files.
    pub chain_certificates: Vec<PathBuf>,
    /// Trust anchors for verification.
    pub trust_anchors: Vec<PathBuf>,
    /// Timestamp authority.
    pub tsa_url: Option<String>,
    /// The seal's real width, mm, when its PNG does not say it.
    pub seal_size_mm: Option<f64>,
    /// Never fetch revocation data over the network.
    pub offline: bool,
    /// The status check before signing.
    pub revocation_check: RevocationCheck,
    /// DMS-attested origins and their keys (from the policy only: a user's file cannot make a
    /// site look attested).
    pub attested_origins: Vec<(String, AttestedOriginSettings)>,
    /// Prompt timeout.
    pub prompt_timeout: Duration,
    /// Token call timeout.
    pub token_timeout: Duration,
    /// Slot poll interval.
    pub poll_interval: Duration,
    /// PIN retry limit.
    pub pin_retry_limit: Option<u32>,
    /// Start at login.
    pub autostart: bool,
    /// Folder for agent data (CA, approvals, logs).
    pub data_dir: PathBuf,
    /// The user file read (or that would be read).
    pub user_file: PathBuf,
    /// The policy file read (or that would be read).
    pub policy_file: PathBuf,
    /// Whether the policy file existed.
    pub policy_present: bool,
}

/// Ports the agent may take by default: 47400–47409.
pub const DEFAULT_PORT_RANGE: u16 = 10;

/// The port of the running agent: where it wrote it at start (`DATA_DIR/port`), else the first
/// of the range.
pub fn running_port(config: &Config) -> u16 {
    std::fs::read_to_string(config.data_dir.join("port"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(config.port)
}

/// The default HTTPS port.
pub const DEFAULT_PORT: u16 = 47400;

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("vn", "Kyso", "kyso")
}

/// The policy path for this OS (or `$KYSO_POLICY_FILE`).
pub fn policy_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KYSO_POLICY_FILE") {
        return PathBuf::from(path);
    }
    if cfg!(target_os = "windows") {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("Kyso").join("policy.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Kyso/policy.toml")
    } else {
        PathBuf::from("/etc/kyso/policy.toml")
    }
}

fn read_settings(path: &Path) -> Result<Option<Settings>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    toml::from_str(&text).map(Some).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// The policy keys a registry (or any name → text source) can carry, read the way the MSI
/// properties and the ADMX template write them: lists separated by `;` (origins also by spaces
/// or commas), booleans as `0`/`1`, empty values unset.
pub fn settings_from_values(get: impl Fn(&str) -> Option<String>) -> Settings {
    let text = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let paths = |name: &str| {
        text(name).map(|v| {
            v.split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
    };
    Settings {
        port: text("Port").and_then(|v| v.parse().ok()),
        port_range: text("PortRange").and_then(|v| v.parse().ok()),
        allowed_origins: text("AllowedOrigins").map(|v| {
            v.split([';', ',', ' ', '\n'])
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect()
        }),
        user_approvals: text("UserApprovals").map(|v| v != "0"),
        pkcs11_modules: paths("Pkcs11Modules"),
        discover_modules: text("DiscoverModules").map(|v| v != "0"),
        trust_anchors: paths("TrustAnchors"),
        tsa_url: text("TsaUrl"),
        autostart: text("Autostart").map(|v| v != "0"),
        offline: text("Offline").map(|v| v != "0"),
        revocation_check: text("RevocationCheck").and_then(|v| RevocationCheck::parse(&v)),
        attested_origins: attested_from_values(text("AttestedOrigins"), text("TicketRequired")),
        ..Settings::default()
    }
}

/// The registry's (and the MSI's) form of `attested_origins`: `AttestedOrigins` lists
/// `ORIGIN=KEY[,KEY…]` entries separated by `;`, and `TicketRequired` the origins (separated
/// by `;`, `,` or spaces) that must send a ticket.
fn attested_from_values(
    attested: Option<String>,
    required: Option<String>,
) -> Option<std::collections::BTreeMap<String, AttestedOriginSettings>> {
    let attested = attested?;
    let required: Vec<String> = required
        .unwrap_or_default()
        .split([';', ',', ' ', '\n'])
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    Some(
        attested
            .split(';')
            .filter_map(|entry| entry.split_once('='))
            .map(|(origin, keys)| {
                let origin = origin.trim().to_string();
                let settings = AttestedOriginSettings {
                    keys: keys
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(PathBuf::from)
                        .collect(),
                    require_ticket: required.contains(&origin),
                };
                (origin, settings)
            })
            .collect(),
    )
}

/// `over`'s keys win over `base`'s (both are policy: the registry over the file).
fn overlay(base: Settings, over: Settings) -> Settings {
    Settings {
        port: over.port.or(base.port),
        port_range: over.port_range.or(base.port_range),
        allowed_origins: over.allowed_origins.or(base.allowed_origins),
        user_approvals: over.user_approvals.or(base.user_approvals),
        pkcs11_modules: over.pkcs11_modules.or(base.pkcs11_modules),
        discover_modules: over.discover_modules.or(base.discover_modules),
        chain_certificates: over.chain_certificates.or(base.chain_certificates),
        trust_anchors: over.trust_anchors.or(base.trust_anchors),
        tsa_url: over.tsa_url.or(base.tsa_url),
        seal_size_mm: over.seal_size_mm.or(base.seal_size_mm),
        prompt_timeout_secs: over.prompt_timeout_secs.or(base.prompt_timeout_secs),
        token_timeout_secs: over.token_timeout_secs.or(base.token_timeout_secs),
        poll_interval_ms: over.poll_interval_ms.or(base.poll_interval_ms),
        pin_retry_limit: over.pin_retry_limit.or(base.pin_retry_limit),
        autostart: over.autostart.or(base.autostart),
        offline: over.offline.or(base.offline),
        revocation_check: over.revocation_check.or(base.revocation_check),
        attested_origins: over.attested_origins.or(base.attested_origins),
    }
}

impl Config {
    /// Where `kyso run` writes `kyso.log` (the tray's "open the log folder").
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// Loads the user file (`user_file` or the default), then the policy, and merges them.
    ///
    /// # Errors
    /// A file that exists but cannot be read or parsed; no data folder.
    pub fn load(user_file: Option<&Path>, data_dir: Option<&Path>) -> Result<Self, Error> {
        let dirs = project_dirs();
        let user_file = match (user_file, &dirs) {
            (Some(path), _) if !path.exists() => return Err(Error::Missing(path.to_path_buf())),
            (Some(path), _) => path.to_path_buf(),
            (None, Some(dirs)) => dirs.config_dir().join("config.toml"),
            (None, None) => PathBuf::from("kyso.toml"),
        };
        let data_dir = match (data_dir, &dirs) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(dirs)) => dirs.data_dir().to_path_buf(),
            (None, None) => return Err(Error::NoDataDir),
        };
        let policy_file = policy_path();
        let user = read_settings(&user_file)?.unwrap_or_default();
        let mut policy = read_settings(&policy_file)?;
        // The machine policy in the registry (Windows; nothing elsewhere), unless a test or an
        // administrator points KYSO_POLICY_FILE somewhere on purpose.
        if std::env::var_os("KYSO_POLICY_FILE").is_none() {
            let registry = settings_from_values(crate::platform::policy::registry_value);
            if registry != Settings::default() {
                policy = Some(overlay(policy.unwrap_or_default(), registry));
            }
        }
        let policy_present = policy.is_some();
        Ok(Self::merge(
            user,
            policy.unwrap_or_default(),
            data_dir,
            user_file,
            policy_file,
            policy_present,
        ))
    }

    /// Merges: a key the policy sets wins; then the user's; then the default.
    pub fn merge(
        user: Settings,
        policy: Settings,
        data_dir: PathBuf,
        user_file: PathBuf,
        policy_file: PathBuf,
        policy_present: bool,
    ) -> Self {
        let pkcs11_modules = match (policy.pkcs11_modules, user.pkcs11_modules) {
            (Some(list), _) => list.into_iter().map(|p| (p, Source::Policy)).collect(),
            (None, Some(list)) => list.into_iter().map(|p| (p, Source::User)).collect(),
            (None, None) => Vec::new(),
        };
        Self {
            port: policy.port.or(user.port).unwrap_or(DEFAULT_PORT),
            port_range: policy
                .port_range
                .or(user.port_range)
                .unwrap_or(DEFAULT_PORT_RANGE)
                .max(1),
            allowed_origins: policy
                .allowed_origins
                .or(user.allowed_origins)
                .unwrap_or_default(),
            user_approvals: policy
                .user_approvals
                .or(user.user_approvals)
                .unwrap_or(true),
            pkcs11_modules,
            discover_modules: policy
                .discover_modules
                .or(user.discover_modules)
                .unwrap_or(true),
            chain_certificates: policy
                .chain_certificates
                .or(user.chain_certificates)
                .unwrap_or_default(),
            tsa_url: policy.tsa_url.or(user.tsa_url),
            seal_size_mm: policy.seal_size_mm.or(user.seal_size_mm),
            offline: policy.offline.or(user.offline).unwrap_or(false),
            revocation_check: policy
                .revocation_check
                .or(user.revocation_check)
                .unwrap_or_default(),
            attested_origins: {
                if user.attested_origins.is_some() {
                    tracing::warn!("attested_origins in the user's settings is ignored: only the policy may set it");
                }
                policy
                    .attested_origins
                    .unwrap_or_default()
                    .into_iter()
                    .collect()
            },
            trust_anchors: policy
                .trust_anchors
                .or(user.trust_anchors)
                .unwrap_or_default(),
            prompt_timeout: Duration::from_secs(
                policy
                    .prompt_timeout_secs
                    .or(user.prompt_timeout_secs)
                    .unwrap_or(120),
            ),
            token_timeout: Duration::from_secs(
                policy
                    .token_timeout_secs
                    .or(user.token_timeout_secs)
                    .unwrap_or(30),
            ),
            poll_interval: Duration::from_millis(
                policy
                    .poll_interval_ms
                    .or(user.poll_interval_ms)
                    .unwrap_or(1500),
            ),
            pin_retry_limit: policy.pin_retry_limit.or(user.pin_retry_limit).or(Some(3)),
            autostart: policy.autostart.or(user.autostart).unwrap_or(true),
            data_dir,
            user_file,
            policy_file,
            policy_present,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attested_origins_come_from_the_policy_file_or_the_registry_never_the_users_file() {
        let policy: Settings = toml::from_str(
            "[attested_origins.\"https://qlvb.example.gov.vn\"]\nkeys = [\"/etc/kyso/dms/qlvb.pem\"]\nrequire_ticket = true\n",
        )
        .expect("toml");
        let user: Settings = toml::from_str(
            "[attested_origins.\"https://evil.example\"]\nkeys = [\"/tmp/evil.pem\"]\n",
        )
        .expect("toml");
        let config = Config::merge(
            user,
            policy,
            PathBuf::from("d"),
            PathBuf::from("u"),
            PathBuf::from("p"),
            true,
        );
        assert_eq!(
            config.attested_origins,
            vec![(
                "https://qlvb.example.gov.vn".to_string(),
                AttestedOriginSettings {
                    keys: vec![PathBuf::from("/etc/kyso/dms/qlvb.pem")],
                    require_ticket: true,
                }
            )]
        );
        let registry = settings_from_values(|name| {
            match name {
            "AttestedOrigins" => Some(
                "https://qlvb.example.gov.vn=C:\\dms\\a.pem, C:\\dms\\b.pem;https://vb.example.gov.vn=C:\\dms\\vb.pem"
                    .to_string(),
            ),
            "TicketRequired" => Some("https://qlvb.example.gov.vn".to_string()),
            _ => None,
        }
        });
        let attested = registry.attested_origins.expect("attested");
        assert_eq!(attested.len(), 2);
        let qlvb = &attested["https://qlvb.example.gov.vn"];
        assert_eq!(qlvb.keys.len(), 2);
        assert!(qlvb.require_ticket);
        assert!(!attested["https://vb.example.gov.vn"].require_ticket);
    }

    #[test]
    fn registry_values_map_to_policy_settings_and_win_over_the_policy_file() {
        let values = |name: &str| match name {
            "AllowedOrigins" => {
                Some("https://dms.example.gov.vn; https://qlvb.example.gov.vn".to_string())
            }
            "Pkcs11Modules" => Some("C:\\Windows\\System32\\eps2003csp11v2.dll;".to_string()),
            "TrustAnchors" => Some(" ".to_string()),
            "UserApprovals" => Some("0".to_string()),
            _ => None,
        };
        let registry = settings_from_values(values);
        assert_eq!(
            registry.allowed_origins.as_deref(),
            Some(
                &[
                    "https://dms.example.gov.vn".to_string(),
                    "https://qlvb.example.gov.vn".to_string()
                ][..]
            )
        );
        assert_eq!(
            registry.pkcs11_modules,
            Some(vec![PathBuf::from(
                "C:\\Windows\\System32\\eps2003csp11v2.dll"
            )])
        );
        assert_eq!(registry.trust_anchors, None, "an empty value is unset");
        assert_eq!(registry.user_approvals, Some(false));
        let file: Settings = toml::from_str(
            "allowed_origins = [\"https://old.example.gov.vn\"]\ntrust_anchors = [\"C:\\\\roots\"]\n",
        )
        .expect("toml");
        let merged = overlay(file, registry);
        assert_eq!(merged.allowed_origins.map(|o| o.len()), Some(2));
        assert_eq!(merged.trust_anchors, Some(vec![PathBuf::from("C:\\roots")]));
    }

    use super::*;

    fn parse(text: &str) -> Settings {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn policy_keys_win_over_user_keys_and_defaults_fill_the_rest() {
        let user = parse(
            "port = 1234\nallowed_origins = [\"https://user.example\"]\npkcs11_modules = [\"/u.so\"]",
        );
        let policy = parse("allowed_origins = [\"https://dms.gov.vn\"]\ndiscover_modules = false");
        let config = Config::merge(user, policy, "/d".into(), "/u".into(), "/p".into(), true);
        assert_eq!(config.port, 1234);
        assert_eq!(
            config.allowed_origins,
            vec!["https://dms.gov.vn".to_string()]
        );
        assert!(!config.discover_modules);
        assert_eq!(
            config.pkcs11_modules,
            vec![(PathBuf::from("/u.so"), Source::User)]
        );
        assert_eq!(config.prompt_timeout, Duration::from_secs(120));
    }

    #[test]
    fn revocation_check_comes_from_the_policy_the_registry_or_the_default() {
        let policy = parse("revocation_check = \"require\"");
        let user = parse("revocation_check = \"off\"");
        let merged = Config::merge(user, policy, "/d".into(), "/u".into(), "/p".into(), true);
        assert_eq!(merged.revocation_check, RevocationCheck::Require);
        let default = Config::merge(
            Settings::default(),
            Settings::default(),
            "/d".into(),
            "/u".into(),
            "/p".into(),
            false,
        );
        assert_eq!(default.revocation_check, RevocationCheck::Warn);
        assert!(toml::from_str::<Settings>("revocation_check = \"sometimes\"").is_err());
        let registry =
            settings_from_values(|name| (name == "RevocationCheck").then(|| "Require".to_string()));
        assert_eq!(registry.revocation_check, Some(RevocationCheck::Require));
        assert_ne!(
            registry,
            Settings::default(),
            "a registry value alone is policy"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Settings>("prot = 1").is_err());
    }
}
