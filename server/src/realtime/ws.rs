//! `GET /v1/ws?since=SEQ`: one live connection.
//!
//! Order of a connection's life: authenticate (bearer header, or a first
//! `{"type":"auth"}` frame), register with the hub, replay the log after
//! `since` (or send `resync`), send `ready`, then relay live frames — each
//! logged event with its `seq`, skipping what the replay already sent —
//! while answering client frames (typing) and pinging. Messages from others
//! that reach the socket move the user's delivered marker.
//!
//! Every write races the hub's kill switch, the token's expiry and a time
//! limit: a peer that stops reading blocks only its own task, and only until
//! its queue fills (the hub then closes it) or a ping interval passes. A
//! revoked token closes the socket at once (the hub's kill switch), an
//! expiring one at its expiry instant (both 4401); a check of the token
//! every minute remains as a backstop for revocations that bypass the hub
//! (`mchatd admin reset-password` is another process).

use super::hub::{CloseReason, Outbound, Registration};
use crate::auth::{TOKEN_PREFIX, secret_hash};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;
use crate::store::{AuthContext, MarkerUpdate};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{ClientFrame, Signal};
use mchat_shared::{ConversationId, ErrorCode, MessageId, Seq, UserId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// Replay page size.
const PAGE: u32 = 500;

/// How long the closing frame may take to leave; a peer that does not take
/// it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What ends a connection from outside: the hub's kill switch, and the
/// token's expiry (one timer, armed once per connection).
struct Kill {
    hub: watch::Receiver<Option<CloseReason>>,
    expiry: std::pin::Pin<Box<tokio::time::Sleep>>,
}

#[derive(Debug, serde::Deserialize)]
pub struct WsQuery {
    #[serde(default)]
    pub since: Option<Seq>,
}

/// A request that cannot become a WebSocket, in the API's error shape:
/// without a token it is a 401 (a plain request has no first frame to
/// carry one), otherwise a 400.
fn not_upgradable(rejection: &WebSocketUpgradeRejection, authenticated: bool) -> ApiError {
    if !authenticated {
        return ApiError::unauthorized("a token is required: 'Authorization: Bearer <token>'");
    }
    ApiError::new(
        ErrorCode::ValidationFailed,
        format!(
            "this endpoint only serves WebSocket upgrades: {}",
            rejection.body_text()
        ),
    )
}

/// The live connection (WebSocket, not JSON over HTTP).
///
/// Text frames from the server are `ServerFrame`s: every logged event after
/// `since` (each with its `seq`), then `{"type":"ready"}`, then live events
/// and signals (typing, presence). The client may send `ClientFrame`s: the
/// token as a first `auth` frame when it cannot set headers, and `typing`.
#[utoipa::path(get, path = "/ws", tag = "realtime", operation_id = "websocket", security(("bearer" = []), ()),
    params(crate::openapi::local::WsQuery),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket"),
        (status = 400, response = crate::openapi::responses::Invalid),
        (status = 401, response = crate::openapi::responses::Unauthorized),
    ))]
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, ApiError>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // A bad header is refused before anything else; no header means the
    // token must come as the first frame.
    let auth = crate::auth::from_headers(&state, &headers).await?;
    let ws = ws.map_err(|r| not_upgradable(&r, auth.is_some()))?;
    let Query(q) = query?;
    let cfg = &state.config.realtime;
    Ok(ws
        .max_message_size(cfg.max_frame_bytes)
        .max_frame_size(cfg.max_frame_bytes)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.max_write_buffer_bytes)
        .on_upgrade(move |socket| run(socket, state, auth, q.since)))
}

/// Sends a close frame, giving up after [`CLOSE_TIMEOUT`].
async fn send_close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(frame)).await;
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    send_close(&mut socket, code, reason).await;
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

/// Resolves once the hub closes the connection (at once if it already has)
/// or its token expires.
async fn killed(kill: &mut Kill) -> CloseReason {
    let Kill { hub, expiry } = kill;
    let by_hub = async {
        match hub.wait_for(Option::is_some).await.map(|r| *r) {
            Ok(reason) => reason.unwrap_or(CloseReason::Shutdown),
            // The hub dropped its side: it will never close this connection.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        reason = by_hub => reason,
        () = expiry.as_mut() => CloseReason::Revoked,
    }
}

/// Writes one frame, unless the hub closes the connection first (its
/// queue filled while this write was blocked) or the peer takes longer than
/// `limit` to accept it.
async fn send(socket: &mut WebSocket, kill: &mut Kill, limit: Duration, msg: Message) -> Result<(), End> {
    tokio::select! {
        biased;
        reason = killed(kill) => Err(End::Kill(reason)),
        sent = tokio::time::timeout(limit, socket.send(msg)) => match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(End::Failed),
        },
    }
}

async fn send_text(socket: &mut WebSocket, kill: &mut Kill, limit: Duration, text: &str) -> Result<(), End> {
    send(socket, kill, limit, Message::Text(Utf8Bytes::from(text))).await
}

fn event_text(ev: &Event) -> Option<String> {
    serde_json::to_string(ev).ok()
}

async fn run(mut socket: WebSocket, state: AppState, auth: Option<AuthContext>, since: Option<Seq>) {
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
    let counted = super::presence::connected(&state, user, reg.first);
    serve(&mut socket, &state, &auth, since, reg).await;
    let last = state.hub.unregister(user, conn_id);
    super::presence::disconnected(&state, user, last, counted);
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
    since: Option<Seq>,
    reg: Registration,
) {
    let Registration { rx, kill, .. } = reg;
    let mut kill = Kill {
        hub: kill,
        expiry: Box::pin(tokio::time::sleep_until(super::hub::deadline(auth.expires_at))),
    };
    let end = match stream(socket, state, auth, since, rx, &mut kill).await {
        Ok(()) => End::Closed,
        Err(end) => end,
    };
    let (code, reason) = match end {
        End::Kill(CloseReason::TooSlow) => (4008, "too slow: reconnect and resume from your cursor"),
        End::Kill(CloseReason::Revoked) => (4401, "token revoked or expired"),
        End::Kill(CloseReason::Shutdown) => (1001, "server shutting down"),
        End::Closed => (1000, "bye"),
        End::Failed => return,
    };
    send_close(socket, code, reason).await;
}

/// Replay, `ready`, contacts' presence, then live frames until the peer
/// leaves (`Ok`) or something ends the connection (`Err`).
async fn stream(
    socket: &mut WebSocket,
    state: &AppState,
    auth: &AuthContext,
    since: Option<Seq>,
    mut rx: tokio::sync::mpsc::Receiver<Outbound>,
    kill: &mut Kill,
) -> Result<(), End> {
    let user = auth.user_id;
    let cfg = &state.config.realtime;
    let limit = Duration::from_secs(cfg.ping_interval_secs.max(1));
    // 1. Replay.
    let mut last = replay(socket, kill, limit, state, user, &auth.username, since).await?;
    send_text(socket, kill, limit, &signal_text(&Signal::Ready { seq: last })).await?;
    for text in super::presence::contact_signals(state, user).await {
        send_text(socket, kill, limit, &text).await?;
    }

    // 2. Live.
    let mut ping = tokio::time::interval(limit);
    ping.reset();
    let mut token_check = tokio::time::interval(Duration::from_secs(60));
    token_check.reset();
    let mut awaiting_pong = false;
    let mut delivered: HashMap<ConversationId, MessageId> = HashMap::new();
    let me = auth.username.as_str();
    let end = loop {
        tokio::select! {
            biased;
            reason = killed(kill) => break Err(End::Kill(reason)),
            frame = rx.recv() => {
                let Some(frame) = frame else { break Ok(()) };
                let sent = match frame {
                    Outbound::Event { seq, text, message } => {
                        if seq <= last {
                            continue; // already sent by the replay
                        }
                        let sent = send_text(socket, kill, limit, &text).await;
                        if sent.is_ok() {
                            last = seq;
                            if let Some(m) = message.filter(|m| m.sender.as_deref().is_some_and(|s| s != me)) {
                                let e = delivered.entry(m.conversation).or_insert(MessageId(0));
                                *e = (*e).max(m.id);
                            }
                        }
                        sent
                    }
                    Outbound::Signal(text) => send_text(socket, kill, limit, &text).await,
                };
                if let Err(end) = sent {
                    break Err(end);
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
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break Ok(()),
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if awaiting_pong {
                    break Err(End::Failed); // no pong for a whole interval: the peer is gone
                }
                awaiting_pong = true;
                if let Err(end) = send(socket, kill, limit, Message::Ping(Default::default())).await {
                    break Err(end);
                }
            }
            _ = token_check.tick() => {
                if !state.store.token_live(auth.token_id).await.unwrap_or(true) {
                    break Err(End::Kill(CloseReason::Revoked));
                }
            }
        }
    };
    if !delivered.is_empty() {
        flush_delivered(state, user, &mut delivered);
    }
    end
}

fn signal_text(s: &Signal) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Sends every event after `since` (or a resync); returns the last seq sent.
async fn replay(
    socket: &mut WebSocket,
    kill: &mut Kill,
    limit: Duration,
    state: &AppState,
    user: UserId,
    me: &str,
    since: Option<Seq>,
) -> Result<Seq, End> {
    let Some(mut last) = since else {
        // No cursor: start from now.
        return state.store.latest_seq(user).await.map_err(|_| End::Failed);
    };
    loop {
        let page = state
            .store
            .events_after(user, last, PAGE)
            .await
            .map_err(|_| End::Failed)?;
        if page.resync {
            let ev = Event {
                seq: page.latest,
                at: mchat_shared::Timestamp::now(),
                kind: EventKind::Resync,
            };
            send_text(socket, kill, limit, &event_text(&ev).ok_or(End::Failed)?).await?;
            return Ok(page.latest);
        }
        let n = page.events.len();
        let mut delivered: HashMap<ConversationId, MessageId> = HashMap::new();
        for ev in &page.events {
            if let Err(end) = send_text(socket, kill, limit, &event_text(ev).ok_or(End::Failed)?).await {
                // What did reach the device counts as delivered.
                flush_delivered(state, user, &mut delivered);
                return Err(end);
            }
            last = ev.seq;
            if let EventKind::MessageNew { message } = &ev.kind
                && message.sender.as_deref().is_some_and(|s| s != me)
            {
                let e = delivered.entry(message.conversation_id).or_insert(MessageId(0));
                *e = (*e).max(message.id);
            }
        }
        // Replayed messages reached the device too.
        flush_delivered(state, user, &mut delivered);
        if n < PAGE as usize {
            return Ok(last);
        }
    }
}

/// Moves the delivered markers (in the background; markers only move forward).
pub(super) fn flush_delivered(
    state: &AppState,
    user: UserId,
    pending: &mut HashMap<ConversationId, MessageId>,
) {
    for (conv, up_to) in pending.drain() {
        let store = state.store.clone();
        tokio::spawn(async move {
            let update = MarkerUpdate {
                read_up_to: None,
                delivered_up_to: Some(up_to),
                count_unread: false,
            };
            if let Err(e) = store.update_markers(user, conv, update).await {
                tracing::debug!(error = %e, "delivered marker update failed");
            }
        });
    }
}
