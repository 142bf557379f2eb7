//! Several mchatd nodes on one PostgreSQL database act as one (issue 11):
//! three real `mchatd` processes share a throwaway database, and a client
//! may talk to any of them. Live delivery crosses nodes (LISTEN/NOTIFY),
//! a retried send through another node finds the original, the
//! scheduler of every node delivers each due item once, and presence and
//! typing are right whichever nodes a user's devices are on.
//!
//! Needs PostgreSQL: run through `scripts/with-postgres.sh` with `--ignored`.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::ws::{Ws, is_message, presence_of, typing_of};
use mchat_shared::api::{Message, NotificationKind};
use mchat_shared::realtime::{PresenceState, ServerFrame, Signal};
use mchat_testkit::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Long enough for a signal that should not come to have come.
const QUIET: Duration = Duration::from_secs(1);

/// Heartbeats every 200 ms: a killed node counts as gone after 600 ms.
const FAST_HEARTBEAT: &str = "[storage]\nnode_heartbeat_ms = 200\n";

fn nodes(db: &TestDatabase, n: usize) -> Vec<TestServer> {
    nodes_with(db, n, "")
}

fn nodes_with(db: &TestDatabase, n: usize, extra_toml: &str) -> Vec<TestServer> {
    (0..n)
        .map(|_| TestServer::start_on_postgres(db.url(), extra_toml))
        .collect()
}

fn is_presence(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::Signal(Signal::Presence { .. }))
}

/// Waits for `who`'s next presence signal, which must say `want` (and
/// carry `last_seen` exactly when offline).
async fn expect_presence(ws: &mut Ws, who: &str, want: PresenceState) {
    let f = ws.wait_for(WAIT, |f| presence_of(f, who).is_some()).await;
    let (state, last_seen) = presence_of(&f, who).unwrap();
    assert_eq!(state, want, "{who}'s presence: {f:?}");
    assert_eq!(last_seen, want == PresenceState::Offline, "{f:?}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_message_sent_through_one_node_reaches_sockets_on_the_others_live() {
    let db = TestDatabase::create();
    let n = nodes(&db, 3);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    // Ana's phone on node B, her laptop on node C; mona's own second device on C.
    let (mut phone, _) = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    let (mut laptop, _) = Ws::connect_ready(&n[2].base(), &ana.token, None).await;
    let (mut monas, _) = Ws::connect_ready(&n[2].base(), &mona.token, None).await;
    let sent = mona.say(conv, "m1", "hello across nodes").await;
    for ws in [&mut phone, &mut laptop, &mut monas] {
        ws.wait_for(WAIT, |f| is_message(f, sent.id)).await;
    }
    // And back: ana answers through node C; mona's socket on node C and a
    // fresh one on node A get it.
    let (mut monas_a, _) = Ws::connect_ready(&n[0].base(), &mona.token, None).await;
    let reply = n[2].adopt(&ana).say(conv, "a1", "hello back").await;
    monas.wait_for(WAIT, |f| is_message(f, reply.id)).await;
    monas_a.wait_for(WAIT, |f| is_message(f, reply.id)).await;
    phone.wait_for(WAIT, |f| is_message(f, reply.id)).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_send_retried_through_other_nodes_returns_the_original() {
    let db = TestDatabase::create();
    let n = nodes(&db, 3);
    let (_mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let first = n[0].adopt(&ana).send_raw(conv, "once", "only once").await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = n[1].adopt(&ana).send_raw(conv, "once", "only once").await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(again.1["id"], first.1["id"]);
    // Two retries of a new client_id at the same moment on two nodes: one
    // message, the other answer is the same message.
    for round in 0..5 {
        let cid = format!("race{round}");
        let (b, c) = (n[1].adopt(&ana), n[2].adopt(&ana));
        let (x, y) = tokio::join!(b.send_raw(conv, &cid, "raced"), c.send_raw(conv, &cid, "raced"));
        let mut statuses = [x.0, y.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CREATED],
            "{} / {}",
            x.1,
            y.1
        );
        assert_eq!(x.1["id"], y.1["id"]);
    }
    let history = n[2].adopt(&ana).history(conv).await;
    let texts: Vec<&str> = history.iter().map(|m: &Message| m.body.as_str()).collect();
    assert_eq!(texts.iter().filter(|t| **t == "raced").count(), 5, "{texts:?}");
    assert_eq!(
        texts.iter().filter(|t| **t == "only once").count(),
        1,
        "{texts:?}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn three_schedulers_deliver_each_due_item_once() {
    let db = TestDatabase::create();
    let n = nodes(&db, 3);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let due = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
    for i in 0..10 {
        let (status, v) = mona
            .post(
                "/v1/scheduled",
                &json!({"kind": "message", "conversation_id": conv, "body": format!("scheduled {i}"),
                        "due_at": due, "client_id": format!("s{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let (status, v) = mona
            .post(
                "/v1/scheduled",
                &json!({"kind": "reminder", "body": format!("reminder {i}"), "due_at": due,
                        "client_id": format!("r{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    // Every node's scheduler wakes for them; each is sent once.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let history = n[1].adopt(&ana).history(conv).await;
        let sent = history
            .iter()
            .filter(|m| m.body.starts_with("scheduled "))
            .count();
        if sent >= 10 || std::time::Instant::now() > deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let history = n[2].adopt(&ana).history(conv).await;
            let mut bodies: Vec<&str> = history
                .iter()
                .map(|m| m.body.as_str())
                .filter(|b| b.starts_with("scheduled "))
                .collect();
            bodies.sort_unstable();
            let want: Vec<String> = (0..10).map(|i| format!("scheduled {i}")).collect();
            assert_eq!(bodies, want, "each item once");
            let notes = mona.notifications(false).await;
            let mut reminders: Vec<&str> = notes
                .notifications
                .iter()
                .map(|n| n.body.as_str())
                .filter(|b| b.starts_with("reminder "))
                .collect();
            reminders.sort_unstable();
            let want: Vec<String> = (0..10).map(|i| format!("reminder {i}")).collect();
            assert_eq!(reminders, want, "each reminder once");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_database_that_goes_away_answers_503_and_the_node_recovers_by_itself() {
    let db = TestDatabase::create();
    let node = TestServer::start_on_postgres(db.url(), "");
    let (mona, _ana, conv) = node.accepted_pair("mona", "ana").await;
    mona.say(conv, "before", "before the outage").await;
    db.go_away();
    for path in ["/v1/conversations", "/healthz"] {
        let response = common::Api::send(mona.builder(reqwest::Method::GET, path)).await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        if path != "/healthz" {
            assert!(response.headers.contains_key("retry-after"), "{path}");
        }
        let v = response.body;
        assert_eq!(v["error"]["code"], "unavailable", "{path}: {v}");
        assert!(
            !v.to_string().contains("postgres"),
            "no database text reaches a client: {v}"
        );
    }
    let (status, v) = mona.send_raw(conv, "during", "during the outage").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    db.come_back();
    // The pool reconnects on the next request: nothing to restart.
    let deadline = std::time::Instant::now() + WAIT;
    let (status, v) = loop {
        let (status, v) = mona.send_raw(conv, "during", "during the outage").await;
        if status != StatusCode::SERVICE_UNAVAILABLE || std::time::Instant::now() > deadline {
            break (status, v);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let texts: Vec<String> = mona.history(conv).await.into_iter().map(|m| m.body).collect();
    assert!(
        texts.contains(&"before the outage".to_owned()) && texts.contains(&"during the outage".to_owned()),
        "{texts:?}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_revoked_token_closes_its_sockets_on_every_node_at_once() {
    let db = TestDatabase::create();
    let n = nodes(&db, 3);
    let (_mona, ana, _conv) = n[0].accepted_pair("mona", "ana").await;
    // Revoked through node A while its sockets are on B and C.
    let phone = n[0].login("ana").await;
    let (mut on_b, _) = Ws::connect_ready(&n[1].base(), &phone.token, None).await;
    let (mut on_c, _) = Ws::connect_ready(&n[2].base(), &phone.token, None).await;
    let revoked = std::time::Instant::now();
    let (status, v) = ana.delete(&format!("/v1/tokens/{}", phone.token_id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for ws in [&mut on_b, &mut on_c] {
        assert_eq!(ws.expect_close(WAIT).await, Some(4401));
    }
    // The sockets check their token every minute on their own; this is the
    // revocation travelling, not that check.
    assert!(
        revoked.elapsed() < Duration::from_secs(5),
        "{:?}",
        revoked.elapsed()
    );
    // A password reset from `mchatd admin` (another process) ends every
    // token of the user, on every node.
    let (mut laptop, _) = Ws::connect_ready(&n[2].base(), &ana.token, None).await;
    let out = n[0].admin(
        &["reset-password", "ana", "--password-stdin"],
        "a-new-long-password\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(laptop.expect_close(WAIT).await, Some(4401));
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn markers_moved_at_once_through_two_nodes_never_go_back() {
    let db = TestDatabase::create();
    let n = nodes(&db, 2);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(mona.say(conv, &format!("m{i}"), &format!("message {i}")).await.id);
    }
    // Ana's two devices report read and delivered markers through two
    // nodes at the same moments, each from what it last saw.
    let (a, b) = (n[0].adopt(&ana), n[1].adopt(&ana));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let (who, id) = (if i % 2 == 0 { a.clone() } else { b.clone() }, *id);
        tasks.spawn(async move {
            let (status, v) = who
                .post(&format!("/v1/conversations/{conv}/read"), &json!({"up_to": id}))
                .await;
            assert_eq!(status, StatusCode::OK, "{v}");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let last = *ids.last().unwrap();
    let mine = n[1].adopt(&ana).conversation(conv).await.my_markers;
    assert_eq!(
        (mine.read_up_to, mine.delivered_up_to),
        (last, last),
        "the newest report wins"
    );
    // Every markers event in ana's log moves her read marker forward.
    let (status, v) = ana.get("/v1/sync?since=0").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let reads: Vec<i64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "markers_updated" && e["data"]["markers"]["username"] == "ana")
        .map(|e| e["data"]["markers"]["read_up_to"].as_i64().unwrap())
        .collect();
    assert!(
        reads.windows(2).all(|w| w[0] <= w[1]),
        "a marker went back: {reads:?}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn presence_holds_while_a_device_on_another_node_is_still_connected() {
    let db = TestDatabase::create();
    let n = nodes_with(&db, 3, FAST_HEARTBEAT);
    let (mona, ana, _conv) = n[0].accepted_pair("mona", "ana").await;
    let (mut watcher, _) = Ws::connect_ready(&n[0].base(), &mona.token, None).await;
    // Ana's phone on node B brings her online for mona on node A.
    let (phone, _) = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    expect_presence(&mut watcher, "ana", PresenceState::Online).await;
    // Her laptop on node C changes nothing; nor does the phone leaving
    // while the laptop stays (several heartbeats pass meanwhile).
    let (laptop, _) = Ws::connect_ready(&n[2].base(), &ana.token, None).await;
    watcher.expect_silence_except(QUIET, |f| !is_presence(f)).await;
    phone.close().await;
    watcher.expect_silence_except(QUIET, |f| !is_presence(f)).await;
    // A new socket of mona's, on the node the phone left, is told that ana
    // is online (on node C) right after `ready`.
    let (mut fresh, _) = Ws::connect_ready(&n[1].base(), &mona.token, None).await;
    expect_presence(&mut fresh, "ana", PresenceState::Online).await;
    // The last device leaving takes her offline, on every node.
    laptop.close().await;
    expect_presence(&mut watcher, "ana", PresenceState::Offline).await;
    expect_presence(&mut fresh, "ana", PresenceState::Offline).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn the_users_of_a_killed_node_go_offline_unless_connected_elsewhere() {
    let db = TestDatabase::create();
    let mut n = nodes_with(&db, 3, FAST_HEARTBEAT);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let tom = n[0].mentee("tom").await;
    let (status, _) = tom.request("mona", "hello, may we talk?").await;
    assert_eq!(status, StatusCode::CREATED);
    let (mut watcher, _) = Ws::connect_ready(&n[0].base(), &mona.token, None).await;
    // Ana is on the doomed node only; tom there and on node C.
    let _ana_b = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    expect_presence(&mut watcher, "ana", PresenceState::Online).await;
    let _tom_b = Ws::connect_ready(&n[1].base(), &tom.token, None).await;
    let _tom_c = Ws::connect_ready(&n[2].base(), &tom.token, None).await;
    expect_presence(&mut watcher, "tom", PresenceState::Online).await;
    n[1].crash();
    expect_presence(&mut watcher, "ana", PresenceState::Offline).await;
    watcher
        .expect_silence_except(QUIET, |f| presence_of(f, "tom").is_none())
        .await;
    // She comes back through another node: online again, and a message
    // to her is no "message received" notification while she is.
    let (mut back, _) = Ws::connect_ready(&n[2].base(), &ana.token, None).await;
    expect_presence(&mut watcher, "ana", PresenceState::Online).await;
    let sent = mona.say(conv, "m1", "welcome back").await;
    back.wait_for(WAIT, |f| is_message(f, sent.id)).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn typing_crosses_nodes_and_ends_there() {
    let db = TestDatabase::create();
    let n = nodes_with(&db, 2, "[realtime]\ntyping_ttl_secs = 1\n");
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let (mut monas, _) = Ws::connect_ready(&n[0].base(), &mona.token, None).await;
    let (mut anas, _) = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    let typing = |active: bool| move |f: &ServerFrame| typing_of(f) == Some((conv, "ana", active));
    // Typing on node B shows on node A, and ends there when it stops.
    anas.typing(conv).await;
    monas.wait_for(WAIT, typing(true)).await;
    monas.wait_for(WAIT, typing(false)).await;
    // A message ends it at once, well before the indicator would expire.
    anas.typing(conv).await;
    monas.wait_for(WAIT, typing(true)).await;
    let said = n[1].adopt(&ana).say(conv, "a1", "done typing").await;
    let started = std::time::Instant::now();
    let seen = monas.collect_until(WAIT, typing(false)).await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    if !seen.iter().any(|f| is_message(f, said.id)) {
        monas.wait_for(WAIT, |f| is_message(f, said.id)).await;
    }
    // Over HTTP through node A, to ana's socket on node B.
    let (status, v) = mona
        .post(&format!("/v1/conversations/{conv}/typing"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    anas.wait_for(WAIT, |f| typing_of(f) == Some((conv, "mona", true)))
        .await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_recipient_online_on_another_node_gets_no_message_notification() {
    let db = TestDatabase::create();
    let n = nodes_with(&db, 2, FAST_HEARTBEAT);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let (mut watcher, _) = Ws::connect_ready(&n[0].base(), &mona.token, None).await;
    let (anas, _) = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    expect_presence(&mut watcher, "ana", PresenceState::Online).await;
    let notices = |list: mchat_shared::api::NotificationList| {
        list.notifications
            .iter()
            .filter(|n| n.kind == NotificationKind::MessageReceived)
            .count()
    };
    mona.say(conv, "m1", "you are online elsewhere").await;
    assert_eq!(notices(ana.notifications(true).await), 0);
    anas.close().await;
    expect_presence(&mut watcher, "ana", PresenceState::Offline).await;
    mona.say(conv, "m2", "now you are not").await;
    assert_eq!(notices(ana.notifications(true).await), 1);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn three_sweepers_expire_each_request_once() {
    let db = TestDatabase::create();
    let n = nodes_with(
        &db,
        3,
        "[requests]\npending_ttl_secs = 1\nsweep_interval_secs = 1\n",
    );
    n[0].mentor("mona", json!({})).await;
    let mut asked = Vec::new();
    for i in 0..6 {
        let mentee = n[i % 3].mentee(&format!("tom{i}")).await;
        let (status, c) = mentee.request("mona", "anyone there?").await;
        assert_eq!(status, StatusCode::CREATED);
        asked.push((mentee, c.conversation.id));
    }
    for (mentee, id) in &asked {
        common::poll(WAIT, "the request to expire", || async {
            let c = mentee.conversation(*id).await;
            (c.status == mchat_shared::api::ConversationStatus::Expired).then_some(())
        })
        .await;
    }
    // Sweeps keep running on every node meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (mentee, id) in &asked {
        let expired = mentee
            .history(*id)
            .await
            .iter()
            .filter(|m| m.system.is_some())
            .count();
        assert_eq!(expired, 1, "one expiry notice in conversation {id}");
        let notes = mentee.notifications(false).await;
        let told = notes
            .notifications
            .iter()
            .filter(|n| n.kind == NotificationKind::RequestExpired)
            .count();
        assert_eq!(told, 1, "{notes:?}");
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_long_run_of_messages_crosses_nodes_one_by_one() {
    let db = TestDatabase::create();
    let n = nodes(&db, 2);
    let (mona, ana, conv) = n[0].accepted_pair("mona", "ana").await;
    let (mut first, _) = Ws::connect_ready(&n[0].base(), &ana.token, None).await;
    for i in 0..150 {
        let sent = mona.say(conv, &format!("f{i}"), &format!("first {i}")).await;
        first.wait_for(WAIT, |f| is_message(f, sent.id)).await;
    }
    first.close().await;
    let (mut anas, _) = Ws::connect_ready(&n[1].base(), &ana.token, None).await;
    for i in 0..150 {
        let sent = mona.say(conv, &format!("m{i}"), &format!("message {i}")).await;
        anas.wait_for(WAIT, |f| is_message(f, sent.id)).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_first_request_made_twice_at_once_through_two_nodes_makes_one_conversation() {
    let db = TestDatabase::create();
    let n = nodes(&db, 2);
    for round in 0..5 {
        let mentor = format!("mona{round}");
        n[0].mentor(&mentor, json!({})).await;
        let tom = n[0].mentee(&format!("tom{round}")).await;
        let (a, b) = (n[0].adopt(&tom), n[1].adopt(&tom));
        let (first, second) = tokio::join!(a.request(&mentor, "hello?"), b.request(&mentor, "hello?"));
        assert!(
            first.0.is_success() && second.0.is_success(),
            "{first:?} {second:?}"
        );
        assert_eq!(first.1.conversation.id, second.1.conversation.id);
        let history = tom.history(first.1.conversation.id).await;
        assert_eq!(
            history.iter().filter(|m| m.system.is_none()).count(),
            1,
            "{history:?}"
        );
    }
}
