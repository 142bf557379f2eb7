//! `GET /v1/ws?since=SEQ`: one live connection.
//!
//! Order of a connection's life: authenticate (bearer header, or a first
//! `{"type":"auth"}` frame), register with the hub, replay the log after
//! `since` (or send `resync`), send `ready`, then relay live frames — each
//! logged event with its `seq`, skipping what the replay already sent —
//! while answering client frames (typing) and pinging. Messages from others
//! that reach the socket move the user's delivered marker.

use super::hub::{CloseReason, Outbound, Registration};
use crate::auth::{TOKEN_PREFIX, secret_hash};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuthContext, MarkerUpdate};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{ClientFrame, PresenceState, Signal};
use mchat_shared::{ConversationId, MessageId, Seq};
use std::collections::HashMap;
use std::time::Duration;

/// Replay page size.
const PAGE: u32 = 500;

#[derive(Debug, serde::Deserialize)]
pub struct WsQuery {
    #[serde(default)]
    pub since: Option<i64>,
}

async fn auth_from_header(state: &AppState, headers: &HeaderMap) -> Result<Option<AuthContext>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be 'Bearer <token>'"))?;
    let ctx = state
        .store
        .authenticate(secret_hash(token))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("the token is not valid (unknown, revoked or expired); log in again")
        })?;
    Ok(Some(ctx))
}

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // A bad header is refused before upgrading; no header means the token
    // must come as the first frame.
    let auth = auth_from_header(&state, &headers).await?;
    let cfg = &state.config.realtime;
    Ok(ws
        .max_message_size(cfg.max_frame_bytes)
        .max_frame_size(cfg.max_frame_bytes)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.max_write_buffer_bytes)
        .on_upgrade(move |socket| run(socket, state, auth, q.since)))
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

/// Waits for `{"type":"auth","token":...}` as the first frame.
async fn auth_from_frame(state: &AppState, socket: &mut WebSocket) -> Option<AuthContext> {
    let first = tokio::time::timeout(Duration::from_secs(10), socket.recv())
        .await
        .ok()??
        .ok()?;
    let Message::Text(text) = first else { return None };
    let Ok(ClientFrame::Auth { token }) = serde_json::from_str::<ClientFrame>(text.as_str()) else {
        return None;
    };
    if !token.starts_with(TOKEN_PREFIX) {
        return None;
    }
    state.store.authenticate(secret_hash(&token)).await.ok().flatten()
}

async fn send_text(socket: &mut WebSocket, text: &str) -> bool {
    socket.send(Message::Text(Utf8Bytes::from(text))).await.is_ok()
}

fn event_text(ev: &Event) -> Option<String> {
    serde_json::to_string(ev).ok()
}

async fn run(mut socket: WebSocket, state: AppState, auth: Option<AuthContext>, since: Option<i64>) {
    let auth = match auth {
        Some(a) => a,
        None => match auth_from_frame(&state, &mut socket).await {
            Some(a) => a,
            None => return close(socket, 4401, "authentication required").await,
        },
    };
    let user = auth.user_id;
    let reg = state.hub.register(user, auth.token_id);
    let conn_id = reg.id;
    if reg.first {
        super::presence::went_online(&state, user);
    }
    serve(&mut socket, &state, &auth, since, reg).await;
    if state.hub.unregister(user, conn_id) {
        super::presence::went_offline(&state, user);
    }
}

/// Why `serve` stopped.
enum End {
    Closed,
    Kill(CloseReason),
    Failed,
}

async fn serve(
    socket: &mut WebSocket,
    state: &AppState,
    auth: &AuthContext,
    since: Option<i64>,
    reg: Registration,
) {
    let Registration { mut rx, mut kill, .. } = reg;
    let user = auth.user_id;
    // 1. Replay.
    let Some(mut last) = replay(socket, state, user, &auth.username, since).await else {
        return;
    };
    if !send_text(socket, &signal_text(&Signal::Ready { seq: Seq(last) })).await {
        return;
    }
    super::presence::send_contacts(socket, state, user).await;

    // 2. Live.
    let cfg = &state.config.realtime;
    let mut ping = tokio::time::interval(Duration::from_secs(cfg.ping_interval_secs.max(1)));
    ping.reset();
    let mut token_check = tokio::time::interval(Duration::from_secs(60));
    token_check.reset();
    let mut awaiting_pong = false;
    let mut delivered: HashMap<i64, i64> = HashMap::new();
    let me = auth.username.as_str();
    let end = loop {
        tokio::select! {
            biased;
            _ = kill.changed() => {
                let reason = (*kill.borrow()).unwrap_or(CloseReason::Shutdown);
                break End::Kill(reason);
            }
            frame = rx.recv() => {
                let Some(frame) = frame else { break End::Closed };
                match frame {
                    Outbound::Event { seq, text, message } => {
                        if seq <= last {
                            continue; // already sent by the replay
                        }
                        if !send_text(socket, &text).await {
                            break End::Failed;
                        }
                        last = seq;
                        if let Some(m) = message.filter(|m| m.sender.as_deref().is_some_and(|s| s != me)) {
                            let e = delivered.entry(m.conversation).or_insert(0);
                            *e = (*e).max(m.id);
                        }
                    }
                    Outbound::Signal(text) => {
                        if !send_text(socket, &text).await {
                            break End::Failed;
                        }
                    }
                }
                if rx.is_empty() && !delivered.is_empty() {
                    flush_delivered(state, user, &mut delivered);
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(ClientFrame::Typing { conversation_id }) = serde_json::from_str(text.as_str()) {
                            super::presence::typing(state, user, conversation_id).await;
                        }
                    }
                    Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break End::Closed,
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if awaiting_pong {
                    break End::Failed; // no pong for a whole interval: the peer is gone
                }
                awaiting_pong = true;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break End::Failed;
                }
            }
            _ = token_check.tick() => {
                if !state.store.token_live(auth.token_id).await.unwrap_or(true) {
                    break End::Kill(CloseReason::Revoked);
                }
            }
        }
    };
    if !delivered.is_empty() {
        flush_delivered(state, user, &mut delivered);
    }
    let (code, reason) = match end {
        End::Kill(CloseReason::TooSlow) => (4008, "too slow: reconnect and resume from your cursor"),
        End::Kill(CloseReason::Revoked) => (4401, "token revoked or expired"),
        End::Kill(CloseReason::Shutdown) => (1001, "server shutting down"),
        End::Closed => (1000, "bye"),
        End::Failed => return,
    };
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

fn signal_text(s: &Signal) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Sends every event after `since` (or a resync); returns the last seq sent.
async fn replay(
    socket: &mut WebSocket,
    state: &AppState,
    user: i64,
    me: &str,
    since: Option<i64>,
) -> Option<i64> {
    let Some(mut last) = since else {
        // No cursor: start from now.
        return state.store.latest_seq(user).await.ok().map(|s| s.0);
    };
    loop {
        let page = state.store.events_after(user, Seq(last), PAGE).await.ok()?;
        if page.resync {
            let ev = Event {
                seq: page.latest,
                at: time::OffsetDateTime::now_utc(),
                kind: EventKind::Resync,
            };
            if !send_text(socket, &event_text(&ev)?).await {
                return None;
            }
            return Some(page.latest.0);
        }
        let n = page.events.len();
        let mut delivered: HashMap<i64, i64> = HashMap::new();
        for ev in &page.events {
            if !send_text(socket, &event_text(ev)?).await {
                return None;
            }
            last = ev.seq.0;
            if let EventKind::MessageNew { message } = &ev.kind {
                if message.sender.as_deref().is_some_and(|s| s != me) {
                    let e = delivered.entry(message.conversation_id.0).or_insert(0);
                    *e = (*e).max(message.id.0);
                }
            }
        }
        // Replayed messages reached the device too.
        flush_delivered(state, user, &mut delivered);
        if n < PAGE as usize {
            return Some(last);
        }
    }
}

/// Moves the delivered markers (in the background; markers only move forward).
pub(super) fn flush_delivered(state: &AppState, user: i64, pending: &mut HashMap<i64, i64>) {
    for (conv, up_to) in pending.drain() {
        let store = state.store.clone();
        tokio::spawn(async move {
            let update = MarkerUpdate {
                read_up_to: None,
                delivered_up_to: Some(MessageId(up_to)),
            };
            if let Err(e) = store.update_markers(user, ConversationId(conv), update).await {
                tracing::debug!(error = %e, "delivered marker update failed");
            }
        });
    }
}

/// The presence a user shows, from their availability.
pub fn presence_state(availability: Option<mchat_shared::api::Availability>) -> PresenceState {
    use mchat_shared::api::Availability;
    match availability {
        Some(Availability::Away) => PresenceState::Away,
        Some(Availability::Busy) => PresenceState::Busy,
        _ => PresenceState::Online,
    }
}
