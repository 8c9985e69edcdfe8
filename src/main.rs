//! The `kyso` command line: list certificates, sign a digest, diagnose the workstation, bench.
//! No logic here: parse, wire through [`kyso::app`], print.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use clap::{Parser, Subcommand};

mod cli;

use kyso::api::{self, Document, ErrorBody, ErrorResponse, Lang, Purpose};
use kyso::app::{self, App};
use kyso::certificate::{self, Kind};
use kyso::config::Config;
use kyso::digest::DigestAlgorithm;
use kyso::signing::{self, Payload, SignOrder};
use kyso::token::TokenProvider;
use kyso::ui::report;

#[derive(Parser)]
#[command(
    name = "kyso",
    version,
    about = "Kyso — ký số văn bản bằng USB token / sign documents with a USB token"
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
        /// Only `personal` or `organization` certificates.
        #[arg(long)]
        kind: Option<String>,
    },
    /// Sign a digest (or server-built signed attributes) with a certificate on a token.
    Sign {
        /// Certificate id (hex SHA-256, as `kyso certs` prints; a unique prefix is enough).
        #[arg(long)]
        cert: String,
        /// Base64 digest of the data (format cms).
        #[arg(long)]
        digest: Option<String>,
        /// Base64 DER of signed attributes, or @FILE with the DER (format raw).
        #[arg(long)]
        signed_attrs: Option<String>,
        /// Digest algorithm: SHA-256, SHA-384 or SHA-512.
        #[arg(long, default_value = "SHA-256")]
        alg: String,
        /// `cms` (detached CAdES-BES SignedData) or `raw` (bare signature value).
        #[arg(long, default_value = "cms")]
        format: String,
        /// Sign with RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys).
        #[arg(long)]
        pss: bool,
        /// Document title shown in the prompt.
        #[arg(long, default_value = "Văn bản ký từ dòng lệnh")]
        title: String,
        /// Document number shown in the prompt.
        #[arg(long)]
        number: Option<String>,
        /// approve | issue | appendix | copy | incoming.
        #[arg(long, default_value = "approve")]
        purpose: String,
        /// Where to write the DER CMS (or the raw signature).
        #[arg(long)]
        out: PathBuf,
        /// Print the API-style JSON answer on standard output.
        #[arg(long)]
        json: bool,
        /// Write the revocation evidence checked before signing into DIR (ocsp-N.der,
        /// crl-N.der), for `kyso pdf embed --revocation` (PAdES B-LT).
        #[arg(long)]
        revocation_out: Option<PathBuf>,
    },
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
        action: TrustAction,
    },
    /// Websites (origins) allowed to use the agent.
    Origins {
        #[command(subcommand)]
        action: OriginsAction,
    },
    /// Certificate checks: path validation (RFC 5280) and revocation (OCSP, CRL).
    Cert {
        #[command(subcommand)]
        action: CertAction,
    },
    /// PDF tools for the DMS server: prepare, embed, sign in one step.
    Pdf {
        #[command(subcommand)]
        action: PdfAction,
    },
    /// The PDF bridge for DMS servers: prepare, embed, verify over HTTP (stateless).
    Bridge {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:47480")]
        listen: std::net::SocketAddr,
        /// Serve the demo page and the SDK from this web-sdk folder.
        #[arg(long)]
        web_dir: Option<PathBuf>,
        /// Largest request body, MiB.
        #[arg(long, default_value_t = 64)]
        max_body_mb: usize,
        /// Operations at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// CRLs (PEM or DER) applied to every verification (air-gapped servers).
        #[arg(long)]
        crl: Vec<PathBuf>,
    },
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
        /// The web-sdk folder (demo page and built SDK).
        #[arg(long, default_value = "web-sdk")]
        web_dir: PathBuf,
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

#[derive(Subcommand)]
enum TrustAction {
    /// Create the local CA if needed and trust it (NSS databases of Chrome/Chromium and Firefox).
    Install {
        /// Also the machine-wide store (needs root; every user of the machine then trusts it).
        #[arg(long)]
        system: bool,
    },
    /// Where the local CA is trusted.
    Status,
    /// Remove the local CA from every store.
    Uninstall,
    /// Print the local CA certificate (PEM).
    ExportCa,
    /// Add root certificates (files, or folders of .pem/.crt/.cer/.der) to the machine's trust
    /// store for every user — what the installers run as root/SYSTEM with the agency's roots.
    Anchors {
        /// Certificate files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(clap::Args, Clone)]
struct StampArgs {
    /// approve (leader: --image signature at --rect), issue (clerk: --image seal over the left
    /// third of the leader's signature at its real size, --number, --date), appendix (--number
    /// of the main document, top right), copy (--copy-form, top right), incoming (the "ĐẾN"
    /// block: --number, --date, --forward-to, --file-reference).
    #[arg(long, default_value = "approve")]
    role: String,
    /// Document number: the number to write (issue) or the main document's number and symbol
    /// (appendix).
    #[arg(long)]
    number: Option<String>,
    /// Issue date YYYY-MM-DD (issue), written "ngày dd tháng mm năm yyyy".
    #[arg(long)]
    date: Option<String>,
    /// Where the number goes: PAGE:X,Y (baseline start, points).
    #[arg(long)]
    number_at: Option<String>,
    /// Where the date goes: PAGE:X,Y.
    #[arg(long)]
    date_at: Option<String>,
    /// "SAO Y", "SAO LỤC" or "TRÍCH SAO" (copy).
    #[arg(long)]
    copy_form: Option<String>,
    /// The copying organisation (copy; default: the certificate's O).
    #[arg(long)]
    organization: Option<String>,
    /// TrueType font for text stamps (default: Liberation Serif / Times New Roman).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Incoming: "Chuyển" (forwarded to).
    #[arg(long)]
    forward_to: Option<String>,
    /// Incoming: "Số và ký hiệu HS" (file reference).
    #[arg(long)]
    file_reference: Option<String>,
    /// An agency's own stamp text, lines separated by |, with {signer}, {organization}, {time}.
    #[arg(long)]
    text: Option<String>,
    /// Add an RFC 3161 signature timestamp from this TSA (sign; default: the configured tsa_url).
    #[arg(long)]
    tsa: Option<String>,
    /// The signer's certificate (PEM or DER): its holder goes into /Name.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// PNG shown in the stamp (the leader's signature, the agency's seal).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Page of the stamp, from 1.
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Stamp rectangle in points: x,y,width,height (origin bottom-left). None: invisible.
    #[arg(long)]
    rect: Option<String>,
    /// Instead of --rect: centre the image above the line holding this text (the signer's
    /// name line), searched from the last page.
    #[arg(long)]
    anchor: Option<String>,
    /// Field name (default Signature1, Signature2…).
    #[arg(long)]
    field: Option<String>,
    /// /Reason.
    #[arg(long)]
    reason: Option<String>,
    /// DER bytes reserved for the CMS.
    #[arg(long, default_value_t = kyso::pades::prepare::DEFAULT_CONTENTS_SIZE)]
    contents_size: usize,
}

#[derive(Subcommand)]
enum PdfAction {
    /// Add a signature field and placeholder; print the digest to sign (last line).
    Prepare {
        /// The PDF.
        input: PathBuf,
        /// The prepared PDF.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        stamp: StampArgs,
        /// Print JSON {digest, byteRange, field, capacity}.
        #[arg(long)]
        json: bool,
    },
    /// Write a CMS into a prepared PDF after checking it belongs to it.
    Embed {
        /// The prepared PDF.
        input: PathBuf,
        /// The DER CMS.
        #[arg(long)]
        cms: PathBuf,
        /// The signed PDF.
        #[arg(short, long)]
        output: PathBuf,
        /// Add an RFC 3161 signature timestamp from this TSA (default: the configured tsa_url).
        #[arg(long)]
        tsa: Option<String>,
        /// PAdES B-LT: revocation data to store in the document security store — DER OCSP
        /// responses or CRLs (DER or PEM), as `kyso sign` and /v1/sign return them.
        #[arg(long, num_args = 1..)]
        revocation: Vec<PathBuf>,
        /// PAdES B-LT: certificates of the chain (PEM or DER) to store with the CMS's own.
        #[arg(long)]
        chain: Vec<PathBuf>,
        /// PAdES B-LT: fetch the chain's OCSP responses (else CRLs) now and store them.
        #[arg(long)]
        fetch_revocation: bool,
        /// PAdES level: B-B, B-T (a signature timestamp), B-LT (and the validation data of
        /// every signature), B-LTA (and a document timestamp). Default: B-T when a TSA is set.
        #[arg(long)]
        level: Option<String>,
        /// Roots the TSA certificate must chain to, besides the configured trust_anchors.
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
    /// PAdES B-LTA: store the validation data of every signature and add a document timestamp
    /// over the whole file. Run it again before the last timestamp expires to extend it.
    Timestamp {
        /// The signed PDF.
        input: PathBuf,
        /// The timestamped PDF.
        #[arg(short, long)]
        output: PathBuf,
        /// The RFC 3161 timestamp authority, http:// or https:// (default: the configured tsa_url).
        #[arg(long)]
        tsa: Option<String>,
        /// Roots the TSA certificate must chain to, besides the configured trust_anchors.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Certificates (PEM or DER) that complete the chains, stored with them.
        #[arg(long)]
        chain: Vec<PathBuf>,
    },
    /// Check every signature: valid, validity unknown, or invalid.
    Verify {
        /// The PDF.
        input: PathBuf,
        /// Trusted root certificates (PEM/DER), besides the configured trust_anchors.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// `issued`: also require a personal and, after it, an organisation signature with its
        /// seal (letter 004); `scanned`: an organisation signature on a scanned paper
        /// document (letter 002, way 1).
        #[arg(long)]
        policy: Option<String>,
        /// CRLs (PEM or DER) to apply, besides the document's own evidence.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Fetch nothing: revocation only from the document's evidence and --crl.
        #[arg(long)]
        offline: bool,
        /// Check the certificate paths only (CRLs given still apply).
        #[arg(long)]
        no_revocation: bool,
        /// Also write a printable Vietnamese report (HTML) to file with the document.
        #[arg(long)]
        report: Option<PathBuf>,
        /// The user password of an encrypted PDF (not needed when it has only an owner
        /// password). Prefer KYSO_PDF_PASSWORD: a command line is visible to other users.
        #[arg(long, env = "KYSO_PDF_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Language of the human output: vi or en.
        #[arg(long, default_value = "vi")]
        lang: String,
    },
    /// Print the text lines of a page with their positions (to choose --rect / --number-at).
    Lines {
        /// The PDF.
        input: PathBuf,
        /// Page, from 1.
        #[arg(long, default_value_t = 1)]
        page: usize,
    },
    /// Prepare, sign with a token (PIN prompt) and embed, in one step.
    Sign {
        /// The PDF.
        input: PathBuf,
        /// Certificate id (or unique prefix) on a token.
        #[arg(long = "with")]
        certificate: String,
        /// The signed PDF.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        stamp: StampArgs,
        /// PAdES level: B-B, B-T, B-LT (with the agent's revocation evidence and the chain),
        /// B-LTA (and a document timestamp). Default: B-T when a TSA is set, else B-B.
        #[arg(long)]
        level: Option<String>,
    },
}

#[derive(Subcommand)]
enum CertAction {
    /// Validate a certificate: exit 0 valid, 1 invalid, 2 validity unknown (3: usage error).
    Verify {
        /// The certificate (PEM or DER).
        cert: PathBuf,
        /// Trusted roots (PEM/DER files or folders); the configured trust anchors are added.
        #[arg(long, num_args = 1..)]
        trust: Vec<PathBuf>,
        /// Untrusted intermediate certificates.
        #[arg(long, num_args = 1..)]
        intermediate: Vec<PathBuf>,
        /// CRLs (PEM or DER) to apply.
        #[arg(long, num_args = 1..)]
        crl: Vec<PathBuf>,
        /// Validation time, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Fetch nothing: revocation only from the CRLs given.
        #[arg(long)]
        offline: bool,
        /// Check the path only (CRLs given with --crl still apply).
        #[arg(long)]
        no_revocation: bool,
        /// What the certificate must be usable for.
        #[arg(long, value_enum, default_value_t = CertPurpose::Any)]
        purpose: CertPurpose,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// `vi` (default) or `en`.
        #[arg(long, default_value = "vi")]
        lang: String,
    },
}

/// `kyso cert verify --purpose`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CertPurpose {
    /// The path only.
    Any,
    /// A document signer: digitalSignature or nonRepudiation.
    Signing,
    /// A timestamping authority: id-kp-timeStamping.
    Timestamping,
    /// A delegated OCSP responder: id-kp-OCSPSigning.
    Ocsp,
}

impl From<CertPurpose> for kyso::pki::path::Purpose {
    fn from(p: CertPurpose) -> Self {
        match p {
            CertPurpose::Any => Self::Any,
            CertPurpose::Signing => Self::DocumentSigning,
            CertPurpose::Timestamping => Self::Timestamping,
            CertPurpose::Ocsp => Self::OcspSigning,
        }
    }
}

#[derive(Subcommand)]
enum OriginsAction {
    /// Origins from the policy and those the user approved.
    List,
    /// Forget a user approval.
    Revoke {
        /// The origin, e.g. https://dms.example.gov.vn
        origin: String,
    },
}

fn main() -> ExitCode {
    // Usage errors exit 3: 1 and 2 are verdicts (invalid, validity unknown) for the verify
    // commands, and a script must never read a typo as "validity unknown".
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 3 } else { 0 });
        }
    };
    init_logging(cli.verbose);
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

/// The `listening on …` lines that `kyso serve` and `kyso run` print once the port is bound.
fn print_urls(urls: &[String]) {
    for url in urls {
        println!("listening on {url}");
    }
    let _ = std::io::stdout().flush();
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
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
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

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KYSO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| log_sink::Sink)
        .init();
}

fn run(cli: Cli, command: Command) -> Result<ExitCode, String> {
    #[cfg(feature = "desktop")]
    if let Command::Dialog = command {
        return kyso::ui::dialog::run_child().map(|_| ExitCode::SUCCESS);
    }
    if let Command::Demo {
        dir,
        headless,
        agent_port,
        bridge_port,
        web_dir,
    } = &command
    {
        return demo(dir, *headless, *agent_port, *bridge_port, web_dir);
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
        Command::Trust { action } => return trust(&config, action),
        Command::Cert {
            action:
                CertAction::Verify {
                    cert,
                    trust,
                    intermediate,
                    crl,
                    at,
                    offline,
                    no_revocation,
                    purpose,
                    json,
                    lang,
                },
        } => {
            let request = CertVerifyArgs {
                purpose: (*purpose).into(),
                cert,
                trust,
                intermediates: intermediate,
                crls: crl,
                at: at.as_deref(),
                offline: *offline || config.offline,
                no_revocation: *no_revocation,
                json: *json,
                en: lang.eq_ignore_ascii_case("en"),
            };
            return Ok(cert_verify(&config, &request));
        }
        Command::Pdf {
            action:
                PdfAction::Prepare {
                    input,
                    output,
                    stamp,
                    json,
                },
        } => return pdf_prepare(input, output, stamp, *json).map(|_| ExitCode::SUCCESS),
        Command::Pdf {
            action:
                PdfAction::Verify {
                    input,
                    trust,
                    policy,
                    crl,
                    offline,
                    no_revocation,
                    report,
                    password,
                    json,
                    lang,
                },
        } => {
            let revocation = if *no_revocation {
                kyso::pki::check::RevocationMode::Off
            } else if *offline || config.offline {
                kyso::pki::check::RevocationMode::Offline
            } else {
                kyso::pki::check::RevocationMode::Online
            };
            return Ok(pdf_verify(
                &config,
                &PdfVerifyArgs {
                    input,
                    trust,
                    crls: crl,
                    revocation,
                    report: report.as_deref(),
                    password: password.as_deref().unwrap_or("").as_bytes(),
                    policy: policy.as_deref(),
                    json: *json,
                    lang,
                },
            ));
        }
        Command::Pdf {
            action:
                PdfAction::Embed {
                    input,
                    cms,
                    output,
                    tsa,
                    revocation,
                    chain,
                    fetch_revocation,
                    level,
                    trust,
                },
        } => {
            let cms = std::fs::read(cms).map_err(|e| format!("{}: {e}", cms.display()))?;
            let mut given = kyso::pades::dss::ValidationData {
                certs: certificate::read_certificate_files(chain)?,
                ..Default::default()
            };
            for path in revocation {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                match kyso::pades::dss::classify(&bytes) {
                    Some(kyso::pades::dss::Evidence::Ocsp(der)) => given.ocsps.push(der),
                    Some(kyso::pades::dss::Evidence::Crl(der)) => given.crls.push(der),
                    None => {
                        return Err(format!(
                            "{}: neither an OCSP response nor a CRL",
                            path.display()
                        ))
                    }
                }
            }
            let tsa_url = tsa.as_deref().or(config.tsa_url.as_deref());
            let mut level = pades_level(level.as_deref(), tsa_url)?;
            if *fetch_revocation {
                level = level.max(kyso::pades::archive::Level::Lt);
            }
            let finish = Finish {
                config: &config,
                tsa_url,
                trust,
                level,
            };
            finish.run(input, &cms, output, given)?;
            println!("{}", output.display());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Pdf {
            action:
                PdfAction::Timestamp {
                    input,
                    output,
                    tsa,
                    trust,
                    chain,
                },
        } => {
            let url = tsa
                .as_deref()
                .or(config.tsa_url.as_deref())
                .ok_or("no TSA: give --tsa URL or set tsa_url / chưa có TSA")?;
            let anchors = tsa_anchors(&config, trust)?;
            let extra =
                kyso::pki::check::parse_certificates(&certificate::read_certificate_files(chain)?)?;
            let network = kyso::pki::revocation::HttpFetch::default();
            let tsa = kyso::pades::timestamp::Tsa {
                url,
                anchors: &anchors,
                fetch: &network,
            };
            let pdf = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
            let revocation: &dyn kyso::pki::revocation::Fetch = if config.offline {
                &kyso::pki::revocation::NoFetch
            } else {
                &network
            };
            let stamped = kyso::pades::archive::timestamp_document(&pdf, &extra, revocation, &tsa)
                .map_err(|e| e.to_string())?;
            write_atomically(output, &stamped)?;
            println!("{}", output.display());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Pdf {
            action: PdfAction::Lines { input, page },
        } => {
            let map = kyso::pades::map_file(input).map_err(|e| e.to_string())?;
            let doc = kyso::pades::pdf::Document::load(&map).map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            for line in kyso::pades::layout::text_lines(&doc, *page).map_err(|e| e.to_string())? {
                let _ = writeln!(
                    out,
                    "y={:7.2} x={:7.2}..{:7.2} size={:5.2}  {}",
                    line.y,
                    line.xs.first().copied().unwrap_or_default(),
                    line.ends.last().copied().unwrap_or_default(),
                    line.size,
                    line.text()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Status { port } => return agent_status(&config, port.unwrap_or(config.port)),
        Command::Bridge {
            listen,
            web_dir,
            max_body_mb,
            concurrency,
            crl,
        } => {
            let anchors = certificate::read_certificate_files(&config.trust_anchors)?;
            let bridge = kyso::bridge::BridgeConfig {
                max_body: max_body_mb * 1024 * 1024,
                concurrency: *concurrency,
                trust_anchors: anchors,
                tsa_url: config.tsa_url.clone(),
                offline: config.offline,
                crls: read_crl_files(crl)?,
                web_dir: web_dir.clone(),
                samples_dir: None,
                agent_port: Some(config.port),
            };
            let listen = *listen;
            return runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("{listen}: {e}"))?;
                println!(
                    "bridge listening on http://{}",
                    listener.local_addr().map_err(|e| e.to_string())?
                );
                kyso::bridge::serve(listener, bridge)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ExitCode::SUCCESS)
            });
        }
        _ => {}
    }
    if let Command::Run { autostart, .. } = command {
        if autostart && !config.autostart {
            tracing::info!("autostart is off by policy; not starting");
            return Ok(ExitCode::SUCCESS);
        }
        log_sink::write_to(&config.log_dir().join("kyso.log"));
    }
    let prompt = app::prompter(&prompter).map_err(|e| e.to_string())?;
    let app = App::start(config, prompt).map_err(|e| e.to_string())?;
    match command {
        Command::Certs { json, kind } => {
            let kind = match kind.as_deref() {
                Some(text) => Some(Kind::parse(text).ok_or(format!("unknown kind {text:?}"))?),
                None => None,
            };
            certs(&app, json, kind)
        }
        Command::Sign {
            cert,
            digest,
            signed_attrs,
            alg,
            format,
            pss,
            title,
            number,
            purpose,
            out,
            json,
            revocation_out,
        } => {
            let order = sign_order(
                &app,
                SignArgs {
                    cert,
                    digest,
                    signed_attrs,
                    alg,
                    format,
                    pss,
                    title,
                    number,
                    purpose,
                },
            );
            match order.and_then(|order| app.signing.sign(order, None)) {
                Ok(signed) => {
                    let bytes = signed.cms.as_ref().unwrap_or(&signed.signature);
                    std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
                    if let Some(dir) = &revocation_out {
                        write_evidence(dir, &signed)?;
                    }
                    if json {
                        print_json(&signed.to_response());
                    } else {
                        eprintln!(
                            "Đã ký / Signed: {} ({} bytes, {})",
                            out.display(),
                            bytes.len(),
                            signed.signature_algorithm
                        );
                        println!("{}", out.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(report(&error, json)),
            }
        }
        Command::Doctor { json } => doctor(&app, json),
        #[cfg(feature = "desktop")]
        Command::Run { port, .. } => {
            let port = port.unwrap_or(app.config.port);
            kyso::app::desktop::run(app, port, print_urls)?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "desktop"))]
        Command::Run { port, .. } | Command::Serve { port } => {
            let port = port.unwrap_or(app.config.port);
            runtime()?
                .block_on(app.serve(port, print_urls))
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "desktop")]
        Command::Serve { port } => {
            let port = port.unwrap_or(app.config.port);
            let runtime = runtime()?;
            runtime
                .block_on(app.serve(port, print_urls))
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Origins { action } => origins(&app, action),
        Command::Pdf {
            action:
                PdfAction::Sign {
                    input,
                    certificate,
                    output,
                    stamp,
                    level,
                },
        } => pdf_sign(
            &app,
            &input,
            &certificate,
            &output,
            &stamp,
            level.as_deref(),
        ),
        // Handled before the tokens are started.
        Command::Pdf {
            action:
                PdfAction::Prepare { .. }
                | PdfAction::Embed { .. }
                | PdfAction::Timestamp { .. }
                | PdfAction::Verify { .. }
                | PdfAction::Lines { .. },
        } => Ok(ExitCode::SUCCESS),
        Command::Trust { .. }
        | Command::Cert { .. }
        | Command::Status { .. }
        | Command::Bridge { .. }
        | Command::Demo { .. } => Ok(ExitCode::SUCCESS),
        #[cfg(feature = "desktop")]
        Command::Dialog => Ok(ExitCode::SUCCESS),
        Command::Bench {
            cert,
            iterations,
            agent,
        } => {
            let mut certs = app.signing.certificates(None);
            certs.retain(|c| {
                c.token.present
                    && c.info.validity() == certificate::Validity::Valid
                    && (cert.is_empty()
                        || cert
                            .iter()
                            .any(|p| c.info.id.starts_with(&p.to_ascii_lowercase())))
            });
            if certs.is_empty() {
                return Err("no signing certificate on a present token".into());
            }
            let documents = vec![Document {
                title: "kyso bench".into(),
                number: None,
                purpose: Purpose::Approve,
            }];
            let first = certs[0].clone();
            let figures = cli::bench::run(&app.tokens, &certs, iterations.max(1), || {
                app.signing.authenticator(&first, None, documents.clone())
            })
            .map_err(|e| e.to_string())?;
            if agent {
                let origin = app
                    .config
                    .allowed_origins
                    .first()
                    .ok_or("the agent benchmark needs an allowed_origins entry")?;
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let binary = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
                let measured = cli::bench::agent(
                    &exe,
                    &child_args,
                    &app.config.data_dir,
                    origin,
                    &first.info.id,
                    iterations.max(1),
                    100,
                )?;
                cli::bench::print_agent(&measured, &figures[0], binary);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn demo(
    dir: &std::path::Path,
    headless: bool,
    agent_port: u16,
    bridge_port: u16,
    web_dir: &std::path::Path,
) -> Result<ExitCode, String> {
    // Before any PKCS#11 module is loaded, on the only thread there is.
    std::env::set_var("SOFTHSM2_CONF", dir.join("token/softhsm2.conf"));
    let runtime = runtime()?;
    runtime.block_on(async {
        let bridge_listener = tokio::net::TcpListener::bind(("127.0.0.1", bridge_port))
            .await
            .map_err(|e| format!("demo page port {bridge_port}: {e}"))?;
        let bridge_port = bridge_listener.local_addr().map_err(|e| e.to_string())?.port();
        let origin = format!("http://127.0.0.1:{bridge_port}");
        let settings: kyso::config::Settings = toml::from_str(&format!(
            "pkcs11_modules = [\"/usr/lib/softhsm/libsofthsm2.so\"]\ndiscover_modules = false\nallowed_origins = [\"{origin}\"]\n"
        ))
        .map_err(|e| e.to_string())?;
        let config = Config::merge(settings, Default::default(), dir.join("data"), dir.join("config.toml"), dir.join("no-policy"), false);
        // A person at a desktop gets the real PIN dialog; the headless run (and a machine
        // without a display) answers from the demo's pins.toml.
        let desktop = !headless
            && cfg!(feature = "desktop")
            && (!cfg!(target_os = "linux") || std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some());
        let prompter = if desktop { "gui".to_string() } else { format!("scripted:{}", dir.join("pins.toml").display()) };
        let prompt = app::prompter(&prompter).map_err(|e| e.to_string())?;
        let app = std::sync::Arc::new(App::start(config, prompt).map_err(|e| e.to_string())?);
        let (ready, port) = tokio::sync::oneshot::channel();
        let agent = app.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready);
            if let Err(e) = agent
                .serve(agent_port, |urls| {
                    let port = urls.first().and_then(|u| u.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok());
                    if let (Some(tx), Some(port)) = (ready.take(), port) {
                        let _ = tx.send(port);
                    }
                })
                .await
            {
                eprintln!("kyso: {e}");
                std::process::exit(2);
            }
        });
        let agent_port = port.await.map_err(|_| "the agent did not start".to_string())?;
        let root = std::fs::read(dir.join("token/pki/root.pem")).map_err(|e| e.to_string())?;
        let bridge = kyso::bridge::BridgeConfig {
            max_body: 64 * 1024 * 1024,
            concurrency: 4,
            trust_anchors: certificate::read_pem_or_der(&root).map_err(|e| e.to_string())?,
            tsa_url: None,
            offline: false,
            crls: read_crl_files(&[dir.join("token/pki/crls.pem")])?,
            web_dir: Some(web_dir.to_path_buf()),
            samples_dir: Some(dir.join("docs")),
            agent_port: Some(agent_port),
        };
        tokio::spawn(async move {
            let _ = kyso::bridge::serve(bridge_listener, bridge).await;
        });
        if headless {
            let ca = kyso::tls::read_ca(&dir.join("data")).map_err(|e| e.to_string())?;
            let signed = cli::demo::headless(dir, agent_port, bridge_port, &ca).await.map_err(|e| e.to_string())?;
            println!("{}", signed.display());
            return Ok(ExitCode::SUCCESS);
        }
        println!("agent listening on https://127.0.0.1:{agent_port}");
        println!(
            "PIN: {}",
            if desktop { "hộp thoại Kyso / Kyso's dialog (demo PINs 123456, 654321)" } else { "pins.toml (no display)" }
        );
        println!("Kyso demo: open {origin}/  (Ctrl-C to stop)");
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// One line per trust store: trusted or not, and why not.
fn print_store_reports(
    reports: Vec<kyso::platform::trust::StoreReport>,
) -> Vec<kyso::platform::trust::StoreReport> {
    for r in &reports {
        println!(
            "{} {}{}",
            if r.trusted {
                "tin cậy / trusted  "
            } else {
                "chưa / not trusted"
            },
            r.store,
            r.error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
    }
    reports
}

fn trust(config: &Config, action: &TrustAction) -> Result<ExitCode, String> {
    use kyso::platform::trust as store;
    // Machine-wide roots: no local CA is made (this runs as root or SYSTEM in installers).
    if let TrustAction::Anchors { paths } = action {
        let anchors = certificate::read_certificate_files(paths)?;
        let reports = print_store_reports(store::install_anchors(&anchors));
        return Ok(if reports.iter().all(|r| r.trusted) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let identity = kyso::tls::ensure(&config.data_dir).map_err(|e| e.to_string())?;
    let print = print_store_reports;
    match action {
        TrustAction::Install { system } => {
            let reports = print(app::install_trust(
                &config.data_dir,
                &identity,
                store::Scope { system: *system },
            ));
            if reports.iter().any(|r| r.trusted) {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("Không cài được chứng thư gốc / the CA could not be installed (is certutil from libnss3-tools installed?)");
                Ok(ExitCode::FAILURE)
            }
        }
        TrustAction::Status => {
            println!(
                "{} (còn {} ngày / {} days left on the TLS leaf)",
                identity.ca_nickname(),
                identity.leaf_days_left(),
                identity.leaf_days_left()
            );
            print(store::status(&identity.ca_nickname()));
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::Uninstall => {
            print(store::uninstall(&identity.ca_nickname()));
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::ExportCa => {
            print!("{}", identity.ca_pem());
            Ok(ExitCode::SUCCESS)
        }
        TrustAction::Anchors { .. } => Ok(ExitCode::SUCCESS),
    }
}

fn agent_status(config: &Config, port: u16) -> Result<ExitCode, String> {
    let ca = kyso::tls::read_ca(&config.data_dir)
        .map_err(|e| format!("no local CA yet (start kyso serve first): {e}"))?;
    let reply = runtime()?.block_on(async {
        let mut connection = cli::client::AgentConnection::connect(port, &ca).await?;
        connection.request("GET", "/v1/status", None, None).await
    });
    match reply {
        Ok(reply) if reply.status == 200 => {
            let value: serde_json::Value =
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
            print_json(&value);
            Ok(ExitCode::SUCCESS)
        }
        Ok(reply) => Err(format!(
            "agent answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn origins(app: &App, action: OriginsAction) -> Result<ExitCode, String> {
    match action {
        OriginsAction::List => {
            for origin in app.policy.admin_origins() {
                println!("{origin}	chính sách / policy");
            }
            for origin in app.policy.approved_origins() {
                println!("{origin}	người dùng cho phép / approved by the user");
            }
            if !app.config.user_approvals {
                println!(
                    "(người dùng không được tự cho phép / user approvals are turned off by policy)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        OriginsAction::Revoke { origin } => {
            let parsed =
                kyso::signing::Origin::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
            if app.policy.revoke(&parsed)? {
                println!("Đã thu hồi / revoked: {parsed}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{parsed} không có trong danh sách người dùng cho phép / was not approved by the user");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn parse_rect(text: &str) -> Result<[f64; 4], String> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("bad --rect {text:?}: x,y,width,height in points"))
        })
        .collect::<Result<_, _>>()?;
    values
        .try_into()
        .map_err(|_| format!("bad --rect {text:?}: four numbers"))
}

fn parse_anchor(text: &str) -> Result<kyso::pades::roles::Anchor, String> {
    let bad = || format!("bad place {text:?}: PAGE:X,Y in points");
    let (page, xy) = text.split_once(':').ok_or_else(bad)?;
    let (x, y) = xy.split_once(',').ok_or_else(bad)?;
    Ok(kyso::pades::roles::Anchor {
        page: page.trim().parse().map_err(|_| bad())?,
        x: x.trim().parse().map_err(|_| bad())?,
        y: y.trim().parse().map_err(|_| bad())?,
    })
}

fn prepare_request(
    input: &std::path::Path,
    stamp: &StampArgs,
    token_cert: Option<certificate::CertificateInfo>,
) -> Result<kyso::pades::prepare::PrepareRequest, String> {
    use kyso::pades::prepare::Placement;
    use kyso::pades::roles::{self, Role, RoleRequest};
    let role =
        Role::parse(&stamp.role).ok_or_else(|| format!("unknown --role {:?}", stamp.role))?;
    let signer_cert = match &stamp.cert {
        _ if token_cert.is_some() => token_cert,
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let der = certificate::read_pem_or_der(&data).map_err(|e| e.to_string())?;
            Some(certificate::CertificateInfo::from_der(&der[0]).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let signer = signer_cert.as_ref().map(|c| c.holder().to_string());
    let image = match &stamp.image {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(kyso::pades::image::RgbaImage::from_png(&bytes).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let date = match &stamp.date {
        Some(text) => Some(
            time::Date::parse(
                text,
                &time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| format!("bad --date {text:?}: YYYY-MM-DD"))?,
        ),
        None => None,
    };
    let now = kyso::pades::vietnam_now();
    let request = RoleRequest {
        role,
        image,
        placement: match &stamp.rect {
            Some(rect) => Some(Placement {
                page: stamp.page,
                rect: parse_rect(rect)?,
            }),
            None => None,
        },
        number: stamp.number.clone(),
        date,
        number_at: stamp.number_at.as_deref().map(parse_anchor).transpose()?,
        date_at: stamp.date_at.as_deref().map(parse_anchor).transpose()?,
        copy_form: stamp.copy_form.clone(),
        organization: stamp
            .organization
            .clone()
            .or_else(|| signer_cert.as_ref().and_then(|c| c.organization.clone())),
        time: now,
        font: stamp.font.clone(),
        forward_to: stamp.forward_to.clone(),
        file_reference: stamp.file_reference.clone(),
        template: stamp.text.clone(),
        signer: signer.clone(),
        anchor: stamp.anchor.clone(),
    };
    let map = kyso::pades::map_file(input).map_err(|e| e.to_string())?;
    let doc = kyso::pades::pdf::Document::load(&map).map_err(|e| e.to_string())?;
    roles::prepare_request(
        &doc,
        &map,
        &request,
        roles::Extras {
            field_name: stamp.field.clone(),
            reason: stamp.reason.clone(),
            contents_size: stamp.contents_size,
        },
    )
    .map_err(|e| e.to_string())
}

fn pdf_prepare(
    input: &std::path::Path,
    output: &std::path::Path,
    stamp: &StampArgs,
    json: bool,
) -> Result<kyso::pades::prepare::Prepared, String> {
    let request = prepare_request(input, stamp, None)?;
    let prepared = kyso::pades::prepare_file(input, output, &request).map_err(|e| e.to_string())?;
    if json {
        print_json(&serde_json::json!({
            "digest": B64.encode(&prepared.digest),
            "digestAlgorithm": "SHA-256",
            "byteRange": prepared.byte_range,
            "field": prepared.field,
            "capacity": prepared.capacity,
        }));
    } else {
        eprintln!(
            "{} — {} {:?}",
            output.display(),
            prepared.field,
            prepared.byte_range
        );
        println!("{}", B64.encode(&prepared.digest));
    }
    Ok(prepared)
}

/// The options of `kyso cert verify`.
struct CertVerifyArgs<'a> {
    cert: &'a std::path::Path,
    trust: &'a [PathBuf],
    intermediates: &'a [PathBuf],
    crls: &'a [PathBuf],
    at: Option<&'a str>,
    offline: bool,
    no_revocation: bool,
    purpose: kyso::pki::path::Purpose,
    json: bool,
    en: bool,
}

fn cert_verify(config: &Config, args: &CertVerifyArgs<'_>) -> ExitCode {
    use kyso::pki::check::{self, RevocationMode};
    let usage = |m: String| {
        eprintln!("kyso: {m}");
        ExitCode::from(3)
    };
    let read_certs = |paths: &[PathBuf]| -> Result<Vec<x509_cert::Certificate>, String> {
        let ders = certificate::read_certificate_files(paths)?;
        check::parse_certificates(&ders)
    };
    let leaf = match read_certs(&[args.cert.to_path_buf()]) {
        Ok(mut certs) if !certs.is_empty() => certs.remove(0),
        Ok(_) => return usage(format!("{}: no certificate", args.cert.display())),
        Err(e) => return usage(e),
    };
    let trust: Vec<PathBuf> = config
        .trust_anchors
        .iter()
        .chain(args.trust)
        .cloned()
        .collect();
    if trust.is_empty() {
        return usage("no trust anchor: give --trust ROOTS.pem or set trust_anchors".into());
    }
    let anchors = match read_certs(&trust) {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    let intermediates = match read_certs(args.intermediates) {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    let mut crls = Vec::new();
    for path in args.crls {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|d| kyso::pki::crl::parse(&d))
        {
            Ok(mut list) => crls.append(&mut list),
            Err(e) => return usage(format!("{}: {e}", path.display())),
        }
    }
    let at = match args.at {
        None => certificate::unix_now(),
        Some(text) => {
            match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            {
                // Whole seconds, floored: certificate times have no fractions.
                Ok(t) if t.unix_timestamp() >= 0 => t.unix_timestamp() as u64,
                _ => {
                    return usage(format!(
                        "--at {text:?}: expected RFC 3339, e.g. 2026-01-31T09:00:00+07:00"
                    ))
                }
            }
        }
    };
    let revocation = if args.no_revocation {
        RevocationMode::Off
    } else if args.offline {
        RevocationMode::Offline
    } else {
        RevocationMode::Online
    };
    let report = check::check(
        &check::Request {
            certificate: &leaf,
            anchors: &anchors,
            intermediates: &intermediates,
            crls: &crls,
            ocsp: &[],
            at,
            purpose: args.purpose,
            revocation,
            // The time the caller states (--at) or now.
            time_proven: true,
        },
        &kyso::pki::revocation::HttpFetch::default(),
    );
    if args.json {
        print_json(&report);
    } else {
        print!(
            "{}",
            report.render(&leaf.tbs_certificate.subject.to_string(), args.en)
        );
    }
    ExitCode::from(report.exit_code())
}

/// The options of `kyso pdf verify`.
struct PdfVerifyArgs<'a> {
    input: &'a std::path::Path,
    trust: &'a [PathBuf],
    crls: &'a [PathBuf],
    revocation: kyso::pki::check::RevocationMode,
    report: Option<&'a std::path::Path>,
    password: &'a [u8],
    policy: Option<&'a str>,
    json: bool,
    lang: &'a str,
}

/// Reads CRL files (PEM or DER) as DER.
fn read_crl_files(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for path in paths {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for crl in kyso::pki::crl::parse(&data).map_err(|e| format!("{}: {e}", path.display()))? {
            out.push(der::Encode::to_der(&crl).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

fn pdf_verify(config: &Config, args: &PdfVerifyArgs<'_>) -> ExitCode {
    let PdfVerifyArgs {
        input,
        trust,
        policy,
        json,
        lang,
        ..
    } = *args;
    let usage = |m: String| {
        eprintln!("kyso: {m}");
        ExitCode::from(3)
    };
    let issued = match policy.map(|p| (p, kyso::pades::verify::Policy::parse(p))) {
        None => None,
        Some((_, Some(p))) => Some(p),
        Some((other, None)) => return usage(format!("unknown policy {other:?} (issued, scanned)")),
    };
    let paths: Vec<PathBuf> = config.trust_anchors.iter().chain(trust).cloned().collect();
    let anchors = match certificate::read_certificate_files(&paths) {
        Ok(anchors) => anchors,
        Err(e) => return usage(e),
    };
    let map = match kyso::pades::map_file(input) {
        Ok(map) => map,
        Err(e) => return usage(format!("{}: {e}", input.display())),
    };
    let crls = match read_crl_files(args.crls) {
        Ok(crls) => crls,
        Err(e) => return usage(e),
    };
    let fetch = kyso::pki::revocation::HttpFetch::default();
    let options = kyso::pades::verify::Options {
        anchors: &anchors,
        crls: &crls,
        revocation: args.revocation,
        fetch: &fetch,
        policy: issued,
        cancel: None,
        password: args.password,
    };
    let report = match kyso::pades::verify::verify(&map, &options) {
        Ok(report) => report,
        Err(e) => return usage(format!("{}: {e}", input.display())),
    };
    if let Some(path) = args.report {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let html = kyso::pades::report::html(
            &report,
            issued,
            &kyso::pades::report::Document {
                name: &name,
                sha256: &kyso::pades::verify::fingerprint(&map),
                checked_at: &kyso::pades::iso8601_vn(kyso::pades::vietnam_now()),
            },
        );
        if let Err(e) = std::fs::write(path, html) {
            return usage(format!("{}: {e}", path.display()));
        }
    }
    if json {
        print_json(&report);
        return ExitCode::from(report.exit_code());
    }
    let lang = if lang.eq_ignore_ascii_case("en") {
        kyso::pades::report::Lang::En
    } else {
        kyso::pades::report::Lang::Vi
    };
    print!("{}", kyso::pades::report::text(&report, issued, lang));
    ExitCode::from(report.exit_code())
}

/// Writes the evidence of the status check made before signing: `ocsp-N.der`, `crl-N.der`.
fn write_evidence(dir: &std::path::Path, signed: &signing::Signed) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let Some(evidence) = signed.revocation.as_ref().and_then(|r| r.evidence()) else {
        return Ok(());
    };
    for (kind, items) in [("ocsp", &evidence.ocsp), ("crl", &evidence.crl)] {
        for (i, der) in items.iter().enumerate() {
            let path = dir.join(format!("{kind}-{}.der", i + 1));
            std::fs::write(&path, der).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The roots a TSA certificate must chain to: the configured trust anchors and `trust`.
fn tsa_anchors(
    config: &kyso::config::Config,
    trust: &[PathBuf],
) -> Result<Vec<x509_cert::Certificate>, String> {
    let paths: Vec<PathBuf> = config.trust_anchors.iter().chain(trust).cloned().collect();
    kyso::pki::check::parse_certificates(&certificate::read_certificate_files(&paths)?)
}

/// `--level`, or B-T when a TSA is set, else B-B; a level that needs a TSA must have one.
fn pades_level(
    level: Option<&str>,
    tsa_url: Option<&str>,
) -> Result<kyso::pades::archive::Level, String> {
    use kyso::pades::archive::Level;
    let level = match level {
        Some(text) => Level::parse(text)
            .ok_or_else(|| format!("unknown level {text:?} (B-B, B-T, B-LT, B-LTA)"))?,
        None if tsa_url.is_some() => Level::T,
        None => Level::B,
    };
    if level.needs_tsa() && tsa_url.is_none() {
        return Err(format!(
            "level {level:?} needs a TSA: give --tsa URL or set tsa_url / cấp độ này cần máy chủ dấu thời gian"
        ));
    }
    Ok(level)
}

/// Writes `bytes` to `path` through a temporary file, so a failure leaves nothing half-written.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let partial = path.with_extension("kyso-partial");
    std::fs::write(&partial, bytes).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Embedding a CMS and bringing the signed file to a PAdES level.
struct Finish<'a> {
    config: &'a kyso::config::Config,
    tsa_url: Option<&'a str>,
    trust: &'a [PathBuf],
    level: kyso::pades::archive::Level,
}

impl Finish<'_> {
    fn run(
        &self,
        prepared: &std::path::Path,
        cms: &[u8],
        output: &std::path::Path,
        given: kyso::pades::dss::ValidationData,
    ) -> Result<(), String> {
        let anchors = tsa_anchors(self.config, self.trust)?;
        let network = kyso::pki::revocation::HttpFetch::default();
        let tsa = self.tsa_url.map(|url| kyso::pades::timestamp::Tsa {
            url,
            anchors: &anchors,
            fetch: &network,
        });
        let stamp = tsa.as_ref().filter(|_| self.level.needs_tsa());
        kyso::pades::embed_file(prepared, cms, output, stamp).map_err(|e| e.to_string())?;
        if self.level < kyso::pades::archive::Level::Lt
            && given.certs.is_empty()
            && given.ocsps.is_empty()
            && given.crls.is_empty()
        {
            return Ok(());
        }
        let extra = kyso::pki::check::parse_certificates(&given.certs)?;
        let revocation: &dyn kyso::pki::revocation::Fetch = if self.config.offline {
            &kyso::pki::revocation::NoFetch
        } else {
            &network
        };
        let signed = std::fs::read(output).map_err(|e| format!("{}: {e}", output.display()))?;
        let extended =
            kyso::pades::archive::extend(&signed, self.level, given, &extra, revocation, stamp)
                .map_err(|e| e.to_string())?;
        write_atomically(output, &extended)
    }
}

fn pdf_sign(
    app: &App,
    input: &std::path::Path,
    certificate: &str,
    output: &std::path::Path,
    stamp: &StampArgs,
    level: Option<&str>,
) -> Result<ExitCode, String> {
    let tsa_url = stamp.tsa.as_deref().or(app.config.tsa_url.as_deref());
    let level = pades_level(level, tsa_url)?;
    let id = match resolve_certificate(app, certificate) {
        Ok(id) => id,
        Err(e) => return Ok(report(&e, false)),
    };
    let signer = app
        .signing
        .certificates(None)
        .into_iter()
        .find(|c| c.info.id == id)
        .map(|c| c.info);
    let prepared_path = output.with_extension("prepared.pdf");
    let request = prepare_request(input, stamp, signer)?;
    let prepared =
        kyso::pades::prepare_file(input, &prepared_path, &request).map_err(|e| e.to_string())?;
    let order = SignOrder {
        certificate_id: id,
        digest_algorithm: DigestAlgorithm::Sha256,
        payload: Payload::Digest(prepared.digest.clone()),
        document: Document {
            title: input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            number: None,
            purpose: Purpose::Approve,
        },
        rsa_pss: false,
    };
    let outcome = app.signing.sign(order, None);
    let result = match outcome {
        Ok(signed) => {
            let cms = signed.cms.clone().unwrap_or_default();
            let tsa_url = stamp.tsa.as_deref().or(app.config.tsa_url.as_deref());
            // The agent's own evidence and chain go into the store at B-LT and above.
            let mut given = kyso::pades::dss::ValidationData::default();
            if level >= kyso::pades::archive::Level::Lt {
                given.certs = signed.chain.clone();
                if let Some(evidence) = signed.revocation.as_ref().and_then(|r| r.evidence()) {
                    given.ocsps = evidence.ocsp.clone();
                    given.crls = evidence.crl.clone();
                }
            }
            Finish {
                config: &app.config,
                tsa_url,
                trust: &[],
                level,
            }
            .run(&prepared_path, &cms, output, given)?;
            println!("{}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e, false)),
    };
    let _ = std::fs::remove_file(&prepared_path);
    result
}

struct SignArgs {
    cert: String,
    digest: Option<String>,
    signed_attrs: Option<String>,
    alg: String,
    format: String,
    pss: bool,
    title: String,
    number: Option<String>,
    purpose: String,
}

fn sign_order(app: &App, args: SignArgs) -> Result<SignOrder, signing::Error> {
    let bad = |m: String| signing::Error::BadRequest(m);
    let alg = DigestAlgorithm::parse(&args.alg)
        .ok_or_else(|| bad(format!("unknown digest algorithm {:?}", args.alg)))?;
    let purpose: Purpose = serde_json::from_value(serde_json::Value::String(args.purpose.clone()))
        .map_err(|_| bad(format!("unknown purpose {:?}", args.purpose)))?;
    let certificate_id = resolve_certificate(app, &args.cert)?;
    let decode = |what: &str, text: &str| {
        B64.decode(text.trim())
            .map_err(|_| bad(format!("{what} is not valid base64")))
    };
    let payload = match (args.format.as_str(), args.digest, args.signed_attrs) {
        ("cms", Some(digest), None) => Payload::Digest(decode("--digest", &digest)?),
        ("raw", None, Some(attrs)) => Payload::SignedAttributes(match attrs.strip_prefix('@') {
            Some(file) => std::fs::read(file).map_err(|e| bad(format!("{file}: {e}")))?,
            None => decode("--signed-attrs", &attrs)?,
        }),
        ("cms", _, _) => return Err(bad("--format cms takes --digest".into())),
        ("raw", _, _) => return Err(bad("--format raw takes --signed-attrs".into())),
        (other, _, _) => return Err(bad(format!("unknown format {other:?}"))),
    };
    if let Payload::Digest(d) = &payload {
        if d.len() != alg.len() {
            return Err(bad(format!(
                "a {alg} digest has {} bytes, got {}",
                alg.len(),
                d.len()
            )));
        }
    }
    Ok(SignOrder {
        certificate_id,
        digest_algorithm: alg,
        payload,
        document: Document {
            title: args.title,
            number: args.number,
            purpose,
        },
        rsa_pss: args.pss,
    })
}

/// A full id, or a unique prefix of one.
fn resolve_certificate(app: &App, text: &str) -> Result<String, signing::Error> {
    let prefix = text.trim().to_ascii_lowercase();
    let matches: Vec<String> = app
        .signing
        .certificates(None)
        .into_iter()
        .map(|c| c.info.id)
        .filter(|id| id.starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(signing::Error::CertificateNotFound),
        _ => Err(signing::Error::BadRequest(format!(
            "{text} matches several certificates"
        ))),
    }
}

fn report(error: &signing::Error, json: bool) -> ExitCode {
    let code = error.code();
    if json {
        print_json(&ErrorResponse {
            error: ErrorBody {
                code,
                message: error.user_message(Lang::Vi),
                retries_left: error.retries_left(),
            },
        });
    }
    eprintln!("Lỗi: {}", error.user_message(Lang::Vi));
    eprintln!("Error: {}", error.user_message(Lang::En));
    eprintln!("code: {}", code.as_str());
    tracing::debug!(%error, "signing failed");
    ExitCode::FAILURE
}

fn print_json<T: serde::Serialize>(value: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn certs(app: &App, json: bool, kind: Option<Kind>) -> Result<ExitCode, String> {
    let mut status = app.signing.status();
    if let Some(kind) = kind {
        status.certificates.retain(|c| c.kind == kind);
    }
    if json {
        print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    if status.tokens.is_empty() {
        println!("Không tìm thấy thiết bị ký số / No token found (kyso doctor tells why)");
    }
    for token in &status.tokens {
        println!(
            "Token \"{}\" — {} {} — serial {} — {} — PIN: {:?}{}",
            token.label,
            token.manufacturer,
            token.model,
            token.serial,
            if token.present {
                "đã cắm / present"
            } else {
                "đã rút / removed"
            },
            token.pin_state,
            token
                .retries_left
                .map(|n| format!(" ({n} lần thử / tries)"))
                .unwrap_or_default()
        );
        for cert in status
            .certificates
            .iter()
            .filter(|c| c.token.serial == token.serial)
        {
            print_certificate(cert);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_certificate(cert: &api::CertificateDto) {
    for line in report::certificate_lines(cert) {
        println!("{line}");
    }
}

fn doctor(app: &App, json: bool) -> Result<ExitCode, String> {
    let modules = app.tokens.modules();
    let status = app.signing.status();
    if json {
        let modules: Vec<serde_json::Value> = modules
            .iter()
            .map(|m| serde_json::json!({"path": m.path, "source": m.source, "library": m.library, "error": m.error}))
            .collect();
        print_json(&serde_json::json!({
            "agentVersion": status.agent_version,
            "configFile": app.config.user_file,
            "policyFile": app.config.policy_file,
            "policyPresent": app.config.policy_present,
            "modules": modules,
            "tokens": status.tokens,
            "certificates": status.certificates,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        report::diagnostics(
            &status,
            &modules,
            &report::Sources {
                user_file: (&app.config.user_file, app.config.user_file.exists()),
                policy_file: (&app.config.policy_file, app.config.policy_present),
                trust_anchors: &app.config.trust_anchors,
            },
        )
    );
    Ok(ExitCode::SUCCESS)
}
