//! The signing use cases: list certificates, sign one digest, sign a batch.
//!
//! This module decides *what* is signed and *who* is asked; it reaches tokens only through
//! [`TokenProvider`] and the user only through [`Prompt`], and never touches sockets, files,
//! cryptoki or a GUI toolkit. Its [`Error`] is the one classification the API and the CLI show.

mod error;
mod origin;
mod prompt;
mod status;
pub mod ticket;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

pub use error::Error;
pub use origin::{ApprovalStore, Origin, OriginPolicy, Standing};
pub use prompt::{
    BatchProgress, BatchPrompt, OneAtATime, OriginDecision, PinPrompt, Prompt, ShownDocument,
    SignerSummary,
};
pub use status::{checking_line, Checked, PendingCheck, StatusChecker};
pub use ticket::{Attestation, Attested, TicketError};

use crate::config::RevocationCheck;

use crate::api::{self, Document, SignFormat};
use crate::cades::{self, SignerCertificates};
use crate::certificate::{self, CertificateInfo, KeyAlgorithm, Kind, Validity};
use crate::digest::DigestAlgorithm;
use crate::scheme::SignatureScheme;
use crate::token::{
    Authenticator, JobTiming, PinEntry, PinRefusal, PinRequest, SignJob, TokenCertificate,
    TokenProvider, TokenStatus,
};

/// What to sign: the document digest (CMS built here) or server-built signed attributes (raw).
#[derive(Clone, Debug)]
pub enum Payload {
    /// The ByteRange digest; the agent builds CAdES-BES signed attributes around it.
    Digest(Vec<u8>),
    /// DER `SET OF Attribute` built by the server; the agent checks and signs it as is.
    SignedAttributes(Vec<u8>),
}

/// One signature to make.
#[derive(Clone, Debug)]
pub struct SignOrder {
    /// Certificate id (hex SHA-256).
    pub certificate_id: String,
    /// Algorithm of the digest (and of the signature).
    pub digest_algorithm: DigestAlgorithm,
    /// What is signed.
    pub payload: Payload,
    /// The document, for the prompt.
    pub document: Document,
    /// Use RSASSA-PSS on an RSA key instead of PKCS#1 v1.5.
    pub rsa_pss: bool,
    /// The DMS server's ticket for this signature, as the page passed it.
    pub ticket: Option<String>,
    /// Whether the document was vouched for by a ticket; `None` until checked.
    pub attested: Option<Attested>,
}

impl SignOrder {
    /// Validates a wire request: base64, the payload that matches the format, digest length.
    ///
    /// # Errors
    /// [`Error::BadRequest`] naming what is wrong.
    pub fn from_request(request: api::SignRequest) -> Result<Self, Error> {
        Self::from_parts(
            &request.certificate_id,
            request.digest_algorithm,
            request.format,
            request.digest.as_deref(),
            request.signed_attributes.as_deref(),
            request.document,
        )
        .map(|order| order.with_ticket(request.ticket))
    }

    /// The order with the page's ticket.
    fn with_ticket(mut self, ticket: Option<String>) -> Self {
        self.ticket = ticket;
        self
    }

    /// Validates a batch request into one order per item.
    ///
    /// # Errors
    /// [`Error::BadRequest`] naming the item and what is wrong.
    pub fn from_batch(request: api::BatchSignRequest) -> Result<Vec<Self>, Error> {
        if request.items.is_empty() || request.items.len() > api::MAX_BATCH {
            return Err(Error::BadRequest(format!(
                "a batch has 1 to {} items",
                api::MAX_BATCH
            )));
        }
        request
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                Self::from_parts(
                    &request.certificate_id,
                    request.digest_algorithm,
                    request.format,
                    item.digest.as_deref(),
                    item.signed_attributes.as_deref(),
                    item.document,
                )
                .map(|order| order.with_ticket(item.ticket))
                .map_err(|e| match e {
                    Error::BadRequest(m) => Error::BadRequest(format!("items[{i}]: {m}")),
                    other => other,
                })
            })
            .collect()
    }

    fn from_parts(
        certificate_id: &str,
        alg: DigestAlgorithm,
        format: SignFormat,
        digest: Option<&str>,
        signed_attributes: Option<&str>,
        document: Document,
    ) -> Result<Self, Error> {
        let decode = |field: &str, text: &str| {
            B64.decode(text.trim())
                .map_err(|_| Error::BadRequest(format!("{field} is not valid base64")))
        };
        let payload = match (format, digest, signed_attributes) {
            (SignFormat::Cms, Some(digest), None) => Payload::Digest(decode("digest", digest)?),
            (SignFormat::Raw, None, Some(attrs)) => {
                Payload::SignedAttributes(decode("signedAttributes", attrs)?)
            }
            (SignFormat::Cms, _, _) => {
                return Err(Error::BadRequest("format cms takes digest only".into()))
            }
            (SignFormat::Raw, _, _) => {
                return Err(Error::BadRequest(
                    "format raw takes signedAttributes only".into(),
                ))
            }
        };
        if let Payload::Digest(digest) = &payload {
            check_digest_length(alg, digest)?;
        }
        if document.title.trim().is_empty() || document.title.len() > 1000 {
            return Err(Error::BadRequest(
                "document.title must be 1 to 1000 bytes".into(),
            ));
        }
        if document.number.as_ref().is_some_and(|n| n.len() > 200) {
            return Err(Error::BadRequest("document.number is too long".into()));
        }
        let certificate_id = certificate_id.trim().to_ascii_lowercase();
        if certificate_id.len() != 64 || !certificate_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::BadRequest(
                "certificateId is the hex SHA-256 of the certificate".into(),
            ));
        }
        Ok(Self {
            certificate_id,
            digest_algorithm: alg,
            payload,
            document,
            rsa_pss: false,
            ticket: None,
            attested: None,
        })
    }
}

fn check_digest_length(alg: DigestAlgorithm, digest: &[u8]) -> Result<(), Error> {
    if digest.len() == alg.len() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "a {alg} digest has {} bytes, got {}",
            alg.len(),
            digest.len()
        )))
    }
}

/// A finished signature.
#[derive(Clone, Debug)]
pub struct Signed {
    /// DER CMS for format `cms`.
    pub cms: Option<Vec<u8>>,
    /// The signature value.
    pub signature: Vec<u8>,
    /// `RSASSA-PKCS1-v1_5-SHA-256`…
    pub signature_algorithm: String,
    /// Signer certificate DER.
    pub certificate: Vec<u8>,
    /// Chain DER, issuer first.
    pub chain: Vec<Vec<u8>>,
    /// The status check made before signing: its evidence (OCSP responses, CRLs) to keep
    /// with the signature, and what it established. `None` when the check is off.
    pub revocation: Option<Checked>,
}

/// A signer's certificate and chain in base64, kept across the answers of a batch: every
/// answer carries the same ones, and each was encoded again for each document.
#[derive(Default)]
pub struct EncodedCertificates {
    certificate_der: Vec<u8>,
    chain_der: Vec<Vec<u8>>,
    certificate: String,
    chain: Vec<String>,
}

impl Signed {
    /// The wire form.
    pub fn to_response(&self) -> api::SignResponse {
        self.wire(
            B64.encode(&self.certificate),
            self.chain.iter().map(|c| B64.encode(c)).collect(),
        )
    }

    /// The wire form, the certificates taken from `known` when they are the ones it holds
    /// (and kept there otherwise).
    pub fn to_response_with(&self, known: &mut EncodedCertificates) -> api::SignResponse {
        if known.certificate_der != self.certificate || known.chain_der != self.chain {
            *known = EncodedCertificates {
                certificate_der: self.certificate.clone(),
                chain_der: self.chain.clone(),
                certificate: B64.encode(&self.certificate),
                chain: self.chain.iter().map(|c| B64.encode(c)).collect(),
            };
        }
        self.wire(known.certificate.clone(), known.chain.clone())
    }

    fn wire(&self, certificate: String, chain: Vec<String>) -> api::SignResponse {
        api::SignResponse {
            cms: self.cms.as_ref().map(|c| B64.encode(c)),
            signature: B64.encode(&self.signature),
            signature_algorithm: self.signature_algorithm.clone(),
            certificate,
            chain,
            revocation: self
                .revocation
                .as_ref()
                .and_then(Checked::evidence)
                .map(|e| api::RevocationEvidence {
                    ocsp: e.ocsp.iter().map(|d| B64.encode(d)).collect(),
                    crl: e.crl.iter().map(|d| B64.encode(d)).collect(),
                }),
            revocation_status: Some(match &self.revocation {
                None => api::RevocationStatus::NotChecked,
                Some(Checked::Good(_)) => api::RevocationStatus::Good,
                Some(_) => api::RevocationStatus::Unknown,
            }),
        }
    }
}

/// A signing certificate with the token that holds it.
#[derive(Clone, Debug)]
pub struct SignerCertificate {
    /// The certificate.
    pub info: CertificateInfo,
    /// Its token.
    pub token: TokenStatus,
    /// The chain above it (token certificates and configured ones).
    pub chain: Vec<CertificateInfo>,
}

impl SignerCertificate {
    fn summary(&self) -> SignerSummary {
        SignerSummary {
            holder: self.info.holder().to_string(),
            organization: self.info.organization.clone(),
            issuer: self
                .info
                .issuer_common_name
                .clone()
                .unwrap_or_else(|| self.info.issuer.clone()),
            valid_until: certificate::iso8601(self.info.not_after),
            not_after: i64::try_from(self.info.not_after).unwrap_or(i64::MAX),
            days_left: self.info.days_left(),
            kind: self.info.kind,
            serial: self.info.serial.clone(),
        }
    }

    /// The wire form.
    pub fn to_dto(&self) -> api::CertificateDto {
        let info = &self.info;
        api::CertificateDto {
            id: info.id.clone(),
            subject: info.subject.clone(),
            holder: info.holder().to_string(),
            organization: info.organization.clone(),
            email: info.email.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            not_before: certificate::iso8601(info.not_before),
            not_after: certificate::iso8601(info.not_after),
            validity: info.validity(),
            days_left: info.days_left(),
            key_algorithm: info.key_algorithm.to_string(),
            kind: info.kind,
            token: api::TokenRefDto {
                label: self.token.token.label.clone(),
                serial: self.token.token.serial.clone(),
                present: self.token.present,
            },
            certificate: B64.encode(&info.der),
            chain: self.chain.iter().map(|c| B64.encode(&c.der)).collect(),
        }
    }
}

/// The signing service: tokens, the prompt, and configured chain certificates.
pub struct SigningService {
    tokens: Arc<dyn TokenProvider>,
    prompt: Arc<dyn Prompt>,
    extra_chain: Vec<CertificateInfo>,
    status: Option<Arc<StatusChecker>>,
    attestation: Arc<Attestation>,
    origins: Option<Arc<OriginPolicy>>,
    /// The last signer's certificates as parsed for its CMS: a workstation signs with one
    /// certificate at a time, and parsing it was a third of the agent's own work per request.
    last_parsed: Mutex<Option<ParsedFor>>,
    /// The last signer looked up, with the tokens' generation it was found in: back-to-back
    /// requests with one certificate skip copying every token's certificates.
    last_signer: Mutex<Option<(u64, Arc<SignerCertificate>)>>,
}

/// A signer's certificates and what [`cades::ParsedSigner`] made of them.
struct ParsedFor {
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
    parsed: Arc<cades::ParsedSigner>,
}

/// How long a request waits for the status check before the first dialog opens: an answer
/// from the cache or a near responder decides before the signer is asked anything (a revoked
/// certificate gets no PIN dialog); a slower one goes on while the dialog is open.
const STATUS_HEAD_START: std::time::Duration = std::time::Duration::from_millis(300);

impl SigningService {
    /// Wires the service. `extra_chain` holds intermediates/roots from the configuration, used
    /// when the token does not carry them.
    pub fn new(
        tokens: Arc<dyn TokenProvider>,
        prompt: Arc<dyn Prompt>,
        extra_chain: Vec<CertificateInfo>,
    ) -> Self {
        Self {
            tokens,
            prompt,
            extra_chain,
            status: None,
            attestation: Arc::new(Attestation::default()),
            origins: None,
            last_parsed: Mutex::new(None),
            last_signer: Mutex::new(None),
        }
    }

    /// Checks DMS tickets with the policy's keys (`attested_origins`).
    #[must_use]
    pub fn with_attestation(mut self, attestation: Arc<Attestation>) -> Self {
        self.attestation = attestation;
        self
    }

    /// The origin policy, so that a dialog can say whether the agency or the user allowed the
    /// requesting site.
    #[must_use]
    pub fn with_origin_policy(mut self, origins: Arc<OriginPolicy>) -> Self {
        self.origins = Some(origins);
        self
    }

    /// Checks the DMS tickets of `orders` from `origin` (each order once): an attested
    /// document takes the ticket's title, number and purpose. Called before anything is shown
    /// to the user, so a refused ticket opens no dialog.
    ///
    /// # Errors
    /// [`Error::Ticket`] for the first order whose ticket is refused (or missing where the
    /// policy requires one): nothing of the request is signed.
    pub fn attest(&self, origin: Option<&str>, orders: &mut [SignOrder]) -> Result<(), Error> {
        let origin = origin.and_then(|o| Origin::parse(o).ok());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for (i, order) in orders.iter_mut().enumerate() {
            if order.attested.is_some() {
                continue;
            }
            let ticket = order.ticket.take();
            match self
                .attestation
                .check(origin.as_ref(), order, ticket.as_deref(), now)
            {
                Ok(attested) => order.attested = Some(attested),
                Err(e) => {
                    tracing::warn!(item = i, origin = ?origin.as_ref().map(Origin::to_string), error = %e, "ticket refused");
                    return Err(Error::Ticket(e));
                }
            }
        }
        Ok(())
    }

    /// How the requesting site was allowed, for the dialog.
    fn standing(&self, origin: Option<&str>) -> Option<Standing> {
        let origin = Origin::parse(origin?).ok()?;
        Some(self.origins.as_ref()?.standing(&origin))
    }

    /// Checks the certificate status before every signature (policy `revocation_check`;
    /// `off` leaves the service without a checker).
    #[must_use]
    pub fn with_status_check(mut self, checker: Option<Arc<StatusChecker>>) -> Self {
        self.status = checker.filter(|c| c.policy() != RevocationCheck::Off);
        self
    }

    /// The status of a signing certificate and the CAs above it, as the check before signing
    /// would find it now (`kyso doctor`). `None` when the policy turns the check off or no such
    /// certificate is on a token.
    pub fn revocation_status(&self, certificate_id: &str) -> Option<Checked> {
        let signer = self
            .certificates(None)
            .into_iter()
            .find(|c| c.info.id == certificate_id)?;
        self.start_status_check(&signer)
            .map(|check| check.outcome())
    }

    /// The policy of the check before signing (`off` when none is wired).
    pub fn revocation_policy(&self) -> RevocationCheck {
        self.status
            .as_ref()
            .map_or(RevocationCheck::Off, |c| c.policy())
    }

    /// Starts the status check of `signer`, if the policy asks for one.
    fn start_status_check(&self, signer: &SignerCertificate) -> Option<PendingCheck> {
        let checker = self.status.as_ref()?;
        let chain: Vec<Vec<u8>> = signer.chain.iter().map(|c| c.der.clone()).collect();
        Some(checker.start(&signer.info.id, &signer.info.der, &chain))
    }

    /// The error a finished check turns into under the policy, if it forbids signing.
    fn refusal(&self, checked: &Checked) -> Option<Error> {
        match checked {
            Checked::Revoked(detail) => Some(Error::CertificateRevoked(detail.clone())),
            Checked::Unknown(detail, _)
                if self
                    .status
                    .as_ref()
                    .is_some_and(|c| c.policy() == RevocationCheck::Require) =>
            {
                Some(Error::RevocationUnavailable(detail.clone()))
            }
            _ => None,
        }
    }

    /// The prompt (for origin approvals).
    pub fn prompt(&self) -> &Arc<dyn Prompt> {
        &self.prompt
    }

    /// The token provider (for status views and events).
    pub fn tokens(&self) -> &Arc<dyn TokenProvider> {
        &self.tokens
    }

    /// Every signing certificate (with a private key) on every known token, present first.
    /// Filtered by kind when asked; expired ones are listed and marked.
    pub fn certificates(&self, kind: Option<Kind>) -> Vec<SignerCertificate> {
        self.signers(|cert| kind.is_none_or(|k| k == cert.kind))
    }

    /// The signing certificates `wanted` keeps, each with its chain (built for those only: a
    /// request looks one up, and no longer copies every certificate of every token to do it).
    fn signers(&self, wanted: impl Fn(&CertificateInfo) -> bool) -> Vec<SignerCertificate> {
        let tokens = self.tokens.tokens();
        let pool: Vec<&CertificateInfo> = tokens
            .iter()
            .flat_map(|t| t.certificates.iter().map(|c| &c.info))
            .chain(self.extra_chain.iter())
            .collect();
        let mut out: Vec<SignerCertificate> = Vec::new();
        for token in &tokens {
            for cert in token
                .certificates
                .iter()
                .filter(|c| c.has_key && wanted(&c.info))
            {
                // The same token seen through two modules: keep the present one.
                if let Some(existing) = out.iter_mut().find(|c| c.info.id == cert.info.id) {
                    if !existing.token.present && token.present {
                        existing.token = token.clone();
                    }
                    continue;
                }
                out.push(SignerCertificate {
                    info: cert.info.clone(),
                    token: token.clone(),
                    chain: certificate::chain_for(&cert.info, &pool),
                });
            }
        }
        out.sort_by_key(|c| !c.token.present);
        out
    }

    /// The status view: tokens and signing certificates.
    pub fn status(&self) -> api::StatusResponse {
        let certificates = self.certificates(None);
        let tokens = self
            .tokens
            .tokens()
            .into_iter()
            .map(|t| api::TokenDto {
                certificates: t
                    .certificates
                    .iter()
                    .filter(|c: &&TokenCertificate| c.has_key)
                    .map(|c| c.info.id.clone())
                    .collect(),
                label: t.token.label,
                model: t.model,
                manufacturer: t.manufacturer,
                serial: t.token.serial,
                present: t.present,
                pin_state: wire_pin_state(t.pin_state),
                retries_left: t.retries_left,
                protected_auth_path: t.protected_auth_path,
                module: t.token.module,
            })
            .collect();
        api::StatusResponse {
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: api::API_VERSION,
            tokens,
            certificates: certificates.iter().map(SignerCertificate::to_dto).collect(),
        }
    }

    /// A token [`Authenticator`] that asks this service's prompt, showing `documents`.
    pub fn authenticator(
        &self,
        signer: &SignerCertificate,
        origin: Option<&str>,
        documents: Vec<Document>,
    ) -> Box<dyn Authenticator> {
        let documents = documents
            .into_iter()
            .map(|document| ShownDocument {
                document,
                attested: false,
            })
            .collect();
        let standing = self.standing(origin);
        Box::new(self.prompt_authenticator(signer, origin, standing, documents, None))
    }

    fn prompt_authenticator(
        &self,
        signer: &SignerCertificate,
        origin: Option<&str>,
        standing: Option<Standing>,
        documents: Vec<ShownDocument>,
        status: Option<PendingCheck>,
    ) -> PromptAuthenticator {
        PromptAuthenticator {
            prompt: self.prompt.clone(),
            origin: origin.map(str::to_string),
            standing,
            documents,
            signer: signer.summary(),
            status,
            refusal: Arc::new(std::sync::Mutex::new(None)),
            require: self
                .status
                .as_ref()
                .is_some_and(|c| c.policy() == RevocationCheck::Require),
        }
    }

    fn signer(&self, certificate_id: &str) -> Result<Arc<SignerCertificate>, Error> {
        let generation = self.tokens.generation();
        let mut last = self
            .last_signer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = match (last.as_ref(), generation) {
            (Some((seen, signer)), Some(now))
                if *seen == now && signer.info.id == certificate_id =>
            {
                Some(signer.clone())
            }
            _ => None,
        };
        let signer = match cached {
            Some(signer) => signer,
            None => {
                let signer = Arc::new(
                    self.signers(|c| c.id == certificate_id)
                        .into_iter()
                        .next()
                        .ok_or(Error::CertificateNotFound)?,
                );
                *last = generation.map(|now| (now, signer.clone()));
                signer
            }
        };
        drop(last);
        // Checked at every request: the certificate's dates against the clock.
        match signer.info.validity() {
            Validity::Valid => Ok(signer),
            other => Err(Error::CertificateNotValid(other)),
        }
    }

    /// `certificate` and `chain` parsed for their CMS, from the one-entry cache when they are the
    /// last signer's.
    fn parsed_signer(
        &self,
        certificate: &[u8],
        chain: &[Vec<u8>],
    ) -> Result<Arc<cades::ParsedSigner>, Error> {
        let mut last = self
            .last_parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cached) = last.as_ref() {
            if cached.certificate == certificate && cached.chain == chain {
                return Ok(cached.parsed.clone());
            }
        }
        let parsed = Arc::new(cades::ParsedSigner::new(&SignerCertificates {
            certificate,
            chain,
        })?);
        *last = Some(ParsedFor {
            certificate: certificate.to_vec(),
            chain: chain.to_vec(),
            parsed: parsed.clone(),
        });
        Ok(parsed)
    }

    /// Signs one document: asks the PIN (showing `origin` and the document), signs, logs out.
    ///
    /// # Errors
    /// Any [`Error`]; nothing is signed then.
    pub fn sign(&self, order: SignOrder, origin: Option<&str>) -> Result<Signed, Error> {
        self.sign_timed(order, origin, &Arc::default())
    }

    /// [`Self::sign`], the token's and the PIN prompt's time written to `timing` (the agent's
    /// `Server-Timing`).
    ///
    /// # Errors
    /// As [`Self::sign`].
    pub fn sign_timed(
        &self,
        order: SignOrder,
        origin: Option<&str>,
        timing: &Arc<JobTiming>,
    ) -> Result<Signed, Error> {
        let mut result = None;
        self.sign_many(
            vec![order],
            origin,
            Arc::new(AtomicBool::new(false)),
            false,
            timing.clone(),
            &mut |_, signed| result = Some(signed),
        )?;
        result.unwrap_or(Err(Error::Internal("empty result".into())))
    }

    /// Signs a batch with one certificate: one confirmation listing every document, one PIN,
    /// results per item. `abort` stops between two signatures; the PIN is forgotten at the end.
    ///
    /// # Errors
    /// An [`Error`] when nothing could be signed (cancelled, wrong PIN, token absent…).
    pub fn sign_batch(
        &self,
        orders: Vec<SignOrder>,
        origin: Option<&str>,
        abort: Arc<AtomicBool>,
    ) -> Result<Vec<Result<Signed, Error>>, Error> {
        let mut results = Vec::with_capacity(orders.len());
        self.sign_batch_each(orders, origin, abort, &mut |_, signed| results.push(signed))?;
        Ok(results)
    }

    /// [`Self::sign_batch`], each document's result handed to `deliver` (index, result) in
    /// order as soon as it is ready, while the token signs the next: the server streams the
    /// answer. Once one result is delivered, every document's is and the call returns `Ok`.
    ///
    /// # Errors
    /// An [`Error`], before any result, when nothing could be signed.
    pub fn sign_batch_each(
        &self,
        orders: Vec<SignOrder>,
        origin: Option<&str>,
        abort: Arc<AtomicBool>,
        deliver: &mut dyn FnMut(usize, Result<Signed, Error>),
    ) -> Result<(), Error> {
        self.sign_many(orders, origin, abort, true, Arc::default(), deliver)
    }

    fn sign_many(
        &self,
        mut orders: Vec<SignOrder>,
        origin: Option<&str>,
        abort: Arc<AtomicBool>,
        confirm: bool,
        timing: Arc<JobTiming>,
        deliver: &mut dyn FnMut(usize, Result<Signed, Error>),
    ) -> Result<(), Error> {
        // The token's thread wakes while this request is checked; a batch asks a person to
        // confirm first, so it wakes it after that.
        if let (Some(first), false) = (orders.first(), confirm) {
            self.tokens.about_to_sign(&first.certificate_id);
        }
        // Whoever calls, a ticket is checked (and required where the policy says) before
        // anything is shown.
        self.attest(origin, &mut orders)?;
        let first = orders
            .first()
            .ok_or_else(|| Error::BadRequest("no document to sign".into()))?;
        let certificate_id = first.certificate_id.clone();
        let alg = first.digest_algorithm;
        let rsa_pss = first.rsa_pss;
        if orders.iter().any(|o| {
            o.certificate_id != certificate_id || o.digest_algorithm != alg || o.rsa_pss != rsa_pss
        }) {
            return Err(Error::BadRequest(
                "a batch uses one certificate and one digest algorithm".into(),
            ));
        }
        let signer = self.signer(&certificate_id)?;
        let scheme = scheme_for(&signer.info.key_algorithm, rsa_pss)?;
        let documents: Vec<ShownDocument> = orders
            .iter()
            .map(|o| ShownDocument {
                document: o.document.clone(),
                attested: o.attested == Some(Attested::Yes),
            })
            .collect();
        let standing = self.standing(origin);
        // One status check per request (a batch included), started before any dialog.
        let status = self.start_status_check(&signer);
        if let Some(early) = status.as_ref().and_then(|s| s.wait(STATUS_HEAD_START)) {
            if let Some(refusal) = self.refusal(&early) {
                tracing::warn!(certificate = %certificate_id, error = %refusal, "not signing");
                return Err(refusal);
            }
        }
        if confirm {
            self.prompt
                .confirm_batch(&BatchPrompt {
                    origin: origin.map(str::to_string),
                    standing,
                    documents: documents.clone(),
                    signer: signer.summary(),
                })
                .map_err(|r| match r {
                    PinRefusal::Cancelled => Error::UserCancelled,
                    PinRefusal::TimedOut => Error::Timeout,
                })?;
            self.tokens.about_to_sign(&certificate_id);
        }
        // The certificates parsed once for every document of the request.
        let chain: Vec<Vec<u8>> = signer.chain.iter().map(|c| c.der.clone()).collect();
        let parsed = self.parsed_signer(&signer.info.der, &chain)?;
        // What the key signs for each order: the hash of the signed attributes.
        let mut prepared = Vec::with_capacity(orders.len());
        for order in &orders {
            prepared.push(match &order.payload {
                Payload::Digest(digest) => {
                    check_digest_length(alg, digest)?;
                    let attrs = parsed.signed_attributes(alg, digest)?;
                    let to_sign = alg.digest(&attrs);
                    (Some(attrs), to_sign)
                }
                // The server builds the CMS around its own attributes: only their hash is kept.
                Payload::SignedAttributes(der) => {
                    cades::check_signed_attributes(der, alg)?;
                    (None, alg.digest(der))
                }
            });
        }
        // The origin's standing as the request found it: looked up once (a remembered approval
        // is read from disk), shown in the batch's confirmation and the PIN dialog alike.
        let authenticator =
            self.prompt_authenticator(&signer, origin, standing, documents, status.clone());
        let withdrawn = authenticator.refusal.clone();
        let on_signed =
            (prepared.len() > 1).then(|| self.progress_window(prepared.len(), abort.clone()));
        let count = prepared.len();
        let (attributes, digests): (Vec<_>, Vec<_>) = prepared.into_iter().unzip();
        let mut answers = Answers {
            alg,
            scheme,
            signer: &signer,
            chain,
            parsed,
            status,
            revocation: None,
            attributes,
            ready: std::collections::BTreeMap::new(),
            next: 0,
        };
        let signed = self.tokens.sign(
            SignJob {
                certificate_id: certificate_id.clone(),
                scheme,
                digest_algorithm: alg,
                digests,
                authenticator: Box::new(authenticator),
                abort,
                on_signed,
                timing,
            },
            &mut |index, signature| answers.add(index, Ok(signature.to_vec()), deliver),
        );
        let signatures: Vec<Result<Vec<u8>, Error>> = match signed {
            Ok(signatures) => signatures
                .into_iter()
                .map(|r| r.map_err(Error::from))
                .collect(),
            Err(e) => {
                // A prompt withdrawn by the status check says why, not "cancelled".
                let error = match withdrawn.lock().ok().and_then(|mut w| w.take()) {
                    Some(refusal) => refusal,
                    None => Error::from(e),
                };
                if answers.next == 0 && answers.ready.is_empty() {
                    return Err(error);
                }
                // Some documents were signed (and told) before the token stopped answering:
                // every other one fails with the cause.
                (0..count).map(|_| Err(error.again())).collect()
            }
        };
        for (index, signature) in signatures.into_iter().enumerate() {
            if index >= answers.next && !answers.ready.contains_key(&index) {
                answers.add(index, signature, deliver);
            }
        }
        tracing::info!(certificate = %certificate_id, origin = origin.unwrap_or("-"), "signed");
        Ok(())
    }
}

/// The answers of one request, built as the token's signatures come: each document's CMS
/// around its signed attributes, handed on in the documents' order.
struct Answers<'a> {
    alg: DigestAlgorithm,
    scheme: SignatureScheme,
    signer: &'a SignerCertificate,
    /// The chain sent with each answer (completed with the issuers the status check fetched).
    chain: Vec<Vec<u8>>,
    parsed: Arc<cades::ParsedSigner>,
    /// The status check, until its outcome is taken (at the first answer).
    status: Option<PendingCheck>,
    revocation: Option<Option<Checked>>,
    /// Each document's signed attributes, DER (none for server-built ones, `raw`).
    attributes: Vec<Option<Vec<u8>>>,
    /// Answers ready but waiting for an earlier document's.
    ready: std::collections::BTreeMap<usize, Result<Signed, Error>>,
    /// The next document to hand on.
    next: usize,
}

impl Answers<'_> {
    /// Builds document `index`'s answer from its signature and hands on every answer now in
    /// order.
    fn add(
        &mut self,
        index: usize,
        signature: Result<Vec<u8>, Error>,
        deliver: &mut dyn FnMut(usize, Result<Signed, Error>),
    ) {
        let answer = signature.and_then(|signature| self.answer(index, signature));
        self.ready.insert(index, answer);
        while let Some(answer) = self.ready.remove(&self.next) {
            deliver(self.next, answer);
            self.next += 1;
        }
    }

    fn answer(&mut self, index: usize, signature: Vec<u8>) -> Result<Signed, Error> {
        let revocation = self.revocation().clone();
        let attributes = self.attributes.get_mut(index).and_then(Option::take);
        let cms = match attributes {
            Some(attrs) => Some(
                self.parsed
                    .assemble(self.alg, self.scheme, &attrs, &signature)?,
            ),
            None => None,
        };
        Ok(Signed {
            cms,
            signature,
            signature_algorithm: self.scheme.name(self.alg),
            certificate: self.signer.info.der.clone(),
            chain: self.chain.clone(),
            revocation,
        })
    }

    /// The status check's outcome, taken once (it had the whole PIN dialog to finish). Issuers
    /// it had to fetch (a token that holds only the signer's certificate) complete the chain in
    /// the CMS and in the answer.
    fn revocation(&mut self) -> &Option<Checked> {
        if self.revocation.is_none() {
            let outcome = self.status.take().map(|s| s.outcome());
            let mut fetched = false;
            for issuer in outcome
                .as_ref()
                .and_then(Checked::evidence)
                .map(|e| e.issuers.clone())
                .unwrap_or_default()
            {
                if !self.chain.contains(&issuer) {
                    self.chain.push(issuer);
                    fetched = true;
                }
            }
            if fetched {
                if let Ok(parsed) = cades::ParsedSigner::new(&SignerCertificates {
                    certificate: &self.signer.info.der,
                    chain: &self.chain,
                }) {
                    self.parsed = Arc::new(parsed);
                }
            }
            self.revocation = Some(outcome);
        }
        self.revocation.get_or_insert(None)
    }
}

impl SigningService {
    /// Progress for a batch: the window opens after the first signature (the PIN was accepted
    /// then) and closes with the last one; its Stop button sets `abort`.
    fn progress_window(
        &self,
        total: usize,
        abort: Arc<AtomicBool>,
    ) -> Box<dyn FnMut(usize) + Send> {
        let prompt = self.prompt.clone();
        let mut window: Option<Box<dyn BatchProgress>> = None;
        let mut asked = false;
        Box::new(move |done| {
            if done >= total {
                window = None;
                return;
            }
            if !asked {
                asked = true;
                window = prompt.batch_progress(total, abort.clone());
            }
            if let Some(window) = &window {
                window.signed(done);
            }
        })
    }
}

/// The token's PIN state as the API spells it.
fn wire_pin_state(state: crate::token::PinState) -> api::PinState {
    use crate::token::PinState;
    match state {
        PinState::Ok => api::PinState::Ok,
        PinState::CountLow => api::PinState::CountLow,
        PinState::FinalTry => api::PinState::FinalTry,
        PinState::Locked => api::PinState::Locked,
    }
}

/// The signature scheme a certificate's key takes.
///
/// # Errors
/// [`Error::Internal`] for a key type Kyso does not sign with.
pub fn scheme_for(key: &KeyAlgorithm, rsa_pss: bool) -> Result<SignatureScheme, Error> {
    match key {
        KeyAlgorithm::Rsa { .. } if rsa_pss => Ok(SignatureScheme::RsaPss),
        KeyAlgorithm::Rsa { .. } => Ok(SignatureScheme::RsaPkcs1v15),
        KeyAlgorithm::RsaPss { .. } => Ok(SignatureScheme::RsaPss),
        KeyAlgorithm::Ec { .. } => Ok(SignatureScheme::Ecdsa),
        KeyAlgorithm::Other(oid) => {
            Err(Error::Internal(format!("unsupported key algorithm {oid}")))
        }
    }
}

/// Asks the [`Prompt`] for the token's PIN with the request's context, and holds the PIN back
/// until the status check has ended: the token is never logged in for a revoked certificate
/// (or, under `require`, for one whose status is unknown). The token calls [`Authenticator::pin`]
/// before every login, so this is the last step before the key is used.
struct PromptAuthenticator {
    prompt: Arc<dyn Prompt>,
    origin: Option<String>,
    standing: Option<Standing>,
    documents: Vec<ShownDocument>,
    signer: SignerSummary,
    status: Option<PendingCheck>,
    /// Why the PIN was withheld, for the caller to report instead of `USER_CANCELLED`.
    refusal: Arc<std::sync::Mutex<Option<Error>>>,
    require: bool,
}

impl PromptAuthenticator {
    /// Waits for the status check; records and refuses when it forbids signing.
    fn cleared(&self) -> Result<(), PinRefusal> {
        let Some(status) = &self.status else {
            return Ok(());
        };
        let refusal = match status.outcome() {
            Checked::Revoked(detail) => Some(Error::CertificateRevoked(detail)),
            Checked::Unknown(detail, _) if self.require => {
                Some(Error::RevocationUnavailable(detail))
            }
            _ => None,
        };
        match refusal {
            Some(error) => {
                tracing::warn!(error = %error, "PIN withheld: not signing");
                if let Ok(mut slot) = self.refusal.lock() {
                    *slot = Some(error);
                }
                Err(PinRefusal::Cancelled)
            }
            None => Ok(()),
        }
    }
}

impl Authenticator for PromptAuthenticator {
    fn pin(&mut self, request: &PinRequest) -> Result<PinEntry, PinRefusal> {
        if request.protected_auth_path {
            // A pin-pad login starts on the device as soon as the window opens: decide first.
            self.cleared()?;
        }
        let asked = self.prompt.ask_pin(&PinPrompt {
            origin: self.origin.clone(),
            standing: self.standing,
            documents: self.documents.clone(),
            signer: self.signer.clone(),
            token_label: request.token.label.clone(),
            pin_state: request.pin_state,
            retries_left: request.retries_left,
            protected_auth_path: request.protected_auth_path,
            per_signature: request.per_signature,
            status: self.status.clone(),
        });
        // Also when the prompt was closed under the user by a revocation found meanwhile.
        self.cleared()?;
        asked
    }

    fn pin_used(&mut self) {
        self.prompt.pin_used();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Purpose, SignRequest};

    fn request(format: SignFormat, digest: Option<&str>, attrs: Option<&str>) -> SignRequest {
        SignRequest {
            certificate_id: "AB".into(),
            digest: digest.map(str::to_string),
            signed_attributes: attrs.map(str::to_string),
            digest_algorithm: DigestAlgorithm::Sha256,
            format,
            document: Document {
                title: "Quyết định".into(),
                number: None,
                purpose: Purpose::Approve,
            },
            ticket: None,
        }
    }

    /// No prompt: for what the service does before and after the token.
    struct Nothing;

    impl Prompt for Nothing {
        fn ask_pin(&self, _: &PinPrompt) -> Result<PinEntry, PinRefusal> {
            Err(PinRefusal::Cancelled)
        }
        fn approve_origin(&self, _: &str) -> Result<OriginDecision, PinRefusal> {
            Err(PinRefusal::Cancelled)
        }
        fn confirm_batch(&self, _: &BatchPrompt) -> Result<(), PinRefusal> {
            Err(PinRefusal::Cancelled)
        }
    }

    /// A provider with the tokens it is given (none by default) that counts its copies of them
    /// and says when they change; its token refuses to sign.
    #[derive(Default)]
    struct Generations {
        tokens: Mutex<(Vec<TokenStatus>, Option<u64>)>,
        copies: std::sync::atomic::AtomicUsize,
    }

    impl TokenProvider for Generations {
        fn tokens(&self) -> Vec<TokenStatus> {
            self.copies
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.tokens.lock().expect("tokens").0.clone()
        }
        fn generation(&self) -> Option<u64> {
            self.tokens.lock().expect("tokens").1
        }
        fn modules(&self) -> Vec<crate::token::ModuleStatus> {
            Vec::new()
        }
        fn refresh(&self) {}
        fn sign(
            &self,
            _job: crate::token::SignJob,
            _on_signature: &mut dyn FnMut(usize, &[u8]),
        ) -> Result<crate::token::SignResults, crate::token::Error> {
            Err(crate::token::Error::Cancelled)
        }
        fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::token::TokenEvent> {
            tokio::sync::broadcast::channel(1).1
        }
    }

    #[test]
    fn a_signer_is_looked_up_again_when_the_tokens_change() {
        let info = CertificateInfo::from_der(&crate::cades::tests::certificate("signer.example"))
            .expect("info");
        let id = info.id.clone();
        let token = TokenStatus {
            token: crate::token::TokenRef {
                module: "m".into(),
                serial: "1".into(),
                label: "t".into(),
            },
            model: String::new(),
            manufacturer: String::new(),
            present: true,
            pin_state: crate::token::PinState::Ok,
            retries_left: None,
            protected_auth_path: false,
            certificates: vec![TokenCertificate {
                info,
                key_id: vec![1],
                has_key: true,
            }],
        };
        let provider = Arc::new(Generations {
            tokens: Mutex::new((vec![token.clone()], Some(7))),
            copies: Default::default(),
        });
        let service = SigningService::new(provider.clone(), Arc::new(Nothing), Vec::new());
        let copies = || provider.copies.load(std::sync::atomic::Ordering::SeqCst);
        let first = service.signer(&id).expect("signer");
        assert!(service.signer(&id).is_ok());
        assert_eq!(copies(), 1, "the same generation: looked up once");
        assert!(matches!(
            service.signer("another"),
            Err(Error::CertificateNotFound)
        ));
        // The token pulled out: a new generation, and the lookup sees it.
        let mut pulled = token.clone();
        pulled.present = false;
        *provider.tokens.lock().expect("tokens") = (vec![pulled], Some(8));
        let again = service.signer(&id).expect("signer");
        assert!(first.token.present && !again.token.present);
        // A provider that promises nothing is asked every time.
        provider.tokens.lock().expect("tokens").1 = None;
        let before = copies();
        for _ in 0..3 {
            service.signer(&id).expect("signer");
        }
        assert_eq!(copies(), before + 3);
    }

    #[test]
    fn a_signer_is_parsed_once_and_again_when_its_certificates_change() {
        use crate::cades::tests::certificate;
        let service = SigningService::new(
            Arc::new(Generations::default()),
            Arc::new(Nothing),
            Vec::new(),
        );
        let (leaf, other) = (certificate("leaf.example"), certificate("other.example"));
        let chain = vec![certificate("ca.example")];
        let first = service.parsed_signer(&leaf, &chain).expect("parsed");
        let again = service.parsed_signer(&leaf, &chain).expect("parsed");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same signer is parsed once"
        );
        // A chain completed by the status check, or another signer: parsed anew, never the
        // cached one.
        let longer = [chain.clone(), vec![certificate("root.example")]].concat();
        let extended = service.parsed_signer(&leaf, &longer).expect("parsed");
        assert!(!Arc::ptr_eq(&first, &extended));
        let another = service.parsed_signer(&other, &chain).expect("parsed");
        assert!(!Arc::ptr_eq(&extended, &another));
        assert!(service.parsed_signer(b"junk", &chain).is_err());
    }

    #[test]
    fn from_request_refuses_short_digest_and_mixed_payloads() {
        let short = B64.encode([0u8; 20]);
        let full = B64.encode([0u8; 32]);
        assert!(matches!(
            SignOrder::from_request(request(SignFormat::Cms, Some(&short), None)),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            SignOrder::from_request(request(SignFormat::Cms, Some(&full), Some(&full))),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            SignOrder::from_request(request(SignFormat::Raw, Some(&full), None)),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            SignOrder::from_request(request(SignFormat::Cms, Some("***"), None)),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            SignOrder::from_request(request(SignFormat::Cms, Some(&full), None)),
            Err(Error::BadRequest(_))
        ));
        let mut good = request(SignFormat::Cms, Some(&full), None);
        good.certificate_id = "AB".repeat(32);
        let ok = SignOrder::from_request(good).expect("ok");
        assert_eq!(ok.certificate_id, "ab".repeat(32));
    }
}
