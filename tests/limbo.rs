//! x509-limbo (document-signing subset, `tests/vectors/x509-limbo/`): every case run as
//! `kyso cert verify --no-revocation` runs it, in process: the path alone, with the case's CRLs.
//! Every `kyso_must_pass` case must be right; the others are right or listed in `ARGUED` with
//! the reason Kyso departs (so a change in behaviour fails here either way).

use kyso::pki::check::{self, RevocationMode};
use kyso::pki::path::Purpose;
use kyso::pki::revocation::NoFetch;
use kyso::pki::Verdict;

/// Cases where Kyso knowingly differs from x509-limbo's expectation, with why.
const ARGUED: &[(&str, &str)] = &[
    ("pathlen::max-chain-depth-0-exhausted", "a TLS client's depth setting; Kyso caps paths at 10"),
    ("pathlen::max-chain-depth-1-exhausted", "a TLS client's depth setting; Kyso caps paths at 10"),
    ("rfc5280::aki::leaf-missing-aki", "a CA hygiene rule; chaining by name and signature is still proven (OpenSSL and pyHanko accept too)"),
    ("rfc5280::aki::intermediate-missing-aki", "same: older CA certificates lack key identifiers"),
    ("rfc5280::ski::root-missing-ski", "same: trust anchors installed by IT are not second-guessed for a missing SKI"),
    ("rfc5280::ski::intermediate-missing-ski", "same"),
    ("rfc5280::root-non-critical-basic-constraints", "the root is a trust anchor IT installed; cA=TRUE is checked, its criticality is not (OpenSSL default)"),
    ("webpki::forbidden-weak-rsa-key-in-root", "old signed documents from 1024-bit hierarchies must stay verifiable; reported by the algorithm, not refused"),
    ("webpki::forbidden-rsa-not-divisible-by-8-in-root", "an odd-sized modulus is not a weakness in itself"),
];

fn pem_to_der(text: &str) -> Vec<Vec<u8>> {
    kyso::certificate::read_pem_or_der(text.as_bytes()).unwrap_or_default()
}

#[test]
fn x509_limbo_document_signing_subset() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/x509-limbo/limbo-docsign.json"
    );
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("limbo vectors")).expect("json");
    let cases = data["testcases"].as_array().expect("testcases");
    assert_eq!(cases.len(), 103);
    let mut wrong = Vec::new();
    let mut argued_seen = Vec::new();
    let mut must = 0;
    for case in cases {
        let id = case["id"].as_str().unwrap_or_default();
        let texts = |key: &str| -> Vec<String> {
            case[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let parse = |key: &str| -> Vec<x509_cert::Certificate> {
            texts(key)
                .iter()
                .flat_map(|t| pem_to_der(t))
                .filter_map(|d| <x509_cert::Certificate as der::Decode>::from_der(&d).ok())
                .collect()
        };
        let expected_success = case["expected_result"] == "SUCCESS";
        let leaf = pem_to_der(case["peer_certificate"].as_str().unwrap_or_default())
            .first()
            .and_then(|d| <x509_cert::Certificate as der::Decode>::from_der(d).ok());
        let got_success = match leaf {
            // A certificate that does not even parse (x509-cert refuses it) fails validation.
            None => false,
            Some(leaf) => {
                let anchors = parse("trusted_certs");
                let intermediates = parse("untrusted_intermediates");
                let crls: Vec<_> = texts("crls")
                    .iter()
                    .flat_map(|t| kyso::pki::crl::parse(t.as_bytes()).unwrap_or_default())
                    .collect();
                let at = case["validation_time"]
                    .as_str()
                    .and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                    .map_or_else(kyso::certificate::unix_now, |t| t.unix_timestamp() as u64);
                let report = check::check(
                    &check::Request {
                        certificate: &leaf,
                        anchors: &anchors,
                        intermediates: &intermediates,
                        crls: &crls,
                        ocsp: &[],
                        at,
                        purpose: Purpose::Any,
                        revocation: RevocationMode::Off,
                        time_proven: true,
                    },
                    &NoFetch,
                );
                report.verdict == Verdict::Valid
            }
        };
        let must_pass = case["kyso_must_pass"].as_bool().unwrap_or(false);
        must += usize::from(must_pass);
        if got_success == expected_success {
            assert!(
                !ARGUED.iter().any(|(a, _)| *a == id),
                "{id} is now right: take it off ARGUED"
            );
            continue;
        }
        if !must_pass && ARGUED.iter().any(|(a, _)| *a == id) {
            argued_seen.push(id);
            continue;
        }
        wrong.push(format!("{id}: expected {}", case["expected_result"]));
    }
    assert_eq!(must, 57);
    assert!(
        wrong.is_empty(),
        "x509-limbo cases wrong:\n{}",
        wrong.join("\n")
    );
    assert_eq!(argued_seen.len(), ARGUED.len());
    println!(
        "x509-limbo: {} of 103 as expected, {} argued",
        103 - argued_seen.len(),
        argued_seen.len()
    );
}
