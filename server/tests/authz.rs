//! Who may do what. A non-participant must not be able to tell a
//! conversation exists: every conversation, message, marker and
//! notification endpoint answers them exactly as for an id that does not
//! exist. Missing, malformed, unknown, revoked and expired tokens are 401;
//! other users' token ids are 404; admin endpoints are 403 for others.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, Session, TestServer, assert_error, decode};
use mchat_shared::ConversationId;
use mchat_shared::api::{ConversationStatus, Message, TokenList};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every endpoint under a conversation id, with a body that would be valid
/// for a participant.
fn conversation_endpoints(id: i64) -> Vec<(Method, String, Option<Value>)> {
    let c = format!("/v1/conversations/{id}");
    vec![
        (Method::GET, c.clone(), None),
        (Method::GET, format!("{c}/messages"), None),
        (Method::GET, format!("{c}/messages?limit=5&before=1000"), None),
        (
            Method::POST,
            format!("{c}/messages"),
            Some(json!({"client_id": "eve-1", "body": "let me in"})),
        ),
        (Method::POST, format!("{c}/read"), Some(json!({"up_to": 1}))),
        (Method::POST, format!("{c}/delivered"), Some(json!({"up_to": 1}))),
        (Method::POST, format!("{c}/accept"), Some(json!({}))),
        (
            Method::POST,
            format!("{c}/decline"),
            Some(json!({"reason": "no"})),
        ),
        (Method::POST, format!("{c}/complete"), Some(json!({}))),
        (Method::POST, format!("{c}/reopen"), Some(json!({}))),
    ]
}

async fn call(api: &Api, method: &Method, path: &str, body: &Option<Value>) -> (StatusCode, Value) {
    let mut rb = api.builder(method.clone(), path);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = Api::send(rb).await;
    (r.status, r.body)
}

/// What a participant can observe of a conversation: status, history, markers.
async fn snapshot(who: &Session, id: ConversationId) -> (ConversationStatus, Vec<Message>, Value) {
    let c = who.conversation(id).await;
    let (_, page) = who.get(&format!("/v1/conversations/{id}/messages")).await;
    (c.status, who.history(id).await, page["markers"].clone())
}

#[tokio::test]
async fn non_participants_get_the_same_404_as_for_nothing() {
    let server = TestServer::start();
    let (mira, tom, open) = server.accepted_pair("mira", "tom").await;
    tom.say(open, "t-1", "private words").await;
    let ann = server.mentee("ann").await;
    let (_, pending) = ann.request("mira", "a pending request").await;
    let pending = pending.conversation.id;
    // Eve is a mentor (so she could otherwise accept requests) in none of them.
    let eve = server.mentor("eve", json!({})).await;

    let before_open = snapshot(&tom, open).await;
    let before_pending = snapshot(&ann, pending).await;
    let missing = 9_999_999;
    for id in [open.0, pending.0] {
        let theirs = conversation_endpoints(id);
        let nothing = conversation_endpoints(missing);
        for ((method, path, body), (_, missing_path, _)) in theirs.iter().zip(&nothing) {
            let (status, v) = call(&eve, method, path, body).await;
            let (missing_status, missing_v) = call(&eve, method, missing_path, body).await;
            assert_error(missing_status, &missing_v, 404, "not_found");
            assert_eq!(
                (status, &v),
                (missing_status, &missing_v),
                "{method} {path} must look exactly like {method} {missing_path}"
            );
        }
    }
    // Nothing changed, and Eve sees nothing.
    assert_eq!(snapshot(&tom, open).await, before_open);
    assert_eq!(snapshot(&ann, pending).await, before_pending);
    assert!(eve.conversations().await.is_empty());
    assert!(
        !mira.conversations().await.is_empty(),
        "the participants still see their conversations"
    );

    // Someone else's notification id is "not found", like an id that does not exist.
    let toms = tom.notifications(true).await;
    let note = toms.notifications.first().expect("tom has a notification").id;
    let (status, v) = eve.post("/v1/notifications/read", &json!({"ids": [note]})).await;
    let (missing_status, missing_v) = eve
        .post("/v1/notifications/read", &json!({"ids": [missing]}))
        .await;
    assert_error(missing_status, &missing_v, 404, "not_found");
    assert_eq!((status, &v), (missing_status, &missing_v));
    // ...and marking "all" only ever touches your own.
    let (status, _) = eve.post("/v1/notifications/read", &json!({"all": true})).await;
    assert_eq!(status, StatusCode::OK);
    let after = tom.notifications(true).await;
    assert_eq!(after.unread_count, toms.unread_count);
    assert!(after.notifications.iter().any(|n| n.id == note));
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let server = TestServer::start();
    let tom = server.mentee("tom").await;
    let anon = server.anon();

    let protected = [
        (Method::GET, "/v1/me"),
        (Method::GET, "/v1/conversations"),
        (Method::GET, "/v1/users?role=mentor"),
        (Method::GET, "/v1/notifications"),
        (Method::GET, "/v1/tokens"),
        (Method::POST, "/v1/auth/logout"),
        (Method::GET, "/v1/conversations/1/messages"),
    ];
    let assert_401 = |r: common::Response, what: &str| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert_error(r.status, &r.body, 401, "unauthorized");
    };
    for (method, path) in &protected {
        // No Authorization header at all.
        assert_401(anon.raw(method.clone(), path, None, None).await, "no token");
        // Malformed headers.
        for header in [
            "mct_abc".to_string(),
            "Token mct_abc".to_string(),
            "Bearer".to_string(),
            "Bearer ".to_string(),
            format!("Basic {}", tom.token),
            format!("bearer{}", tom.token),
            "Bearer not-a-token".to_string(),
        ] {
            let rb = anon
                .builder(method.clone(), path)
                .header(reqwest::header::AUTHORIZATION, header.as_str());
            assert_401(Api::send(rb).await, &format!("header {header:?}"));
        }
        // Well-formed but unknown.
        let forged = server.api("mct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_401(
            forged.raw(method.clone(), path, None, None).await,
            "unknown token",
        );
        // A real token with a character changed.
        let mut chars: Vec<char> = tom.token.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered = server.api(&chars.into_iter().collect::<String>());
        assert_401(
            tampered.raw(method.clone(), path, None, None).await,
            "tampered token",
        );
    }
    // The real token still works.
    let (status, me) = tom.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "tom");
}

#[tokio::test]
async fn revoked_tokens_are_401_and_only_your_own_can_be_revoked() {
    let server = TestServer::start();
    let tom = server.mentee("tom").await;
    let laptop = server.login("tom").await;
    let phone = server.login("tom").await;
    let ann = server.mentee("ann").await;

    let list: TokenList = tom.get_ok("/v1/tokens").await;
    assert_eq!(list.tokens.len(), 3);
    assert_eq!(
        list.tokens
            .iter()
            .filter(|t| t.current)
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        [tom.token_id]
    );

    // Revoke another of my tokens by id.
    let (status, v) = tom.delete(&format!("/v1/tokens/{}", laptop.token_id)).await;
    assert_eq!((status, &v), (StatusCode::OK, &json!({"ok": true})));
    let (status, v) = laptop.get("/v1/me").await;
    assert_error(status, &v, 401, "unauthorized");
    // Revoking it again: it is gone.
    let (status, v) = tom.delete(&format!("/v1/tokens/{}", laptop.token_id)).await;
    assert_error(status, &v, 404, "not_found");

    // Someone else's token id looks like one that does not exist, and stays live.
    let (status, v) = ann.delete(&format!("/v1/tokens/{}", phone.token_id)).await;
    let (missing_status, missing_v) = ann.delete("/v1/tokens/987654").await;
    assert_error(missing_status, &missing_v, 404, "not_found");
    assert_eq!((status, &v), (missing_status, &missing_v));
    let (status, _) = phone.get("/v1/me").await;
    assert_eq!(status, StatusCode::OK);

    // Logout revokes the token it is made with, and only that one.
    let (status, v) = phone.post("/v1/auth/logout", &json!({})).await;
    assert_eq!((status, &v), (StatusCode::OK, &json!({"ok": true})));
    for path in ["/v1/me", "/v1/conversations", "/v1/tokens"] {
        let (status, v) = phone.get(path).await;
        assert_error(status, &v, 401, "unauthorized");
    }
    let (status, v) = phone.post("/v1/auth/logout", &json!({})).await;
    assert_error(status, &v, 401, "unauthorized");
    let list: TokenList = tom.get_ok("/v1/tokens").await;
    assert_eq!(
        list.tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
        [tom.token_id],
        "revoked tokens are not listed"
    );
}

#[tokio::test]
async fn expired_tokens_are_401() {
    // A zero-day lifetime makes every login token expire the moment it is issued.
    let server = TestServer::start_with("[auth]\ntoken_ttl_days = 0\n");
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/register",
            &json!({"username": "tom", "password": common::PASSWORD, "role": "mentee"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let auth: mchat_shared::api::AuthResponse = decode(v);
    assert!(
        auth.expires_at <= jiff::Timestamp::now(),
        "the token is already expired: {}",
        auth.expires_at
    );
    let tom = server.api(&auth.token);
    for path in ["/v1/me", "/v1/conversations", "/v1/tokens"] {
        let (status, v) = tom.get(path).await;
        assert_error(status, &v, 401, "unauthorized");
    }
    // Logging in again gives another expired token; the account itself is fine.
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/login",
            &json!({"username": "tom", "password": common::PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = server
        .api(v["token"].as_str().unwrap_or_default())
        .get("/v1/me")
        .await;
    assert_error(status, &v, 401, "unauthorized");
}

#[tokio::test]
async fn admin_endpoints_are_for_admins_only() {
    let server = TestServer::start();
    let mira = server.mentor("mira", json!({})).await;
    let tom = server.mentee("tom").await;
    let uma = server.register("uma", "mentor").await;

    for who in [&mira, &tom] {
        let (status, v) = who.put("/v1/admin/mentors/uma/approve", &json!({})).await;
        assert_error(status, &v, 403, "forbidden");
        let (status, v) = who
            .post("/v1/admin/announcements", &json!({"body": "free pizza"}))
            .await;
        assert_error(status, &v, 403, "forbidden");
    }
    // Nothing happened: uma is still unapproved (only she and admins see her), nobody got an announcement.
    let (_, me) = uma.get("/v1/users/uma").await;
    assert_eq!(me["mentor_approved"], false);
    assert!(tom.notifications(false).await.notifications.is_empty());

    // Without a token it is 401, not 403.
    let (status, v) = server
        .anon()
        .put("/v1/admin/mentors/uma/approve", &json!({}))
        .await;
    assert_error(status, &v, 401, "unauthorized");

    // The admin can.
    let admin = server.admin_session().await;
    let (status, v) = admin.put("/v1/admin/mentors/uma/approve", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["mentor_approved"], true);
    let (status, v) = admin.put("/v1/admin/mentors/tom/approve", &json!({})).await;
    assert_error(status, &v, 409, "invalid_transition");
    let (status, v) = admin.put("/v1/admin/mentors/nobody/approve", &json!({})).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = admin
        .post("/v1/admin/announcements", &json!({"body": "free pizza"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["recipients"], 4, "admin, mira, tom and uma: {v}");
    let notes = tom.notifications(true).await;
    assert_eq!(notes.notifications.len(), 1);
    assert_eq!(notes.notifications[0].body, "free pizza");

    // Nobody registers as an admin.
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/register",
            &json!({"username": "root", "password": common::PASSWORD, "role": "admin"}),
        )
        .await;
    assert_error(status, &v, 403, "forbidden");
    let (status, v) = tom.get("/v1/users/root").await;
    assert_error(status, &v, 404, "not_found");
}
