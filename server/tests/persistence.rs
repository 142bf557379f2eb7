//! What the server keeps: everything survives a graceful restart on the
//! same data directory; `mchatd backup` makes a consistent copy while the
//! server runs; and a server started on nothing but that copy serves the
//! same data.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestServer, assert_error};
use mchat_shared::ConversationId;
use mchat_shared::api::{Conversation, ConversationStatus, Message, Notification, User};
use reqwest::StatusCode;
use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use std::path::Path;

/// Everything a user can observe about one conversation and themselves.
#[derive(Debug, PartialEq)]
struct View {
    me: User,
    conversation: Conversation,
    history: Vec<Message>,
    notifications: Vec<Notification>,
    unread_notifications: u32,
}

async fn view(who: &Session, id: ConversationId) -> View {
    let notes = who.notifications(false).await;
    View {
        me: who.get_ok("/v1/me").await,
        conversation: who.conversation(id).await,
        history: who.history(id).await,
        notifications: notes.notifications,
        unread_notifications: notes.unread_count,
    }
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

fn open_read_only(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let mut server = TestServer::start();
    let (mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let (status, _) = mira
        .patch(
            "/v1/me",
            &json!({"headline": "Staff engineer", "availability": "busy"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tom.say(id, "t-1", "before the restart").await;
    mira.say(id, "r-1", "one").await;
    let last = mira.say(id, "r-2", "two").await;
    let (status, _) = tom
        .post(
            &format!("/v1/conversations/{id}/delivered"),
            &json!({"up_to": last.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A pending request with its deadline, and a revoked token.
    let ann = server.mentee("ann").await;
    let (_, pending) = ann.request("mira", "pending across restarts").await;
    let pending = pending.conversation;
    let spare = server.login("tom").await;
    let (status, _) = tom.delete(&format!("/v1/tokens/{}", spare.token_id)).await;
    assert_eq!(status, StatusCode::OK);

    let tom_before = view(&tom, id).await;
    let mira_before = view(&mira, id).await;
    assert_eq!(tom_before.conversation.unread, 2);
    assert_eq!(tom_before.conversation.my_markers.delivered_up_to, last.id);
    assert_eq!(mira_before.conversation.peer_markers.delivered_up_to, last.id);
    assert_eq!(
        mira_before.notifications.len(),
        3,
        "approved, request from tom, request from ann"
    );

    server.restart();

    // The same tokens work, and see the same state.
    assert_eq!(view(&tom, id).await, tom_before);
    assert_eq!(view(&mira, id).await, mira_before);
    assert_eq!(ann.conversation(pending.id).await, pending);
    let (status, v) = spare.get("/v1/me").await;
    assert_error(status, &v, 401, "unauthorized");
    // Passwords too, and the users listing.
    let again = server.login("tom").await;
    assert_eq!(again.auth.user, tom_before.me);
    let list: mchat_shared::api::UserList = tom.get_ok("/v1/users?role=mentor").await;
    assert_eq!(list.users, vec![mira_before.me.clone()]);

    // And the server keeps working: new messages continue the id sequence.
    let next = tom.say(id, "t-2", "after the restart").await;
    assert!(next.id > last.id);
    // Idempotency survives too.
    let (status, v) = tom.send_raw(id, "t-1", "before the restart").await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_writes_is_a_consistent_snapshot() {
    if mchat_testkit::sqlite_only("`mchatd backup` (PostgreSQL's is pg_dump)") {
        return;
    }
    let server = TestServer::start();
    let (_mira, tom, id) = server.accepted_pair("mira", "tom").await;
    let writer = {
        let api = tom.api.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                api.say(id, &format!("w-{i}"), "written while backing up").await;
            }
        })
    };
    let dest = server.dir().join("during.sqlite3");
    let out = server.backup(&dest);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    writer.await.expect("writer task");

    let copy = open_read_only(&dest);
    let violations: i64 = copy
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .expect("foreign_key_check");
    assert_eq!(violations, 0);
    let dangling: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM conversations c WHERE c.last_message_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = c.last_message_id)",
            [],
            |r| r.get(0),
        )
        .expect("dangling check");
    assert_eq!(dangling, 0, "every conversation's last message is in the copy");
    let newest: i64 = copy
        .query_row(
            "SELECT last_message_id FROM conversations WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .expect("last message");
    let max: i64 = copy
        .query_row(
            "SELECT MAX(id) FROM messages WHERE conversation_id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .expect("max id");
    assert_eq!(newest, max, "the copy is one point in time");
}

#[tokio::test]
async fn online_backup_is_consistent_and_restorable() {
    if mchat_testkit::sqlite_only("`mchatd backup` (PostgreSQL's is pg_dump)") {
        return;
    }
    let server = TestServer::start();
    let (mira, tom, id) = server.accepted_pair("mira", "tom").await;
    for i in 0..10 {
        tom.say(id, &format!("t-{i}"), &format!("message {i}")).await;
    }
    let (_, pending) = server.mentee("ann").await.request("mira", "hello").await;
    let history = tom.history(id).await;
    let tom_view = view(&tom, id).await;
    let mira_view = view(&mira, id).await;

    // While the server runs (and keeps its WAL open).
    let dest = server.dir().join("backup.sqlite3");
    let out = server.backup(&dest);
    assert!(
        out.status.success(),
        "mchatd backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.is_file());

    // The copy is one self-contained file with the same rows.
    let copy = open_read_only(&dest);
    let ok: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "delete", "no WAL sidecar needed");
    assert_eq!(count(&copy, "users"), 4, "admin, mira, tom, ann");
    // tom's conversation, plus ann's intro.
    assert_eq!(count(&copy, "messages"), history.len() as i64 + 1);
    let live = open_read_only(&server.database_path());
    for table in [
        "users",
        "messages",
        "conversations",
        "participants",
        "notifications",
        "tokens",
        "events",
    ] {
        assert_eq!(count(&copy, table), count(&live, table), "{table}");
    }
    drop(live);
    drop(copy);

    // The server kept serving during the backup.
    tom.say(id, "t-after", "written after the backup").await;

    // Refuses to overwrite.
    let out = server.backup(&dest);
    assert!(
        !out.status.success(),
        "a second backup to the same path must fail"
    );
    assert_eq!(
        count(&open_read_only(&dest), "messages"),
        history.len() as i64 + 1
    );

    // A fresh server on a data dir holding only the backup serves the same data
    // (and the same tokens, which are part of it).
    let restored_dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&dest, restored_dir.path().join("mchatd.sqlite3")).expect("copy backup");
    let restored = TestServer::start_on_data_dir(restored_dir.path(), "");
    let tom2 = restored.adopt(&tom);
    let mira2 = restored.adopt(&mira);
    assert_eq!(tom2.history(id).await, history);
    assert_eq!(view(&tom2, id).await, tom_view);
    assert_eq!(view(&mira2, id).await, mira_view);
    assert_eq!(
        mira2.conversation(pending.conversation.id).await.status,
        ConversationStatus::Pending
    );
    // The message written after the backup is (rightly) not in it.
    assert!(
        !tom2
            .history(id)
            .await
            .iter()
            .any(|m| m.client_id.as_deref() == Some("t-after"))
    );
    let restored_login = restored.login("tom").await;
    assert_eq!(restored_login.username, "tom");
}
