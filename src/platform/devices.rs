//! Whether a token a PKCS#11 module serves can be connected right now, asked without loading the
//! module: a hardware token is a USB device, a SoftHSM2 token a folder in its token directory.
//!
//! Loading a vendor module costs memory even with nothing plugged in (OpenSC brings glib, gio
//! and libcrypto: ~5 MiB resident), so the token layer loads a module only while one of its
//! tokens can be present and unloads it when none can. The probes are cheap (a directory walk of
//! sysfs) so that the token layer can ask at every poll and a token plugged in is still seen
//! within one poll interval. A probe that cannot tell answers "may be present": never a token
//! missed for want of a device list.

use std::path::{Path, PathBuf};

/// USB vendors that make the tokens Vietnamese CAs issue, or whose tokens present themselves
/// with a vendor-specific or HID interface rather than the smart-card class (Feitian,
/// SafeNet/Aladdin, Gemalto/Thales, Watchdata, Longmai, Bit4id, ACS, HID Omnikey, SCM,
/// Yubico, Nitrokey).
pub const TOKEN_VENDORS: [u16; 12] = [
    0x096e, 0x0529, 0x08e6, 0x163c, 0x2022, 0x055c, 0x25dd, 0x072f, 0x076b, 0x04e6, 0x1050, 0x20a0,
];

/// The USB interface classes a token can use: smart card (CCID) and vendor-specific.
const TOKEN_CLASSES: [u8; 2] = [0x0b, 0xff];

/// How a module's tokens show up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Cannot tell (a module Kyso does not know, a network HSM): always loaded.
    Always,
    /// A hardware token on USB.
    UsbToken,
    /// SoftHSM2: a token is a folder in the token directory its configuration names.
    SoftHsm,
}

impl Presence {
    /// What a module's file name says of its tokens: SoftHSM2's library, a hardware vendor's
    /// (`hardware`: the registry lists it as a token maker's), or unknown.
    pub fn of_module(path: &Path, hardware: bool) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.contains("softhsm") {
            Presence::SoftHsm
        } else if hardware {
            Presence::UsbToken
        } else {
            Presence::Always
        }
    }

    /// Whether one of the module's tokens may be connected now.
    pub fn may_be_present(&self) -> bool {
        match self {
            Presence::Always => true,
            Presence::UsbToken => usb_token_may_be_present(Path::new("/sys/bus/usb/devices")),
            Presence::SoftHsm => softhsm_tokens_present(&softhsm_config()),
        }
    }
}

/// Whether sysfs's USB device list (`/sys/bus/usb/devices`) shows something that can be a
/// token: an interface of the smart-card or vendor-specific class, a HID interface that is not
/// a boot keyboard or mouse, or a device of a token maker. No USB bus in a readable sysfs (a
/// virtual machine without USB): no. Off Linux, or when sysfs cannot be read: yes.
pub fn usb_token_may_be_present(devices: &Path) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(devices) else {
        // `/sys/bus` readable and no `usb` in it: this machine has no USB at all.
        let bus = devices.parent().and_then(Path::parent);
        return !bus.is_some_and(|bus| {
            bus.join("usb").symlink_metadata().is_err() && std::fs::read_dir(bus).is_ok()
        });
    };
    let hex = |dir: &Path, file: &str| -> Option<u16> {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        u16::from_str_radix(text.trim(), 16).ok()
    };
    // Bounded: a USB bus holds at most 127 devices per controller.
    entries.flatten().take(4096).any(|entry| {
        let dir = entry.path();
        if let Some(class) = hex(&dir, "bInterfaceClass") {
            let class = class as u8;
            let boot_hid = class == 0x03 && hex(&dir, "bInterfaceSubClass") == Some(1);
            return TOKEN_CLASSES.contains(&class) || (class == 0x03 && !boot_hid);
        }
        hex(&dir, "idVendor").is_some_and(|vendor| TOKEN_VENDORS.contains(&vendor))
    })
}

/// SoftHSM2's configuration file: `SOFTHSM2_CONF`, else the system one.
fn softhsm_config() -> PathBuf {
    std::env::var_os("SOFTHSM2_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/softhsm/softhsm2.conf"))
}

/// Whether the token directory that SoftHSM2's configuration names holds a token. Yes when the
/// configuration or the directory cannot be read (SoftHSM itself will say what is wrong).
pub fn softhsm_tokens_present(config: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(config) else {
        return true;
    };
    let directory = text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "directories.tokendir").then(|| value.trim().to_string())
    });
    let Some(directory) = directory else {
        return true;
    };
    match std::fs::read_dir(&directory) {
        Ok(mut entries) => entries.any(|e| e.is_ok_and(|e| e.path().is_dir())),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(root: &Path, name: &str, files: &[(&str, &str)]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        for (file, value) in files {
            std::fs::write(dir.join(file), format!("{value}\n")).expect("write");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_keyboard_and_a_hub_are_no_token_a_smart_card_interface_or_a_token_maker_is() {
        let sys = tempfile::tempdir().expect("dir");
        let root = sys.path();
        device(
            root,
            "usb1",
            &[("idVendor", "1d6b"), ("bDeviceClass", "09")],
        );
        device(root, "1-1", &[("idVendor", "046d")]);
        device(
            root,
            "1-1:1.0",
            &[("bInterfaceClass", "03"), ("bInterfaceSubClass", "01")],
        );
        assert!(!usb_token_may_be_present(root), "keyboard and hub");
        // An ePass2003: a CCID interface.
        device(root, "1-2:1.0", &[("bInterfaceClass", "0b")]);
        assert!(usb_token_may_be_present(root));
        std::fs::remove_dir_all(root.join("1-2:1.0")).expect("rm");
        // A token maker's device, whatever its interfaces say.
        device(root, "1-3", &[("idVendor", "0529")]);
        assert!(usb_token_may_be_present(root));
        std::fs::remove_dir_all(root.join("1-3")).expect("rm");
        // A HID interface that is not a boot keyboard or mouse (some tokens are HID).
        device(
            root,
            "1-4:1.0",
            &[("bInterfaceClass", "03"), ("bInterfaceSubClass", "00")],
        );
        assert!(usb_token_may_be_present(root));
        // A sysfs with buses but no USB bus: no USB token can be there.
        let sys = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(sys.path().join("bus/pci")).expect("dir");
        assert!(!usb_token_may_be_present(
            &sys.path().join("bus/usb/devices")
        ));
        // No sysfs to read at all: cannot tell, so yes.
        assert!(usb_token_may_be_present(
            &sys.path().join("nothing/usb/devices")
        ));
    }

    #[test]
    fn softhsm_has_a_token_when_its_token_directory_holds_one() {
        let dir = tempfile::tempdir().expect("dir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).expect("dir");
        let config = dir.path().join("softhsm2.conf");
        std::fs::write(
            &config,
            format!(
                "# comment\ndirectories.tokendir = {}\nobjectstore.backend = file\n",
                tokens.display()
            ),
        )
        .expect("write");
        assert!(!softhsm_tokens_present(&config));
        std::fs::create_dir_all(tokens.join("a1b2")).expect("dir");
        assert!(softhsm_tokens_present(&config));
        assert!(softhsm_tokens_present(&dir.path().join("missing.conf")));
        assert_eq!(
            Presence::of_module(Path::new("/usr/lib/softhsm/libsofthsm2.so"), true),
            Presence::SoftHsm
        );
        assert_eq!(
            Presence::of_module(Path::new("/usr/lib/opensc-pkcs11.so"), true),
            Presence::UsbToken
        );
        assert_eq!(
            Presence::of_module(Path::new("/opt/hsm/libcloudhsm.so"), false),
            Presence::Always
        );
    }
}
