//! Seeded mutation fuzzing on the stable toolchain (no nightly here for cargo-fuzz): the PDF
//! reader, verify (integrity, CMS, certificates, timestamps), prepare's reading side and the
//! BER/DER/CMS/X.509/CRL/OCSP decoders, over mutations of real signed PDFs
//! (`../shared/corpus/signed-pdfs`, when present), the crafted files of
//! `tests/fixtures/hostile.py`, and the regression files in `tests/hostile/`.
//!
//! `KYSO_FUZZ_SECS` (default 10) bounds the run, `KYSO_FUZZ_ITERS` the executions,
//! `KYSO_FUZZ_SEED` picks the sequence. A panic fails the test and writes the input to
//! `target/fuzz-crashes/`; an abort (allocation failure, stack overflow) kills the process,
//! and the last input is in `target/fuzz-crashes/last-input` for the regression folder.
//!
//! The long run for the figure in the README:
//! `KYSO_FUZZ_SECS=3600 KYSO_FUZZ_ITERS=1000000 cargo test --release --test fuzz -- --nocapture`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kyso::pades::pdf::{Document, Object};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens that make PDF and DER parsers take unusual paths.
const INTERESTING: &[&[u8]] = &[
    b"-1",
    b"0",
    b"1000000000000",
    b"4294967295",
    b"9223372036854775807",
    b"2147483648",
    b" 0 R",
    b" 1 0 R",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b")",
    b"\\",
    b"stream\n",
    b"endstream",
    b"obj",
    b"endobj",
    b"xref",
    b"trailer",
    b"startxref",
    b"%%EOF",
    b"/Length",
    b"/N",
    b"/First",
    b"/W",
    b"/Index",
    b"/Prev",
    b"/Kids",
    b"/Parent",
    b"/FlateDecode",
    b"/ByteRange",
    b"/Contents",
    b"\x30\x80",
    b"\x30\x84\xff\xff\xff\xff",
    b"\x02\x00",
    b"\x06\x00",
    b"\x00\x00",
    b"\xff",
];

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = data.len().max(1);
        match rng.below(8) {
            0 => {
                let i = rng.below(len);
                if let Some(b) = data.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                if let Some(b) = data.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                // Replace a number with an interesting one.
                let start = rng.below(len);
                if let Some(off) = data
                    .get(start..)
                    .and_then(|d| d.iter().position(u8::is_ascii_digit))
                {
                    let a = start + off;
                    let mut b = a;
                    while b < data.len() && data[b].is_ascii_digit() {
                        b += 1;
                    }
                    let token = INTERESTING[rng.below(3) + rng.below(4)];
                    data.splice(a..b, token.iter().copied());
                }
            }
            3 => {
                let i = rng.below(len + 1).min(data.len());
                let token = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(i..i, token.iter().copied());
            }
            4 => {
                // Delete a chunk.
                let a = rng.below(len).min(data.len());
                let b = (a + rng.below(64)).min(data.len());
                data.drain(a..b);
            }
            5 => {
                // Duplicate a chunk.
                let a = rng.below(len).min(data.len());
                let b = (a + rng.below(256)).min(data.len());
                let chunk = data[a..b].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, chunk);
            }
            6 => {
                // Splice in a chunk of another seed.
                if let Some(other) = others.get(rng.below(others.len())) {
                    let a = rng.below(other.len().max(1)).min(other.len());
                    let b = (a + rng.below(512)).min(other.len());
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => data.truncate(rng.below(len + 1)),
        }
    }
    data
}

/// Everything the untrusted bytes reach; the result is ignored, only crashes count.
fn exercise_pdf(data: &[u8]) {
    if let Ok(doc) = Document::load(data) {
        let _ = doc.pages();
        if let Ok((_, catalog)) = doc.catalog() {
            let _ = doc.get(&catalog, b"AcroForm");
        }
        for n in doc.xref.keys().copied().take(200) {
            if let Ok(object) = doc.object(n) {
                if matches!(object, Object::Stream(..)) {
                    let _ = doc.stream_data(&object);
                }
            }
        }
        let _ = kyso::pades::layout::text_lines(&doc, 1);
        let _ = kyso::pades::layout::occupied(&doc, 1);
        let _ = kyso::pades::layout::incoming_anchors(&doc);
        let _ = kyso::pades::prepare::clerk_place(&doc, "SoVanBan");
    }
    let _ = kyso::pades::verify::verify(data, &kyso::pades::verify::Options::integrity_only());
}

fn exercise_der(data: &[u8]) {
    use der::Decode;
    let der = kyso::pades::ber::to_der(data);
    let bytes = der.as_deref().unwrap_or(data);
    let _ = kyso::pades::ber::signed_attributes_raw(bytes);
    let _ = kyso::pades::ber::elements(bytes);
    let _ = cms::content_info::ContentInfo::from_der(bytes)
        .ok()
        .and_then(|ci| ci.content.decode_as::<cms::signed_data::SignedData>().ok());
    let _ = kyso::pades::timestamp::verify_token(data, &|h| h.digest_parts(&[b"x"]), Some(7));
    let _ = kyso::pades::timestamp::token_info(data);
    let _ = kyso::pki::crl::parse(data);
    // The socket-owner readers of the other systems take the bytes a system call or `lsof`
    // hands back: a short or lying table must give no owner, never a panic.
    let (client, server) = (
        std::net::SocketAddr::from(([127, 0, 0, 1], 50000)),
        std::net::SocketAddr::from(([127, 0, 0, 1], 47400)),
    );
    for ipv6 in [false, true] {
        let _ = kyso::platform::peer::owner_pid_in_windows_table(data, ipv6, client, server);
    }
    let _ =
        kyso::platform::peer::client_end_in_lsof(&String::from_utf8_lossy(data), client, server);
    if let Ok(cert) = x509_cert::Certificate::from_der(bytes) {
        let anchors = [cert.clone()];
        let _ = kyso::pki::path::validate(
            &cert,
            &kyso::pki::path::Inputs {
                anchors: &anchors,
                intermediates: &[],
                crls: &[],
                at: 1_800_000_000,
                purpose: kyso::pki::path::Purpose::DocumentSigning,
            },
        );
        let _ = kyso::pki::revocation::ocsp_urls(&cert);
        let _ = kyso::pki::revocation::crl_urls(&cert);
    }
}

/// The CMS blobs inside a PDF's signature /Contents, as DER seeds.
fn cms_of(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = kyso::pades::pdf::find(rest, b"/Contents <") {
        let hex_start = at + 11;
        let Some(len) = rest[hex_start..].iter().position(|b| *b == b'>') else {
            break;
        };
        if let Ok(bytes) = hex::decode(&rest[hex_start..hex_start + (len & !1)]) {
            if bytes.first() == Some(&0x30) {
                out.push(bytes);
            }
        }
        rest = &rest[hex_start + len..];
    }
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = root.join("target/fuzz-seeds");
    let status = std::process::Command::new("python3")
        .arg(root.join("tests/fixtures/hostile.py"))
        .arg(&generated)
        .stdout(std::process::Stdio::null())
        .status();
    assert!(status.is_ok_and(|s| s.success()), "hostile.py");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        generated,
        root.join("tests/hostile"),
        root.join("../shared/corpus/signed-pdfs"),
    ] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            // Seeds stay small so that each execution is quick (bombs are crafted above).
            let small = entry.metadata().is_ok_and(|m| m.len() <= 200_000);
            if path.extension().is_some_and(|e| e == "pdf") && small {
                files.push(path);
            }
        }
    }
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

#[test]
fn mutated_inputs_never_crash_the_reader_verify_or_the_decoders() {
    let env = |key: &str, default: u64| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let secs = env("KYSO_FUZZ_SECS", 10);
    let iterations = env("KYSO_FUZZ_ITERS", u64::MAX);
    let mut rng = Rng(env("KYSO_FUZZ_SEED", 0x6b79_736f) | 1);
    let pdfs = seeds();
    assert!(pdfs.len() >= 20, "too few seeds: {}", pdfs.len());
    let ders: Vec<Vec<u8>> = pdfs.iter().flat_map(|p| cms_of(p)).collect();
    let crashes = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    std::fs::create_dir_all(&crashes).expect("crash dir");
    let last = crashes.join("last-input");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut executions = 0u64;
    // Each seed as it is first, then mutations.
    for seed in &pdfs {
        exercise_pdf(seed);
    }
    while executions < iterations && Instant::now() < deadline {
        let der_turn = !ders.is_empty() && rng.below(4) == 0;
        let input = if der_turn {
            let pick = rng.below(ders.len());
            mutate(&mut rng, &ders[pick], &ders)
        } else {
            let pick = rng.below(pdfs.len());
            mutate(&mut rng, &pdfs[pick], &pdfs)
        };
        if executions.is_multiple_of(64) {
            // Cheap insurance for aborts: the input of the current batch is on disk.
            let _ = std::fs::write(&last, &input);
        }
        let outcome = std::panic::catch_unwind(|| {
            if der_turn {
                exercise_der(&input);
            } else {
                exercise_pdf(&input);
            }
        });
        if outcome.is_err() {
            let path = crashes.join(format!("crash-{executions}.bin"));
            std::fs::write(&path, &input).expect("write crash");
            panic!("crash on a mutated input, saved to {}", path.display());
        }
        executions += 1;
    }
    println!(
        "fuzz: {executions} executions, {} PDF seeds, {} CMS seeds, no crash",
        pdfs.len(),
        ders.len()
    );
    assert!(executions > 0);
}
