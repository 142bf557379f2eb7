//! Load, short version of `mchat-bench load`: 20 users (10 mentor/mentee
//! pairs) send 20 messages each at once. Mentors are online over WebSocket;
//! mentees are offline and catch up afterwards with `GET /v1/sync` paging.
//! Every user must receive exactly the messages acknowledged with 201 in
//! their conversation (theirs and their peer's): none lost, none twice, in
//! increasing id order; unread counts must match what was sent and read
//! (sending marks everything before one's own message read);
//! no answer may be a 5xx.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Incoming, Ws, new_message};
use common::{Session, TestServer};
use mchat_shared::ConversationId;
use mchat_shared::api::Message;
use mchat_shared::events::EventKind;
use mchat_shared::realtime::SyncResponse;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const PAIRS: usize = 10;
const PER_USER: usize = 20;
/// Messages one side of each pair sends after the checks of delivery.
const EXTRA: usize = 5;
/// Online mentors read up to the READ_UP_TO-th of those (1-based).
const READ_UP_TO: usize = 2;

/// The messages of this run (setup messages are not counted).
fn ours(m: &Message) -> bool {
    m.client_id.as_deref().is_some_and(|c| c.starts_with("load-"))
}

/// Checks one user's received messages against what was acknowledged in
/// their conversation.
fn check_received(who: &str, got: &[Message], conv: ConversationId, acked: &BTreeSet<i64>) {
    let ids: Vec<i64> = got.iter().map(|m| m.id.0).collect();
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "{who}: a message arrived twice: {ids:?}"
    );
    assert!(
        got.iter().all(|m| m.conversation_id == conv),
        "{who}: wrong conversation"
    );
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "{who}: out of order: {ids:?}"
    );
    let lost: Vec<_> = acked.difference(&distinct).collect();
    assert!(lost.is_empty(), "{who}: lost {lost:?}");
    let extra: Vec<_> = distinct.difference(acked).collect();
    assert!(extra.is_empty(), "{who}: never acknowledged: {extra:?}");
}

/// Every event after `since` by `/v1/sync` paging; the new messages of this run.
async fn catch_up(user: &Session, since: i64) -> Vec<Message> {
    let mut got = Vec::new();
    let mut cursor = since;
    for _ in 0..1000 {
        let (status, v) = user.get(&format!("/v1/sync?since={cursor}&timeout=0")).await;
        assert_eq!(status, StatusCode::OK, "sync: {v}");
        let page: SyncResponse = common::decode(v);
        for ev in &page.events {
            assert!(ev.seq.0 > cursor, "sync seq goes forward");
            if let EventKind::MessageNew { message } = &ev.kind
                && ours(message)
            {
                got.push(message.clone());
            }
        }
        assert!(page.next.0 >= cursor);
        cursor = page.next.0;
        if !page.has_more {
            return got;
        }
    }
    panic!("sync did not end within 1000 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn everyone_gets_every_acknowledged_message_once_in_order() {
    let server = TestServer::start();
    let base = server.base();
    let mut pairs = Vec::new();
    for i in 0..PAIRS {
        let (m, e, conv) = server
            .accepted_pair(&format!("mentor{i}"), &format!("mentee{i}"))
            .await;
        // Start from nothing unread: both read up to the newest setup message.
        let last = m.page(conv, "limit=1").await.messages[0].id;
        for u in [&m, &e] {
            let (status, v) = u
                .post(&format!("/v1/conversations/{conv}/read"), &json!({"up_to": last}))
                .await;
            assert_eq!(status, StatusCode::OK, "{v}");
        }
        pairs.push((m, e, conv));
    }
    // Offline mentees' cursors: the end of their log now.
    let mut cursors = Vec::new();
    for (_, e, _) in &pairs {
        let (_, v) = e.get("/v1/sync?since=0&timeout=0").await;
        let mut page: SyncResponse = common::decode(v);
        while page.has_more {
            let (_, v) = e.get(&format!("/v1/sync?since={}&timeout=0", page.next.0)).await;
            page = common::decode(v);
        }
        cursors.push(page.next.0);
    }
    // Online mentors: one socket each, read until every expected message came.
    let mut listeners = JoinSet::new();
    for (i, (m, _, _)) in pairs.iter().enumerate() {
        let (mut ws, _) = Ws::connect_ready(&base, &m.token, None).await;
        listeners.spawn(async move {
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while got.len() < 2 * PER_USER && Instant::now() < deadline {
                match ws.next(Duration::from_secs(5)).await {
                    Some(Incoming::Frame(f)) => {
                        if let Some(msg) = new_message(&f).filter(|m| ours(m)) {
                            got.push(msg.clone());
                        }
                    }
                    Some(Incoming::Closed(code)) => panic!("mentor{i}: socket closed ({code:?})"),
                    None => {}
                }
            }
            // Anything beyond the expected count would be a duplicate: wait a little for it.
            while let Some(Incoming::Frame(f)) = ws.next(Duration::from_millis(300)).await {
                if let Some(msg) = new_message(&f).filter(|m| ours(m)) {
                    got.push(msg.clone());
                }
            }
            (i, got)
        });
    }

    // Everyone sends at once; each user's sends are sequential.
    let mut senders = JoinSet::new();
    for (i, (m, e, conv)) in pairs.iter().enumerate() {
        for (role, user) in [("m", m), ("e", e)] {
            let api = user.api.clone();
            let conv = *conv;
            senders.spawn(async move {
                let mut acked = Vec::new();
                for k in 0..PER_USER {
                    let cid = format!("load-{role}{i}-{k}");
                    let (status, v) = api.send_raw(conv, &cid, &format!("{role}{i} says {k}")).await;
                    assert_eq!(status, StatusCode::CREATED, "{cid}: {v}");
                    acked.push(v["id"].as_i64().unwrap());
                }
                (i, role, acked)
            });
        }
    }
    let mut acked: BTreeMap<(usize, &str), Vec<i64>> = BTreeMap::new();
    while let Some(r) = senders.join_next().await {
        let (i, role, ids) = r.unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "a sender's ids increase");
        acked.insert((i, role), ids);
    }
    let per_conv = |i: usize| -> BTreeSet<i64> {
        acked[&(i, "m")]
            .iter()
            .chain(&acked[&(i, "e")])
            .copied()
            .collect()
    };

    while let Some(r) = listeners.join_next().await {
        let (i, got) = r.unwrap();
        check_received(&format!("mentor{i} (online)"), &got, pairs[i].2, &per_conv(i));
    }
    for (i, (_, e, conv)) in pairs.iter().enumerate() {
        let got = catch_up(e, cursors[i]).await;
        check_received(&format!("mentee{i} (sync)"), &got, *conv, &per_conv(i));
    }

    // Unread counts. Sending moves the sender's own read marker to their
    // message, so after the concurrent phase most counts are small; to make
    // them telling, one side of each pair sends a few more: in even pairs the
    // mentor (the mentee, who reads nothing, must see them all unread), in
    // odd pairs the mentee (the online mentor then reads up to the
    // READ_UP_TO-th of them and must see the rest unread).
    let unread = |mine: &[i64], peers: &[i64], read: i64| {
        let marker = mine.iter().copied().max().unwrap_or(0).max(read);
        peers.iter().filter(|&&id| id > marker).count()
    };
    for (i, (m, e, conv)) in pairs.iter().enumerate() {
        let (extra_by, role) = if i % 2 == 0 { (m, "m") } else { (e, "e") };
        for k in 0..EXTRA {
            let msg = extra_by
                .say(*conv, &format!("load-{role}{i}-x{k}"), &format!("one more, {k}"))
                .await;
            acked.get_mut(&(i, role)).unwrap().push(msg.id.0);
        }
        let mentor_read = if i % 2 == 0 {
            0
        } else {
            let up_to = acked[&(i, "e")][PER_USER + READ_UP_TO - 1];
            let (status, v) = m
                .post(
                    &format!("/v1/conversations/{conv}/read"),
                    &json!({"up_to": up_to}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{v}");
            up_to
        };
        let (mine_m, mine_e) = (&acked[&(i, "m")], &acked[&(i, "e")]);
        let want_m = unread(mine_m, mine_e, mentor_read);
        let want_e = unread(mine_e, mine_m, 0);
        // The scenario itself: nonzero counts on the side that did not send last.
        if i % 2 == 0 {
            assert!(want_e >= EXTRA && want_m == 0, "{want_m} {want_e}");
        } else {
            assert!(want_m == EXTRA - READ_UP_TO && want_e == 0, "{want_m} {want_e}");
        }
        for (user, want) in [(m, want_m), (e, want_e)] {
            let list = user.conversations().await;
            let c = list.iter().find(|c| c.id == *conv).expect("conversation listed");
            assert_eq!(c.unread as usize, want, "{}: unread", user.username);
        }
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "server log:\n{log}");
}
