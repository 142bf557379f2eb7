//! `/v1/conversations/{id}/messages`: history pages and sending.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{Message, MessagePage, MessagesQuery, SendMessageRequest};
use mchat_shared::limits::{PAGE_DEFAULT, PAGE_MAX};
use mchat_shared::{ConversationId, validate};

pub async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<Json<MessagePage>> {
    if q.before.is_some() && q.after.is_some() {
        return Err(ApiError::invalid_query("use either before or after, not both"));
    }
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_query(format!("limit must be 1 to {PAGE_MAX}")));
    }
    Ok(Json(
        state
            .store
            .messages(me.user_id, id, q.before, q.after, limit)
            .await?,
    ))
}

pub async fn send(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<SendMessageRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    validate::client_id(&req.client_id)?;
    let body = validate::message_body(&req.body)?;
    state.limits.check_send(me.user_id)?;
    let (message, created) = state
        .store
        .send_message(
            me.user_id,
            id,
            req.client_id,
            body,
            req.reply_to,
            state.is_online(),
        )
        .await?;
    if created {
        metrics::counter!("mchatd_messages_stored_total").increment(1);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message)))
}
