//! The agent's resident memory as the system counts it.
//!
//! Since Linux 6.18 a fault on a file mapping maps the whole page-cache folio around the page.
//! Whoever reads the executable through (a copy, a checksum, a package check) leaves it cached
//! in large folios, and each page the agent then touches brings the rest of its folio into its
//! resident set: `kyso serve`'s own pages went from 4.8–5.0 MiB to 7.0–8.9 MiB on this
//! project's VMs, and its idle RSS past 16 MiB (issue 19). Released once at start, the cached
//! pages come back from disk as the agent touches them, in the small folios of its own faults.

/// Drops the cached pages of this process's executable that no process maps (pages in use
/// stay, other processes' included). Only for the long-running commands: a short one would
/// read back what it releases. Best effort: a failure costs memory, not function.
pub fn release_cached_executable() {
    #[cfg(target_os = "linux")]
    if let Err(e) = std::fs::File::open("/proc/self/exe").and_then(|exe| release_cached(&exe)) {
        tracing::debug!(error = %e, "the executable's cached pages were not released");
    }
}

/// `POSIX_FADV_DONTNEED` over the whole file.
#[cfg(target_os = "linux")]
fn release_cached(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise reads the descriptor only; `file` keeps it open for the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    match rc {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;

    /// Pages of `file` in the page cache (`mincore` over a read-only mapping).
    #[allow(unsafe_code)]
    fn cached_pages(file: &std::fs::File, len: usize) -> usize {
        use std::os::fd::AsRawFd;
        // SAFETY: sysconf reads a constant of the system.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let mut resident = vec![0u8; len.div_ceil(page)];
        // SAFETY: a fresh read-only shared mapping of `len` bytes of an open file, unmapped
        // below; mincore writes one byte per page into `resident`, which has that many.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED, "mmap");
            assert_eq!(libc::mincore(map, len, resident.as_mut_ptr()), 0, "mincore");
            libc::munmap(map, len);
        }
        resident.iter().filter(|&&b| b & 1 == 1).count()
    }

    #[test]
    fn a_file_read_through_leaves_the_cache_when_released() {
        // On disk (under target/), not tmpfs, where pages cannot be dropped.
        let dir =
            tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).expect("temp dir");
        let path = dir.path().join("image");
        let len = 4 << 20;
        let mut file = std::fs::File::create(&path).expect("create");
        file.write_all(&vec![0x5a; len]).expect("write");
        // Dirty pages are not dropped: written back first.
        file.sync_all().expect("sync");
        let mut file = std::fs::File::open(&path).expect("open");
        std::io::copy(&mut file, &mut std::io::sink()).expect("read");
        let before = cached_pages(&file, len);
        assert!(before > len / 65536, "read through: {before} pages cached");
        super::release_cached(&file).expect("fadvise");
        let after = cached_pages(&file, len);
        assert!(
            after < before / 8,
            "{before} pages cached before, {after} after"
        );
    }
}
