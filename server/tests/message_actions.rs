//! Edit, delete, replies and reactions over HTTP: what each does to the
//! message, the history page, the conversation list and the event stream,
//! and who may do it (a non-participant cannot tell the message exists; a
//! participant cannot change someone else's message).

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Ws, event};
use common::{Session, TestServer, assert_error, decode};
use mchat_shared::api::Message;
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, MessageId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A path segment for an emoji (every byte percent-encoded).
fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn edit(s: &Session, id: MessageId, body: &str) -> (StatusCode, Value) {
    s.patch(&format!("/v1/messages/{id}"), &json!({ "body": body }))
        .await
}

async fn react(s: &Session, id: MessageId, emoji: &str) -> (StatusCode, Value) {
    s.put(&format!("/v1/messages/{id}/reactions/{}", enc(emoji)), &json!({}))
        .await
}

async fn unreact(s: &Session, id: MessageId, emoji: &str) -> (StatusCode, Value) {
    s.delete(&format!("/v1/messages/{id}/reactions/{}", enc(emoji)))
        .await
}

async fn reply(s: &Session, conv: ConversationId, client_id: &str, body: &str, to: MessageId) -> Message {
    let (status, v) = s
        .post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({"client_id": client_id, "body": body, "reply_to": to}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "reply: {v}");
    decode(v)
}

fn ok((status, v): (StatusCode, Value)) -> Message {
    assert_eq!(status, StatusCode::OK, "{v}");
    decode(v)
}

fn edits_of(server: &TestServer, id: MessageId) -> Vec<String> {
    server.sql().texts(
        "SELECT body FROM message_edits WHERE message_id = ?1 ORDER BY id",
        &[id.0.into()],
    )
}

#[tokio::test]
async fn edits_keep_the_original_and_follow_the_send_rules() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let m = ana.say(conv, "a-1", "can we talk about lifetmes?").await;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &mona.token, None).await;

    let edited = ok(edit(&ana, m.id, "  can we talk about lifetimes?  ").await);
    assert_eq!(edited.body, "can we talk about lifetimes?", "trimmed like a send");
    assert!(edited.edited_at.is_some());
    assert_eq!(edited.created_at, m.created_at);
    assert_eq!(edits_of(&server, m.id), vec!["can we talk about lifetmes?"]);

    // The peer learns it live, with the whole message.
    let frame = ws
        .wait_for(T, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MessageUpdated { .. }))
        })
        .await;
    match &event(&frame).unwrap().kind {
        EventKind::MessageUpdated { message } => assert_eq!(message, &edited),
        other => panic!("{other:?}"),
    }
    // History, the single message and the conversation list agree.
    assert_eq!(ana.history(conv).await.last().unwrap(), &edited);
    assert_eq!(
        mona.get_ok::<Message>(&format!("/v1/messages/{}", m.id)).await,
        edited
    );
    let list = mona.conversations().await;
    assert_eq!(list[0].last_message.as_ref(), Some(&edited));

    // The same text again changes nothing and records nothing.
    let same = ok(edit(&ana, m.id, "can we talk about lifetimes?").await);
    assert_eq!(same, edited);
    assert_eq!(edits_of(&server, m.id).len(), 1);
    ws.expect_silence_except(Duration::from_millis(300), |f| event(f).is_none())
        .await;

    // A second edit keeps both earlier texts, in order.
    ok(edit(&ana, m.id, "third version").await);
    assert_eq!(
        edits_of(&server, m.id),
        vec!["can we talk about lifetmes?", "can we talk about lifetimes?"]
    );

    // Same validation as a send: 400 in the one error shape.
    let (status, v) = edit(&ana, m.id, "   ").await;
    assert_error(status, &v, 400, "validation_failed");
    assert_eq!(v["error"]["field"], "body");
    let (status, v) = edit(&ana, m.id, &"x".repeat(4001)).await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = edit(&ana, m.id, "bell \u{7} here").await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = ana
        .patch(
            &format!("/v1/messages/{}", m.id),
            &json!({"body": "x", "extra": 1}),
        )
        .await;
    assert_error(status, &v, 400, "invalid_json");
    let r = ana
        .raw(
            Method::PATCH,
            "/v1/messages/abc",
            Some("application/json"),
            Some(b"{\"body\":\"x\"}".to_vec()),
        )
        .await;
    assert_error(r.status, &r.body, 400, "invalid_query");
    assert_eq!(ana.history(conv).await.last().unwrap().body, "third version");
}

#[tokio::test]
async fn only_participants_see_and_only_senders_change() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let eve = server.mentee("eve").await;
    let m = ana.say(conv, "a-1", "private words").await;
    ok(react(&mona, m.id, "👍").await);

    // A non-participant gets exactly what a missing message gets.
    let missing = MessageId(m.id.0 + 1000);
    for id in [m.id, missing] {
        let (status, v) = eve.get(&format!("/v1/messages/{id}")).await;
        assert_error(status, &v, 404, "not_found");
        let (status, v) = edit(&eve, id, "mine now").await;
        assert_error(status, &v, 404, "not_found");
        let (status, v) = eve.delete(&format!("/v1/messages/{id}")).await;
        assert_error(status, &v, 404, "not_found");
        let (status, v) = react(&eve, id, "👀").await;
        assert_error(status, &v, 404, "not_found");
        let (status, v) = unreact(&eve, id, "👍").await;
        assert_error(status, &v, 404, "not_found");
    }
    let a = eve.get(&format!("/v1/messages/{}", m.id)).await.1;
    let b = eve.get(&format!("/v1/messages/{missing}")).await.1;
    assert_eq!(a, b, "same answer for a hidden and a missing message");
    // Without a token: 401.
    let (status, v) = server.anon().get(&format!("/v1/messages/{}", m.id)).await;
    assert_error(status, &v, 401, "unauthorized");

    // The other participant may read and react, not edit or delete.
    let (status, v) = edit(&mona, m.id, "words put in her mouth").await;
    assert_error(status, &v, 403, "forbidden");
    let (status, v) = mona.delete(&format!("/v1/messages/{}", m.id)).await;
    assert_error(status, &v, 403, "forbidden");
    let seen = ana.get_ok::<Message>(&format!("/v1/messages/{}", m.id)).await;
    assert_eq!(seen.body, "private words");
    assert!(seen.edited_at.is_none() && seen.deleted_at.is_none());
    assert!(edits_of(&server, m.id).is_empty());

    // Eve's attempts left no reaction behind.
    assert_eq!(seen.reactions.len(), 1);
    assert_eq!(seen.reactions[0].users, vec!["mona"]);

    // An admin may delete without being a participant, but not read.
    let admin = server.admin_session().await;
    let (status, v) = admin.get(&format!("/v1/messages/{}", m.id)).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = edit(admin, m.id, "moderated").await;
    assert_error(status, &v, 404, "not_found");
    let gone = ok(admin.delete(&format!("/v1/messages/{}", m.id)).await);
    assert!(gone.deleted_at.is_some());
    assert_eq!(gone.body, "");
    let (status, v) = admin.delete(&format!("/v1/messages/{missing}")).await;
    assert_error(status, &v, 404, "not_found");
}

#[tokio::test]
async fn deleting_leaves_a_tombstone() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let m = ana.say(conv, "a-1", "oops, wrong chat").await;
    ok(react(&mona, m.id, "😂").await);
    let answer = reply(&mona, conv, "m-1", "happens", m.id).await;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &mona.token, None).await;

    let tomb = ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert_eq!(tomb.body, "");
    assert!(tomb.deleted_at.is_some());
    assert!(tomb.reactions.is_empty(), "reactions go with the text");
    let frame = ws
        .wait_for(T, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MessageUpdated { .. }))
        })
        .await;
    match &event(&frame).unwrap().kind {
        EventKind::MessageUpdated { message } => assert_eq!(message, &tomb),
        other => panic!("{other:?}"),
    }

    // Twice is a no-op: same tombstone, no event.
    let again = ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert_eq!(again, tomb);
    ws.expect_silence_except(Duration::from_millis(300), |f| event(f).is_none())
        .await;

    // The row stays (the thread keeps its shape); the text never leaves the server.
    let history = mona.history(conv).await;
    let in_page = history.iter().find(|x| x.id == m.id).unwrap();
    assert_eq!(in_page, &tomb);
    assert!(!serde_json::to_string(&history).unwrap().contains("wrong chat"));
    // The reply's quote says the parent is gone, without its text.
    let quoted = history.iter().find(|x| x.id == answer.id).unwrap();
    let q = quoted.reply.as_ref().unwrap();
    assert!(q.deleted);
    assert_eq!(q.excerpt, "");
    assert_eq!(q.id, m.id);

    // A tombstone cannot be edited or reacted to.
    let (status, v) = edit(&ana, m.id, "rewritten").await;
    assert_error(status, &v, 409, "invalid_transition");
    let (status, v) = react(&mona, m.id, "👍").await;
    assert_error(status, &v, 409, "invalid_transition");
}

#[tokio::test]
async fn replies_carry_a_quote_everywhere() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let long = format!("{}tail", "é".repeat(300));
    let parent = ana.say(conv, "a-1", &long).await;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    let child = reply(&mona, conv, "m-1", "see the book", parent.id).await;
    let q = child.reply.as_ref().expect("the send answer has the quote");
    assert_eq!(q.id, parent.id);
    assert_eq!(q.sender.as_deref(), Some("ana"));
    assert!(!q.deleted);
    assert_eq!(q.excerpt, "é".repeat(mchat_shared::limits::QUOTE_MAX_CHARS));
    // In the live event, the page, the single message and the list.
    let frame = ws.wait_for(T, |f| common::ws::is_message(f, child.id)).await;
    assert_eq!(common::ws::new_message(&frame).unwrap(), &child);
    assert_eq!(ana.history(conv).await.last().unwrap(), &child);
    assert_eq!(
        ana.get_ok::<Message>(&format!("/v1/messages/{}", child.id)).await,
        child
    );
    assert_eq!(ana.conversations().await[0].last_message.as_ref(), Some(&child));
    // Editing the parent shows in the quote.
    ok(edit(&ana, parent.id, "short now").await);
    let page = ana.page(conv, "limit=2").await;
    assert_eq!(page.messages[1].reply.as_ref().unwrap().excerpt, "short now");
    // Messages without a parent have no quote.
    assert!(page.messages[0].reply.is_none());
}

#[tokio::test]
async fn reactions_count_who_and_in_order() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let m = ana.say(conv, "a-1", "I fixed it!").await;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;

    let after = ok(react(&mona, m.id, "🎉").await);
    assert_eq!(after.reactions.len(), 1);
    let frame = ws
        .wait_for(T, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MessageUpdated { .. }))
        })
        .await;
    match &event(&frame).unwrap().kind {
        EventKind::MessageUpdated { message } => assert_eq!(message, &after),
        other => panic!("{other:?}"),
    }
    ok(react(&ana, m.id, "👍").await);
    ok(react(&ana, m.id, "🎉").await);
    let family = "👩\u{200D}👩\u{200D}👧";
    ok(react(&mona, m.id, family).await);
    // Adding twice is once.
    let now = ok(react(&mona, m.id, "🎉").await);
    let summary: Vec<(&str, u32, Vec<&str>)> = now
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.count,
                r.users.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("🎉", 2, vec!["mona", "ana"]),
            ("👍", 1, vec!["ana"]),
            (family, 1, vec!["mona"]),
        ]
    );
    // The page and the list show the same.
    assert_eq!(mona.history(conv).await.last().unwrap(), &now);
    assert_eq!(mona.conversations().await[0].last_message.as_ref(), Some(&now));

    // Taking back: mine only, and twice is a no-op.
    let less = ok(unreact(&mona, m.id, "🎉").await);
    assert_eq!(less.reactions[0].users, vec!["ana"]);
    assert_eq!(ok(unreact(&mona, m.id, "🎉").await), less);
    let less = ok(unreact(&mona, m.id, "👍").await);
    assert_eq!(less.reactions.len(), 3, "ana's 👍 is not mona's to take back");

    // Validation: one emoji, not text.
    for bad in ["ok", "a👍", " ", "👍 👍", &"⭐".repeat(17)] {
        let (status, v) = react(&mona, m.id, bad).await;
        assert_error(status, &v, 400, "validation_failed");
    }
    // At most REACTIONS_PER_USER_MAX distinct emoji per user per message.
    let max = mchat_shared::limits::REACTIONS_PER_USER_MAX;
    let extra: Vec<String> = (0..max as u32)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &extra[..max - 2] {
        ok(react(&ana, m.id, e).await);
    }
    // ana had 👍 and 🎉, now max in all: one more is refused.
    let (status, v) = react(&ana, m.id, &extra[max - 2]).await;
    assert_error(status, &v, 400, "validation_failed");
    // Re-adding one she already has is still fine (idempotent).
    ok(react(&ana, m.id, "👍").await);
}

#[tokio::test]
async fn system_messages_and_closed_conversations() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let m = ana.say(conv, "a-1", "thanks for everything").await;
    // The "accepted" system line was caused by mona.
    let system = mona
        .history(conv)
        .await
        .into_iter()
        .find(|x| x.kind == mchat_shared::api::MessageKind::System && x.sender.as_deref() == Some("mona"))
        .unwrap();
    let (status, v) = edit(&mona, system.id, "I did not accept").await;
    assert_error(status, &v, 409, "invalid_transition");
    let (status, v) = mona.delete(&format!("/v1/messages/{}", system.id)).await;
    assert_error(status, &v, 409, "invalid_transition");
    let (status, v) = react(&ana, system.id, "🎉").await;
    assert_error(status, &v, 409, "invalid_transition");

    // Completed: read-only for edits and reactions; deleting still works.
    let (status, v) = mona
        .post(&format!("/v1/conversations/{conv}/complete"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = edit(&ana, m.id, "thanks!").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let (status, v) = react(&mona, m.id, "❤").await;
    assert_error(status, &v, 409, "conversation_not_open");
    let tomb = ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert!(tomb.deleted_at.is_some());

    // Pending: the requester may polish the intro; once declined, no more.
    let ben = server.mentee("ben").await;
    let (_, created) = ben.request("mona", "helo, may we tlak?").await;
    let intro = ben.history(created.conversation.id).await;
    let intro = intro.iter().find(|x| x.sender.as_deref() == Some("ben")).unwrap();
    let fixed = ok(edit(&ben, intro.id, "hello, may we talk?").await);
    assert_eq!(fixed.body, "hello, may we talk?");
    let (status, v) = mona
        .post(
            &format!("/v1/conversations/{}/decline", created.conversation.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = edit(&ben, intro.id, "please?").await;
    assert_error(status, &v, 409, "conversation_not_open");
}
