//! Overload: the storage queues are bounded, so a burst beyond what the
//! writer (or the readers) can take is answered at once with 503
//! `unavailable` and `Retry-After`, in the one error shape, instead of
//! queueing without bound. A refused request never ran: every 2xx message
//! is stored, no refused one is. The server stays healthy afterwards.
//!
//! Setup (register, accept) runs with the default queues; the server is then
//! restarted with tiny ones, so only the burst can hit them.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, Response, TestServer, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// Concurrent requests in each burst.
const BURST: usize = 300;

/// The storage-queue bursts run without the HTTP edge's in-flight limit,
/// which would otherwise refuse them first (it has its own test below).
const NO_EDGE_LIMIT: &str = "[limits]\nmax_in_flight = 0\n";

/// Appends `extra` to the server's config file and restarts it.
fn restart_with(server: &mut TestServer, extra: &str) {
    let path = server.config_path().to_path_buf();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    server.restart();
}

/// Asserts a 503 is the busy answer: code, Retry-After header, retry_after_secs.
fn assert_busy(r: &Response) {
    assert_error(r.status, &r.body, 503, "unavailable");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1"),
        "503 without Retry-After: 1: {:?}",
        r.headers
    );
    assert_eq!(r.body["error"]["retry_after_secs"], 1, "{}", r.body);
}

/// `GET /healthz` answers 200 again (within a few seconds).
async fn assert_healthy(api: &Api) {
    common::poll(Duration::from_secs(10), "a healthy server", || async {
        let r = Api::send(api.builder(Method::GET, "/healthz")).await;
        (r.status == StatusCode::OK).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_beyond_the_write_queue_gets_503_and_nothing_half_written() {
    if mchat_testkit::sqlite_only("the writer's bounded queue") {
        return;
    }
    let mut server = TestServer::start_with(NO_EDGE_LIMIT);
    let (_mentor, mentee, conv) = server.accepted_pair("mona", "ana").await;
    // No edge limit here: these bursts are for the storage queues (shed.rs
    // has its own test below).
    restart_with(&mut server, "\n[storage]\nwrite_queue = 1\nmax_batch = 1\n");

    let mut burst = JoinSet::new();
    for i in 0..BURST {
        let api = mentee.api.clone();
        burst.spawn(async move {
            let client_id = format!("burst-{i}");
            let rb = api
                .builder(Method::POST, &format!("/v1/conversations/{conv}/messages"))
                .json(&json!({"client_id": client_id, "body": format!("message {i}")}));
            (client_id, Api::send(rb).await)
        });
    }
    let mut acked = BTreeSet::new();
    let mut refused = BTreeSet::new();
    while let Some(done) = burst.join_next().await {
        let (client_id, r) = done.unwrap();
        match r.status.as_u16() {
            201 => {
                assert_eq!(r.body["client_id"], client_id.as_str(), "{}", r.body);
                acked.insert(client_id);
            }
            503 => {
                assert_busy(&r);
                refused.insert(client_id);
            }
            other => panic!("{client_id}: unexpected {other}: {}", r.text),
        }
    }
    assert!(
        !refused.is_empty(),
        "no request was refused: the write queue is not bounded"
    );
    assert!(!acked.is_empty(), "every request was refused");

    // Exactly the acknowledged messages are stored: none lost, no refused one half-written.
    assert_healthy(&mentee.api).await;
    let stored: BTreeSet<String> = mentee
        .history(conv)
        .await
        .into_iter()
        .filter_map(|m| m.client_id)
        .filter(|c| c.starts_with("burst-"))
        .collect();
    assert_eq!(stored, acked, "stored messages differ from the acknowledged ones");

    // A refused message can be sent again, and is stored once.
    let again = refused.first().unwrap();
    let m = mentee.say(conv, again, "second try").await;
    assert_eq!(m.client_id.as_deref(), Some(again.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_beyond_the_read_queue_gets_503_and_correct_pages() {
    if mchat_testkit::sqlite_only("the readers' bounded queue") {
        return;
    }
    let mut server = TestServer::start_with(NO_EDGE_LIMIT);
    let (_mentor, mentee, conv) = server.accepted_pair("mona", "ana").await;
    for i in 0..5 {
        mentee.say(conv, &format!("seed-{i}"), "hello").await;
    }
    restart_with(&mut server, "\n[storage]\nreaders = 1\nread_queue = 1\n");

    let mut burst = JoinSet::new();
    for _ in 0..BURST {
        let api = mentee.api.clone();
        burst.spawn(async move {
            let rb = api.builder(
                Method::GET,
                &format!("/v1/conversations/{conv}/messages?limit=50"),
            );
            Api::send(rb).await
        });
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(done) = burst.join_next().await {
        let r = done.unwrap();
        match r.status.as_u16() {
            200 => {
                let seeded = r.body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["client_id"].as_str().is_some_and(|c| c.starts_with("seed-")))
                    .count();
                assert_eq!(seeded, 5, "a page that was answered is incomplete: {}", r.body);
                ok += 1;
            }
            503 => {
                assert_busy(&r);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(refused > 0, "no read was refused: the read queue is not bounded");
    assert!(ok > 0, "every read was refused");
    assert_healthy(&mentee.api).await;
    let seeded = mentee
        .history(conv)
        .await
        .into_iter()
        .filter(|m| m.client_id.as_deref().is_some_and(|c| c.starts_with("seed-")))
        .count();
    assert_eq!(seeded, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_beyond_max_in_flight_is_shed_at_once_and_long_lived_requests_are_not() {
    let server = TestServer::start_with("[limits]\nmax_in_flight = 2\n");
    let (_mentor, mentee, conv) = server.accepted_pair("mona", "ana").await;
    // A long-poll holds no permit: with two of them waiting, sends still go.
    let mut polls = JoinSet::new();
    for _ in 0..2 {
        let api = mentee.api.clone();
        polls.spawn(async move { Api::send(api.builder(Method::GET, "/v1/sync?since=0&timeout=3")).await });
    }
    let mut burst = JoinSet::new();
    for i in 0..BURST {
        let api = mentee.api.clone();
        burst.spawn(async move {
            let client_id = format!("shed-{i}");
            let rb = api
                .builder(Method::POST, &format!("/v1/conversations/{conv}/messages"))
                .json(&json!({"client_id": client_id, "body": format!("message {i}")}));
            (client_id, Api::send(rb).await)
        });
    }
    let mut acked = BTreeSet::new();
    let mut shed = 0;
    while let Some(done) = burst.join_next().await {
        let (client_id, r) = done.unwrap();
        match r.status.as_u16() {
            201 => {
                acked.insert(client_id);
            }
            503 => {
                assert_busy(&r);
                shed += 1;
            }
            other => panic!("{client_id}: unexpected {other}: {}", r.text),
        }
    }
    assert!(shed > 0, "nothing was shed: the in-flight limit does not hold");
    assert!(!acked.is_empty(), "everything was shed");
    // Operators still see it, and exactly the accepted messages are stored.
    let r = Api::send(mentee.api.builder(Method::GET, "/healthz")).await;
    assert_eq!(r.status, StatusCode::OK);
    let stored: BTreeSet<String> = mentee
        .history(conv)
        .await
        .into_iter()
        .filter_map(|m| m.client_id)
        .filter(|c| c.starts_with("shed-"))
        .collect();
    assert_eq!(stored, acked);
    while let Some(done) = polls.join_next().await {
        assert_eq!(done.unwrap().status, StatusCode::OK, "long-polls are never shed");
    }
}
