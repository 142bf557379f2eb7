//! Load shedding at the HTTP edge: at most `[limits] max_in_flight` short
//! requests are handled at once; the next one is answered 503 `unavailable`
//! with `Retry-After` at once instead of waiting its turn.
//!
//! Why here and not only at the storage queues: on a small machine latency
//! follows the number of requests being worked on, and the storage queues
//! only see those that got as far as the store. Refusing at the edge costs
//! microseconds, keeps the accepted requests fast under a burst, and loses
//! nothing (a refused request never ran; clients retry after `Retry-After`,
//! and `mchat send` queues the message in its outbox).
//!
//! Long-lived requests are not counted: WebSocket upgrades and long-polls
//! (they wait by design), file transfers (their time is the network's),
//! and `/healthz` and `/metrics` (operators must see an overloaded server).

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The permits of short requests in flight (`None`: no limit).
#[derive(Clone)]
pub struct InFlight(Option<Arc<Semaphore>>);

impl InFlight {
    /// `max` concurrent short requests; 0 means no limit.
    pub fn new(max: usize) -> InFlight {
        InFlight((max > 0).then(|| Arc::new(Semaphore::new(max))))
    }
}

/// Requests that are not counted (see the module docs).
fn long_lived(path: &str) -> bool {
    matches!(path, "/v1/ws" | "/v1/sync" | "/healthz" | "/metrics") || path.starts_with("/v1/files")
}

pub async fn shed(State(limit): State<InFlight>, req: Request, next: Next) -> Response {
    let Some(sem) = &limit.0 else {
        return next.run(req).await;
    };
    if long_lived(req.uri().path()) {
        return next.run(req).await;
    }
    match sem.clone().try_acquire_owned() {
        Ok(permit) => {
            let resp = next.run(req).await;
            drop(permit);
            resp
        }
        Err(_) => {
            metrics::counter!("mchatd_http_shed_total").increment(1);
            ApiError::busy(1).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::long_lived;

    #[test]
    fn long_lived_requests_are_not_counted() {
        for p in [
            "/v1/ws",
            "/v1/sync",
            "/v1/files",
            "/v1/files/3",
            "/healthz",
            "/metrics",
        ] {
            assert!(long_lived(p), "{p}");
        }
        for p in ["/v1/conversations/1/messages", "/v1/me", "/v1/sync/x", "/v1/wsx"] {
            assert!(!long_lived(p), "{p}");
        }
    }
}
