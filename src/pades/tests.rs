//! Unit tests of the PDF library's own path, on a minimal document built here: prepare writes
//! a placeholder whose ByteRange is the file minus `/Contents`, a second signature goes in a new
//! revision, and verify says what an unsigned or relocated placeholder is. (Real signatures,
//! other software's files and hostile files are in `tests/pdf.rs`, `tests/hostile.rs`.)

use sha2::Digest as _;

use super::prepare::{PrepareRequest, DEFAULT_CONTENTS_SIZE};
use super::verify::{verify, Options, Verdict};

/// A one-page PDF with a classic cross-reference table.
pub(crate) fn minimal_pdf() -> Vec<u8> {
    pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        "<< /Length 36 >>\nstream\nBT /F1 12 Tf 72 770 Td (Hello) Tj ET\nendstream",
    ])
}

/// A PDF of `objects` (numbered from 1, the first the catalog) with a classic xref table.
fn pdf_of(objects: &[&str]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn invisible() -> PrepareRequest {
    PrepareRequest {
        field_name: None,
        signer_name: Some("Nguyễn Văn Thử".into()),
        reason: None,
        time: super::vietnam_now(),
        contents_size: DEFAULT_CONTENTS_SIZE,
        stamps: Vec::new(),
        font: None,
        create_fields: Vec::new(),
        fill_fields: Vec::new(),
        document_timestamp: false,
    }
}

#[test]
fn the_byte_range_is_the_whole_file_but_the_contents_and_its_digest_is_what_is_signed() {
    let (prepared, placement) =
        super::prepare_bytes(&minimal_pdf(), &invisible()).expect("prepare");
    let [zero, a, b, c] = placement.byte_range.map(|v| v as usize);
    assert_eq!(zero, 0);
    assert_eq!(
        b + c,
        prepared.len(),
        "the second range runs to the end of the file"
    );
    assert_eq!(prepared[a], b'<');
    assert_eq!(prepared[b - 1], b'>');
    assert!(prepared[a + 1..b - 1].iter().all(|d| *d == b'0'));
    assert_eq!((b - a - 2) / 2, placement.capacity);
    let mut hash = sha2::Sha256::new();
    hash.update(&prepared[..a]);
    hash.update(&prepared[b..]);
    assert_eq!(hash.finalize().to_vec(), placement.digest);
    assert_eq!(placement.field, "Signature1");
    // A second signature: a new revision with the next field name; the first stays as it was.
    let (again, second) = super::prepare_bytes(&prepared, &invisible()).expect("prepare again");
    assert_eq!(second.field, "Signature2");
    assert_eq!(&again[..prepared.len()], &prepared[..]);
}

#[test]
fn an_unsigned_placeholder_is_not_valid_and_says_why() {
    let (prepared, _) = super::prepare_bytes(&minimal_pdf(), &invisible()).expect("prepare");
    let report = verify(&prepared, &Options::integrity_only()).expect("verify");
    assert_eq!(report.signatures.len(), 1);
    let signature = &report.signatures[0];
    assert_ne!(signature.verdict, Verdict::Valid);
    assert!(
        signature.reason_codes.iter().any(|c| c == "CMS_DAMAGED"),
        "{:?}",
        signature.reason_codes
    );
    assert!(signature.covers_whole_file);
}

#[test]
fn a_byte_range_moved_off_the_contents_is_signature_wrapping() {
    let (mut prepared, placement) =
        super::prepare_bytes(&minimal_pdf(), &invisible()).expect("prepare");
    let [_, a, b, c] = placement.byte_range;
    let old = format!("[0 {a} {b} {c}]");
    let at = super::pdf::find(&prepared, old.as_bytes()).expect("byte range");
    // Shift the gap one byte left, same width: it no longer is exactly this /Contents.
    let new = format!("[0 {} {} {}]", a - 1, b - 1, c + 1);
    let padded = format!("{new:<width$}", width = old.len());
    prepared[at..at + padded.len()].copy_from_slice(padded.as_bytes());
    let report = verify(&prepared, &Options::integrity_only()).expect("verify");
    let signature = &report.signatures[0];
    assert_eq!(signature.verdict, Verdict::Invalid);
    assert!(
        signature
            .reason_codes
            .iter()
            .any(|c| c == "BYTE_RANGE_GAP_NOT_CONTENTS"),
        "{:?}",
        signature.reason_codes
    );
}

#[test]
fn a_document_without_signatures_has_no_verdict() {
    let report = verify(&minimal_pdf(), &Options::integrity_only()).expect("verify");
    assert!(report.signatures.is_empty());
    assert_eq!(report.overall(), None);
    assert_eq!(
        report.exit_code(),
        1,
        "nothing proven: not a valid signed document"
    );
}

/// Every reason code a verification report can carry has its message in both languages: the
/// codes verify writes (read from its source, where they are literals) and the path
/// validation's.
#[test]
fn every_reason_code_has_a_catalogue_message() {
    use crate::i18n::{code_id, text, Lang};
    let source = include_str!("verify.rs");
    let mut codes: Vec<String> = source
        .split("report.reason(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"'))
        .filter_map(|rest| rest.split('"').next())
        .map(String::from)
        .collect();
    assert!(codes.len() >= 12, "{codes:?}");
    codes.extend(crate::pki::Reason::ALL.iter().map(|r| r.code()));
    for code in &codes {
        let id = code_id("reason", code);
        for lang in [Lang::Vi, Lang::En] {
            assert_ne!(text(lang, &id), id, "{code} has no {lang:?} message");
        }
    }
    // A timestamp authority's reason reads as the timestamp's.
    let tsa = super::verify::reason_text("TSA_REVOKED", "", false, Some(Lang::En));
    assert_eq!(
        tsa,
        "the timestamp is not proven: a certificate was revoked"
    );
}

/// A form XObject that draws itself, and one that draws an image through a scaled form: the
/// layout reader follows forms to a bounded depth and count, and finds the image's box.
#[test]
fn forms_are_followed_to_a_bound_and_their_images_found() {
    let data = pdf_of(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /XObject << /Loop 5 0 R /Scaled 6 0 R >> >> >>",
        "<< /Length 42 >>\nstream\n/Loop Do q 1 0 0 1 100 200 cm /Scaled Do Q\nendstream",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /Loop 5 0 R >> >> \
         /Length 26 >>\nstream\n/Loop Do /Loop Do /Loop Do\nendstream",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Matrix [50 0 0 20 0 0] \
         /Resources << /XObject << /Im 7 0 R >> >> /Length 6 >>\nstream\n/Im Do\nendstream",
        "<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray \
         /BitsPerComponent 8 /Length 1 >>\nstream\n\u{0}\nendstream",
    ]);
    let doc = super::pdf::Document::load(&data).expect("load");
    let boxes = super::layout::occupied(&doc, 1).expect("occupied");
    assert_eq!(boxes, vec![[100.0, 200.0, 150.0, 220.0]]);
}
