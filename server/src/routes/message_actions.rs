//! `/v1/messages/{id}`: read one, edit, delete, the edit history, and reactions.
//!
//! Who may do what is decided in the store (store/message_actions.rs);
//! here: input validation (an edit follows the rules of a send, a reaction
//! is one emoji) and the send rate limit for edits and new reactions.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{EditMessageRequest, Message, MessageEdits};
use mchat_shared::{MessageId, validate};

pub async fn get_one(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<Message>> {
    Ok(Json(state.store.message(me.user_id, id).await?))
}

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

pub async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<Message>> {
    let files_dir = state.config.files_dir();
    Ok(Json(state.store.delete_message(me.user_id, id, files_dir).await?))
}

pub async fn edits(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<MessageId>,
) -> ApiResult<Json<MessageEdits>> {
    Ok(Json(state.store.message_edits(me.user_id, id).await?))
}

pub async fn react_add(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = validate::reaction(&emoji)?;
    state.limits.check_send(me.user_id)?;
    Ok(Json(state.store.react(me.user_id, id, emoji, true).await?))
}

pub async fn react_remove(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = validate::reaction(&emoji)?;
    Ok(Json(state.store.react(me.user_id, id, emoji, false).await?))
}
