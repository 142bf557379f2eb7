//! `GET /healthz` and `GET /metrics` (Prometheus text format; see [`crate::metrics`]).

use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mchat_shared::api::Health;

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|_| {
        ApiError::new(
            mchat_shared::ErrorCode::Unavailable,
            "the database is not answering",
        )
    })?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// `/metrics` on the public listener: 404 when `[metrics] bind` moved it
/// to a private address.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if state.config.metrics.bind.is_some() {
        return ApiError::new(mchat_shared::ErrorCode::NotFound, "no such endpoint").into_response();
    }
    match state.metrics {
        Some(m) => crate::metrics::serve(m).await,
        None => crate::metrics::serve_empty(),
    }
}
