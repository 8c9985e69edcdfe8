//! The module boundaries of the library, checked on the source: which top-level module may use
//! which (`crate::x` outside comments), no cycle among them or among the PDF modules, and the
//! PDF library's modules free of the agent's. The compiler keeps the feature boundary
//! (`cargo check --no-default-features --features pdf` in `tests/run-all.sh`); this test keeps
//! the direction inside it. docs/architecture.md explains each rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may use. Lower layers first.
const ALLOWED: &[(&str, &[&str])] = &[
    // The PDF library (feature `pdf`): no token, server, TLS agent or GUI.
    // `i18n`, the message catalogue, is below everything that speaks to a user.
    ("i18n", &[]),
    ("certificate", &[]),
    ("digest", &[]),
    ("scheme", &["digest"]),
    ("pki", &["certificate", "i18n"]),
    ("pades", &["certificate", "digest", "i18n", "pki"]),
    // The agent (feature `agent`). The wire contract names the PDF library's closed sets
    // (role, level, receipt policy) and its verification report.
    ("api", &["certificate", "digest", "i18n", "pades"]),
    ("cades", &["digest", "scheme"]),
    ("token", &["certificate", "digest", "platform", "scheme"]),
    ("platform", &["certificate"]),
    ("config", &["platform"]),
    (
        "signing",
        &[
            "api",
            "cades",
            "certificate",
            "config",
            "digest",
            "i18n",
            "pki",
            "scheme",
            "token",
        ],
    ),
    ("ui", &["api", "certificate", "i18n", "signing", "token"]),
    ("tls", &["certificate", "platform"]),
    (
        "server",
        &["api", "certificate", "platform", "signing", "token"],
    ),
    (
        "bridge",
        &["api", "certificate", "config", "digest", "pades", "pki"],
    ),
    // The OpenAPI document: the wire types and the handlers that answer with them.
    ("contract", &["api", "bridge", "server"]),
    (
        "app",
        &[
            "api",
            "certificate",
            "config",
            "i18n",
            "pki",
            "platform",
            "server",
            "signing",
            "tls",
            "token",
            "ui",
        ],
    ),
];

/// Crates the signing core must not name: it talks to tokens, prompts and the network only
/// through its ports.
const SIGNING_FORBIDDEN_CRATES: &[&str] = &[
    "axum",
    "hyper",
    "tower",
    "cryptoki",
    "eframe",
    "tray_icon",
    "rustls",
    "ureq",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") && !is_test_module(&p) {
            out.push(p);
        }
    }
    out
}

/// A module of unit tests (`tests.rs`, `*_tests.rs`): built only for `cargo test`, it may
/// reach across layers for fixtures (the bridge's tests build a CMS with `cades`), which the
/// shipped library never does.
fn is_test_module(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s == "tests" || s.ends_with("_tests"))
}

/// The code lines of a file (comments and doc comments dropped).
fn code_lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("read")
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// Every `<prefix>name` in the code of `files`.
fn uses(files: &[PathBuf], prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in files {
        for line in code_lines(file) {
            let mut rest = line.as_str();
            while let Some(i) = rest.find(prefix) {
                let after = &rest[i + prefix.len()..];
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
                rest = after;
            }
        }
    }
    out
}

fn module_path(name: &str) -> PathBuf {
    let dir = src().join(name);
    if dir.is_dir() {
        dir
    } else {
        src().join(format!("{name}.rs"))
    }
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn every_top_level_module_uses_only_what_its_layer_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let declared = uses(&[src().join("lib.rs")], "pub mod ");
    let listed: BTreeSet<String> = allowed.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        declared, listed,
        "lib.rs modules and this test's table differ"
    );
    let mut graph = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, may) in &allowed {
        let used: BTreeSet<String> = uses(&rust_files(&module_path(module)), "crate::")
            .into_iter()
            .filter(|m| m != module && listed.contains(m))
            .collect();
        for edge in &used {
            if !may.contains(&edge.as_str()) {
                wrong.push(format!("{module} -> {edge}"));
            }
        }
        graph.insert(module.to_string(), used);
    }
    assert!(wrong.is_empty(), "forbidden edges: {wrong:?}");
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn the_pdf_modules_have_no_cycle() {
    let dir = src().join("pades");
    let names: BTreeSet<String> = rust_files(&dir)
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|n| n != "mod")
        .collect();
    let mut graph = BTreeMap::new();
    for name in &names {
        let file = dir.join(format!("{name}.rs"));
        let mut used = uses(std::slice::from_ref(&file), "super::");
        used.extend(uses(std::slice::from_ref(&file), "crate::pades::"));
        used.retain(|m| m != name && names.contains(m));
        graph.insert(name.clone(), used);
    }
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
}

#[test]
fn the_signing_core_names_no_http_ui_or_pkcs11_crate() {
    let files = rust_files(&module_path("signing"));
    for krate in SIGNING_FORBIDDEN_CRATES {
        for file in &files {
            let hit = code_lines(file)
                .iter()
                .any(|l| l.contains(&format!("{krate}::")) && !l.contains(&format!("_{krate}::")));
            assert!(!hit, "{} names {krate}", file.display());
        }
    }
}

#[test]
fn the_checker_finds_a_cycle_and_a_forbidden_edge() {
    // The checks themselves can fail.
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert!(find_cycle(&graph).is_some());
    let dir = std::env::temp_dir().join(format!("kyso-boundaries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("x.rs");
    std::fs::write(&file, "// crate::ui in a comment\nuse crate::token::X;\n").expect("write");
    let found = uses(std::slice::from_ref(&file), "crate::");
    assert_eq!(found, ["token".to_string()].into());
    let _ = std::fs::remove_dir_all(&dir);
}
