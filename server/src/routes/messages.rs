//! `/v1/conversations/{id}/messages`: history pages and sending.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::openapi::responses::{
    Conflict, Invalid, NotFound, RateLimited, TooLarge, Unauthorized, UnsupportedType,
};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{Message, MessagePage, MessagesQuery, SendMessageRequest};
use mchat_shared::limits::{PAGE_DEFAULT, PAGE_MAX};
use mchat_shared::{ConversationId, ErrorCode, UserId, validate};

/// A page of history, oldest first (newest page without before/after).
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "messages", operation_id = "list_messages", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id"), MessagesQuery),
    responses(
        (status = 200, description = "One page", body = MessagePage),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
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

/// Send a message (idempotent by client_id).
///
/// 404 when the conversation, the reply parent or the file is not one of
/// mine; 409 when the conversation is not open (`conversation_not_open`) or
/// the `client_id` was used with another body (`idempotency_conflict`).
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "messages", operation_id = "send_message", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body(content = SendMessageRequest, example = json!({
        "client_id": "01JH5QJ3V8-ana-1", "body": "Thanks! Here is what I tried:\n\n`let r: &str = &s;`"
    })),
    responses(
        (status = 201, description = "Stored", body = Message),
        (status = 200, description = "Already stored with this client_id and body: the original", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
        (status = 429, response = RateLimited),
    ))]
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
    spend_send_token(&state, me.user_id, Some(&req.client_id)).await?;
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

/// Takes a send token from `me`, unless `client_id` is already stored: a
/// retry stores nothing new and answers with the original, so it must not
/// be refused with 429 when the bucket is empty (nor empty it). The look-up
/// runs only when sends are limited; two concurrent first attempts may both
/// pay, which is harmless.
pub(super) async fn spend_send_token(state: &AppState, me: UserId, client_id: Option<&str>) -> ApiResult<()> {
    if !state.limits.limits_sends() {
        return Ok(());
    }
    if let Some(cid) = client_id
        && state.store.sent_before(me, cid.to_owned()).await?
    {
        return Ok(());
    }
    state.limits.check_send(me)
}
