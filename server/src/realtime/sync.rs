//! `GET /v1/sync?since=SEQ&timeout=SECS`: the event log over HTTP
//! long-poll, for scripts and clients that cannot hold a socket. Answers at
//! once when events are waiting, otherwise when one arrives or the timeout
//! passes. Messages it returns count as delivered.
//!
//! The wait also ends the moment the caller's token is revoked or expires
//! (401 `unauthorized`): a revoked token never receives another event.

use super::ws::flush_delivered;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{SyncQuery, SyncResponse};
use mchat_shared::{ConversationId, MessageId};
use std::collections::HashMap;
use std::time::Duration;

const PAGE: u32 = 500;
const MAX_TIMEOUT_SECS: u64 = 60;

/// The same events as the WebSocket, by long-poll.
#[utoipa::path(get, path = "/sync", tag = "realtime", security(("bearer" = [])),
    params(SyncQuery),
    responses(
        (status = 200, description = "Events after since, and the cursor to ask with next", body = SyncResponse),
        (status = 400, response = crate::openapi::responses::Invalid),
        (status = 401, response = crate::openapi::responses::Unauthorized),
    ))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<SyncQuery>,
) -> ApiResult<Json<SyncResponse>> {
    let timeout = q.timeout.unwrap_or(0);
    if timeout > MAX_TIMEOUT_SECS {
        return Err(ApiError::invalid_query(format!(
            "timeout is at most {MAX_TIMEOUT_SECS} seconds"
        )));
    }
    let user = me.user_id;
    let Some(since) = q.since else {
        // No cursor: nothing to replay; here is where "now" is.
        let latest = state.store.latest_seq(user).await?;
        return Ok(Json(SyncResponse {
            events: Vec::new(),
            next: latest,
            has_more: false,
        }));
    };
    // Arm the waiter before reading, so an event committed in between wakes
    // us; watch the token before that, so a revocation in between ends us.
    let mut token = state.hub.watch_token(me.token_id, me.expires_at);
    let waiter = state.hub.waiter(user);
    let notified = waiter.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let mut page = state.store.events_after(user, since, PAGE).await?;
    if page.events.is_empty() && !page.resync && timeout > 0 {
        tokio::select! {
            biased;
            end = token.ended() => return Err(end.error()),
            _ = tokio::time::timeout(Duration::from_secs(timeout), notified) => {}
        }
        page = state.store.events_after(user, since, PAGE).await?;
    }
    if let Some(end) = token.ended_now() {
        return Err(end.error());
    }
    if page.resync {
        let ev = Event {
            seq: page.latest,
            at: mchat_shared::Timestamp::now(),
            kind: EventKind::Resync,
        };
        return Ok(Json(SyncResponse {
            events: vec![ev],
            next: page.latest,
            has_more: false,
        }));
    }
    let mut delivered: HashMap<ConversationId, MessageId> = HashMap::new();
    for ev in &page.events {
        if let EventKind::MessageNew { message } = &ev.kind
            && message.sender.as_deref().is_some_and(|s| s != me.username)
        {
            let e = delivered.entry(message.conversation_id).or_insert(MessageId(0));
            *e = (*e).max(message.id);
        }
    }
    flush_delivered(&state, user, &mut delivered);
    let next = page.events.last().map_or(since, |e| e.seq);
    Ok(Json(SyncResponse {
        has_more: page.events.len() == PAGE as usize,
        events: page.events,
        next,
    }))
}
