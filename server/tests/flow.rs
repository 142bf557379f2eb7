//! The mentorship flow end to end, over real HTTP: the directory, requests
//! (get-or-create), accept, talking with unread counts and markers,
//! complete/reopen, decline, expiry, and notifications.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestServer, assert_error, decode, poll};
use mchat_shared::api::{
    ConversationStatus, Message, MessageKind, NotificationKind, NotificationList, ReadResponse, SystemAction,
    UserList,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Usernames in a directory answer, in order.
async fn directory(who: &Session, query: &str) -> Vec<String> {
    let list: UserList = who.get_ok(&format!("/v1/users?{query}")).await;
    list.users.into_iter().map(|u| u.username).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn post_ok(who: &Session, path: &str, body: Value) -> Value {
    let (status, v) = who.post(path, &body).await;
    assert_eq!(status, StatusCode::OK, "POST {path}: {v}");
    v
}

/// The system messages of a history, as (action, sender, body).
fn system_messages(history: &[Message]) -> Vec<(SystemAction, Option<String>, String)> {
    history
        .iter()
        .filter(|m| m.kind == MessageKind::System)
        .map(|m| (m.system.expect("system action"), m.sender.clone(), m.body.clone()))
        .collect()
}

#[tokio::test]
async fn directory_lists_approved_available_mentors_by_text_and_tag() {
    let server = TestServer::start();
    let mira = server
        .mentor(
            "mira",
            json!({"headline": "Staff engineer at Acme", "expertise": ["Rust", "databases"]}),
        )
        .await;
    server
        .mentor(
            "max",
            json!({"headline": "Product designer", "expertise": ["design", "ux"]}),
        )
        .await;
    let ava = server.mentor("ava", json!({"expertise": ["rust"]})).await;
    // Registered but never approved.
    let _uma = server
        .register_with(json!({
            "username": "uma", "password": common::PASSWORD, "role": "mentor",
            "profile": {"headline": "Rust consultant", "expertise": ["rust"]}
        }))
        .await;
    let tom = server.mentee("tom").await;

    let all_mentors = "role=mentor";
    assert_eq!(sorted(directory(&tom, all_mentors).await), ["ava", "max", "mira"]);

    // `q` matches expertise tags (case-folded at registration) and headlines, case-insensitively.
    assert_eq!(
        sorted(directory(&tom, "role=mentor&q=rust").await),
        ["ava", "mira"]
    );
    assert_eq!(directory(&tom, "role=mentor&q=acme").await, ["mira"]);
    assert_eq!(directory(&tom, "role=mentor&q=DESIGNER").await, ["max"]);
    assert_eq!(directory(&tom, "role=mentor&q=ux").await, ["max"]);
    // `q` matches tags, not the way they are stored: JSON punctuation matches nobody.
    for q in ["%5B", "%22", "%2C", "%5D"] {
        assert_eq!(
            directory(&tom, &format!("q={q}")).await,
            Vec::<String>::new(),
            "q={q}"
        );
    }
    // `expertise` is an exact (case-insensitive) tag.
    assert_eq!(sorted(directory(&tom, "expertise=rust").await), ["ava", "mira"]);
    assert_eq!(sorted(directory(&tom, "expertise=RUST").await), ["ava", "mira"]);
    assert_eq!(directory(&tom, "expertise=rus").await, Vec::<String>::new());

    // A mentor who steps away leaves the available list, and comes back.
    let (status, v) = ava.patch("/v1/me", &json!({"availability": "away"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["availability"], "away");
    assert_eq!(
        directory(&tom, "role=mentor&available=true&q=rust").await,
        ["mira"]
    );
    assert_eq!(directory(&tom, "available=true&expertise=rust").await, ["mira"]);
    assert_eq!(
        sorted(directory(&tom, "role=mentor&q=rust").await),
        ["ava", "mira"]
    );
    let (status, _) = ava.patch("/v1/me", &json!({"availability": "busy"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(directory(&tom, "available=true&q=rust").await, ["mira"]);
    let (status, _) = ava.patch("/v1/me", &json!({"availability": "available"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sorted(directory(&tom, "role=mentor&available=true&q=rust").await),
        ["ava", "mira"]
    );

    // Only mentors have an availability.
    let (status, v) = tom.patch("/v1/me", &json!({"availability": "away"})).await;
    // A mentee has no availability: not a bad value, not theirs to set.
    assert_error(status, &v, 403, "forbidden");

    // The unapproved mentor is in no listing and cannot be requested...
    assert!(!directory(&tom, "").await.contains(&"uma".to_string()));
    assert_eq!(directory(&tom, "q=uma").await, Vec::<String>::new());
    let (status, v) = tom
        .post("/v1/conversations", &json!({"to": "uma", "message": "hi"}))
        .await;
    // ...answering exactly like a name nobody has (no existence leak).
    assert_error(status, &v, 404, "not_found");
    let (_, nobody) = tom
        .post("/v1/conversations", &json!({"to": "nobody", "message": "hi"}))
        .await;
    assert_eq!(
        v["error"]["message"].as_str().map(|m| m.replace("uma", "nobody")),
        nobody["error"]["message"].as_str().map(str::to_string)
    );
    assert!(
        tom.conversations().await.is_empty(),
        "a refused request wrote nothing"
    );
    // ...until an admin approves them.
    server.approve("uma").await;
    assert_eq!(
        sorted(directory(&tom, "role=mentor&available=true&q=rust").await),
        ["ava", "mira", "uma"]
    );

    // Mentees are in the directory too, but never in the mentor listings.
    assert_eq!(directory(&mira, "role=mentee").await, ["tom"]);
    assert!(
        !directory(&mira, "available=true")
            .await
            .contains(&"tom".to_string())
    );
}

#[tokio::test]
async fn request_accept_talk_complete_reopen() {
    let server = TestServer::start();
    let mira = server
        .mentor(
            "mira",
            json!({"headline": "Staff engineer", "expertise": ["rust"]}),
        )
        .await;
    let tom = server.mentee("tom").await;

    // The mentee finds the mentor and asks.
    let found = directory(&tom, "role=mentor&available=true&q=rust").await;
    assert_eq!(found, ["mira"]);
    let (status, first) = tom.request("mira", "Hi Mira, could you help me with Rust?").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(first.created);
    let c = &first.conversation;
    let id = c.id;
    assert_eq!(c.status, ConversationStatus::Pending);
    assert_eq!(c.requested_by, "tom");
    assert_eq!(c.peer.username, "mira");
    assert!(c.expires_at.is_some(), "a pending request has a deadline");
    assert_eq!(c.unread, 0);
    assert!(!c.awaiting_reply, "the requester is not the one who must answer");

    // Asking again returns the same conversation and adds nothing.
    let (status, again) = tom.request("mira", "Hello again?").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!again.created);
    assert_eq!(again.conversation.id, id);
    let history = tom.history(id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let intro = &history[0];
    assert_eq!(intro.body, "Hi Mira, could you help me with Rust?");
    assert_eq!(intro.sender.as_deref(), Some("tom"));
    assert_eq!(intro.kind, MessageKind::Text);

    // While pending nobody can post.
    let (status, v) = tom.send_raw(id, "early-1", "are you there?").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let (status, v) = mira.send_raw(id, "early-2", "let me accept first").await;
    assert_error(status, &v, 409, "conversation_not_open");
    assert_eq!(tom.history(id).await.len(), 1);

    // The mentor sees the request: pending, one unread, theirs to answer.
    let list = mira.conversations().await;
    assert_eq!(list.len(), 1);
    let seen = &list[0];
    assert_eq!(seen.id, id);
    assert_eq!(seen.status, ConversationStatus::Pending);
    assert_eq!(seen.peer.username, "tom");
    assert_eq!(seen.unread, 1);
    assert!(seen.awaiting_reply);
    assert_eq!(seen.last_message.as_ref().map(|m| m.id), Some(intro.id));
    let notes = mira.notifications(true).await;
    let received: Vec<_> = notes
        .notifications
        .iter()
        .filter(|n| n.kind == NotificationKind::RequestReceived)
        .collect();
    assert_eq!(received.len(), 1, "{notes:?}");
    assert_eq!(received[0].conversation_id, Some(id));
    assert_eq!(received[0].actor.as_deref(), Some("tom"));

    // The requester cannot answer their own request; nothing can be completed yet.
    for action in ["accept", "decline"] {
        let (status, v) = tom
            .post(&format!("/v1/conversations/{id}/{action}"), &json!({}))
            .await;
        assert_error(status, &v, 403, "forbidden");
    }
    let (status, v) = mira
        .post(&format!("/v1/conversations/{id}/complete"), &json!({}))
        .await;
    assert_error(status, &v, 409, "invalid_transition");
    assert_eq!(tom.conversation(id).await.status, ConversationStatus::Pending);
    assert_eq!(tom.history(id).await.len(), 1);

    // The mentor accepts (twice: the retry is a no-op).
    let accepted = post_ok(&mira, &format!("/v1/conversations/{id}/accept"), json!({})).await;
    assert_eq!(accepted["status"], "accepted");
    assert!(accepted["expires_at"].is_null(), "{accepted}");
    post_ok(&mira, &format!("/v1/conversations/{id}/accept"), json!({})).await;
    let history = tom.history(id).await;
    assert_eq!(
        system_messages(&history),
        [(
            SystemAction::Accepted,
            Some("mira".to_string()),
            "mira accepted the request".to_string()
        )]
    );
    let accept_msg = history[1].id;
    let notes = tom.notifications(true).await;
    assert!(
        notes
            .notifications
            .iter()
            .any(|n| n.kind == NotificationKind::RequestAccepted
                && n.conversation_id == Some(id)
                && n.actor.as_deref() == Some("mira")),
        "{notes:?}"
    );
    let tv = tom.conversation(id).await;
    assert_eq!(tv.status, ConversationStatus::Accepted);
    assert_eq!(tv.unread, 1, "the acceptance is new to the mentee");
    assert!(!tv.awaiting_reply, "system messages do not ask for a reply");
    assert_eq!(
        mira.conversation(id).await.unread,
        0,
        "accepting reads the request"
    );

    // They talk.
    let m1 = tom.say(id, "t-1", "Thanks! First question: lifetimes.").await;
    assert_eq!(
        tom.conversation(id).await.unread,
        0,
        "sending reads what came before"
    );
    let mv = mira.conversation(id).await;
    assert_eq!(mv.unread, 1);
    assert!(mv.awaiting_reply);
    let r1 = mira.say(id, "r-1", "Sure, ask away.").await;
    let r2 = mira.say(id, "r-2", "Start with chapter 10 of the book.").await;
    assert!(
        m1.id > accept_msg && r1.id > m1.id && r2.id > r1.id,
        "ids are monotonic"
    );
    let tv = tom.conversation(id).await;
    assert_eq!(tv.unread, 2);
    assert!(tv.awaiting_reply);
    assert_eq!(tv.last_message.as_ref().map(|m| m.id), Some(r2.id));
    let mv = mira.conversation(id).await;
    assert_eq!(mv.unread, 0);
    assert!(!mv.awaiting_reply);
    assert_eq!(mv.peer_markers.read_up_to, m1.id);

    // Delivered moves only the delivered marker; read moves both; neither moves back.
    let (status, v) = tom
        .post(
            &format!("/v1/conversations/{id}/delivered"),
            &json!({"up_to": r1.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let d: ReadResponse = decode(v);
    assert_eq!((d.markers.delivered_up_to, d.markers.read_up_to), (r1.id, m1.id));
    assert_eq!(d.unread, 2);
    let mv = mira.conversation(id).await;
    assert_eq!(mv.peer_markers.username, "tom");
    assert_eq!(mv.peer_markers.delivered_up_to, r1.id);
    assert_eq!(mv.peer_markers.read_up_to, m1.id);
    let page = mira.page(id, "limit=10").await;
    let toms = page
        .markers
        .iter()
        .find(|m| m.username == "tom")
        .expect("tom's markers");
    assert_eq!((toms.delivered_up_to, toms.read_up_to), (r1.id, m1.id));

    let r: ReadResponse = decode(
        post_ok(
            &tom,
            &format!("/v1/conversations/{id}/read"),
            json!({"up_to": r1.id}),
        )
        .await,
    );
    assert_eq!(r.unread, 1);
    let r: ReadResponse = decode(
        post_ok(
            &tom,
            &format!("/v1/conversations/{id}/read"),
            json!({"up_to": r2.id}),
        )
        .await,
    );
    assert_eq!(
        (r.markers.read_up_to, r.markers.delivered_up_to, r.unread),
        (r2.id, r2.id, 0)
    );
    let r: ReadResponse = decode(
        post_ok(
            &tom,
            &format!("/v1/conversations/{id}/read"),
            json!({"up_to": m1.id}),
        )
        .await,
    );
    assert_eq!(r.markers.read_up_to, r2.id, "markers never move back");
    let r: ReadResponse = decode(
        post_ok(
            &tom,
            &format!("/v1/conversations/{id}/read"),
            json!({"up_to": 1_000_000_000}),
        )
        .await,
    );
    assert_eq!(r.markers.read_up_to, r2.id, "markers never pass the last message");
    assert_eq!(tom.conversation(id).await.unread, 0);
    let mv = mira.conversation(id).await;
    assert_eq!(
        (mv.peer_markers.delivered_up_to, mv.peer_markers.read_up_to),
        (r2.id, r2.id)
    );
    assert_eq!(mv.my_markers.username, "mira");

    // A reply flips who is awaited.
    let m2 = tom.say(id, "t-2", "Done, it clicked.").await;
    assert!(!tom.conversation(id).await.awaiting_reply);
    assert!(mira.conversation(id).await.awaiting_reply);

    // Completing makes the thread read-only and tells the other side.
    let done = post_ok(&mira, &format!("/v1/conversations/{id}/complete"), json!({})).await;
    assert_eq!(done["status"], "completed");
    let (status, v) = tom.send_raw(id, "t-3", "one more thing").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let (status, v) = mira.send_raw(id, "r-3", "one more thing").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let tv = tom.conversation(id).await;
    assert_eq!(tv.status, ConversationStatus::Completed);
    assert!(
        !tv.awaiting_reply,
        "nothing is awaited in a completed conversation"
    );
    let history = tom.history(id).await;
    assert_eq!(
        history.last().map(|m| m.id),
        tv.last_message.as_ref().map(|m| m.id)
    );
    assert_eq!(
        system_messages(&history).last(),
        Some(&(
            SystemAction::Completed,
            Some("mira".to_string()),
            "mira marked the conversation complete".to_string()
        ))
    );
    assert!(
        !history.iter().any(|m| m.client_id.as_deref() == Some("t-3")),
        "a refused message is not stored"
    );
    assert!(
        tom.notifications(true)
            .await
            .notifications
            .iter()
            .any(|n| n.kind == NotificationKind::ConversationCompleted && n.conversation_id == Some(id))
    );
    // The history stays readable, and the request endpoint still finds it.
    let (status, again) = tom.request("mira", "Can we continue?").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again.conversation.status, ConversationStatus::Completed);

    // Either side may reopen; posting works again.
    let reopened = post_ok(&tom, &format!("/v1/conversations/{id}/reopen"), json!({})).await;
    assert_eq!(reopened["status"], "accepted");
    assert!(
        mira.notifications(true)
            .await
            .notifications
            .iter()
            .any(|n| n.kind == NotificationKind::ConversationReopened && n.actor.as_deref() == Some("tom"))
    );
    let m3 = tom.say(id, "t-3", "one more thing").await;
    assert!(m3.id > m2.id);
    let history = tom.history(id).await;
    let actions: Vec<SystemAction> = system_messages(&history).into_iter().map(|s| s.0).collect();
    assert_eq!(
        actions,
        [
            SystemAction::Accepted,
            SystemAction::Completed,
            SystemAction::Reopened
        ]
    );
    assert_eq!(history.last().map(|m| m.id), Some(m3.id));
    // Ids are strictly increasing through the whole thread.
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn conversation_list_is_sorted_by_last_activity() {
    let server = TestServer::start();
    let mira = server.mentor("mira", json!({})).await;
    let max = server.mentor("max", json!({})).await;
    let tom = server.mentee("tom").await;

    let order = |list: Vec<mchat_shared::api::Conversation>| -> Vec<String> {
        assert!(
            list.windows(2)
                .all(|w| w[0].last_activity_at >= w[1].last_activity_at),
            "not sorted by last activity"
        );
        list.into_iter().map(|c| c.peer.username).collect()
    };
    let (_, a) = tom.request("mira", "hello mira").await;
    let (_, b) = tom.request("max", "hello max").await;
    let (a, b) = (a.conversation.id, b.conversation.id);
    assert_eq!(order(tom.conversations().await), ["max", "mira"]);
    post_ok(&mira, &format!("/v1/conversations/{a}/accept"), json!({})).await;
    assert_eq!(order(tom.conversations().await), ["mira", "max"]);
    post_ok(&max, &format!("/v1/conversations/{b}/accept"), json!({})).await;
    assert_eq!(order(tom.conversations().await), ["max", "mira"]);
    tom.say(a, "a-1", "a question for mira").await;
    assert_eq!(order(tom.conversations().await), ["mira", "max"]);
    max.say(b, "b-1", "a note from max").await;
    assert_eq!(order(tom.conversations().await), ["max", "mira"]);
    // Markers are not activity.
    post_ok(
        &tom,
        &format!("/v1/conversations/{a}/read"),
        json!({"up_to": 1_000_000}),
    )
    .await;
    assert_eq!(order(tom.conversations().await), ["max", "mira"]);
    // Writes committed together share a timestamp; the list must still put
    // the conversation with the newest message first: the later one, or of
    // two at the same millisecond the one with the higher id. (On SQLite a
    // batch shares one timestamp; on PostgreSQL each transaction has its
    // own, taken at its start, so ids and times may disagree by a moment.)
    for round in 0..20 {
        let (ka, kb) = (format!("ca-{round}"), format!("cb-{round}"));
        let (ma, mb) = tokio::join!(tom.say(a, &ka, "concurrent a"), tom.say(b, &kb, "concurrent b"));
        let newest = if (ma.created_at, ma.id) > (mb.created_at, mb.id) {
            "mira"
        } else {
            "max"
        };
        let list = tom.conversations().await;
        assert_eq!(
            list[0].peer.username, newest,
            "round {round}: {:?} vs {:?}",
            ma, mb
        );
    }
    // Each side only lists their own conversations.
    assert_eq!(order(mira.conversations().await), ["tom"]);
    assert_eq!(order(max.conversations().await), ["tom"]);
}

#[tokio::test]
async fn decline_with_reason_blocks_asking_again() {
    let server = TestServer::start();
    let mira = server.mentor("mira", json!({})).await;
    let tom = server.mentee("tom").await;
    let ann = server.mentee("ann").await;

    let (_, c) = tom.request("mira", "Could you mentor me?").await;
    let id = c.conversation.id;
    let declined = post_ok(
        &mira,
        &format!("/v1/conversations/{id}/decline"),
        json!({"reason": "  I am fully booked this month  "}),
    )
    .await;
    assert_eq!(declined["status"], "declined");
    let history = tom.history(id).await;
    assert_eq!(
        system_messages(&history),
        [(
            SystemAction::Declined,
            Some("mira".to_string()),
            "mira declined the request: I am fully booked this month".to_string()
        )]
    );
    let notes = tom.notifications(true).await;
    let note = notes
        .notifications
        .iter()
        .find(|n| n.kind == NotificationKind::RequestDeclined)
        .expect("a request_declined notification");
    assert!(note.body.contains("I am fully booked this month"), "{note:?}");
    assert_eq!(note.conversation_id, Some(id));

    // The requester cannot simply ask again, nor post.
    let (status, v) = tom
        .post("/v1/conversations", &json!({"to": "mira", "message": "Please?"}))
        .await;
    assert_error(status, &v, 409, "request_declined");
    let (status, v) = tom.send_raw(id, "t-1", "Please?").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let (status, v) = mira
        .post(&format!("/v1/conversations/{id}/accept"), &json!({}))
        .await;
    assert_error(status, &v, 409, "invalid_transition");
    assert_eq!(tom.history(id).await, history, "nothing was written");
    assert_eq!(tom.conversation(id).await.status, ConversationStatus::Declined);

    // Declining without a body (no reason) works too.
    let (_, c2) = ann.request("mira", "Hi!").await;
    let id2 = c2.conversation.id;
    let r = mira
        .raw(
            reqwest::Method::POST,
            &format!("/v1/conversations/{id2}/decline"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        system_messages(&ann.history(id2).await),
        [(
            SystemAction::Declined,
            Some("mira".to_string()),
            "mira declined the request".to_string()
        )]
    );
    // The side that declined may start over later: the conversation is renewed.
    let (status, renewed) = mira.request("ann", "Sorry about earlier, I have time now.").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(renewed.conversation.id, id2);
    assert_eq!(renewed.conversation.status, ConversationStatus::Pending);
    assert_eq!(renewed.conversation.requested_by, "mira");
}

#[tokio::test]
async fn unanswered_requests_expire_and_can_be_renewed() {
    let server = TestServer::start_with("[requests]\npending_ttl_secs = 1\nsweep_interval_secs = 1\n");
    let mira = server.mentor("mira", json!({})).await;
    let tom = server.mentee("tom").await;

    let (status, c) = tom.request("mira", "Anyone there?").await;
    assert_eq!(status, StatusCode::CREATED);
    let id = c.conversation.id;
    assert_eq!(c.conversation.status, ConversationStatus::Pending);

    let expired = poll(Duration::from_secs(10), "the request to expire", || async {
        let c = tom.conversation(id).await;
        (c.status == ConversationStatus::Expired).then_some(c)
    })
    .await;
    assert!(expired.expires_at.is_none());
    let history = tom.history(id).await;
    assert_eq!(
        system_messages(&history),
        [(
            SystemAction::Expired,
            None,
            "the request expired without an answer".to_string()
        )]
    );
    let notes = tom.notifications(true).await;
    let note = notes
        .notifications
        .iter()
        .find(|n| n.kind == NotificationKind::RequestExpired)
        .unwrap_or_else(|| panic!("no request_expired notification in {notes:?}"));
    assert_eq!(note.conversation_id, Some(id));
    assert!(note.body.contains("mira"), "{note:?}");
    assert!(
        !mira
            .notifications(false)
            .await
            .notifications
            .iter()
            .any(|n| n.kind == NotificationKind::RequestExpired),
        "only the requester is told"
    );

    // An expired request cannot be answered or posted to.
    let (status, v) = mira
        .post(&format!("/v1/conversations/{id}/accept"), &json!({}))
        .await;
    assert_error(status, &v, 409, "invalid_transition");
    let (status, v) = tom.send_raw(id, "late", "hello?").await;
    assert_error(status, &v, 409, "conversation_not_open");

    // Asking again renews the same conversation as a fresh pending request.
    let (status, renewed) = tom.request("mira", "Trying again").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(renewed.created);
    assert_eq!(renewed.conversation.id, id);
    assert_eq!(renewed.conversation.status, ConversationStatus::Pending);
    assert!(renewed.conversation.expires_at.is_some());
    let history = tom.history(id).await;
    assert_eq!(history.last().map(|m| m.body.as_str()), Some("Trying again"));
    assert_eq!(
        mira.notifications(false)
            .await
            .notifications
            .iter()
            .filter(|n| n.kind == NotificationKind::RequestReceived)
            .count(),
        2
    );
}

#[tokio::test]
async fn notifications_list_filter_and_mark_read() {
    let server = TestServer::start();
    let mira = server.mentor("mira", json!({})).await;
    let mut mentees = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        let m = server.mentee(name).await;
        m.request("mira", &format!("hi, I am {name}")).await;
        mentees.push(m);
    }

    let all = mira.notifications(false).await;
    assert_eq!(all.unread_count, 4, "{all:?}");
    let kinds: Vec<NotificationKind> = all.notifications.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            NotificationKind::RequestReceived,
            NotificationKind::RequestReceived,
            NotificationKind::RequestReceived,
            NotificationKind::MentorApproved
        ],
        "newest first"
    );
    assert!(all.notifications.iter().all(|n| n.read_at.is_none()));
    assert!(all.notifications.windows(2).all(|w| w[0].id > w[1].id));
    let actors: Vec<Option<&str>> = all.notifications.iter().map(|n| n.actor.as_deref()).collect();
    assert_eq!(actors, [Some("cyd"), Some("bob"), Some("ann"), None]);
    let limited: NotificationList = mira.get_ok("/v1/notifications?limit=2").await;
    assert_eq!(limited.notifications.len(), 2);
    assert_eq!(limited.unread_count, 4, "the count is not limited by the page");

    // Mark two by id.
    let ids = [all.notifications[0].id, all.notifications[2].id];
    let marked = post_ok(&mira, "/v1/notifications/read", json!({"ids": ids})).await;
    assert_eq!(marked, json!({"marked": 2, "unread_count": 2}));
    let unread = mira.notifications(true).await;
    assert_eq!(unread.unread_count, 2);
    let unread_ids: Vec<_> = unread.notifications.iter().map(|n| n.id).collect();
    assert_eq!(unread_ids, [all.notifications[1].id, all.notifications[3].id]);
    let everything = mira.notifications(false).await;
    assert_eq!(everything.notifications.len(), 4);
    assert_eq!(
        everything
            .notifications
            .iter()
            .filter(|n| n.read_at.is_some())
            .count(),
        2
    );
    // Marking again is harmless.
    let marked = post_ok(&mira, "/v1/notifications/read", json!({"ids": ids})).await;
    assert_eq!(marked, json!({"marked": 0, "unread_count": 2}));

    // An unknown id fails the whole call: the valid id beside it stays unread.
    let keep = all.notifications[1].id;
    let (status, v) = mira
        .post("/v1/notifications/read", &json!({"ids": [keep, 987_654]}))
        .await;
    assert_error(status, &v, 404, "not_found");
    assert_eq!(mira.notifications(true).await.unread_count, 2);

    // Neither or both of ids/all, or an empty list, is a validation error.
    for body in [
        json!({}),
        json!({"ids": []}),
        json!({"all": false}),
        json!({"ids": [keep], "all": true}),
    ] {
        let (status, v) = mira.post("/v1/notifications/read", &body).await;
        assert_error(status, &v, 400, "validation_failed");
    }
    assert_eq!(mira.notifications(true).await.unread_count, 2);

    // Mark all.
    let marked = post_ok(&mira, "/v1/notifications/read", json!({"all": true})).await;
    assert_eq!(marked, json!({"marked": 2, "unread_count": 0}));
    let unread = mira.notifications(true).await;
    assert!(unread.notifications.is_empty());
    assert_eq!(unread.unread_count, 0);
    assert!(
        mira.notifications(false)
            .await
            .notifications
            .iter()
            .all(|n| n.read_at.is_some())
    );
    // The mentees' own notifications are untouched (they have none yet).
    assert_eq!(mentees[0].notifications(false).await.notifications.len(), 0);
}
