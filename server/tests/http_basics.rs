//! `/healthz`, `/metrics`, unknown routes and wrong methods: the plumbing
//! around the API, and the one error shape on paths no handler owns.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start();
    let (status, v) = server.anon().get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn metrics_count_requests_and_stored_messages() {
    let server = TestServer::start();
    let (_mentor, mentee, conv) = server.accepted_pair("mira", "tom").await;
    mentee.say(conv, "m1", "first real message").await;

    let r = server.anon().raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let ct = r.headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default();
    assert!(ct.starts_with("text/plain"), "content type {ct}");
    let text = r.text;
    assert!(text.contains("mchatd_http_requests_total"), "{text}");
    // The intro and the message: two stored by users (system messages are not counted).
    let stored = text
        .lines()
        .find(|l| l.starts_with("mchatd_messages_stored_total"))
        .unwrap_or_else(|| panic!("no mchatd_messages_stored_total in:\n{text}"));
    let value: f64 = stored
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unparsable metric line {stored:?}"));
    assert_eq!(value, 2.0, "{stored}");
    // Routes are labelled by their pattern, not the raw path (bounded cardinality).
    assert!(
        text.contains("route=\"/v1/conversations/{id}/messages\""),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_routes_answer_404_in_the_error_shape() {
    let server = TestServer::start();
    let me = server.mentee("tom").await;
    for path in ["/nope", "/v1/nope", "/v1/conversations/1/nope", "/v2/me"] {
        let (status, v) = me.get(path).await;
        assert_error(status, &v, 404, "not_found");
        let (status, v) = server.anon().post(path, &json!({})).await;
        assert_error(status, &v, 404, "not_found");
    }
}

#[tokio::test]
async fn wrong_methods_answer_405_in_the_error_shape() {
    let server = TestServer::start();
    let me = server.mentee("tom").await;
    let cases = [
        (Method::DELETE, "/v1/me"),
        (Method::GET, "/v1/auth/login"),
        (Method::PUT, "/v1/conversations"),
        (Method::GET, "/v1/conversations/1/accept"),
        (Method::DELETE, "/v1/conversations/1/messages"),
        (Method::POST, "/healthz"),
        (Method::POST, "/v1/notifications"),
    ];
    for (method, path) in cases {
        let r = me.raw(method.clone(), path, None, None).await;
        assert_error(r.status, &r.body, 405, "method_not_allowed");
        let r = server.anon().raw(method.clone(), path, None, None).await;
        assert_error(r.status, &r.body, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn the_server_stops_cleanly_on_sigterm() {
    let mut server = TestServer::start();
    let _ = server.mentee("tom").await;
    let status = server.stop().expect("the server was running");
    assert!(status.success(), "exit status {status}; log:\n{}", server.log());
    assert!(server.log().contains("stopped"), "{}", server.log());
}
