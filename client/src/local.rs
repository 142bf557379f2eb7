//! The client's local SQLite store, one file per profile: the outbox of
//! messages that could not reach the server yet (DESIGN.md §5, "Outbox"), the
//! event cursor, a small key/value table, and a cache of conversations and
//! messages so the TUI can start offline.
//!
//! The API is synchronous; async callers wrap it in `spawn_blocking`. The
//! schema is versioned with `rusqlite_migration` (SQLite's `user_version`).
//! On disk the database runs in WAL mode with a busy timeout (the TUI and a
//! CLI command may use the same profile at once) and the default
//! `synchronous = FULL`, so an outbox row that was added survives a power
//! loss. On unix the file is created with mode 0600 (bodies of unsent
//! messages are private) inside directories created with mode 0700.

use mchat_shared::api::{Conversation, Message};
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many messages per conversation the cache keeps (the newest ones).
pub const CACHED_MESSAGES_PER_CONVERSATION: u32 = 2_000;

/// First retry delay of the outbox, in milliseconds.
pub const BACKOFF_BASE_MS: i64 = 1_000;

/// Longest retry delay of the outbox, in milliseconds (5 minutes).
pub const BACKOFF_CAP_MS: i64 = 300_000;

/// How long a write waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `last_error` is kept short: it is shown in `mchat outbox list`.
const LAST_ERROR_MAX_CHARS: usize = 500;

/// Schema version 1.
const V1: &str = r#"
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id       TEXT    NOT NULL UNIQUE,
    target          TEXT    NOT NULL,
    conversation_id INTEGER,
    body            TEXT    NOT NULL,
    reply_to        INTEGER,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX outbox_next_attempt ON outbox (next_attempt_at);

CREATE TABLE event_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    seq INTEGER NOT NULL
);

CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE cached_conversations (
    id       INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    json     TEXT    NOT NULL
);

CREATE TABLE cached_messages (
    conversation_id INTEGER NOT NULL,
    id              INTEGER NOT NULL,
    json            TEXT    NOT NULL,
    PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
"#;

/// Schema version 2: every outbox row belongs to the server and account it
/// was written for (NULL for rows from version 1 until a profile adopts
/// them; see [`LocalStore::outbox_adopt_unowned`]).
const V2: &str = r#"
ALTER TABLE outbox ADD COLUMN server TEXT;
ALTER TABLE outbox ADD COLUMN account TEXT;
CREATE INDEX outbox_owner ON outbox (server, account, next_attempt_at);
"#;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2)])
}

/// Errors of the local store.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Creating the directory or the database file failed.
    #[error("could not create the local store {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation (locked for too long, disk full, corrupt file…).
    #[error("local store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date (for example a file written
    /// by a newer `mchat`).
    #[error("local store schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A cached item could not be encoded.
    #[error("local store cache: {0}")]
    Json(#[from] serde_json::Error),
}

/// Results of the local store.
pub type LocalResult<T> = Result<T, LocalError>;

/// `next_attempt_at` of a message the server refused for good: it stays in
/// the outbox (nothing typed is lost) but is never retried by itself.
pub const OUTBOX_REFUSED: i64 = i64::MAX;

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Local row id (what `mchat outbox drop ID` takes).
    pub id: i64,
    /// The idempotency key sent with the message; the server stores a
    /// `client_id` once, so retrying can never post twice.
    pub client_id: String,
    /// The username or conversation id as the user typed it.
    pub target: String,
    /// The conversation, when it was already known.
    pub conversation_id: Option<i64>,
    pub body: String,
    pub reply_to: Option<i64>,
    /// When it was queued, in unix milliseconds.
    pub created_at: i64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Not to be retried before this time (unix milliseconds).
    pub next_attempt_at: i64,
}

impl OutboxItem {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            client_id: row.get("client_id")?,
            target: row.get("target")?,
            conversation_id: row.get("conversation_id")?,
            body: row.get("body")?,
            reply_to: row.get("reply_to")?,
            created_at: row.get("created_at")?,
            attempts: row.get("attempts")?,
            last_error: row.get("last_error")?,
            next_attempt_at: row.get("next_attempt_at")?,
        })
    }
}

impl OutboxItem {
    /// Refused by the server for good: kept, but never retried by itself.
    pub fn is_refused(&self) -> bool {
        self.next_attempt_at == OUTBOX_REFUSED
    }
}

const OUTBOX_COLUMNS: &str = "id, client_id, target, conversation_id, body, reply_to, created_at, attempts, \
     last_error, next_attempt_at";

/// The owner filter of the outbox queries. Its two anonymous parameters
/// take the numbers after the highest one before them (SQLite's rule), so
/// it goes last in a statement and the server and account are bound last.
const OWNED: &str = "server IS ? AND account IS ?";

/// The current time in unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The delay before the next outbox retry, in milliseconds, given how many
/// attempts have failed so far (counting the one that just failed):
/// about 1 s, 2 s, 4 s, … doubling up to [`BACKOFF_CAP_MS`] (5 minutes).
/// Each delay is reduced by a random 0–25 % ("jitter") so that many queued
/// messages, or several clients, do not retry in lockstep. The result is
/// always between `0.75 × base` and `base`, and never above the cap. The
/// arithmetic is the reconnect backoff's ([`crate::live::retry_delay`]).
pub fn backoff_ms(attempts: u32) -> i64 {
    let config = crate::live::BackoffConfig {
        base: std::time::Duration::from_millis(BACKOFF_BASE_MS.unsigned_abs()),
        cap: std::time::Duration::from_millis(BACKOFF_CAP_MS.unsigned_abs()),
    };
    let delay = crate::live::retry_delay(config, attempts);
    i64::try_from(delay.as_millis()).unwrap_or(BACKOFF_CAP_MS)
}

/// Whose outbox rows a store reads and writes: the server they are for (as
/// normalised by the CLI) and the account that wrote them. A message queued
/// for one server is never flushed to another, and one account's queue is
/// never sent with another account's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxOwner {
    pub server: String,
    pub account: String,
}

/// One profile's local database.
pub struct LocalStore {
    conn: Connection,
    path: Option<PathBuf>,
    /// Scopes every outbox call; `None` (tests, in-memory stores) sees only
    /// unowned rows.
    owner: Option<OutboxOwner>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens (creating if needed) the store at `path`: parent directories are
    /// created (mode 0700 on unix), the file gets mode 0600 on unix, WAL mode
    /// and a busy timeout are set and the schema is migrated to the latest
    /// version.
    pub fn open(path: &Path) -> LocalResult<Self> {
        let io_err = |source| LocalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(|source| LocalError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path).map_err(io_err)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems (network mounts) cannot do WAL; the default
            // rollback journal is still correct, only less concurrent.
            conn.pragma_update(None, "journal_mode", "DELETE")?;
        }
        Self::init(conn, Some(path.to_path_buf()))
    }

    /// An empty store that lives in memory (tests, `--no-store` modes).
    pub fn open_in_memory() -> LocalResult<Self> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> LocalResult<Self> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations().to_latest(&mut conn)?;
        Ok(Self {
            conn,
            path,
            owner: None,
        })
    }

    /// From now on, outbox calls see (and add) only `owner`'s rows.
    pub fn set_outbox_owner(&mut self, owner: OutboxOwner) {
        self.owner = Some(owner);
    }

    /// Gives rows queued before outboxes were scoped to `owner`. Returns how many.
    pub fn outbox_adopt_unowned(&self, owner: &OutboxOwner) -> LocalResult<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET server = ?1, account = ?2 WHERE server IS NULL AND account IS NULL",
            params![owner.server, owner.account],
        )?)
    }

    fn owner_params(&self) -> (Option<&str>, Option<&str>) {
        match &self.owner {
            Some(o) => (Some(o.server.as_str()), Some(o.account.as_str())),
            None => (None, None),
        }
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    // ----- outbox -------------------------------------------------------

    /// Queues a message. It is due at once (`next_attempt_at` = now). If a
    /// row with the same `client_id` already exists, nothing is added and the
    /// existing row is returned unchanged, so a message typed once is queued
    /// once however often this is called.
    pub fn outbox_add(
        &self,
        client_id: &str,
        target: &str,
        conversation_id: Option<i64>,
        body: &str,
        reply_to: Option<i64>,
    ) -> LocalResult<OutboxItem> {
        let now = now_ms();
        let (server, account) = self.owner_params();
        self.conn.execute(
            "INSERT INTO outbox (client_id, target, conversation_id, body, reply_to, created_at, \
             attempts, next_attempt_at, server, account) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, ?7, ?8) \
             ON CONFLICT (client_id) DO NOTHING",
            params![
                client_id,
                target,
                conversation_id,
                body,
                reply_to,
                now,
                server,
                account
            ],
        )?;
        self.outbox_get(client_id)?
            .ok_or(LocalError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The queued message with this `client_id`, if it is the owner's.
    pub fn outbox_get(&self, client_id: &str) -> LocalResult<Option<OutboxItem>> {
        let (server, account) = self.owner_params();
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE client_id = ?1 AND {OWNED}"),
                params![client_id, server, account],
                OutboxItem::from_row,
            )
            .optional()?)
    }

    /// Every message the owner queued, oldest first.
    pub fn outbox_list(&self) -> LocalResult<Vec<OutboxItem>> {
        self.outbox_due(i64::MAX)
    }

    /// The owner's queued messages whose retry time has come
    /// (`next_attempt_at <= now_ms`), oldest first, so a conversation's
    /// messages go out in order.
    pub fn outbox_due(&self, now_ms: i64) -> LocalResult<Vec<OutboxItem>> {
        let (server, account) = self.owner_params();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE next_attempt_at <= ?1 AND {OWNED} ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![now_ms, server, account], OutboxItem::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many queued messages belong to other servers or accounts (they
    /// wait for a command run against their own server).
    pub fn outbox_others(&self) -> LocalResult<u32> {
        let (server, account) = self.owner_params();
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE NOT (server IS ?1 AND account IS ?2)",
            params![server, account],
            |r| r.get(0),
        )?)
    }

    /// Records a failed attempt: increments `attempts`, keeps `error` (cut to
    /// 500 characters) and schedules the next try. Typically called with
    /// `now_ms() + backoff_ms(item.attempts + 1)`. Returns whether the row
    /// still existed.
    pub fn outbox_mark_failed(&self, id: i64, error: &str, next_attempt_at: i64) -> LocalResult<bool> {
        let error: String = error.chars().take(LAST_ERROR_MAX_CHARS).collect();
        let n = self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
             WHERE id = ?1",
            params![id, error, next_attempt_at],
        )?;
        Ok(n > 0)
    }

    /// Removes a message once the server acknowledged it (by `client_id`, as
    /// the acknowledgement carries it). Returns whether a row was removed.
    pub fn outbox_remove_by_client_id(&self, client_id: &str) -> LocalResult<bool> {
        let n = self
            .conn
            .execute("DELETE FROM outbox WHERE client_id = ?1", [client_id])?;
        Ok(n > 0)
    }

    /// Drops a queued message without sending it (`mchat outbox drop ID`).
    /// Returns whether a row was removed.
    pub fn outbox_drop(&self, id: i64) -> LocalResult<bool> {
        let (server, account) = self.owner_params();
        let n = self.conn.execute(
            &format!("DELETE FROM outbox WHERE id = ?1 AND {OWNED}"),
            params![id, server, account],
        )?;
        Ok(n > 0)
    }

    /// How many messages the owner has queued.
    pub fn outbox_len(&self) -> LocalResult<u32> {
        let (server, account) = self.owner_params();
        Ok(self.conn.query_row(
            &format!("SELECT COUNT(*) FROM outbox WHERE {OWNED}"),
            params![server, account],
            |r| r.get(0),
        )?)
    }

    // ----- event cursor -------------------------------------------------

    /// The last event sequence number processed, if any.
    pub fn cursor(&self) -> LocalResult<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT seq FROM event_cursor WHERE id = 0", [], |r| r.get(0))
            .optional()?)
    }

    /// Moves the cursor to `seq` if that is further than where it is (events
    /// may be processed out of order after a reconnect; the cursor never goes
    /// back). Returns whether it moved.
    pub fn set_cursor(&self, seq: i64) -> LocalResult<bool> {
        let n = self.conn.execute(
            "INSERT INTO event_cursor (id, seq) VALUES (0, ?1) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > event_cursor.seq",
            [seq],
        )?;
        Ok(n > 0)
    }

    /// Sets the cursor to `seq` even when that is lower: after a `resync`
    /// event the server's log no longer matches the stored cursor (pruned,
    /// or a server restored from an older backup), and the client continues
    /// from the `seq` the resync carries.
    pub fn reset_cursor(&self, seq: i64) -> LocalResult<()> {
        self.conn.execute(
            "INSERT INTO event_cursor (id, seq) VALUES (0, ?1) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
            [seq],
        )?;
        Ok(())
    }

    // ----- key/value ----------------------------------------------------

    /// A stored value.
    pub fn kv_get(&self, key: &str) -> LocalResult<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Stores (or replaces) a value.
    pub fn kv_set(&self, key: &str, value: &str) -> LocalResult<()> {
        self.conn.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Removes a value. Returns whether it existed.
    pub fn kv_remove(&self, key: &str) -> LocalResult<bool> {
        Ok(self.conn.execute("DELETE FROM kv WHERE key = ?1", [key])? > 0)
    }

    // ----- cache --------------------------------------------------------

    /// Replaces the cached conversation list (kept in the given order).
    pub fn cache_conversations(&self, conversations: &[Conversation]) -> LocalResult<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM cached_conversations", [])?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO cached_conversations (id, position, json) VALUES (?1, ?2, ?3)",
            )?;
            for (position, c) in conversations.iter().enumerate() {
                let position = i64::try_from(position).unwrap_or(i64::MAX);
                stmt.execute(params![c.id.0, position, serde_json::to_string(c)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The cached conversation list, in the order it was stored. Rows that
    /// no longer decode (written by another version) are skipped: the cache
    /// is refreshed from the server anyway.
    pub fn cached_conversations(&self) -> LocalResult<Vec<Conversation>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT json FROM cached_conversations ORDER BY position")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            if let Ok(c) = serde_json::from_str(&json?) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Stores messages of one conversation, replacing cached copies with the
    /// same id (edits, deletions, reactions), then trims the conversation to
    /// its newest [`CACHED_MESSAGES_PER_CONVERSATION`] messages. Messages that
    /// belong to another conversation are ignored.
    pub fn cache_messages(&self, conversation_id: i64, messages: &[Message]) -> LocalResult<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO cached_messages (conversation_id, id, json) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (conversation_id, id) DO UPDATE SET json = excluded.json",
            )?;
            for m in messages.iter().filter(|m| m.conversation_id.0 == conversation_id) {
                stmt.execute(params![conversation_id, m.id.0, serde_json::to_string(m)?])?;
            }
        }
        tx.execute(
            "DELETE FROM cached_messages WHERE conversation_id = ?1 AND id < ( \
                 SELECT id FROM cached_messages WHERE conversation_id = ?1 \
                 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![conversation_id, CACHED_MESSAGES_PER_CONVERSATION - 1],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` cached messages of a conversation with an id below
    /// `before` (all, when `None`): the newest such, returned oldest first,
    /// like a page of history from the server. Rows that no longer decode
    /// are skipped.
    pub fn cached_messages(
        &self,
        conversation_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> LocalResult<Vec<Message>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT json FROM cached_messages WHERE conversation_id = ?1 AND id < ?2 \
             ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![conversation_id, before.unwrap_or(i64::MAX), limit], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for json in rows {
            if let Ok(m) = serde_json::from_str(&json?) {
                out.push(m);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Empties the conversation and message cache (on logout or when the
    /// profile's server changes). The outbox, cursor and key/values stay.
    pub fn clear_cache(&self) -> LocalResult<()> {
        self.conn
            .execute_batch("DELETE FROM cached_conversations; DELETE FROM cached_messages;")?;
        Ok(())
    }
}

/// Creates `dir` and missing parents, private to the user on unix.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the database file if missing, readable only by the user on unix
/// (and tightens an existing file's mode). SQLite gives its `-wal` and `-shm`
/// side files the same mode as the database file.
///
/// An existing file is never opened here, only `chmod`ed by path: closing
/// any descriptor of a database file releases *all* of this process's POSIX
/// locks on it, including those of another connection that is already
/// open in the same process (`watch` has two: the cursor's and the
/// outbox's). Losing them made that connection's commits invisible to other
/// processes until it closed, and can corrupt the file ("How To Corrupt An
/// SQLite Database File", §2.2).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A new file: no connection can hold locks on it yet.
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(path).map(drop)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mchat_shared::Timestamp;
    use mchat_shared::api::{ConversationStatus, MessageKind, ReadMarker, Role, UserBrief};
    use mchat_shared::{ConversationId, MessageId};

    fn store() -> LocalStore {
        LocalStore::open_in_memory().unwrap()
    }

    fn message(conversation: i64, id: i64) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(conversation),
            sender: Some("ada".into()),
            kind: MessageKind::Text,
            body: format!("message {id}"),
            system: None,
            client_id: None,
            reply_to: None,
            created_at: Timestamp::from_second(1_700_000_000 + id).unwrap(),
            edited_at: None,
            deleted_at: None,
            reply: None,
            reactions: Vec::new(),
            attachment: None,
        }
    }

    fn conversation(id: i64, peer: &str) -> Conversation {
        let t = Timestamp::from_second(1_700_000_000).unwrap();
        Conversation {
            id: ConversationId(id),
            peer: UserBrief {
                username: peer.into(),
                display_name: peer.to_uppercase(),
                role: Role::Mentor,
                availability: None,
                last_seen: None,
            },
            status: ConversationStatus::Accepted,
            requested_by: "me".into(),
            created_at: t,
            last_activity_at: t,
            expires_at: None,
            last_message: Some(message(id, id * 10)),
            unread: 2,
            awaiting_reply: true,
            my_markers: ReadMarker {
                username: "me".into(),
                delivered_up_to: MessageId(1),
                read_up_to: MessageId(1),
            },
            peer_markers: ReadMarker {
                username: peer.into(),
                delivered_up_to: MessageId(0),
                read_up_to: MessageId(0),
            },
            muted: false,
            archived: false,
        }
    }

    #[test]
    fn outbox_add_list_and_idempotency() {
        let s = store();
        assert_eq!(s.outbox_len().unwrap(), 0);
        let a = s.outbox_add("c1", "ada", None, "hello", None).unwrap();
        assert_eq!(a.client_id, "c1");
        assert_eq!(a.target, "ada");
        assert_eq!(a.attempts, 0);
        assert_eq!(a.last_error, None);
        assert_eq!(a.next_attempt_at, a.created_at, "due at once");
        let b = s.outbox_add("c2", "42", Some(42), "second", Some(7)).unwrap();
        assert_eq!(b.conversation_id, Some(42));
        assert_eq!(b.reply_to, Some(7));
        // Same client_id again (even with another body): one row, the original.
        let again = s.outbox_add("c1", "ada", None, "different", None).unwrap();
        assert_eq!(again, a);
        assert_eq!(s.outbox_len().unwrap(), 2);
        let list = s.outbox_list().unwrap();
        assert_eq!(
            list.iter().map(|i| i.client_id.as_str()).collect::<Vec<_>>(),
            ["c1", "c2"]
        );
        assert_eq!(s.outbox_get("c2").unwrap(), Some(b));
        assert_eq!(s.outbox_get("nope").unwrap(), None);
    }

    #[test]
    fn outbox_due_and_failures() {
        let s = store();
        let a = s.outbox_add("c1", "ada", None, "one", None).unwrap();
        let b = s.outbox_add("c2", "ada", None, "two", None).unwrap();
        let now = now_ms();
        assert_eq!(s.outbox_due(now).unwrap().len(), 2);
        assert!(
            s.outbox_mark_failed(a.id, "server unreachable", now + 60_000)
                .unwrap()
        );
        let due = s.outbox_due(now).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id, b.id);
        let later = s.outbox_due(now + 60_000).unwrap();
        assert_eq!(
            later.iter().map(|i| i.id).collect::<Vec<_>>(),
            [a.id, b.id],
            "oldest first"
        );
        let failed = &later[0];
        assert_eq!(failed.attempts, 1);
        assert_eq!(failed.last_error.as_deref(), Some("server unreachable"));
        assert_eq!(failed.next_attempt_at, now + 60_000);
        assert!(s.outbox_mark_failed(a.id, &"x".repeat(2_000), now).unwrap());
        let row = s.outbox_get("c1").unwrap().unwrap();
        assert_eq!(row.attempts, 2);
        assert_eq!(row.last_error.unwrap().chars().count(), LAST_ERROR_MAX_CHARS);
        assert!(!s.outbox_mark_failed(999, "gone", now).unwrap());
    }

    #[test]
    fn outbox_rows_belong_to_one_server_and_account() {
        let mut s = store();
        let legacy = s
            .outbox_add("old", "ada", None, "queued by an old mchat", None)
            .unwrap();
        let owner = |server: &str, account: &str| OutboxOwner {
            server: server.into(),
            account: account.into(),
        };
        assert_eq!(s.outbox_adopt_unowned(&owner("http://a:1", "ana")).unwrap(), 1);
        s.set_outbox_owner(owner("http://a:1", "ana"));
        s.outbox_add("a1", "mona", None, "for a, as ana", None).unwrap();
        s.set_outbox_owner(owner("http://b:1", "ana"));
        s.outbox_add("b1", "mona", None, "for b, as ana", None).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 1);
        assert_eq!(s.outbox_others().unwrap(), 2);
        assert_eq!(
            s.outbox_get("a1").unwrap(),
            None,
            "another server's row is not visible"
        );
        assert!(!s.outbox_drop(legacy.id).unwrap(), "nor droppable");
        s.set_outbox_owner(owner("http://a:1", "ben"));
        assert!(
            s.outbox_list().unwrap().is_empty(),
            "another account's rows are not sent"
        );
        s.set_outbox_owner(owner("http://a:1", "ana"));
        assert_eq!(
            s.outbox_due(now_ms())
                .unwrap()
                .iter()
                .map(|i| i.client_id.as_str())
                .collect::<Vec<_>>(),
            ["old", "a1"]
        );
    }

    #[test]
    fn outbox_remove_and_drop() {
        let s = store();
        let a = s.outbox_add("c1", "ada", None, "one", None).unwrap();
        s.outbox_add("c2", "ada", None, "two", None).unwrap();
        assert!(s.outbox_remove_by_client_id("c2").unwrap());
        assert!(!s.outbox_remove_by_client_id("c2").unwrap());
        assert!(s.outbox_drop(a.id).unwrap());
        assert!(!s.outbox_drop(a.id).unwrap());
        assert_eq!(s.outbox_len().unwrap(), 0);
        // A removed client_id can be queued again (the server still dedupes it).
        s.outbox_add("c1", "ada", None, "one", None).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 1);
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        for _ in 0..200 {
            for (attempts, base) in [(0, 1_000), (1, 1_000), (2, 2_000), (3, 4_000), (9, 256_000)] {
                let d = backoff_ms(attempts);
                assert!((base * 3 / 4..=base).contains(&d), "attempts {attempts}: {d}");
            }
            for attempts in [10, 11, 30, 64, u32::MAX] {
                let d = backoff_ms(attempts);
                assert!(
                    (BACKOFF_CAP_MS * 3 / 4..=BACKOFF_CAP_MS).contains(&d),
                    "{attempts}: {d}"
                );
            }
        }
        let samples: std::collections::HashSet<i64> = (0..50).map(|_| backoff_ms(8)).collect();
        assert!(samples.len() > 5, "jitter varies: {samples:?}");
    }

    #[test]
    fn cursor_only_moves_forward() {
        let s = store();
        assert_eq!(s.cursor().unwrap(), None);
        assert!(s.set_cursor(10).unwrap());
        assert_eq!(s.cursor().unwrap(), Some(10));
        assert!(!s.set_cursor(5).unwrap());
        assert!(!s.set_cursor(10).unwrap());
        assert_eq!(s.cursor().unwrap(), Some(10));
        assert!(s.set_cursor(11).unwrap());
        assert_eq!(s.cursor().unwrap(), Some(11));
        // A resync may move it back, explicitly.
        s.reset_cursor(3).unwrap();
        assert_eq!(s.cursor().unwrap(), Some(3));
        assert!(s.set_cursor(4).unwrap());
        let fresh = store();
        fresh.reset_cursor(7).unwrap();
        assert_eq!(fresh.cursor().unwrap(), Some(7));
    }

    #[test]
    fn key_values() {
        let s = store();
        assert_eq!(s.kv_get("k").unwrap(), None);
        s.kv_set("k", "v1").unwrap();
        s.kv_set("k", "v2").unwrap();
        assert_eq!(s.kv_get("k").unwrap().as_deref(), Some("v2"));
        assert!(s.kv_remove("k").unwrap());
        assert!(!s.kv_remove("k").unwrap());
        assert_eq!(s.kv_get("k").unwrap(), None);
    }

    #[test]
    fn conversation_cache_replaces_all_and_keeps_order() {
        let s = store();
        s.cache_conversations(&[conversation(1, "ada"), conversation(2, "bob")])
            .unwrap();
        let got = s.cached_conversations().unwrap();
        assert_eq!(got, vec![conversation(1, "ada"), conversation(2, "bob")]);
        s.cache_conversations(&[conversation(3, "cy"), conversation(1, "ada")])
            .unwrap();
        let ids: Vec<i64> = s.cached_conversations().unwrap().iter().map(|c| c.id.0).collect();
        assert_eq!(ids, [3, 1]);
        s.cache_conversations(&[]).unwrap();
        assert!(s.cached_conversations().unwrap().is_empty());
    }

    #[test]
    fn undecodable_cache_rows_are_skipped() {
        let s = store();
        s.cache_conversations(&[conversation(1, "ada")]).unwrap();
        s.conn
            .execute(
                "INSERT INTO cached_conversations VALUES (9, 5, '{\"old\":true}')",
                [],
            )
            .unwrap();
        assert_eq!(s.cached_conversations().unwrap().len(), 1);
    }

    #[test]
    fn message_cache_pages_and_upserts() {
        let s = store();
        let msgs: Vec<Message> = (1..=10).map(|i| message(7, i)).collect();
        s.cache_messages(7, &msgs).unwrap();
        s.cache_messages(8, &[message(8, 100)]).unwrap();
        let ids = |v: Vec<Message>| v.iter().map(|m| m.id.0).collect::<Vec<_>>();
        assert_eq!(ids(s.cached_messages(7, None, 3).unwrap()), [8, 9, 10]);
        assert_eq!(ids(s.cached_messages(7, Some(8), 3).unwrap()), [5, 6, 7]);
        assert_eq!(ids(s.cached_messages(7, Some(3), 10).unwrap()), [1, 2]);
        assert_eq!(ids(s.cached_messages(7, None, 100).unwrap()).len(), 10);
        assert_eq!(ids(s.cached_messages(8, None, 100).unwrap()), [100]);
        assert!(s.cached_messages(9, None, 100).unwrap().is_empty());
        // Upsert: an edit replaces the cached copy.
        let mut edited = message(7, 5);
        edited.body = "edited".into();
        edited.edited_at = Some(Timestamp::from_second(1_800_000_000).unwrap());
        s.cache_messages(7, &[edited.clone()]).unwrap();
        let page = s.cached_messages(7, Some(6), 1).unwrap();
        assert_eq!(page, vec![edited]);
        assert_eq!(s.cached_messages(7, None, 100).unwrap().len(), 10);
        // A message of another conversation is not filed under this one.
        s.cache_messages(7, &[message(8, 200)]).unwrap();
        assert_eq!(ids(s.cached_messages(7, None, 100).unwrap()).len(), 10);
        s.clear_cache().unwrap();
        assert!(s.cached_messages(7, None, 100).unwrap().is_empty());
    }

    #[test]
    fn message_cache_is_capped_per_conversation() {
        let s = store();
        let cap = i64::from(CACHED_MESSAGES_PER_CONVERSATION);
        let msgs: Vec<Message> = (1..=cap + 150).map(|i| message(1, i)).collect();
        s.cache_messages(1, &msgs[..1_000]).unwrap();
        s.cache_messages(1, &msgs[1_000..]).unwrap();
        s.cache_messages(2, &[message(2, 1)]).unwrap();
        let all = s.cached_messages(1, None, u32::MAX).unwrap();
        assert_eq!(all.len() as i64, cap);
        assert_eq!(all.first().unwrap().id.0, 151, "the oldest were dropped");
        assert_eq!(all.last().unwrap().id.0, cap + 150);
        assert_eq!(
            s.cached_messages(2, None, 10).unwrap().len(),
            1,
            "other conversations untouched"
        );
    }

    #[test]
    fn on_disk_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles").join("default").join("local.sqlite3");
        let id;
        {
            let s = LocalStore::open(&path).unwrap();
            assert_eq!(s.path(), Some(path.as_path()));
            id = s
                .outbox_add("c1", "ada", None, "queued while offline", None)
                .unwrap()
                .id;
            s.outbox_mark_failed(id, "offline", 123).unwrap();
            s.set_cursor(42).unwrap();
            s.kv_set("server", "http://127.0.0.1:7878").unwrap();
            s.cache_conversations(&[conversation(1, "ada")]).unwrap();
            s.cache_messages(1, &[message(1, 1), message(1, 2)]).unwrap();
        }
        let s = LocalStore::open(&path).unwrap();
        let outbox = s.outbox_list().unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].id, id);
        assert_eq!(outbox[0].body, "queued while offline");
        assert_eq!(outbox[0].attempts, 1);
        assert_eq!(outbox[0].next_attempt_at, 123);
        assert_eq!(
            s.outbox_add("c1", "ada", None, "queued while offline", None)
                .unwrap()
                .id,
            id
        );
        assert_eq!(s.outbox_len().unwrap(), 1);
        assert_eq!(s.cursor().unwrap(), Some(42));
        assert!(!s.set_cursor(41).unwrap());
        assert_eq!(
            s.kv_get("server").unwrap().as_deref(),
            Some("http://127.0.0.1:7878")
        );
        assert_eq!(s.cached_conversations().unwrap(), vec![conversation(1, "ada")]);
        assert_eq!(s.cached_messages(1, None, 10).unwrap().len(), 2);
        let mode: String = s.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(
            migrations().current_version(&s.conn).unwrap(),
            rusqlite_migration::SchemaVersion::Inside(std::num::NonZeroUsize::new(2).unwrap())
        );
    }

    #[cfg(unix)]
    #[test]
    fn on_disk_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("new-dir");
        let path = parent.join("local.sqlite3");
        let s = LocalStore::open(&path).unwrap();
        s.outbox_add("c1", "ada", None, "secret", None).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&parent), 0o700);
        let wal = path.with_extension("sqlite3-wal");
        assert!(wal.exists());
        assert_eq!(mode(&wal), 0o600);
        drop(s);
        // An existing file with loose permissions is tightened on open.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _s = LocalStore::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn store_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<LocalStore>();
    }
}
