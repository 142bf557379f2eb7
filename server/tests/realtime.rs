//! Real time over real sockets: what each live connection and `sync` get
//! (every device of a participant, nothing for outsiders, foreign and future
//! cursors), replay order and `ready`, long-poll `sync`, typing, presence,
//! delivered/read markers, "message received" notifications, token checks
//! on the socket, and the close frame of a graceful shutdown.
//!
//! Bursts, restarts and retention are in `realtime_resume.rs`; the slow
//! consumer in `realtime_slow.rs`.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Ws, event, is_message, presence_of, refused, typing_of};
use common::{Session, TestServer, assert_error};
use mchat_shared::api::NotificationKind;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{PresenceState, ServerFrame, Signal, SyncResponse};
use mchat_shared::{ConversationId, MessageId};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for. Anything wrongly sent would
/// have been queued together with what the right recipients already got.
const QUIET: Duration = Duration::from_millis(500);

async fn sync(who: &Session, query: &str) -> SyncResponse {
    who.get_ok(&format!("/v1/sync?{query}")).await
}

/// The user's current cursor: `sync` without `since`.
async fn latest(who: &Session) -> i64 {
    sync(who, "").await.next.0
}

/// Follows `sync` from `cursor` until an answer is empty after waiting a
/// second: the log has settled (delivered markers move in the background).
async fn settle(who: &Session, mut cursor: i64) -> i64 {
    for _ in 0..20 {
        let r = sync(who, &format!("since={cursor}&timeout=1")).await;
        if r.events.is_empty() {
            return cursor;
        }
        cursor = r.next.0;
    }
    panic!("{}'s log never settled", who.username);
}

fn is_ready(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::Signal(Signal::Ready { .. }))
}

fn is_presence(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::Signal(Signal::Presence { .. }))
}

/// Waits for `who`'s presence to become `want` and returns that frame.
/// Only repeats of `prev` may come first (a contact who connects at the same
/// time as me is announced both live and in the list after my `ready`);
/// any other state of `who` on the way fails.
async fn expect_presence(
    ws: &mut Ws,
    who: &str,
    prev: Option<PresenceState>,
    want: PresenceState,
) -> ServerFrame {
    let f = ws
        .wait_for(WAIT, |f| {
            presence_of(f, who).is_some_and(|(state, _)| Some(state) != prev)
        })
        .await;
    let (state, last_seen) = presence_of(&f, who).unwrap();
    assert_eq!(state, want, "{who}'s presence: {f:?}");
    assert_eq!(
        last_seen,
        want == PresenceState::Offline,
        "last_seen only when offline: {f:?}"
    );
    f
}

/// Whether an event concerns conversation `conv` (or one of `users`' profiles).
fn mentions(ev: &Event, conv: ConversationId, users: &[&str]) -> bool {
    match &ev.kind {
        EventKind::MessageNew { message } | EventKind::MessageUpdated { message } => {
            message.conversation_id == conv
        }
        EventKind::ConversationUpdated { conversation_id, .. }
        | EventKind::SettingsUpdated { conversation_id, .. } => *conversation_id == conv,
        EventKind::ScheduledUpdated { item } => item.conversation_id == Some(conv),
        EventKind::MarkersUpdated { conversation_id, .. } => *conversation_id == conv,
        EventKind::NotificationNew { notification } => notification.conversation_id == Some(conv),
        EventKind::UserUpdated { user } => users.contains(&user.username.as_str()),
        EventKind::NotificationsRead { .. } | EventKind::Resync => false,
    }
}

fn assert_increasing(seqs: &[i64], what: &str) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{what}: seqs are not strictly increasing: {seqs:?}"
    );
}

async fn read_up_to(who: &Session, conv: ConversationId, id: MessageId) {
    let (status, v) = who
        .post(&format!("/v1/conversations/{conv}/read"), &json!({"up_to": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "read: {v}");
}

async fn set_availability(who: &Session, availability: &str) {
    let (status, v) = who.patch("/v1/me", &json!({"availability": availability})).await;
    assert_eq!(status, StatusCode::OK, "availability: {v}");
}

// ---------------------------------------------------------------- audience

#[tokio::test]
async fn every_device_gets_every_event_and_outsiders_get_nothing() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let tom2 = server.login("tom").await; // a second device: its own token
    let carl = server.mentee("carl").await;
    let carl_cursor = latest(&carl).await;

    let (mut phone, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut laptop, _) = Ws::connect_ready(&base, &tom2.token, None).await;
    let (mut outsider, _) = Ws::connect_ready(&base, &carl.token, None).await;
    assert_eq!(
        phone.ready, laptop.ready,
        "both devices start from the same point"
    );
    let start = phone.ready.unwrap();

    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(mira.say(conv, &format!("m{i}"), &format!("message {i}")).await.id);
    }
    sent.push(tom.say(conv, "r1", "thanks!").await.id);
    sent.push(mira.say(conv, "end", "talk soon").await.id);
    let last = *sent.last().unwrap();

    // Wait until both devices have everything, then read up to the end from
    // the laptop: that marker event comes last on both.
    phone.wait_for(WAIT, |f| is_message(f, last)).await;
    laptop.wait_for(WAIT, |f| is_message(f, last)).await;
    read_up_to(&tom2, conv, last).await;
    let read_done = |f: &ServerFrame| {
        matches!(event(f).map(|e| &e.kind), Some(EventKind::MarkersUpdated { markers, .. })
            if markers.username == "tom" && markers.read_up_to == last)
    };
    phone.wait_for(WAIT, read_done).await;
    laptop.wait_for(WAIT, read_done).await;

    // The same log reaches both devices and `sync`: compare the full streams.
    let from_sync = sync(&tom, &format!("since={start}")).await;
    let seqs: Vec<i64> = from_sync.events.iter().map(|e| e.seq.0).collect();
    assert_increasing(&seqs, "sync");
    let ids: Vec<MessageId> = from_sync
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageNew { message } => Some(message.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, sent, "every message, once, in order");
    for device in [&mut phone, &mut laptop] {
        assert_eq!(
            device.cursor,
            Some(from_sync.next.0),
            "each device saw the whole log"
        );
    }
    // Nothing more after the final marker on either device.
    phone.expect_silence(QUIET).await;
    laptop.expect_silence(QUIET).await;

    // The outsider's socket and `sync` got nothing of it.
    outsider.expect_silence(QUIET).await;
    let r = sync(&carl, &format!("since={carl_cursor}")).await;
    assert!(r.events.is_empty(), "carl's sync: {:?}", r.events);
    assert_eq!(r.next.0, carl_cursor);
}

#[tokio::test]
async fn a_device_sees_the_whole_stream_in_the_same_order_as_sync() {
    // Re-checks the stream equality on event level (not only the cursor):
    // every event a device gets is one `sync` lists, in the same order.
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let (mut ws, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let start = ws.ready.unwrap();
    let mut last = MessageId(0);
    for i in 0..5 {
        last = mira.say(conv, &format!("m{i}"), "hi").await.id;
    }
    let frames = ws.collect_until(WAIT, |f| is_message(f, last)).await;
    let got: Vec<Event> = frames.iter().filter_map(event).cloned().collect();
    let listed = sync(&tom, &format!("since={start}")).await.events;
    assert_eq!(got[..], listed[..got.len()], "socket and sync agree");
}

#[tokio::test]
async fn a_foreign_cursor_replays_only_own_events_and_a_future_cursor_resyncs() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let (max, carl, other) = server.accepted_pair("max", "carl").await;
    let carl_start = latest(&carl).await;
    let tom_start = latest(&tom).await;

    // Interleave the two conversations' logs.
    for i in 0..5 {
        mira.say(conv, &format!("a{i}"), "to tom").await;
        max.say(other, &format!("b{i}"), "to carl").await;
    }
    // The seq of tom's copy of mira's second message: a cursor from tom's
    // log that lies inside carl's.
    let toms = sync(&tom, &format!("since={tom_start}")).await.events;
    let foreign = toms
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MessageNew { .. }))
        .nth(1)
        .unwrap()
        .seq
        .0;
    assert!(foreign > carl_start);

    // carl resumes from tom's seq: only carl's own events after it. (Reading
    // moves carl's delivered marker: let that settle first.)
    settle(&carl, carl_start).await;
    let carls: Vec<Event> = sync(&carl, &format!("since={carl_start}"))
        .await
        .events
        .into_iter()
        .filter(|e| e.seq.0 > foreign)
        .collect();
    assert!(
        carls.len() >= 4,
        "carl has events after the foreign cursor: {carls:?}"
    );
    let (mut ws, replay) = Ws::connect_ready(&base, &carl.token, Some(foreign)).await;
    assert_eq!(replay, carls, "exactly carl's events after the foreign cursor");
    assert!(
        !replay.iter().any(|e| mentions(e, conv, &["tom"])),
        "nothing of tom's conversation: {replay:?}"
    );
    let via_sync = sync(&carl, &format!("since={foreign}")).await;
    assert_eq!(via_sync.events, carls);
    ws.expect_silence_except(QUIET, |f| {
        // Replayed messages move carl's delivered marker.
        matches!(event(f).map(|e| &e.kind), Some(EventKind::MarkersUpdated { conversation_id, .. }) if *conversation_id == other)
    })
    .await;
    ws.close().await;

    // A cursor beyond the end of the log: `resync`, then `ready`, then live.
    let everyone = [&mira, &tom, &max, &carl];
    let mut top = 0;
    for s in everyone {
        top = top.max(latest(s).await);
    }
    let future = top + 1000;
    let tom_latest = latest(&tom).await;
    let r = sync(&tom, &format!("since={future}")).await;
    assert_eq!(r.events.len(), 1, "{:?}", r.events);
    assert_eq!(r.events[0].kind, EventKind::Resync);
    assert_eq!(
        r.events[0].seq.0, tom_latest,
        "resync carries where to continue from"
    );
    assert_eq!(r.next.0, tom_latest);
    assert!(!r.has_more);

    let mut ws = Ws::connect(&base, &tom.token, Some(future)).await;
    let first = ws.next_frame(WAIT).await;
    let ev = event(&first).unwrap_or_else(|| panic!("expected resync, got {first:?}"));
    assert_eq!(ev.kind, EventKind::Resync);
    assert_eq!(ev.seq.0, tom_latest);
    let text = serde_json::to_value(ev).unwrap();
    assert!(text.get("data").is_none(), "resync has no data: {text}");
    assert!(is_ready(&ws.next_frame(WAIT).await));
    assert_eq!(ws.ready, Some(tom_latest));
    let live = mira.say(conv, "live", "still there?").await;
    let got = ws.wait_for(WAIT, |f| is_message(f, live.id)).await;
    assert!(event(&got).unwrap().seq.0 > tom_latest);
}

// ------------------------------------------------------------------ replay

#[tokio::test]
async fn replay_sends_events_after_the_cursor_in_order_then_ready() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let cursor0 = latest(&tom).await;
    let mut sent = Vec::new();
    for i in 0..10 {
        sent.push(mira.say(conv, &format!("m{i}"), &format!("#{i}")).await.id);
    }
    let end = latest(&tom).await;

    // From the cursor: the ten messages in order, then ready at the last one.
    let (ws, replay) = Ws::connect_ready(&base, &tom.token, Some(cursor0)).await;
    let seqs: Vec<i64> = replay.iter().map(|e| e.seq.0).collect();
    assert_increasing(&seqs, "replay");
    assert!(seqs.iter().all(|&s| s > cursor0), "{seqs:?} after {cursor0}");
    let ids: Vec<MessageId> = replay
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageNew { message } => Some(message.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, sent);
    assert_eq!(ws.ready, Some(end), "ready carries the last replayed seq");
    assert_eq!(seqs.last().copied(), Some(end));
    ws.close().await;

    // From the middle: only what came after.
    let mid = replay[4].seq.0;
    let (ws, rest) = Ws::connect_ready(&base, &tom.token, Some(mid)).await;
    assert_eq!(rest.first().map(|e| e.seq.0), Some(replay[5].seq.0));
    assert!(rest.iter().all(|e| e.seq.0 > mid));
    assert!(sent[5..].iter().all(|id| {
        rest.iter()
            .any(|e| matches!(&e.kind, EventKind::MessageNew { message } if message.id == *id))
    }));
    ws.close().await;

    // Without `since`: no replay at all; ready is "now".
    let now = settle(&tom, latest(&tom).await).await;
    let mut ws = Ws::connect(&base, &tom.token, None).await;
    let first = ws.next_frame(WAIT).await;
    assert!(is_ready(&first), "no replay without since, got {first:?}");
    assert_eq!(ws.ready, Some(now));
    ws.expect_silence(QUIET).await;
    let live = mira.say(conv, "live", "now").await;
    ws.wait_for(WAIT, |f| is_message(f, live.id)).await;
}

#[tokio::test]
async fn sync_answers_at_once_waits_for_news_and_times_out() {
    let server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let cursor0 = latest(&tom).await;
    let m1 = mira.say(conv, "m1", "waiting for you").await;

    // Something is waiting: the answer comes at once despite timeout=10.
    let started = Instant::now();
    let r = sync(&tom, &format!("since={cursor0}&timeout=10")).await;
    let at_once = started.elapsed();
    assert!(at_once < Duration::from_secs(2), "took {at_once:?}");
    assert!(
        r.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::MessageNew { message } if message.id == m1.id))
    );
    assert_eq!(r.next, r.events.last().unwrap().seq);
    assert!(!r.has_more);

    // Nothing waiting: it blocks until a message arrives.
    let cursor = settle(&tom, r.next.0).await;
    let poller = tom.api.clone();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let r: SyncResponse = poller
            .get_ok(&format!("/v1/sync?since={cursor}&timeout=10"))
            .await;
        (r, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "sync answered with nothing new");
    let m2 = mira.say(conv, "m2", "here I am").await;
    let (r, waited) = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(
        waited >= Duration::from_millis(650) && waited < Duration::from_secs(4),
        "woken after {waited:?} (timeout was 10 s)"
    );
    assert!(
        r.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::MessageNew { message } if message.id == m2.id)),
        "{:?}",
        r.events
    );
    println!(
        "sync long-poll: answered {at_once:?} when events waited; woke {waited:?} after arming (message at ~700 ms)"
    );

    // Nothing at all: empty after the timeout, cursor unchanged.
    let cursor = settle(&tom, r.next.0).await;
    let started = Instant::now();
    let r = sync(&tom, &format!("since={cursor}&timeout=1")).await;
    let waited = started.elapsed();
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(r.next.0, cursor);
    assert!(!r.has_more);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "empty answer after {waited:?}"
    );

    // The timeout is bounded.
    let (status, v) = tom.get(&format!("/v1/sync?since={cursor}&timeout=61")).await;
    assert_error(status, &v, 400, "invalid_query");
    // And sync needs a token.
    let (status, v) = server.anon().get("/v1/sync").await;
    assert_error(status, &v, 401, "unauthorized");
}

#[tokio::test]
async fn sync_pages_with_has_more() {
    let server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let cursor0 = latest(&tom).await;
    let mut sent = Vec::new();
    // 520 messages: more than one page (500) of tom's log.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let api = mira.api.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..130 {
                ids.push(api.say(conv, &format!("w{w}-{i}"), "paging").await.id);
            }
            ids
        }));
    }
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    sent.sort();

    let mut cursor = cursor0;
    let mut pages = Vec::new();
    let mut got = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let r = sync(&tom, &format!("since={cursor}")).await;
        pages.push((r.events.len(), r.has_more));
        for e in &r.events {
            seqs.push(e.seq.0);
            if let EventKind::MessageNew { message } = &e.kind {
                got.push(message.id);
            }
        }
        if let Some(last) = r.events.last() {
            assert_eq!(r.next, last.seq);
        }
        cursor = r.next.0;
        if !r.has_more {
            break;
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(pages[0], (500, true), "pages: {pages:?}");
    assert!(pages.len() >= 2);
    assert_increasing(&seqs, "pages");
    assert_eq!(got, sent, "every message once, in id order, across pages");
}

// ------------------------------------------------------------------ typing

#[tokio::test]
async fn typing_reaches_the_other_participant_once_and_expires() {
    let server = TestServer::start_with("[realtime]\ntyping_ttl_secs = 1\n");
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let carl = server.mentee("carl").await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut carls, _) = Ws::connect_ready(&base, &carl.token, None).await;
    let typing = format!("/v1/conversations/{conv}/typing");

    let (status, v) = mira.post(&typing, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let f = toms.next_frame(WAIT).await;
    assert_eq!(typing_of(&f), Some((conv, "mira", true)), "{f:?}");

    // Renewals within the TTL are not repeated, and keep it alive past the
    // TTL (a deadline that did not move would end it during these 1.8 s).
    let mut last_renewal = Instant::now();
    for _ in 0..6 {
        toms.expect_silence(Duration::from_millis(300)).await;
        assert_eq!(mira.post(&typing, &json!({})).await.0, StatusCode::OK);
        last_renewal = Instant::now();
    }
    // Then it ends by itself, about a TTL after the last renewal.
    let f = toms.next_frame(WAIT).await;
    let after = last_renewal.elapsed();
    assert_eq!(typing_of(&f), Some((conv, "mira", false)), "{f:?}");
    assert!(
        after >= Duration::from_millis(700) && after < Duration::from_secs(3),
        "typing ended {after:?} after the last renewal (ttl 1 s)"
    );
    println!("typing ended {after:?} after the last renewal (ttl 1 s, swept every 1 s)");
    toms.expect_silence(QUIET).await;
    // The outsider heard nothing of it.
    carls.expect_silence(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn typing_over_the_socket_ends_when_the_message_arrives() {
    let server = TestServer::start(); // default ttl: 5 s
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    toms.wait_for(WAIT, |f| presence_of(f, "mira").is_some()).await;

    let started = Instant::now();
    miras.typing(conv).await;
    let f = toms.wait_for(WAIT, |f| typing_of(f).is_some()).await;
    assert_eq!(typing_of(&f), Some((conv, "mira", true)));
    let m = mira.say(conv, "m1", "done typing").await;
    // The message, then at once the end of typing: no wait for the TTL.
    // (Events may come between the two: tom's own delivery marker does
    // when the signal goes round through PostgreSQL.)
    let f = toms.next_frame(WAIT).await;
    assert!(is_message(&f, m.id), "{f:?}");
    let f = toms.wait_for(WAIT, |f| typing_of(f).is_some()).await;
    assert_eq!(typing_of(&f), Some((conv, "mira", false)), "{f:?}");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "typing ended after {took:?} (ttl 5 s)"
    );
    // The typist never hears their own typing.
    miras
        .expect_silence_except(QUIET, |f| typing_of(f).is_none())
        .await;

    // Typing again starts a fresh indicator.
    miras.typing(conv).await;
    let f = toms.wait_for(WAIT, |f| typing_of(f).is_some()).await;
    assert_eq!(typing_of(&f), Some((conv, "mira", true)));
}

#[tokio::test]
async fn typing_in_someone_elses_conversation_is_refused_and_not_relayed() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let carl = server.mentee("carl").await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    let (mut carls, _) = Ws::connect_ready(&base, &carl.token, None).await;

    let (status, v) = carl
        .post(&format!("/v1/conversations/{conv}/typing"), &json!({}))
        .await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = carl.post("/v1/conversations/999999/typing", &json!({})).await;
    assert_error(status, &v, 404, "not_found");
    carls.typing(conv).await;
    carls.typing(999_999).await;
    // A typing frame is not a reason to close carl's socket either.
    carls.expect_silence(QUIET).await;
    for ws in [&mut toms, &mut miras] {
        ws.expect_silence_except(QUIET, is_presence).await;
    }
}

// ---------------------------------------------------------------- presence

#[tokio::test]
async fn presence_follows_contacts_connections_and_availability() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, _conv) = server.accepted_pair("mira", "tom").await;
    let carl = server.mentee("carl").await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut carls, _) = Ws::connect_ready(&base, &carl.token, None).await;

    // mira connects: tom sees her online; she gets tom's presence after ready.
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    expect_presence(&mut toms, "mira", None, PresenceState::Online).await;
    let f = miras.next_frame(WAIT).await;
    assert_eq!(
        presence_of(&f, "tom"),
        Some((PresenceState::Online, false)),
        "{f:?}"
    );

    // A second device does not announce her again.
    let (mira_phone, _) = Ws::connect_ready(&base, &server.login("mira").await.token, None).await;
    toms.expect_silence_except(QUIET, |f| {
        presence_of(f, "mira") == Some((PresenceState::Online, false))
    })
    .await;

    // Availability shows as presence.
    set_availability(&mira, "busy").await;
    expect_presence(
        &mut toms,
        "mira",
        Some(PresenceState::Online),
        PresenceState::Busy,
    )
    .await;
    set_availability(&mira, "away").await;
    expect_presence(&mut toms, "mira", None, PresenceState::Away).await;

    // Offline only when her last connection closes, with last_seen.
    miras.close().await;
    toms.expect_silence_except(QUIET, |f| !is_presence(f)).await;
    mira_phone.close().await;
    let f = expect_presence(&mut toms, "mira", None, PresenceState::Offline).await;
    if let ServerFrame::Signal(Signal::Presence {
        last_seen: Some(seen),
        ..
    }) = &f
    {
        let age = jiff::Timestamp::now().duration_since(*seen);
        assert!(age.as_secs().abs() < 60, "last_seen {seen} is not now");
    }
    let profile: serde_json::Value = tom.get_ok("/v1/users/mira").await;
    assert!(!profile["last_seen"].is_null(), "last_seen is stored: {profile}");

    // Reconnecting while away shows away, not online.
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    expect_presence(&mut toms, "mira", None, PresenceState::Away).await;
    // tom's presence after her ready.
    let f = miras.next_frame(WAIT).await;
    assert_eq!(
        presence_of(&f, "tom"),
        Some((PresenceState::Online, false)),
        "{f:?}"
    );

    // tom leaves: mira sees it. carl, no contact of anyone, saw nothing at all.
    toms.close().await;
    expect_presence(
        &mut miras,
        "tom",
        Some(PresenceState::Online),
        PresenceState::Offline,
    )
    .await;
    carls.expect_silence(Duration::from_millis(100)).await;
}

// ------------------------------------------------------- markers, notices

#[tokio::test]
async fn delivered_and_read_markers_reach_the_sender() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;

    let m = mira.say(conv, "m1", "did you get this?").await;
    toms.wait_for(WAIT, |f| is_message(f, m.id)).await;
    let f = miras
        .wait_for(WAIT, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MarkersUpdated { .. }))
        })
        .await;
    let Some(EventKind::MarkersUpdated {
        conversation_id,
        markers,
    }) = event(&f).map(|e| &e.kind)
    else {
        unreachable!()
    };
    assert_eq!(*conversation_id, conv);
    assert_eq!(markers.username, "tom");
    assert_eq!(
        markers.delivered_up_to, m.id,
        "delivered once tom's socket got it"
    );
    assert!(markers.read_up_to < m.id, "not read yet: {markers:?}");

    read_up_to(&tom, conv, m.id).await;
    let f = miras
        .wait_for(WAIT, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MarkersUpdated { .. }))
        })
        .await;
    let Some(EventKind::MarkersUpdated { markers, .. }) = event(&f).map(|e| &e.kind) else {
        unreachable!()
    };
    assert_eq!((markers.username.as_str(), markers.read_up_to), ("tom", m.id));
    // The page of history agrees.
    let page = mira.page(conv, "limit=1").await;
    let toms_marker = page.markers.iter().find(|mk| mk.username == "tom").unwrap();
    assert_eq!(
        (toms_marker.delivered_up_to, toms_marker.read_up_to),
        (m.id, m.id)
    );
}

fn message_notices(list: &mchat_shared::api::NotificationList) -> usize {
    list.notifications
        .iter()
        .filter(|n| n.kind == NotificationKind::MessageReceived)
        .count()
}

#[tokio::test]
async fn message_notifications_only_for_users_without_a_live_connection() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    miras.wait_for(WAIT, |f| presence_of(f, "tom").is_some()).await;

    // tom is online: no notification.
    let m1 = mira.say(conv, "m1", "you are here").await;
    toms.wait_for(WAIT, |f| is_message(f, m1.id)).await;
    assert_eq!(message_notices(&tom.notifications(false).await), 0);

    // tom goes offline: the next message notifies him (once while unread).
    toms.close().await;
    expect_presence(
        &mut miras,
        "tom",
        Some(PresenceState::Online),
        PresenceState::Offline,
    )
    .await;
    let cursor = latest(&tom).await;
    mira.say(conv, "m2", "are you there?").await;
    mira.say(conv, "m3", "hello?").await;
    let list = tom.notifications(true).await;
    assert_eq!(message_notices(&list), 1, "{list:?}");
    let n = list
        .notifications
        .iter()
        .find(|n| n.kind == NotificationKind::MessageReceived)
        .unwrap();
    assert_eq!(
        (n.conversation_id, n.actor.as_deref()),
        (Some(conv), Some("mira"))
    );
    let r = sync(&tom, &format!("since={cursor}")).await;
    assert!(
        r.events.iter().any(
            |e| matches!(&e.kind, EventKind::NotificationNew { notification } if notification.id == n.id)
        ),
        "the notification is in tom's log"
    );

    // A busy mentor is not disturbed while offline; an available one is.
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    set_availability(&mira, "busy").await;
    expect_presence(
        &mut toms,
        "mira",
        Some(PresenceState::Online),
        PresenceState::Busy,
    )
    .await;
    miras.close().await;
    expect_presence(
        &mut toms,
        "mira",
        Some(PresenceState::Busy),
        PresenceState::Offline,
    )
    .await;
    tom.say(conv, "t1", "no rush").await;
    assert_eq!(
        message_notices(&mira.notifications(false).await),
        0,
        "busy: no notification"
    );
    set_availability(&mira, "available").await;
    tom.say(conv, "t2", "one more thing").await;
    assert_eq!(
        message_notices(&mira.notifications(false).await),
        1,
        "available: notified"
    );
}

// -------------------------------------------------------------------- auth

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let server = TestServer::start();
    let base = server.base();
    let tom = server.mentee("tom").await;

    for bad in ["mct_not-a-real-token", "garbage", ""] {
        let (status, v) = refused(Ws::try_connect(&base, Some(bad), None).await);
        assert_error(status, &v, 401, "unauthorized");
    }
    // A revoked token too.
    let (status, v) = tom.post("/v1/auth/logout", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = refused(Ws::try_connect(&base, Some(&tom.token), None).await);
    assert_error(status, &v, 401, "unauthorized");
    // A plain GET (no upgrade) without a token is a 401 too, in the error shape.
    let (status, v) = server.anon().get("/v1/ws").await;
    assert_error(status, &v, 401, "unauthorized");
    // A bad cursor is a 400 in the error shape.
    let tom = server.login("tom").await;
    let (status, v) = refused(Ws::try_connect_query(&base, Some(&tom.token), "since=abc").await);
    assert_error(status, &v, 400, "invalid_query");
}

#[tokio::test]
async fn the_token_may_come_as_the_first_frame() {
    let server = TestServer::start();
    let base = server.base();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;

    let mut ws = Ws::try_connect(&base, None, None)
        .await
        .expect("upgrade without a header");
    ws.send_json(&json!({"type": "auth", "token": tom.token})).await;
    assert!(is_ready(&ws.next_frame(WAIT).await));
    let m = mira.say(conv, "m1", "over the first-frame socket").await;
    ws.wait_for(WAIT, |f| is_message(f, m.id)).await;

    // With a cursor in the URL, the replay follows the auth frame.
    let mut ws = Ws::try_connect(&base, None, Some(0)).await.unwrap();
    ws.send_json(&json!({"type": "auth", "token": tom.token})).await;
    let replay = ws.until_ready(WAIT).await;
    assert!(
        replay
            .iter()
            .any(|e| matches!(&e.kind, EventKind::MessageNew { message } if message.id == m.id))
    );

    // Anything else as the first frame closes with 4401.
    let firsts = [
        json!({"type": "auth", "token": "mct_wrong"}).to_string(),
        json!({"type": "auth", "token": "nonsense"}).to_string(),
        json!({"type": "typing", "conversation_id": conv}).to_string(),
        "not json".to_string(),
    ];
    for first in firsts {
        let mut ws = Ws::try_connect(&base, None, None).await.unwrap();
        ws.send_text(&first).await;
        assert_eq!(ws.expect_close(WAIT).await, Some(4401), "first frame {first}");
    }
}

#[tokio::test]
async fn revoking_a_token_closes_its_socket_with_4401() {
    let server = TestServer::start();
    let base = server.base();
    let (_mira, tom, _conv) = server.accepted_pair("mira", "tom").await;
    let tom2 = server.login("tom").await;
    let (mut first, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut second, _) = Ws::connect_ready(&base, &tom2.token, None).await;

    let (status, v) = tom.delete(&format!("/v1/tokens/{}", tom2.token_id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(second.expect_close(WAIT).await, Some(4401));
    first.expect_silence(QUIET).await; // the other token's socket stays

    let (status, v) = tom.post("/v1/auth/logout", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(first.expect_close(WAIT).await, Some(4401));
    let (status, _) = refused(Ws::try_connect(&base, Some(&tom.token), None).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------- shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_sockets_with_1001() {
    let mut server = TestServer::start();
    let base = server.base();
    let (mira, tom, _conv) = server.accepted_pair("mira", "tom").await;
    let (mut toms, _) = Ws::connect_ready(&base, &tom.token, None).await;
    let (mut miras, _) = Ws::connect_ready(&base, &mira.token, None).await;

    let stopping = tokio::task::spawn_blocking(move || {
        let status = server.stop();
        (status, server)
    });
    assert_eq!(toms.expect_close(Duration::from_secs(20)).await, Some(1001));
    assert_eq!(miras.expect_close(Duration::from_secs(20)).await, Some(1001));
    let (status, server) = stopping.await.unwrap();
    let status = status.expect("it was running");
    assert!(
        status.success(),
        "mchatd exited with {status}; log:\n{}",
        server.log()
    );
}
