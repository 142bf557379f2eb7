//! Configured limits: login/register attempts per IP, sends per user, and
//! the request body size. Refusals are 429 with `Retry-After` (or 413), in
//! the one error shape, and write nothing.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Response, TestServer, assert_error, poll};
use mchat_shared::api::MessageKind;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// Asserts a 429 with a `Retry-After` header that agrees with the body.
fn assert_rate_limited(r: &Response) -> u64 {
    assert_error(r.status, &r.body, 429, "rate_limited");
    let header = r
        .headers
        .get(reqwest::header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After header: {:?}", r.headers));
    let secs: u64 = header
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After is not a number of seconds: {header:?}"));
    assert!(secs >= 1, "Retry-After {secs}");
    assert_eq!(r.body["error"]["retry_after_secs"], secs, "{}", r.body);
    secs
}

#[tokio::test]
async fn auth_attempts_are_limited_per_ip() {
    let server = TestServer::start_with("[limits]\nauth_per_min = 2\nauth_burst = 2\n");
    let anon = server.anon();
    let login = json!({"username": "tom", "password": common::PASSWORD});

    let tom = server.register("tom", "mentee").await; // attempt 1
    let (status, v) = anon.post("/v1/auth/login", &login).await; // attempt 2
    assert_eq!(status, StatusCode::OK, "{v}");

    let r = anon
        .raw(
            Method::POST,
            "/v1/auth/login",
            Some("application/json"),
            Some(login.to_string().into_bytes()),
        )
        .await;
    let secs = assert_rate_limited(&r);
    assert!(secs <= 30, "2 per minute refill one every 30 s: {secs}");
    // A wrong password is refused before it is even checked.
    let wrong = json!({"username": "tom", "password": "wrong password"});
    let r = anon
        .raw(
            Method::POST,
            "/v1/auth/login",
            Some("application/json"),
            Some(wrong.to_string().into_bytes()),
        )
        .await;
    assert_rate_limited(&r);
    // Registration shares the budget, and a refused one creates nobody.
    let reg = json!({"username": "newbie", "password": common::PASSWORD, "role": "mentee"});
    let r = anon
        .raw(
            Method::POST,
            "/v1/auth/register",
            Some("application/json"),
            Some(reg.to_string().into_bytes()),
        )
        .await;
    assert_rate_limited(&r);
    let (status, v) = tom.get("/v1/users/newbie").await;
    assert_error(status, &v, 404, "not_found");
    // Requests with a token are not auth attempts.
    for _ in 0..5 {
        let (status, _) = tom.get("/v1/me").await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn sends_are_limited_per_user() {
    let server = TestServer::start_with("[limits]\nsend_per_sec = 1\nsend_burst = 3\n");
    // The request's intro is the mentee's first send (of a burst of 3).
    let (mira, tom, id) = server.accepted_pair("mira", "tom").await;

    let mut created = Vec::new();
    let mut limited = Vec::new();
    for i in 0..8 {
        let r = tom
            .raw(
                Method::POST,
                &format!("/v1/conversations/{id}/messages"),
                Some("application/json"),
                Some(
                    json!({"client_id": format!("b-{i}"), "body": format!("burst {i}")})
                        .to_string()
                        .into_bytes(),
                ),
            )
            .await;
        match r.status {
            StatusCode::CREATED => created.push(i),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_rate_limited(&r);
                limited.push(i);
            }
            other => panic!("send {i}: unexpected {other}: {}", r.text),
        }
    }
    assert!(!created.is_empty(), "the burst allows some sends");
    assert!(
        created.len() <= 3,
        "at most the burst (plus one refill): {created:?}"
    );
    assert!(!limited.is_empty(), "a burst of 8 is limited: {created:?}");

    // Only the accepted sends were stored.
    let history = tom.history(id).await;
    let stored: Vec<&str> = history
        .iter()
        .filter(|m| m.kind == MessageKind::Text && m.sender.as_deref() == Some("tom"))
        .filter_map(|m| m.client_id.as_deref())
        .collect();
    let want: Vec<String> = created.iter().map(|i| format!("b-{i}")).collect();
    assert_eq!(stored, want);

    // The limit is per user: the mentor is not affected.
    mira.say(id, "m-1", "I can still talk").await;

    // After waiting as told, the refused message goes through, once.
    let retry = limited[0];
    let key = format!("b-{retry}");
    let body = format!("burst {retry}");
    poll(Duration::from_secs(5), "the send limit to refill", || async {
        let (status, _) = tom.send_raw(id, &key, &body).await;
        (status == StatusCode::CREATED).then_some(())
    })
    .await;
    let history = tom.history(id).await;
    assert_eq!(
        history
            .iter()
            .filter(|m| m.client_id.as_deref() == Some(key.as_str()))
            .count(),
        1
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_and_write_nothing() {
    let server = TestServer::start_with("[limits]\nmax_body_bytes = 4096\n");
    let (mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let history = tom.history(id).await;
    let big = "a".repeat(5000);

    let json_post = |path: String, body: serde_json::Value| {
        let api = tom.api.clone();
        async move {
            api.raw(
                Method::POST,
                &path,
                Some("application/json"),
                Some(body.to_string().into_bytes()),
            )
            .await
        }
    };
    let r = json_post(
        format!("/v1/conversations/{id}/messages"),
        json!({"client_id": "big-1", "body": big}),
    )
    .await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    // Not even a syntactically broken body is read past the limit.
    let r = tom
        .raw(
            Method::POST,
            &format!("/v1/conversations/{id}/messages"),
            Some("application/json"),
            Some(vec![b'{'; 8192]),
        )
        .await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    assert_eq!(tom.history(id).await, history, "nothing was written");

    // Registration too.
    let r = server
        .anon()
        .raw(
            Method::POST,
            "/v1/auth/register",
            Some("application/json"),
            Some(
                json!({"username": "newbie", "password": common::PASSWORD, "role": "mentee", "display_name": big})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    let (status, v) = tom.get("/v1/users/newbie").await;
    assert_error(status, &v, 404, "not_found");

    // The decline body is optional JSON, read as raw bytes: same limit, same shape.
    let ann = server.mentee("ann").await;
    let (_, c) = ann.request("mira", "hello").await;
    let pending = c.conversation.id;
    let r = mira
        .raw(
            Method::POST,
            &format!("/v1/conversations/{pending}/decline"),
            Some("application/json"),
            Some(json!({"reason": big}).to_string().into_bytes()),
        )
        .await;
    assert_error(r.status, &r.body, 413, "payload_too_large");
    assert_eq!(
        ann.conversation(pending).await.status,
        mchat_shared::api::ConversationStatus::Pending
    );

    // Just under the limit is fine: a full 4000-character message fits in 4096 bytes.
    let m = tom.say(id, "max-1", &"b".repeat(4000)).await;
    assert_eq!(m.body.len(), 4000);
}
