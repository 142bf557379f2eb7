//! What is deleted stays deleted, and what one may not read is not served:
//! a deleted (or edited-away) text is gone from replay (`/v1/sync` and
//! `/v1/ws?since=0`), search, quotes, notifications and the database's
//! tables; a deleted message's file goes when nothing else carries it; the
//! edit history is for the author (and an admin who takes part); a
//! moderator's answer carries nothing they could not read; profiles hide
//! unapproved mentors and `last_seen` from those who may not see them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::Ws;
use common::{Session, TestServer, assert_error, decode};
use mchat_shared::MessageId;
use mchat_shared::api::{Message, MessageEdits, User, UserList};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::SyncResponse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Every event of `s`'s log from the start, by `/v1/sync` paging.
async fn whole_log(s: &Session) -> Vec<mchat_shared::events::Event> {
    let mut out = Vec::new();
    let mut since = 0;
    loop {
        let page: SyncResponse = s.get_ok(&format!("/v1/sync?since={since}&timeout=0")).await;
        out.extend(page.events);
        since = page.next.0;
        if !page.has_more {
            return out;
        }
    }
}

/// What a fresh device of `s` replays over the WebSocket from the start.
async fn ws_replay(server: &TestServer, s: &Session) -> String {
    let (ws, events) = Ws::connect_ready(&server.base(), &s.token, Some(0)).await;
    ws.close().await;
    serde_json::to_string(&events).unwrap()
}

fn count(server: &TestServer, sql: &str, arg: impl Into<mchat_testkit::Value>) -> i64 {
    server.sql().int(sql, &[arg.into()])
}

/// Every place the server keeps text, searched for `needle`.
fn stored_copies(server: &TestServer, needle: &str) -> Vec<(&'static str, i64)> {
    let like = format!("%{needle}%");
    let places = [
        ("messages", "SELECT COUNT(*) FROM messages WHERE body LIKE ?1"),
        (
            "message_edits",
            "SELECT COUNT(*) FROM message_edits WHERE body LIKE ?1",
        ),
        (
            "events",
            "SELECT COUNT(*) FROM events WHERE CAST(payload AS TEXT) LIKE ?1",
        ),
        (
            "notifications",
            "SELECT COUNT(*) FROM notifications WHERE body LIKE ?1",
        ),
        ("scheduled", "SELECT COUNT(*) FROM scheduled WHERE body LIKE ?1"),
    ];
    let mut found: Vec<(&str, i64)> = places
        .iter()
        .map(|(name, sql)| (*name, count(server, sql, like.as_str())))
        .collect();
    // The search index: FTS5's table, or PostgreSQL's tsvector column.
    let index = if server.on_postgres() {
        "SELECT COUNT(*) FROM messages WHERE search_words @@ plainto_tsquery('simple', ?1)"
    } else {
        "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?1"
    };
    found.push(("search index", count(server, index, needle)));
    found.retain(|(_, n)| *n > 0);
    found
}

async fn search_hits(s: &Session, q: &str) -> usize {
    let (status, v) = s.get(&format!("/v1/search?q={q}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["hits"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_else(|| panic!("no hits in {v}"))
}

async fn reply(
    s: &Session,
    conv: mchat_shared::ConversationId,
    client_id: &str,
    body: &str,
    to: MessageId,
) -> Message {
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

#[tokio::test]
async fn a_deleted_text_is_gone_from_replay_search_quotes_and_storage() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let secret = "my address is zanzibarfortytwo";
    let m = ana.say(conv, "a-1", secret).await;
    let answer = reply(&mona, conv, "m-1", "noted", m.id).await;
    assert!(
        answer
            .reply
            .as_ref()
            .unwrap()
            .excerpt
            .contains("zanzibarfortytwo")
    );
    // Before: the text is served and stored (so the checks below can fail).
    assert!(
        serde_json::to_string(&whole_log(&mona).await)
            .unwrap()
            .contains("zanzibarfortytwo")
    );
    assert!(!stored_copies(&server, "zanzibarfortytwo").is_empty());
    assert_eq!(search_hits(&mona, "zanzibarfortytwo").await, 1);

    let tomb = ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert_eq!(tomb.body, "");

    // Replay, for every participant, by long-poll, WebSocket and a fresh login.
    let fresh = server.login("mona").await;
    for s in [&mona, &ana, &fresh] {
        let log = whole_log(s).await;
        let text = serde_json::to_string(&log).unwrap();
        assert!(
            !text.contains("zanzibarfortytwo"),
            "{} replays the text: {text}",
            s.username
        );
        // The replayed `message_new` is the tombstone; the reply's quote says "deleted".
        let first = log
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::MessageNew { message } if message.id == m.id => Some(message),
                _ => None,
            })
            .unwrap();
        assert!(first.deleted_at.is_some(), "{first:?}");
        let quoted = log
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::MessageNew { message } if message.id == answer.id => Some(message),
                _ => None,
            })
            .unwrap();
        assert!(quoted.reply.as_ref().unwrap().deleted);
        let replayed = ws_replay(&server, s).await;
        assert!(!replayed.contains("zanzibarfortytwo"), "ws replay: {replayed}");
    }
    // Search, notifications and every table.
    assert_eq!(search_hits(&mona, "zanzibarfortytwo").await, 0);
    assert_eq!(search_hits(&ana, "zanzibarfortytwo").await, 0);
    for s in [&mona, &ana] {
        let notes = serde_json::to_string(&s.notifications(false).await).unwrap();
        assert!(!notes.contains("zanzibar"), "{notes}");
    }
    assert_eq!(stored_copies(&server, "zanzibarfortytwo"), vec![]);
    // The row stays as the tombstone.
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM messages WHERE id = ?1 AND deleted_at IS NOT NULL",
            m.id.0
        ),
        1
    );
}

#[tokio::test]
async fn an_edit_replays_the_current_text_and_its_history_is_for_the_author() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let eve = server.mentee("eve").await;
    let admin = server.admin_session().await;
    let m = ana.say(conv, "a-1", "call me on quuxophone 5551234").await;
    let answer = reply(&mona, conv, "m-1", "will do", m.id).await;
    ok(ana
        .patch(
            &format!("/v1/messages/{}", m.id),
            &json!({"body": "call me later"}),
        )
        .await);
    ok(ana
        .patch(
            &format!("/v1/messages/{}", m.id),
            &json!({"body": "call me tomorrow"}),
        )
        .await);

    for s in [&mona, &ana] {
        let log = whole_log(s).await;
        let text = serde_json::to_string(&log).unwrap();
        assert!(!text.contains("quuxophone"), "replay keeps the old text: {text}");
        assert!(
            !text.contains("call me later"),
            "replay keeps the old text: {text}"
        );
        for e in &log {
            if let EventKind::MessageNew { message } | EventKind::MessageUpdated { message } = &e.kind {
                if message.id == m.id {
                    assert_eq!(message.body, "call me tomorrow");
                }
                if message.id == answer.id {
                    assert_eq!(message.reply.as_ref().unwrap().excerpt, "call me tomorrow");
                }
            }
        }
        assert!(!ws_replay(&server, s).await.contains("quuxophone"));
    }
    assert_eq!(
        search_hits(&mona, "quuxophone").await,
        0,
        "the index follows the edit"
    );
    assert_eq!(search_hits(&mona, "tomorrow").await, 1);

    // The author reads the history, newest first.
    let history: MessageEdits = ana.get_ok(&format!("/v1/messages/{}/edits", m.id)).await;
    let bodies: Vec<&str> = history.edits.iter().map(|e| e.body.as_str()).collect();
    assert_eq!(bodies, vec!["call me later", "call me on quuxophone 5551234"]);
    assert!(history.edits[0].replaced_at >= history.edits[1].replaced_at);
    // The peer, an outsider and an admin outside the conversation: the 404 of a missing message.
    let (_, missing) = ana.get("/v1/messages/999999/edits").await;
    for who in [&mona, &eve, admin] {
        let (status, v) = who.get(&format!("/v1/messages/{}/edits", m.id)).await;
        assert_error(status, &v, 404, "not_found");
        assert_eq!(v, missing, "{}", who.username);
    }
    // Deleting drops the history with the text.
    ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    let history: MessageEdits = ana.get_ok(&format!("/v1/messages/{}/edits", m.id)).await;
    assert!(history.edits.is_empty());
    assert_eq!(stored_copies(&server, "quuxophone"), vec![]);
    assert_eq!(stored_copies(&server, "call me"), vec![]);
}

#[tokio::test]
async fn an_admin_in_the_conversation_reads_the_edit_history() {
    let server = TestServer::start();
    let admin = server.admin_session().await;
    let ana = server.mentee("ana").await;
    let (status, created) = admin.request("ana", "a word about your sessions").await;
    assert_eq!(status, StatusCode::CREATED);
    let conv = created.conversation.id;
    let (status, v) = ana
        .post(&format!("/v1/conversations/{conv}/accept"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let m = ana.say(conv, "a-1", "first words").await;
    ok(ana
        .patch(
            &format!("/v1/messages/{}", m.id),
            &json!({"body": "second words"}),
        )
        .await);
    let history: MessageEdits = admin.get_ok(&format!("/v1/messages/{}/edits", m.id)).await;
    assert_eq!(history.edits.len(), 1);
    assert_eq!(history.edits[0].body, "first words");
}

#[tokio::test]
async fn a_scheduled_message_forgets_its_text_when_deleted() {
    let server = TestServer::start();
    let (_mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let due = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1)).to_string();
    let (status, v) = ana
        .post(
            "/v1/scheduled",
            &json!({"kind": "message", "conversation_id": conv, "body": "timed plumbusword",
                    "due_at": due, "client_id": "s-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let sent = loop {
        let (_, v) = ana.get("/v1/scheduled?all=true").await;
        if let Some(id) = v["items"][0]["message_id"].as_i64() {
            break MessageId(id);
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled message was not sent: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ok(ana.delete(&format!("/v1/messages/{sent}")).await);
    assert_eq!(stored_copies(&server, "plumbusword"), vec![]);
    assert!(
        !serde_json::to_string(&whole_log(&ana).await)
            .unwrap()
            .contains("plumbusword")
    );
}

fn blob(server: &TestServer, sha: &str) -> PathBuf {
    server.data_dir().join("files").join(&sha[..2]).join(&sha[2..])
}

async fn download_status(s: &Session, id: i64) -> StatusCode {
    s.raw(Method::GET, &format!("/v1/files/{id}"), None, None)
        .await
        .status
}

async fn send_file(s: &Session, conv: mchat_shared::ConversationId, client_id: &str, file: i64) -> Message {
    let (status, v) = s
        .post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({"client_id": client_id, "body": "see attached", "file": file}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    decode(v)
}

#[tokio::test]
async fn a_deleted_file_goes_when_nothing_else_carries_it() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    // Only this message carries these bytes: row and blob go.
    let alone = ana.upload("alone.txt", "text/plain", b"bytes sent once").await;
    let m = send_file(&ana, conv, "f-1", alone.id.0).await;
    assert!(blob(&server, &alone.sha256).is_file());
    ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert!(!blob(&server, &alone.sha256).exists(), "the blob is unlinked");
    assert_eq!(download_status(&ana, alone.id.0).await, StatusCode::NOT_FOUND);
    assert_eq!(download_status(&mona, alone.id.0).await, StatusCode::NOT_FOUND);
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM files WHERE sha256 = ?1",
            &alone.sha256
        ),
        0
    );
    // Not in the replay either.
    assert!(
        !serde_json::to_string(&whole_log(&mona).await)
            .unwrap()
            .contains("alone.txt")
    );

    // The same bytes also uploaded and never sent: that upload keeps them.
    let shared = b"bytes uploaded twice".to_vec();
    let sent = ana.upload("sent.txt", "text/plain", &shared).await;
    let kept = ana.upload("kept.txt", "text/plain", &shared).await;
    assert_eq!(sent.sha256, kept.sha256);
    let m = send_file(&ana, conv, "f-2", sent.id.0).await;
    ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    assert!(
        blob(&server, &kept.sha256).is_file(),
        "an unsent upload is not touched"
    );
    let r = ana
        .raw(Method::GET, &format!("/v1/files/{}", kept.id), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text.as_bytes(), &shared[..]);
    assert_eq!(download_status(&ana, sent.id.0).await, StatusCode::NOT_FOUND);

    // A file sent in two messages stays while one still carries it.
    let twice = ana
        .upload("twice.txt", "text/plain", b"sent in two messages")
        .await;
    let first = send_file(&ana, conv, "f-3", twice.id.0).await;
    send_file(&ana, conv, "f-4", twice.id.0).await;
    ok(ana.delete(&format!("/v1/messages/{}", first.id)).await);
    assert_eq!(download_status(&mona, twice.id.0).await, StatusCode::OK);
}

/// A deletion that drops the last row of some bytes races an upload of the
/// same bytes: whatever the interleaving, the new upload keeps its bytes
/// (before the upload pinned the hash, it could find the blob in place,
/// keep its own copy out, and lose the blob to the deletion's unlink).
#[tokio::test]
async fn an_upload_racing_the_deletion_of_the_same_bytes_keeps_them() {
    let server = TestServer::start();
    let (_mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    for round in 0..40 {
        let bytes = format!("racing bytes, round {round}").into_bytes();
        let first = ana.upload("first.txt", "text/plain", &bytes).await;
        let m = send_file(&ana, conv, &format!("race-{round}"), first.id.0).await;
        let path = format!("/v1/messages/{}", m.id);
        let (deleted, again) = tokio::join!(ana.delete(&path), ana.upload("again.txt", "text/plain", &bytes));
        ok(deleted);
        let r = ana
            .raw(Method::GET, &format!("/v1/files/{}", again.id), None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.text);
        assert_eq!(r.text.as_bytes(), &bytes[..], "round {round}");
        assert!(blob(&server, &again.sha256).is_file(), "round {round}");
    }
}

#[tokio::test]
async fn blobs_nothing_names_are_removed_at_start() {
    let mut server = TestServer::start();
    let ana = server.mentee("ana").await;
    let kept = ana
        .upload("kept.txt", "text/plain", b"an upload not yet sent")
        .await;
    server.stop();
    // A deletion that crashed between COMMIT and the unlink leaves this.
    let orphan = "ab".to_string() + &"c".repeat(62);
    let orphan_path = blob(&server, &orphan);
    std::fs::create_dir_all(orphan_path.parent().unwrap()).unwrap();
    std::fs::write(&orphan_path, b"deleted bytes").unwrap();
    server.start_again();
    assert!(!orphan_path.exists(), "the orphan is removed at start");
    assert!(blob(&server, &kept.sha256).is_file(), "a file with a row stays");
    let ana = server.login("ana").await;
    assert_eq!(download_status(&ana, kept.id.0).await, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_delete_answers_nothing_the_admin_could_not_read() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let admin = server.admin_session().await;
    let parent = ana.say(conv, "a-1", "a private parent text").await;
    let r = reply(&mona, conv, "m-1", "a private reply", parent.id).await;
    let (status, v) = admin.get(&format!("/v1/messages/{}", parent.id)).await;
    assert_error(status, &v, 404, "not_found");

    let (status, v) = admin.delete(&format!("/v1/messages/{}", r.id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let text = v.to_string();
    assert!(!text.contains("private"), "the answer echoes text: {text}");
    assert!(
        !text.contains("ana") && !text.contains("mona"),
        "the answer names people: {text}"
    );
    let tomb: Message = decode(v);
    assert!(tomb.deleted_at.is_some());
    assert!(tomb.reply.is_none());
    // The participants still get the full tombstone.
    let seen = mona.get_ok::<Message>(&format!("/v1/messages/{}", r.id)).await;
    assert_eq!(seen.sender.as_deref(), Some("mona"));
    assert!(seen.deleted_at.is_some());
}

/// Waits until `s`'s own profile shows a `last_seen`.
async fn wait_last_seen(s: &Session) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let me: User = s.get_ok(&format!("/v1/users/{}", s.username)).await;
        if me.last_seen.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "last_seen was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn profiles_show_unapproved_mentors_and_last_seen_only_to_who_may_see_them() {
    let server = TestServer::start();
    let (mona, ana, _conv) = server.accepted_pair("mona", "ana").await;
    let eve = server.mentee("eve").await;
    let admin = server.admin_session().await;
    let uma = server.register("uma", "mentor").await;

    // An unapproved mentor: as missing for others, visible to admins and themselves.
    let (_, missing) = eve.get("/v1/users/nobody").await;
    for who in [&eve, &ana, &mona] {
        let (status, v) = who.get("/v1/users/uma").await;
        assert_error(status, &v, 404, "not_found");
        assert_eq!(
            v["error"]["message"],
            missing["error"]["message"]
                .as_str()
                .unwrap()
                .replace("nobody", "uma")
        );
    }
    for who in [&uma, admin] {
        let u: User = who.get_ok("/v1/users/uma").await;
        assert_eq!(u.mentor_approved, Some(false));
    }

    // last_seen: recorded when ana's last connection closes.
    let (ws, _) = Ws::connect_ready(&server.base(), &ana.token, None).await;
    ws.close().await;
    wait_last_seen(&ana).await;
    for who in [&mona, admin] {
        let u: User = who.get_ok("/v1/users/ana").await;
        assert!(
            u.last_seen.is_some(),
            "{} shares a conversation or is an admin",
            who.username
        );
    }
    let u: User = eve.get_ok("/v1/users/ana").await;
    assert_eq!(u.last_seen, None, "eve shares no conversation with ana");
    // The directory follows the same rule.
    let list: UserList = eve.get_ok("/v1/users?q=ana").await;
    let listed = list.users.iter().find(|u| u.username == "ana").unwrap();
    assert_eq!(listed.last_seen, None);
    let list: UserList = mona.get_ok("/v1/users?q=ana").await;
    assert!(
        list.users
            .iter()
            .find(|u| u.username == "ana")
            .unwrap()
            .last_seen
            .is_some()
    );
    let list: UserList = eve.get_ok("/v1/users?role=mentor").await;
    assert!(list.users.iter().all(|u| u.username != "uma"));
}

/// Not only the tables: the bytes of the database file. Freed row space is
/// zeroed (`secure_delete = FAST`) and the FTS index drops a deleted row's
/// entries at once (FTS5 `secure-delete`), so after the checkpoint at stop
/// the text is nowhere in the data directory. (PostgreSQL keeps a dead row
/// version until vacuum reclaims it: docs/STORAGE.md says so.)
#[tokio::test]
async fn a_deleted_text_leaves_no_bytes_in_the_database_file() {
    if mchat_testkit::sqlite_only("the SQLite file's bytes") {
        return;
    }
    let mut server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    for i in 0..50 {
        ana.say(
            conv,
            &format!("f-{i}"),
            &format!("filler message number {i} with some words"),
        )
        .await;
    }
    let m = ana.say(conv, "a-1", "my address is zanzibarfortytwo").await;
    reply(&mona, conv, "m-1", "noted", m.id).await;
    for i in 0..50 {
        mona.say(conv, &format!("g-{i}"), &format!("more filler {i}"))
            .await;
    }
    ok(ana.delete(&format!("/v1/messages/{}", m.id)).await);
    server.stop();
    let mut scanned = 0;
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            let hits = bytes.windows(16).filter(|w| *w == b"zanzibarfortytwo").count();
            assert_eq!(hits, 0, "{} still holds the text", path.display());
        }
    }
    assert!(scanned > 0);
}
