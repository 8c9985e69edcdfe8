//! PDF signing for the DMS server: prepare a signature (field, stamp, placeholder, digest),
//! embed the CMS the agent returns, verify incoming documents. Knows nothing of the agent: a
//! Rust server calls these functions, others call `kyso pdf …` or the bridge.

pub mod archive;
pub mod ber;
pub mod changes;
pub mod crypt;
pub mod dss;
pub mod embed;
pub mod image;
pub mod layout;
pub mod object;
pub mod pdf;
pub mod prepare;
pub mod report;
pub mod roles;
pub mod signed_data;
pub mod text;
pub mod timestamp;
pub mod update;
pub mod verify;

#[cfg(test)]
pub(crate) mod tests;

/// Errors of the PDF side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PDF cannot be read.
    #[error(transparent)]
    Pdf(#[from] pdf::Error),
    /// Reading or writing a file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The stamp image is not a usable PNG.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// The stamp font cannot be used.
    #[error("font: {0}")]
    Font(String),
    /// The stamp cannot be placed as asked (options that contradict each other or the role).
    #[error("placement: {0}")]
    Placement(String),
    /// Where the stamp should go is not in the document (the anchor text, the page, the field,
    /// the leader's signature a seal goes over).
    #[error("not found: {0}")]
    PlacementNotFound(String),
    /// The file has no empty signature placeholder (not prepared, or already signed).
    #[error("no empty signature placeholder: prepare the file first")]
    NoPlaceholder,
    /// The CMS is not a usable SignedData.
    #[error("CMS: {0}")]
    Cms(String),
    /// The CMS was made for other bytes (another preparation of the file).
    #[error("the CMS does not belong to this prepared file (message-digest differs from the ByteRange digest)")]
    CmsMismatch,
    /// The CMS is larger than the placeholder.
    #[error("the CMS needs {needed} bytes but the placeholder holds {available}: prepare with a larger contents size")]
    CmsTooLarge {
        /// DER bytes of the CMS.
        needed: usize,
        /// DER bytes the placeholder holds.
        available: usize,
    },
    /// The caller went away; the work stopped.
    #[error("cancelled")]
    Cancelled,
    /// The timestamp authority failed.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// An invariant of ours broke.
    #[error("internal: {0}")]
    Internal(&'static str),
}

use std::path::Path;

use crate::digest::DigestAlgorithm;

/// Vietnam time (UTC+07:00), used for `/M` and the stamps.
pub fn vietnam_now() -> time::OffsetDateTime {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::now_utc().to_offset(offset)
}

/// ISO 8601 with the Vietnam offset: `2026-11-30T17:57:27+07:00`.
pub fn iso8601_vn(t: time::OffsetDateTime) -> String {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let t = t.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Maps a file for reading without copying it into memory.
///
/// # Errors
/// The file cannot be opened or mapped.
pub fn map_file(path: &Path) -> Result<memmap2::Mmap, Error> {
    let file = std::fs::File::open(path)?;
    // SAFETY: the map is read-only and private to this process; a file changed underneath
    // by another program is detected by the length check of the single copying pass.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(map)
}

/// Prepares `input` into `output` (a new file).
///
/// # Errors
/// As [`prepare::prepare`].
pub fn prepare_file(
    input: &Path,
    output: &Path,
    request: &prepare::PrepareRequest,
) -> Result<prepare::Prepared, Error> {
    let map = map_file(input)?;
    let doc = pdf::Document::load(&map)?;
    let reader = std::fs::File::open(input)?;
    let writer = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(output)?);
    let result = prepare::prepare(&doc, reader, writer, request);
    if result.is_err() {
        let _ = std::fs::remove_file(output);
    }
    result
}

/// Embeds `cms` into the prepared file `input`, writing `output`; the input is not changed and
/// nothing is left at `output` when the CMS does not belong to it or does not fit. The input is
/// read once: copied to a temporary file while its ByteRange is hashed, then the CMS hex is
/// written in place and the file renamed.
///
/// # Errors
/// As [`embed::check`], or I/O.
pub fn embed_file(
    input: &Path,
    cms: &[u8],
    output: &Path,
    tsa: Option<&timestamp::Tsa<'_>>,
) -> Result<(), Error> {
    let stamped;
    let cms = match tsa {
        Some(tsa) => {
            let der = ber::to_der(cms).ok_or_else(|| Error::Cms("not DER".into()))?;
            stamped = timestamp::timestamp_cms(&der, tsa)?;
            stamped.as_slice()
        }
        None => cms,
    };
    use std::io::{Read, Seek, SeekFrom, Write};
    let placeholder = {
        let map = map_file(input)?;
        let doc = pdf::Document::load(&map)?;
        embed::find_placeholder(&doc)?
    };
    let (alg, _) = embed::cms_message_digest(
        &<cms::content_info::ContentInfo as der::Decode>::from_der(cms)
            .and_then(|c| der::Encode::to_der(&c))
            .map_err(|e| Error::Cms(e.to_string()))?,
    )?;
    let temporary = output.with_extension("kyso-partial");
    let result = (|| -> Result<(), Error> {
        let mut reader = std::fs::File::open(input)?;
        let mut writer =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&temporary)?);
        let [_, a, b, _] = placeholder.byte_range;
        let mut hasher = alg.hasher();
        let mut buffer = vec![0u8; 1 << 20];
        let mut offset = 0usize;
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            let chunk = &buffer[..n];
            // Hash what lies outside the gap [a, b).
            let (start, end) = (offset, offset + n);
            if start < a {
                hasher.update(&chunk[..a.min(end) - start]);
            }
            if end > b {
                hasher.update(&chunk[b.max(start) - start..]);
            }
            writer.write_all(chunk)?;
            offset = end;
        }
        let digest = hasher.finish();
        let hex = embed::check(&placeholder, cms, |_| Ok(digest))?;
        let mut file = writer.into_inner().map_err(|e| Error::Io(e.into_error()))?;
        file.seek(SeekFrom::Start(a as u64 + 1))?;
        file.write_all(&hex)?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            std::fs::rename(&temporary, output)?;
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// Embeds `cms` into the file [`prepare_file`] just wrote, in place: one pass in all. The
/// digest the preparation computed while copying the input stands for the file (nothing is read
/// again), the CMS must carry it (`CMS_MISMATCH` otherwise: a CMS made for other bytes), and only
/// the placeholder's hex digits are written. With `tsa`, a signature timestamp is added first.
/// A separate `embed` of a file someone else prepared hashes it instead ([`embed_file`]).
///
/// # Errors
/// As [`embed::check`], or I/O; the file is left as it was then.
pub fn embed_in_place(
    path: &Path,
    prepared: &prepare::Prepared,
    cms: &[u8],
    tsa: Option<&timestamp::Tsa<'_>>,
) -> Result<(), Error> {
    use std::io::{Seek, SeekFrom, Write};
    let der = ber::to_der(cms).ok_or_else(|| Error::Cms("not a DER CMS".into()))?;
    let cms = match tsa {
        Some(tsa) => timestamp::timestamp_cms(&der, tsa)?,
        None => der,
    };
    let [zero, a, b, c] = prepared.byte_range.map(|v| v as usize);
    let placeholder = embed::Placeholder {
        byte_range: [zero, a, b, c],
    };
    let hex = embed::check(&placeholder, &cms, |alg| {
        if alg == DigestAlgorithm::Sha256 {
            Ok(prepared.digest.clone())
        } else {
            // The preparation hashed with SHA-256 only: a CMS over another digest is not for it.
            Err(Error::CmsMismatch)
        }
    })?;
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(a as u64 + 1))?;
    file.write_all(&hex)?;
    file.flush()?;
    Ok(())
}

/// Prepares a PDF held in memory (the bridge): returns the prepared bytes and the digest.
///
/// # Errors
/// As [`prepare::prepare`].
pub fn prepare_bytes(
    input: &[u8],
    request: &prepare::PrepareRequest,
) -> Result<(Vec<u8>, prepare::Prepared), Error> {
    let doc = pdf::Document::load(input)?;
    let mut out = Vec::with_capacity(input.len() + 64 * 1024);
    let prepared = prepare::prepare(&doc, input, &mut out, request)?;
    Ok((out, prepared))
}

/// Embeds a CMS into prepared bytes in memory (the bridge), after the same checks as
/// [`embed_file`]; with `tsa`, a signature timestamp is added first.
///
/// # Errors
/// As [`embed::check`].
pub fn embed_bytes(
    prepared: &[u8],
    cms: &[u8],
    tsa: Option<&timestamp::Tsa<'_>>,
) -> Result<Vec<u8>, Error> {
    let der = ber::to_der(cms).ok_or_else(|| Error::Cms("not a DER CMS".into()))?;
    let cms = match tsa {
        Some(tsa) => timestamp::timestamp_cms(&der, tsa)?,
        None => der,
    };
    let doc = pdf::Document::load(prepared)?;
    let placeholder = embed::find_placeholder(&doc)?;
    let hex = embed::check(&placeholder, &cms, |alg| {
        Ok(embed::range_digest(prepared, placeholder.byte_range, alg))
    })?;
    let mut out = prepared.to_vec();
    let at = placeholder.byte_range[1] + 1;
    out[at..at + hex.len()].copy_from_slice(&hex);
    Ok(out)
}
