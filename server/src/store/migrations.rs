//! Versioned schema migrations (rusqlite_migration, tracked in `user_version`),
//! applied at start. Append new migrations; never edit a released one.

use super::StoreResult;
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

const V1: &str = r#"
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('mentor', 'mentee', 'admin')),
    password_hash   TEXT NOT NULL,
    availability    TEXT NOT NULL DEFAULT 'available' CHECK (availability IN ('available', 'away', 'busy')),
    mentor_approved INTEGER NOT NULL DEFAULT 0,
    headline        TEXT,
    experience      TEXT,
    level           TEXT,
    bio             TEXT,
    expertise       TEXT NOT NULL DEFAULT '[]',  -- JSON array of tags
    interests       TEXT NOT NULL DEFAULT '[]',  -- JSON array of tags
    created_at      INTEGER NOT NULL,
    last_seen       INTEGER
);
CREATE INDEX users_role ON users(role, mentor_approved);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         BLOB NOT NULL UNIQUE,          -- SHA-256 of the secret
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE invites (
    hash       BLOB PRIMARY KEY,               -- SHA-256 of the code
    uses_left  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id                   INTEGER PRIMARY KEY,
    kind                 TEXT NOT NULL DEFAULT 'direct' CHECK (kind IN ('direct', 'group')),
    direct_key           TEXT UNIQUE,          -- 'lo:hi' user ids: one direct conversation per pair
    status               TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'completed', 'expired')),
    requested_by         INTEGER NOT NULL REFERENCES users(id),
    created_at           INTEGER NOT NULL,
    status_changed_at    INTEGER NOT NULL,
    last_activity_at     INTEGER NOT NULL,
    last_message_id      INTEGER,
    last_text_message_id INTEGER,
    expires_at           INTEGER              -- set while pending
);
CREATE INDEX conversations_pending ON conversations(expires_at) WHERE status = 'pending';

CREATE TABLE participants (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at       INTEGER NOT NULL,
    delivered_up_to INTEGER NOT NULL DEFAULT 0,
    read_up_to      INTEGER NOT NULL DEFAULT 0,
    muted           INTEGER NOT NULL DEFAULT 0,
    archived        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_user ON participants(user_id, conversation_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    sender_id       INTEGER REFERENCES users(id),
    client_id       TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'system', 'file')),
    system_action   TEXT,
    body            TEXT NOT NULL,
    reply_to        INTEGER REFERENCES messages(id),
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted_at      INTEGER
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    actor_id        INTEGER REFERENCES users(id),
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id) WHERE read_at IS NULL;

-- One row per affected user per change, written in the change's transaction.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_user ON events(user_id, seq);
"#;

/// Real time: where event retention has pruned up to (clients with an
/// older cursor must resync).
const V2: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_created ON events(created_at);
"#;

/// Rich messaging: edit history, reactions, attachments, templates,
/// scheduled messages and reminders.
const V3: &str = r#"
-- Every earlier text of an edited message (the current one is in messages.body).
CREATE TABLE message_edits (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    replaced_at INTEGER NOT NULL
);
CREATE INDEX message_edits_message ON message_edits(message_id, id);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

-- Uploaded files; bytes live once per sha256 under <data dir>/files/.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    uploader_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_uploader ON files(uploader_id, id);
ALTER TABLE messages ADD COLUMN file_id INTEGER REFERENCES files(id);
CREATE INDEX messages_file ON messages(file_id) WHERE file_id IS NOT NULL;

CREATE TABLE templates (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

CREATE TABLE scheduled (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'reminder')),
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    body            TEXT NOT NULL,
    due_at          INTEGER NOT NULL,
    client_id       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    message_id      INTEGER REFERENCES messages(id),
    error           TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX scheduled_due ON scheduled(due_at) WHERE status = 'pending';
CREATE INDEX scheduled_user ON scheduled(user_id, due_at);
CREATE UNIQUE INDEX scheduled_client_id ON scheduled(user_id, client_id);
"#;

/// Full-text search (FTS5) over message bodies. Owned by the search work:
/// the virtual table, the triggers that keep it in step with inserts, edits
/// and deletions, and the backfill of existing rows.
///
/// - External content, not a copy of every body: the text lives once, in
///   `messages`. The content is a view of exactly the searchable rows (text
///   and file messages with a body, not deleted; never system messages), so
///   `highlight()` can read bodies back and a `'rebuild'` (the backfill below,
///   the bulk seeder) indexes the same rows the triggers would. A contentless
///   table would be smaller but cannot highlight.
/// - Two columns: `body`, and `conv`, the conversation id as a token. Search
///   ANDs the user's words with `conv : ("12" OR "34" ...)` (the caller's
///   conversations), so a common word costs a merge of doclists rather than a
///   scan of every match in the whole database.
/// - `unicode61 remove_diacritics 2`: word search (cafe finds café); `prefix`
///   indexes keep the last word's prefix query (`"lif"*`) cheap.
/// - The triggers use the old values for FTS5's `'delete'` (external content
///   must be told what was indexed); an update deletes then re-inserts in one
///   trigger, so the order is fixed.
const V4: &str = r#"
CREATE VIEW messages_fts_src AS
    SELECT id, body, conversation_id AS conv FROM messages
    WHERE kind IN ('text', 'file') AND deleted_at IS NULL AND body != '';

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, conv,
    content = 'messages_fts_src', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.kind IN ('text', 'file') AND new.deleted_at IS NULL AND new.body != ''
BEGIN
    INSERT INTO messages_fts (rowid, body, conv) VALUES (new.id, new.body, new.conversation_id);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.kind IN ('text', 'file') AND old.deleted_at IS NULL AND old.body != ''
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, conv)
        VALUES ('delete', old.id, old.body, old.conversation_id);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted_at, kind, conversation_id ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, conv)
        SELECT 'delete', old.id, old.body, old.conversation_id
        WHERE old.kind IN ('text', 'file') AND old.deleted_at IS NULL AND old.body != '';
    INSERT INTO messages_fts (rowid, body, conv)
        SELECT new.id, new.body, new.conversation_id
        WHERE new.kind IN ('text', 'file') AND new.deleted_at IS NULL AND new.body != '';
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
-- Merge segments less eagerly: each group commit writes a small segment,
-- and the default (4) spends the writer's time merging them (measured:
-- 20-30% of the per-message FTS cost).
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
"#;

/// Privacy: what is deleted stays deleted (and replay shows current text).
///
/// - `events.message_id`: the message an event carries (`message_new`,
///   `message_updated`), so an edit or a deletion can rewrite every stored
///   copy of that message in the log to its current state, in the same
///   transaction. Backfilled from the payloads.
/// - `messages_reply_to`: the replies quoting a message, whose stored quotes
///   must follow it too.
/// - FTS5 `secure-delete`: a deleted or edited row's words leave the index
///   at once instead of lingering in older segments until a merge (deletes
///   and updates cost a little more; inserts, the hot path, do not).
/// - The rows deleted before this release lose their text, their edit
///   history, their reactions and their files, and the log's copies of deleted or edited
///   messages (and of quotes of them) are brought to the current text. The
///   full current state is written by the server from then on; this
///   backfill removes the text, which is what matters.
const PRIVACY_EVENTS_BY_MESSAGE: &str = r#"
ALTER TABLE events ADD COLUMN message_id INTEGER;
UPDATE events SET message_id = json_extract(payload, '$.data.message.id')
    WHERE kind IN ('message_new', 'message_updated');
CREATE INDEX events_message ON events(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);

UPDATE messages SET body = '' WHERE deleted_at IS NOT NULL AND body != '';
DELETE FROM message_edits WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL);
DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL);
-- Their files: detached, and gone when no live message carries them (the
-- blobs no row names are then removed at start, see files.rs).
CREATE TEMP TABLE deleted_files AS
    SELECT DISTINCT file_id AS id FROM messages WHERE deleted_at IS NOT NULL AND file_id IS NOT NULL;
UPDATE messages SET file_id = NULL WHERE deleted_at IS NOT NULL AND file_id IS NOT NULL;
DELETE FROM files WHERE id IN (SELECT id FROM temp.deleted_files)
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = files.id);
DROP TABLE temp.deleted_files;

UPDATE events SET payload = json_set(payload, '$.data.message.body',
        (SELECT m.body FROM messages m WHERE m.id = events.message_id))
    WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL OR edited_at IS NOT NULL);
UPDATE events SET payload = json_remove(payload, '$.data.message.attachment', '$.data.message.reactions')
    WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL);
UPDATE events SET payload = json_set(payload,
        '$.data.message.reply.excerpt',
        (SELECT substr(p.body, 1, 200) FROM messages p
         WHERE p.id = json_extract(events.payload, '$.data.message.reply.id')),
        '$.data.message.reply.deleted',
        (SELECT json(CASE WHEN p.deleted_at IS NULL THEN 'false' ELSE 'true' END) FROM messages p
         WHERE p.id = json_extract(events.payload, '$.data.message.reply.id')))
    WHERE message_id IN (SELECT m.id FROM messages m JOIN messages p ON p.id = m.reply_to
                         WHERE p.deleted_at IS NOT NULL OR p.edited_at IS NOT NULL);
"#;

/// Impersonation (issue 12): the look-alike key of each username and display
/// name (`mchat_shared::confusable::name_key`), so a new name is checked
/// against everyone with two index lookups. SQL cannot compute the key: the
/// rows are filled by `name_keys::backfill` right after migrations run, which
/// also fills any key a later migration resets to NULL.
const USER_NAME_KEYS: &str = r#"
ALTER TABLE users ADD COLUMN username_key TEXT;
ALTER TABLE users ADD COLUMN display_key TEXT;
CREATE INDEX users_username_key ON users(username_key);
CREATE INDEX users_display_key ON users(display_key);
"#;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(PRIVACY_EVENTS_BY_MESSAGE),
        M::up(USER_NAME_KEYS),
    ])
}

pub fn apply(conn: &mut Connection) -> StoreResult<()> {
    migrations().to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    /// A database an older build left: a deleted row with its text and
    /// history, and a log with every version. The backfill leaves only the
    /// current texts (and the history of a message that still exists).
    #[test]
    fn the_backfill_removes_what_older_builds_kept() {
        use rusqlite_migration::{M, Migrations};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let old = Migrations::new(vec![
            M::up(super::V1),
            M::up(super::V2),
            M::up(super::V3),
            M::up(super::V4),
        ]);
        old.to_latest(&mut conn).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                VALUES (1, 'ana', 'Ana', 'mentee', 'x', 0), (2, 'mona', 'Mona', 'mentor', 'x', 0);
            INSERT INTO conversations (id, status, requested_by, created_at, status_changed_at, last_activity_at)
                VALUES (1, 'accepted', 1, 0, 0, 0);
            INSERT INTO messages (id, conversation_id, sender_id, kind, body, created_at, deleted_at)
                VALUES (1, 1, 1, 'text', 'gone xylophonic', 0, 5);
            INSERT INTO messages (id, conversation_id, sender_id, kind, body, reply_to, created_at)
                VALUES (2, 1, 2, 'text', 'quoting it', 1, 1);
            INSERT INTO messages (id, conversation_id, sender_id, kind, body, created_at, edited_at)
                VALUES (3, 1, 1, 'text', 'final text', 2, 6);
            INSERT INTO message_edits (message_id, body, replaced_at)
                VALUES (1, 'older xylophonic', 4), (3, 'draft marmaladeous', 6);
            INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (1, 2, '👍', 3);
            INSERT INTO files (id, uploader_id, sha256, name, size, content_type, created_at)
                VALUES (1, 1, 'aa', 'gone.txt', 1, 'text/plain', 0), (2, 1, 'bb', 'kept.txt', 1, 'text/plain', 0),
                       (3, 1, 'cc', 'unsent.txt', 1, 'text/plain', 0);
            UPDATE messages SET file_id = 1 WHERE id = 1;
            UPDATE messages SET file_id = 2 WHERE id = 3;
            INSERT INTO events (user_id, kind, payload, created_at) VALUES
                (2, 'message_new', '{"type":"message_new","data":{"message":{"id":1,"body":"gone xylophonic","reactions":[{"emoji":"👍"}]}}}', 0),
                (2, 'message_new', '{"type":"message_new","data":{"message":{"id":2,"body":"quoting it","reply":{"id":1,"excerpt":"gone xylophonic","deleted":false}}}}', 1),
                (2, 'message_new', '{"type":"message_new","data":{"message":{"id":3,"body":"draft marmaladeous"}}}', 2),
                (2, 'notification_new', '{"type":"notification_new","data":{"notification":{"id":1}}}', 3);
            "#,
        )
        .unwrap();
        conn.execute_batch(super::PRIVACY_EVENTS_BY_MESSAGE).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT COUNT(*) FROM events WHERE payload LIKE '%xylophonic%'"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM events WHERE payload LIKE '%marmaladeous%'"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM events WHERE payload LIKE '%reactions%'"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM messages WHERE body LIKE '%xylophonic%'"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM message_edits WHERE message_id = 1"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM message_edits WHERE message_id = 3"),
            1
        );
        assert_eq!(count("SELECT COUNT(*) FROM reactions"), 0);
        let files: String = conn
            .query_row(
                "SELECT group_concat(name, ' ') FROM (SELECT name FROM files ORDER BY id)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            files, "kept.txt unsent.txt",
            "a deleted message's file goes; others stay"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM messages WHERE file_id IS NOT NULL"),
            1
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM events WHERE message_id IS NOT NULL"),
            3
        );
        assert_eq!(
            count(
                "SELECT json_extract(payload, '$.data.message.reply.deleted') FROM events WHERE message_id = 2"
            ),
            1
        );
        let body: String = conn
            .query_row(
                "SELECT json_extract(payload, '$.data.message.body') FROM events WHERE message_id = 3",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(body, "final text");
    }

    /// The backfill cuts quotes as `hydrate` does.
    #[test]
    fn backfill_quotes_are_as_long_as_live_ones() {
        let cut = format!("substr(p.body, 1, {})", mchat_shared::limits::QUOTE_MAX_CHARS);
        assert!(super::PRIVACY_EVENTS_BY_MESSAGE.contains(&cut));
    }
}
