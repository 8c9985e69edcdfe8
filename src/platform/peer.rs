//! Who is on the other end of a loopback connection, and the process's open-file limit.
//!
//! Every local account can reach 127.0.0.1. The agent serves only its own user: before TLS it
//! looks up the account owning the connecting socket and closes the connection without a byte
//! when it is another one (another user could otherwise forge an allowed `Origin` and have this
//! user's PIN sign their digest, or read the certificates). Linux reads the socket's owner from
//! `/proc/net/tcp` and `tcp6` (the row whose local address is the client's and remote address
//! ours). Other systems have no such table here yet and let the connection through (the
//! Windows way is `GetExtendedTcpTable`'s owning PID and that process's token; macOS's
//! `proc_pidinfo`): see the README's notes on shared machines.

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
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (client, server);
        true
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
