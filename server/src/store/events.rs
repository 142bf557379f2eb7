//! Appending to the event log inside a write, and the committed-event type
//! the real-time layer receives.

use super::rows::ts;
use super::{StoreResult, WriteCtx};
use mchat_shared::events::{Event, EventKind};
use mchat_shared::{Seq, UserId};

/// A committed event and the user whose log it belongs to.
#[derive(Debug, Clone)]
pub struct UserEvent {
    pub user_id: UserId,
    pub event: Event,
}

impl WriteCtx<'_> {
    /// Appends `kind` to `user`'s event log in the current transaction; it is
    /// published to live connections after COMMIT.
    pub fn emit(&mut self, user: i64, kind: EventKind) -> StoreResult<Seq> {
        let payload = serde_json::to_string(&kind)?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO events (user_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        stmt.execute(rusqlite::params![user, kind.name(), payload, self.now])?;
        let seq = Seq(self.conn.last_insert_rowid());
        self.events.push(UserEvent {
            user_id: UserId(user),
            event: Event {
                seq,
                at: ts(self.now),
                kind,
            },
        });
        Ok(seq)
    }

    /// Emits a clone of `kind` to each of `users`.
    pub fn emit_all(&mut self, users: &[i64], kind: EventKind) -> StoreResult<()> {
        for &u in users {
            self.emit(u, kind.clone())?;
        }
        Ok(())
    }
}
