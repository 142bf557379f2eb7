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

use crate::config::LimitsConfig;
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
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

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

/// Serves `app` on `listener` with `parser` until `shutdown` resolves, then
/// waits for open connections to finish their requests.
pub async fn serve<F>(
    mut listener: TcpListener,
    app: Router,
    parser: http1::Builder,
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
        let conn = parser
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let signal_tx = signal_tx.clone();
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
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
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
    Ok(())
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
