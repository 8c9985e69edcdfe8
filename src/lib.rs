//! Kyso ("ký số"): the open signing agent for Vietnamese agencies.
//!
//! A browser-based document management system (DMS) hands the agent a document digest; the
//! agent asks the user for the USB token's PIN in its own prompt, signs on the PKCS#11 token and
//! returns a CAdES-BES detached CMS that the DMS server embeds in the PDF.
//!
//! Module boundaries (see `DESIGN.md`):
//! - [`api`]: the wire contract (types, stable error codes); no domain logic.
//! - [`signing`]: the use cases and the one user-facing error; talks to tokens and prompts
//!   only through traits.
//! - [`token`]: PKCS#11 modules, slots, login, signing, hot-plug; the only `cryptoki` user.
//! - [`cades`]: CAdES-BES SignedData from a digest and a signer; bytes in, bytes out.
//! - [`certificate`]: X.509 parsing for display, classification and chain building.
//! - [`config`]: user settings and the system policy (policy wins).
//! - [`ui`]: prompts that implement [`signing::Prompt`] (terminal, scripted).
//! - [`app`]: the composition root used by the binary.

#[cfg(feature = "agent")]
pub mod api;
#[cfg(feature = "agent")]
pub mod app;
#[cfg(feature = "agent")]
pub mod bridge;
#[cfg(feature = "agent")]
pub mod cades;
pub mod certificate;
#[cfg(feature = "agent")]
pub mod config;
#[cfg(feature = "agent")]
pub mod contract;
pub mod digest;
pub mod i18n;
pub mod pades;
pub mod pki;
#[cfg(feature = "agent")]
pub mod platform;
pub mod scheme;
#[cfg(feature = "agent")]
pub mod server;
#[cfg(feature = "agent")]
pub mod signing;
#[cfg(feature = "agent")]
pub mod tls;
#[cfg(feature = "agent")]
pub mod token;
#[cfg(feature = "agent")]
pub mod ui;
