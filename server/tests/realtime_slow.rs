//! A slow consumer never stalls the server: a device that stops reading is
//! dropped once its queue fills (and can resume from its cursor), while a
//! reader of the same events keeps its latency.
//!
//! Alone in its test binary so that no other test's load skews the latency
//! figures it prints (`cargo test --test realtime_slow -- --nocapture`).

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Incoming, Ws, new_message};
use common::{Session, TestServer};
use mchat_shared::MessageId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
/// A long body: each frame is ~3.3 KB, so the stalled socket fills quickly.
const BODY_CHARS: usize = 3000;
/// Sends stop this many messages after the drop (or at the cap).
const AFTER_DROP: usize = 100;
const CAP: usize = 2000;

/// The value of an unlabelled metric in `/metrics` (0 when absent).
async fn metric(who: &Session, name: &str) -> f64 {
    let r = common::Api::send(who.builder(reqwest::Method::GET, "/metrics")).await;
    r.text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (key, value) = l.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_reads_is_dropped_and_others_keep_their_latency() {
    let server = TestServer::start_with("[realtime]\nws_buffer = 16\n");
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let tom_stuck = server.login("tom").await; // the device that stops reading
    let dropped_before = metric(&mira, "mchatd_ws_dropped_slow_total").await;

    // The stalled device: connected (with a small receive buffer), never read.
    let mut stuck = Ws::connect_small(&base, &tom_stuck.token, None, 4096).await;
    // The healthy device records when each message reaches it.
    let (mut reader, _) = Ws::connect_ready(&base, &tom.token, None).await;
    assert_eq!(metric(&mira, "mchatd_ws_connections").await, 2.0);
    let arrivals: Arc<Mutex<HashMap<MessageId, Instant>>> = Arc::default();
    let seen = arrivals.clone();
    let reading = tokio::spawn(async move {
        loop {
            match reader.next(Duration::from_secs(30)).await {
                Some(Incoming::Frame(f)) => {
                    if let Some(m) = new_message(&f) {
                        seen.lock().unwrap().insert(m.id, Instant::now());
                    }
                }
                Some(Incoming::Closed(code)) => panic!("the healthy reader was closed ({code:?})"),
                None => return reader,
            }
        }
    });

    // Send long messages one at a time until the server drops the stalled
    // device, then some more: each send's start is the latency's origin.
    let body = "x".repeat(BODY_CHARS);
    let mut sent: Vec<(MessageId, Instant)> = Vec::new();
    let mut dropped_at = None;
    let started = Instant::now();
    while sent.len() < CAP {
        let t = Instant::now();
        let m = mira.say(conv, &format!("slow-{}", sent.len()), &body).await;
        sent.push((m.id, t));
        if dropped_at.is_none()
            && sent.len().is_multiple_of(10)
            && metric(&mira, "mchatd_ws_dropped_slow_total").await > dropped_before
        {
            dropped_at = Some(sent.len());
        }
        if dropped_at.is_some_and(|at| sent.len() >= at + AFTER_DROP) {
            break;
        }
    }
    let sending = started.elapsed();
    let dropped_at =
        dropped_at.unwrap_or_else(|| panic!("no drop after {CAP} messages of {BODY_CHARS} chars"));

    // Every message reached the healthy device.
    let last = sent.last().unwrap().0;
    let deadline = Instant::now() + WAIT;
    while !arrivals.lock().unwrap().contains_key(&last) {
        assert!(Instant::now() < deadline, "the healthy reader fell behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies: Vec<Duration> = {
        let got = arrivals.lock().unwrap();
        sent.iter()
            .map(|(id, t)| {
                got.get(id)
                    .unwrap_or_else(|| panic!("message {id} never arrived"))
                    .duration_since(*t)
            })
            .collect()
    };
    latencies.sort();
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        *latencies.last().unwrap(),
    );
    println!(
        "slow consumer: dropped after ~{dropped_at} messages of {BODY_CHARS} chars (ws_buffer 16, 4 KiB receive \
         buffer); {} sent in {sending:?}; healthy reader send→receive latency p50 {p50:?}, p99 {p99:?}, max {max:?}",
        sent.len()
    );
    assert!(
        p99 < Duration::from_millis(200),
        "p99 send→receive latency {p99:?}"
    );

    // The stalled device's connection is gone on the server...
    let deadline = Instant::now() + WAIT;
    while metric(&mira, "mchatd_ws_connections").await != 1.0 {
        assert!(
            Instant::now() < deadline,
            "the stalled connection is still registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        metric(&mira, "mchatd_ws_dropped_slow_total").await,
        dropped_before + 1.0
    );
    // ... and when it finally reads, it finds what was buffered, then the
    // end: a 4008 close, or the connection cut.
    let mut before_close = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        match stuck
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Some(Incoming::Frame(f)) => before_close.extend(new_message(&f).map(|m| m.id)),
            Some(Incoming::Closed(code)) => break code,
            None => panic!("the stalled connection is still open"),
        }
    };
    assert!(matches!(code, Some(4008) | None), "closed with {code:?}");
    println!(
        "the stalled device read {} messages, then the close {code:?}",
        before_close.len()
    );

    // It resumes from its cursor and gets the rest: nothing lost, nothing twice.
    let cursor = stuck.cursor.or(stuck.ready).expect("at least ready arrived");
    let (_again, replay) = Ws::connect_ready(&base, &tom_stuck.token, Some(cursor)).await;
    let mut all = before_close;
    all.extend(replay.iter().filter_map(|e| match &e.kind {
        mchat_shared::events::EventKind::MessageNew { message } => Some(message.id),
        _ => None,
    }));
    let want: Vec<MessageId> = sent.iter().map(|(id, _)| *id).collect();
    assert_eq!(all, want, "the stalled device, resumed, has every message once");
    reading.abort();
}
