//! Per-OS code: trust stores (and later autostart and single-instance). Everything that differs
//! between Linux, Windows and macOS lives here behind one API.

pub mod browsers;
pub mod devices;
pub mod files;
pub mod memory;
pub mod peer;
pub mod policy;
pub mod trust;
