//! The event log's rules: replay from a cursor (or `resync`), where a
//! user's log stands, pruning by age, and the committed-event type the
//! real-time layer receives. Appending is `data::EventsWrite`; the SQL is
//! in each backend (`sqlite/events.rs`, `postgres/events.rs`).

use super::data::{Read, Sweep, Tx};
use super::rows::ts;
use super::{Store, StoreResult};
use mchat_shared::events::Event;
use mchat_shared::{Seq, TokenId, UserId};

/// Receives committed events, in commit order, on the writer thread right
/// after COMMIT. Implementations must not block (the real-time hub only
/// does `try_send`s).
pub trait EventSink: Send + Sync {
    fn publish(&self, events: Vec<UserEvent>);
    /// Whether `user`'s events would reach anyone through this sink (a live
    /// connection): PostgreSQL's fan-out reads only those.
    fn watches(&self, _user: UserId) -> bool {
        true
    }
    /// Committed events may have been missed (PostgreSQL's fan-out lost its
    /// connection): every live connection must resume from its cursor.
    fn missed(&self) {}
    /// `token` was revoked, on this node or another: what it holds open
    /// must close now.
    fn revoked(&self, _token: TokenId) {}
    /// An ephemeral signal (presence, typing) from this node or another,
    /// for the live connections of `users` here.
    fn signal(&self, _users: &[UserId], _frame: std::sync::Arc<str>) {}
}

/// A committed event and the user whose log it belongs to.
#[derive(Debug, Clone)]
pub struct UserEvent {
    pub user_id: UserId,
    pub event: Event,
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
fn latest_seq(r: &dyn Read, user: UserId) -> StoreResult<i64> {
    Ok(r.newest_user_seq(user)?.max(r.pruned_up_to()?))
}

/// The user's events after `since`, at most `limit`; `resync` for a cursor
/// older than the retention horizon or beyond the newest seq ever issued.
fn replay(r: &dyn Read, user: UserId, since: Seq, limit: u32) -> StoreResult<Replay> {
    let latest = Seq(latest_seq(r, user)?);
    let horizon = r.pruned_up_to()?;
    // The newest seq ever issued: the newest event, or the horizon when
    // pruning removed everything up to it.
    let issued = r.newest_seq()?.max(horizon);
    if since.0 < horizon || since.0 > issued || since.0 < 0 {
        return Ok(Replay {
            events: Vec::new(),
            resync: true,
            latest,
        });
    }
    let mut events = Vec::new();
    for (seq, at, payload) in r.events_after(user, since.0, limit)? {
        events.push(Event {
            seq: Seq(seq),
            at: ts(at),
            kind: serde_json::from_str(&payload)?,
        });
    }
    Ok(Replay {
        events,
        resync: false,
        latest,
    })
}

/// Deletes events older than `older_than_ms`, raising the horizon so older
/// cursors get a resync. Returns how many.
fn prune(tx: &mut dyn Tx, older_than_ms: i64) -> StoreResult<u64> {
    if !tx.sweep_turn(Sweep::EventPruning)? {
        return Ok(0);
    }
    let Some(top) = tx.newest_seq_before(older_than_ms)? else {
        return Ok(0);
    };
    let n = tx.delete_events_up_to(top)?;
    tx.raise_pruned_up_to(top)?;
    Ok(n)
}

impl Store {
    /// The user's events after `since`, at most `limit`. A cursor older than
    /// the retention horizon, or beyond the newest event of the whole log,
    /// yields `resync` instead. Only the user's own rows are ever read.
    pub async fn events_after(&self, user: UserId, since: Seq, limit: u32) -> StoreResult<Replay> {
        self.read_data(move |r| replay(r, user, since, limit)).await
    }

    /// Where the user's log stands now: their newest event, or the pruning
    /// horizon if later (0 for an empty log). A valid cursor: it never
    /// yields `resync`.
    pub async fn latest_seq(&self, user: UserId) -> StoreResult<Seq> {
        self.read_data(move |r| latest_seq(r, user).map(Seq)).await
    }

    /// Deletes events older than `older_than_ms` (unix ms); records the
    /// highest pruned seq so older cursors get a resync. Returns how many.
    pub async fn prune_events(&self, older_than_ms: i64) -> StoreResult<u64> {
        self.write_data(move |tx| prune(tx, older_than_ms)).await
    }
}

#[cfg(test)]
mod tests {
    //! Replay, `latest` and pruning on both backends: the same story
    //! through `Store` on SQLite and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::Store;
    use crate::store::both_backends::on_both;
    use mchat_shared::events::EventKind;
    use mchat_shared::{ConversationId, Seq, UserId};

    fn settings(c: i64) -> EventKind {
        EventKind::SettingsUpdated {
            conversation_id: ConversationId(c),
            muted: false,
            archived: c % 2 == 0,
        }
    }

    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        for (user, c) in [(me, 1), (other, 2), (me, 3), (me, 4)] {
            store
                .write_data(move |tx| tx.emit(user, settings(c)))
                .await
                .unwrap();
        }
        let replay = |since: i64| {
            let store = store.clone();
            async move {
                let r = store.events_after(me, Seq(since), 2).await.unwrap();
                let seqs: Vec<i64> = r.events.iter().map(|e| e.seq.0).collect();
                format!("after {since}: {seqs:?} resync {} latest {}", r.resync, r.latest)
            }
        };
        lines.push(replay(0).await);
        lines.push(replay(3).await);
        lines.push(replay(4).await);
        lines.push(replay(5).await);
        lines.push(replay(-1).await);
        lines.push(format!(
            "latest for the other: {}",
            store.latest_seq(other).await.unwrap()
        ));
        let pruned = store.prune_events(crate::store::now_ms() + 1).await.unwrap();
        lines.push(format!("pruned {pruned}"));
        lines.push(replay(0).await);
        lines.push(replay(4).await);
        lines.push(format!(
            "latest for the other: {}",
            store.latest_seq(other).await.unwrap()
        ));
        lines.push(format!("pruned again {}", store.prune_events(0).await.unwrap()));
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn replay_and_pruning_behave_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        assert_eq!(
            s,
            [
                "after 0: [1, 3] resync false latest 4",
                "after 3: [4] resync false latest 4",
                "after 4: [] resync false latest 4",
                "after 5: [] resync true latest 4",
                "after -1: [] resync true latest 4",
                "latest for the other: 2",
                "pruned 4",
                "after 0: [] resync true latest 4",
                "after 4: [] resync false latest 4",
                "latest for the other: 4",
                "pruned again 0",
            ]
        );
    }
}
