//! Rejected input: every validation rule, malformed or mistyped JSON, the
//! wrong content type and bad query strings each get their documented
//! status and code, and nothing is written (checked with a follow-up read).

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, Session, TestServer, assert_error, assert_error_shape};
use mchat_shared::api::{ConversationStatus, UserList};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How many users the directory shows (every role; approved mentors only).
async fn user_count(who: &Session) -> usize {
    let list: UserList = who.get_ok("/v1/users?limit=100").await;
    list.users.len()
}

fn assert_validation(status: StatusCode, v: &Value, field: &str) {
    assert_error(status, v, 400, "validation_failed");
    assert_eq!(v["error"]["field"], field, "{v}");
}

#[tokio::test]
async fn registration_rules_reject_and_store_nothing() {
    let server = TestServer::start();
    let tom = server.mentee("tom").await;
    let users = user_count(&tom).await;
    let reg = |username: &str, password: &str, display_name: Option<&str>| {
        let mut body = json!({"username": username, "password": password, "role": "mentee"});
        if let Some(d) = display_name {
            body["display_name"] = json!(d);
        }
        body
    };
    let pw = common::PASSWORD;
    let long_name = "a".repeat(33);
    let cases: Vec<(Value, &str)> = vec![
        (reg("ab", pw, None), "username"),
        (reg(&long_name, pw, None), "username"),
        (reg("al ice", pw, None), "username"),
        (reg("alicé", pw, None), "username"),
        (reg("bob!", pw, None), "username"),
        (reg("-rf", pw, None), "username"),
        (reg("ali\0ce", pw, None), "username"),
        (reg("al\u{202E}ice", pw, None), "username"),
        (reg("newbie", "short12", None), "password"),
        (reg("newbie", &"p".repeat(257), None), "password"),
        (reg("newbie", pw, Some("admin\u{202E}nimda")), "display_name"),
        (reg("newbie", pw, Some("Ada\nLovelace")), "display_name"),
        (reg("newbie", pw, Some("Ada\x1b]0;pwned\x07")), "display_name"),
        (reg("newbie", pw, Some("Ada\u{9b}31m")), "display_name"),
        (reg("newbie", pw, Some("ad\u{200B}min")), "display_name"),
        (reg("newbie", pw, Some(&"x".repeat(65))), "display_name"),
        (reg("newbie", pw, Some("   ")), "display_name"),
    ];
    for (body, field) in cases {
        let (status, v) = server.anon().post("/v1/auth/register", &body).await;
        assert_validation(status, &v, field);
    }
    let (status, v) = tom.get("/v1/users/newbie").await;
    assert_error(status, &v, 404, "not_found");
    assert_eq!(user_count(&tom).await, users, "no user was created");

    // The edges that are allowed.
    let edge = "a".repeat(32);
    for (body, name) in [
        (reg(&edge, &"p".repeat(8), Some(&"x".repeat(64))), edge.as_str()),
        (reg("A.b_c-9", &"p".repeat(256), Some("  Zoë 😀 李  ")), "a.b_c-9"),
    ] {
        let (status, v) = server.anon().post("/v1/auth/register", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["user"]["username"], name);
    }
    let (_, v) = tom.get("/v1/users/a.b_c-9").await;
    assert_eq!(v["display_name"], "Zoë 😀 李", "display names are trimmed");

    // Taken, whatever the case.
    for name in ["tom", "TOM", " Tom "] {
        let (status, v) = server
            .anon()
            .post("/v1/auth/register", &reg(name, pw, None))
            .await;
        assert_error(status, &v, 409, "username_taken");
    }
    assert_eq!(user_count(&tom).await, users + 2);
}

#[tokio::test]
async fn profile_rules_reject_and_change_nothing() {
    let server = TestServer::start();
    let mira = server
        .mentor(
            "mira",
            json!({"headline": "Staff engineer", "expertise": ["rust"]}),
        )
        .await;
    let (_, before) = mira.get("/v1/me").await;
    for (body, field) in [
        (json!({"display_name": "Mira\u{202E}"}), "display_name"),
        (json!({"display_name": "Mira\nX"}), "display_name"),
        (json!({"display_name": "Mira\x1b[31m"}), "display_name"),
        (json!({"display_name": ""}), "display_name"),
        (json!({"headline": "two\nlines"}), "headline"),
        (json!({"headline": "h".repeat(201)}), "headline"),
        (json!({"expertise": ["a,b"]}), "expertise"),
        (json!({"expertise": ["x".repeat(33)]}), "expertise"),
        (json!({"bio": "bell\x07"}), "bio"),
        // A valid field beside an invalid one is not applied either.
        (
            json!({"headline": "New headline", "display_name": "\u{200B}"}),
            "display_name",
        ),
    ] {
        let (status, v) = mira.patch("/v1/me", &body).await;
        assert_validation(status, &v, field);
    }
    let (status, v) = mira.patch("/v1/me", &json!({"availability": "sleeping"})).await;
    assert_error(status, &v, 400, "invalid_json");
    let (_, after) = mira.get("/v1/me").await;
    assert_eq!(after, before, "the profile did not change");
}

#[tokio::test]
async fn message_rules_reject_and_store_nothing() {
    let server = TestServer::start();
    let (_mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let history = tom.history(id).await;

    let too_long = "a".repeat(4001);
    for body in [
        "",
        "   ",
        " \t\n \r\n ",
        "\u{3000}\u{2003}",
        too_long.as_str(),
        "a\0b",
        "a\x1b[2Jb",
        "a\rb",
        "a\x07b",
        "a\x7fb",
        "a\u{9b}31mb",
    ] {
        let (status, v) = tom.send_raw(id, "bad-1", body).await;
        assert_validation(status, &v, "body");
    }
    let long_key = "k".repeat(65);
    for client_id in ["", "has space", "ünïcode", long_key.as_str()] {
        let (status, v) = tom.send_raw(id, client_id, "fine body").await;
        assert_validation(status, &v, "client_id");
    }
    let (status, v) = tom
        .post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"client_id": "bad-2", "body": "a reply", "reply_to": 987_654}),
        )
        .await;
    assert_error(status, &v, 400, "validation_failed");
    assert_eq!(tom.history(id).await, history, "nothing was written");
    assert_eq!(tom.conversation(id).await.last_message, history.last().cloned());

    // What is allowed: exactly 4000 characters (after trimming), multi-byte
    // characters counted as one, newline and tab, bidi marks.
    let exactly = "a".repeat(4000);
    let m = tom.say(id, "ok-1", &exactly).await;
    assert_eq!(m.body, exactly);
    let m = tom.say(id, "ok-2", &format!("  \n{exactly}\t ")).await;
    assert_eq!(m.body, exactly, "stored trimmed");
    let wide = "語".repeat(4000);
    assert_eq!(tom.say(id, "ok-3", &wide).await.body, wide);
    let m = tom.say(id, "ok-4", "line one\nline two\tend").await;
    assert_eq!(m.body, "line one\nline two\tend");
    let m = tom.say(id, "ok-5", "abc \u{202E}cba").await;
    assert_eq!(m.body, "abc \u{202E}cba");
    let reply = tom
        .post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"client_id": "ok-6", "body": "a reply", "reply_to": m.id}),
        )
        .await;
    assert_eq!(reply.0, StatusCode::CREATED, "{}", reply.1);
    assert_eq!(reply.1["reply_to"], json!(m.id));
    assert_eq!(tom.history(id).await.len(), history.len() + 6);
}

#[tokio::test]
async fn bad_requests_store_no_conversation() {
    let server = TestServer::start();
    let mira = server.mentor("mira", json!({})).await;
    let tom = server.mentee("tom").await;
    let _ann = server.mentee("ann").await;

    for (body, field) in [
        (json!({"to": "mira", "message": "   "}), "body"),
        (json!({"to": "mira", "message": "hi\x1b[2J"}), "body"),
        (json!({"to": "mira", "message": "a".repeat(4001)}), "body"),
        (
            json!({"to": "mira", "message": "hi", "client_id": "no spaces"}),
            "client_id",
        ),
        (json!({"to": "m", "message": "hi"}), "username"),
    ] {
        let (status, v) = tom.post("/v1/conversations", &body).await;
        assert_validation(status, &v, field);
    }
    let (status, v) = tom
        .post("/v1/conversations", &json!({"to": "tom", "message": "me?"}))
        .await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = tom
        .post("/v1/conversations", &json!({"to": "ann", "message": "hi"}))
        .await;
    assert_error(status, &v, 403, "forbidden");
    let (status, v) = tom
        .post("/v1/conversations", &json!({"to": "nobody", "message": "hi"}))
        .await;
    assert_error(status, &v, 404, "not_found");

    assert!(tom.conversations().await.is_empty());
    assert!(mira.conversations().await.is_empty());
    assert_eq!(
        mira.notifications(false).await.unread_count,
        1,
        "only mentor_approved"
    );

    // Decline reasons are validated too, and a refused decline changes nothing.
    let (_, c) = tom.request("mira", "hello").await;
    let id = c.conversation.id;
    for body in [json!({"reason": "no\x1b[2J"}), json!({"reason": "r".repeat(501)})] {
        let (status, v) = mira.post(&format!("/v1/conversations/{id}/decline"), &body).await;
        assert_validation(status, &v, "reason");
    }
    for raw in [
        &b"{\"reason\": 5}"[..],
        b"{\"reason\": \"x\", \"extra\": 1}",
        b"{not json",
    ] {
        let r = mira
            .raw(
                Method::POST,
                &format!("/v1/conversations/{id}/decline"),
                Some("application/json"),
                Some(raw.to_vec()),
            )
            .await;
        assert_error(r.status, &r.body, 400, "invalid_json");
    }
    assert_eq!(tom.conversation(id).await.status, ConversationStatus::Pending);
    assert_eq!(tom.history(id).await.len(), 1);
}

#[tokio::test]
async fn malformed_json_wrong_types_unknown_fields_and_content_type() {
    let server = TestServer::start();
    let (_mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let history = tom.history(id).await;
    let path = format!("/v1/conversations/{id}/messages");
    let post_raw = |api: &Api, path: &str, ct: Option<&str>, body: &[u8]| {
        let (api, path, ct, body) = (
            api.clone(),
            path.to_string(),
            ct.map(str::to_string),
            body.to_vec(),
        );
        async move { api.raw(Method::POST, &path, ct.as_deref(), Some(body)).await }
    };

    let invalid_json: [&[u8]; 9] = [
        b"{\"client_id\": \"x\", \"body\": ",
        b"not json at all",
        b"",
        b"[]",
        b"\"just a string\"",
        b"{\"client_id\": 5, \"body\": \"hi\"}",
        b"{\"client_id\": \"x\", \"body\": [\"hi\"]}",
        b"{\"client_id\": \"x\", \"body\": \"hi\", \"bogus\": true}",
        b"{\"body\": \"missing client_id\"}",
    ];
    for body in invalid_json {
        let r = post_raw(&tom.api, &path, Some("application/json"), body).await;
        assert_error(r.status, &r.body, 400, "invalid_json");
    }
    let good = br#"{"client_id": "ct-1", "body": "hi"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = post_raw(&tom.api, &path, ct, good).await;
        assert_error(r.status, &r.body, 415, "unsupported_media_type");
    }
    assert_eq!(tom.history(id).await, history, "nothing was written");
    // The same body with the right content type (parameters allowed) is fine.
    let r = post_raw(&tom.api, &path, Some("application/json; charset=utf-8"), good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The same rules on other endpoints.
    let users = user_count(&tom).await;
    for body in [
        json!({"username": "newbie", "password": 12_345_678, "role": "mentee"}),
        json!({"username": "newbie", "password": common::PASSWORD, "role": "wizard"}),
        json!({"username": "newbie", "password": common::PASSWORD, "role": "mentee", "admin": true}),
        json!({"username": "newbie", "password": common::PASSWORD}),
    ] {
        let (status, v) = server.anon().post("/v1/auth/register", &body).await;
        assert_error(status, &v, 400, "invalid_json");
    }
    let r = post_raw(
        &server.anon(),
        "/v1/auth/register",
        None,
        br#"{"username": "newbie", "password": "correct horse battery staple", "role": "mentee"}"#,
    )
    .await;
    assert_error(r.status, &r.body, 415, "unsupported_media_type");
    assert_eq!(user_count(&tom).await, users, "no user was created");

    let before = tom.conversation(id).await;
    for body in [
        json!({"up_to": "latest"}),
        json!({}),
        json!({"up_to": 1, "and": 2}),
    ] {
        let (status, v) = tom.post(&format!("/v1/conversations/{id}/read"), &body).await;
        assert_error(status, &v, 400, "invalid_json");
    }
    assert_eq!(tom.conversation(id).await.my_markers, before.my_markers);
}

#[tokio::test]
async fn bad_query_strings_are_400_invalid_query() {
    let server = TestServer::start();
    let (_mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let c = format!("/v1/conversations/{id}/messages");
    let long_q = "q".repeat(101);
    for path in [
        format!("{c}?limit=0"),
        format!("{c}?limit=101"),
        format!("{c}?limit=-1"),
        format!("{c}?limit=abc"),
        format!("{c}?before=5&after=1"),
        format!("{c}?before=x"),
        format!("{c}?bogus=1"),
        format!("/v1/users?q={long_q}"),
        "/v1/users?role=wizard".to_string(),
        "/v1/users?available=maybe".to_string(),
        "/v1/notifications?unread=maybe".to_string(),
        "/v1/notifications?limit=lots".to_string(),
        "/v1/conversations/abc".to_string(),
        "/v1/conversations/abc/messages".to_string(),
    ] {
        let (status, v) = tom.get(&path).await;
        assert_error(status, &v, 400, "invalid_query");
    }
    // The limits themselves are fine.
    for ok in ["limit=1", "limit=100", "before=1000000", "after=0"] {
        let (status, v) = tom.get(&format!("{c}?{ok}")).await;
        assert_eq!(status, StatusCode::OK, "{ok}: {v}");
    }
    let (status, v) = tom.get(&format!("/v1/users?q={}", "q".repeat(100))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn every_error_has_the_one_shape() {
    let server = TestServer::start();
    let tom = server.mentee("tom").await;
    // A sample across layers: router, extractors, auth, validation, storage.
    let mut answers = vec![
        server.anon().get("/v1/me").await,
        tom.get("/v1/nowhere").await,
        tom.get("/v1/conversations/1").await,
        tom.get("/v1/conversations/1/messages?limit=0").await,
        tom.post("/v1/conversations", &json!({"to": "x"})).await,
        tom.post("/v1/conversations", &json!({"to": "nobody", "message": "hi"}))
            .await,
        tom.patch("/v1/me", &json!({"display_name": ""})).await,
        server
            .anon()
            .post(
                "/v1/auth/login",
                &json!({"username": "tom", "password": "wrong password"}),
            )
            .await,
    ];
    let r = tom.raw(Method::DELETE, "/v1/me", None, None).await;
    answers.push((r.status, r.body));
    let r = tom
        .raw(
            Method::POST,
            "/v1/conversations",
            Some("text/plain"),
            Some(b"{}".to_vec()),
        )
        .await;
    answers.push((r.status, r.body));
    for (status, v) in answers {
        assert!(status.is_client_error(), "{status}: {v}");
        assert_error_shape(&v);
    }
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/login",
            &json!({"username": "tom", "password": "wrong password"}),
        )
        .await;
    assert_error(status, &v, 401, "invalid_credentials");
    let (status, v) = server
        .anon()
        .post(
            "/v1/auth/login",
            &json!({"username": "nobody", "password": "wrong password"}),
        )
        .await;
    assert_error(status, &v, 401, "invalid_credentials");
    assert_eq!(
        v["error"]["message"], "wrong username or password",
        "no user enumeration"
    );
}
