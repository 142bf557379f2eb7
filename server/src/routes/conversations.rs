//! `/v1/conversations`: the list, requests (get-or-create), status changes and markers.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Body, Json, Path, Query, optional_json};
use crate::openapi::responses::{
    Conflict, Forbidden, Invalid, NotFound, RateLimited, TooLarge, Unauthorized, UnsupportedType,
};
use crate::state::AppState;
use crate::store::{MarkerUpdate, Transition};
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{
    Conversation, ConversationCreated, ConversationList, ConversationsQuery, CreateConversationRequest,
    DeclineRequest, ReadRequest, ReadResponse,
};
use mchat_shared::limits::REASON_MAX_CHARS;
use mchat_shared::{ConversationId, UserId, validate};

/// My conversations, most recent activity first.
///
/// Archived ones are left out unless `archived=true`, which lists only them.
#[utoipa::path(get, path = "/conversations", tag = "conversations", operation_id = "list_conversations", security(("bearer" = [])),
    params(ConversationsQuery),
    responses(
        (status = 200, description = "My conversations", body = ConversationList),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
    ))]
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

/// Request a conversation with an intro message (get-or-create per pair).
///
/// 403 when I may not start a conversation with this user, 404 when there
/// is no such user; 409 when they declined an earlier request
/// (`request_declined`) or the `client_id` was used with another intro
/// (`idempotency_conflict`).
#[utoipa::path(post, path = "/conversations", tag = "conversations", operation_id = "create_conversation", security(("bearer" = [])),
    request_body(content = CreateConversationRequest, example = json!({
        "to": "mona", "message": "Hi Mona, could you help me with Rust lifetimes?",
        "client_id": "intro-mona-1"
    })),
    responses(
        (status = 201, description = "A new (or renewed) request", body = ConversationCreated),
        (status = 200, description = "The conversation already existed", body = ConversationCreated),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
        (status = 429, response = RateLimited),
    ))]
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

/// One of my conversations.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", operation_id = "get_conversation", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.conversation(me.user_id, id).await?))
}

async fn change(
    state: AppState,
    me: UserId,
    id: ConversationId,
    t: Transition,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.transition(me, id, t).await?))
}

/// Accept a pending request (the recipient).
///
/// Only the recipient can accept (403); 409 (`invalid_transition`) unless the
/// request is pending.
#[utoipa::path(post, path = "/conversations/{id}/accept", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Accept).await
}

/// Decline a pending request, with an optional reason.
///
/// Only the recipient can decline (403); 409 (`invalid_transition`) unless
/// the request is pending.
#[utoipa::path(post, path = "/conversations/{id}/decline", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body(content = DeclineRequest, description = "Optional; an empty body declines without a reason"),
    responses(
        (status = 200, description = "The conversation after the change", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
    ))]
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

/// Mark an accepted conversation completed (read-only, history kept).
///
/// 403 when it is not for me to complete; 409 (`invalid_transition`) from a
/// status that does not allow it.
#[utoipa::path(post, path = "/conversations/{id}/complete", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Complete).await
}

/// Reopen a completed conversation.
///
/// 403 when it is not for me to reopen; 409 (`invalid_transition`) unless it
/// is completed.
#[utoipa::path(post, path = "/conversations/{id}/reopen", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation after the change", body = Conversation),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn reopen(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    change(state, me.user_id, id, Transition::Reopen).await
}

/// Move my read marker (and my delivered marker, if behind).
#[utoipa::path(post, path = "/conversations/{id}/read", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "My markers and unread count", body = ReadResponse),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
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
    move_markers(&state, me.user_id, id, update).await
}

/// Move my delivered marker.
#[utoipa::path(post, path = "/conversations/{id}/delivered", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "My markers and unread count", body = ReadResponse),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
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
    move_markers(&state, me.user_id, id, update).await
}

/// Applies a marker update and answers my markers with the unread count.
async fn move_markers(
    state: &AppState,
    me: UserId,
    id: ConversationId,
    update: MarkerUpdate,
) -> ApiResult<Json<ReadResponse>> {
    let (markers, unread) = state.store.update_markers(me, id, update).await?;
    Ok(Json(ReadResponse {
        markers,
        unread: unread.unwrap_or(0),
    }))
}

/// Tell the other participants I am typing (a live signal, never stored).
///
/// Renew it every few seconds; it ends by itself.
#[utoipa::path(post, path = "/conversations/{id}/typing", tag = "conversations", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "Signalled", body = mchat_shared::api::Ok),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn typing(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<mchat_shared::api::Ok>> {
    let members = state.store.members(me.user_id, id).await?;
    state.hub.typing(id, me.user_id, &members);
    Ok(Json(mchat_shared::api::Ok { ok: true }))
}
