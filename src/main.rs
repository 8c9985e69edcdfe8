//! The `kyso` command line: list certificates, sign a digest, diagnose the workstation, bench.
//! No logic here: parse, wire through [`kyso::app`], print.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

use kyso::app::{self, App};
use kyso::config::Config;

#[derive(Parser)]
#[command(
    name = "kyso",
    version,
    about = "Kyso — ký số văn bản bằng USB token / sign documents with a USB token",
    after_long_help = "EXIT STATUS: 0 success (valid, for the verify commands); 1 invalid, or a \
signing error (its stable code is printed, e.g. PIN_INCORRECT); 2 validity unknown (verify), or \
a failure before the work started (a missing file, a port in use); 3 a usage error (an unknown \
option or value).\n\nFILES: the user's settings config.toml (`kyso doctor` shows where); the \
machine policy /etc/kyso/policy.toml (Linux), /Library/Application Support/Kyso/policy.toml (macOS) \
or HKLM\\SOFTWARE\\Policies\\Kyso (Windows); the bridge's /etc/kyso/bridge.toml and \
bridge.token.\n\nENVIRONMENT: KYSO_LOG (log filter, e.g. debug), KYSO_LOG_FORMAT (text or \
json), KYSO_POLICY_FILE (another policy file), KYSO_BRIDGE_TOKEN_FILE, KYSO_PDF_PASSWORD."
)]
struct Cli {
    /// Settings file (default: the user's config.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Folder for Kyso's data (default: the user's data folder).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// How to ask for the PIN: `gui` (native dialogs; the default of `kyso run`), `terminal`
    /// (the default of the other commands), or `scripted:FILE` for tests.
    #[arg(long, global = true)]
    prompter: Option<String>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log lines as `text` or `json` (default: json for `kyso bridge`, text otherwise).
    #[arg(long, global = true, value_enum, env = "KYSO_LOG_FORMAT")]
    log_format: Option<cli::values::LogFormat>,
    /// Without a command: `kyso run`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
enum Command {
    /// List tokens and the signing certificates on them.
    Certs {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Only personal or organisation certificates.
        #[arg(long, value_enum)]
        kind: Option<cli::values::Kind>,
    },
    /// Sign a digest (or server-built signed attributes) with a certificate on a token.
    Sign(cli::sign::SignCommand),
    /// Check the workstation: modules, tokens, PIN states, certificates and their expiry.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the agent with its tray icon and native dialogs (the default; what autostart runs).
    Run {
        /// Port on 127.0.0.1 and [::1] (default from the configuration, 47400; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Started by the login entry: exit at once when the policy says `autostart = false`.
        #[arg(long, hide = true)]
        autostart: bool,
    },
    /// Run the HTTPS agent without a GUI (what tests and servers use).
    Serve {
        /// Port on 127.0.0.1 and [::1] (default from the configuration, 47400; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Ask the running agent for its status.
    Status {
        /// Port of the running agent (default from the configuration).
        #[arg(long)]
        port: Option<u16>,
    },
    /// The agent's local CA in the browsers' trust stores.
    Trust {
        #[command(subcommand)]
        action: cli::trust::TrustAction,
    },
    /// The browsers' managed policies that let the DMS origins reach the agent without the
    /// Local Network Access prompt (Chrome, Edge, Chromium, Firefox).
    Browsers {
        #[command(subcommand)]
        action: cli::browsers::BrowsersAction,
    },
    /// Websites (origins) allowed to use the agent.
    Origins {
        #[command(subcommand)]
        action: cli::origins::OriginsAction,
    },
    /// Certificate checks: path validation (RFC 5280) and revocation (OCSP, CRL).
    Cert {
        #[command(subcommand)]
        action: cli::cert::CertAction,
    },
    /// PDF tools for the DMS server: prepare, embed, sign in one step.
    Pdf {
        #[command(subcommand)]
        action: cli::pdf::PdfAction,
    },
    /// The PDF bridge for DMS servers: prepare, embed, verify over HTTP (stateless).
    Bridge(cli::bridge::BridgeArgs),
    /// The whole workflow on a SoftHSM2 demo token: agent, bridge and demo page (tests/demo.sh
    /// prepares DIR).
    Demo {
        /// Folder made by tests/demo.sh: token/, docs/, pins.toml.
        #[arg(long)]
        dir: PathBuf,
        /// Sign the sample as leader then clerk, verify, print the signed PDF's path.
        #[arg(long)]
        headless: bool,
        /// Agent port (0: a free one).
        #[arg(long, default_value_t = 47400)]
        agent_port: u16,
        /// Bridge and demo page port (0: a free one).
        #[arg(long, default_value_t = 47480)]
        bridge_port: u16,
        /// Attested requests: the bridge mints DMS tickets with a demo key and the agent's
        /// policy requires them from the page's origin.
        #[arg(long)]
        attested: bool,
        /// The web-sdk folder (demo page and built SDK).
        #[arg(long, default_value = "web-sdk")]
        web_dir: PathBuf,
    },
    /// Print the manual page (roff), generated from this command line: `kyso man | man -l -`;
    /// with `--dir`, write kyso.1 and one page per command (kyso-sign.1…) there.
    Man {
        /// Folder to write every page to.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print the completion script of a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// (internal) Show one native dialog: request JSON on stdin, answer JSON on stdout.
    #[cfg(feature = "desktop")]
    #[command(hide = true)]
    Dialog,
    /// Measure the CMS path against raw C_Sign on each signing key.
    Bench {
        /// Certificates to measure (id or prefix; repeat for several). Default: every valid
        /// signing certificate on a present token (each token asks for its own PIN).
        #[arg(long)]
        cert: Vec<String>,
        /// Interleaved pairs per key.
        #[arg(long, default_value_t = 300)]
        iterations: usize,
        /// Also start `kyso serve` and measure it over HTTPS (first certificate).
        #[arg(long)]
        agent: bool,
    },
}

fn main() -> ExitCode {
    // While the process has one thread: the only time the system's UTC offset can be read.
    kyso::i18n::init_local_offset();
    // Usage errors exit 3: 1 and 2 are verdicts (invalid, validity unknown) for the verify
    // commands, and a script must never read a typo as "validity unknown".
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 3 } else { 0 });
        }
    };
    // The bridge is a service: JSON lines and its access log (info) by default.
    let service = matches!(cli.command, Some(Command::Bridge(_)));
    let json = match cli.log_format {
        Some(format) => format == cli::values::LogFormat::Json,
        None => service,
    };
    init_logging(cli.verbose.max(u8::from(service)), json);
    let command = cli.command.take().unwrap_or(Command::Run {
        port: None,
        autostart: false,
    });
    match run(cli, command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("kyso: {message}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to standard error, and for `kyso run` (started by autostart, with no terminal) also
/// to `DATA_DIR/logs/kyso.log`, the folder the tray opens.
mod log_sink {
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};

    static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

    /// Starts copying log lines to `path` (appending).
    pub fn write_to(path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let _ = kyso::platform::files::private_dir(dir);
        }
        if let Ok(file) = kyso::platform::files::append_private(path) {
            let _ = FILE.set(Mutex::new(file));
        }
    }

    /// The writer handed to `tracing_subscriber`.
    pub struct Sink;

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(file) = FILE.get() {
                if let Ok(mut file) = file.lock() {
                    let _ = file.write_all(buf);
                }
            }
            std::io::stderr().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            std::io::stderr().flush()
        }
    }
}

fn init_logging(verbose: u8, json: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KYSO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| log_sink::Sink);
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
}

fn run(cli: Cli, command: Command) -> Result<ExitCode, String> {
    #[cfg(feature = "desktop")]
    if let Command::Dialog = command {
        return kyso::ui::dialog::run_child().map(|_| ExitCode::SUCCESS);
    }
    match &command {
        Command::Man { dir } => {
            let cli = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    clap_mangen::generate_to(cli, dir).map_err(|e| e.to_string())?;
                }
                None => {
                    let mut page = Vec::new();
                    clap_mangen::Man::new(cli)
                        .render(&mut page)
                        .map_err(|e| e.to_string())?;
                    std::io::Write::write_all(&mut std::io::stdout(), &page)
                        .map_err(|e| e.to_string())?;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cli, "kyso", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let Command::Demo {
        dir,
        headless,
        agent_port,
        bridge_port,
        web_dir,
        attested,
    } = &command
    {
        return cli::demo::command(
            dir,
            *headless,
            *agent_port,
            *bridge_port,
            web_dir,
            *attested,
        );
    }
    // The same global options, for a child `kyso serve` (the agent benchmark).
    let prompter = cli.prompter.clone().unwrap_or_else(|| {
        match command {
            Command::Run { .. } if cfg!(feature = "desktop") => "gui",
            _ => "terminal",
        }
        .to_string()
    });
    let mut child_args: Vec<std::ffi::OsString> =
        vec!["--prompter".into(), prompter.clone().into()];
    if let Some(config) = &cli.config {
        child_args.extend(["--config".into(), config.clone().into_os_string()]);
    }
    if let Some(data) = &cli.data_dir {
        child_args.extend(["--data-dir".into(), data.clone().into_os_string()]);
    }
    let config =
        Config::load(cli.config.as_deref(), cli.data_dir.as_deref()).map_err(|e| e.to_string())?;
    // Commands that need no token.
    match &command {
        Command::Trust { action } => return cli::trust::trust(&config, action),
        Command::Browsers { action } => return Ok(cli::browsers::run(&config, action)),
        Command::Cert { action } => return Ok(cli::cert::run(&config, action)),
        Command::Pdf { action } if !matches!(action, cli::pdf::PdfAction::Sign { .. }) => {
            return cli::pdf::run(&config, action)
        }
        Command::Status { port } => {
            return cli::agent::agent_status(
                &config,
                port.unwrap_or_else(|| kyso::config::running_port(&config)),
            )
        }
        Command::Bridge(args) => return cli::bridge::run(&config, args),
        _ => {}
    }
    if let Command::Run { autostart, .. } = command {
        if autostart && !config.autostart {
            tracing::info!("autostart is off by policy; not starting");
            return Ok(ExitCode::SUCCESS);
        }
        log_sink::write_to(&config.log_dir().join("kyso.log"));
    }
    if matches!(command, Command::Run { .. } | Command::Serve { .. }) {
        kyso::platform::memory::release_cached_executable();
    }
    let prompt = app::prompter(&prompter).map_err(|e| e.to_string())?;
    let app = App::start(config, prompt).map_err(|e| e.to_string())?;
    match command {
        Command::Certs { json, kind } => cli::certs::certs(&app, json, kind.map(Into::into)),
        Command::Sign(args) => cli::sign::run(&app, args),
        Command::Doctor { json } => cli::doctor::doctor(&app, json),
        #[cfg(feature = "desktop")]
        Command::Run { port, .. } => cli::agent::run_desktop(app, port),
        #[cfg(not(feature = "desktop"))]
        Command::Run { port, .. } => cli::agent::serve(&app, port),
        Command::Serve { port } => cli::agent::serve(&app, port),
        Command::Origins { action } => cli::origins::origins(&app, action),
        Command::Pdf { action } => cli::pdf::sign(&app, action),
        Command::Bench {
            cert,
            iterations,
            agent,
        } => cli::bench::command(&app, &cert, iterations, agent, &child_args),
        // Handled above, before the tokens are started.
        Command::Trust { .. }
        | Command::Browsers { .. }
        | Command::Cert { .. }
        | Command::Status { .. }
        | Command::Bridge(_)
        | Command::Man { .. }
        | Command::Completions { .. }
        | Command::Demo { .. } => Ok(ExitCode::SUCCESS),
        #[cfg(feature = "desktop")]
        Command::Dialog => Ok(ExitCode::SUCCESS),
    }
}
