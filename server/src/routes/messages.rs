//! `/v1/conversations/{id}/messages`: history pages and sending.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{Message, MessagePage, MessagesQuery, SendMessageRequest};
use mchat_shared::limits::{PAGE_DEFAULT, PAGE_MAX};
use mchat_shared::{ConversationId, ErrorCode, validate};

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
    // A file message may have no caption; otherwise the usual body rules.
    let body = if req.file.is_some() && req.body.trim().is_empty() {
        String::new()
    } else {
        validate::message_body(&req.body)?
    };
    state.limits.check_send(me.user_id)?;
    let (message, created) = state
        .store
        .send_message(
            me.user_id,
            id,
            req.client_id,
            body,
            req.reply_to,
            req.file,
            state.is_online(),
        )
        .await
        .map_err(|e| {
            // The store's only validation failure here is a `reply_to` outside the conversation.
            let mut e = ApiError::from(e);
            if e.code == ErrorCode::ValidationFailed {
                e.field = Some("reply_to".into());
            }
            e
        })?;
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
