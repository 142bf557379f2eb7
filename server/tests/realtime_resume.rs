//! Resuming from a cursor: a reconnect and a server restart in the middle of
//! a 1,000-message burst lose nothing and duplicate nothing, and cursors
//! older than the retention horizon get `resync` (while a caught-up cursor
//! never does, even after everything was pruned).

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Incoming, Ws, event, is_message, new_message};
use common::{Api, Session, TestServer};
use mchat_shared::api::{Message, MessageKind};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::{ServerFrame, Signal, SyncResponse};
use mchat_shared::{ConversationId, MessageId};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
const BURST: usize = 1000;
const WORKERS: usize = 4;

async fn sync(who: &Session, query: &str) -> SyncResponse {
    who.get_ok(&format!("/v1/sync?{query}")).await
}

async fn latest(who: &Session) -> i64 {
    sync(who, "").await.next.0
}

/// Progress and pacing of a [`burst`].
#[derive(Default)]
struct Gauge {
    /// Messages stored so far.
    sent: AtomicUsize,
    /// Messages with an index below this may go (the rest wait).
    allowed: AtomicUsize,
}

impl Gauge {
    fn new(allowed: usize) -> Arc<Gauge> {
        Arc::new(Gauge {
            sent: AtomicUsize::new(0),
            allowed: AtomicUsize::new(allowed),
        })
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    fn allow(&self, n: usize) {
        self.allowed.store(n, Ordering::Relaxed);
    }
}

/// Sends `n` messages from `api` over `WORKERS` parallel streams, like a
/// client with an outbox: each is retried with the same `client_id` through
/// connection errors and 5xx answers (a restart) until it is stored.
/// `gauge` counts stored messages and holds back those not yet allowed.
/// Returns their ids.
async fn burst(api: Api, conv: ConversationId, n: usize, gauge: Arc<Gauge>) -> Vec<MessageId> {
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let api = api.clone();
        let gauge = gauge.clone();
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (w..n).step_by(WORKERS) {
                while i >= gauge.allowed.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let body = json!({"client_id": format!("burst-{i}"), "body": format!("burst message {i}")});
                let deadline = Instant::now() + Duration::from_secs(60);
                let id = loop {
                    assert!(Instant::now() < deadline, "message {i} was never stored");
                    let rb = api
                        .builder(
                            reqwest::Method::POST,
                            &format!("/v1/conversations/{conv}/messages"),
                        )
                        .json(&body);
                    match rb.send().await {
                        Ok(resp) if resp.status().is_success() => {
                            let status = resp.status();
                            let m: Message = resp.json().await.expect("a message");
                            assert!(status == StatusCode::CREATED || status == StatusCode::OK);
                            break m.id;
                        }
                        Ok(resp) if resp.status().is_server_error() => {}
                        Ok(resp) => panic!(
                            "message {i}: {} {}",
                            resp.status(),
                            resp.text().await.unwrap_or_default()
                        ),
                        Err(_) => {} // the server is restarting
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                gauge.sent.fetch_add(1, Ordering::Relaxed);
                ids.push(id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await.expect("burst worker"));
    }
    ids
}

/// A client that processes events in order, remembers the last seq, and
/// reconnects from it whenever its connection ends.
struct Resumer {
    /// Follows the server across restarts (its base URL is shared).
    api: Api,
    token: String,
    ws: Option<Ws>,
    cursor: i64,
    /// Message ids from `from`, in the order they were processed.
    got: Vec<MessageId>,
    from: String,
    connections: usize,
    /// Close codes seen (`None`: closed without a close frame).
    closes: Vec<Option<u16>>,
    /// Messages that came in replays (before `ready`) after a reconnect.
    replayed: usize,
    live: usize,
    in_replay: bool,
}

impl Resumer {
    fn new(api: Api, token: &str, cursor: i64, from: &str) -> Resumer {
        Resumer {
            api,
            token: token.to_string(),
            ws: None,
            cursor,
            got: Vec::new(),
            from: from.to_string(),
            connections: 0,
            closes: Vec::new(),
            replayed: 0,
            live: 0,
            in_replay: false,
        }
    }

    fn base(&self) -> String {
        self.api.url("")
    }

    /// Connects from the cursor, retrying while the server is away.
    async fn connect(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Ws::try_connect(&self.base(), Some(&self.token), Some(self.cursor)).await {
                Ok(ws) => {
                    self.ws = Some(ws);
                    self.connections += 1;
                    self.in_replay = true;
                    return;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot reconnect: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Drops the connection without a close frame, as a lost network would.
    fn cut(&mut self) {
        self.ws = None;
    }

    /// Processes one frame (or notices a close and reconnects).
    async fn step(&mut self, timeout: Duration) {
        if self.ws.is_none() {
            self.connect().await;
        }
        let ws = self.ws.as_mut().unwrap();
        match ws.next(timeout).await {
            None => {}
            Some(Incoming::Closed(code)) => {
                self.closes.push(code);
                self.ws = None;
            }
            Some(Incoming::Frame(f)) => self.process(&f),
        }
    }

    fn process(&mut self, f: &ServerFrame) {
        if let ServerFrame::Signal(Signal::Ready { seq }) = f {
            assert_eq!(seq.0, self.cursor, "ready is where the replay ended");
            self.in_replay = false;
            return;
        }
        let Some(ev) = event(f) else { return };
        assert!(
            ev.seq.0 > self.cursor,
            "seq {} after cursor {}: a duplicate or out of order",
            ev.seq.0,
            self.cursor
        );
        assert_ne!(ev.kind, EventKind::Resync, "a valid cursor never needs a resync");
        self.cursor = ev.seq.0;
        if let Some(m) = new_message(f).filter(|m| m.sender.as_deref() == Some(self.from.as_str())) {
            self.got.push(m.id);
            if self.connections > 1 && self.in_replay {
                self.replayed += 1;
            } else if self.connections > 1 {
                self.live += 1;
            }
        }
    }

    /// Keeps processing until every id of `sent` came, or panics at `deadline`.
    async fn until_all(&mut self, sent: &[MessageId], deadline: Instant) {
        while self.got.len() < sent.len() {
            assert!(
                Instant::now() < deadline,
                "only {} of {} messages arrived",
                self.got.len(),
                sent.len()
            );
            self.step(Duration::from_millis(200)).await;
        }
    }
}

/// Nothing lost, nothing twice, and the server stored each message once.
async fn assert_exactly_once(sender: &Session, conv: ConversationId, sent: &[MessageId], got: &[MessageId]) {
    let sent_set: HashSet<MessageId> = sent.iter().copied().collect();
    assert_eq!(sent_set.len(), BURST, "each client_id stored once");
    let got_set: HashSet<MessageId> = got.iter().copied().collect();
    assert_eq!(got_set.len(), got.len(), "duplicates received");
    assert_eq!(got_set, sent_set, "received exactly what was sent");
    let stored = sender
        .history(conv)
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::Text && m.body.starts_with("burst message"))
        .count();
    assert_eq!(stored, BURST, "the history holds each burst message once");
}

/// Processes frames until `done` holds (panics at `deadline`).
async fn step_until(rx: &mut Resumer, deadline: Instant, what: &str, mut done: impl FnMut(&Resumer) -> bool) {
    while !done(rx) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        rx.step(Duration::from_millis(50)).await;
    }
}

/// Waits for the burst's ids while processing frames, so the connection never lags.
async fn finish(
    rx: &mut Resumer,
    sender: tokio::task::JoinHandle<Vec<MessageId>>,
    deadline: Instant,
) -> Vec<MessageId> {
    let mut sender = sender;
    loop {
        assert!(Instant::now() < deadline, "the burst did not finish");
        if sender.is_finished() {
            return (&mut sender).await.unwrap();
        }
        rx.step(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_in_the_middle_of_a_burst_loses_and_duplicates_nothing() {
    let server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let mut rx = Resumer::new(tom.api.clone(), &tom.token, latest(&tom).await, "mira");
    rx.connect().await;

    // Phase one: 800 messages; the connection is lost after 200 arrived.
    let gauge = Gauge::new(800);
    let started = Instant::now();
    let sender = tokio::spawn(burst(mira.api.clone(), conv, BURST, gauge.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    step_until(&mut rx, deadline, "200 messages", |rx| rx.got.len() >= 200).await;
    rx.cut();
    let at_cut = (rx.got.len(), gauge.sent());
    // Away until phase one is stored: the backlog (> 500 events) takes
    // more than one replay page ...
    while gauge.sent() < 800 {
        assert!(Instant::now() < deadline, "phase one did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ... and phase two commits while that replay runs: its events reach
    // both the live queue and the later replay pages.
    gauge.allow(BURST);
    while gauge.sent() < 820 {
        assert!(Instant::now() < deadline, "phase two does not start");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    rx.connect().await;

    let sent = finish(&mut rx, sender, deadline).await;
    rx.until_all(&sent, deadline).await;
    let elapsed = started.elapsed();
    // Nothing more comes after the last one.
    let ws = rx.ws.as_mut().unwrap();
    ws.expect_silence_except(Duration::from_millis(300), |f| new_message(f).is_none())
        .await;

    println!(
        "burst of {BURST}: cut after {} received / {} stored; after reconnecting {} came by replay and {} live; \
         {} connections, closes {:?}; {elapsed:?}",
        at_cut.0, at_cut.1, rx.replayed, rx.live, rx.connections, rx.closes
    );
    assert!(
        at_cut.1 < BURST,
        "the cut came after the burst ended ({at_cut:?})"
    );
    assert!(rx.replayed >= 600, "the reconnect replayed what was missed");
    assert!(rx.live > 0, "the burst went on after the reconnect");
    assert_exactly_once(&mira, conv, &sent, &rx.got).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_in_the_middle_of_a_burst_loses_and_duplicates_nothing() {
    let mut server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let mut rx = Resumer::new(tom.api.clone(), &tom.token, latest(&tom).await, "mira");
    rx.connect().await;

    let gauge = Gauge::new(BURST);
    let sender = tokio::spawn(burst(mira.api.clone(), conv, BURST, gauge.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    step_until(&mut rx, deadline, "200 messages", |rx| rx.got.len() >= 200).await;
    // The sender keeps going (retrying) while the server stops and starts.
    let at_restart = (rx.got.len(), gauge.sent());
    let restart_started = Instant::now();
    tokio::task::block_in_place(|| server.restart());
    let restart_took = restart_started.elapsed();

    let sent = finish(&mut rx, sender, deadline).await;
    rx.until_all(&sent, deadline).await;

    println!(
        "restart mid-burst: at {} received / {} stored (restart took {restart_took:?}); afterwards {} by replay, \
         {} live; {} connections, closes {:?}",
        at_restart.0, at_restart.1, rx.replayed, rx.live, rx.connections, rx.closes
    );
    assert!(
        at_restart.1 < BURST,
        "the restart came after the burst ended ({at_restart:?})"
    );
    assert!(
        rx.closes.contains(&Some(1001)),
        "the old connection was closed with 1001: {:?}",
        rx.closes
    );
    assert!(rx.connections >= 2);
    assert_exactly_once(&mira, conv, &sent, &rx.got).await;
}

/// How many events the log holds (read straight from the database).
fn events_in_log(server: &TestServer) -> i64 {
    server.sql().int("SELECT COUNT(*) FROM events", &[])
}

/// The highest seq in the log (0 when empty).
fn top_seq(server: &TestServer) -> i64 {
    server.sql().int("SELECT COALESCE(MAX(seq), 0) FROM events", &[])
}

async fn wait_until_pruned(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while events_in_log(server) > 0 {
        assert!(Instant::now() < deadline, "old events were never pruned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn cursors_older_than_retention_resync_and_caught_up_ones_do_not() {
    let server =
        TestServer::start_with("[realtime]\nevent_retention_secs = 1\n[requests]\nsweep_interval_secs = 1\n");
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let old = latest(&tom).await;
    for i in 0..3 {
        mira.say(conv, &format!("m{i}"), "soon pruned").await;
    }
    assert!(events_in_log(&server) > 0);
    wait_until_pruned(&server).await;

    // An old cursor: one resync event carrying where to continue from.
    let r = sync(&tom, &format!("since={old}")).await;
    assert_eq!(r.events.len(), 1, "{:?}", r.events);
    assert_eq!(r.events[0].kind, EventKind::Resync);
    let resume = r.events[0].seq.0;
    assert_eq!(r.next.0, resume);
    assert!(resume > old);
    // ... which is a good cursor: no resync from it.
    let r = sync(&tom, &format!("since={resume}")).await;
    assert!(
        r.events.is_empty(),
        "resuming from a resync resyncs again: {:?}",
        r.events
    );
    // Neither is "now" (sync without since) after everything was pruned.
    assert_eq!(latest(&tom).await, resume);

    // The same over the socket: resync, ready at its seq, then live events.
    let mut ws = Ws::connect(&base, &tom.token, Some(old)).await;
    let first = ws.next_frame(WAIT).await;
    let ev = event(&first).unwrap_or_else(|| panic!("expected resync, got {first:?}"));
    assert_eq!((&ev.kind, ev.seq.0), (&EventKind::Resync, resume));
    assert!(matches!(
        ws.next_frame(WAIT).await,
        ServerFrame::Signal(Signal::Ready { .. })
    ));
    assert_eq!(ws.ready, Some(resume));
    let m = mira.say(conv, "live", "after the resync").await;
    ws.wait_for(WAIT, |f| is_message(f, m.id)).await;
    // Its delivered marker moves: the last event of the log.
    ws.wait_for(WAIT, |f| {
        matches!(event(f).map(|e| &e.kind), Some(EventKind::MarkersUpdated { markers, .. })
            if markers.username == "tom" && markers.delivered_up_to == m.id)
    })
    .await;
    ws.close().await;

    // A caught-up cursor stays good after its events are pruned, even when
    // the whole log is gone.
    let cursor = latest(&tom).await;
    assert_eq!(
        cursor,
        top_seq(&server),
        "tom's cursor is the newest seq of the whole log"
    );
    wait_until_pruned(&server).await;
    let r = sync(&tom, &format!("since={cursor}")).await;
    assert!(r.events.is_empty(), "a caught-up cursor got {:?}", r.events);
    let (mut ws, replay) = Ws::connect_ready(&base, &tom.token, Some(cursor)).await;
    assert!(replay.is_empty(), "{replay:?}");
    let m = mira.say(conv, "again", "still live").await;
    ws.wait_for(WAIT, |f| is_message(f, m.id)).await;
}
