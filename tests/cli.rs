//! The `kyso` command line against real SoftHSM2 tokens, every CMS checked by OpenSSL.

mod common;

use std::process::Command;

use common::*;

fn setup() -> (
    std::sync::MutexGuard<'static, ()>,
    &'static Fixture,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    // The tests here share one token and each runs several `kyso`: they take turns, each
    // holding its turn for the whole test.
    let turn = token_turn();
    let fx = fixture("cli");
    let config = write_config(
        &fx.dir,
        "softhsm.toml",
        &[std::path::Path::new(SOFTHSM)],
        "",
    );
    let leader = write_script(&fx.dir, "leader.toml", &format!("pin = \"{LEADER_PIN}\"\n"));
    let clerk = write_script(&fx.dir, "clerk.toml", &format!("pin = \"{CLERK_PIN}\"\n"));
    (turn, fx, config, leader, clerk)
}

fn sign(
    fx: &Fixture,
    config: &std::path::Path,
    script: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    kyso(fx)
        .arg("--config")
        .arg(config)
        .arg("--prompter")
        .arg(format!("scripted:{}", script.display()))
        .arg("sign")
        .args(args)
        .output()
        .expect("run kyso sign")
}

#[test]
fn certs_json_lists_both_tokens_kinds_chain_and_expired_marks() {
    let (_turn, fx, config, _, _) = setup();
    let out = kyso(fx)
        .arg("--config")
        .arg(&config)
        .args(["certs", "--json"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{:?}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let tokens = status["tokens"].as_array().expect("tokens");
    let labels: Vec<&str> = tokens.iter().filter_map(|t| t["label"].as_str()).collect();
    assert!(
        labels.contains(&"Lanh dao") && labels.contains(&"Van thu"),
        "{labels:?}"
    );
    let certs = status["certificates"].as_array().expect("certificates");
    // Four signing certificates; the sub-CA on the token has no key and is not one of them.
    assert_eq!(certs.len(), 4, "{certs:#?}");
    let by_id = |name: &str| {
        let id = fx.id(name);
        certs
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let personal = by_id("personal");
    assert_eq!(personal["kind"], "personal");
    assert_eq!(personal["holder"], "Nguyễn Văn An");
    assert_eq!(personal["keyAlgorithm"], "RSA-2048");
    assert_eq!(personal["validity"], "valid");
    assert_eq!(personal["token"]["label"], "Lanh dao");
    // Chain built from the token's sub-CA (issuer first); the root is not on the token.
    assert_eq!(personal["chain"].as_array().map(Vec::len), Some(1));
    let org = by_id("organization");
    assert_eq!(org["kind"], "organization");
    assert_eq!(org["token"]["label"], "Van thu");
    assert_eq!(by_id("personal-ec")["keyAlgorithm"], "EC P-256");
    assert_eq!(by_id("expired")["validity"], "expired");

    let only_org = kyso(fx)
        .arg("--config")
        .arg(&config)
        .args(["certs", "--json", "--kind", "organization"])
        .output()
        .expect("run");
    let only: serde_json::Value = serde_json::from_slice(&only_org.stdout).expect("json");
    assert_eq!(only["certificates"].as_array().map(Vec::len), Some(1));
}

#[test]
fn sign_rsa_and_ec_digests_gives_cms_that_openssl_verifies() {
    let (_turn, fx, config, leader, clerk) = setup();
    let cases = [
        ("personal", &leader, "SHA-256", false),
        ("personal", &leader, "SHA-512", false),
        ("personal", &leader, "SHA-256", true),
        ("personal-ec", &leader, "SHA-256", false),
        ("personal-ec", &leader, "SHA-384", false),
        ("organization", &clerk, "SHA-256", false),
    ];
    for (name, script, alg, pss) in cases {
        let label = format!("{name}-{alg}-{}", if pss { "pss" } else { "std" });
        let (content, digest) = document(&fx.dir, &format!("{label}.bin"), alg);
        let cms = fx.dir.join(format!("{label}.p7s"));
        let id = fx.id(name);
        let mut args = vec!["--cert", &id, "--digest", &digest, "--alg", alg, "--out"];
        let cms_str = cms.display().to_string();
        args.push(&cms_str);
        if pss {
            args.push("--pss");
        }
        let out = sign(fx, &config, script, &args);
        assert!(out.status.success(), "{label}: {:?}", text(&out));
        openssl_verify(fx, &cms, &content).unwrap_or_else(|e| panic!("{label}: {e}"));
        // One byte more in the content and the same CMS must fail.
        let tampered = fx.dir.join(format!("{label}.tampered"));
        let mut bytes = std::fs::read(&content).expect("read");
        bytes.push(0);
        std::fs::write(&tampered, bytes).expect("write");
        assert!(
            openssl_verify(fx, &cms, &tampered).is_err(),
            "{label}: tampered content verified"
        );

        let printed = openssl_print(&cms);
        assert!(printed.contains("messageDigest"), "{label}: {printed}");
        assert!(
            printed.contains("id-smime-aa-signingCertificateV2"),
            "{label}"
        );
        assert!(
            !printed.contains("signingTime"),
            "{label}: PAdES forbids signing-time"
        );
        assert!(
            printed.contains("eContent: <ABSENT>"),
            "{label}: CMS must be detached"
        );
        if pss {
            assert!(printed.contains("rsassaPss"), "{label}: {printed}");
        }
    }
}

#[test]
fn raw_signature_over_signed_attributes_verifies_with_the_public_key() {
    let (_turn, fx, config, leader, _) = setup();
    // The signed attributes a server would build: take them from a CMS Kyso made.
    let (_, digest) = document(&fx.dir, "raw-source.bin", "SHA-256");
    for name in ["personal", "personal-ec"] {
        let id = fx.id(name);
        let attrs = {
            use base64::Engine as _;
            use der::Decode;
            let der = base64::engine::general_purpose::STANDARD
                .decode(&digest)
                .expect("b64");
            let cert = std::fs::read(fx.pki.join(format!("{name}.der"))).expect("cert");
            let bytes =
                kyso::cades::signed_attributes(kyso::digest::DigestAlgorithm::Sha256, &der, &cert)
                    .expect("attrs");
            // Round-trip: the agent accepts exactly this DER.
            assert!(cms::signed_data::SignedAttributes::from_der(&bytes).is_ok());
            bytes
        };
        let attrs_file = fx.dir.join(format!("{name}.attrs.der"));
        std::fs::write(&attrs_file, &attrs).expect("write attrs");
        let sig = fx.dir.join(format!("{name}.raw.sig"));
        let out = sign(
            fx,
            &config,
            &leader,
            &[
                "--cert",
                &id,
                "--format",
                "raw",
                "--signed-attrs",
                &format!("@{}", attrs_file.display()),
                "--out",
                &sig.display().to_string(),
            ],
        );
        assert!(out.status.success(), "{name}: {:?}", text(&out));
        let pubkey = fx.dir.join(format!("{name}.pub.pem"));
        let status = Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(fx.pem(name))
            .output()
            .expect("openssl x509");
        std::fs::write(&pubkey, status.stdout).expect("write pubkey");
        let verify = Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pubkey)
            .arg("-signature")
            .arg(&sig)
            .arg(&attrs_file)
            .output()
            .expect("openssl dgst");
        assert_eq!(
            String::from_utf8_lossy(&verify.stdout).trim(),
            "Verified OK",
            "{name}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
}

#[test]
fn bad_input_gets_a_stable_code_and_signs_nothing() {
    let (_turn, fx, config, leader, _) = setup();
    let (_, digest) = document(&fx.dir, "bad.bin", "SHA-256");
    let out_file = fx.dir.join("never.p7s");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        let path = out_file.display().to_string();
        all.extend(["--out", &path]);
        let out = sign(fx, &config, &leader, &all);
        let (stdout, stderr) = text(&out);
        (out.status.success(), stdout, stderr)
    };
    let personal = fx.id("personal");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--cert", &personal, "--digest", "AAAA"],
            "code: BAD_REQUEST",
        ),
        (
            vec!["--cert", &personal, "--digest", &digest, "--alg", "SHA-384"],
            "code: BAD_REQUEST",
        ),
        (
            vec!["--cert", &personal, "--digest", "not base64!"],
            "code: BAD_REQUEST",
        ),
        (
            vec![
                "--cert",
                &personal,
                "--format",
                "raw",
                "--signed-attrs",
                "MAA=",
            ],
            "code: BAD_REQUEST",
        ),
        (
            vec!["--cert", "ffff00", "--digest", &digest],
            "code: CERTIFICATE_NOT_FOUND",
        ),
    ];
    for (args, expected) in cases {
        let (ok, _, stderr) = run(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out_file.exists(), "{args:?} wrote a file");
    }
    let expired = fx.id("expired");
    let (ok, _, stderr) = run(&["--cert", &expired, "--digest", &digest]);
    assert!(!ok);
    assert!(
        stderr.contains("code: CERTIFICATE_NOT_VALID") && stderr.contains("hết hạn"),
        "{stderr}"
    );
}

#[test]
fn wrong_pin_reports_code_and_json_error() {
    let (_turn, fx, config, _, _) = setup();
    let wrong = write_script(&fx.dir, "wrong.toml", "pin = \"999999\"\n");
    let (_, digest) = document(&fx.dir, "wrongpin.bin", "SHA-256");
    let id = fx.id("personal");
    let out_file = fx.dir.join("wrongpin.p7s");
    let out = sign(
        fx,
        &config,
        &wrong,
        &[
            "--cert",
            &id,
            "--digest",
            &digest,
            "--json",
            "--out",
            &out_file.display().to_string(),
        ],
    );
    assert!(!out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json error");
    assert_eq!(body["error"]["code"], "PIN_INCORRECT");
    assert!(!out_file.exists());
    // The cancel action gives USER_CANCELLED.
    let cancel = write_script(&fx.dir, "cancel.toml", "action = \"cancel\"\n");
    let out = sign(
        fx,
        &config,
        &cancel,
        &[
            "--cert",
            &id,
            "--digest",
            &digest,
            "--out",
            &out_file.display().to_string(),
        ],
    );
    assert!(
        text(&out).1.contains("code: USER_CANCELLED"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn a_module_that_fails_to_load_is_reported_and_the_others_work() {
    let (_turn, fx, _, _, _) = setup();
    let broken = fx.dir.join("libbroken-pkcs11.so");
    std::fs::write(&broken, b"not a shared object").expect("write");
    let config = write_config(
        &fx.dir,
        "with-broken.toml",
        &[
            &broken,
            std::path::Path::new("/nonexistent/libnothere.so"),
            std::path::Path::new(SOFTHSM),
        ],
        "",
    );
    let out = kyso(fx)
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .output()
        .expect("doctor");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("libbroken-pkcs11.so"),
        "{stdout}"
    );
    assert!(stdout.contains("libnothere.so"), "{stdout}");
    assert!(
        stdout.contains("OK  /usr/lib/softhsm/libsofthsm2.so"),
        "{stdout}"
    );
    assert!(stdout.contains("Nguyễn Văn An"), "{stdout}");
}

#[test]
fn system_policy_wins_over_the_user_config() {
    let (_turn, fx, config, _, _) = setup();
    // The user's file loads SoftHSM; the policy names only a module that does not exist.
    let policy = fx.dir.join("policy.toml");
    std::fs::write(
        &policy,
        "pkcs11_modules = [\"/nonexistent/policy-module.so\"]\ndiscover_modules = false\n",
    )
    .expect("policy");
    let out = kyso(fx)
        .env("KYSO_POLICY_FILE", &policy)
        .arg("--config")
        .arg(&config)
        .args(["doctor", "--json"])
        .output()
        .expect("doctor");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["policyPresent"], true);
    let modules = report["modules"].as_array().expect("modules");
    assert_eq!(modules.len(), 1, "{modules:#?}");
    assert_eq!(modules[0]["source"], "policy");
    assert_eq!(report["certificates"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_typo_in_the_config_is_a_clear_error() {
    let (_turn, fx, _, _, _) = setup();
    let bad = fx.dir.join("typo.toml");
    std::fs::write(&bad, "pkcs11_module = [\"/x.so\"]\n").expect("write");
    let out = kyso(fx)
        .arg("--config")
        .arg(&bad)
        .arg("certs")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("pkcs11_module"), "{:?}", text(&out));
    // A settings file that is not there is an error too, not a silent run with the defaults.
    let missing = fx.dir.join("no-such-config.toml");
    let out = kyso(fx)
        .arg("--config")
        .arg(&missing)
        .arg("certs")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("no-such-config.toml: no such settings file"),
        "{:?}",
        text(&out)
    );
}
