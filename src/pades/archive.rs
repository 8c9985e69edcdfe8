//! PAdES B-LTA (ETSI EN 319 142-1 §5.5): the validation data of every signature of a document
//! in its security store, then a document timestamp over the whole file. Run again before the
//! last timestamp's certificate expires (or its algorithm weakens), it adds the data that
//! proves the previous timestamp and a new one over it, so the signatures stay provable for
//! as long as the archive keeps doing so.

use super::dss::{self, ValidationData};
use super::pdf::Document;
use super::timestamp::{self, Tsa};
use super::Error;
use x509_cert::Certificate;

/// Bytes reserved for a document timestamp token (a token with its TSA chain is 3–8 KB).
pub const TOKEN_CONTENTS_SIZE: usize = 16 * 1024;

/// The chain and the revocation data of every signature of `pdf` (its signer, the TSA of
/// its signature timestamp) and of every earlier document timestamp, fetched through `fetch`.
///
/// # Errors
/// An unreadable PDF.
pub fn validation_data(
    pdf: &[u8],
    extra: &[Certificate],
    fetch: &dyn crate::pki::revocation::Fetch,
) -> Result<ValidationData, Error> {
    let doc = Document::load(pdf)?;
    let mut data = ValidationData::default();
    for contents in dss::signature_contents(&doc) {
        let mut containers = vec![contents.clone()];
        containers.extend(timestamp::embedded_tokens(&contents));
        for cms in containers {
            match dss::gather(&cms, extra, fetch) {
                Ok(found) => {
                    data.certs.extend(found.certs);
                    data.ocsps.extend(found.ocsps);
                    data.crls.extend(found.crls);
                }
                Err(e) => tracing::warn!(error = %e, "a signature without validation data"),
            }
        }
    }
    Ok(data)
}

/// Adds the validation data of every signature, gathered through `fetch` (one incremental
/// update), and a document timestamp from `tsa` over the whole result (another): PAdES B-LTA. Earlier signatures stay
/// valid: both updates are what ETSI EN 319 142-1 allows after a signature.
///
/// # Errors
/// An unreadable PDF, the TSA, a token larger than its placeholder.
pub fn timestamp_document(
    pdf: &[u8],
    extra: &[Certificate],
    fetch: &dyn crate::pki::revocation::Fetch,
    tsa: &Tsa<'_>,
) -> Result<Vec<u8>, Error> {
    let data = validation_data(pdf, extra, fetch)?;
    let with_dss = dss::append(pdf, &data)?;
    let request = super::prepare::PrepareRequest {
        field_name: None,
        signer_name: None,
        reason: None,
        time: super::vietnam_now(),
        contents_size: TOKEN_CONTENTS_SIZE,
        stamps: Vec::new(),
        font: None,
        create_fields: Vec::new(),
        fill_fields: Vec::new(),
        document_timestamp: true,
    };
    let (mut prepared, placement) = super::prepare_bytes(&with_dss, &request)?;
    let (token, proven) = timestamp::stamp(&placement.digest, tsa)?;
    let hex = hex::encode(&token);
    let [_, a, b, _] = placement
        .byte_range
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX));
    let capacity = b.saturating_sub(a).saturating_sub(2);
    if hex.len() > capacity {
        return Err(Error::CmsTooLarge {
            needed: token.len(),
            available: capacity / 2,
        });
    }
    prepared
        .get_mut(a + 1..a + 1 + hex.len())
        .ok_or(Error::Internal("placeholder outside the file"))?
        .copy_from_slice(hex.as_bytes());
    tracing::info!(time = %proven.display, tsa = tsa.url, "document timestamp added");
    // The new timestamp's own validation data (its TSA's chain and status) in a DSS update
    // after it, as ETSI EN 319 142-1 allows: the file proves its last timestamp offline too,
    // and the next run covers this data with its own timestamp.
    let own = match dss::gather(&token, extra, fetch) {
        Ok(own) => own,
        Err(e) => {
            tracing::warn!(error = %e, "no validation data for the document timestamp");
            return Ok(prepared);
        }
    };
    dss::append(&prepared, &own)
}

/// A PAdES baseline level (ETSI EN 319 142-1 §6).
/// Written `B-B`, `B-T`, `B-LT`, `B-LTA`; read case-insensitively, with or without the `B-`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
pub enum Level {
    /// B-B: the signature alone.
    #[serde(rename = "B-B")]
    B,
    /// B-T: with a signature timestamp from a TSA.
    #[serde(rename = "B-T")]
    T,
    /// B-LT: B-T and the validation data of the signature in the document security store.
    #[serde(rename = "B-LT")]
    Lt,
    /// B-LTA: B-LT and a document timestamp over the whole file.
    #[serde(rename = "B-LTA")]
    Lta,
}

impl<'de> serde::Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("level is B-B, B-T, B-LT or B-LTA"))
    }
}

impl Level {
    /// `B-B`, `B-T`, `B-LT`, `B-LTA` (case-insensitive; the `B-` may be left out).
    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.strip_prefix("B-").unwrap_or(&upper) {
            "B" => Some(Self::B),
            "T" => Some(Self::T),
            "LT" => Some(Self::Lt),
            "LTA" => Some(Self::Lta),
            _ => None,
        }
    }

    /// Whether the level needs a TSA.
    pub fn needs_tsa(self) -> bool {
        self >= Self::T
    }
}

/// Brings a freshly embedded signature (B-B, or B-T when the CMS got its timestamp) to
/// `level`: `given` validation data (the agent's evidence, a chain) is always stored; B-LT
/// adds what `fetch` gathers for every signature of the document; B-LTA then adds a document
/// timestamp from `tsa`.
///
/// # Errors
/// An unreadable PDF, B-LTA without a TSA, the TSA.
pub fn extend(
    signed: &[u8],
    level: Level,
    mut given: ValidationData,
    extra: &[Certificate],
    fetch: &dyn crate::pki::revocation::Fetch,
    tsa: Option<&Tsa<'_>>,
) -> Result<Vec<u8>, Error> {
    if level == Level::Lt {
        let found = validation_data(signed, extra, fetch)?;
        given.certs.extend(found.certs);
        given.ocsps.extend(found.ocsps);
        given.crls.extend(found.crls);
    }
    let stored = dss::append(signed, &given)?;
    if level < Level::Lta {
        return Ok(stored);
    }
    let tsa = tsa.ok_or_else(|| Error::Timestamp("B-LTA needs a timestamp authority".into()))?;
    timestamp_document(&stored, extra, fetch, tsa).map_err(|e| match e {
        Error::Timestamp(m) => Error::Timestamp(format!("document timestamp: {m}")),
        other => other,
    })
}
