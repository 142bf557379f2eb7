//! Live state that must follow a user's other connections at once: the
//! presence of a contact made while both are online, and notifications
//! read on another device (issue 18, items 5 and 8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::ws::{Ws, event};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::{PresenceState, ServerFrame, Signal};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn online(f: &ServerFrame, who: &str) -> bool {
    matches!(f, ServerFrame::Signal(Signal::Presence { username, state, .. })
        if username == who && *state != PresenceState::Offline)
}

#[tokio::test]
async fn a_contact_made_while_both_are_online_shows_their_presence() {
    let server = TestServer::start();
    let mona = server.mentor("mona", json!({})).await;
    let ana = server.mentee("ana").await;
    let (mut mona_ws, _) = Ws::connect_ready(&server.base(), &mona.token, None).await;
    let (mut ana_ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;

    // Strangers until now: the usual mentee-asks-mentor flow.
    let (status, _) = ana.request("mona", "hello, may we talk?").await;
    assert_eq!(status, StatusCode::CREATED);

    // Each learns the other is online without reconnecting.
    mona_ws.wait_for(WAIT, |f| online(f, "ana")).await;
    ana_ws.wait_for(WAIT, |f| online(f, "mona")).await;
}

#[tokio::test]
async fn notifications_read_on_one_device_are_read_on_the_others() {
    let server = TestServer::start();
    let ana = server.mentee("ana").await;
    let admin = server.admin_session().await;
    let (status, v) = admin
        .post("/v1/admin/announcements", &json!({"body": "office hours move"}))
        .await;
    assert!(status.is_success(), "{v}");
    let (mut laptop, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;

    // The phone marks everything read.
    let (status, v) = ana.post("/v1/notifications/read", &json!({"all": true})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let f = laptop
        .wait_for(WAIT, |f| {
            event(f).is_some_and(|e| matches!(e.kind, EventKind::NotificationsRead { .. }))
        })
        .await;
    let ev = event(&f).unwrap();
    assert_eq!(
        ev.kind,
        EventKind::NotificationsRead {
            ids: Vec::new(),
            unread: 0
        }
    );

    // Nothing newly read: no event (marking twice is quiet).
    let (status, _) = ana.post("/v1/notifications/read", &json!({"all": true})).await;
    assert_eq!(status, StatusCode::OK);
    laptop.expect_silence(Duration::from_millis(500)).await;
}
