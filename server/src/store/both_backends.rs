//! Test support: one story told through [`Store`] on SQLite and on
//! PostgreSQL (the throwaway cluster of `scripts/with-postgres.sh`), with
//! the users mona (mentor) and ana (mentee) under the same ids on both, and
//! one accepted conversation between them, [`CONVERSATION`]. The
//! rules are written once over the storage traits; this checks the two
//! backends answer alike. Each test still checks the answers are right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{NewUser, Store, StoreError};
use crate::config::StorageConfig;
use mchat_shared::api::{Profile, Role};
use mchat_shared::{ConversationId, UserId};
use mchat_testkit::TestDatabase;
use std::future::Future;

/// The accepted conversation between mona and ana that every store starts with.
pub const CONVERSATION: ConversationId = ConversationId(1);

/// The conversation, in SQL both backends take (ids are its parameters).
const SEED: &str = "INSERT INTO conversations (id, kind, direct_key, status, requested_by, created_at, \
     status_changed_at, last_activity_at) VALUES (1, 'direct', '1:2', 'accepted', 2, 0, 0, 0); \
     INSERT INTO participants (conversation_id, user_id, joined_at) VALUES (1, 1, 0), (1, 2, 0)";

/// A store on a fresh database of the test cluster, and a connection of
/// the test's own to that database (to seed rows, or watch them). The
/// database goes when the first value is dropped.
pub async fn on_postgres() -> (TestDatabase, Store, tokio_postgres::Client) {
    let db = TestDatabase::create();
    let store = Store::open_postgres(db.url(), &StorageConfig::default(), None)
        .await
        .unwrap();
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    (db, store, client)
}

/// Tells `story(store, mona, ana)` on both backends; asserts the two tellings
/// are identical and returns it.
pub async fn on_both<F, Fut>(story: F) -> Vec<String>
where
    F: Fn(Store, UserId, UserId) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("mchatd.sqlite3"), &StorageConfig::default()).unwrap();
    let mut ids = Vec::new();
    for (name, role) in [("mona", Role::Mentor), ("ana", Role::Mentee)] {
        ids.push(add_user(&sqlite, name, role).await);
    }
    assert_eq!((ids[0].0, ids[1].0), (1, 2), "the seed's ids");
    sqlite
        .write(|ctx| Ok(ctx.conn.execute_batch(SEED)?))
        .await
        .unwrap();
    let on_sqlite = story(sqlite.clone(), ids[0], ids[1]).await;
    sqlite.close().await;

    let (_db, pg, client) = on_postgres().await;
    client
        .execute(
            "INSERT INTO users (id, username, display_name, role, password_hash, mentor_approved, created_at)
                 VALUES ($1, 'mona', 'mona', 'mentor', 'x', TRUE, 0), ($2, 'ana', 'ana', 'mentee', 'x', TRUE, 0)",
            &[&ids[0].0, &ids[1].0],
        )
        .await
        .unwrap();
    client.batch_execute(SEED).await.unwrap();
    // Rows inserted with explicit ids leave the identity sequences behind.
    client
        .batch_execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users));
             SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT MAX(id) FROM conversations));",
        )
        .await
        .unwrap();
    // The look-alike keys the SQLite store computed at registration.
    for (id, name) in [(ids[0], "mona"), (ids[1], "ana")] {
        let key = mchat_shared::confusable::name_key(name);
        client
            .execute(
                "UPDATE users SET username_key = $2, display_key = $2 WHERE id = $1",
                &[&id.0, &key],
            )
            .await
            .unwrap();
    }
    let on_postgres = story(pg.clone(), ids[0], ids[1]).await;
    pg.close().await;

    assert_eq!(on_postgres, on_sqlite, "the same rules, the same answers");
    on_sqlite
}

/// A refusal or failure as a line of a story.
pub fn outcome(r: Result<String, StoreError>) -> String {
    match r {
        Ok(line) => line,
        Err(StoreError::Api(code, message)) => format!("refused {code:?}: {message}"),
        Err(e) => format!("failed: {e}"),
    }
}

/// Registers `name` (approved, when a mentor) in the middle of a story.
pub async fn add_user(store: &Store, name: &str, role: Role) -> UserId {
    let new = NewUser {
        username: name.into(),
        display_name: name.into(),
        role,
        password_hash: "x".into(),
        profile: Profile::default(),
        mentor_approved: true,
    };
    store.create_user(new, None).await.unwrap().id
}

/// A message as a line of a story: everything but its times.
pub fn show_message(m: &mchat_shared::api::Message) -> String {
    format!(
        "#{} in {} {:?} by {:?} {:?} cid {:?} reply {:?} quote {:?} reactions {:?} file {:?} edited {} deleted {}",
        m.id,
        m.conversation_id,
        m.kind,
        m.sender,
        m.body,
        m.client_id,
        m.reply_to,
        m.reply.as_ref().map(|q| (&q.sender, &q.excerpt, q.deleted)),
        m.reactions
            .iter()
            .map(|r| (&r.emoji, r.count, &r.users))
            .collect::<Vec<_>>(),
        m.attachment.as_ref().map(|a| (&a.name, a.size)),
        m.edited_at.is_some(),
        m.deleted_at.is_some(),
    )
}

/// A conversation as a line of a story: everything but its times.
pub fn show_conversation(c: &mchat_shared::api::Conversation) -> String {
    format!(
        "conv {} {:?} asked by {} peer {} unread {} awaiting {} muted {} archived {} mine {:?} theirs {:?} \
         expires {} last {:?}",
        c.id,
        c.status,
        c.requested_by,
        c.peer.username,
        c.unread,
        c.awaiting_reply,
        c.muted,
        c.archived,
        (
            &c.my_markers.username,
            c.my_markers.delivered_up_to,
            c.my_markers.read_up_to
        ),
        (
            &c.peer_markers.username,
            c.peer_markers.delivered_up_to,
            c.peer_markers.read_up_to
        ),
        c.expires_at.is_some(),
        c.last_message.as_ref().map(show_message),
    )
}

/// Each event of `user`'s log as its kind and payload, without times.
pub async fn log_of(store: &Store, user: UserId) -> Vec<String> {
    let replay = store
        .events_after(user, mchat_shared::Seq(0), 1000)
        .await
        .unwrap();
    replay
        .events
        .iter()
        .map(|e| {
            let mut json = serde_json::to_value(&e.kind).unwrap();
            untimed(&mut json);
            json.to_string()
        })
        .collect()
}

/// Blanks every time (`…_at` keys) in `json`: the two backends' stories run
/// at different instants.
fn untimed(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key.ends_with("_at") && value.is_string() {
                    *value = serde_json::Value::from("t");
                } else {
                    untimed(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(untimed),
        _ => {}
    }
}
