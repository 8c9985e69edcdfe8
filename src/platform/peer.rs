//! Who is on the other end of a loopback connection, and the process's open-file limit.
//!
//! Every local account can reach 127.0.0.1. The agent serves only its own user: before TLS it
//! looks up the account owning the connecting socket and closes the connection without a byte
//! when it is another one (another user could otherwise forge an allowed `Origin` and have this
//! user's PIN sign their digest, or read the certificates). Linux reads the socket's owner from
//! `/proc/net/tcp` and `tcp6` (the row whose local address is the client's and remote address
//! ours). Windows reads the owning process from `GetExtendedTcpTable` (the row whose local
//! address is the client's), opens that process's token and compares its user SID with ours;
//! a process it may not open (another user's) fails closed. macOS has no table a user may read
//! for every socket; there the agent asks `lsof` for this user's processes only whether one of
//! them holds the client's end (anyone else's is not listed: fails closed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether the client at `client`, connected to our `server` address, runs as this process's
/// user. Fails closed on Linux: a socket whose owner cannot be found is another user's.
pub fn same_user(client: SocketAddr, server: SocketAddr) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt as _;
        let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
            return false;
        };
        let table = match client {
            SocketAddr::V4(_) => "/proc/net/tcp",
            SocketAddr::V6(_) => "/proc/net/tcp6",
        };
        // Read line by line up to the row: the table grows with every open connection.
        use std::io::BufRead as _;
        let owner = std::fs::File::open(table).ok().and_then(|file| {
            owner_in_rows(
                std::io::BufReader::new(file).lines().map_while(Result::ok),
                client,
                server,
            )
        });
        owner == Some(me)
    }
    #[cfg(windows)]
    {
        windows::same_user(client, server)
    }
    #[cfg(target_os = "macos")]
    {
        // SAFETY: getuid has no preconditions.
        #[allow(unsafe_code)]
        let uid = unsafe { libc::getuid() };
        std::process::Command::new("/usr/sbin/lsof")
            .args(["-nP", "-a", "-u", &uid.to_string()])
            .arg(format!("-iTCP:{}", client.port()))
            .args(["-sTCP:ESTABLISHED", "-Fn"])
            .output()
            .is_ok_and(|out| {
                client_end_in_lsof(&String::from_utf8_lossy(&out.stdout), client, server)
            })
    }
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    {
        let _ = (client, server);
        true
    }
}

/// Whether `lsof -F n` output (one `n<local>-><remote>` line per socket of the processes it was
/// asked about) lists the client's end of the connection: local `client`, remote `server`. Our
/// own end (local `server`) does not count.
pub fn client_end_in_lsof(output: &str, client: SocketAddr, server: SocketAddr) -> bool {
    output.lines().any(|line| {
        line.strip_prefix('n')
            .and_then(|name| name.split_once("->"))
            .is_some_and(|(local, remote)| {
                local.parse::<SocketAddr>().ok() == Some(client)
                    && remote.parse::<SocketAddr>().ok() == Some(server)
            })
    })
}

/// The owning PID of the connection from `local` to `remote` in a Windows TCP table as
/// `GetExtendedTcpTable(…, TCP_TABLE_OWNER_PID_CONNECTIONS)` fills it: `dwNumEntries`, then
/// `MIB_TCPROW_OWNER_PID` rows (24 bytes: state, local address, local port, remote address,
/// remote port, PID) or, for IPv6, `MIB_TCP6ROW_OWNER_PID` rows (56 bytes: local address,
/// scope, port, remote address, scope, port, state, PID). Addresses in network order, ports in
/// network order in the low 16 bits, other words little-endian. Every offset is checked against
/// the buffer: a short or lying table gives `None`.
pub fn owner_pid_in_windows_table(
    table: &[u8],
    ipv6: bool,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<u32> {
    let word = |at: usize| -> Option<u32> {
        let bytes = table.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    };
    let port = |at: usize| -> Option<u16> {
        let bytes = table.get(at..at.checked_add(2)?)?;
        Some(u16::from_be_bytes(bytes.try_into().ok()?))
    };
    let address = |at: usize| -> Option<IpAddr> {
        if ipv6 {
            let bytes: [u8; 16] = table.get(at..at.checked_add(16)?)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        } else {
            let bytes: [u8; 4] = table.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(bytes)))
        }
    };
    let row_size = if ipv6 { 56 } else { 24 };
    // No more rows than the buffer can hold, whatever the count says.
    let entries = usize::try_from(word(0)?).ok()?.min(table.len() / row_size);
    // (local address, local port, remote address, remote port, PID) offsets in a row.
    let fields = if ipv6 {
        (0, 20, 24, 44, 52)
    } else {
        (4, 8, 12, 16, 20)
    };
    (0..entries).find_map(|i| {
        let row = 4usize.checked_add(i.checked_mul(row_size)?)?;
        let at = |offset: usize| row.checked_add(offset);
        let row_local = SocketAddr::new(address(at(fields.0)?)?, port(at(fields.1)?)?);
        let row_remote = SocketAddr::new(address(at(fields.2)?)?, port(at(fields.3)?)?);
        (row_local == local && row_remote == remote).then(|| word(at(fields.4)?))?
    })
}

/// Windows: the owning process of the client's socket, and its user against ours. Thin FFI; the
/// table's reading is [`owner_pid_in_windows_table`], tested on every system.
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows {
    use std::net::SocketAddr;

    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_INSUFFICIENT_BUFFER, HANDLE, NO_ERROR,
    };
    use windows_sys::Win32::NetworkManagement::IpHelper::{
        GetExtendedTcpTable, TCP_TABLE_OWNER_PID_CONNECTIONS,
    };
    use windows_sys::Win32::Security::{
        EqualSid, GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentProcessId, OpenProcess, OpenProcessToken,
        PROCESS_QUERY_LIMITED_INFORMATION,
    };

    const AF_INET: u32 = 2;
    const AF_INET6: u32 = 23;

    pub(super) fn same_user(client: SocketAddr, server: SocketAddr) -> bool {
        let ipv6 = client.is_ipv6();
        let Some(table) = tcp_table(if ipv6 { AF_INET6 } else { AF_INET }) else {
            return false;
        };
        let Some(pid) = super::owner_pid_in_windows_table(&table, ipv6, client, server) else {
            return false;
        };
        // SAFETY: a plain query of this process's id.
        if pid == unsafe { GetCurrentProcessId() } {
            return true;
        }
        // SAFETY: OpenProcess returns a handle we close, or null; the pseudo-handle of the
        // current process needs no closing.
        let other = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if other.is_null() {
            return false;
        }
        let theirs = token_user(other);
        // SAFETY: `other` is the handle opened above.
        unsafe { CloseHandle(other) };
        let ours = token_user(unsafe { GetCurrentProcess() });
        match (theirs, ours) {
            (Some(theirs), Some(ours)) => {
                let (a, b) = (
                    theirs.as_ptr().cast::<TOKEN_USER>(),
                    ours.as_ptr().cast::<TOKEN_USER>(),
                );
                // SAFETY: both buffers hold a TOKEN_USER that GetTokenInformation filled, its
                // SID inside the same buffer, alive for the call.
                unsafe { EqualSid((*a).User.Sid, (*b).User.Sid) != 0 }
            }
            _ => false,
        }
    }

    /// The TCP connection table with owning PIDs, as bytes (the table grows between the size
    /// query and the read, hence the retries with room to spare).
    fn tcp_table(family: u32) -> Option<Vec<u8>> {
        let mut size: u32 = 0;
        for _ in 0..4 {
            let mut buffer = vec![0u8; size as usize];
            let pointer = if buffer.is_empty() {
                std::ptr::null_mut()
            } else {
                buffer.as_mut_ptr().cast()
            };
            // SAFETY: `pointer` is null or `size` writable bytes; the call writes at most `size`
            // bytes and sets `size` to what it needs.
            let rc = unsafe {
                GetExtendedTcpTable(
                    pointer,
                    &mut size,
                    0,
                    family,
                    TCP_TABLE_OWNER_PID_CONNECTIONS,
                    0,
                )
            };
            if rc == NO_ERROR && !buffer.is_empty() {
                return Some(buffer);
            }
            if rc != ERROR_INSUFFICIENT_BUFFER && rc != NO_ERROR {
                return None;
            }
            size = size.saturating_add(4096);
        }
        None
    }

    /// The `TOKEN_USER` of a process, in a buffer aligned for it.
    fn token_user(process: HANDLE) -> Option<Vec<u64>> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: `token` receives a handle we close below.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return None;
        }
        let mut length: u32 = 0;
        // SAFETY: a size query (null buffer, zero length).
        unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut length) };
        let mut buffer = vec![0u64; (length as usize).div_ceil(8).max(1)];
        // SAFETY: `buffer` has at least `length` writable bytes, 8-aligned.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                length,
                &mut length,
            )
        };
        // SAFETY: `token` was opened above.
        unsafe { CloseHandle(token) };
        (ok != 0).then_some(buffer)
    }
}

/// The uid of the socket at `local` connected to `remote`, from a `/proc/net/tcp{,6}` table.
pub fn owner_in_table(text: &str, local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    owner_in_rows(text.lines(), local, remote)
}

/// [`owner_in_table`] over the table's lines, stopping at the row.
fn owner_in_rows(
    lines: impl Iterator<Item = impl AsRef<str>>,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<u32> {
    lines.skip(1).find_map(|line| {
        let fields: Vec<&str> = line.as_ref().split_whitespace().collect();
        let (l, r, uid) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
        (parse_address(l)? == local && parse_address(r)? == remote).then(|| uid.parse().ok())?
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): each 32-bit word as the kernel
/// printed it, in host byte order.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..address.len() / 8)
        .map(|i| u32::from_str_radix(address.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let ip = match (address.len(), words.as_slice()) {
        (8, [word]) => IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes())),
        (32, [a, b, c, d]) => {
            let mut bytes = [0u8; 16];
            for (i, word) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Raises the soft open-file limit to the hard one (at most 65536): a burst of connections must
/// meet the agent's own connection limit, never the process's.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the one struct given, which lives here.
        #[allow(unsafe_code)]
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return;
            }
            let wanted = limit.rlim_max.min(65_536);
            if limit.rlim_cur < wanted {
                limit.rlim_cur = wanted;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    tracing::warn!("the open-file limit could not be raised");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_read_from_the_row_of_the_clients_socket() {
        // Two connections to 127.0.0.1:47400 (0xB928): uid 1000's from port 50000 (0xC350),
        // uid 1001's from port 50001; and the listening socket itself.
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B928 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 0100007F:C350 0100007F:B928 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1
   2: 0100007F:C351 0100007F:B928 01 00000000:00000000 00:00000000 00000000  1001        0 3 1 0 20 4 30 10 -1
   3: 0100007F:B928 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4 1 0 20 4 30 10 -1";
        let server: SocketAddr = "127.0.0.1:47400".parse().expect("addr");
        let a: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:50001".parse().expect("addr");
        let unknown: SocketAddr = "127.0.0.1:50002".parse().expect("addr");
        assert_eq!(owner_in_table(v4, a, server), Some(1000));
        assert_eq!(owner_in_table(v4, b, server), Some(1001));
        assert_eq!(owner_in_table(v4, unknown, server), None);
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C350 00000000000000000000000001000000:B928 01 00000000:00000000 00:00000000 00000000   1002        0 5 1 0 20 4 30 10 -1";
        let server6: SocketAddr = "[::1]:47400".parse().expect("addr");
        let client6: SocketAddr = "[::1]:50000".parse().expect("addr");
        assert_eq!(owner_in_table(v6, client6, server6), Some(1002));
        assert_eq!(
            owner_in_table("garbage\nlines here", client6, server6),
            None
        );
    }

    #[test]
    fn lsof_lists_the_client_end_only_for_this_users_processes() {
        let server: SocketAddr = "127.0.0.1:47400".parse().expect("addr");
        let client: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        // The browser's socket (this user's): listed.
        let browser = "p812\nf23\nn127.0.0.1:50000->127.0.0.1:47400\n";
        assert!(client_end_in_lsof(browser, client, server));
        // Only the agent's own end is listed (the client is another user's process): refused.
        let ours = "p4242\nf9\nn127.0.0.1:47400->127.0.0.1:50000\n";
        assert!(!client_end_in_lsof(ours, client, server));
        assert!(!client_end_in_lsof("", client, server));
        assert!(!client_end_in_lsof(
            "n127.0.0.1:50000->127.0.0.1:47401\n",
            client,
            server
        ));
        let server6: SocketAddr = "[::1]:47400".parse().expect("addr");
        let client6: SocketAddr = "[::1]:50000".parse().expect("addr");
        assert!(client_end_in_lsof(
            "p1\nn[::1]:50000->[::1]:47400\n",
            client6,
            server6
        ));
        assert!(!client_end_in_lsof(
            "nnot an address\nn->\n",
            client6,
            server6
        ));
    }

    #[test]
    fn the_owning_pid_is_read_from_a_windows_tcp_table() {
        fn v4_row(local: SocketAddr, remote: SocketAddr, pid: u32) -> Vec<u8> {
            let (SocketAddr::V4(l), SocketAddr::V4(r)) = (local, remote) else {
                panic!("v4")
            };
            let mut row = 5u32.to_le_bytes().to_vec(); // ESTABLISHED
            row.extend(l.ip().octets());
            row.extend(l.port().to_be_bytes());
            row.extend([0, 0]);
            row.extend(r.ip().octets());
            row.extend(r.port().to_be_bytes());
            row.extend([0, 0]);
            row.extend(pid.to_le_bytes());
            row
        }
        let server: SocketAddr = "127.0.0.1:47400".parse().expect("addr");
        let a: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:50001".parse().expect("addr");
        let mut table = 3u32.to_le_bytes().to_vec();
        table.extend(v4_row(server, a, 4242)); // the agent's own end
        table.extend(v4_row(a, server, 1111));
        table.extend(v4_row(b, server, 2222));
        assert_eq!(
            owner_pid_in_windows_table(&table, false, a, server),
            Some(1111)
        );
        assert_eq!(
            owner_pid_in_windows_table(&table, false, b, server),
            Some(2222)
        );
        assert_eq!(owner_pid_in_windows_table(&table, false, server, b), None);
        // A table that claims more rows than it holds, or is cut short, is read no further.
        let mut lying = table.clone();
        lying[..4].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert_eq!(
            owner_pid_in_windows_table(&lying, false, b, server),
            Some(2222)
        );
        let unknown: SocketAddr = "127.0.0.1:50002".parse().expect("addr");
        assert_eq!(
            owner_pid_in_windows_table(&lying, false, unknown, server),
            None
        );
        assert_eq!(
            owner_pid_in_windows_table(&table[..60], false, b, server),
            None
        );
        assert_eq!(owner_pid_in_windows_table(&[1, 0], false, b, server), None);
        // IPv6 rows: address, scope, port, address, scope, port, state, PID.
        let server6: SocketAddr = "[::1]:47400".parse().expect("addr");
        let client6: SocketAddr = "[::1]:50000".parse().expect("addr");
        let mut table6 = 1u32.to_le_bytes().to_vec();
        for (addr, port) in [(client6, 50000u16), (server6, 47400)] {
            let SocketAddr::V6(v6) = addr else {
                panic!("v6")
            };
            table6.extend(v6.ip().octets());
            table6.extend(0u32.to_le_bytes());
            table6.extend(port.to_be_bytes());
            table6.extend([0, 0]);
        }
        table6.extend(5u32.to_le_bytes());
        table6.extend(3333u32.to_le_bytes());
        assert_eq!(table6.len(), 4 + 56);
        assert_eq!(
            owner_pid_in_windows_table(&table6, true, client6, server6),
            Some(3333)
        );
        assert_eq!(
            owner_pid_in_windows_table(&table6, true, server6, client6),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_from_this_process_is_this_users() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = listener.local_addr().expect("addr");
        let client = std::net::TcpStream::connect(server).expect("connect");
        let (_, peer) = listener.accept().expect("accept");
        assert_eq!(peer, client.local_addr().expect("addr"));
        assert!(same_user(peer, server));
    }
}
