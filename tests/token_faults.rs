//! The token layer against failures SoftHSM2 cannot produce: wrong PINs counting down to a lock,
//! the ePass2003 `CKR_GENERAL_ERROR` quirk, a token pulled out (also mid-signature) and plugged
//! back, a slow token, pin-pad readers and `CKA_ALWAYS_AUTHENTICATE` keys.
//!
//! Real parts: SoftHSM2 does every cryptographic operation through the real PKCS#11 path, loaded
//! through `tests/fault-token` exactly as a vendor driver would be; OpenSSL verifies the CMS.
//! The one stand-in is `RecordingPrompt`: the tests must see what the PIN prompt was shown
//! (retries left, pin-pad, per-signature) and how often, which no real dialog reports here.
//!
//! The fault module's state and SoftHSM's login state are per process, so these tests run one at
//! a time (a mutex), each with its own token layer.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use kyso::api::{Document, Purpose};
use kyso::digest::DigestAlgorithm;
use kyso::signing::{
    BatchPrompt, Error, OriginDecision, Payload, PinPrompt, Prompt, SignOrder, SigningService,
};
use kyso::token::pkcs11::{ModuleSpec, Pkcs11Tokens, Settings};
use kyso::token::{PinEntry, PinRefusal, PinState, TokenEvent, TokenProvider};
use secrecy::SecretString;

/// Answers with a settable PIN and records every request.
#[derive(Default)]
struct RecordingPrompt {
    pin: Mutex<String>,
    asked: Mutex<Vec<PinPrompt>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    batches: AtomicUsize,
    delay: Mutex<Duration>,
}

impl RecordingPrompt {
    fn set_pin(&self, pin: &str) {
        *self.pin.lock().expect("pin") = pin.to_string();
    }
    fn asked(&self) -> Vec<PinPrompt> {
        self.asked.lock().expect("asked").clone()
    }
}

impl Prompt for RecordingPrompt {
    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(*self.delay.lock().expect("delay"));
        self.asked.lock().expect("asked").push(request.clone());
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if request.protected_auth_path {
            return Ok(PinEntry::PinPad);
        }
        Ok(PinEntry::Pin(SecretString::from(
            self.pin.lock().expect("pin").clone(),
        )))
    }
    fn approve_origin(&self, _origin: &str) -> Result<OriginDecision, PinRefusal> {
        Ok(OriginDecision::Deny)
    }
    fn confirm_batch(&self, _batch: &BatchPrompt) -> Result<(), PinRefusal> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Harness {
    fx: &'static Fixture,
    signing: SigningService,
    tokens: Arc<Pkcs11Tokens>,
    prompt: Arc<RecordingPrompt>,
    _serial: MutexGuard<'static, ()>,
}

fn control_file(fx: &Fixture) -> PathBuf {
    fx.dir.join("fault.ctl")
}

fn stats_file(fx: &Fixture) -> PathBuf {
    fx.dir.join("fault.stats")
}

static EPOCH: AtomicUsize = AtomicUsize::new(0);

/// Writes the control file; every test has its own `counter_epoch`, so PIN counters and
/// login statistics start from zero for it and stay across its own control changes.
fn set_control(fx: &Fixture, body: &str) {
    let epoch = EPOCH.load(Ordering::SeqCst);
    std::fs::write(
        control_file(fx),
        format!("{body}\ncounter_epoch=test-{epoch}\n"),
    )
    .expect("control");
}

fn harness(control: &str, token_timeout: Duration) -> Harness {
    static SERIAL: Mutex<()> = Mutex::new(());
    static ENV: OnceLock<()> = OnceLock::new();
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fx = fixture("faults");
    ENV.get_or_init(|| {
        // Set once, before any module is loaded, while the other tests wait on SERIAL.
        std::env::set_var("SOFTHSM2_CONF", &fx.softhsm_conf);
        std::env::set_var("KYSO_FAULT_CONTROL", control_file(fx));
        std::env::set_var("KYSO_FAULT_STATS", stats_file(fx));
    });
    EPOCH.fetch_add(1, Ordering::SeqCst);
    let _ = std::fs::remove_file(stats_file(fx));
    set_control(fx, control);
    let tokens = Arc::new(Pkcs11Tokens::start(
        vec![ModuleSpec {
            path: fault_module(),
            source: "test".into(),
            presence: kyso::platform::devices::Presence::Always,
        }],
        Settings {
            poll_interval: Duration::from_millis(100),
            token_timeout,
            prompt_timeout: Duration::from_secs(10),
            pin_retry_limit: Some(3),
        },
    ));
    tokens.refresh();
    let prompt = Arc::new(RecordingPrompt::default());
    prompt.set_pin(LEADER_PIN);
    let signing = SigningService::new(tokens.clone(), prompt.clone(), Vec::new());
    Harness {
        fx,
        signing,
        tokens,
        prompt,
        _serial: guard,
    }
}

impl Harness {
    fn order(&self, name: &str, doc: &str) -> (SignOrder, PathBuf) {
        use base64::Engine as _;
        let (content, digest) = document(&self.fx.dir, doc, "SHA-256");
        let order = SignOrder {
            certificate_id: self.fx.id(name),
            digest_algorithm: DigestAlgorithm::Sha256,
            payload: Payload::Digest(
                base64::engine::general_purpose::STANDARD
                    .decode(digest)
                    .expect("b64"),
            ),
            document: Document {
                title: format!("Tờ trình {doc}"),
                number: Some("12/TTr-UBND".into()),
                purpose: Purpose::Approve,
            },
            rsa_pss: false,
            ticket: None,
            attested: None,
        };
        (order, content)
    }

    /// Signs `doc` with the leader's RSA key and checks the CMS with OpenSSL.
    fn sign_ok(&self, doc: &str) {
        let (order, content) = self.order("personal", doc);
        let signed = self
            .signing
            .sign(order, Some("https://dms.test"))
            .expect("sign");
        let cms = self.fx.dir.join(format!("{doc}.p7s"));
        std::fs::write(&cms, signed.cms.expect("cms")).expect("write");
        openssl_verify(self.fx, &cms, &content).expect("openssl verifies");
    }

    fn sign(&self, doc: &str) -> Result<kyso::signing::Signed, Error> {
        let (order, _) = self.order("personal", doc);
        self.signing.sign(order, Some("https://dms.test"))
    }

    fn leader_token_state(&self) -> PinState {
        self.tokens
            .tokens()
            .into_iter()
            .find(|t| t.token.label == "Lanh dao")
            .map(|t| t.pin_state)
            .expect("leader token")
    }

    fn stats(&self) -> (u64, u64, bool) {
        let text = std::fs::read_to_string(stats_file(self.fx)).unwrap_or_default();
        let field = |k: &str| {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (field("logins"), field("logouts"), field("logged_in") == 1)
    }
}

fn wait_for_event(
    rx: &mut tokio::sync::broadcast::Receiver<TokenEvent>,
    want: impl Fn(&TokenEvent) -> bool,
) -> TokenEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match rx.try_recv() {
            Ok(event) if want(&event) => return event,
            Ok(_) => {}
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("no such event within 5 s: {e:?}"),
        }
    }
}

#[test]
fn wrong_pins_count_down_to_a_lock_and_a_locked_token_is_never_sent_a_login() {
    let h = harness("pin_retries=3\n", Duration::from_secs(10));
    let mut events = h.tokens.subscribe();
    h.prompt.set_pin("000000");
    match h.sign("wrong-1.bin") {
        Err(Error::PinIncorrect {
            pin_state: PinState::CountLow,
            retries_left: Some(2),
        }) => {}
        other => panic!("first wrong PIN: {other:?}"),
    }
    match h.sign("wrong-2.bin") {
        Err(Error::PinIncorrect {
            pin_state: PinState::FinalTry,
            retries_left: Some(1),
        }) => {}
        other => panic!("second wrong PIN: {other:?}"),
    }
    // The second prompt was shown the retries left after the first failure.
    let asked = h.prompt.asked();
    assert_eq!(asked[1].retries_left, Some(2));
    assert_eq!(asked[1].pin_state, PinState::CountLow);
    match h.sign("wrong-3.bin") {
        Err(e @ Error::PinLocked) => assert_eq!(e.code().as_str(), "PIN_LOCKED"),
        other => panic!("third wrong PIN: {other:?}"),
    }
    wait_for_event(&mut events, |e| matches!(e, TokenEvent::PinLocked { .. }));
    assert_eq!(h.leader_token_state(), PinState::Locked);
    // Even with the right PIN, a locked token gets no prompt and no login.
    h.prompt.set_pin(LEADER_PIN);
    let (logins_before, _, _) = h.stats();
    let asked_before = h.prompt.asked().len();
    assert!(matches!(h.sign("locked.bin"), Err(Error::PinLocked)));
    assert_eq!(
        h.prompt.asked().len(),
        asked_before,
        "a locked token must not prompt"
    );
    assert_eq!(
        h.stats().0,
        logins_before,
        "a locked token must not be sent a login"
    );
}

#[test]
fn epass2003_general_error_on_wrong_pin_is_read_from_the_flags() {
    let h = harness(
        "pin_retries=3\nwrong_pin=general\n",
        Duration::from_secs(10),
    );
    h.prompt.set_pin("111111");
    match h.sign("epass-wrong.bin") {
        Err(Error::PinIncorrect {
            retries_left: Some(2),
            ..
        }) => {}
        other => panic!("ePass2003 wrong PIN: {other:?}"),
    }
    h.prompt.set_pin(LEADER_PIN);
    h.sign_ok("epass-right.bin");
    assert_eq!(
        h.leader_token_state(),
        PinState::Ok,
        "a good login clears the count"
    );
}

#[test]
fn a_pulled_token_gives_token_not_present_and_works_again_when_plugged_back() {
    let h = harness("present=1\n", Duration::from_secs(10));
    let mut events = h.tokens.subscribe();
    h.sign_ok("before-removal.bin");
    set_control(h.fx, "present=0\n");
    wait_for_event(
        &mut events,
        |e| matches!(e, TokenEvent::TokenRemoved { token } if token.label == "Lanh dao"),
    );
    let error = h.sign("while-removed.bin").expect_err("no token");
    assert!(matches!(error, Error::TokenNotPresent), "{error:?}");
    assert_eq!(error.code().as_str(), "TOKEN_NOT_PRESENT");
    // Still listed (so the user is told to plug it in), but not present.
    let leader = h
        .tokens
        .tokens()
        .into_iter()
        .find(|t| t.token.label == "Lanh dao")
        .expect("listed");
    assert!(!leader.present);
    set_control(h.fx, "present=1\n");
    wait_for_event(
        &mut events,
        |e| matches!(e, TokenEvent::TokenInserted { token } if token.label == "Lanh dao"),
    );
    h.sign_ok("after-reinsert.bin");
}

#[test]
fn a_token_pulled_out_mid_signature_fails_cleanly_and_recovers_without_restart() {
    let h = harness("sign_delay_ms=800\n", Duration::from_secs(10));
    let (order, _) = h.order("personal", "mid-sign.bin");
    let result = std::thread::scope(|scope| {
        let signing = &h.signing;
        let job = scope.spawn(move || signing.sign(order, None));
        // Wait until the prompt answered and C_Sign is sleeping, then pull the token.
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.prompt.asked().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(200));
        set_control(h.fx, "present=0\nsign_delay_ms=800\n");
        job.join().expect("join")
    });
    assert!(matches!(result, Err(Error::TokenNotPresent)), "{result:?}");
    set_control(h.fx, "present=1\n");
    h.sign_ok("after-mid-sign.bin");
    let (logins, logouts, logged_in) = h.stats();
    assert!(
        !logged_in,
        "no login may survive (logins {logins}, logouts {logouts})"
    );
}

#[test]
fn a_slow_token_times_out_and_the_worker_recovers() {
    let h = harness("sign_delay_ms=2500\n", Duration::from_secs(1));
    let started = Instant::now();
    let error = h.sign("slow.bin").expect_err("must time out");
    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "the caller waited for the token"
    );
    set_control(h.fx, "sign_delay_ms=0\n");
    // The worker finishes the slow call (and logs out), then serves the next job.
    std::thread::sleep(Duration::from_millis(2000));
    h.sign_ok("after-slow.bin");
}

#[test]
fn every_operation_logs_out_and_asks_the_pin_again() {
    let h = harness("", Duration::from_secs(10));
    let (logins_before, logouts_before, _) = h.stats();
    h.sign_ok("logout-1.bin");
    h.sign_ok("logout-2.bin");
    let (logins, logouts, logged_in) = h.stats();
    assert_eq!(logins - logins_before, 2);
    assert_eq!(logouts - logouts_before, 2);
    assert!(!logged_in);
    assert_eq!(
        h.prompt.asked().len(),
        2,
        "the PIN is asked for each operation"
    );
    let first = &h.prompt.asked()[0];
    assert_eq!(first.origin.as_deref(), Some("https://dms.test"));
    assert_eq!(first.signer.holder, "Nguyễn Văn An");
    assert_eq!(
        first.documents[0].document.number.as_deref(),
        Some("12/TTr-UBND")
    );
}

#[test]
fn a_pin_pad_token_logs_in_without_a_pin_from_kyso() {
    let h = harness(
        &format!("protected_auth_path=1\npinpad_pin={LEADER_PIN}\n"),
        Duration::from_secs(10),
    );
    h.prompt.set_pin("not-used");
    h.sign_ok("pinpad.bin");
    let asked = h.prompt.asked();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].protected_auth_path);
}

#[test]
fn always_authenticate_keys_ask_the_pin_for_each_signature() {
    let h = harness(
        &format!("always_authenticate=1\nuser_pin={LEADER_PIN}\n"),
        Duration::from_secs(10),
    );
    let (a, content_a) = h.order("personal", "always-a.bin");
    let (b, content_b) = h.order("personal", "always-b.bin");
    let results = h
        .signing
        .sign_batch(
            vec![a, b],
            Some("https://dms.test"),
            Arc::new(AtomicBool::new(false)),
        )
        .expect("batch");
    for (result, content) in results.into_iter().zip([content_a, content_b]) {
        let cms = h.fx.dir.join(format!("{}.p7s", content.display()));
        std::fs::write(&cms, result.expect("signed").cms.expect("cms")).expect("write");
        openssl_verify(h.fx, &cms, &content).expect("verifies");
    }
    let per_signature: Vec<Option<usize>> =
        h.prompt.asked().iter().map(|p| p.per_signature).collect();
    assert_eq!(per_signature, vec![None, Some(0), Some(1)]);
}

#[test]
fn a_batch_is_one_confirmation_one_pin_and_results_per_item() {
    let h = harness("", Duration::from_secs(10));
    let names = ["batch-1.bin", "batch-2.bin", "batch-3.bin"];
    let (orders, contents): (Vec<_>, Vec<_>) = names.iter().map(|n| h.order("personal", n)).unzip();
    let results = h
        .signing
        .sign_batch(orders, None, Arc::new(AtomicBool::new(false)))
        .expect("batch");
    assert_eq!(results.len(), 3);
    for (result, content) in results.into_iter().zip(contents) {
        let cms = h.fx.dir.join(format!("{}.p7s", content.display()));
        std::fs::write(&cms, result.expect("signed").cms.expect("cms")).expect("write");
        openssl_verify(h.fx, &cms, &content).expect("verifies");
    }
    assert_eq!(h.prompt.batches.load(Ordering::SeqCst), 1);
    assert_eq!(h.prompt.asked().len(), 1);
    assert_eq!(h.prompt.asked()[0].documents.len(), 3);
    // An aborted batch signs nothing more.
    let (orders, _): (Vec<_>, Vec<_>) = names.iter().map(|n| h.order("personal", n)).unzip();
    let results = h
        .signing
        .sign_batch(orders, None, Arc::new(AtomicBool::new(true)))
        .expect_err("aborted before the first signature");
    assert!(matches!(results, Error::UserCancelled), "{results:?}");
    assert!(!h.stats().2, "logged out after the abort");
}

#[test]
fn concurrent_requests_never_show_two_pin_prompts_at_once() {
    let h = harness("", Duration::from_secs(10));
    *h.prompt.delay.lock().expect("delay") = Duration::from_millis(150);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..3)
            .map(|i| {
                let (order, _) = h.order("personal", &format!("concurrent-{i}.bin"));
                let signing = &h.signing;
                scope.spawn(move || signing.sign(order, None))
            })
            .collect();
        for job in jobs {
            job.join().expect("join").expect("each request signs");
        }
    });
    assert_eq!(h.prompt.max_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(h.prompt.asked().len(), 3);
}
