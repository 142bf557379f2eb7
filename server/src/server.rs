//! Assembling and running the server: state, router and layers, background
//! jobs, and graceful shutdown (stop accepting, let in-flight requests finish
//! within a grace period, then finish queued writes and checkpoint the WAL).

use crate::auth::Passwords;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::realtime::Hub;
use crate::routes;
use crate::state::AppState;
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Records request counts and latencies per route for `/metrics`, and runs
/// each request in a `request` span (request id, method, route) that every
/// log line of the request carries, ending with one `mchatd::access` line
/// (status, latency). The id is a UUIDv7 (time-ordered, unique across
/// restarts) and is also answered as `x-request-id`, so a user's report can
/// be matched with the log.
async fn track(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let request_id = uuid::Uuid::now_v7();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    metrics::gauge!("mchatd_http_requests_in_flight").increment(1.0);
    let mut resp = next.run(req).instrument(span).await;
    metrics::gauge!("mchatd_http_requests_in_flight").decrement(1.0);
    let elapsed = started.elapsed();
    // Server-side handling time, so clients and benchmarks can tell it from network time.
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={:.3}", elapsed.as_secs_f64() * 1000.0)) {
        resp.headers_mut().insert("server-timing", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    tracing::info!(
        target: "mchatd::access",
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    metrics::counter!("mchatd_http_requests_total", "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("mchatd_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    resp
}

/// The full application: routes plus layers.
pub fn app(state: AppState) -> Router {
    // Applies to bodies read whole (JSON, bytes). File uploads (POST
    // /v1/files) stream the raw body to disk and enforce `files.max_bytes`
    // themselves, so this limit does not reach them.
    let body_limit = state.config.limits.max_body_bytes;
    let head_limits = crate::listen::HeadLimits::from(&state.config.limits);
    let in_flight = crate::shed::InFlight::new(state.config.limits.max_in_flight);
    // Innermost, so that metrics and traces count its 414/431 and 503s too.
    routes::router(state)
        .layer(middleware::from_fn_with_state(
            head_limits,
            crate::listen::head_limits,
        ))
        .layer(middleware::from_fn_with_state(in_flight, crate::shed::shed))
        .layer(middleware::from_fn(track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        // A bug that panics in a handler answers 500 in the JSON shape
        // instead of dropping the connection without a word.
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            crate::error::ApiError::internal().into_response()
        }))
}

/// Builds the state: opens the store (applying migrations) and the helpers.
pub async fn build_state(config: Config, metrics: Option<Metrics>) -> anyhow::Result<AppState> {
    let hub = Arc::new(Hub::new(
        config.realtime.ws_buffer,
        Duration::from_secs(config.realtime.typing_ttl_secs.max(1)),
    ));
    let sink: Arc<dyn crate::store::EventSink> = hub.clone();
    let store = Store::open_configured(&config, Some(sink)).await?;
    let blobs = Arc::new(crate::attachments::Blobs::open(&config).map_err(|e| anyhow::anyhow!(e))?);
    let node = store.join_nodes(config.storage.node_heartbeat_ms).await?;
    // Other nodes may be mid-upload into the same blobs.
    let shared = match &node {
        Some(node) => node.others_alive().await?,
        None => false,
    };
    store.prepare_files(&blobs, config.uploads_dir(), shared).await?;
    tracing::info!(files = %blobs.describe(), shared, "attachments");
    let hashes = config.auth.max_concurrent_hashes;
    let passwords = tokio::task::spawn_blocking(move || Passwords::new(hashes))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(AppState {
        store,
        limits: Arc::new(RateLimits::new(&config.limits)),
        hub,
        node,
        blobs,
        config: Arc::new(config),
        passwords: Arc::new(passwords),
        metrics,
    })
}

/// Every second: typing indicators whose renewal stopped end.
fn spawn_typing_sweeper(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            state.hub.sweep();
        }
    });
}

/// On a shared database: this node's heartbeat (which also sets its
/// connection counts to the hub's), and the typing signals the hub relays
/// to every node.
/// Returns the heartbeat's task, stopped before the node leaves.
fn spawn_node_tasks(state: AppState) -> Option<tokio::task::AbortHandle> {
    let node = state.node.clone()?;
    let (relay, mut relayed) = tokio::sync::mpsc::unbounded_channel();
    state.hub.relay_signals(relay);
    let relay_node = node.clone();
    tokio::spawn(async move {
        // One at a time, so they arrive in the order they were sent.
        while let Some((users, frame)) = relayed.recv().await {
            if let Err(e) = relay_node.signal(users, frame).await {
                tracing::debug!(error = %e, "a typing signal was not relayed");
            }
        }
    });
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(node.heartbeat_ms()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = node.heartbeat(state.hub.socket_counts()).await {
                tracing::warn!(error = %e, "this node's heartbeat failed");
            }
        }
    });
    Some(heartbeat.abort_handle())
}

/// Periodic housekeeping: expiring stale requests, pruning old events,
/// trimming rate-limit state.
fn spawn_sweeper(state: AppState) {
    let every = Duration::from_secs(state.config.requests.sweep_interval_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match state.store.expire_requests().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired pending requests"),
                Err(crate::store::StoreError::Closed) => break,
                Err(e) => tracing::warn!(error = %e, "request expiry failed"),
            }
            let retention_ms = i64::try_from(state.config.realtime.event_retention_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            match state
                .store
                .prune_events(crate::store::now_ms().saturating_sub(retention_ms))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "pruned old events"),
                Err(e) => tracing::warn!(error = %e, "event pruning failed"),
            }
            state.limits.sweep();
        }
    });
}

/// Delivers scheduled messages and reminders: wakes at the next due time
/// (at least every second, so items created meanwhile are not late), and
/// at start delivers everything that fell due while the server was down.
fn spawn_scheduler(state: AppState) {
    tokio::spawn(async move {
        loop {
            match state.store.deliver_due_scheduled(state.is_online()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(delivered = n, "delivered scheduled items"),
                Err(crate::store::StoreError::Closed) => break,
                Err(e) => tracing::warn!(error = %e, "scheduled delivery failed"),
            }
            let wait = match state.store.next_scheduled_due().await {
                Ok(Some(due)) => {
                    let ms = due.saturating_sub(crate::store::now_ms()).clamp(10, 1000);
                    Duration::from_millis(ms.unsigned_abs())
                }
                Ok(None) => Duration::from_secs(1),
                Err(crate::store::StoreError::Closed) => break,
                Err(_) => Duration::from_secs(1),
            };
            tokio::time::sleep(wait).await;
        }
    });
}

/// Serves on `listener` until `shutdown` resolves, then shuts down gracefully.
pub async fn serve<F>(state: AppState, listener: TcpListener, shutdown: F) -> anyhow::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(state, listener, None, None, shutdown).await
}

/// Like [`serve`], and `/metrics` alone on `metrics_listener` when given
/// (`[metrics] bind`, a private address), stopped with the server; over
/// TLS when `tls` is given ([`crate::listen::tls_acceptor`]).
pub async fn serve_with<F>(
    state: AppState,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: F,
) -> anyhow::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let private = match (metrics_listener, state.metrics.clone()) {
        (Some(l), Some(m)) => Some(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, crate::metrics::private_router(m)).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        })),
        _ => None,
    };
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let store = state.store.clone();
    spawn_sweeper(state.clone());
    spawn_typing_sweeper(state.clone());
    spawn_scheduler(state.clone());
    let heartbeat = spawn_node_tasks(state.clone());
    let node = state.node.clone();
    let hub = state.hub.clone();
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        // Live connections get a close frame (1001) and resume elsewhere.
        hub.close_all();
        let _ = stopping_tx.send(());
    };
    // hyper directly (not axum::serve) for the parser limits: see listen.rs.
    let parser = crate::listen::parser(&state.config.limits);
    let server = crate::listen::serve(listener, app(state), parser, tls, signal);
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = deadline => tracing::warn!("grace period over; closing remaining connections"),
    }
    if let Some(task) = private {
        // Scrapes are short and stateless: no grace needed.
        task.abort();
    }
    if let (Some(node), Some(heartbeat)) = (node, heartbeat) {
        // A heartbeat after leaving would join again.
        heartbeat.abort();
        // Its users who are connected nowhere else show offline now.
        match node.leave().await {
            Ok(()) => tracing::info!("this node left the others"),
            Err(e) => tracing::warn!(error = %e, "this node could not leave the others"),
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are registered when this is
/// called, not when the future is first polled: call it before announcing
/// the address, so a SIGTERM sent the moment the server is up stops it
/// gracefully instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            /// Resolves on the signal, or never when it could not be registered.
            async fn received(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            let (int, term) = signals;
            tokio::select! {
                () = received(int) => {},
                () = received(term) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
