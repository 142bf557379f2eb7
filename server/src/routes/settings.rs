//! `/v1/conversations/{id}/settings`: mute and archive (my own settings).

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::openapi::responses::{Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::ConversationId;
use mchat_shared::api::{Conversation, ConversationSettings};

/// Change my own settings for a conversation (muted, archived).
#[utoipa::path(put, path = "/conversations/{id}/settings", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = ConversationSettings,
    responses(
        (status = 200, description = "The conversation with my settings", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<ConversationSettings>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(
        state.store.set_conversation_settings(me.user_id, id, req).await?,
    ))
}
