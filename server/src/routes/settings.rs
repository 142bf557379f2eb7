//! `/v1/conversations/{id}/settings`: mute and archive (my own settings).

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::ConversationId;
use mchat_shared::api::{Conversation, ConversationSettings};

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
