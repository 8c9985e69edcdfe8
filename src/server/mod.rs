//! The HTTPS server on loopback: a hand-rolled accept loop (loopback peers only, `TCP_NODELAY`,
//! bounded connections, TLS handshake timeout) in front of the axum routes in [`routes`].
//! The only module that imports axum, hyper and tokio-rustls.

pub(crate) mod routes;
#[cfg(test)]
mod routes_tests;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use routes::{router, AppState};

/// Most connections served at once; more wait for a slot.
const MAX_CONNECTIONS: usize = 64;

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The port is taken by another program (never silently replaced by another port).
    #[error("cổng {port} đã bị chương trình khác dùng / port {port} is used by another program ({source})")]
    PortTaken {
        /// The port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other socket error.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The bound listeners, ready to serve.
pub struct Listeners {
    /// The port (the configured one, or the one the OS chose for port 0).
    pub port: u16,
    v4: TcpListener,
    v6: Option<TcpListener>,
}

/// Binds `127.0.0.1:port` and `[::1]:port` (never any other address).
///
/// # Errors
/// [`Error::PortTaken`] when another program holds the port.
pub async fn bind(port: u16) -> Result<Listeners, Error> {
    let bind_error = |addr: SocketAddr, port: u16, source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::PortTaken { port, source }
        } else {
            Error::Bind { addr, source }
        }
    };
    let v4_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v4 = TcpListener::bind(v4_addr)
        .await
        .map_err(|e| bind_error(v4_addr, port, e))?;
    let port = v4.local_addr().map(|a| a.port()).unwrap_or(port);
    let v6_addr = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let v6 = match TcpListener::bind(v6_addr).await {
        Ok(listener) => Some(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(Error::PortTaken { port, source: e })
        }
        Err(e) => {
            tracing::warn!(error = %e, "IPv6 loopback unavailable; serving 127.0.0.1 only");
            None
        }
    };
    Ok(Listeners { port, v4, v6 })
}

impl Listeners {
    /// The URLs served.
    pub fn urls(&self) -> Vec<String> {
        let mut urls = vec![format!("https://127.0.0.1:{}", self.port)];
        if self.v6.is_some() {
            urls.push(format!("https://[::1]:{}", self.port));
        }
        urls
    }

    /// Serves until the process ends.
    pub async fn serve(self, tls: rustls::ServerConfig, router: axum::Router) {
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut loops = vec![tokio::spawn(accept_loop(
            self.v4,
            acceptor.clone(),
            router.clone(),
            slots.clone(),
        ))];
        if let Some(v6) = self.v6 {
            loops.push(tokio::spawn(accept_loop(v6, acceptor, router, slots)));
        }
        for handle in loops {
            let _ = handle.await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: axum::Router,
    slots: Arc<tokio::sync::Semaphore>,
) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !peer.ip().is_loopback() {
            continue;
        }
        // Without it the first response on a new connection waits ~40 ms for a delayed ACK.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024);
            builder.http2().max_concurrent_streams(32);
            let service = TowerToHyperService::new(router);
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// The plain-HTTP probe on `port + 1`: answers only `GET /probe` with 204 and nothing else, so
/// that a page whose HTTPS request failed can tell "Kyso runs but this browser does not trust
/// its certificate" from "Kyso is not running". It carries no API, no data and no state; every
/// other request gets the connection closed.
pub async fn serve_probe(port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(probe_port) = port.checked_add(1) else {
        return;
    };
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, probe_port)))
        .await
    {
        Ok(listener) => listener,
        Err(e) => {
            tracing::info!(error = %e, probe_port, "probe port unavailable; pages cannot tell an untrusted certificate from a stopped agent");
            return;
        }
    };
    loop {
        let Ok((mut tcp, peer)) = listener.accept().await else {
            continue;
        };
        if !peer.ip().is_loopback() {
            continue;
        }
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            let read = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buffer)).await;
            let Ok(Ok(n)) = read else { return };
            if buffer[..n].starts_with(b"GET /probe ") {
                let _ = tcp
                    .write_all(b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
                    .await;
            }
        });
    }
}
