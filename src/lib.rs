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

pub mod api;
pub mod app;
pub mod bench;
pub mod bridge;
pub mod cades;
pub mod certificate;
pub mod client;
pub mod config;
pub mod demo;
pub mod digest;
pub mod pades;
pub mod pki;
pub mod platform;
pub mod server;
pub mod signing;
pub mod tls;
pub mod token;
pub mod ui;
