//! `kyso sign`: sign a digest (or server-built signed attributes) with a certificate on a token.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use kyso::api::Document;
use kyso::app::App;
use kyso::signing::{self, SignOrder};

use super::values::{Alg, Format, Role};
use super::{print_json, report, resolve_certificate};

/// `kyso sign`'s options.
#[derive(clap::Args)]
pub struct SignCommand {
    /// Certificate id (hex SHA-256, as `kyso certs` prints; a unique prefix is enough).
    #[arg(long)]
    pub cert: String,
    /// Base64 digest of the data (format cms).
    #[arg(long)]
    pub digest: Option<String>,
    /// Base64 DER of signed attributes, or @FILE with the DER (format raw).
    #[arg(long)]
    pub signed_attrs: Option<String>,
    /// Digest algorithm: SHA-256, SHA-384 or SHA-512.
    #[arg(long, value_enum, default_value_t = Alg::Sha256)]
    pub alg: Alg,
    /// `cms` (detached CAdES-BES SignedData) or `raw` (bare signature value).
    #[arg(long, value_enum, default_value_t = Format::Cms)]
    pub format: Format,
    /// Sign with RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys).
    #[arg(long)]
    pub pss: bool,
    /// Document title shown in the prompt.
    #[arg(long, default_value = "Văn bản ký từ dòng lệnh")]
    pub title: String,
    /// Document number shown in the prompt.
    #[arg(long)]
    pub number: Option<String>,
    /// approve | issue | appendix | copy | incoming.
    #[arg(long, value_enum, default_value_t = Role::Approve)]
    pub purpose: Role,
    /// Where to write the DER CMS (or the raw signature).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the API-style JSON answer on standard output.
    #[arg(long)]
    pub json: bool,
    /// Write the revocation evidence checked before signing into DIR (ocsp-N.der,
    /// crl-N.der), for `kyso pdf embed --revocation` (PAdES B-LT).
    #[arg(long)]
    pub revocation_out: Option<PathBuf>,
}

/// Signs as asked and writes the CMS (or the raw signature), with the revocation evidence
/// when asked.
///
/// # Errors
/// A file that cannot be written; signing errors are reported with their code instead.
pub fn run(app: &App, args: SignCommand) -> Result<ExitCode, String> {
    let (out, json, revocation_out) = (args.out.clone(), args.json, args.revocation_out.clone());
    let order = sign_order(app, &args);
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
                    "{}: {} ({} bytes, {})",
                    kyso::i18n::both("cli-signed", &[]),
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

/// The order for the agent's own validation ([`SignOrder::from_request`], the one the API uses):
/// the certificate id resolved from a prefix, `@FILE` signed attributes read.
fn sign_order(app: &App, args: &SignCommand) -> Result<SignOrder, signing::Error> {
    let signed_attributes = match args.signed_attrs.as_deref() {
        Some(attrs) => Some(match attrs.strip_prefix('@') {
            Some(file) => B64.encode(
                std::fs::read(file)
                    .map_err(|e| signing::Error::BadRequest(format!("{file}: {e}")))?,
            ),
            None => attrs.to_string(),
        }),
        None => None,
    };
    let mut order = SignOrder::from_request(kyso::api::SignRequest {
        certificate_id: resolve_certificate(app, &args.cert)?,
        digest: args.digest.clone(),
        signed_attributes,
        digest_algorithm: args.alg.into(),
        format: args.format.into(),
        document: Document {
            title: args.title.clone(),
            number: args.number.clone(),
            purpose: args.purpose.into(),
        },
        ticket: None,
    })?;
    order.rsa_pss = args.pss;
    Ok(order)
}

/// Writes the evidence of the status check made before signing: `ocsp-N.der`, `crl-N.der`.
pub fn write_evidence(dir: &std::path::Path, signed: &signing::Signed) -> Result<(), String> {
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
