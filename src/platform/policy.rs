//! The policy IT sets outside the policy file: on Windows, the values the MSI or Group Policy
//! writes under `HKLM\SOFTWARE\Policies\Kyso` (layout in `installer/windows/README.md`). Other
//! systems have only the file (`config::policy_path`).

/// The registry key the MSI and the ADMX template write.
pub const REGISTRY_KEY: &str = "SOFTWARE\\Policies\\Kyso";

/// Reads one `REG_SZ` value of [`REGISTRY_KEY`] in `HKLM`; `None` when absent (or not Windows).
#[cfg(windows)]
pub fn registry_value(name: &str) -> Option<String> {
    use windows_sys::Win32::System::Registry::{RegGetValueW, HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ};
    let key: Vec<u16> = REGISTRY_KEY.encode_utf16().chain(Some(0)).collect();
    let value: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
    let mut size: u32 = 0;
    // SAFETY: both names are NUL-terminated UTF-16; a null data pointer asks for the size only.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut size,
        )
    };
    if status != 0 || size == 0 {
        return None;
    }
    let mut buffer = vec![0u16; (size as usize).div_ceil(2)];
    let mut size = (buffer.len() * 2) as u32;
    // SAFETY: `buffer` holds `size` bytes, as RegGetValueW was told.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            buffer.as_mut_ptr().cast(),
            &mut size,
        )
    };
    if status != 0 {
        return None;
    }
    let end = buffer.iter().position(|c| *c == 0).unwrap_or(buffer.len());
    Some(String::from_utf16_lossy(&buffer[..end]))
}

/// Not Windows: no registry.
#[cfg(not(windows))]
pub fn registry_value(_name: &str) -> Option<String> {
    None
}
