//! `kyso cert verify`: one certificate's path (RFC 5280) and revocation (OCSP, CRL).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use kyso::certificate;
use kyso::config::Config;

use super::print_json;

#[derive(Subcommand)]
pub enum CertAction {
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
        #[arg(long, value_enum, default_value_t = super::values::Lang::Vi)]
        lang: super::values::Lang,
    },
}

/// `kyso cert verify --purpose`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CertPurpose {
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

/// The options of `kyso cert verify`.
pub struct CertVerifyArgs<'a> {
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

pub fn cert_verify(config: &Config, args: &CertVerifyArgs<'_>) -> ExitCode {
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

/// Runs `kyso cert …`.
pub fn run(config: &Config, action: &CertAction) -> ExitCode {
    let CertAction::Verify {
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
    } = action;
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
        en: *lang == super::values::Lang::En,
    };
    cert_verify(config, &request)
}
