//! `/v1/messages/{id}`: read one, edit, delete, the edit history, and reactions.
//!
//! Who may do what is decided in the store (store/message_actions.rs);
//! here: input validation (an edit follows the rules of a send, a reaction
//! is one emoji) and the send rate limit for edits and new reactions.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::openapi::responses::{
    Conflict, Forbidden, Invalid, NotFound, RateLimited, TooLarge, Unauthorized, UnsupportedType,
};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{EditMessageRequest, Message, MessageEdits};
use mchat_shared::{MessageId, validate};

/// One message I can see.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", operation_id = "get_message", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<Message>> {
    Ok(Json(state.store.message(me.user_id, id).await?))
}

/// Edit my message (the previous text is kept server-side).
///
/// 403 when it is not my message; 409 for a system or deleted message, or
/// when the conversation is closed.
#[utoipa::path(patch, path = "/messages/{id}", tag = "messages", operation_id = "edit_message", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Message id")),
    request_body(content = EditMessageRequest, example = json!({"body": "fixed the typo"})),
    responses(
        (status = 200, description = "The message after the edit", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
        (status = 429, response = RateLimited),
    ))]
pub async fn edit(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
    Json(req): Json<EditMessageRequest>,
) -> ApiResult<Json<Message>> {
    let body = validate::message_body(&req.body)?;
    state.limits.check_send(me.user_id)?;
    Ok(Json(state.store.edit_message(me.user_id, id, body).await?))
}

/// Delete my message (an admin may delete any): leaves a tombstone.
///
/// 403 when it is not my message; 409 for a system message.
#[utoipa::path(delete, path = "/messages/{id}", tag = "messages", operation_id = "delete_message", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The tombstone", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        state.store.delete_message(me.user_id, id, &state.blobs).await?,
    ))
}

/// The earlier texts of a message, newest first: for its sender, and an admin who takes part.
#[utoipa::path(get, path = "/messages/{id}/edits", tag = "messages", operation_id = "message_edits", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The edit history (empty once deleted)", body = MessageEdits),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn edits(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<MessageEdits>> {
    Ok(Json(state.store.message_edits(me.user_id, id).await?))
}

/// React to a message (idempotent).
///
/// 409 when the message is deleted or the conversation is closed.
#[utoipa::path(put, path = "/messages/{id}/reactions/{emoji}", tag = "messages", operation_id = "add_reaction", security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Message id"),
        ("emoji" = String, Path, description = "The emoji, URL-encoded (no letters, digits or spaces)",
            pattern = "^[\u{2600}-\u{26FF}]{1,4}$"),
    ),
    responses(
        (status = 200, description = "The message with its reactions", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ))]
pub async fn react_add(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = validate::reaction(&emoji)?;
    state.limits.check_send(me.user_id)?;
    Ok(Json(state.store.react(me.user_id, id, emoji, true).await?))
}

/// Take my reaction back (idempotent).
///
/// 409 when the message is deleted or the conversation is closed.
#[utoipa::path(delete, path = "/messages/{id}/reactions/{emoji}", tag = "messages", operation_id = "remove_reaction", security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Message id"),
        ("emoji" = String, Path, description = "The emoji, URL-encoded (no letters, digits or spaces)",
            pattern = "^[\u{2600}-\u{26FF}]{1,4}$"),
    ),
    responses(
        (status = 200, description = "The message with its reactions", body = Message),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ))]
pub async fn react_remove(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = validate::reaction(&emoji)?;
    // Taking a reaction back is an event to every participant, like adding
    // one: the same limit, so toggling cannot flood a conversation.
    state.limits.check_send(me.user_id)?;
    Ok(Json(state.store.react(me.user_id, id, emoji, false).await?))
}
