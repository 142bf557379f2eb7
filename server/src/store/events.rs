//! Appending to the event log inside a write, rewriting the stored copies of
//! an edited or deleted message, and the committed-event type the real-time
//! layer receives.

use super::rows::ts;
use super::{Store, StoreResult, WriteCtx};
use mchat_shared::api::Message;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::{Seq, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// Receives committed events, in commit order, on the writer thread right
/// after COMMIT. Implementations must not block (the real-time hub only
/// does `try_send`s).
pub trait EventSink: Send + Sync {
    fn publish(&self, events: Vec<UserEvent>);
}

/// A committed event and the user whose log it belongs to.
#[derive(Debug, Clone)]
pub struct UserEvent {
    pub user_id: UserId,
    pub event: Event,
}

impl WriteCtx<'_> {
    /// Appends `kind` to `user`'s event log in the current transaction; it is
    /// published to live connections after COMMIT.
    pub fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<Seq> {
        let payload = serde_json::to_string(&kind)?;
        let message = match &kind {
            EventKind::MessageNew { message } | EventKind::MessageUpdated { message } => Some(message.id.0),
            _ => None,
        };
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
pub(super) fn rewrite_message(conn: &Connection, message: &Message) -> StoreResult<()> {
    let json = serde_json::to_string(message)?;
    conn.prepare_cached(
        "UPDATE events SET payload = json_set(payload, '$.data.message', json(?2)) WHERE message_id = ?1",
    )?
    .execute(params![message.id.0, json])?;
    Ok(())
}

/// Where retention pruned up to: cursors below it cannot be replayed.
fn horizon(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'events_pruned_up_to'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// What a replay from a cursor looks like.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Events after the cursor, oldest first (at most the page size).
    pub events: Vec<Event>,
    /// The cursor cannot be served (older than retention, or from the
    /// future): the client must refetch state and continue from `latest`.
    pub resync: bool,
    /// Where the user's log stands (see [`Store::latest_seq`]).
    pub latest: Seq,
}

/// Where the user's log stands now: their newest event, or the pruning
/// horizon if that is later (their older events may be gone, and a cursor
/// below the horizon could only ever get `resync`).
fn latest_seq(conn: &Connection, user: UserId) -> StoreResult<i64> {
    let own: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    Ok(own.max(horizon(conn)?))
}

/// The newest seq ever issued: the newest event, or the pruning horizon
/// when pruning removed everything up to it.
fn global_seq(conn: &Connection) -> StoreResult<i64> {
    let top: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    Ok(top.max(horizon(conn)?))
}

impl Store {
    /// The user's events after `since`, at most `limit`. A cursor older than
    /// the retention horizon, or beyond the newest event of the whole log,
    /// yields `resync` instead. Only the user's own rows are ever read.
    pub async fn events_after(&self, user: UserId, since: Seq, limit: u32) -> StoreResult<Replay> {
        self.read(move |conn| {
            let latest = latest_seq(conn, user)?;
            if since.0 < horizon(conn)? || since.0 > global_seq(conn)? || since.0 < 0 {
                return Ok(Replay {
                    events: Vec::new(),
                    resync: true,
                    latest: Seq(latest),
                });
            }
            let mut stmt = conn.prepare_cached(
                "SELECT seq, created_at, payload FROM events WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![user.0, since.0, limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut events = Vec::with_capacity(rows.len());
            for (seq, at, payload) in rows {
                events.push(Event {
                    seq: Seq(seq),
                    at: ts(at),
                    kind: serde_json::from_str(&payload)?,
                });
            }
            Ok(Replay {
                events,
                resync: false,
                latest: Seq(latest),
            })
        })
        .await
    }

    /// Where the user's log stands now: their newest event, or the pruning
    /// horizon if later (0 for an empty log). A valid cursor: it never
    /// yields `resync`.
    pub async fn latest_seq(&self, user: UserId) -> StoreResult<Seq> {
        self.read(move |conn| latest_seq(conn, user).map(Seq)).await
    }

    /// Deletes events older than `older_than_ms` (unix ms); records the
    /// highest pruned seq so older cursors get a resync. Returns how many.
    pub async fn prune_events(&self, older_than_ms: i64) -> StoreResult<u64> {
        self.write(move |ctx| {
            let top: Option<i64> = ctx
                .conn
                .prepare_cached("SELECT MAX(seq) FROM events WHERE created_at < ?1")?
                .query_row([older_than_ms], |r| r.get(0))?;
            let Some(top) = top else { return Ok(0) };
            let n = ctx.conn.execute("DELETE FROM events WHERE seq <= ?1", [top])?;
            ctx.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', ?1) \
                 ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                [top],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
