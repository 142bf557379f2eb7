//! Organising conversations and time: mute and archive
//! (`PUT /v1/conversations/{id}/settings`, `GET /v1/conversations?archived=`),
//! templates (`/v1/templates`), scheduled messages and reminders
//! (`/v1/scheduled`, delivered by the server's scheduler, also across a
//! restart), and admin announcements reaching every user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Ws, event};
use common::{Session, TestServer, assert_error, decode, poll};
use mchat_shared::ConversationId;
use mchat_shared::api::{
    Conversation, ConversationList, Notification, NotificationKind, ScheduledItem, ScheduledList,
    ScheduledStatus, Template, TemplateList,
};
use mchat_shared::events::EventKind;
use mchat_shared::limits::{SCHEDULED_MAX, TEMPLATES_MAX};
use mchat_shared::realtime::SyncResponse;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn in_ms(ms: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_millis(ms)).to_string()
}

async fn list(s: &Session, query: &str) -> Vec<Conversation> {
    s.get_ok::<ConversationList>(&format!("/v1/conversations{query}"))
        .await
        .conversations
}

async fn settings(s: &Session, id: ConversationId, body: Value) -> (StatusCode, Value) {
    s.put(&format!("/v1/conversations/{id}/settings"), &body).await
}

/// Every event in `s`'s log (HTTP sync from the start).
async fn all_events(s: &Session) -> Vec<EventKind> {
    let r: SyncResponse = s.get_ok("/v1/sync?since=0&timeout=0").await;
    r.events.into_iter().map(|e| e.kind).collect()
}

fn settings_events(events: &[EventKind]) -> Vec<(ConversationId, bool, bool)> {
    events
        .iter()
        .filter_map(|k| match k {
            EventKind::SettingsUpdated {
                conversation_id,
                muted,
                archived,
            } => Some((*conversation_id, *muted, *archived)),
            _ => None,
        })
        .collect()
}

async fn notifications_of(s: &Session, kind: NotificationKind) -> Vec<Notification> {
    s.notifications(false)
        .await
        .notifications
        .into_iter()
        .filter(|n| n.kind == kind)
        .collect()
}

#[tokio::test]
async fn archive_hides_a_conversation_until_new_activity() {
    let server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;

    let (status, v) = settings(&ana, id, json!({"archived": true})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let conv: Conversation = decode(v);
    assert!(conv.archived && !conv.muted, "{conv:?}");
    assert!(
        list(&ana, "").await.is_empty(),
        "archived is out of the default list"
    );
    assert!(list(&ana, "?archived=false").await.is_empty());
    let archived = list(&ana, "?archived=true").await;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].id, id);
    assert!(archived[0].archived);
    // Ana's settings are hers: Mona still sees the conversation, unarchived.
    let theirs = list(&mona, "").await;
    assert_eq!(theirs.len(), 1);
    assert!(!theirs[0].archived);
    assert!(list(&mona, "?archived=true").await.is_empty());
    // Only Ana's log learns of it.
    assert_eq!(settings_events(&all_events(&ana).await), vec![(id, false, true)]);
    assert!(settings_events(&all_events(&mona).await).is_empty());

    // Setting the same again changes nothing and logs nothing.
    let (status, _) = settings(&ana, id, json!({"archived": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings_events(&all_events(&ana).await).len(), 1);

    // New activity brings it back, live.
    let (mut ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    mona.say(id, "c-1", "are you still there?").await;
    ws.wait_for(WAIT, |f| {
        matches!(
            event(f).map(|e| &e.kind),
            Some(EventKind::SettingsUpdated { archived: false, .. })
        )
    })
    .await;
    let back = list(&ana, "").await;
    assert_eq!(back.len(), 1, "unarchived by the new message");
    assert!(!back[0].archived);
    assert!(list(&ana, "?archived=true").await.is_empty());

    // My own message unarchives it for me too.
    settings(&ana, id, json!({"archived": true})).await;
    ana.say(id, "c-2", "yes, sorry").await;
    assert_eq!(list(&ana, "").await.len(), 1);

    // Unarchive explicitly.
    settings(&ana, id, json!({"archived": true})).await;
    let (status, v) = settings(&ana, id, json!({"archived": false})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(list(&ana, "").await.len(), 1);
}

#[tokio::test]
async fn muted_conversations_send_no_notifications() {
    let server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;
    // Ana has no live connection: an unmuted message notifies her.
    mona.say(id, "m-1", "first").await;
    assert_eq!(
        notifications_of(&ana, NotificationKind::MessageReceived)
            .await
            .len(),
        1
    );
    ana.post("/v1/notifications/read", &json!({"all": true})).await;

    let (status, v) = settings(&ana, id, json!({"muted": true})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let conv: Conversation = decode(v);
    assert!(conv.muted && !conv.archived);
    // Muted is not archived: still in the list, marked.
    let mine = list(&ana, "").await;
    assert!(mine[0].muted);
    mona.say(id, "m-2", "second").await;
    mona.say(id, "m-3", "third").await;
    assert!(
        ana.notifications(true).await.notifications.is_empty(),
        "muted: no notification"
    );
    // The messages themselves arrive as always.
    assert!(ana.history(id).await.iter().any(|m| m.body == "third"));

    let (status, _) = settings(&ana, id, json!({"muted": false})).await;
    assert_eq!(status, StatusCode::OK);
    mona.say(id, "m-4", "fourth").await;
    assert_eq!(ana.notifications(true).await.notifications.len(), 1);
    // Both fields at once, and the absent one stays.
    let (_, v) = settings(&ana, id, json!({"muted": true, "archived": true})).await;
    let conv: Conversation = decode(v);
    assert!(conv.muted && conv.archived);
    let (_, v) = settings(&ana, id, json!({"archived": false})).await;
    let conv: Conversation = decode(v);
    assert!(conv.muted && !conv.archived);
}

#[tokio::test]
async fn settings_are_for_participants_only_and_checked() {
    let server = TestServer::start();
    let (_mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let zed = server.mentee("zed").await;
    // Not in it, or no such conversation: the same 404.
    let (status, v) = settings(&zed, id, json!({"muted": true})).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = settings(&zed, ConversationId(999_999), json!({"muted": true})).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = server
        .anon()
        .put(
            &format!("/v1/conversations/{id}/settings"),
            &json!({"muted": true}),
        )
        .await;
    assert_error(status, &v, 401, "unauthorized");
    // Bad bodies.
    let (status, v) = settings(&ana, id, json!({})).await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = settings(&ana, id, json!({"muted": "yes"})).await;
    assert_error(status, &v, 400, "invalid_json");
    let (status, v) = settings(&ana, id, json!({"pinned": true})).await;
    assert_error(status, &v, 400, "invalid_json");
    let (status, v) = ana.get("/v1/conversations?archived=maybe").await;
    assert_error(status, &v, 400, "invalid_query");
    // Nothing changed for anyone.
    assert!(!list(&ana, "").await[0].muted);
}

// ---- templates ----

async fn put_template(s: &Session, name: &str, body: &str) -> (StatusCode, Value) {
    s.put(&format!("/v1/templates/{name}"), &json!({"body": body}))
        .await
}

async fn templates(s: &Session) -> Vec<Template> {
    s.get_ok::<TemplateList>("/v1/templates").await.templates
}

#[tokio::test]
async fn templates_are_saved_replaced_listed_and_deleted() {
    let server = TestServer::start();
    let mona = server.mentor("mona", json!({})).await;
    assert!(templates(&mona).await.is_empty());

    let (status, v) = put_template(&mona, "welcome", "Hi {first_name}! Welcome.").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let t: Template = decode(v);
    assert_eq!(
        (t.name.as_str(), t.body.as_str()),
        ("welcome", "Hi {first_name}! Welcome.")
    );
    // Same name (any case): replaced, 200.
    let (status, v) = put_template(&mona, "Welcome", "  Hello {name}  ").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let t2: Template = decode(v);
    assert_eq!(t2.name, "welcome");
    assert_eq!(t2.body, "Hello {name}", "trimmed like a message");
    assert_eq!(t2.created_at, t.created_at);
    assert!(t2.updated_at >= t.updated_at);
    let (status, _) = put_template(&mona, "follow-up_2", "How did {topic} go?").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = put_template(&mona, "agenda", "1. {topic}").await;
    assert_eq!(status, StatusCode::CREATED);
    let names: Vec<String> = templates(&mona).await.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["agenda", "follow-up_2", "welcome"], "by name");

    let (status, v) = mona.delete("/v1/templates/agenda").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    let (status, v) = mona.delete("/v1/templates/agenda").await;
    assert_error(status, &v, 404, "not_found");
    assert_eq!(templates(&mona).await.len(), 2);

    // They follow the account, not the token (another login sees them).
    let again = server.login("mona").await;
    assert_eq!(templates(&again).await.len(), 2);
}

#[tokio::test]
async fn templates_are_private_and_validated() {
    let server = TestServer::start();
    let mona = server.mentor("mona", json!({})).await;
    let zed = server.mentee("zed").await;
    put_template(&mona, "welcome", "Hi").await;
    // Another user sees none of them and cannot delete them.
    assert!(templates(&zed).await.is_empty());
    let (status, v) = zed.delete("/v1/templates/welcome").await;
    assert_error(status, &v, 404, "not_found");
    // Their own of the same name is theirs.
    let (status, _) = put_template(&zed, "welcome", "Mine").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(templates(&mona).await[0].body, "Hi");
    let (status, v) = server.anon().get("/v1/templates").await;
    assert_error(status, &v, 401, "unauthorized");

    for name in ["has%20space", "semi%3Bcolon", &"x".repeat(41), "%C3%A9t%C3%A9"] {
        let (status, v) = put_template(&mona, name, "body").await;
        assert_error(status, &v, 400, "validation_failed");
        assert_eq!(v["error"]["field"], "name", "{v}");
    }
    let (status, v) = put_template(&mona, "empty", "   ").await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = put_template(&mona, "long", &"x".repeat(4001)).await;
    assert_error(status, &v, 400, "validation_failed");
    let (status, v) = mona
        .put("/v1/templates/extra", &json!({"body": "b", "tags": []}))
        .await;
    assert_error(status, &v, 400, "invalid_json");
    assert_eq!(templates(&mona).await.len(), 1);
}

#[tokio::test]
async fn templates_are_limited_per_user() {
    let server = TestServer::start();
    let mona = server.mentor("mona", json!({})).await;
    for i in 0..TEMPLATES_MAX {
        let (status, v) = put_template(&mona, &format!("t{i}"), "body").await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {v}");
    }
    let (status, v) = put_template(&mona, "one-more", "body").await;
    assert_error(status, &v, 400, "validation_failed");
    assert!(v["error"]["message"].as_str().unwrap().contains("200"), "{v}");
    // Replacing one at the limit is fine; after a delete there is room again.
    let (status, _) = put_template(&mona, "t0", "new body").await;
    assert_eq!(status, StatusCode::OK);
    mona.delete("/v1/templates/t1").await;
    let (status, _) = put_template(&mona, "one-more", "body").await;
    assert_eq!(status, StatusCode::CREATED);
}

// ---- scheduled messages and reminders ----

async fn schedule(s: &Session, body: Value) -> (StatusCode, Value) {
    s.post("/v1/scheduled", &body).await
}

async fn scheduled(s: &Session, all: bool) -> Vec<ScheduledItem> {
    s.get_ok::<ScheduledList>(&format!("/v1/scheduled?all={all}"))
        .await
        .items
}

async fn wait_status(s: &Session, id: i64, status: ScheduledStatus) -> ScheduledItem {
    poll(WAIT, &format!("scheduled item {id} to be {status:?}"), || async {
        scheduled(s, true)
            .await
            .into_iter()
            .find(|i| i.id.0 == id && i.status == status)
    })
    .await
}

#[tokio::test]
async fn a_reminder_becomes_a_notification_when_due() {
    let server = TestServer::start();
    let ana = server.mentee("ana").await;
    let (mut ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    let (status, v) = schedule(
        &ana,
        json!({"kind": "reminder", "body": "follow up with alice", "due_at": in_ms(1500), "client_id": "r-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let item: ScheduledItem = decode(v);
    assert_eq!(item.status, ScheduledStatus::Pending);
    assert_eq!(item.conversation_id, None);
    assert_eq!(scheduled(&ana, false).await, vec![item.clone()]);
    assert!(
        ana.notifications(false).await.notifications.is_empty(),
        "not before its time"
    );

    // Live: the notification, and the item's new status.
    ws.wait_for(WAIT, |f| {
        matches!(event(f).map(|e| &e.kind), Some(EventKind::NotificationNew { notification })
            if notification.kind == NotificationKind::Reminder && notification.body == "follow up with alice")
    })
    .await;
    ws.wait_for(WAIT, |f| {
        matches!(event(f).map(|e| &e.kind), Some(EventKind::ScheduledUpdated { item: i })
            if i.id == item.id && i.status == ScheduledStatus::Sent)
    })
    .await;
    assert_eq!(notifications_of(&ana, NotificationKind::Reminder).await.len(), 1);
    assert!(scheduled(&ana, false).await.is_empty(), "no longer pending");
    let all = scheduled(&ana, true).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, ScheduledStatus::Sent);
}

#[tokio::test]
async fn a_scheduled_message_is_sent_at_its_time_and_retries_are_safe() {
    let server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let due = in_ms(1500);
    let req = json!({"kind": "message", "conversation_id": id, "body": "good morning!", "due_at": due, "client_id": "s-1"});
    let (status, v) = schedule(&ana, req.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let item: ScheduledItem = decode(v);
    assert_eq!(item.peer.as_deref(), Some("mona"));
    assert_eq!(item.conversation_id, Some(id));
    // A retry: the same item, 200.
    let (status, v) = schedule(&ana, req.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<ScheduledItem>(v).id, item.id);
    // The same client_id for something else: a conflict.
    let mut other = req.clone();
    other["body"] = json!("something else");
    let (status, v) = schedule(&ana, other).await;
    assert_error(status, &v, 409, "idempotency_conflict");

    let sent = wait_status(&ana, item.id.0, ScheduledStatus::Sent).await;
    let history = mona.history(id).await;
    let delivered: Vec<_> = history.iter().filter(|m| m.body == "good morning!").collect();
    assert_eq!(delivered.len(), 1, "{history:#?}");
    let m = delivered[0];
    assert_eq!(m.sender.as_deref(), Some("ana"));
    assert_eq!(
        m.client_id.as_deref(),
        Some("s-1"),
        "sent with the item's client_id"
    );
    assert_eq!(sent.message_id, Some(m.id));
    // Mona had no live connection: she was notified as for any message.
    assert_eq!(
        notifications_of(&mona, NotificationKind::MessageReceived)
            .await
            .len(),
        1
    );
    // A retry after it was sent still answers with the item.
    let (status, v) = schedule(&ana, req).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<ScheduledItem>(v).status, ScheduledStatus::Sent);
}

#[tokio::test]
async fn a_scheduled_message_fails_when_the_conversation_closed() {
    let server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let (status, v) = schedule(
        &ana,
        json!({"kind": "message", "conversation_id": id, "body": "later", "due_at": in_ms(1500), "client_id": "f-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let item: ScheduledItem = decode(v);
    let (status, _) = mona
        .post(&format!("/v1/conversations/{id}/complete"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = wait_status(&ana, item.id.0, ScheduledStatus::Failed).await;
    let error = failed.error.unwrap();
    assert!(error.contains("completed"), "{error}");
    assert!(!mona.history(id).await.iter().any(|m| m.body == "later"));
    let notes = notifications_of(&ana, NotificationKind::Reminder).await;
    assert_eq!(notes.len(), 1, "the author is told");
    assert!(notes[0].body.contains("not sent"), "{}", notes[0].body);
    // Nothing new can be scheduled into it now.
    let (status, v) = schedule(
        &ana,
        json!({"kind": "message", "conversation_id": id, "body": "x", "due_at": in_ms(60_000), "client_id": "f-2"}),
    )
    .await;
    assert_error(status, &v, 409, "conversation_not_open");
}

#[tokio::test]
async fn scheduled_items_are_private_and_cancellable() {
    let server = TestServer::start();
    let (_mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let zed = server.mentee("zed").await;
    let (_, v) = schedule(
        &ana,
        json!({"kind": "message", "conversation_id": id, "body": "hi", "due_at": in_ms(3_600_000), "client_id": "p-1"}),
    )
    .await;
    let item: ScheduledItem = decode(v);
    // Zed cannot schedule into a conversation he is not in, nor see, nor cancel Ana's items.
    let (status, v) = schedule(
        &zed,
        json!({"kind": "message", "conversation_id": id, "body": "hi", "due_at": in_ms(60_000), "client_id": "z-1"}),
    )
    .await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = schedule(
        &zed,
        json!({"kind": "message", "conversation_id": 999_999, "body": "hi", "due_at": in_ms(60_000), "client_id": "z-2"}),
    )
    .await;
    assert_error(status, &v, 404, "not_found");
    assert!(scheduled(&zed, true).await.is_empty());
    let (status, v) = zed.delete(&format!("/v1/scheduled/{}", item.id)).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = ana.delete("/v1/scheduled/999999").await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = server.anon().get("/v1/scheduled").await;
    assert_error(status, &v, 401, "unauthorized");

    // Ana cancels: the item, cancelled; again: the same answer.
    let (status, v) = ana.delete(&format!("/v1/scheduled/{}", item.id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode::<ScheduledItem>(v).status, ScheduledStatus::Cancelled);
    let (status, v) = ana.delete(&format!("/v1/scheduled/{}", item.id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(scheduled(&ana, false).await.is_empty());
    assert_eq!(scheduled(&ana, true).await[0].status, ScheduledStatus::Cancelled);
    let kinds: Vec<ScheduledStatus> = all_events(&ana)
        .await
        .into_iter()
        .filter_map(|k| match k {
            EventKind::ScheduledUpdated { item } => Some(item.status),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [ScheduledStatus::Pending, ScheduledStatus::Cancelled]);

    // A sent item cannot be cancelled.
    let (_, v) = schedule(
        &ana,
        json!({"kind": "reminder", "body": "soon", "due_at": in_ms(800), "client_id": "p-2"}),
    )
    .await;
    let soon: ScheduledItem = decode(v);
    wait_status(&ana, soon.id.0, ScheduledStatus::Sent).await;
    let (status, v) = ana.delete(&format!("/v1/scheduled/{}", soon.id)).await;
    assert_error(status, &v, 409, "invalid_transition");
}

#[tokio::test]
async fn bad_schedules_are_refused() {
    let server = TestServer::start();
    let (_mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let base = json!({"kind": "message", "conversation_id": id, "body": "hi", "due_at": in_ms(60_000), "client_id": "b-1"});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let cases = [
        (
            with("due_at", json!(in_ms(-60_000))),
            "validation_failed",
            Some("due_at"),
        ),
        (
            with("due_at", json!(in_ms(367 * 86_400_000))),
            "validation_failed",
            Some("due_at"),
        ),
        (with("due_at", json!("tomorrow 9am")), "invalid_json", None),
        (with("due_at", json!(1_700_000_000)), "invalid_json", None),
        (with("kind", json!("letter")), "invalid_json", None),
        (with("body", json!("  ")), "validation_failed", Some("body")),
        (
            with("body", json!("x".repeat(4001))),
            "validation_failed",
            Some("body"),
        ),
        (
            with("client_id", json!("")),
            "validation_failed",
            Some("client_id"),
        ),
        (
            with("client_id", json!("no spaces please")),
            "validation_failed",
            Some("client_id"),
        ),
        (
            with("conversation_id", Value::Null),
            "validation_failed",
            Some("conversation_id"),
        ),
        (
            with("kind", json!("reminder")),
            "validation_failed",
            Some("conversation_id"),
        ),
        (with("extra", json!(1)), "invalid_json", None),
    ];
    for (body, code, field) in cases {
        let (status, v) = schedule(&ana, body.clone()).await;
        assert_error(status, &v, 400, code);
        if let Some(field) = field {
            assert_eq!(v["error"]["field"], field, "{body} → {v}");
        }
    }
    let (status, v) = schedule(&ana, with("due_at", json!(in_ms(-60_000)))).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("past"),
        "{status} {v}"
    );
    let (status, v) = ana.get("/v1/scheduled?all=sometimes").await;
    assert_error(status, &v, 400, "invalid_query");
    assert!(scheduled(&ana, true).await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn pending_scheduled_items_are_limited_per_user() {
    let server = TestServer::start();
    let ana = server.mentee("ana").await;
    let due = in_ms(3_600_000);
    for i in 0..SCHEDULED_MAX {
        let (status, v) = schedule(
            &ana,
            json!({"kind": "reminder", "body": "r", "due_at": due, "client_id": format!("l-{i}")}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {v}");
    }
    let (status, v) = schedule(
        &ana,
        json!({"kind": "reminder", "body": "r", "due_at": due, "client_id": "l-over"}),
    )
    .await;
    assert_error(status, &v, 400, "validation_failed");
    // Cancelled ones do not count.
    let first = scheduled(&ana, false).await[0].id;
    ana.delete(&format!("/v1/scheduled/{first}")).await;
    let (status, v) = schedule(
        &ana,
        json!({"kind": "reminder", "body": "r", "due_at": due, "client_id": "l-over"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn a_message_due_while_the_server_was_down_is_sent_once_at_start() {
    let mut server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let (status, v) = schedule(
        &ana,
        json!({"kind": "message", "conversation_id": id, "body": "sent while you slept", "due_at": in_ms(2500), "client_id": "x-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let item: ScheduledItem = decode(v);
    let stopped = server.stop().expect("running");
    assert!(stopped.success(), "{stopped}");
    // Past its time with the server down.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    server.start_again();
    let sent = wait_status(&ana, item.id.0, ScheduledStatus::Sent).await;
    // Exactly once, now and a while later (and after another restart).
    let count =
        |h: Vec<mchat_shared::api::Message>| h.iter().filter(|m| m.body == "sent while you slept").count();
    assert_eq!(count(mona.history(id).await), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let history = mona.history(id).await;
    assert_eq!(count(history.clone()), 1, "{history:#?}");
    assert_eq!(
        history
            .iter()
            .find(|m| m.body == "sent while you slept")
            .map(|m| m.id),
        sent.message_id
    );
}

#[tokio::test]
async fn a_crash_does_not_lose_or_repeat_a_scheduled_message() {
    let mut server = TestServer::start();
    let (mona, ana, id) = server.accepted_pair("mona", "ana").await;
    let (_, v) = schedule(
        &ana,
        json!({"kind": "message", "conversation_id": id, "body": "after the crash", "due_at": in_ms(1500), "client_id": "k-1"}),
    )
    .await;
    let item: ScheduledItem = decode(v);
    server.crash();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    server.start_again();
    wait_status(&ana, item.id.0, ScheduledStatus::Sent).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let n = mona
        .history(id)
        .await
        .iter()
        .filter(|m| m.body == "after the crash")
        .count();
    assert_eq!(n, 1);
}

// ---- announcements ----

#[tokio::test]
async fn an_announcement_reaches_every_user_live_and_in_their_notifications() {
    let server = TestServer::start();
    let admin = server.admin_session().await;
    let mona = server.mentor("mona", json!({})).await;
    let ana = server.mentee("ana").await;
    // A mentor still waiting for approval gets it too.
    let pete = server.register("pete", "mentor").await;
    assert_eq!(pete.auth.user.mentor_approved, Some(false));

    let (mut ws_ana, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    let (mut ws_pete, _) = Ws::connect_ready(&server.base(), &pete.token, None).await;
    let (status, v) = admin
        .post(
            "/v1/admin/announcements",
            &json!({"body": "Maintenance tonight at 22:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["recipients"], 4, "admin, mona, ana, pete: {v}");
    for ws in [&mut ws_ana, &mut ws_pete] {
        ws.wait_for(WAIT, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::NotificationNew { notification })
                if notification.kind == NotificationKind::Announcement
                    && notification.body == "Maintenance tonight at 22:00")
        })
        .await;
    }
    for s in [admin, &mona, &ana, &pete] {
        let got = notifications_of(s, NotificationKind::Announcement).await;
        assert_eq!(got.len(), 1, "{}", s.username);
        assert_eq!(got[0].body, "Maintenance tonight at 22:00");
        assert!(got[0].read_at.is_none());
    }

    // Only admins announce; the body is a message body.
    let (status, v) = mona
        .post("/v1/admin/announcements", &json!({"body": "hi all"}))
        .await;
    assert_error(status, &v, 403, "forbidden");
    let (status, v) = admin.post("/v1/admin/announcements", &json!({"body": " "})).await;
    assert_error(status, &v, 400, "validation_failed");
    assert_eq!(
        notifications_of(&ana, NotificationKind::Announcement).await.len(),
        1
    );
}

#[tokio::test]
async fn an_announcement_from_the_command_line_reaches_every_user() {
    let server = TestServer::start();
    let mona = server.mentor("mona", json!({})).await;
    let ana = server.mentee("ana").await;
    let pete = server.register("pete", "mentor").await;
    // Written by another process, yet pushed live: the server's writer
    // picks up events it did not write itself.
    let (mut ws_ana, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    let out = server.admin(&["announce", "New mentors joined this week"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ws_ana
        .wait_for(WAIT, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::NotificationNew { notification })
                if notification.kind == NotificationKind::Announcement
                    && notification.body == "New mentors joined this week")
        })
        .await;
    // Events written here afterwards still arrive.
    let (status, _) = ana.request("mona", "hello after the announcement").await;
    assert_eq!(status, StatusCode::CREATED);
    ws_ana
        .wait_for(WAIT, |f| {
            matches!(event(f).map(|e| &e.kind), Some(EventKind::MessageNew { message })
                if message.body == "hello after the announcement")
        })
        .await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("announced to 4 users"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for s in [&mona, &ana, &pete] {
        let got = notifications_of(s, NotificationKind::Announcement).await;
        assert_eq!(got.len(), 1, "{}", s.username);
        assert_eq!(got[0].body, "New mentors joined this week");
    }
    let out = server.admin(&["announce", "   "], "");
    assert!(!out.status.success());
}
