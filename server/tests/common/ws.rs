//! A small WebSocket client for `GET /v1/ws`, over `tokio-tungstenite`.
//!
//! [`Ws::connect`] authenticates with the bearer header (or, with no token,
//! leaves the first frame to the test), decodes every text frame as a
//! [`ServerFrame`] and answers pings by itself (tungstenite does). Every wait
//! is bounded: [`Ws::next_frame`] panics after its timeout, [`Ws::next`]
//! reports a close or a reset as [`Incoming::Closed`] instead of a frame.
//!
//! [`Ws::connect_small`] opens a connection with a tiny receive buffer, for
//! the slow-consumer test: the server's writes block after a few kilobytes
//! instead of after the megabytes a loopback socket normally absorbs.

use mchat_shared::ConversationId;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{PresenceState, ServerFrame, Signal};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use futures_util::{SinkExt, StreamExt};

/// What the next read brought.
#[derive(Debug)]
pub enum Incoming {
    Frame(ServerFrame),
    /// The server closed: its close code (`None` without a close frame:
    /// the connection ended or was reset).
    Closed(Option<u16>),
}

/// One live connection.
pub struct Ws {
    stream: WebSocketStream<TcpStream>,
    /// `ready`'s seq, once seen.
    pub ready: Option<i64>,
    /// The seq of the last logged event read (the client's cursor).
    pub cursor: Option<i64>,
    closed: Option<Option<u16>>,
}

/// `ws://HOST:PORT/v1/ws[?since=SEQ]` from the server's `http://HOST:PORT`.
pub fn ws_url(base: &str, since: Option<i64>) -> String {
    let host = base.trim_end_matches('/').replacen("http://", "ws://", 1);
    match since {
        Some(s) => format!("{host}/v1/ws?since={s}"),
        None => format!("{host}/v1/ws"),
    }
}

impl Ws {
    /// Connects with `Authorization: Bearer TOKEN` (no header without a
    /// token); the server's answer on failure (e.g. 401 before the upgrade).
    pub async fn try_connect(
        base: &str,
        token: Option<&str>,
        since: Option<i64>,
    ) -> Result<Ws, tungstenite::Error> {
        Ws::open(base, &ws_url(base, since), token, None).await
    }

    /// Like [`Ws::try_connect`] with a raw query string (`"since=abc"`).
    pub async fn try_connect_query(
        base: &str,
        token: Option<&str>,
        query: &str,
    ) -> Result<Ws, tungstenite::Error> {
        let url = format!("{}?{query}", ws_url(base, None));
        Ws::open(base, &url, token, None).await
    }

    /// Connects and panics unless the upgrade succeeds.
    pub async fn connect(base: &str, token: &str, since: Option<i64>) -> Ws {
        Ws::try_connect(base, Some(token), since)
            .await
            .unwrap_or_else(|e| panic!("WebSocket connect failed: {}", describe(&e)))
    }

    /// Connects, then reads the replay up to `ready` (panics on anything
    /// else than events before it). Returns the replayed events.
    pub async fn connect_ready(base: &str, token: &str, since: Option<i64>) -> (Ws, Vec<Event>) {
        let mut ws = Ws::connect(base, token, since).await;
        let replay = ws.until_ready(Duration::from_secs(10)).await;
        (ws, replay)
    }

    /// Like [`Ws::connect`] with a receive buffer of `bytes` (the kernel
    /// rounds it up to a few KiB): a reader that never reads fills it fast.
    pub async fn connect_small(base: &str, token: &str, since: Option<i64>, bytes: u32) -> Ws {
        Ws::open(base, &ws_url(base, since), Some(token), Some(bytes))
            .await
            .unwrap_or_else(|e| panic!("WebSocket connect failed: {}", describe(&e)))
    }

    async fn open(
        base: &str,
        url: &str,
        token: Option<&str>,
        recv_buffer: Option<u32>,
    ) -> Result<Ws, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("token is header-safe");
            request.headers_mut().insert("authorization", value);
        }
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let addr: std::net::SocketAddr = host.parse().expect("the test server listens on IP:PORT");
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }?;
        if let Some(bytes) = recv_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let tcp = socket.connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (stream, _response) = client_async(request, tcp).await?;
        Ok(Ws {
            stream,
            ready: None,
            cursor: None,
            closed: None,
        })
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("WebSocket send failed");
    }

    /// Sends `value` as a JSON text frame.
    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    /// `{"type":"typing","conversation_id":ID}`.
    pub async fn typing(&mut self, conversation: impl std::fmt::Display) {
        self.send_text(&format!(
            r#"{{"type":"typing","conversation_id":{conversation}}}"#
        ))
        .await;
    }

    /// The next frame or close, or `None` when nothing came within `timeout`.
    /// Tracks `ready` and the cursor; pings are answered and skipped.
    pub async fn next(&mut self, timeout: Duration) -> Option<Incoming> {
        if let Some(code) = self.closed {
            return Some(Incoming::Closed(code));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return None,
                Ok(msg) => msg,
            };
            let code = match msg {
                Some(Ok(Message::Text(text))) => {
                    let frame: ServerFrame = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("undecodable server frame ({e}): {text}"));
                    match &frame {
                        ServerFrame::Event(ev) => self.cursor = Some(ev.seq.0),
                        ServerFrame::Signal(Signal::Ready { seq }) => self.ready = Some(seq.0),
                        ServerFrame::Signal(_) => {}
                    }
                    return Some(Incoming::Frame(frame));
                }
                Some(Ok(Message::Close(frame))) => frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Binary(b))) => panic!("unexpected binary frame ({} bytes)", b.len()),
                Some(Ok(_)) => continue, // ping, pong
                Some(Err(_)) | None => None,
            };
            self.closed = Some(code);
            return Some(Incoming::Closed(code));
        }
    }

    /// The next frame; panics on timeout or close.
    pub async fn next_frame(&mut self, timeout: Duration) -> ServerFrame {
        match self.next(timeout).await {
            Some(Incoming::Frame(f)) => f,
            Some(Incoming::Closed(code)) => {
                panic!("the connection closed ({code:?}) while a frame was expected")
            }
            None => panic!("no frame within {timeout:?}"),
        }
    }

    /// Frames up to and including the first that matches `pred`; panics if
    /// none does within `timeout` (or the connection closes).
    pub async fn collect_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&ServerFrame) -> bool,
    ) -> Vec<ServerFrame> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Incoming::Frame(f)) => {
                    let done = pred(&f);
                    got.push(f);
                    if done {
                        return got;
                    }
                }
                Some(Incoming::Closed(code)) => {
                    panic!("the connection closed ({code:?}) before the awaited frame; got {got:#?}")
                }
                None => panic!("the awaited frame did not come within {timeout:?}; got {got:#?}"),
            }
        }
    }

    /// The first frame matching `pred` (others are skipped).
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl FnMut(&ServerFrame) -> bool,
    ) -> ServerFrame {
        self.collect_until(timeout, pred)
            .await
            .pop()
            .expect("collect_until returns the match")
    }

    /// The replayed events, up to `ready` (which must come within `timeout`).
    pub async fn until_ready(&mut self, timeout: Duration) -> Vec<Event> {
        let frames = self
            .collect_until(timeout, |f| {
                matches!(f, ServerFrame::Signal(Signal::Ready { .. }))
            })
            .await;
        frames
            .into_iter()
            .filter_map(|f| match f {
                ServerFrame::Event(ev) => Some(*ev),
                ServerFrame::Signal(Signal::Ready { .. }) => None,
                other => panic!("a signal before ready: {other:?}"),
            })
            .collect()
    }

    /// Asserts that nothing but frames accepted by `allowed` arrives for
    /// `window` (and that the connection stays open).
    pub async fn expect_silence_except(
        &mut self,
        window: Duration,
        mut allowed: impl FnMut(&ServerFrame) -> bool,
    ) {
        let deadline = Instant::now() + window;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next(left).await {
                None => return,
                Some(Incoming::Frame(f)) if allowed(&f) => {}
                Some(other) => panic!("expected silence for {window:?}, got {other:?}"),
            }
        }
    }

    /// Asserts that nothing arrives for `window`.
    pub async fn expect_silence(&mut self, window: Duration) {
        self.expect_silence_except(window, |_| false).await;
    }

    /// Reads (and drops) frames until the server closes; the close code
    /// (`None`: closed or reset without a close frame). Panics if the
    /// connection is still open after `timeout`.
    pub async fn expect_close(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Incoming::Closed(code)) => return code,
                Some(Incoming::Frame(_)) => {}
                None => panic!("the connection is still open after {timeout:?}"),
            }
        }
    }

    /// Closes from the client side (close frame, then drop).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.close(None)).await;
    }
}

/// A connect error, with the HTTP status and body when the server refused.
pub fn describe(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(resp) => format!(
            "HTTP {}: {}",
            resp.status(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
        ),
        other => other.to_string(),
    }
}

/// The HTTP status and JSON body of a refused upgrade; panics if it succeeded.
pub fn refused(result: Result<Ws, tungstenite::Error>) -> (StatusCode, Value) {
    match result {
        Ok(_) => panic!("the upgrade succeeded; a refusal was expected"),
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp.body().as_deref().unwrap_or_default();
            let value = serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
            (resp.status(), value)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    }
}

/// The event inside a frame, if it is one.
pub fn event(f: &ServerFrame) -> Option<&Event> {
    match f {
        ServerFrame::Event(ev) => Some(ev),
        ServerFrame::Signal(_) => None,
    }
}

/// The new message a frame carries, if any.
pub fn new_message(f: &ServerFrame) -> Option<&mchat_shared::api::Message> {
    match event(f).map(|e| &e.kind) {
        Some(EventKind::MessageNew { message }) => Some(message),
        _ => None,
    }
}

/// Is this a new-message event with id `id`?
pub fn is_message(f: &ServerFrame, id: mchat_shared::MessageId) -> bool {
    new_message(f).is_some_and(|m| m.id == id)
}

/// A typing signal: conversation, who, active.
pub fn typing_of(f: &ServerFrame) -> Option<(ConversationId, &str, bool)> {
    match f {
        ServerFrame::Signal(Signal::Typing {
            conversation_id,
            username,
            active,
        }) => Some((*conversation_id, username.as_str(), *active)),
        _ => None,
    }
}

/// `who`'s presence signal: their state, and whether it says when they were last seen.
pub fn presence_of(f: &ServerFrame, who: &str) -> Option<(PresenceState, bool)> {
    match f {
        ServerFrame::Signal(Signal::Presence {
            username,
            state,
            last_seen,
        }) if username == who => Some((*state, last_seen.is_some())),
        _ => None,
    }
}
