//! The agent's own files: its data folder is the user's alone (0700 on Unix) and so is every
//! file in it (0600): the local CA, the approved sites, the log, the language choice. Another
//! account on the machine reads none of them. (Windows gives a user's profile folders to that
//! user already.)

use std::io::Write as _;
use std::path::Path;

/// Creates `path` (and its parents) and makes it the user's alone.
///
/// # Errors
/// The folder cannot be made or its mode set.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Makes an existing file the user's alone (a file made before this rule).
fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `data` to `path`, readable and writable by the user only.
///
/// # Errors
/// I/O.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(data)?;
    restrict(path)
}

/// Opens `path` for appending (the log), readable and writable by the user only.
///
/// # Errors
/// I/O.
pub fn append_private(path: &Path) -> std::io::Result<std::fs::File> {
    let file = options().create(true).append(true).open(path)?;
    restrict(path)?;
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_folder_and_its_files_are_the_users_alone() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("data");
        private_dir(&dir).expect("dir");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("approved-origins.toml");
        std::fs::write(&file, "old").expect("write");
        write_private(&file, b"new").expect("write");
        assert_eq!(mode(&file), 0o600);
        let log = dir.join("kyso.log");
        drop(append_private(&log).expect("log"));
        assert_eq!(mode(&log), 0o600);
    }
}
