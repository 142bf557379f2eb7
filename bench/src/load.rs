//! Closed-loop send load: W workers (one keep-alive client each) pull
//! message numbers from a shared counter until N sends are done, like
//! `bench_throughput` in the peer bench. Every send must answer 201.

use crate::api::Api;
use anyhow::{Context, Result, anyhow};
use mchat_shared::{ConversationId, MessageId};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One worker: a client (with its user's token) and the conversation it writes to.
#[derive(Clone)]
pub struct Target {
    pub api: Api,
    pub conv: ConversationId,
}

/// One completed send.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds from the start of the run to completion (for completion order).
    pub done_at: f64,
    pub client_ms: f64,
    pub server_ms: Option<f64>,
}

/// A finished run: samples in completion order, the ids if asked for, wall time.
#[derive(Debug)]
pub struct Outcome {
    pub samples: Vec<Sample>,
    pub ids: Vec<MessageId>,
    pub secs: f64,
}

impl Outcome {
    pub fn msg_per_s(&self) -> f64 {
        self.samples.len() as f64 / self.secs.max(1e-9)
    }
}

/// The message body for send `i` of a run tagged `tag`, padded to about `len` bytes.
pub fn body(tag: &str, i: usize, len: usize) -> String {
    const FILL: &str = " the quick brown fox jumps over the lazy dog";
    let mut b = format!("{tag}-{i}");
    let unique = b.len();
    while b.len() < len {
        b.push_str(FILL);
    }
    b.truncate(len.max(unique));
    b
}

/// Runs `n` sends spread over `targets` (concurrency = number of targets).
/// `label` names the run in progress lines on stderr, printed every few seconds.
pub async fn run(
    targets: Vec<Target>,
    n: usize,
    tag: &str,
    body_len: usize,
    want_ids: bool,
    label: &str,
) -> Result<Outcome> {
    if targets.is_empty() {
        return Err(anyhow!("no workers"));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let mut set = JoinSet::new();
    for t in targets {
        let (next, done, stop, tag) = (next.clone(), done.clone(), stop.clone(), tag.to_owned());
        set.spawn(async move {
            let mut samples = Vec::new();
            let mut ids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let sent = t.api.send(t.conv, body(&tag, i, body_len), want_ids).await;
                let (timing, id) = match sent.with_context(|| format!("send #{i}")) {
                    Ok(r) => r,
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                };
                samples.push(Sample {
                    done_at: t0.elapsed().as_secs_f64(),
                    client_ms: timing.client_ms,
                    server_ms: timing.server_ms,
                });
                ids.extend(id);
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok((samples, ids))
        });
    }
    let progress = {
        let (done, label) = (done.clone(), label.to_owned());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                let d = done.load(Ordering::Relaxed);
                let secs = t0.elapsed().as_secs_f64();
                eprintln!("  {label}: {d}/{n} sends, {:.0}/s", d as f64 / secs.max(1e-9));
            }
        })
    };
    let mut samples = Vec::with_capacity(n);
    let mut ids = Vec::new();
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((s, i))) => {
                samples.extend(s);
                ids.extend(i);
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(anyhow!("a send worker failed: {e}"));
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    progress.abort();
    if let Some(e) = first_err {
        return Err(e.context(format!("{label} aborted")));
    }
    samples.sort_by(|a, b| a.done_at.total_cmp(&b.done_at));
    Ok(Outcome { samples, ids, secs })
}

#[cfg(test)]
mod tests {
    use super::body;

    #[test]
    fn bodies_are_unique_and_sized() {
        assert_eq!(body("tp", 7, 60).len(), 60);
        assert!(body("tp", 7, 60).starts_with("tp-7 "));
        assert_ne!(body("tp", 1, 60), body("tp", 2, 60));
        assert_eq!(body("tp", 3, 0), "tp-3");
        assert_eq!(body("tp", 12345, 3), "tp-12345");
    }
}
