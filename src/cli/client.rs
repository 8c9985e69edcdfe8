//! A minimal HTTPS client for the agent's own API, trusting only the agent's CA: `kyso status`
//! asks the running agent, and the benchmark measures round trips on one kept-alive connection.

use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Errors talking to the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not running, or the port is wrong.
    #[error("không kết nối được tới Kyso / cannot reach the agent on port {port}: {source}")]
    Connect {
        /// Port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// TLS failed (not our CA, or a program squatting the port).
    #[error("TLS: {0}")]
    Tls(String),
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(String),
}

/// One kept-alive HTTP/1.1 connection to the agent.
pub struct AgentConnection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    port: u16,
}

/// A response: status and body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The `Server-Timing` header, when the agent sent one (`/v1/sign`).
    pub server_timing: Option<String>,
}

impl AgentConnection {
    /// Connects to `https://127.0.0.1:port`, trusting only `ca_der`.
    ///
    /// # Errors
    /// Connection, TLS or HTTP handshake failures.
    pub async fn connect(port: u16, ca_der: &[u8]) -> Result<Self, Error> {
        let config = kyso::tls::client_config(ca_der).map_err(|e| Error::Tls(e.to_string()))?;
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|source| Error::Connect { port, source })?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
            .map_err(|e| Error::Tls(e.to_string()))?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls(e.to_string()))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, port })
    }

    /// Connects to a plain-HTTP service on loopback (the bridge, for the demo).
    ///
    /// # Errors
    /// Connection or HTTP handshake failures.
    pub async fn connect_plain(port: u16) -> Result<Self, Error> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|source| Error::Connect { port, source })?;
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, port })
    }

    /// Sends one request; `body` as JSON when given. `origin` is sent as the Origin header.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        origin: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Error> {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port));
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| Error::Http(e.to_string()))?;
        self.sender
            .ready()
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let server_timing = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Http(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok(Reply {
            status,
            body,
            server_timing,
        })
    }
}
