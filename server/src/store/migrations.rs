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

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2)])
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
}
