//! A PKCS#11 module is loaded only while one of its tokens can be connected, and unloaded when
//! none can (issue 19: idle memory), without losing hot-plug: the real SoftHSM2 module, its
//! tokens "plugged in" and "pulled out" by moving them into and out of the token directory its
//! configuration names (what the SoftHSM2 presence probe watches).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use kyso::platform::devices::Presence;
use kyso::token::pkcs11::{ModuleSpec, Pkcs11Tokens, Settings};
use kyso::token::{TokenEvent, TokenProvider};

fn mapped(library: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains(library))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn copy_tokens(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("tokens").flatten() {
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(entry.path())
            .arg(to)
            .status()
            .expect("cp");
        assert!(status.success());
    }
}

#[test]
fn a_module_is_loaded_while_its_token_is_connected_and_unloaded_after() {
    let fx = common::fixture("module-loading");
    let plug = common::target_dir().join("kyso-tests/module-loading-plug");
    let _ = std::fs::remove_dir_all(&plug);
    let slot = plug.join("tokens");
    std::fs::create_dir_all(&slot).expect("dir");
    let conf = plug.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            slot.display()
        ),
    )
    .expect("conf");
    // This test binary holds this one test: the variable is set before any thread reads it.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let library = "libsofthsm2.so";
    assert!(!mapped(library), "loaded before the test started");

    let tokens = Pkcs11Tokens::start(
        vec![ModuleSpec {
            path: common::SOFTHSM.into(),
            source: "test".into(),
            presence: Presence::SoftHsm,
        }],
        Settings {
            poll_interval: Duration::from_millis(100),
            ..Settings::default()
        },
    );
    let mut events = tokens.subscribe();
    // Nothing connected: the module is not loaded, and says why.
    wait_for("the first poll", || tokens.modules()[0].waiting_for_device);
    std::thread::sleep(Duration::from_millis(300));
    assert!(tokens.tokens().is_empty());
    assert!(!mapped(library), "module loaded with no token connected");
    assert!(tokens.modules()[0].library.is_none());

    for round in 0..2 {
        // Plugged in: loaded within a poll, its tokens and certificates listed, events sent.
        copy_tokens(&fx.dir.join("tokens"), &slot);
        wait_for("the tokens to appear", || {
            tokens.tokens().iter().filter(|t| t.present).count() == 2
        });
        assert!(
            mapped(library),
            "round {round}: tokens listed but module not mapped"
        );
        let module = &tokens.modules()[0];
        assert!(!module.waiting_for_device && module.library.is_some());
        assert!(tokens.tokens().iter().any(|t| t
            .certificates
            .iter()
            .any(|c| c.info.id == fx.id("personal"))));
        let mut inserted = 0;
        while let Ok(event) = events.try_recv() {
            inserted += usize::from(matches!(event, TokenEvent::TokenInserted { .. }));
        }
        // The first scan after start reports what it finds as inserted too.
        assert_eq!(inserted, 2, "round {round}");

        // Pulled out: reported removed, and the module unloaded.
        for entry in std::fs::read_dir(&slot).expect("slot").flatten() {
            std::fs::remove_dir_all(entry.path()).expect("rm");
        }
        wait_for("the tokens to go", || {
            tokens.modules()[0].waiting_for_device && tokens.tokens().iter().all(|t| !t.present)
        });
        let mut removed = 0;
        while let Ok(event) = events.try_recv() {
            removed += usize::from(matches!(event, TokenEvent::TokenRemoved { .. }));
        }
        assert_eq!(removed, 2, "round {round}");
        wait_for("the module to be unmapped", || !mapped(library));
    }
}
