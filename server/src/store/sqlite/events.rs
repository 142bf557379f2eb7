//! The event log on SQLite. One writer commits in seq order, so an event
//! takes its seq (AUTOINCREMENT) the moment it is emitted and is published
//! to live connections after COMMIT.

use super::SqliteConn;
use crate::store::data::{EventsRead, EventsWrite, StoredEvent, carried_message};
use crate::store::events::UserEvent;
use crate::store::rows::ts;
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::Message;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::{Seq, UserId};
use rusqlite::{Connection, OptionalExtension, params};

impl WriteCtx<'_> {
    /// Appends `kind` to `user`'s event log in the current transaction; it is
    /// published to live connections after COMMIT.
    pub fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<Seq> {
        let payload = serde_json::to_string(&kind)?;
        let message = carried_message(&kind);
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO events (user_id, kind, payload, created_at, message_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(rusqlite::params![user.0, kind.name(), payload, self.now, message])?;
        let seq = Seq(self.conn.last_insert_rowid());
        self.events.push(UserEvent {
            user_id: user,
            event: Event {
                seq,
                at: ts(self.now),
                kind,
            },
        });
        Ok(seq)
    }

    /// Emits a clone of `kind` to each of `users`.
    pub fn emit_all(&mut self, users: &[UserId], kind: EventKind) -> StoreResult<()> {
        for &u in users {
            self.emit(u, kind.clone())?;
        }
        Ok(())
    }
}

/// Rewrites every stored copy of `message` in the log (the events that carry
/// it, found by `events.message_id`) to `message` as it is now, so a replay
/// serves the current text or the tombstone, never what was edited away or
/// deleted. Only the message inside the payload changes; the event's kind,
/// seq and time stay.
pub(crate) fn rewrite_message(conn: &Connection, message: &Message) -> StoreResult<()> {
    let json = serde_json::to_string(message)?;
    conn.prepare_cached(
        "UPDATE events SET payload = json_set(payload, '$.data.message', json(?2)) WHERE message_id = ?1",
    )?
    .execute(params![message.id.0, json])?;
    Ok(())
}

impl EventsWrite for WriteCtx<'_> {
    fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<()> {
        WriteCtx::emit(self, user, kind).map(|_| ())
    }

    fn newest_seq_before(&self, before_ms: i64) -> StoreResult<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT MAX(seq) FROM events WHERE created_at < ?1")?
            .query_row([before_ms], |r| r.get(0))?)
    }

    fn delete_events_up_to(&mut self, top: i64) -> StoreResult<u64> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM events WHERE seq <= ?1")?
            .execute([top])?;
        Ok(n as u64)
    }

    fn raise_pruned_up_to(&mut self, top: i64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', ?1) \
                 ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
            )?
            .execute([top])?;
        Ok(())
    }
}

impl<C: SqliteConn> EventsRead for C {
    fn events_after(&self, user: UserId, since: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT seq, created_at, payload FROM events WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?
            .query_map(params![user.0, since, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn newest_user_seq(&self, user: UserId) -> StoreResult<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = ?1")?
            .query_row([user.0], |r| r.get(0))?)
    }

    fn newest_seq(&self) -> StoreResult<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?)
    }

    fn pruned_up_to(&self) -> StoreResult<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
}
