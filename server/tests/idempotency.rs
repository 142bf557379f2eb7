//! Sends are idempotent by `client_id` (per sender): retries, however many
//! and however concurrent, store one message; reusing a key for something
//! else is a 409 and stores nothing.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, assert_error, decode};
use mchat_shared::api::{ConversationStatus, Message};
use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_retries_store_one_message() {
    let server = TestServer::start();
    let (_mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let before = tom.history(id).await.len();

    let mut tasks = JoinSet::new();
    for _ in 0..50 {
        let api = tom.api.clone();
        tasks.spawn(async move {
            api.send_raw(id, "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "exactly once, please")
                .await
        });
    }
    let mut created = 0;
    let mut replayed = 0;
    let mut ids = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, v) = joined.expect("task");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => replayed += 1,
            other => panic!("unexpected {other}: {v}"),
        }
        let m: Message = decode(v);
        assert_eq!(m.body, "exactly once, please");
        assert_eq!(
            m.client_id.as_deref(),
            Some("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")
        );
        ids.push(m.id);
    }
    assert_eq!((created, replayed), (1, 49));
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer is the same message: {ids:?}");

    let history = tom.history(id).await;
    assert_eq!(history.len(), before + 1);
    assert_eq!(
        history.iter().filter(|m| m.id == ids[0]).count(),
        1,
        "the message is in the history once"
    );
    assert_eq!(
        history
            .iter()
            .filter(|m| m.client_id.as_deref() == Some("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"))
            .count(),
        1
    );
}

#[tokio::test]
async fn reusing_a_client_id_for_something_else_is_a_conflict() {
    let server = TestServer::start();
    let (mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let max = server.mentor("max", json!({})).await;
    let (_, other) = tom.request("max", "hello max").await;
    let other = other.conversation.id;
    let (status, _) = max
        .post(&format!("/v1/conversations/{other}/accept"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let original = tom.say(id, "k-1", "the original").await;
    let history = tom.history(id).await;
    let other_history = tom.history(other).await;

    // Same key, different body.
    let (status, v) = tom.send_raw(id, "k-1", "something else").await;
    assert_error(status, &v, 409, "idempotency_conflict");
    // Same key and body, but another conversation.
    let (status, v) = tom.send_raw(other, "k-1", "the original").await;
    assert_error(status, &v, 409, "idempotency_conflict");
    assert_eq!(tom.history(id).await, history, "nothing was written");
    assert_eq!(tom.history(other).await, other_history, "nothing was written");

    // The exact retry still answers 200 with the original.
    let (status, v) = tom.send_raw(id, "k-1", "the original").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<Message>(v), original);
    // Whitespace is trimmed before comparing, as it is before storing.
    let (status, v) = tom.send_raw(id, "k-1", "  the original\n").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<Message>(v).id, original.id);

    // Keys are per sender: the mentor may use the same one.
    let theirs = mira.say(id, "k-1", "the original").await;
    assert_ne!(theirs.id, original.id);

    // A retry that arrives after the conversation was completed still gets
    // its original answer (the message was stored while it was open).
    let (status, _) = mira
        .post(&format!("/v1/conversations/{id}/complete"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tom.conversation(id).await.status, ConversationStatus::Completed);
    let (status, v) = tom.send_raw(id, "k-1", "the original").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<Message>(v).id, original.id);
    // ...while a new key is refused.
    let (status, v) = tom.send_raw(id, "k-2", "the original").await;
    assert_error(status, &v, 409, "conversation_not_open");
}

#[tokio::test]
async fn request_intros_are_idempotent_by_client_id_too() {
    let server = TestServer::start();
    let _mira = server.mentor("mira", json!({})).await;
    let tom = server.mentee("tom").await;
    let body = json!({"to": "mira", "message": "Hi, could you mentor me?", "client_id": "intro-1"});

    let (status, v) = tom.post("/v1/conversations", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["conversation"]["id"].clone();
    let (status, v) = tom.post("/v1/conversations", &body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["created"], false);
    assert_eq!(v["conversation"]["id"], id);

    let (status, v) = tom
        .post(
            "/v1/conversations",
            &json!({"to": "mira", "message": "A different intro", "client_id": "intro-1"}),
        )
        .await;
    assert_error(status, &v, 409, "idempotency_conflict");
    let history = tom.history(decode(id)).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].client_id.as_deref(), Some("intro-1"));
}
