//! One connection: the handshake, then reading frames into the queue for
//! the consumer while answering pings, sending typing frames and watching
//! for silence.

use super::cursor::Tracker;
use super::error::{from_handshake, short};
use super::{LiveConfig, LiveError, LiveEvent};
use futures_util::{SinkExt, StreamExt};
use mchat_shared::realtime::ClientFrame;
use std::collections::VecDeque;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, USER_AGENT};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// The socket type.
pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames held for a slow consumer before the socket is left unread (the
/// server then drops us with 4008 once its own buffer fills, and we resume).
pub(super) const MAX_PENDING: usize = 1024;

/// The largest frame accepted from the server (events are a few KiB).
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// How long a polite close may take.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// What the connection task shares with a session.
pub(super) struct Link {
    pub tx: mpsc::Sender<LiveEvent>,
    pub commands: mpsc::Receiver<ClientFrame>,
    pub commands_open: bool,
    pub stop: watch::Receiver<bool>,
    /// Decoded frames not yet accepted by the consumer's channel.
    pub pending: VecDeque<LiveEvent>,
    pub tracker: Tracker,
    /// Cuts a backoff wait short ([`super::LiveHandle::reconnect_now`]).
    pub retry_now: std::sync::Arc<tokio::sync::Notify>,
}

/// How a session ended.
pub(super) enum End {
    /// The consumer asked to stop (or dropped the handle).
    Stopped,
    /// The consumer dropped the events receiver.
    ConsumerGone,
    /// The connection failed or was closed by the server.
    Failed(LiveError),
}

/// Opens the socket (bearer token in the header), resuming after `since`.
pub(super) async fn connect(cfg: &LiveConfig, since: Option<i64>) -> Result<Ws, LiveError> {
    let url = super::ws_url(&cfg.server, since)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| LiveError::BadUrl(format!("{url}: {}", short(&e))))?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {}", cfg.token.trim())).map_err(|_| LiveError::BadToken)?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    request.headers_mut().insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("mchat/", env!("CARGO_PKG_VERSION"))),
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    // The same roots as the HTTP client (crate::tls), not tungstenite's own.
    let connector = if url.starts_with("wss://") {
        let trust = crate::tls::trust().map_err(|e| LiveError::Unreachable(e.to_string()))?;
        Some(Connector::Rustls(trust.config()))
    } else {
        Some(Connector::Plain)
    };
    match timeout(
        cfg.connect_timeout,
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector),
    )
    .await
    {
        Err(_) => Err(LiveError::Unreachable(format!(
            "no answer within {} s",
            cfg.connect_timeout.as_secs()
        ))),
        Ok(Err(e)) => Err(match crate::tls::describe_failure(&e) {
            Some(tls) => LiveError::Unreachable(tls),
            None => from_handshake(e),
        }),
        Ok(Ok((ws, _response))) => Ok(ws),
    }
}

/// Runs one connection until it fails, the server closes it, or the
/// consumer stops. Frames go to `link.pending` (cursor-checked by
/// `link.tracker`) and from there to the consumer as its channel has room;
/// while more than [`MAX_PENDING`] wait, the socket is not read.
///
/// Dead-connection detection: every frame (ping included) counts as life.
/// After `idle_timeout / 2` of silence we send a ping of our own; after
/// `idle_timeout` the connection is given up ([`LiveError::Silent`]).
/// Time spent not reading because the consumer is behind does not count.
pub(super) async fn session(mut ws: Ws, cfg: &LiveConfig, link: &mut Link) -> End {
    let mut last_heard = Instant::now();
    let mut pinged = false;
    let mut was_reading = true;
    let end = loop {
        let reading = link.pending.len() < MAX_PENDING;
        if reading && !was_reading {
            last_heard = Instant::now();
        }
        was_reading = reading;
        let ping_at = last_heard + cfg.idle_timeout / 2;
        let dead_at = last_heard + cfg.idle_timeout;
        tokio::select! {
            biased;
            _ = stopped(&mut link.stop) => break End::Stopped,
            permit = link.tx.reserve(), if !link.pending.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(ev) = link.pending.pop_front() {
                        permit.send(ev);
                    }
                }
                Err(_) => break End::ConsumerGone,
            },
            cmd = link.commands.recv(), if link.commands_open => match cmd {
                Some(frame) => {
                    let Ok(text) = serde_json::to_string(&frame) else { continue };
                    if let Err(e) = send(&mut ws, Message::text(text), cfg.idle_timeout).await {
                        break End::Failed(e);
                    }
                }
                None => link.commands_open = false,
            },
            msg = ws.next(), if reading => {
                last_heard = Instant::now();
                pinged = false;
                match msg {
                    None => break End::Failed(LiveError::Lost("closed without a close frame".into())),
                    Some(Err(e)) => break End::Failed(lost(&e)),
                    Some(Ok(Message::Text(text))) => {
                        if let Some(ev) = link.tracker.admit(text.as_str()) {
                            link.pending.push_back(ev);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite queued the close reply; let it go out.
                        let _ = timeout(CLOSE_TIMEOUT, ws.flush()).await;
                        break End::Failed(closed(frame));
                    }
                    // Pings are answered by tungstenite as we read; pongs and
                    // binary frames only prove the connection is alive.
                    Some(Ok(_)) => {}
                }
            },
            _ = sleep_until(ping_at), if reading && !pinged => {
                pinged = true;
                if let Err(e) = send(&mut ws, Message::Ping(Default::default()), cfg.idle_timeout).await {
                    break End::Failed(e);
                }
            },
            _ = sleep_until(dead_at), if reading => break End::Failed(LiveError::Silent(cfg.idle_timeout)),
        }
    };
    if matches!(end, End::Stopped | End::ConsumerGone) {
        let bye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        let _ = timeout(CLOSE_TIMEOUT, ws.close(Some(bye))).await;
    }
    end
}

/// Writes one frame; a peer that does not take it within `limit` (a full
/// socket buffer on a dead link) counts as silent.
async fn send(ws: &mut Ws, msg: Message, limit: std::time::Duration) -> Result<(), LiveError> {
    match timeout(limit, ws.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(lost(&e)),
        Err(_) => Err(LiveError::Silent(limit)),
    }
}

/// Resolves once the consumer asked to stop (or dropped the handle).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: that is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// A close frame from the server, as an error: 4401 means the token is no
/// longer valid; everything else is worth a reconnect.
fn closed(frame: Option<CloseFrame>) -> LiveError {
    let (code, reason) = frame
        .map(|f| (u16::from(f.code), f.reason.as_str().to_string()))
        .unwrap_or((1005, String::new()));
    if code == 4401 {
        let reason = if reason.is_empty() {
            "token revoked or expired".to_string()
        } else {
            reason
        };
        return LiveError::Unauthorized(reason);
    }
    LiveError::Closed { code, reason }
}

fn lost(err: &tungstenite::Error) -> LiveError {
    LiveError::Lost(short(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        let frame = |code: u16, reason: &str| {
            Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            })
        };
        assert_eq!(
            closed(frame(4401, "token revoked or expired")),
            LiveError::Unauthorized("token revoked or expired".into())
        );
        assert!(closed(frame(4401, "")).is_final());
        for code in [1000, 1001, 4008, 1011] {
            let e = closed(frame(code, "x"));
            assert!(!e.is_final(), "{code}: {e:?}");
            assert!(matches!(e, LiveError::Closed { code: c, .. } if c == code));
        }
        assert_eq!(
            closed(None),
            LiveError::Closed {
                code: 1005,
                reason: String::new()
            }
        );
    }
}
