//! The `mchat::live` library against a scripted WebSocket server: what it
//! asks for (`since`, bearer token), how it resumes (no duplicates), how it
//! notices a silent connection, which close codes end it, typing frames
//! and a polite shutdown. Short timeouts keep every case well under a
//! second or two.

// The handshake callback's error type is tungstenite's, not ours to shrink.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use futures_util::{SinkExt, StreamExt};
use mchat::live::{
    BackoffConfig, ConnState, Live, LiveConfig, LiveError, LiveEvent, LiveHandle, OfflineReason,
};
use mchat_shared::ConversationId;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const LIMIT: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<TcpStream>;

/// A server that accepts one connection at a time, recording the request.
struct Fake {
    listener: TcpListener,
}

/// What the client asked for.
#[derive(Debug)]
struct Asked {
    uri: String,
    auth: Option<String>,
}

impl Fake {
    async fn start() -> Fake {
        Fake {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    /// Accepts the next connection (answering the upgrade with `refuse`
    /// instead, when given).
    async fn accept_with(&self, refuse: Option<(u16, &str)>) -> (Option<Ws>, Asked) {
        let (tcp, _) = tokio::time::timeout(LIMIT, self.listener.accept())
            .await
            .expect("the client did not connect")
            .unwrap();
        let asked = Arc::new(Mutex::new(None));
        let record = Arc::clone(&asked);
        let refuse = refuse.map(|(s, b)| (s, b.to_string()));
        let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            *record.lock().unwrap() = Some(Asked {
                uri: req.uri().to_string(),
                auth: req
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
            });
            match refuse {
                Some((status, body)) => {
                    let mut err = ErrorResponse::new(Some(body));
                    *err.status_mut() = StatusCode::from_u16(status).unwrap();
                    Err(err)
                }
                None => Ok(resp),
            }
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await.ok();
        let asked = asked.lock().unwrap().take().unwrap();
        (ws, asked)
    }

    async fn accept(&self) -> (Ws, Asked) {
        let (ws, asked) = self.accept_with(None).await;
        (ws.unwrap(), asked)
    }
}

fn event(seq: i64) -> Message {
    Message::text(format!(
        r#"{{"seq":{seq},"at":"2024-01-01T00:00:00Z","type":"markers_updated","data":{{"conversation_id":1,"markers":{{"username":"ana","delivered_up_to":{seq},"read_up_to":0}}}}}}"#
    ))
}

fn ready(seq: i64) -> Message {
    Message::text(format!(r#"{{"type":"ready","data":{{"seq":{seq}}}}}"#))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

fn config(server: String, cursor: Option<i64>) -> LiveConfig {
    let mut c = LiveConfig::new(server, "mct_secret", cursor);
    c.backoff = BackoffConfig {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
    };
    c.idle_timeout = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(2);
    c
}

/// The next event, bounded.
async fn next(live: &mut LiveHandle) -> LiveEvent {
    tokio::time::timeout(LIMIT, live.events.recv())
        .await
        .expect("no event in time")
        .expect("the task ended")
}

/// Events until one satisfies `done`.
async fn until(live: &mut LiveHandle, done: impl Fn(&LiveEvent) -> bool) -> Vec<LiveEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next(live).await;
        let finished = done(&ev);
        seen.push(ev);
        if finished {
            return seen;
        }
    }
}

fn seqs(events: &[LiveEvent]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Frame(f) => f.seq(),
            _ => None,
        })
        .collect()
}

fn is_seq(n: i64) -> impl Fn(&LiveEvent) -> bool {
    move |e| matches!(e, LiveEvent::Frame(f) if f.seq() == Some(n))
}

#[tokio::test]
async fn a_silent_connection_is_given_up_and_the_stream_resumes_without_duplicates() {
    let fake = Fake::start().await;
    let mut cfg = config(fake.url(), Some(4));
    cfg.idle_timeout = Duration::from_millis(600);
    let mut live = Live::spawn(cfg);

    let (mut first, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=4");
    assert_eq!(asked.auth.as_deref(), Some("Bearer mct_secret"));
    first.send(event(5)).await.unwrap();
    first.send(ready(5)).await.unwrap();
    // ...then silence: no frames, no pongs (the socket is not even read).
    let (mut second, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=5", "resumes after what it delivered");
    second.send(event(5)).await.unwrap(); // a duplicate: dropped
    second.send(event(6)).await.unwrap();
    let seen = until(&mut live, is_seq(6)).await;
    assert_eq!(seqs(&seen), [5, 6]);
    let states: Vec<&ConnState> = seen
        .iter()
        .filter_map(|e| match e {
            LiveEvent::State(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            states[..],
            [
                ConnState::Connecting,
                ConnState::Connected,
                ConnState::Reconnecting {
                    attempt: 1,
                    error: LiveError::Silent(_),
                    ..
                },
                ConnState::Connected
            ]
        ),
        "{states:?}"
    );
    assert_eq!(*live.state.borrow(), ConnState::Connected);
    drop(first);
    live.shutdown().await;
}

#[tokio::test]
async fn from_now_resumes_after_ready_and_4008_or_1001_reconnect() {
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), None));
    let (mut ws, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws", "no cursor: from now");
    ws.send(ready(40)).await.unwrap();
    ws.send(close(1001, "server shutting down")).await.unwrap();
    let (mut ws, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=40", "the gap after 'now' is not lost");
    ws.send(event(41)).await.unwrap();
    ws.send(close(4008, "too slow")).await.unwrap();
    let (mut ws, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=41");
    ws.send(event(42)).await.unwrap();
    let seen = until(&mut live, is_seq(42)).await;
    assert_eq!(seqs(&seen), [41, 42]);
    let closes: Vec<u16> = seen
        .iter()
        .filter_map(|e| match e {
            LiveEvent::State(ConnState::Reconnecting {
                error: LiveError::Closed { code, .. },
                ..
            }) => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(closes, [1001, 4008]);
    live.shutdown().await;
}

#[tokio::test]
async fn a_resync_moves_the_cursor_back() {
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), Some(500)));
    let (mut ws, _) = fake.accept().await;
    ws.send(Message::text(
        r#"{"seq":12,"at":"2024-01-01T00:00:00Z","type":"resync"}"#,
    ))
    .await
    .unwrap();
    ws.send(ready(12)).await.unwrap();
    ws.send(close(1011, "")).await.unwrap();
    let (mut ws, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=12");
    ws.send(event(13)).await.unwrap();
    let seen = until(&mut live, is_seq(13)).await;
    assert_eq!(seqs(&seen), [12, 13]);
    live.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_is_final_whether_refused_or_closed() {
    // Closed with 4401 while connected.
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), Some(1)));
    let (mut ws, _) = fake.accept().await;
    ws.send(close(4401, "token revoked or expired")).await.unwrap();
    let seen = until(&mut live, |e| matches!(e, LiveEvent::State(s) if s.is_final())).await;
    assert_eq!(
        seen.last(),
        Some(&LiveEvent::State(ConnState::Offline(
            OfflineReason::Unauthorized {
                message: "token revoked or expired".into()
            }
        )))
    );
    assert!(
        tokio::time::timeout(LIMIT, live.events.recv())
            .await
            .unwrap()
            .is_none(),
        "the task ended"
    );

    // Refused at the upgrade with HTTP 401 and the API's error body.
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), None));
    let body = r#"{"error":{"code":"unauthorized","message":"the token is not valid"}}"#;
    let _ = fake.accept_with(Some((401, body))).await;
    let seen = until(&mut live, |e| matches!(e, LiveEvent::State(s) if s.is_final())).await;
    assert_eq!(
        seen.last(),
        Some(&LiveEvent::State(ConnState::Offline(
            OfflineReason::Unauthorized {
                message: "the token is not valid".into()
            }
        )))
    );

    // Something that is not mchatd (404): final too, no retry storm.
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), None));
    let _ = fake.accept_with(Some((404, "no such thing"))).await;
    let seen = until(&mut live, |e| matches!(e, LiveEvent::State(s) if s.is_final())).await;
    assert!(
        matches!(seen.last(), Some(LiveEvent::State(ConnState::Offline(OfflineReason::Refused { message }))) if message.contains("404")),
        "{seen:?}"
    );

    // A 503 is retried.
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), None));
    let _ = fake.accept_with(Some((503, "busy"))).await;
    let (_ws, _) = fake.accept().await;
    until(&mut live, |e| *e == LiveEvent::State(ConnState::Connected)).await;
    live.shutdown().await;
}

#[tokio::test]
async fn typing_goes_out_and_shutdown_closes_politely() {
    let fake = Fake::start().await;
    let mut live = Live::spawn(config(fake.url(), Some(3)));
    let (mut ws, _) = fake.accept().await;
    until(&mut live, |e| *e == LiveEvent::State(ConnState::Connected)).await;
    assert!(live.send_typing(ConversationId(3)));
    let frame = tokio::time::timeout(LIMIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"type": "typing", "conversation_id": 3}));
    let state = live.state.clone();
    let closing = tokio::spawn(async move {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    });
    live.shutdown().await;
    assert_eq!(
        tokio::time::timeout(LIMIT, closing).await.unwrap().unwrap(),
        Some(1000)
    );
    assert_eq!(*state.borrow(), ConnState::Offline(OfflineReason::Stopped));
}

#[tokio::test]
async fn a_long_outage_reports_offline_but_keeps_trying() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = config(format!("http://{port}"), Some(1));
    cfg.offline_after = Duration::from_millis(300);
    let mut live = Live::spawn(cfg);
    let seen = until(&mut live, |e| {
        matches!(
            e,
            LiveEvent::State(ConnState::Offline(OfflineReason::Unreachable { .. }))
        )
    })
    .await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            LiveEvent::State(ConnState::Reconnecting {
                error: LiveError::Unreachable(_),
                ..
            })
        )),
        "reconnecting first: {seen:?}"
    );
    assert!(!live.state.borrow().is_final(), "still retrying");
    // The server comes up on that port: connected again.
    let listener = TcpListener::bind(port).await.unwrap();
    let fake = Fake { listener };
    let (_ws, asked) = fake.accept().await;
    assert_eq!(asked.uri, "/v1/ws?since=1");
    until(&mut live, |e| *e == LiveEvent::State(ConnState::Connected)).await;
    live.shutdown().await;
}
