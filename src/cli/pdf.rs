//! `kyso pdf`: prepare, embed (PAdES levels), timestamp, sign with a token, verify, lines.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use clap::Subcommand;
use kyso::api::Document;
use kyso::app::App;
use kyso::certificate;
use kyso::config::Config;
use kyso::digest::DigestAlgorithm;
use kyso::signing::{Payload, SignOrder};

use super::values;
use super::{print_json, read_crl_files, report, resolve_certificate, write_atomically};

#[derive(clap::Args, Clone)]
pub struct StampArgs {
    /// approve (leader: --image signature at --rect), issue (clerk: --image seal over the left
    /// third of the leader's signature at its real size, --number, --date), appendix (--number
    /// of the main document, top right), copy (--copy-form, top right), incoming (the "ĐẾN"
    /// block: --number, --date, --forward-to, --file-reference).
    #[arg(long, value_enum, default_value_t = values::Role::Approve)]
    role: values::Role,
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
    /// The seal's real width in millimetres, when its PNG does not say its resolution (pHYs);
    /// default `seal_size_mm` from the settings. The seal is printed at its real size.
    #[arg(long)]
    seal_size_mm: Option<f64>,
    /// Accept a signature image that is not mostly blue or a seal that is not mostly red (for
    /// agencies whose images differ); said in the output.
    #[arg(long)]
    any_image_colour: bool,
    /// Page of the stamp, from 1.
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Stamp rectangle in points: x,y,width,height (origin bottom-left). None: invisible (the
    /// "ĐẾN" block: the free space below the number or summary).
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
pub enum PdfAction {
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
        #[arg(long, value_enum)]
        level: Option<values::Level>,
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
        #[arg(long, value_enum)]
        policy: Option<values::Policy>,
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
        #[arg(long, value_enum, default_value_t = values::Lang::Vi)]
        lang: values::Lang,
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
        #[arg(long, value_enum)]
        level: Option<values::Level>,
    },
}

pub fn parse_rect(text: &str) -> Result<[f64; 4], String> {
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

pub fn parse_anchor(text: &str) -> Result<kyso::pades::roles::Anchor, String> {
    let bad = || format!("bad place {text:?}: PAGE:X,Y in points");
    let (page, xy) = text.split_once(':').ok_or_else(bad)?;
    let (x, y) = xy.split_once(',').ok_or_else(bad)?;
    Ok(kyso::pades::roles::Anchor {
        page: page.trim().parse().map_err(|_| bad())?,
        x: x.trim().parse().map_err(|_| bad())?,
        y: y.trim().parse().map_err(|_| bad())?,
    })
}

pub fn prepare_request(
    input: &std::path::Path,
    stamp: &StampArgs,
    token_cert: Option<certificate::CertificateInfo>,
    seal_size_default: Option<f64>,
) -> Result<kyso::pades::prepare::PrepareRequest, String> {
    use kyso::pades::prepare::Placement;
    use kyso::pades::roles::{self, RoleRequest, StampFields, StampSpec};
    let role = stamp.role.into();
    if stamp.seal_size_mm.is_some() && stamp.role != values::Role::Issue {
        return Err("--seal-size-mm is the seal's size: only for --role issue".into());
    }
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
            let image =
                kyso::pades::image::RgbaImage::from_png(&bytes).map_err(|e| e.to_string())?;
            if stamp.any_image_colour {
                let ink = match stamp.role {
                    values::Role::Issue => kyso::pades::image::Ink::Red,
                    _ => kyso::pades::image::Ink::Blue,
                };
                if let Ok(share) = image.check(ink, true) {
                    eprintln!(
                        "kyso: the colour check is off (--any-image-colour): {}% of the image's coloured pixels are {}",
                        share,
                        if ink == kyso::pades::image::Ink::Red { "red" } else { "blue" }
                    );
                }
            }
            Some(match stamp.seal_size_mm.or(seal_size_default) {
                Some(mm) if stamp.role == values::Role::Issue => image.with_width_mm(mm),
                _ => image,
            })
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
    let fields = StampFields {
        image,
        placement: match &stamp.rect {
            Some(rect) => Some(Placement {
                page: stamp.page,
                rect: parse_rect(rect)?,
            }),
            None => None,
        },
        anchor: stamp.anchor.clone(),
        number: stamp.number.clone(),
        date,
        number_at: stamp.number_at.as_deref().map(parse_anchor).transpose()?,
        date_at: stamp.date_at.as_deref().map(parse_anchor).transpose()?,
        copy_form: stamp.copy_form.clone(),
        forward_to: stamp.forward_to.clone(),
        file_reference: stamp.file_reference.clone(),
        any_colour: stamp.any_image_colour,
    };
    let request = RoleRequest {
        stamp: StampSpec::from_fields(role, fields, |name| format!("--{name}"))
            .map_err(|e| e.to_string())?,
        organization: stamp
            .organization
            .clone()
            .or_else(|| signer_cert.as_ref().and_then(|c| c.organization.clone())),
        time: now,
        font: stamp.font.clone(),
        template: stamp.text.clone(),
        signer: signer.clone(),
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

pub fn pdf_prepare(
    config: &Config,
    input: &std::path::Path,
    output: &std::path::Path,
    stamp: &StampArgs,
    json: bool,
) -> Result<kyso::pades::prepare::Prepared, String> {
    let request = prepare_request(input, stamp, None, config.seal_size_mm)?;
    let prepared = kyso::pades::prepare_file(input, output, &request).map_err(|e| e.to_string())?;
    if json {
        print_json(&serde_json::json!({
            "digest": B64.encode(&prepared.digest),
            "digestAlgorithm": "SHA-256",
            "byteRange": prepared.byte_range,
            "field": prepared.field,
            "capacity": prepared.capacity,
            "clerkPlaces": prepared.clerk_places,
        }));
    } else {
        eprintln!(
            "{} — {} {:?}",
            output.display(),
            prepared.field,
            prepared.byte_range
        );
        print_places(&prepared);
        println!("{}", B64.encode(&prepared.digest));
    }
    Ok(prepared)
}

/// The options of `kyso pdf verify`.
pub struct PdfVerifyArgs<'a> {
    input: &'a std::path::Path,
    trust: &'a [PathBuf],
    crls: &'a [PathBuf],
    revocation: kyso::pki::check::RevocationMode,
    report: Option<&'a std::path::Path>,
    password: &'a [u8],
    policy: Option<values::Policy>,
    json: bool,
    lang: values::Lang,
}

pub fn pdf_verify(config: &Config, args: &PdfVerifyArgs<'_>) -> ExitCode {
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
    let issued: Option<kyso::pades::verify::Policy> = policy.map(Into::into);
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
    let lang = match lang {
        values::Lang::En => kyso::pades::report::Lang::En,
        values::Lang::Vi => kyso::pades::report::Lang::Vi,
    };
    print!("{}", kyso::pades::report::text(&report, issued, lang));
    ExitCode::from(report.exit_code())
}

/// The roots a TSA certificate must chain to: the configured trust anchors and `trust`.
pub fn tsa_anchors(
    config: &kyso::config::Config,
    trust: &[PathBuf],
) -> Result<Vec<x509_cert::Certificate>, String> {
    let paths: Vec<PathBuf> = config.trust_anchors.iter().chain(trust).cloned().collect();
    kyso::pki::check::parse_certificates(&certificate::read_certificate_files(&paths)?)
}

/// `--level`, or B-T when a TSA is set, else B-B; a level that needs a TSA must have one.
pub fn pades_level(
    level: Option<values::Level>,
    tsa_url: Option<&str>,
) -> Result<kyso::pades::archive::Level, String> {
    use kyso::pades::archive::Level;
    let level = match level {
        Some(level) => level.into(),
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

/// Embedding a CMS and bringing the signed file to a PAdES level.
pub struct Finish<'a> {
    config: &'a kyso::config::Config,
    tsa_url: Option<&'a str>,
    trust: &'a [PathBuf],
    level: kyso::pades::archive::Level,
}

/// How the CMS goes into the prepared file.
enum Embedding<'a> {
    /// A prepared file from elsewhere (`kyso pdf embed`): read, hashed, copied to the output.
    Copy(&'a std::path::Path),
    /// The file this process just prepared (`kyso pdf sign`): written in place and renamed, its
    /// digest the one the preparation computed (one pass over the input in all).
    InPlace(&'a std::path::Path, &'a kyso::pades::prepare::Prepared),
}

impl Finish<'_> {
    fn run(
        &self,
        prepared: Embedding<'_>,
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
        match prepared {
            Embedding::Copy(path) => {
                kyso::pades::embed_file(path, cms, output, stamp).map_err(|e| e.to_string())?
            }
            Embedding::InPlace(path, done) => {
                kyso::pades::embed_in_place(path, done, cms, stamp).map_err(|e| e.to_string())?;
                std::fs::rename(path, output).map_err(|e| format!("{}: {e}", output.display()))?;
            }
        }
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

/// Says how the number's and date's places were dealt with, when the role has them.
fn print_places(prepared: &kyso::pades::prepare::Prepared) {
    if let Some(places) = prepared.clerk_places {
        eprintln!("kyso: {}", kyso::i18n::both(places.message_id(), &[]));
    }
}

pub fn pdf_sign(
    app: &App,
    input: &std::path::Path,
    certificate: &str,
    output: &std::path::Path,
    stamp: &StampArgs,
    level: Option<values::Level>,
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
    // Prepared straight next to the output, signed in place, then renamed to it.
    let prepared_path = output.with_extension("kyso-partial");
    let request = prepare_request(input, stamp, signer, app.config.seal_size_mm)?;
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
            number: stamp.number.clone(),
            purpose: stamp.role.into(),
        },
        rsa_pss: false,
        ticket: None,
        attested: None,
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
            .run(
                Embedding::InPlace(&prepared_path, &prepared),
                &cms,
                output,
                given,
            )?;
            print_places(&prepared);
            println!("{}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e, false)),
    };
    let _ = std::fs::remove_file(&prepared_path);
    result
}

/// Runs the `kyso pdf` commands that need no token (all but `sign`).
///
/// # Errors
/// Unreadable files, a PDF that cannot be processed, a TSA that fails.
pub fn run(config: &Config, action: &PdfAction) -> Result<ExitCode, String> {
    match action {
        PdfAction::Prepare {
            input,
            output,
            stamp,
            json,
        } => pdf_prepare(config, input, output, stamp, *json).map(|_| ExitCode::SUCCESS),
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
        } => {
            let revocation = if *no_revocation {
                kyso::pki::check::RevocationMode::Off
            } else if *offline || config.offline {
                kyso::pki::check::RevocationMode::Offline
            } else {
                kyso::pki::check::RevocationMode::Online
            };
            Ok(pdf_verify(
                config,
                &PdfVerifyArgs {
                    input,
                    trust,
                    crls: crl,
                    revocation,
                    report: report.as_deref(),
                    password: password.as_deref().unwrap_or("").as_bytes(),
                    policy: *policy,
                    json: *json,
                    lang: *lang,
                },
            ))
        }
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
            let mut level = pades_level(*level, tsa_url)?;
            if *fetch_revocation {
                level = level.max(kyso::pades::archive::Level::Lt);
            }
            let finish = Finish {
                config,
                tsa_url,
                trust,
                level,
            };
            finish.run(Embedding::Copy(input), &cms, output, given)?;
            println!("{}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        PdfAction::Timestamp {
            input,
            output,
            tsa,
            trust,
            chain,
        } => {
            let url = tsa
                .as_deref()
                .or(config.tsa_url.as_deref())
                .ok_or("no TSA: give --tsa URL or set tsa_url / chưa có TSA")?;
            let anchors = tsa_anchors(config, trust)?;
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
            Ok(ExitCode::SUCCESS)
        }
        PdfAction::Lines { input, page } => {
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
            Ok(ExitCode::SUCCESS)
        }
        PdfAction::Sign { .. } => Err("kyso pdf sign needs the tokens".into()),
    }
}

/// Runs `kyso pdf sign` (prepare, sign with a token, embed, bring to the level).
///
/// # Errors
/// As [`pdf_sign`].
pub fn sign(app: &App, action: PdfAction) -> Result<ExitCode, String> {
    match action {
        PdfAction::Sign {
            input,
            certificate,
            output,
            stamp,
            level,
        } => pdf_sign(app, &input, &certificate, &output, &stamp, level),
        _ => Err("not a signing command".into()),
    }
}
