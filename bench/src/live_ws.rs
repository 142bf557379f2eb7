//! WebSocket clients for `mchat-bench live`: connecting to `GET /v1/ws` with
//! a bearer token and waiting for `ready`, reading the measuring socket until
//! a marked message arrives, and a fleet of idle sockets, each read by one
//! minimal task so that pings are answered and nothing piles up.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// A client WebSocket over plain TCP (loopback only).
pub type Ws = WebSocketStream<TcpStream>;

/// TCP connect + upgrade + replay-to-`ready` must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Small buffers, like the server's own (4 KiB read, eager writes): the
/// benchmark holds 10k of these in one process.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Upgrades `ws://addr/v1/ws` (optionally `?since=SEQ`) with
/// `Authorization: Bearer TOKEN` over a TCP_NODELAY socket, reading nothing.
pub async fn upgrade(addr: SocketAddr, token: &str, since: Option<i64>) -> Result<Ws> {
    if !addr.ip().is_loopback() {
        bail!("refusing: the benchmark targets loopback only, not {addr}");
    }
    let url = match since {
        Some(s) => format!("ws://{addr}/v1/ws?since={s}"),
        None => format!("ws://{addr}/v1/ws"),
    };
    let mut req = url.as_str().into_client_request().context("bad WebSocket URL")?;
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).context("bad token")?;
    req.headers_mut().insert(AUTHORIZATION, auth);
    let tcp = TcpStream::connect(addr).await.context("TCP connect")?;
    tcp.set_nodelay(true).context("TCP_NODELAY")?;
    let (ws, _resp) = tokio_tungstenite::client_async_with_config(req, tcp, Some(client_config()))
        .await
        .context("WebSocket upgrade")?;
    Ok(ws)
}

/// Opens `ws://addr/v1/ws` (optionally `?since=SEQ`) with `Authorization:
/// Bearer TOKEN` and reads until the server's `ready`; returns the socket
/// and the `ready` seq. Frames before `ready` (a replay) are discarded.
pub async fn connect(addr: SocketAddr, token: &str, since: Option<i64>) -> Result<(Ws, i64)> {
    let work = async {
        let mut ws = upgrade(addr, token, since).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Some(seq) = ready_seq(t.as_str()) {
                        return Ok((ws, seq));
                    }
                }
                Some(Ok(Message::Close(f))) => bail!("closed before ready: {f:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow!(e).context("reading until ready")),
                None => bail!("connection ended before ready"),
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .map_err(|_| anyhow!("no ready within {CONNECT_TIMEOUT:?}"))?
}

/// The seq of a `{"type":"ready","data":{"seq":N}}` frame.
pub fn ready_seq(text: &str) -> Option<i64> {
    if !text.contains("\"ready\"") {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    (v["type"] == "ready").then(|| v["data"]["seq"].as_i64())?
}

/// Whether `text` is the `message_new` frame whose message body is `body`.
pub fn is_message_with_body(text: &str, body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    v["type"] == "message_new" && v["data"]["message"]["body"] == body
}

/// Reads `ws` until the `message_new` frame carrying `body` (which contains
/// the unique `marker`) arrives. Returns when it was read and how many other
/// frames (markers, presence, pings...) were skipped on the way.
pub async fn wait_for_body(
    ws: &mut Ws,
    marker: &str,
    body: &str,
    timeout: Duration,
) -> Result<(Instant, usize)> {
    let mut skipped = 0;
    let work = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let seen = Instant::now();
                    if t.as_str().contains(marker) && is_message_with_body(t.as_str(), body) {
                        return Ok(seen);
                    }
                    skipped += 1;
                }
                Some(Ok(Message::Close(f))) => bail!("the receiving socket was closed: {f:?}"),
                Some(Ok(_)) => skipped += 1,
                Some(Err(e)) => return Err(anyhow!(e).context("receiving socket")),
                None => bail!("the receiving socket ended"),
            }
        }
    };
    let seen = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow!("message {marker} not received within {timeout:?}"))??;
    Ok((seen, skipped))
}

/// Sends a normal close and waits (bounded) for the server's answer.
pub async fn close_politely(ws: &mut Ws, wait: Duration) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "bench done".into(),
    };
    let _ = tokio::time::timeout(wait, async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// Counters shared by the idle sockets' tasks.
#[derive(Default)]
struct FleetStats {
    /// Connected (past `ready`) and not closed yet.
    open: AtomicUsize,
    /// Closed by the server or failed while idle (not by our shutdown).
    dropped: AtomicUsize,
    /// Frames read on idle sockets after `ready` (presence, pings...).
    frames: AtomicU64,
    /// Closed cleanly at shutdown.
    closed_clean: AtomicUsize,
    first_drop: Mutex<Option<String>>,
}

/// How one ramp step's connects went.
#[derive(Debug, Clone)]
pub struct Opened {
    pub ok: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub secs: f64,
}

/// How the fleet's shutdown went.
#[derive(Debug, Clone)]
pub struct Closed {
    pub clean: usize,
    pub aborted: usize,
    pub secs: f64,
}

/// Idle WebSocket connections, one small task each. Shut it down with
/// [`Fleet::shutdown`]; dropping it only tells the tasks to close.
pub struct Fleet {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    stats: Arc<FleetStats>,
    connecting: Arc<Semaphore>,
    spawned: usize,
}

impl Fleet {
    /// `batch`: connects in flight at once.
    pub fn new(addr: SocketAddr, batch: usize) -> Fleet {
        Fleet {
            addr,
            shutdown: watch::channel(false).0,
            tasks: JoinSet::new(),
            stats: Arc::new(FleetStats::default()),
            connecting: Arc::new(Semaphore::new(batch.max(1))),
            spawned: 0,
        }
    }

    /// Sockets connected and still open.
    pub fn open(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    /// Sockets the server closed or that failed while idle.
    pub fn dropped(&self) -> usize {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    pub fn first_drop(&self) -> Option<String> {
        self.stats.first_drop.lock().ok().and_then(|g| g.clone())
    }

    pub fn frames(&self) -> u64 {
        self.stats.frames.load(Ordering::Relaxed)
    }

    /// Opens `n` more sockets, the k-th with `tokens[(spawned + k) % len]`
    /// (several devices per user), at most `batch` connecting at once; waits
    /// until each is past `ready` or failed, at most `limit`.
    pub async fn open_more(&mut self, n: usize, tokens: &[Arc<str>], limit: Duration) -> Result<Opened> {
        if tokens.is_empty() {
            bail!("no users to open sockets for");
        }
        let t0 = Instant::now();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        for k in 0..n {
            let token = tokens[(self.spawned + k) % tokens.len()].clone();
            let (addr, stats, sem) = (self.addr, self.stats.clone(), self.connecting.clone());
            let mut stop = self.shutdown.subscribe();
            let done = done_tx.clone();
            self.tasks.spawn(async move {
                let conn = {
                    let Ok(_permit) = sem.acquire().await else {
                        let _ = done.send(Err("semaphore closed".into()));
                        return;
                    };
                    if *stop.borrow() {
                        let _ = done.send(Err("shut down while connecting".into()));
                        return;
                    }
                    connect(addr, &token, None).await
                };
                let mut ws = match conn {
                    Ok((ws, _)) => ws,
                    Err(e) => {
                        let _ = done.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                drop(token);
                stats.open.fetch_add(1, Ordering::Relaxed);
                let _ = done.send(Ok(()));
                drop(done);
                idle(&mut ws, &mut stop, &stats).await;
            });
        }
        self.spawned += n;
        drop(done_tx);
        let (mut ok, mut failed, mut first_error) = (0, 0, None);
        let deadline = tokio::time::Instant::now() + limit;
        while ok + failed < n {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some(Ok(()))) => ok += 1,
                Ok(Some(Err(e))) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
                Ok(None) => break,
                Err(_) => {
                    first_error.get_or_insert(format!(
                        "{} of {n} connects unfinished after {limit:?}",
                        n - ok - failed
                    ));
                    failed = n - ok;
                    break;
                }
            }
        }
        Ok(Opened {
            ok,
            failed,
            first_error,
            secs: t0.elapsed().as_secs_f64(),
        })
    }

    /// Tells every task to send a close frame, waits up to `limit` for them,
    /// then aborts the rest.
    pub async fn shutdown(&mut self, limit: Duration) -> Closed {
        let t0 = Instant::now();
        let _ = self.shutdown.send(true);
        self.connecting.close();
        let drained =
            tokio::time::timeout(limit, async { while self.tasks.join_next().await.is_some() {} }).await;
        let aborted = if drained.is_err() {
            let left = self.tasks.len();
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
            left
        } else {
            0
        };
        Closed {
            clean: self.stats.closed_clean.load(Ordering::Relaxed),
            aborted,
            secs: t0.elapsed().as_secs_f64(),
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The life of one idle socket: read (and so answer pings) until told to stop.
async fn idle(ws: &mut Ws, stop: &mut watch::Receiver<bool>, stats: &FleetStats) {
    let dropped = |why: String| {
        stats.open.fetch_sub(1, Ordering::Relaxed);
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = stats.first_drop.lock() {
            first.get_or_insert(why);
        }
    };
    loop {
        tokio::select! {
            () = async { let _ = stop.wait_for(|s| *s).await; } => {
                close_politely(ws, Duration::from_secs(3)).await;
                stats.open.fetch_sub(1, Ordering::Relaxed);
                stats.closed_clean.fetch_add(1, Ordering::Relaxed);
                return;
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(f))) => return dropped(format!("closed by the server: {f:?}")),
                Some(Ok(_)) => {
                    stats.frames.fetch_add(1, Ordering::Relaxed);
                }
                Some(Err(e)) => return dropped(format!("read error: {e}")),
                None => return dropped("connection ended".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_ready_and_message_frames() {
        assert_eq!(ready_seq(r#"{"type":"ready","data":{"seq":42}}"#), Some(42));
        assert_eq!(
            ready_seq(r#"{"type":"presence","data":{"username":"ready"}}"#),
            None
        );
        let m = r#"{"seq":7,"at":"2026-01-01T00:00:00Z","type":"message_new","data":{"message":{"id":1,"body":"[lat-1] x"}}}"#;
        assert!(is_message_with_body(m, "[lat-1] x"));
        assert!(!is_message_with_body(m, "[lat-1]"));
        let n = r#"{"seq":8,"type":"notification_new","data":{"notification":{"body":"[lat-1] x"}}}"#;
        assert!(!is_message_with_body(n, "[lat-1] x"));
    }
}
