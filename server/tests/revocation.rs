//! What a revoked or expired token ends, and how fast (issue 12): a
//! long-poll `sync` waiting with a token that is revoked (token delete or
//! logout) answers 401 at once — never the next event; a socket and a
//! long-poll whose token expires end at the expiry instant (4401 / 401),
//! not at the next periodic check a minute later. Sockets closed by a
//! revocation are in `realtime.rs`, transfers in `files.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Incoming, Ws};
use common::{Response, Session, TestServer, assert_error};
use mchat_shared::realtime::SyncResponse;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// How late "at once" may be on a loaded two-core machine.
const PROMPT: Duration = Duration::from_millis(1500);

/// The cursor of "now" for `who`.
async fn now_cursor(who: &Session) -> i64 {
    let (status, v) = who.get("/v1/sync").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    serde_json::from_value::<SyncResponse>(v).unwrap().next.0
}

/// Starts `GET /v1/sync?since=SINCE&timeout=30` with `who`'s token and
/// waits until it is surely waiting.
async fn start_long_poll(who: &Session, since: i64) -> tokio::task::JoinHandle<Response> {
    let rb = who.builder(Method::GET, &format!("/v1/sync?since={since}&timeout=30"));
    let poll = tokio::spawn(async move { common::Api::send(rb).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !poll.is_finished(),
        "the long-poll answered before anything happened"
    );
    poll
}

/// The long-poll's answer and how long after `since` it came.
async fn answer(poll: tokio::task::JoinHandle<Response>, since: Instant) -> (Response, Duration) {
    let r = tokio::time::timeout(Duration::from_secs(40), poll)
        .await
        .expect("the long-poll never answered")
        .unwrap();
    (r, since.elapsed())
}

#[tokio::test]
async fn a_long_poll_answers_401_the_moment_its_token_is_revoked() {
    let server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;

    // Revoked from another device, with an event for tom right behind the
    // revocation: the poll must not hand that event to the revoked token.
    let phone = server.login("tom").await;
    let since = now_cursor(&phone).await;
    let poll = start_long_poll(&phone, since).await;
    let (status, v) = tom.delete(&format!("/v1/tokens/{}", phone.token_id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let revoked = Instant::now();
    mira.say(conv, "after-revoke", "are you there?").await;
    let (r, took) = answer(poll, revoked).await;
    assert_error(r.status, &r.body, 401, "unauthorized");
    assert!(took < PROMPT, "the long-poll ended {took:?} after the revocation");
    // The event itself is not lost: tom's live token gets it.
    let (status, v) = tom.get(&format!("/v1/sync?since={since}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v.to_string().contains("are you there?"), "{v}");

    // Logout ends a poll made with the same token, with no event at all.
    let laptop = server.login("tom").await;
    let poll = start_long_poll(&laptop, now_cursor(&laptop).await).await;
    let (status, v) = laptop.post("/v1/auth/logout", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (r, took) = answer(poll, Instant::now()).await;
    assert_error(r.status, &r.body, 401, "unauthorized");
    assert!(took < PROMPT, "the long-poll ended {took:?} after the logout");

    // Another token's poll is not affected: it still gets the next event.
    let poll = start_long_poll(&tom, now_cursor(&tom).await).await;
    let other = server.login("tom").await;
    let (status, v) = other.post("/v1/auth/logout", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    mira.say(conv, "still-here", "still here").await;
    let (r, _) = answer(poll, Instant::now()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("still here"), "{}", r.text);
}

#[tokio::test]
async fn a_socket_and_a_long_poll_end_at_their_token_expiry_instant() {
    let server = TestServer::start_with("[auth]\ntoken_ttl_secs = 4\n");
    let tom = server.mentee("tom").await;
    let expires_at = tom.auth.expires_at;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &tom.token, None).await;
    let poll = start_long_poll(&tom, now_cursor(&tom).await).await;

    let closed = match ws.next(Duration::from_secs(20)).await {
        Some(Incoming::Closed(code)) => code,
        other => panic!("expected the socket to close at the token's expiry, got {other:?}"),
    };
    let at = jiff::Timestamp::now();
    assert_eq!(closed, Some(4401));
    let late = at.duration_since(expires_at);
    assert!(
        late > jiff::SignedDuration::from_millis(-100)
            && late < jiff::SignedDuration::try_from(PROMPT).unwrap(),
        "the socket closed {late:#} after its token expired"
    );

    let r = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the long-poll outlived its token")
        .unwrap();
    assert_error(r.status, &r.body, 401, "unauthorized");
    let late = jiff::Timestamp::now().duration_since(expires_at);
    assert!(
        late < jiff::SignedDuration::try_from(PROMPT).unwrap(),
        "the long-poll ended {late:#} after expiry"
    );
    // And the token is refused from then on.
    let (status, _) = tom.get("/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
