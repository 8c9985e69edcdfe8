//! The browsers' managed policies that pre-allow the DMS origins to reach the local agent.
//!
//! Chrome 142+, Edge and Chromium ask the user before a public or intranet page may reach
//! 127.0.0.1 (Local Network Access); one "Block" and signing stops for that DMS. Enterprise
//! policies pre-allow origins: `LocalNetworkAccessAllowedForUrls` (Chrome 139+, Edge 140+),
//! `LoopbackNetworkAllowedForUrls` and `LocalNetworkAllowedForUrls` (146+, the split
//! permission). Firefox (144+ prompts) has `LocalNetworkAccess` with `SkipDomains`. This module
//! writes them from the agent's allowed origins, removes them, and says which browser has them.
//!
//! Linux: a JSON file per Chromium-family browser in its managed-policy folder (ours alone,
//! `kyso.json`), and the `LocalNetworkAccess` key merged into Firefox's `policies.json` (a file
//! other policies share: only our key is written or removed). Windows: the same policies under
//! `HKLM\SOFTWARE\Policies\{Google\Chrome, Microsoft\Edge, Chromium, Mozilla\Firefox}`, written
//! with `reg.exe`. macOS: the same keys in each browser's machine plist under
//! `/Library/Managed Preferences` (Chrome, Edge and Chromium read their mandatory policies
//! there; Firefox too once `EnterprisePoliciesEnabled` is set), edited key by key with `plutil`
//! so that what an MDM wrote there stays.

use std::path::{Path, PathBuf};

/// The Chromium policies that pre-allow `origins`.
pub const CHROMIUM_POLICIES: [&str; 3] = [
    "LocalNetworkAccessAllowedForUrls",
    "LoopbackNetworkAllowedForUrls",
    "LocalNetworkAllowedForUrls",
];

/// A browser's policy, where it lives and whether the browser is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Browser name as users know it.
    pub browser: &'static str,
    /// The policy file.
    pub file: PathBuf,
    /// Chromium-family (`kyso.json` of its own) or Firefox (`policies.json`, merged).
    pub firefox: bool,
    /// Programs whose presence says the browser is installed.
    binaries: &'static [&'static str],
    /// The browser's own configuration folder (`/etc/chromium`): policies are written for a
    /// browser that is installed or has it, never creating folders for browsers that are not.
    home: PathBuf,
}

impl Target {
    /// Whether the browser is installed (under `root`).
    pub fn installed(&self, root: &Path) -> bool {
        self.binaries.iter().any(|b| under(root, b).exists())
    }

    /// Whether a policy should be written for it.
    fn present(&self, root: &Path) -> bool {
        self.installed(root) || self.home.is_dir()
    }
}

fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The policy files of the browsers Kyso knows on this system, under `root` (`/` on a machine).
pub fn targets(root: &Path) -> Vec<Target> {
    let chromium = |browser, home: &str, binaries| Target {
        browser,
        file: under(root, home).join("policies/managed/kyso.json"),
        firefox: false,
        binaries,
        home: under(root, home),
    };
    let firefox = |browser, home: &str, binaries| Target {
        browser,
        file: under(root, home).join("policies/policies.json"),
        firefox: true,
        binaries,
        home: under(root, home),
    };
    vec![
        chromium(
            "Chromium",
            "/etc/chromium",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        ),
        chromium(
            "Google Chrome",
            "/etc/opt/chrome",
            &["/usr/bin/google-chrome", "/opt/google/chrome/chrome"],
        ),
        chromium(
            "Microsoft Edge",
            "/etc/opt/edge",
            &["/usr/bin/microsoft-edge", "/opt/microsoft/msedge/msedge"],
        ),
        firefox(
            "Firefox",
            "/etc/firefox",
            &["/usr/bin/firefox", "/usr/lib/firefox/firefox"],
        ),
        firefox(
            "Firefox ESR",
            "/etc/firefox-esr",
            &["/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr"],
        ),
    ]
}

/// The Chromium-family policy document for `origins`.
pub fn chromium_policy(origins: &[String]) -> serde_json::Value {
    let list = serde_json::json!(origins);
    serde_json::Value::Object(
        CHROMIUM_POLICIES
            .iter()
            .map(|name| (name.to_string(), list.clone()))
            .collect(),
    )
}

/// The hosts Firefox's `SkipDomains` takes for `origins`.
fn hosts(origins: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = origins
        .iter()
        .filter_map(|o| o.split_once("://").map(|(_, rest)| rest))
        .map(|rest| match rest.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
            None => rest.rsplit_once(':').map_or(rest, |(h, _)| h).to_string(),
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Firefox's `policies.json` with our key set for `origins` (or removed when none), every other
/// policy kept.
pub fn firefox_policies(
    existing: Option<serde_json::Value>,
    origins: &[String],
) -> serde_json::Value {
    let mut document = existing
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    if !document["policies"].is_object() {
        document["policies"] = serde_json::json!({});
    }
    if let Some(policies) = document["policies"].as_object_mut() {
        if origins.is_empty() {
            policies.remove("LocalNetworkAccess");
        } else {
            policies.insert(
                "LocalNetworkAccess".into(),
                serde_json::json!({"Enabled": true, "SkipDomains": hosts(origins)}),
            );
        }
    }
    document
}

/// What a browser's policy says now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// No policy of Kyso's.
    Missing,
    /// Pre-allows every origin given.
    Covers,
    /// A policy of Kyso's that lacks some of them (the allowed origins changed since).
    Stale,
}

/// The state of `target` for `origins`.
pub fn state(target: &Target, origins: &[String]) -> State {
    let Some(document) = std::fs::read(&target.file)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return State::Missing;
    };
    if target.firefox {
        firefox_state(&document, origins)
    } else {
        chromium_state(&document, origins)
    }
}

/// Firefox's `{"policies": {"LocalNetworkAccess": …}}` against `origins`.
fn firefox_state(document: &serde_json::Value, origins: &[String]) -> State {
    let Some(skip) = document["policies"]["LocalNetworkAccess"]["SkipDomains"].as_array() else {
        return State::Missing;
    };
    covers_or_stale(
        hosts(origins)
            .iter()
            .all(|h| skip.iter().any(|s| s.as_str() == Some(h))),
    )
}

/// A Chromium-family policy document against `origins`.
fn chromium_state(document: &serde_json::Value, origins: &[String]) -> State {
    if CHROMIUM_POLICIES
        .iter()
        .all(|name| document.get(*name).is_none())
    {
        return State::Missing;
    }
    covers_or_stale(CHROMIUM_POLICIES.iter().all(|name| {
        document[*name].as_array().is_some_and(|list| {
            origins
                .iter()
                .all(|o| list.iter().any(|v| v.as_str() == Some(o)))
        })
    }))
}

fn covers_or_stale(covers: bool) -> State {
    if covers {
        State::Covers
    } else {
        State::Stale
    }
}

/// Writes (or, with no origins, removes) the policy of every browser present under `root`
/// (installed, or with its configuration folder). Returns each file with what happened.
pub fn install(root: &Path, origins: &[String]) -> Vec<(PathBuf, Result<&'static str, String>)> {
    if origins.is_empty() {
        return uninstall(root);
    }
    targets(root)
        .into_iter()
        .filter(|target| target.present(root))
        .map(|target| {
            let result = if target.firefox {
                let existing = std::fs::read(&target.file)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                write_json(&target.file, &firefox_policies(existing, origins))
            } else {
                write_json(&target.file, &chromium_policy(origins))
            };
            (target.file, result.map(|()| "written"))
        })
        .collect()
}

/// Removes what [`install`] wrote under `root` (Firefox: our key only; an emptied
/// `policies.json` of ours goes too).
pub fn uninstall(root: &Path) -> Vec<(PathBuf, Result<&'static str, String>)> {
    targets(root)
        .into_iter()
        .filter_map(|target| {
            if !target.file.exists() {
                return None;
            }
            let result = if target.firefox {
                let existing = std::fs::read(&target.file)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
                if existing
                    .as_ref()
                    .is_some_and(|d| d["policies"].get("LocalNetworkAccess").is_none())
                {
                    return None;
                }
                let left = firefox_policies(existing, &[]);
                if left["policies"]
                    .as_object()
                    .is_some_and(serde_json::Map::is_empty)
                    && left.as_object().is_some_and(|o| o.len() == 1)
                {
                    remove(&target.file)
                } else {
                    write_json(&target.file, &left).map(|()| "removed")
                }
            } else {
                remove(&target.file)
            };
            // The folders the policy made, when nothing else is in them (never the browser's
            // own configuration folder).
            let mut dir = target.file.parent().map(Path::to_path_buf);
            while let Some(d) = dir.filter(|d| *d != target.home && d.starts_with(&target.home)) {
                if std::fs::remove_dir(&d).is_err() {
                    break;
                }
                dir = d.parent().map(Path::to_path_buf);
            }
            Some((target.file, result))
        })
        .collect()
}

/// The registry keys of the Chromium-family browsers' machine policies (Windows).
pub const REGISTRY_KEYS: [&str; 3] = [
    "HKLM\\SOFTWARE\\Policies\\Google\\Chrome",
    "HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge",
    "HKLM\\SOFTWARE\\Policies\\Chromium",
];
/// Firefox's machine policy key for Local Network Access (Windows).
pub const FIREFOX_REGISTRY_KEY: &str =
    "HKLM\\SOFTWARE\\Policies\\Mozilla\\Firefox\\LocalNetworkAccess";

/// The `reg.exe` command lines that write (or, with no origins, delete) the policies on
/// Windows: each list policy a subkey of numbered `REG_SZ` values, as Chrome and Edge read them.
pub fn registry_commands(origins: &[String]) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let delete = |key: &str| vec!["delete".to_string(), key.to_string(), "/f".to_string()];
    for key in REGISTRY_KEYS {
        for policy in CHROMIUM_POLICIES {
            let list = format!("{key}\\{policy}");
            commands.push(delete(&list));
            for (i, origin) in origins.iter().enumerate() {
                commands.push(
                    [
                        "add",
                        &list,
                        "/v",
                        &(i + 1).to_string(),
                        "/t",
                        "REG_SZ",
                        "/d",
                        origin,
                        "/f",
                    ]
                    .map(str::to_string)
                    .to_vec(),
                );
            }
        }
    }
    commands.push(delete(FIREFOX_REGISTRY_KEY));
    if !origins.is_empty() {
        let dword = |name: &str| {
            [
                "add",
                FIREFOX_REGISTRY_KEY,
                "/v",
                name,
                "/t",
                "REG_DWORD",
                "/d",
                "1",
                "/f",
            ]
            .map(str::to_string)
            .to_vec()
        };
        commands.push(dword("Enabled"));
        let skip = format!("{FIREFOX_REGISTRY_KEY}\\SkipDomains");
        for (i, host) in hosts(origins).iter().enumerate() {
            commands.push(
                [
                    "add",
                    &skip,
                    "/v",
                    &(i + 1).to_string(),
                    "/t",
                    "REG_SZ",
                    "/d",
                    host,
                    "/f",
                ]
                .map(str::to_string)
                .to_vec(),
            );
        }
    }
    commands
}

/// Where macOS browsers read machine (mandatory) policies: one plist per browser's domain.
pub const MANAGED_PREFERENCES: &str = "/Library/Managed Preferences";

/// The macOS browsers: name, preference domain, app bundle, Firefox.
const MACOS_BROWSERS: [(&str, &str, &str, bool); 4] = [
    (
        "Google Chrome",
        "com.google.Chrome",
        "/Applications/Google Chrome.app",
        false,
    ),
    (
        "Microsoft Edge",
        "com.microsoft.Edge",
        "/Applications/Microsoft Edge.app",
        false,
    ),
    (
        "Chromium",
        "org.chromium.Chromium",
        "/Applications/Chromium.app",
        false,
    ),
    (
        "Firefox",
        "org.mozilla.firefox",
        "/Applications/Firefox.app",
        true,
    ),
];

/// A macOS browser's managed-preferences plist, when its app is installed under `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlistTarget {
    /// Browser name as users know it.
    pub browser: &'static str,
    /// `/Library/Managed Preferences/<domain>.plist`.
    pub file: PathBuf,
    /// Firefox (its keys at the top level, and `EnterprisePoliciesEnabled`).
    pub firefox: bool,
    /// The app bundle.
    pub app: PathBuf,
}

/// The macOS browsers' policy plists under `root` (`/` on a Mac), installed or not.
pub fn plist_targets(root: &Path) -> Vec<PlistTarget> {
    MACOS_BROWSERS
        .iter()
        .map(|(browser, domain, app, firefox)| PlistTarget {
            browser,
            file: under(root, MANAGED_PREFERENCES).join(format!("{domain}.plist")),
            firefox: *firefox,
            app: under(root, app),
        })
        .collect()
}

/// An empty XML property list: `plutil -replace` edits a file that exists.
pub const EMPTY_PLIST: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict/>\n</plist>\n";

/// The `plutil` argument lists that set (or, with no origins, remove) our keys in a macOS
/// browser's plist. Only our keys are touched; `EnterprisePoliciesEnabled`, which other Firefox
/// policies need as well, is set but never removed.
pub fn plist_commands(target: &PlistTarget, origins: &[String]) -> Vec<Vec<String>> {
    let file = target.file.display().to_string();
    let keys: Vec<(&str, serde_json::Value)> = if target.firefox {
        vec![(
            "LocalNetworkAccess",
            serde_json::json!({"Enabled": true, "SkipDomains": hosts(origins)}),
        )]
    } else {
        CHROMIUM_POLICIES
            .iter()
            .map(|name| (*name, serde_json::json!(origins)))
            .collect()
    };
    let mut commands = Vec::new();
    if origins.is_empty() {
        for (key, _) in keys {
            commands.push(["-remove", key, &file].map(str::to_string).to_vec());
        }
        return commands;
    }
    if target.firefox {
        commands.push(
            [
                "-replace",
                "EnterprisePoliciesEnabled",
                "-bool",
                "YES",
                &file,
            ]
            .map(str::to_string)
            .to_vec(),
        );
    }
    for (key, value) in keys {
        commands.push(
            ["-replace", key, "-json", &value.to_string(), &file]
                .map(str::to_string)
                .to_vec(),
        );
    }
    commands
}

/// The browsers whose machine policies [`registry_commands`] writes on Windows: name, the
/// program whose presence says it is installed, its policy key (Firefox: `None`, it has
/// [`FIREFOX_REGISTRY_KEY`]).
pub const WINDOWS_BROWSERS: [(&str, &str, Option<&str>); 4] = [
    (
        "Google Chrome",
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        Some(REGISTRY_KEYS[0]),
    ),
    (
        "Microsoft Edge",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        Some(REGISTRY_KEYS[1]),
    ),
    (
        "Chromium",
        "C:\\Program Files\\Chromium\\Application\\chrome.exe",
        Some(REGISTRY_KEYS[2]),
    ),
    (
        "Firefox",
        "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
        None,
    ),
];

/// The `REG_SZ` values `reg query KEY` printed (`    1    REG_SZ    https://…`), in order.
pub fn registry_values(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split_once("REG_SZ").map(|(_, value)| value.trim()))
        .filter(|value| !value.is_empty())
        .map(str::to_string)
        .collect()
}

/// A Windows browser's policy as the document [`plist_state`] judges, from the values of its
/// list keys (`list(key)` runs `reg query` on one).
pub fn registry_document(
    policy_key: Option<&str>,
    mut list: impl FnMut(&str) -> Vec<String>,
) -> serde_json::Value {
    match policy_key {
        Some(key) => serde_json::Value::Object(
            CHROMIUM_POLICIES
                .iter()
                .map(|name| {
                    (
                        name.to_string(),
                        serde_json::json!(list(&format!("{key}\\{name}"))),
                    )
                })
                .filter(|(_, values)| values.as_array().is_some_and(|v| !v.is_empty()))
                .collect(),
        ),
        None => {
            let skip = list(&format!("{FIREFOX_REGISTRY_KEY}\\SkipDomains"));
            if skip.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({"LocalNetworkAccess": {"SkipDomains": skip}})
            }
        }
    }
}

/// What a macOS browser's plist (read as JSON, `plutil -convert json`) says of `origins`.
pub fn plist_state(
    document: Option<&serde_json::Value>,
    firefox: bool,
    origins: &[String],
) -> State {
    let Some(document) = document else {
        return State::Missing;
    };
    if firefox {
        let wrapped = serde_json::json!({"policies": document});
        return firefox_state(&wrapped, origins);
    }
    chromium_state(document, origins)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn remove(path: &Path) -> Result<&'static str, String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok("removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok("absent"),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_gets_numbered_values_under_each_browsers_policy_key() {
        let commands = registry_commands(&["https://qlvb.example.gov.vn".to_string()]);
        let joined: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
        assert!(joined.contains(
            &"add HKLM\\SOFTWARE\\Policies\\Google\\Chrome\\LoopbackNetworkAllowedForUrls /v 1 /t REG_SZ /d https://qlvb.example.gov.vn /f"
                .to_string()
        ), "{joined:#?}");
        assert!(joined.iter().any(|c| c.contains("Mozilla\\Firefox\\LocalNetworkAccess\\SkipDomains /v 1 /t REG_SZ /d qlvb.example.gov.vn")));
        // Without origins: only deletions.
        assert!(registry_commands(&[]).iter().all(|c| c[0] == "delete"));
    }

    /// What `plutil -replace KEY -json|-bool V FILE` and `plutil -remove KEY FILE` do to a plist
    /// (as JSON): a model of macOS's tool, which cannot run here, to check what the commands say.
    fn apply_plutil(document: &mut serde_json::Value, command: &[String]) {
        let map = document.as_object_mut().expect("dict");
        match command {
            [op, key, file] if op == "-remove" => {
                assert!(file.ends_with(".plist"));
                map.remove(key);
            }
            [op, key, kind, value, file] if op == "-replace" => {
                assert!(file.starts_with("/Library/Managed Preferences/"));
                let value = match kind.as_str() {
                    "-json" => serde_json::from_str(value).expect("plutil -json takes JSON"),
                    "-bool" => serde_json::Value::Bool(value == "YES"),
                    other => panic!("plutil type {other}"),
                };
                map.insert(key.clone(), value);
            }
            other => panic!("not a plutil edit: {other:?}"),
        }
    }

    #[test]
    fn windows_status_reads_back_what_the_registry_commands_wrote() {
        let origins = vec![
            "https://qlvb.example.gov.vn".to_string(),
            "https://dms.example.gov.vn:8443".to_string(),
        ];
        // The registry as `reg add` leaves it after `registry_commands`, answered as `reg query`
        // prints it.
        let mut registry: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for command in registry_commands(&origins) {
            if command[0] == "add" && command.iter().any(|a| a == "REG_SZ") {
                registry
                    .entry(command[1].clone())
                    .or_default()
                    .push(command[7].clone());
            }
        }
        let query = |key: &str| {
            let mut out = format!("\r\n{key}\r\n");
            for (i, value) in registry.get(key).into_iter().flatten().enumerate() {
                out.push_str(&format!("    {}    REG_SZ    {value}\r\n", i + 1));
            }
            registry_values(&out)
        };
        for (browser, _, key) in WINDOWS_BROWSERS {
            let document = registry_document(key, query);
            assert_eq!(
                plist_state(Some(&document), key.is_none(), &origins),
                State::Covers,
                "{browser}: {document}"
            );
        }
        // Nothing written: missing.
        let empty = |_: &str| Vec::new();
        assert_eq!(
            plist_state(
                Some(&registry_document(Some(REGISTRY_KEYS[0]), empty)),
                false,
                &origins
            ),
            State::Missing
        );
        assert_eq!(
            plist_state(Some(&registry_document(None, empty)), true, &origins),
            State::Missing
        );
        assert_eq!(
            registry_values(
                "ERROR: The system was unable to find the specified registry key or value."
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn macos_plists_get_our_keys_and_lose_only_them() {
        let origins = vec![
            "https://qlvb.example.gov.vn".to_string(),
            "https://dms.example.gov.vn:8443".to_string(),
        ];
        let targets = plist_targets(Path::new("/"));
        assert_eq!(
            targets[0].file,
            Path::new("/Library/Managed Preferences/com.google.Chrome.plist")
        );
        assert_eq!(targets[0].app, Path::new("/Applications/Google Chrome.app"));
        for target in &targets {
            // What the MDM or IT put there stays.
            let mut document = serde_json::json!({"HomepageLocation": "https://intranet"});
            assert_eq!(
                plist_state(Some(&document), target.firefox, &origins),
                State::Missing
            );
            for command in plist_commands(target, &origins) {
                apply_plutil(&mut document, &command);
            }
            assert_eq!(
                plist_state(Some(&document), target.firefox, &origins),
                State::Covers,
                "{}: {document}",
                target.browser
            );
            let more = [origins.clone(), vec!["https://new.example.gov.vn".into()]].concat();
            assert_eq!(
                plist_state(Some(&document), target.firefox, &more),
                State::Stale
            );
            if target.firefox {
                assert_eq!(document["EnterprisePoliciesEnabled"], true);
                assert_eq!(
                    document["LocalNetworkAccess"]["SkipDomains"],
                    serde_json::json!(["dms.example.gov.vn", "qlvb.example.gov.vn"])
                );
            } else {
                assert_eq!(
                    document["LoopbackNetworkAllowedForUrls"],
                    serde_json::json!(origins)
                );
            }
            for command in plist_commands(target, &[]) {
                apply_plutil(&mut document, &command);
            }
            let mut left = serde_json::json!({"HomepageLocation": "https://intranet"});
            if target.firefox {
                left["EnterprisePoliciesEnabled"] = true.into();
            }
            assert_eq!(document, left, "{}", target.browser);
        }
        assert_eq!(plist_state(None, false, &origins), State::Missing);
    }

    #[test]
    fn policies_are_written_for_every_browser_and_removed_without_touching_others() {
        let root = tempfile::tempdir().expect("dir");
        let root = root.path();
        // Firefox is here, with a policy of the agency's own.
        std::fs::create_dir_all(root.join("etc/firefox/policies")).expect("dir");
        std::fs::write(
            root.join("etc/firefox/policies/policies.json"),
            r#"{"policies": {"DisableTelemetry": true}}"#,
        )
        .expect("write");
        std::fs::create_dir_all(root.join("usr/bin")).expect("dir");
        std::fs::write(root.join("usr/bin/chromium"), "").expect("write");
        let origins = vec![
            "https://qlvb.example.gov.vn".to_string(),
            "https://dms.example.gov.vn:8443".to_string(),
        ];
        let written = install(root, &origins);
        assert!(written.iter().all(|(_, r)| r.is_ok()), "{written:?}");
        // Chromium (installed) and Firefox (its folder is there); not Chrome, Edge or ESR.
        assert_eq!(written.len(), 2, "{written:?}");
        let all = targets(root);
        for target in &all {
            let expected = if matches!(target.browser, "Chromium" | "Firefox") {
                State::Covers
            } else {
                State::Missing
            };
            assert_eq!(state(target, &origins), expected, "{}", target.browser);
        }
        assert!(
            !root.join("etc/opt").exists(),
            "a folder made for an absent browser"
        );
        assert!(all[0].installed(root) && !all[1].installed(root));
        let firefox: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("etc/firefox/policies/policies.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(firefox["policies"]["DisableTelemetry"], true);
        assert_eq!(
            firefox["policies"]["LocalNetworkAccess"]["SkipDomains"],
            serde_json::json!(["dms.example.gov.vn", "qlvb.example.gov.vn"])
        );
        // A new origin makes the old policy stale.
        let more = [origins.clone(), vec!["https://new.example.gov.vn".into()]].concat();
        assert_eq!(state(&all[0], &more), State::Stale);
        // Uninstall removes ours and keeps the agency's Firefox policy.
        let removed = uninstall(root);
        assert!(removed.iter().all(|(_, r)| r.is_ok()), "{removed:?}");
        assert!(
            !root.join("etc/chromium/policies").exists(),
            "the folders we made stay"
        );
        let firefox: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("etc/firefox/policies/policies.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(
            firefox,
            serde_json::json!({"policies": {"DisableTelemetry": true}})
        );
    }
}
