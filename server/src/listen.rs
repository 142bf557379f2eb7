//! Serving HTTP/1.1 with hyper directly instead of `axum::serve`, for the
//! parser's limits. When hyper's parser refuses a request head (more than
//! 100 headers, a head larger than its read buffer, a URI over 64 KiB) it
//! answers by itself, with an empty body, before any axum layer runs. So the
//! parser gets generous limits here ([`parser`]) and the real, configured
//! ones (`[limits] max_uri_bytes`, `max_headers`, `max_header_bytes`) are
//! enforced by [`head_limits`], which answers 414/431 in the API's JSON shape.
//!
//! hyper still answers alone, with an empty body, what it cannot parse at
//! all: a head past the generous limits, or bytes HTTP forbids (a control
//! byte in a header: 400). Parsing such a header leniently (hyper's
//! `ignore_invalid_headers`) would drop it silently, which is how request
//! smuggling starts behind a proxy; so it stays an empty 400.
//!
//! Otherwise this does what `axum::serve(..).with_graceful_shutdown(..)`
//! does: `ConnectInfo<SocketAddr>` for handlers, upgrades (WebSocket), accept
//! errors retried (axum's `Listener`), and on shutdown: stop accepting, ask
//! every connection to finish (idle keep-alives close), wait for them.
//!
//! With `[server] tls_cert` / `tls_key` set, each accepted stream is wrapped
//! in TLS ([`tls_acceptor`], rustls with the ring provider) before hyper sees
//! it, for deployments without a reverse proxy.

use crate::config::{LimitsConfig, ServerConfig};
use crate::error::ApiError;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use mchat_shared::ErrorCode;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

/// A TLS handshake that has not finished by then is dropped: it runs in the
/// connection's own task, but a stalled one would still hold a socket.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why `[server] tls_cert` / `tls_key` cannot be used; each is one sentence
/// that names the file, printed before the server starts.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("[server] tls_cert and tls_key go together: set both (PEM files) or neither")]
    HalfConfigured,
    #[error("cannot read the TLS certificate {}: {reason}", path.display())]
    Cert { path: PathBuf, reason: String },
    #[error("the TLS certificate file {} holds no PEM certificate", path.display())]
    NoCert { path: PathBuf },
    #[error("cannot read the TLS private key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate {} and key {} do not make a usable pair: {reason}", cert.display(), key.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The TLS acceptor for `[server] tls_cert` / `tls_key`, or `None` (plain
/// HTTP) when neither is set. Reads and checks both files now, so a missing
/// or mismatched file stops the start with a sentence instead of failing
/// every handshake later.
pub fn tls_acceptor(server: &ServerConfig) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert_path, key_path) = match (&server.tls_cert, &server.tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c.as_path(), k.as_path()),
        _ => return Err(TlsError::HalfConfigured),
    };
    let certs = read_certs(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Key {
        path: key_path.to_path_buf(),
        reason: pem_reason(&e),
    })?;
    let pair = |e: rustls::Error| TlsError::Pair {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        reason: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(pair)?;
    // HTTP/1.1 only (the parser above); saying so lets clients skip h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Every certificate in the PEM file (the leaf first, then intermediates).
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| TlsError::Cert {
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// A PEM error as a short reason; "no items found" means a file that is not PEM.
fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of that kind in it".to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// The HTTP/1 parser, with limits well above the configured ones so that a
/// request over those still reaches [`head_limits`] (hyper's own answer
/// would have no body).
pub fn parser(limits: &LimitsConfig) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .max_headers(limits.max_headers.saturating_mul(4).max(512))
        .max_buf_size(
            limits
                .max_uri_bytes
                .saturating_add(limits.max_header_bytes)
                .saturating_mul(4)
                .max(1024 * 1024),
        );
    builder
}

/// Serves `app` on `listener` with `parser` (over TLS when `tls` is given)
/// until `shutdown` resolves, then waits for open connections to finish
/// their requests.
pub async fn serve<F>(
    mut listener: TcpListener,
    app: Router,
    parser: http1::Builder,
    tls: Option<TlsAcceptor>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    // Every connection holds `signal_tx` and `close_rx`: dropping
    // `signal_rx` tells them to finish; `close_tx.closed()` is when they have.
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            conn = Listener::accept(&mut listener) => conn,
            () = signal_tx.closed() => break,
        };
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(axum::body::Body::new)
        });
        let parser = parser.clone();
        let signal_tx = signal_tx.clone();
        let close_rx = close_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => drive(&parser, stream, service, &signal_tx, peer).await,
                // The handshake runs here, not in the accept loop, so a slow
                // client cannot hold up everyone else's accept.
                Some(tls) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => drive(&parser, stream, service, &signal_tx, peer).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
    Ok(())
}

/// Serves one connection until it ends, asking it to finish (gracefully)
/// once `signal_tx` sees the shutdown.
async fn drive<S, Svc>(
    parser: &http1::Builder,
    stream: S,
    service: Svc,
    signal_tx: &watch::Sender<()>,
    peer: std::net::SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: tower::Service<Request<Incoming>, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    Svc::Future: Send + 'static,
{
    let conn = parser
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            () = signal_tx.closed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Refuses, in the JSON error shape, a request whose URI or headers exceed
/// `[limits]`: 414 `uri_too_long`, 431 `headers_too_large`.
pub async fn head_limits(State(limits): State<HeadLimits>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let uri_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if uri_len > limits.max_uri_bytes {
        return ApiError::new(
            ErrorCode::UriTooLong,
            format!(
                "the request URI is {uri_len} bytes; at most {} are accepted",
                limits.max_uri_bytes
            ),
        )
        .into_response();
    }
    let headers = req.headers();
    if headers.len() > limits.max_headers {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request has {} headers; at most {} are accepted",
                headers.len(),
                limits.max_headers
            ),
        )
        .into_response();
    }
    // As on the wire: "name: value\r\n".
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request headers take {bytes} bytes; at most {} are accepted",
                limits.max_header_bytes
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// The part of `[limits]` that [`head_limits`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_uri_bytes: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

impl From<&LimitsConfig> for HeadLimits {
    fn from(l: &LimitsConfig) -> Self {
        HeadLimits {
            max_uri_bytes: l.max_uri_bytes,
            max_headers: l.max_headers,
            max_header_bytes: l.max_header_bytes,
        }
    }
}
