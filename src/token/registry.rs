//! The built-in registry of PKCS#11 modules that Vietnamese agencies' tokens ship with, per OS,
//! so that a workstation works without configuration. Names come from integrators' code and the
//! vendors' installers (research/peers.md §6.4); a module that is not installed is skipped.

use std::path::{Path, PathBuf};

/// A vendor's module, by file name per OS.
pub struct KnownModule {
    /// Who ships it.
    pub vendor: &'static str,
    /// Windows DLL names (searched in System32 and SysWOW64).
    pub windows: &'static [&'static str],
    /// Linux shared objects (searched in the usual library folders).
    pub linux: &'static [&'static str],
    /// macOS dylibs.
    pub macos: &'static [&'static str],
}

/// The registry. SoftHSM2 is listed so the demo token works out of the box; policy can turn
/// discovery off (`discover_modules = false`) and list modules explicitly.
pub const KNOWN_MODULES: &[KnownModule] = &[
    KnownModule {
        vendor: "Feitian ePass2003",
        windows: &["eps2003csp11.dll", "eps2003csp11v2.dll"],
        linux: &["libeps2003csp11.so", "libcastle.so.1.0.0"],
        macos: &["libeps2003csp11.dylib", "libcastle.1.0.0.dylib"],
    },
    KnownModule {
        vendor: "SafeNet eToken",
        windows: &["eTPKCS11.dll"],
        linux: &["libeTPkcs11.so", "libeToken.so"],
        macos: &["libeTPkcs11.dylib"],
    },
    KnownModule {
        vendor: "VGCA / Ban Cơ yếu Chính phủ",
        windows: &["vgca_csp11.dll", "BkavCA.dll"],
        linux: &["libvgca_csp11.so"],
        macos: &["libvgca_csp11.dylib"],
    },
    KnownModule {
        vendor: "VNPT-CA",
        windows: &[
            "vnpt-ca_csp11.dll",
            "vnptca_p11_v10.dll",
            "vnptca_p11_v8.dll",
            "vnptca_p11_v6.dll",
            "VNPT-CA_v34.dll",
            "vnpt-ca_cl_v1.dll",
        ],
        linux: &["libvnpt-ca_csp11.so", "libvnptca_p11.so"],
        macos: &["libvnpt-ca_csp11.dylib"],
    },
    KnownModule {
        vendor: "Viettel-CA",
        windows: &[
            "viettel-ca_v6.dll",
            "viettel-ca_v5.dll",
            "viettel-ca_v4.dll",
            "viettel-ca_v3.dll",
            "viettel-ca_v2_s.x64.dll",
            "viettel-ca_v2.dll",
            "viettel-ca_v1.dll",
            "viettel-ca.dll",
        ],
        linux: &["libviettel-ca.so", "libviettel-ca_v6.so"],
        macos: &["libviettel-ca.dylib"],
    },
    KnownModule {
        vendor: "BkavCA",
        windows: &["BkavCAv2S.dll", "BkavCA.dll", "st3csp11.dll"],
        linux: &["libBkavCA.so", "libst3csp11.so"],
        macos: &["libBkavCA.dylib"],
    },
    KnownModule {
        vendor: "FPT-CA",
        windows: &[
            "fpt-ca_v5.dll",
            "fpt-ca_v4.dll",
            "fpt-ca.dll",
            "SignatureP11.dll",
        ],
        linux: &["libfpt-ca.so"],
        macos: &["libfpt-ca.dylib"],
    },
    KnownModule {
        vendor: "CA2 / Nacencomm",
        windows: &[
            "CA2_csp11.dll",
            "CA2_v34.dll",
            "ShuttleCsp11_3003.dll",
            "ncca_csp11_v1.dll",
        ],
        linux: &["libCA2_csp11.so", "libshuttle_p11v220.so"],
        macos: &["libCA2_csp11.dylib"],
    },
    KnownModule {
        vendor: "SafeCert / Safe-CA",
        windows: &["safe-ca.dll", "Safe-ca_v2.dll", "Safe-ca_v1.dll"],
        linux: &["libsafe-ca.so"],
        macos: &["libsafe-ca.dylib"],
    },
    KnownModule {
        vendor: "Other Vietnamese CAs (Vina-CA, FastCA, eCA, WatchData, Gemalto)",
        windows: &[
            "Vina-CA.dll",
            "fca_v1.dll",
            "eca_csp11_v1.dll",
            "wdpkcs.dll",
            "gclib.dll",
            "ngp11v211.dll",
            "ostc1_csp11.dll",
            "U1000AUTO.dll",
            "psapkcs.dll",
        ],
        linux: &["libwdpkcs.so", "libgclib.so"],
        macos: &["libwdpkcs.dylib"],
    },
    KnownModule {
        vendor: "OpenSC (ePass2003 and other smart cards)",
        windows: &["opensc-pkcs11.dll"],
        linux: &["opensc-pkcs11.so"],
        macos: &["opensc-pkcs11.so"],
    },
    KnownModule {
        vendor: "SoftHSM2 (demo and tests)",
        windows: &["softhsm2-x64.dll", "softhsm2.dll"],
        linux: &["libsofthsm2.so"],
        macos: &["libsofthsm2.so"],
    },
];

/// Folders searched for the registry's file names on this OS.
pub fn search_dirs() -> Vec<PathBuf> {
    if cfg!(target_os = "windows") {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        let root = PathBuf::from(root);
        vec![root.join("System32"), root.join("SysWOW64")]
    } else if cfg!(target_os = "macos") {
        [
            "/usr/local/lib",
            "/opt/homebrew/lib",
            "/Library/OpenSC/lib",
            "/usr/lib",
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    } else {
        [
            "/usr/lib",
            "/usr/local/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib/softhsm",
            "/usr/lib/x86_64-linux-gnu/softhsm",
            "/usr/lib/x86_64-linux-gnu/pkcs11",
            "/usr/lib/pkcs11",
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    }
}

/// The known module names for this OS.
fn names(module: &KnownModule) -> &'static [&'static str] {
    if cfg!(target_os = "windows") {
        module.windows
    } else if cfg!(target_os = "macos") {
        module.macos
    } else {
        module.linux
    }
}

/// Modules of the registry installed on this machine: `(vendor, path)`, one path per vendor
/// file name (the first folder that has it).
pub fn discover(dirs: &[PathBuf]) -> Vec<(&'static str, PathBuf)> {
    let mut found: Vec<(&'static str, PathBuf)> = Vec::new();
    for module in KNOWN_MODULES {
        for name in names(module) {
            if let Some(path) = dirs.iter().map(|d| d.join(name)).find(|p| is_file(p)) {
                let canonical = std::fs::canonicalize(&path).unwrap_or(path);
                if !found.iter().any(|(_, p)| *p == canonical) {
                    found.push((module.vendor, canonical));
                }
            }
        }
    }
    found
}

/// Whether `path` names a module of the registry (any OS's name for it).
pub fn is_known(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    KNOWN_MODULES.iter().any(|m| {
        m.windows
            .iter()
            .chain(m.linux)
            .chain(m.macos)
            .any(|known| known.eq_ignore_ascii_case(name))
    })
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_finds_a_known_name_once_and_ignores_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = names(&KNOWN_MODULES[0])[0];
        std::fs::write(dir.path().join(name), b"not really a module").expect("write");
        std::fs::write(dir.path().join("libunrelated.so"), b"x").expect("write");
        let dirs = vec![dir.path().to_path_buf(), dir.path().to_path_buf()];
        let found = discover(&dirs);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, KNOWN_MODULES[0].vendor);
    }
}
