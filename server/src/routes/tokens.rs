//! `GET/POST /v1/tokens`, `DELETE /v1/tokens/{id}`: login tokens and named script tokens.

use crate::auth::{Auth, TOKEN_PREFIX, new_secret};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::openapi::responses::{Conflict, Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use crate::store::now_ms;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{self, CreateTokenRequest, CreatedToken, TokenList};
use mchat_shared::{TokenId, validate};

/// My tokens (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "account", operation_id = "list_tokens", security(("bearer" = [])),
    responses(
        (status = 200, description = "My tokens", body = TokenList),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<TokenList>> {
    let tokens = state.store.list_tokens(me.user_id, me.token_id).await?;
    Ok(Json(TokenList { tokens }))
}

/// Create a named token for scripts.
///
/// The name is unique among my live tokens (409 `name_taken`).
#[utoipa::path(post, path = "/tokens", tag = "account", operation_id = "create_token", security(("bearer" = [])),
    request_body(content = CreateTokenRequest, example = json!({
        "name": "nightly-report", "expires_in_days": 30
    })),
    responses(
        (status = 201, description = "Created; the secret is shown once", body = CreatedToken),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(req): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = validate::token_name(&req.name)?;
    let max = state.config.auth.max_token_ttl_days;
    let days = req.expires_in_days.unwrap_or(max).clamp(1, max.max(1));
    let (token, hash) = new_secret(TOKEN_PREFIX)?;
    let info = state
        .store
        .create_named_token(me.user_id, hash, name, now_ms() + i64::from(days) * 86_400_000)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, info })))
}

/// Revoke one of my tokens (its live connections close).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "account", operation_id = "revoke_token", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked", body = api::Ok),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<TokenId>,
) -> ApiResult<Json<api::Ok>> {
    state.store.revoke_token(me.user_id, id).await?;
    state.hub.close_token(id);
    Ok(Json(api::Ok { ok: true }))
}
