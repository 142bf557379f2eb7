//! `GET /healthz` and `GET /metrics` (Prometheus text format; see [`crate::metrics`]).

use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::openapi::responses::NotFound;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mchat_shared::ErrorBody;
use mchat_shared::api::Health;

/// Liveness and readiness: answers 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database is not answering (`unavailable`, no `Retry-After`)", body = ErrorBody),
    ))]
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

/// Prometheus metrics (text exposition format; empty when metrics are off).
///
/// 404 on the public listener when `[metrics] bind` serves them on a
/// private address instead.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 404, response = NotFound),
    ))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    if state.config.metrics.bind.is_some() {
        return ApiError::new(mchat_shared::ErrorCode::NotFound, "no such endpoint").into_response();
    }
    match state.metrics {
        Some(m) => crate::metrics::serve(m).await,
        None => crate::metrics::serve_empty(),
    }
}
