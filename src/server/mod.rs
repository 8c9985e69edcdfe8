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
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use routes::{router, AppState};

/// Connections served at once. Far above what a browser and a DMS page use, so that idle
/// connections opened to starve the agent run out of time (the limits below) long before they
/// run out of slots; past it a new connection is closed at once, never queued.
const MAX_CONNECTIONS: usize = 2048;
/// The TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// An HTTP/1 request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in flight is closed after this (HTTP/1 keep-alive, an HTTP/2
/// session a page left open, a TLS connection that never sent a request).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// After a graceful close was asked, the connection is dropped if it has not ended.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// HTTP/2 keep-alive pings: a peer that stops answering is dropped.
const PING_INTERVAL: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The runtime the agent serves on, headless or under the tray: two async workers (one user's
/// browser is served; the blocking work, prompts and token calls, runs off them).
///
/// # Errors
/// The OS refused the runtime's threads or its I/O driver.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Binds `127.0.0.1` and `[::1]` (never any other address) on the first free port of
/// `first .. first + count`: on a terminal server every user runs an agent, and the second one
/// takes the next port of the range (the SDK tries them in order; another user's agent closes
/// the connection). Port 0 lets the system choose.
///
/// # Errors
/// [`Error::PortTaken`] when every port of the range is held by another program.
pub async fn bind(first: u16, count: u16) -> Result<Listeners, Error> {
    let mut last = None;
    for port in (0..count.max(1)).filter_map(|i| first.checked_add(i)) {
        match bind_port(port).await {
            Ok(listeners) => return Ok(listeners),
            Err(e @ Error::PortTaken { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
        if first == 0 {
            break;
        }
    }
    Err(last.unwrap_or(Error::PortTaken {
        port: first,
        source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
    }))
}

async fn bind_port(port: u16) -> Result<Listeners, Error> {
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

    /// Serves until the process ends: HTTPS, and the plain-HTTP probe on the same port
    /// ([`probe`]). `origins` says which sites the probe answers with CORS.
    pub async fn serve(
        self,
        tls: rustls::ServerConfig,
        router: axum::Router,
        origins: Arc<crate::signing::OriginPolicy>,
    ) {
        crate::platform::peer::raise_open_file_limit();
        let serving = Serving {
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            router,
            origins,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
        };
        let mut loops = vec![tokio::spawn(accept_loop(self.v4, serving.clone()))];
        if let Some(v6) = self.v6 {
            loops.push(tokio::spawn(accept_loop(v6, serving)));
        }
        for handle in loops {
            let _ = handle.await;
        }
    }
}

/// Waits before accepting again after an accept error (out of file descriptors, say), doubling
/// up to a second: a failing accept must not spin.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(10))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(1));
    }

    fn reset(&mut self) {
        self.0 = Duration::from_millis(10);
    }
}

/// Accepts a connection if it is a loopback one and a slot is free (whose user it is, is
/// checked next, off the accept loop: [`this_users`]).
async fn admit(
    listener: &TcpListener,
    slots: &Arc<tokio::sync::Semaphore>,
    backoff: &mut Backoff,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let (tcp, peer) = match listener.accept().await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            backoff.wait().await;
            return None;
        }
    };
    backoff.reset();
    if !peer.ip().is_loopback() {
        return None;
    }
    match slots.clone().try_acquire_owned() {
        Ok(slot) => Some((tcp, peer, slot)),
        Err(_) => {
            tracing::warn!(%peer, "connection limit reached: connection closed");
            None
        }
    }
}

/// What every connection of both listeners shares.
#[derive(Clone)]
struct Serving {
    acceptor: TlsAcceptor,
    router: axum::Router,
    origins: Arc<crate::signing::OriginPolicy>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// Whether the connection comes from this process's user; another user's is closed without a
/// byte. The lookup reads a system table, so it runs on a blocking thread.
async fn this_users(tcp: &tokio::net::TcpStream, peer: SocketAddr) -> bool {
    let Ok(local) = tcp.local_addr() else {
        return false;
    };
    let mine = tokio::task::spawn_blocking(move || crate::platform::peer::same_user(peer, local))
        .await
        .unwrap_or(false);
    if !mine {
        tracing::warn!(%peer, "connection from another local user closed");
    }
    mine
}

async fn accept_loop(listener: TcpListener, serving: Serving) {
    let mut backoff = Backoff::new();
    loop {
        let Some((tcp, peer, slot)) = admit(&listener, &serving.slots, &mut backoff).await else {
            continue;
        };
        // Without it the first response on a new connection waits ~40 ms for a delayed ACK.
        let _ = tcp.set_nodelay(true);
        let serving = serving.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if !this_users(&tcp, peer).await {
                return;
            }
            // A TLS connection starts with a handshake record (0x16); anything else is the
            // plain-HTTP probe.
            let mut first = [0u8; 1];
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
                Ok(Ok(1)) if first[0] != 0x16 => return probe(tcp, &serving.origins).await,
                Ok(Ok(1)) => {}
                _ => return,
            }
            let tls =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, serving.acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            serve_connection(tls, serving.router, peer).await;
        });
    }
}

/// Requests in flight on a connection and when the last one ended.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last: std::sync::Mutex<std::time::Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return None;
        }
        self.last.lock().ok().map(|last| last.elapsed())
    }
}

/// Counts a request in flight until its response head is out (a streamed body, the event
/// stream, then keeps its connection busy in hyper, which lets it finish on a graceful close).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last.lock() {
            *last = std::time::Instant::now();
        }
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The two connection kinds hyper serves, closed the same way.
trait GracefulClose: std::future::Future {
    fn close(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulClose for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> GracefulClose for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn close(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Serves one TLS connection with the protocol its ALPN chose (no sniffing that could wait for
/// ever), closing it when it stays idle.
async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    router: axum::Router,
    peer: SocketAddr,
) {
    let http2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity {
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        last: std::sync::Mutex::new(std::time::Instant::now()),
    });
    let tracked = activity.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let busy = InFlight::start(&tracked);
            let router = router.clone();
            async move {
                let response =
                    tower::ServiceExt::oneshot(router, request.map(axum::body::Body::new)).await;
                drop(busy);
                response
            }
        });
    let io = TokioIo::new(tls);
    let ended = if http2 {
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_streams(32)
            .keep_alive_interval(PING_INTERVAL)
            .keep_alive_timeout(PING_TIMEOUT)
            .serve_connection(io, service);
        drive(connection, &activity).await
    } else {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 * 1024)
            .serve_connection(io, service);
        drive(connection, &activity).await
    };
    if let Some(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Runs a connection to its end; asks it to close once idle for [`IDLE_TIMEOUT`] and drops it
/// [`CLOSE_GRACE`] later if it has not closed.
async fn drive<C, E>(connection: C, activity: &Activity) -> Option<E>
where
    C: GracefulClose<Output = Result<(), E>>,
{
    let mut connection = std::pin::pin!(connection);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut closing: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            ended = connection.as_mut() => return ended.err(),
            _ = tick.tick() => match closing {
                Some(asked) if asked.elapsed() >= CLOSE_GRACE => return None,
                Some(_) => {}
                None => {
                    if activity.idle_for().is_some_and(|idle| idle >= IDLE_TIMEOUT) {
                        connection.as_mut().close();
                        closing = Some(std::time::Instant::now());
                    }
                }
            },
        }
    }
}

/// The plain-HTTP probe, on the agent's own port: answers only `GET /probe` with 204 and
/// nothing else, so that a page whose HTTPS request failed can tell "Kyso runs but this browser
/// does not trust its certificate" from "Kyso is not running". It carries no API, no data and no
/// state; every other request gets the connection closed. Only the origins this user's agent
/// serves (the policy's and the user's approved ones) get CORS: any other website cannot read
/// the answer, so cannot learn that Kyso is installed. The connection has passed the same
/// checks as any (loopback, this user, a slot); it gets 2 s.
async fn probe(mut tcp: tokio::net::TcpStream, origins: &crate::signing::OriginPolicy) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = [0u8; 2048];
    let read = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buffer)).await;
    let Ok(Ok(n)) = read else { return };
    let request = &buffer[..n];
    if !request.starts_with(b"GET /probe ") {
        return;
    }
    let cors = probe_origin(request)
        .filter(|origin| {
            matches!(
                origins.standing(origin),
                crate::signing::Standing::Policy | crate::signing::Standing::Approved
            )
        })
        .map(|origin| format!("Access-Control-Allow-Origin: {origin}\r\nVary: Origin\r\n"))
        .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 204 No Content\r\n{cors}Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    );
    let _ = tcp.write_all(answer.as_bytes()).await;
}

/// The `Origin` header of a probe request, parsed.
fn probe_origin(request: &[u8]) -> Option<crate::signing::Origin> {
    let text = std::str::from_utf8(request).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("origin")
            .then(|| crate::signing::Origin::parse(value.trim()).ok())?
    })
}
