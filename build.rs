//! Lays out the release agent's code with the functions it runs at start, idle and on its
//! signing paths packed together (`src/link-order.txt`, made by `tests/link-order.sh`).
//!
//! The kernel maps code 64 KiB around each page the program touches; left where the compiler
//! puts them, the agent's start-up functions are spread over its whole `.text` and keep ~6 MiB
//! of it resident while idle. Packed, they fit in a fraction of that (issue 19). Only the
//! order changes: a name the file lists that the build no longer has is skipped, a function
//! it does not list goes after the listed ones.
//!
//! Only where the link goes through LLD: x86_64 Linux with rustc 1.90 or later (LLD is its
//! default linker there). Elsewhere the build is unchanged. `KYSO_LINK_ORDER=off` leaves the
//! compiler's order, to measure the difference.

use std::path::Path;
use std::process::Command;

fn main() {
    let order = Path::new("src/link-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KYSO_LINK_ORDER");
    if std::env::var("KYSO_LINK_ORDER").is_ok_and(|v| v == "off") {
        return;
    }
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !release
        || target != "x86_64-unknown-linux-gnu"
        || !order.exists()
        || !rustc_links_with_lld()
    {
        return;
    }
    let path = std::env::var("CARGO_MANIFEST_DIR")
        .map(|dir| Path::new(&dir).join(order))
        .unwrap_or_else(|_| order.to_path_buf());
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        path.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// rustc 1.90+ links x86_64-unknown-linux-gnu with its own LLD unless told otherwise.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(output) = Command::new(rustc).arg("-V").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&output.stdout);
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    let linker_overridden = std::env::var("RUSTFLAGS")
        .into_iter()
        .chain(std::env::var("CARGO_ENCODED_RUSTFLAGS"))
        .any(|flags| flags.contains("linker"));
    minor.is_some_and(|m| m >= 90) && !linker_overridden
}
