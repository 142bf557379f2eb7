//! `/v1/conversations`: the list, requests (get-or-create), status changes and markers.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Body, Json, Path, Query, optional_json};
use crate::state::AppState;
use crate::store::{MarkerUpdate, Transition};
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{
    Conversation, ConversationCreated, ConversationList, ConversationsQuery, CreateConversationRequest,
    DeclineRequest, ReadRequest, ReadResponse,
};
use mchat_shared::limits::REASON_MAX_CHARS;
use mchat_shared::{ConversationId, validate};

/// `GET /v1/conversations?archived=`: archived ones are left out unless
/// `archived=true`, which lists only them.
pub async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<ConversationsQuery>,
) -> ApiResult<Json<ConversationList>> {
    let archived = q.archived.unwrap_or(false);
    Ok(Json(ConversationList {
        conversations: state.store.conversations(me.user_id, archived).await?,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(req): Json<CreateConversationRequest>,
) -> ApiResult<(StatusCode, Json<ConversationCreated>)> {
    let to = validate::username(&req.to)?;
    let intro = validate::message_body(&req.message)?;
    if let Some(cid) = &req.client_id {
        validate::client_id(cid)?;
    }
    super::messages::spend_send_token(&state, me.user_id, req.client_id.as_deref()).await?;
    let ttl_ms =
        i64::try_from(state.config.requests.pending_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let (conversation, created) = state
        .store
        .request_conversation(me.user_id, to, intro, req.client_id, ttl_ms)
        .await?;
    if created {
        metrics::counter!("mchatd_messages_stored_total").increment(1);
        crate::realtime::presence::new_contact(&state, me.user_id);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ConversationCreated {
            conversation,
            created,
        }),
    ))
}

pub async fn get_one(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.conversation(me.user_id, id).await?))
}

async fn change(
    state: AppState,
    me: i64,
    id: ConversationId,
    t: Transition,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.transition(me, id, t).await?))
}

pub async fn accept(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Accept).await
}

pub async fn decline(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Body(body): Body,
) -> ApiResult<Json<Conversation>> {
    let req: DeclineRequest = optional_json(&body)?;
    let reason = match req.reason {
        Some(r) => validate::free_text("reason", &r, REASON_MAX_CHARS)?,
        None => None,
    };
    change(state, me.user_id, id, Transition::Decline(reason)).await
}

pub async fn complete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Complete).await
}

pub async fn reopen(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Reopen).await
}

pub async fn read(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let update = MarkerUpdate {
        read_up_to: Some(req.up_to),
        delivered_up_to: None,
        count_unread: true,
    };
    let (markers, unread) = state.store.update_markers(me.user_id, id, update).await?;
    Ok(Json(ReadResponse {
        markers,
        unread: unread.unwrap_or(0),
    }))
}

pub async fn delivered(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let update = MarkerUpdate {
        read_up_to: None,
        delivered_up_to: Some(req.up_to),
        count_unread: true,
    };
    let (markers, unread) = state.store.update_markers(me.user_id, id, update).await?;
    Ok(Json(ReadResponse {
        markers,
        unread: unread.unwrap_or(0),
    }))
}

/// `POST /v1/conversations/{id}/typing`: tell the others I am typing (renew
/// every few seconds; it ends by itself).
pub async fn typing(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<mchat_shared::api::Ok>> {
    let members = state.store.members(me.user_id, id).await?;
    state.hub.typing(id, me.user_id, &members);
    Ok(Json(mchat_shared::api::Ok { ok: true }))
}
