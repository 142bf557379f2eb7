//! `GET/POST /v1/tokens`, `DELETE /v1/tokens/{id}`: login tokens and named script tokens.

use crate::auth::{Auth, TOKEN_PREFIX, new_secret};
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use crate::store::now_ms;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{self, CreateTokenRequest, CreatedToken, TokenList};
use mchat_shared::{TokenId, validate};

pub async fn list(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<TokenList>> {
    let tokens = state.store.list_tokens(me.user_id, me.token_id).await?;
    Ok(Json(TokenList { tokens }))
}

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

pub async fn revoke(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<TokenId>,
) -> ApiResult<Json<api::Ok>> {
    state.store.revoke_token(me.user_id, id).await?;
    state.hub.close_token(id);
    Ok(Json(api::Ok { ok: true }))
}
