//! PKCS#11 through `cryptoki`: the only module that talks to token drivers.
//!
//! Each module (driver library) gets one worker thread that owns its `Pkcs11` context and does
//! every call: PKCS#11 calls block (a pin-pad login waits for the user's fingers), sessions are
//! not `Sync`, and many drivers are not thread-safe. Callers reach the worker through a channel;
//! reads come from a snapshot the worker refreshes, so listing tokens never waits for a signature.
//! The hand-off costs little: the worker is woken while the request is still being checked
//! ([`TokenProvider::about_to_sign`]), and whichever side waits for the machine (not a person)
//! polls briefly before it sleeps (`POLL_BEFORE_SLEEP`).
//!
//! The worker polls slots (SoftHSM and many drivers do not support blocking
//! `C_WaitForSlotEvent`), publishes inserted/removed events, and re-initialises the module after
//! a device-removed or stale-session error so that a token plugged back in works without a
//! restart. Every signing job logs in and logs out: a PIN never outlives one job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use secrecy::ExposeSecret;
use tokio::sync::broadcast;

use super::{
    Authenticator, Error, JobTiming, ModuleStatus, PinEntry, PinRefusal, PinRequest, PinState,
    SignJob, SignResults, TokenCertificate, TokenEvent, TokenProvider, TokenRef, TokenStatus,
};
use crate::certificate::CertificateInfo;
use crate::scheme::{ecdsa_raw_to_der, SignatureScheme};

/// Timing and policy knobs of the token layer.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often slots are polled for inserted/removed tokens.
    pub poll_interval: Duration,
    /// How long a token may take for one call (and how long a job waits behind another).
    pub token_timeout: Duration,
    /// How long the user may take to answer the PIN prompt (the prompt enforces it; the
    /// caller waits this long plus a grace period).
    pub prompt_timeout: Duration,
    /// Wrong PINs that lock a token, for "retries left" (see [`PinState::retries_left`]).
    pub pin_retry_limit: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(1500),
            token_timeout: Duration::from_secs(30),
            prompt_timeout: Duration::from_secs(120),
            pin_retry_limit: Some(3),
        }
    }
}

/// A module to load: its path and where it was named (`config`, `policy`, `registry:<vendor>`).
#[derive(Clone, Debug)]
pub struct ModuleSpec {
    /// Shared library path.
    pub path: PathBuf,
    /// Where it came from, for `kyso doctor`.
    pub source: String,
    /// When one of its tokens can be present: the module is loaded only then.
    pub presence: crate::platform::devices::Presence,
}

/// Every configured PKCS#11 module, each behind its worker thread.
pub struct Pkcs11Tokens {
    workers: Vec<WorkerHandle>,
    events: broadcast::Sender<TokenEvent>,
    settings: Settings,
}

struct WorkerHandle {
    jobs: Option<mpsc::Sender<Job>>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    status: Option<ModuleStatus>,
    tokens: Vec<TokenStatus>,
    /// Bumped at each publication of `tokens` (see [`TokenProvider::generation`]).
    generation: u64,
}

enum Job {
    Sign {
        job: SignJob,
        phase: Arc<JobPhase>,
        replies: mpsc::Sender<Reply>,
        cancelled: Arc<AtomicBool>,
    },
    Refresh {
        done: mpsc::Sender<()>,
    },
    Bench {
        request: BenchRequest,
        done: mpsc::Sender<Result<BenchSamples, Error>>,
    },
    /// A signing job follows shortly (see [`TokenProvider::about_to_sign`]).
    Expect,
}

/// How long either side of a signing job keeps polling for the other before it sleeps.
///
/// A thread asleep on an idle CPU takes 30–40 µs to run again once woken (measured on this
/// project's 2-vCPU VMs, where an idle vCPU halts), and a signature crossed to the module's
/// worker and back: two such wake-ups, as much as all of Kyso's own work around it. While the
/// machine (not a person) is what is awaited, the waiting side polls for up to this long,
/// yielding its CPU at each turn; a real USB token, whose `C_Sign` takes longer, is waited for
/// asleep after that, as before.
const POLL_BEFORE_SLEEP: Duration = Duration::from_millis(2);

/// Polls `jobs` for up to [`POLL_BEFORE_SLEEP`]: the job announced by [`Job::Expect`].
fn job_soon(jobs: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = std::time::Instant::now();
    loop {
        match jobs.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() >= POLL_BEFORE_SLEEP => return None,
            Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
}

/// The worker's next reply within `left`: polled for while the token works (up to
/// [`POLL_BEFORE_SLEEP`]), slept for while a person answers a prompt, while the token logs in,
/// and after the poll.
fn next_reply(
    replies: &mpsc::Receiver<Reply>,
    phase: &JobPhase,
    left: Duration,
) -> Result<Reply, RecvTimeoutError> {
    let start = std::time::Instant::now();
    let poll = left.min(POLL_BEFORE_SLEEP);
    loop {
        match replies.try_recv() {
            Ok(reply) => return Ok(reply),
            Err(mpsc::TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if start.elapsed() >= poll
            || matches!(phase.get().0, Phase::WaitingForUser | Phase::LoggingIn)
        {
            break;
        }
        std::thread::yield_now();
    }
    replies.recv_timeout(left.saturating_sub(start.elapsed()))
}

/// A benchmark run on one logged-in session: raw `C_Sign` and the whole CMS path, interleaved
/// so that both see the same machine noise.
pub struct BenchRequest {
    /// Certificate id.
    pub certificate_id: String,
    /// Signature scheme.
    pub scheme: SignatureScheme,
    /// Digest algorithm.
    pub digest_algorithm: crate::digest::DigestAlgorithm,
    /// The digest → CMS path measured against raw `C_Sign`: given a digest and the token's
    /// signing callback (hash to be signed → signature value), it builds the CMS. The token
    /// knows no CMS; the caller brings it.
    pub cms_path: CmsPath,
    /// Pairs of measurements.
    pub iterations: usize,
    /// Where the PIN comes from (asked once).
    pub authenticator: Box<dyn super::Authenticator>,
}

/// See [`BenchRequest::cms_path`].
pub type CmsPath = Box<
    dyn FnMut(&[u8], &mut dyn FnMut(&[u8]) -> Result<Vec<u8>, String>) -> Result<(), String> + Send,
>;

/// Per-iteration durations.
pub struct BenchSamples {
    /// Raw `C_Sign` of one prepared input (DigestInfo or hash).
    pub raw_sign: Vec<Duration>,
    /// Digest → signed attributes → hash → `C_Sign` → SignedData.
    pub cms_path: Vec<Duration>,
    /// The token calls of one agent request (`C_GetTokenInfo`, `C_OpenSession`, `C_Login`,
    /// `C_FindObjects*`, `C_GetAttributeValue`, `C_Sign`, `C_Logout`, `C_CloseSession`): the
    /// agent logs in and out every time (the PIN is held by the bench job only, like a batch).
    pub login_sign_logout: Vec<Duration>,
}

/// What the worker tells the caller of a signing job.
enum Reply {
    /// A batch's signature `index`, as soon as the token made it.
    Signed(usize, Vec<u8>),
    /// The token is about to make the job's first signature (logged in, the key found): the
    /// caller, asleep through the prompt and the login, wakes while it signs, to be polling
    /// when the result comes.
    Resumed,
    /// The job's end.
    Done(Result<SignResults, Error>),
}

/// Where a signing job stands, and since when: written by the worker at each step, read by the
/// caller only when its wait runs out, so that progress costs no thread wake-up (a batch of 100
/// once woke the caller 100 times).
struct JobPhase {
    queued: std::time::Instant,
    /// The phase in the top byte, milliseconds since `queued` below.
    state: std::sync::atomic::AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Behind another job.
    Queued = 0,
    /// The worker has it (finding the token, opening a session).
    Started = 1,
    /// The PIN prompt is open.
    WaitingForUser = 2,
    /// Signing (again at each signature of a batch).
    Signing = 3,
    /// Logging in and finding the key.
    LoggingIn = 4,
}

impl JobPhase {
    fn new() -> Self {
        Self {
            queued: std::time::Instant::now(),
            state: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn set(&self, phase: Phase) {
        let ms = u64::try_from(self.queued.elapsed().as_millis()).unwrap_or(u64::MAX >> 8);
        self.state.store(
            ((phase as u64) << 56) | ms.min((1 << 56) - 1),
            Ordering::Release,
        );
    }

    /// The phase and when it began.
    fn get(&self) -> (Phase, std::time::Instant) {
        let state = self.state.load(Ordering::Acquire);
        let phase = match state >> 56 {
            1 => Phase::Started,
            2 => Phase::WaitingForUser,
            3 => Phase::Signing,
            4 => Phase::LoggingIn,
            _ => Phase::Queued,
        };
        (
            phase,
            self.queued + Duration::from_millis(state & ((1 << 56) - 1)),
        )
    }
}

impl Pkcs11Tokens {
    /// Starts one worker per module; each loads its module and scans its slots in the
    /// background. A module that fails to load is reported in [`TokenProvider::modules`], not fatal.
    pub fn start(modules: Vec<ModuleSpec>, settings: Settings) -> Self {
        let (events, _) = broadcast::channel(64);
        let workers = modules
            .into_iter()
            .map(|spec| {
                let (tx, rx) = mpsc::channel();
                let shared = Arc::new(Mutex::new(Shared {
                    status: Some(ModuleStatus {
                        path: spec.path.display().to_string(),
                        source: spec.source.clone(),
                        library: None,
                        error: None,
                        waiting_for_device: false,
                    }),
                    tokens: Vec::new(),
                    generation: 0,
                }));
                let mut worker = Worker {
                    spec,
                    shared: shared.clone(),
                    events: events.clone(),
                    settings: settings.clone(),
                    ctx: None,
                    stale: false,
                    tokens: Vec::new(),
                    failures: HashMap::new(),
                    slots: HashMap::new(),
                    first_scan: true,
                    last_error: None,
                };
                let thread = std::thread::Builder::new()
                    .name("kyso-pkcs11".into())
                    .spawn(move || worker.run(rx))
                    .ok();
                WorkerHandle {
                    jobs: Some(tx),
                    shared,
                    thread,
                }
            })
            .collect();
        Self {
            workers,
            events,
            settings,
        }
    }

    fn worker_for(&self, certificate_id: &str) -> Option<&WorkerHandle> {
        let holds = |w: &&WorkerHandle, need_present: bool| {
            lock(&w.shared).tokens.iter().any(|t| {
                (t.present || !need_present)
                    && t.certificates.iter().any(|c| c.info.id == certificate_id)
            })
        };
        self.workers
            .iter()
            .find(|w| holds(w, true))
            .or_else(|| self.workers.iter().find(|w| holds(w, false)))
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TokenProvider for Pkcs11Tokens {
    fn tokens(&self) -> Vec<TokenStatus> {
        self.workers
            .iter()
            .flat_map(|w| lock(&w.shared).tokens.clone())
            .collect()
    }

    fn generation(&self) -> Option<u64> {
        Some(
            self.workers
                .iter()
                .fold(0u64, |sum, w| sum.wrapping_add(lock(&w.shared).generation)),
        )
    }

    fn modules(&self) -> Vec<ModuleStatus> {
        self.workers
            .iter()
            .filter_map(|w| lock(&w.shared).status.clone())
            .collect()
    }

    fn refresh(&self) {
        let waits: Vec<_> = self
            .workers
            .iter()
            .filter_map(|w| {
                let (done, wait) = mpsc::channel();
                w.jobs.as_ref()?.send(Job::Refresh { done }).ok()?;
                Some(wait)
            })
            .collect();
        for wait in waits {
            // A worker stuck in a slow driver call is not waited for beyond the token timeout.
            let _ = wait.recv_timeout(self.settings.token_timeout);
        }
    }

    fn sign(
        &self,
        job: SignJob,
        on_signature: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<SignResults, Error> {
        let worker = self
            .worker_for(&job.certificate_id)
            .ok_or_else(|| Error::CertificateNotFound(job.certificate_id.clone()))?;
        let (replies, result) = mpsc::channel();
        let phase = Arc::new(JobPhase::new());
        let cancelled = Arc::new(AtomicBool::new(false));
        worker
            .jobs
            .as_ref()
            .ok_or(Error::WorkerGone)?
            .send(Job::Sign {
                job,
                phase: phase.clone(),
                replies,
                cancelled: cancelled.clone(),
            })
            .map_err(|_| Error::WorkerGone)?;
        let grace = Duration::from_secs(5);
        loop {
            let (now, started) = phase.get();
            // Each phase has its own limit, counted from when it began.
            let limit = match now {
                Phase::WaitingForUser => self.settings.prompt_timeout + grace,
                _ => self.settings.token_timeout,
            };
            let left = (started + limit).saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                // The worker skips or discards the job; it cannot interrupt a driver call.
                cancelled.store(true, Ordering::SeqCst);
                // Still queued behind another job: busy; started and stuck: timed out.
                let error = if now == Phase::Queued {
                    Error::Busy
                } else {
                    Error::Timeout
                };
                tracing::warn!(%error, "token did not answer in time");
                return Err(error);
            }
            match next_reply(&result, &phase, left) {
                Ok(Reply::Signed(index, signature)) => on_signature(index, &signature),
                Ok(Reply::Resumed) => {}
                Ok(Reply::Done(result)) => return result,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(Error::WorkerGone),
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<TokenEvent> {
        self.events.subscribe()
    }

    fn about_to_sign(&self, certificate_id: &str) {
        if let Some(jobs) = self
            .worker_for(certificate_id)
            .and_then(|w| w.jobs.as_ref())
        {
            let _ = jobs.send(Job::Expect);
        }
    }
}

impl Pkcs11Tokens {
    /// Runs a [`BenchRequest`] on the worker that holds the certificate.
    ///
    /// # Errors
    /// As a signing job would fail.
    pub fn bench(&self, request: BenchRequest) -> Result<BenchSamples, Error> {
        let worker = self
            .worker_for(&request.certificate_id)
            .ok_or_else(|| Error::CertificateNotFound(request.certificate_id.clone()))?;
        let (done, wait) = mpsc::channel();
        worker
            .jobs
            .as_ref()
            .ok_or(Error::WorkerGone)?
            .send(Job::Bench { request, done })
            .map_err(|_| Error::WorkerGone)?;
        wait.recv().map_err(|_| Error::WorkerGone)?
    }
}

impl Drop for Pkcs11Tokens {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.jobs.take();
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// The state one worker thread owns.
struct Worker {
    spec: ModuleSpec,
    shared: Arc<Mutex<Shared>>,
    events: broadcast::Sender<TokenEvent>,
    settings: Settings,
    ctx: Option<Pkcs11>,
    /// A call said the device or session went away: re-initialise before the next call.
    stale: bool,
    tokens: Vec<TokenStatus>,
    /// Wrong PINs seen since the last good login, per token serial.
    failures: HashMap<String, u32>,
    /// Slot of each present token at the last scan, by serial.
    slots: HashMap<String, Slot>,
    first_scan: bool,
    last_error: Option<String>,
}

impl Worker {
    fn run(&mut self, jobs: mpsc::Receiver<Job>) {
        self.poll();
        let mut announced = None;
        loop {
            let next = match announced.take() {
                Some(job) => Ok(job),
                None => jobs.recv_timeout(self.settings.poll_interval),
            };
            match next {
                Ok(Job::Expect) => announced = job_soon(&jobs),
                Ok(Job::Refresh { done }) => {
                    self.poll();
                    let _ = done.send(());
                }
                Ok(Job::Sign {
                    job,
                    phase,
                    replies,
                    cancelled,
                }) => {
                    let result = if cancelled.load(Ordering::SeqCst) {
                        Err(Error::Busy)
                    } else {
                        phase.set(Phase::Started);
                        let (timing, started) = (job.timing.clone(), Instant::now());
                        let result = self.sign(job, &phase, &replies, &cancelled);
                        timing.add_job(started.elapsed());
                        result
                    };
                    if matches!(result, Err(Error::TokenNotPresent)) {
                        self.stale = true;
                    }
                    let failed = result.is_err();
                    let _ = replies.send(Reply::Done(result));
                    // Publish what the job changed (a removal, a PIN count cleared by a good
                    // login), after the caller has its answer.
                    let pin_was_counting = self
                        .tokens
                        .iter()
                        .any(|t| t.present && t.pin_state != PinState::Ok);
                    if failed || pin_was_counting {
                        self.poll();
                    }
                }
                Ok(Job::Bench { request, done }) => {
                    let _ = done.send(self.bench(request));
                }
                Err(RecvTimeoutError::Timeout) => self.poll(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.finalize();
        }
    }

    fn module_name(&self) -> String {
        self.spec.path.display().to_string()
    }

    /// The context, (re)loading and initialising the module when needed.
    fn context(&mut self) -> Result<Pkcs11, Error> {
        if self.stale {
            if let Some(ctx) = self.ctx.take() {
                tracing::info!(module = %self.module_name(), "re-initialising PKCS#11 module");
                let _ = ctx.finalize();
            }
            self.stale = false;
        }
        if let Some(ctx) = &self.ctx {
            return Ok(ctx.clone());
        }
        let module = |message: String| Error::Module {
            path: self.module_name(),
            message,
        };
        let ctx = Pkcs11::new(&self.spec.path).map_err(|e| module(e.to_string()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module(e.to_string())),
        }
        let library = ctx.get_library_info().ok().map(|info| {
            format!(
                "{} {} ({})",
                info.library_description().trim(),
                info.library_version(),
                info.manufacturer_id().trim()
            )
        });
        if let Some(status) = lock(&self.shared).status.as_mut() {
            status.library = library;
            status.error = None;
        }
        self.ctx = Some(ctx.clone());
        Ok(ctx)
    }

    /// Whether the module should be loaded now. When none of its tokens can be present it is
    /// not loaded, or is unloaded (its tokens reported removed first): a vendor module costs
    /// megabytes even with nothing plugged in.
    fn wanted(&mut self) -> bool {
        let wanted = self.spec.presence.may_be_present();
        if !wanted {
            if self.first_scan || self.tokens.iter().any(|t| t.present) {
                self.apply_scan(Vec::new());
            }
            if let Some(ctx) = self.ctx.take() {
                tracing::info!(module = %self.module_name(), "no token of this module connected: unloading it");
                let _ = ctx.finalize();
            }
            self.slots.clear();
        }
        if let Some(status) = lock(&self.shared).status.as_mut() {
            status.waiting_for_device = !wanted;
            if !wanted {
                status.library = None;
            }
        }
        wanted
    }

    fn poll(&mut self) {
        if !self.wanted() {
            return;
        }
        match self.scan() {
            Ok(found) => {
                self.last_error = None;
                self.apply_scan(found);
            }
            Err(error) => {
                let message = error.to_string();
                if self.last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(module = %self.module_name(), %message, "PKCS#11 module unavailable");
                }
                if let Some(status) = lock(&self.shared).status.as_mut() {
                    status.error = Some(message.clone());
                }
                self.last_error = Some(message);
                self.stale = true;
                self.apply_scan(Vec::new());
            }
        }
    }

    /// Present tokens: slot, info, and (for tokens not yet known or just re-inserted) their
    /// certificates.
    fn scan(&mut self) -> Result<Vec<(Slot, TokenInfo)>, Error> {
        let ctx = self.context()?;
        let slots = ctx.get_slots_with_token().map_err(classify)?;
        let mut found = Vec::new();
        for slot in slots {
            match ctx.get_token_info(slot) {
                // SoftHSM and some drivers keep an empty, uninitialised token in a spare slot.
                Ok(info) if !info.token_initialized() => {}
                Ok(info) => found.push((slot, info)),
                Err(e) => tracing::debug!(?slot, error = %e, "slot skipped"),
            }
        }
        Ok(found)
    }

    fn apply_scan(&mut self, found: Vec<(Slot, TokenInfo)>) {
        self.slots = found
            .iter()
            .map(|(slot, info)| (info.serial_number().trim().to_string(), *slot))
            .collect();
        let mut events = Vec::new();
        let mut seen = Vec::new();
        for (slot, info) in &found {
            let serial = info.serial_number().trim().to_string();
            seen.push(serial.clone());
            let pin_state = pin_state(info);
            let failures = self.failures.get(&serial).copied().unwrap_or(0);
            let retries_left = pin_state.retries_left(failures, self.settings.pin_retry_limit);
            let known = self.tokens.iter().position(|t| t.token.serial == serial);
            let needs_certificates = known.is_none_or(|i| !self.tokens[i].present);
            let certificates = if needs_certificates {
                match self.read_certificates(*slot) {
                    Ok(certs) => Some(certs),
                    Err(e) => {
                        tracing::warn!(%serial, error = %e, "cannot read certificates");
                        Some(Vec::new())
                    }
                }
            } else {
                None
            };
            let status = TokenStatus {
                token: TokenRef {
                    module: self.module_name(),
                    serial: serial.clone(),
                    label: info.label().trim().to_string(),
                },
                model: info.model().trim().to_string(),
                manufacturer: info.manufacturer_id().trim().to_string(),
                present: true,
                pin_state,
                retries_left,
                protected_auth_path: info.protected_authentication_path(),
                certificates: Vec::new(),
            };
            match known {
                Some(i) => {
                    let previous = &mut self.tokens[i];
                    if !previous.present {
                        events.push(TokenEvent::TokenInserted {
                            token: status.token.clone(),
                        });
                    }
                    if pin_state == PinState::Locked && previous.pin_state != PinState::Locked {
                        events.push(TokenEvent::PinLocked {
                            token: status.token.clone(),
                        });
                    }
                    let certs = certificates.unwrap_or_else(|| previous.certificates.clone());
                    *previous = TokenStatus {
                        certificates: certs,
                        ..status
                    };
                }
                None => {
                    if !self.first_scan {
                        events.push(TokenEvent::TokenInserted {
                            token: status.token.clone(),
                        });
                    }
                    self.tokens.push(TokenStatus {
                        certificates: certificates.unwrap_or_default(),
                        ..status
                    });
                }
            }
        }
        for token in &mut self.tokens {
            if token.present && !seen.contains(&token.token.serial) {
                token.present = false;
                events.push(TokenEvent::TokenRemoved {
                    token: token.token.clone(),
                });
            }
        }
        self.first_scan = false;
        let mut shared = lock(&self.shared);
        shared.tokens = self.tokens.clone();
        shared.generation = shared.generation.wrapping_add(1);
        drop(shared);
        for event in events {
            tracing::info!(?event, "token event");
            let _ = self.events.send(event);
        }
    }

    fn read_certificates(&mut self, slot: Slot) -> Result<Vec<TokenCertificate>, Error> {
        let ctx = self.context()?;
        let session = ctx.open_ro_session(slot).map_err(classify)?;
        let certs = session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
            ])
            .map_err(classify)?;
        let key_ids = |class: ObjectClass| -> Vec<Vec<u8>> {
            session
                .find_objects(&[Attribute::Class(class)])
                .unwrap_or_default()
                .into_iter()
                .filter_map(|handle| object_id(&session, handle))
                .collect()
        };
        let mut key_ids_seen = key_ids(ObjectClass::PRIVATE_KEY);
        key_ids_seen.extend(key_ids(ObjectClass::PUBLIC_KEY));
        let mut out = Vec::new();
        for handle in certs {
            let attrs = session
                .get_attributes(handle, &[AttributeType::Value, AttributeType::Id])
                .map_err(classify)?;
            let mut value = None;
            let mut key_id = Vec::new();
            for attr in attrs {
                match attr {
                    Attribute::Value(v) => value = Some(v),
                    Attribute::Id(id) => key_id = id,
                    _ => {}
                }
            }
            let Some(der) = value else { continue };
            match CertificateInfo::from_der(&der) {
                Ok(info) => {
                    // Tokens that hide every key before login: a non-CA certificate is a signer.
                    let has_key = if key_ids_seen.is_empty() {
                        !info.is_ca
                    } else {
                        !key_id.is_empty() && key_ids_seen.contains(&key_id)
                    };
                    out.push(TokenCertificate {
                        info,
                        key_id,
                        has_key,
                    });
                }
                Err(e) => tracing::warn!(error = %e, "unreadable certificate on token skipped"),
            }
        }
        Ok(out)
    }

    /// Finds the slot of a token by serial: its last known slot when that still holds it,
    /// else a rescan (re-initialising the module first if it went stale).
    fn locate(&mut self, serial: &str) -> Result<(Slot, TokenInfo), Error> {
        if !self.stale {
            if let (Some(ctx), Some(slot)) = (&self.ctx, self.slots.get(serial)) {
                if let Ok(info) = ctx.get_token_info(*slot) {
                    if info.serial_number().trim() == serial {
                        return Ok((*slot, info));
                    }
                }
            }
        }
        // A token busy with another process or a USB hiccup can miss one scan: look twice
        // before telling the user it is not plugged in.
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(150));
            }
            match self.scan() {
                Ok(found) => {
                    let hit = found
                        .iter()
                        .find(|(_, info)| info.serial_number().trim() == serial)
                        .map(|(slot, info)| (*slot, info.clone()));
                    if let Some(hit) = hit {
                        self.apply_scan(found);
                        return Ok(hit);
                    }
                    if attempt > 0 {
                        self.apply_scan(found);
                    }
                }
                Err(e) if attempt > 0 => {
                    self.stale = true;
                    return Err(e);
                }
                Err(_) => self.stale = true,
            }
        }
        Err(Error::TokenNotPresent)
    }

    fn sign(
        &mut self,
        job: SignJob,
        phase: &JobPhase,
        replies: &mpsc::Sender<Reply>,
        cancelled: &AtomicBool,
    ) -> Result<SignResults, Error> {
        let SignJob {
            certificate_id,
            scheme,
            digest_algorithm,
            digests,
            authenticator,
            abort,
            mut on_signed,
            timing,
        } = job;
        let mut authenticator = TimedPrompt {
            inner: authenticator,
            timing,
        };
        if let Some(bad) = digests.iter().find(|d| d.len() != digest_algorithm.len()) {
            return Err(Error::DigestLength {
                alg: digest_algorithm,
                expected: digest_algorithm.len(),
                got: bad.len(),
            });
        }
        let (serial, key_id, token) = self
            .tokens
            .iter()
            .find_map(|t| {
                t.certificates
                    .iter()
                    .find(|c| c.info.id == certificate_id)
                    .map(|c| (t.token.serial.clone(), c.key_id.clone(), t.token.clone()))
            })
            .ok_or_else(|| Error::CertificateNotFound(certificate_id.clone()))?;
        let (slot, info) = self.locate(&serial)?;
        let before = pin_state(&info);
        if before == PinState::Locked {
            return Err(Error::PinLocked);
        }
        let ctx = self.context()?;
        let session = ctx.open_ro_session(slot).map_err(classify)?;
        let failures = self.failures.get(&serial).copied().unwrap_or(0);
        let request = PinRequest {
            token: token.clone(),
            pin_state: before,
            retries_left: before.retries_left(failures, self.settings.pin_retry_limit),
            protected_auth_path: info.protected_authentication_path(),
            per_signature: None,
        };
        if abort.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        phase.set(Phase::WaitingForUser);
        let entry = authenticator.pin(&request).map_err(refusal)?;
        if cancelled.load(Ordering::SeqCst) {
            return Err(Error::Timeout);
        }
        // The caller sleeps through the login (most of a software token's time; a thread
        // polling next to it slowed it by 20-30 µs here) and is woken just before the first
        // signature.
        phase.set(Phase::LoggingIn);
        let logged_in = login(&session, UserType::User, &entry);
        drop(entry);
        authenticator.pin_used();
        if let Err(e) = logged_in {
            return Err(self.login_failed(slot, &serial, before, e));
        }
        self.failures.remove(&serial);
        // From here on the session is logged in: log out whatever happens.
        let outcome = self.sign_logged_in(
            &ctx,
            &session,
            &key_id,
            SignParams {
                scheme,
                digests: &digests,
                alg: digest_algorithm,
                abort: &abort,
                phase,
                replies,
                request: &request,
                on_signed: on_signed.as_mut(),
            },
            &mut authenticator,
        );
        if let Err(e) = session.logout() {
            tracing::debug!(error = %e, "logout after signing");
        }
        drop(session);
        outcome
    }

    fn sign_logged_in(
        &mut self,
        ctx: &Pkcs11,
        session: &Session,
        key_id: &[u8],
        mut params: SignParams<'_>,
        authenticator: &mut dyn Authenticator,
    ) -> Result<SignResults, Error> {
        let key = private_key(session, key_id)?;
        let always_authenticate = session
            .get_attributes(key, &[AttributeType::AlwaysAuthenticate])
            .ok()
            .into_iter()
            .flatten()
            .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)));
        let mechanism = mechanism_for(params.scheme, params.alg);
        let mut results = Vec::with_capacity(params.digests.len());
        let mut fatal: Option<Error> = None;
        for (index, digest) in params.digests.iter().enumerate() {
            if let Some(error) = &fatal {
                results.push(Err(same_error(error)));
                continue;
            }
            if params.abort.load(Ordering::SeqCst) {
                fatal = Some(Error::Cancelled);
                results.push(Err(Error::Cancelled));
                continue;
            }
            params.phase.set(Phase::Signing);
            if index == 0 {
                let _ = params.replies.send(Reply::Resumed);
            }
            let data = match params.scheme {
                SignatureScheme::RsaPkcs1v15 => params.alg.digest_info(digest),
                SignatureScheme::RsaPss | SignatureScheme::Ecdsa => digest.clone(),
            };
            let signed = if always_authenticate {
                let request = PinRequest {
                    per_signature: Some(index),
                    ..params.request.clone()
                };
                self.sign_with_context_login(
                    ctx,
                    session,
                    key,
                    &mechanism,
                    &data,
                    &request,
                    authenticator,
                )
            } else {
                session.sign(&mechanism, key, &data).map_err(classify)
            };
            let result = signed.and_then(|sig| match params.scheme {
                SignatureScheme::Ecdsa => ecdsa_raw_to_der(&sig).map_err(|e| Error::Pkcs11 {
                    rv: format!("bad ECDSA signature: {e}"),
                    function: "Sign".into(),
                }),
                _ => Ok(sig),
            });
            if let Err(error) = &result {
                if matches!(
                    error,
                    Error::TokenNotPresent | Error::Cancelled | Error::Timeout
                ) {
                    fatal = Some(same_error(error));
                }
            }
            // A batch's caller builds this document's answer while the token signs the next
            // (one document alone gains nothing from an extra wake-up).
            if let (Ok(signature), true) = (&result, params.digests.len() > 1) {
                let _ = params.replies.send(Reply::Signed(index, signature.clone()));
            }
            results.push(result);
            if let Some(on_signed) = params.on_signed.as_mut() {
                on_signed(results.len());
            }
        }
        match fatal {
            // Nothing signed at all: report the cause rather than a list of failures.
            Some(error) if results.iter().all(|r| r.is_err()) => Err(error),
            _ => Ok(results),
        }
    }

    /// `CKA_ALWAYS_AUTHENTICATE`: `C_SignInit`, then `C_Login(CKU_CONTEXT_SPECIFIC)` with a PIN
    /// asked for this one signature, then `C_Sign`.
    #[allow(clippy::too_many_arguments)]
    fn sign_with_context_login(
        &mut self,
        ctx: &Pkcs11,
        session: &Session,
        key: ObjectHandle,
        mechanism: &Mechanism<'_>,
        data: &[u8],
        request: &PinRequest,
        authenticator: &mut dyn Authenticator,
    ) -> Result<Vec<u8>, Error> {
        session.sign_init(mechanism, key).map_err(classify)?;
        let entry = authenticator.pin(request).map_err(refusal)?;
        let logged_in = login(session, UserType::ContextSpecific, &entry);
        drop(entry);
        authenticator.pin_used();
        logged_in.map_err(classify)?;
        raw_sign::sign_after_init(ctx, &self.spec.path, session, data)
    }

    fn bench(&mut self, request: BenchRequest) -> Result<BenchSamples, Error> {
        let BenchRequest {
            certificate_id,
            scheme,
            digest_algorithm: alg,
            mut cms_path,
            iterations,
            mut authenticator,
        } = request;
        let (serial, key_id, token) = self
            .tokens
            .iter()
            .find_map(|t| {
                t.certificates
                    .iter()
                    .find(|c| c.info.id == certificate_id)
                    .map(|c| (t.token.serial.clone(), c.key_id.clone(), t.token.clone()))
            })
            .ok_or_else(|| Error::CertificateNotFound(certificate_id.clone()))?;
        let (slot, info) = self.locate(&serial)?;
        let ctx = self.context()?;
        let session = ctx.open_ro_session(slot).map_err(classify)?;
        let entry = authenticator
            .pin(&PinRequest {
                token,
                pin_state: pin_state(&info),
                retries_left: None,
                protected_auth_path: info.protected_authentication_path(),
                per_signature: None,
            })
            .map_err(refusal)?;
        if let Err(e) = login(&session, UserType::User, &entry) {
            return Err(self.login_failed(slot, &serial, pin_state(&info), e));
        }
        let mut run = || -> Result<BenchSamples, Error> {
            let find_key = || private_key(&session, &key_id);
            let mut key = find_key()?;
            let mechanism = mechanism_for(scheme, alg);
            let sign_hash = |key: ObjectHandle, hash: &[u8]| -> Result<Vec<u8>, Error> {
                let data = match scheme {
                    SignatureScheme::RsaPkcs1v15 => alg.digest_info(hash),
                    _ => hash.to_vec(),
                };
                let sig = session.sign(&mechanism, key, &data).map_err(classify)?;
                match scheme {
                    SignatureScheme::Ecdsa => ecdsa_raw_to_der(&sig).map_err(|e| Error::Pkcs11 {
                        rv: e.to_string(),
                        function: "Sign".into(),
                    }),
                    _ => Ok(sig),
                }
            };
            let mut samples = BenchSamples {
                raw_sign: Vec::with_capacity(iterations),
                cms_path: Vec::with_capacity(iterations),
                login_sign_logout: Vec::with_capacity(iterations),
            };
            for i in 0..iterations {
                let digest = alg.digest(&i.to_le_bytes());
                let raw_input = match scheme {
                    SignatureScheme::RsaPkcs1v15 => alg.digest_info(&digest),
                    _ => digest.clone(),
                };
                let start = std::time::Instant::now();
                session
                    .sign(&mechanism, key, &raw_input)
                    .map_err(classify)?;
                samples.raw_sign.push(start.elapsed());
                let start = std::time::Instant::now();
                cms_path(&digest, &mut |h| {
                    sign_hash(key, h).map_err(|e| e.to_string())
                })
                .map_err(|e| Error::Pkcs11 {
                    rv: e,
                    function: "cms".into(),
                })?;
                samples.cms_path.push(start.elapsed());
                // The token calls of one agent request, in its order: the token's info (PIN
                // state), a session, login, the key and its always-authenticate flag, the
                // signature, logout, the session closed. (Login state is the token's, not the
                // session's: the bench session logs out around it, unmeasured.)
                session.logout().map_err(classify)?;
                let start = std::time::Instant::now();
                let (request_slot, _) = self.locate(&serial)?;
                let request_session = ctx.open_ro_session(request_slot).map_err(classify)?;
                login(&request_session, UserType::User, &entry).map_err(classify)?;
                let request_key = private_key(&request_session, &key_id)?;
                let _ = request_session
                    .get_attributes(request_key, &[AttributeType::AlwaysAuthenticate]);
                let signature = request_session
                    .sign(&mechanism, request_key, &raw_input)
                    .map_err(classify)?;
                if scheme == SignatureScheme::Ecdsa {
                    let _ = ecdsa_raw_to_der(&signature);
                }
                request_session.logout().map_err(classify)?;
                drop(request_session);
                samples.login_sign_logout.push(start.elapsed());
                login(&session, UserType::User, &entry).map_err(classify)?;
                // Private-key handles do not survive a logout: find the key again.
                key = find_key()?;
            }
            Ok(samples)
        };
        let result = run();
        drop(entry);
        let _ = session.logout();
        result
    }

    fn login_failed(
        &mut self,
        slot: Slot,
        serial: &str,
        before: PinState,
        error: CkError,
    ) -> Error {
        let after = self
            .ctx
            .as_ref()
            .and_then(|ctx| ctx.get_token_info(slot).ok())
            .map(|info| pin_state(&info));
        let rv = match &error {
            CkError::Pkcs11(rv, _) => Some(*rv),
            _ => None,
        };
        // ePass2003 under OpenSC answers a wrong PIN with CKR_GENERAL_ERROR: the flags tell.
        let flags_say_wrong_pin = matches!(after, Some(s) if s != PinState::Ok && s != before)
            || matches!(after, Some(PinState::FinalTry | PinState::Locked));
        let wrong_pin = matches!(rv, Some(RvError::PinIncorrect))
            || (matches!(rv, Some(RvError::GeneralError | RvError::FunctionFailed))
                && flags_say_wrong_pin);
        let result = if matches!(rv, Some(RvError::PinLocked))
            || (wrong_pin && after == Some(PinState::Locked))
        {
            Error::PinLocked
        } else if wrong_pin {
            let failures = self.failures.entry(serial.to_string()).or_insert(0);
            *failures += 1;
            let state = after.unwrap_or(PinState::CountLow);
            Error::PinIncorrect {
                state,
                retries_left: state.retries_left(*failures, self.settings.pin_retry_limit),
            }
        } else if matches!(rv, Some(RvError::PinLenRange)) {
            Error::PinLength
        } else {
            classify(error)
        };
        tracing::info!(serial, error = %result, "login failed");
        // Publish the new PIN state (and a PinLocked event) at once.
        self.poll();
        result
    }
}

/// The job's authenticator, its prompts timed (see [`JobTiming`]).
struct TimedPrompt {
    inner: Box<dyn Authenticator>,
    timing: Arc<JobTiming>,
}

impl Authenticator for TimedPrompt {
    fn pin(&mut self, request: &PinRequest) -> Result<PinEntry, PinRefusal> {
        let asked = Instant::now();
        let entry = self.inner.pin(request);
        self.timing.add_prompt(asked.elapsed());
        entry
    }

    fn pin_used(&mut self) {
        self.inner.pin_used();
    }
}

struct SignParams<'a> {
    scheme: SignatureScheme,
    digests: &'a [Vec<u8>],
    alg: crate::digest::DigestAlgorithm,
    abort: &'a AtomicBool,
    phase: &'a JobPhase,
    replies: &'a mpsc::Sender<Reply>,
    request: &'a PinRequest,
    on_signed: Option<&'a mut Box<dyn FnMut(usize) + Send>>,
}

fn login(session: &Session, user: UserType, entry: &PinEntry) -> Result<(), CkError> {
    let pin = match entry {
        PinEntry::Pin(pin) => Some(cryptoki::types::AuthPin::from(
            pin.expose_secret().to_owned(),
        )),
        PinEntry::PinPad => None,
    };
    match session.login(user, pin.as_ref()) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn refusal(refusal: PinRefusal) -> Error {
    match refusal {
        PinRefusal::Cancelled => Error::Cancelled,
        PinRefusal::TimedOut => Error::Timeout,
    }
}

fn same_error(error: &Error) -> Error {
    match error {
        Error::TokenNotPresent => Error::TokenNotPresent,
        Error::Timeout => Error::Timeout,
        _ => Error::Cancelled,
    }
}

fn mechanism_for(
    scheme: SignatureScheme,
    alg: crate::digest::DigestAlgorithm,
) -> Mechanism<'static> {
    use crate::digest::DigestAlgorithm as D;
    match scheme {
        SignatureScheme::RsaPkcs1v15 => Mechanism::RsaPkcs,
        SignatureScheme::Ecdsa => Mechanism::Ecdsa,
        SignatureScheme::RsaPss => {
            let (hash_alg, mgf) = match alg {
                D::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
                D::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
                D::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
            };
            Mechanism::RsaPkcsPss(PkcsPssParams {
                hash_alg,
                mgf,
                s_len: (alg.len() as u64).into(),
            })
        }
    }
}

/// The private key paired with a certificate by `CKA_ID` (visible once logged in).
fn private_key(session: &Session, key_id: &[u8]) -> Result<ObjectHandle, Error> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(key_id.to_vec()),
        ])
        .map_err(classify)?
        .into_iter()
        .next()
        .ok_or(Error::KeyNotFound)
}

fn object_id(session: &Session, handle: ObjectHandle) -> Option<Vec<u8>> {
    session
        .get_attributes(handle, &[AttributeType::Id])
        .ok()?
        .into_iter()
        .find_map(|a| match a {
            Attribute::Id(id) if !id.is_empty() => Some(id),
            _ => None,
        })
}

fn pin_state(info: &TokenInfo) -> PinState {
    if info.user_pin_locked() {
        PinState::Locked
    } else if info.user_pin_final_try() {
        PinState::FinalTry
    } else if info.user_pin_count_low() {
        PinState::CountLow
    } else {
        PinState::Ok
    }
}

/// Maps a cryptoki error to the token layer's, keeping the `CKR_` code and function.
fn classify(error: CkError) -> Error {
    match error {
        CkError::Pkcs11(rv, function) => match rv {
            RvError::TokenNotPresent
            | RvError::DeviceRemoved
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::SlotIdInvalid
            | RvError::TokenNotRecognized
            | RvError::CryptokiNotInitialized => Error::TokenNotPresent,
            RvError::PinLocked => Error::PinLocked,
            RvError::PinLenRange => Error::PinLength,
            RvError::FunctionCanceled => Error::Cancelled,
            other => Error::Pkcs11 {
                rv: format!("{other:?}"),
                function: format!("{function:?}"),
            },
        },
        CkError::LibraryLoading(e) => Error::Module {
            path: String::new(),
            message: e.to_string(),
        },
        other => Error::Pkcs11 {
            rv: other.to_string(),
            function: "cryptoki".into(),
        },
    }
}

/// The single-part `C_Sign` that cryptoki does not offer after a separate `C_SignInit`, needed
/// for `CKA_ALWAYS_AUTHENTICATE` keys (PKCS#11 3.0 §5.1: the context-specific login comes
/// between the two). The only unsafe code outside `platform`, kept to this one call.
#[allow(unsafe_code)]
mod raw_sign {
    use std::path::Path;

    use cryptoki::context::Pkcs11;
    use cryptoki::session::Session;
    use cryptoki_sys::{CKR_OK, CK_FUNCTION_LIST_PTR_PTR, CK_RV, CK_ULONG};

    use super::Error;

    type GetFunctionList = unsafe extern "C" fn(CK_FUNCTION_LIST_PTR_PTR) -> CK_RV;

    /// Calls the module's `C_Sign` on a session whose operation is already initialised.
    pub(super) fn sign_after_init(
        _ctx: &Pkcs11,
        module: &Path,
        session: &Session,
        data: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let fail = |what: &str| Error::Pkcs11 {
            rv: what.to_string(),
            function: "Sign".into(),
        };
        // SAFETY: the library is already loaded by the context (dlopen returns the same handle
        // and keeps it loaded while `_ctx` lives); `C_GetFunctionList` is the PKCS#11 entry
        // point with this exact signature.
        let library =
            unsafe { libloading::Library::new(module) }.map_err(|e| fail(&e.to_string()))?;
        let get_list: libloading::Symbol<'_, GetFunctionList> =
            unsafe { library.get(b"C_GetFunctionList\0") }.map_err(|e| fail(&e.to_string()))?;
        let mut list = std::ptr::null_mut();
        // SAFETY: `list` is a valid out-pointer; the module fills it with a static table.
        let rv = unsafe { get_list(&mut list) };
        if rv != CKR_OK || list.is_null() {
            return Err(fail("C_GetFunctionList failed"));
        }
        // SAFETY: non-null pointer to the module's function table, valid while loaded.
        let c_sign = unsafe { (*list).C_Sign }.ok_or_else(|| fail("no C_Sign"))?;
        let mut len: CK_ULONG = 0;
        let data_len = CK_ULONG::try_from(data.len()).map_err(|_| fail("data too long"))?;
        // SAFETY: size query with a NULL output buffer, as PKCS#11 §5.2 allows; `data` lives
        // for the call and the module does not write through its pointer.
        let rv = unsafe {
            c_sign(
                session.handle(),
                data.as_ptr() as *mut u8,
                data_len,
                std::ptr::null_mut(),
                &mut len,
            )
        };
        if rv != CKR_OK {
            return Err(rv_error(rv));
        }
        let mut out = vec![0u8; usize::try_from(len).map_err(|_| fail("length"))?];
        // SAFETY: `out` has `len` bytes, as the module asked for.
        let rv = unsafe {
            c_sign(
                session.handle(),
                data.as_ptr() as *mut u8,
                data_len,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        if rv != CKR_OK {
            return Err(rv_error(rv));
        }
        out.truncate(usize::try_from(len).map_err(|_| fail("length"))?);
        Ok(out)
    }

    fn rv_error(rv: CK_RV) -> Error {
        match cryptoki::error::Rv::from(rv) {
            cryptoki::error::Rv::Error(rv) => super::classify(cryptoki::error::Error::Pkcs11(
                rv,
                cryptoki::context::Function::Sign,
            )),
            cryptoki::error::Rv::Ok => Error::Pkcs11 {
                rv: "CKR_OK".into(),
                function: "Sign".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_taken_whether_it_comes_while_polling_or_after() {
        let phase = JobPhase::new();
        phase.set(Phase::Signing);
        let (send, replies) = mpsc::channel();
        // Within the polling window.
        let early = send.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(300));
            early.send(Reply::Resumed).expect("send");
        });
        assert!(matches!(
            next_reply(&replies, &phase, Duration::from_secs(5)),
            Ok(Reply::Resumed)
        ));
        sender.join().expect("join");
        // Long after it: the wait goes on asleep, to the limit.
        let late = std::thread::spawn(move || {
            std::thread::sleep(POLL_BEFORE_SLEEP * 10);
            send.send(Reply::Done(Ok(Vec::new()))).expect("send");
        });
        assert!(matches!(
            next_reply(&replies, &phase, Duration::from_secs(5)),
            Ok(Reply::Done(Ok(_)))
        ));
        late.join().expect("join");
        // Nothing within the limit: a timeout; the worker gone: disconnected.
        let started = std::time::Instant::now();
        assert!(matches!(
            next_reply(&replies, &phase, Duration::from_millis(30)),
            Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout)
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// CPU time this thread has used.
    #[cfg(target_os = "linux")]
    fn thread_cpu() -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec for the call to fill.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
        assert_eq!(rc, 0);
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn while_a_person_types_and_the_token_logs_in_the_caller_sleeps_at_once() {
        for now in [Phase::WaitingForUser, Phase::LoggingIn] {
            let phase = JobPhase::new();
            phase.set(now);
            assert_eq!(phase.get().0, now);
            let (_send, replies) = mpsc::channel::<Reply>();
            let (started, cpu) = (std::time::Instant::now(), thread_cpu());
            assert!(matches!(
                next_reply(&replies, &phase, Duration::from_millis(50)),
                Err(RecvTimeoutError::Timeout)
            ));
            assert!(started.elapsed() >= Duration::from_millis(50));
            // Polling would have spent up to POLL_BEFORE_SLEEP of CPU; asleep, next to none.
            let spent = thread_cpu() - cpu;
            assert!(
                spent < POLL_BEFORE_SLEEP / 4,
                "{now:?}: {spent:?} of CPU while waiting"
            );
        }
    }

    #[test]
    fn an_announced_job_is_taken_when_it_comes_and_the_wait_is_bounded() {
        let (send, jobs) = mpsc::channel();
        let later = send.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(200));
            later.send(Job::Expect).expect("send");
        });
        assert!(matches!(job_soon(&jobs), Some(Job::Expect)));
        sender.join().expect("join");
        let started = std::time::Instant::now();
        assert!(job_soon(&jobs).is_none(), "no job: back to the usual wait");
        assert!(started.elapsed() >= POLL_BEFORE_SLEEP);
        drop(send);
        assert!(job_soon(&jobs).is_none());
    }
}
