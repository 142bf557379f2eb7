//! The online recipients of `mchat-bench load`: one WebSocket per user that
//! records every `message_new` of the run (conversation, id) in arrival
//! order, checks that `seq` only goes forward, and, if the server closes it,
//! reconnects with `?since=` its last seq (replay included), as a client would.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::live_ws::Ws;

/// Reconnects allowed per listener before it gives up.
const MAX_RECONNECTS: u32 = 5;

/// What one online user received.
#[derive(Debug, Default)]
pub struct Received {
    /// (conversation id, message id) of the run's messages, in arrival order.
    pub messages: Vec<(i64, i64)>,
    pub reconnects: u32,
    /// Frames whose seq was not above the previous one.
    pub seq_regressions: u64,
    pub error: Option<String>,
}

/// Shared progress of all listeners.
#[derive(Debug, Default)]
pub struct Progress {
    /// Listeners that have seen `ready` on their first connection.
    pub ready: AtomicUsize,
    /// Listeners that have received their expected count.
    pub complete: AtomicUsize,
}

/// Upgrades `ws://addr/v1/ws[?since=SEQ]` without reading anything.
async fn open(addr: SocketAddr, token: &str, since: Option<i64>) -> Result<Ws> {
    tokio::time::timeout(
        Duration::from_secs(20),
        crate::live_ws::upgrade(addr, token, since),
    )
    .await
    .map_err(|_| anyhow!("WebSocket connect timed out"))?
}

/// Listens until `stop` turns true (or the connection fails for good).
/// Counts itself complete in `progress` once `expected` messages came.
pub async fn listen(
    addr: SocketAddr,
    token: Arc<str>,
    prefix: Arc<str>,
    expected: usize,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let mut out = Received::default();
    let mut last_seq: Option<i64> = None;
    let mut counted_ready = false;
    let mut counted_complete = false;
    let result: Result<()> = async {
        loop {
            let mut ws = open(addr, &token, last_seq).await?;
            loop {
                let msg = tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    m = ws.next() => m,
                };
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let v: Value = serde_json::from_str(text.as_str()).context("bad frame")?;
                if v["type"] == "ready" {
                    if !counted_ready {
                        counted_ready = true;
                        progress.ready.fetch_add(1, Ordering::SeqCst);
                    }
                    continue;
                }
                if let Some(seq) = v["seq"].as_i64() {
                    if last_seq.is_some_and(|l| seq <= l) {
                        out.seq_regressions += 1;
                    }
                    last_seq = Some(last_seq.map_or(seq, |l| l.max(seq)));
                }
                if v["type"] != "message_new" {
                    continue;
                }
                let m = &v["data"]["message"];
                let ours = m["client_id"].as_str().is_some_and(|c| c.starts_with(&*prefix));
                if let (true, Some(conv), Some(id)) = (ours, m["conversation_id"].as_i64(), m["id"].as_i64())
                {
                    out.messages.push((conv, id));
                    if !counted_complete && out.messages.len() >= expected {
                        counted_complete = true;
                        progress.complete.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            if *stop.borrow() {
                return Ok(());
            }
            out.reconnects += 1;
            if out.reconnects > MAX_RECONNECTS {
                bail!("closed more than {MAX_RECONNECTS} times");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    .await;
    if let Err(e) = result {
        out.error = Some(format!("{e:#}"));
    }
    out
}
