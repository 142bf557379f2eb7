//! The event log on PostgreSQL. A sequence hands seqs out in one order and
//! transactions commit in another, so a reader could see seq 11 committed
//! while 10 is still in flight, move its cursor past 10 and lose it. So an
//! event takes no seq when it is emitted: the transaction's events are
//! appended at its end, after locking the affected users' `event_heads`
//! rows in user-id order (no two appends can deadlock). Two transactions
//! with events for the same user take turns on that row until COMMIT, so
//! each user's events become visible in seq order; every cursor is per user
//! (replay and live push both read one user's log), so none skips a late
//! commit. Appends for different users do not wait for each other.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{EventsRead, EventsWrite, StoredEvent, carried_message};
use mchat_shared::UserId;
use mchat_shared::events::EventKind;

impl EventsWrite for PgTx<'_> {
    fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<()> {
        self.events.push((user, kind));
        Ok(())
    }

    fn newest_seq_before(&self, before_ms: i64) -> StoreResult<Option<i64>> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT MAX(seq) FROM events WHERE created_at < $1", &[&before_ms]),
        )?;
        Ok(row.try_get(0)?)
    }

    fn delete_events_up_to(&mut self, top: i64) -> StoreResult<u64> {
        self.wait(self.tx().execute("DELETE FROM events WHERE seq <= $1", &[&top]))
    }

    fn raise_pruned_up_to(&mut self, top: i64) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO meta (key, value) VALUES ('events_pruned_up_to', $1) \
             ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)",
            &[&top],
        ))?;
        Ok(())
    }
}

impl EventsRead for PgTx<'_> {
    fn events_after(&self, user: UserId, since: i64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let rows = self.wait(self.tx().query(
            "SELECT seq, created_at, payload FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&user.0, &since, &i64::from(limit)],
        ))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    fn newest_user_seq(&self, user: UserId) -> StoreResult<i64> {
        let row = self.wait(self.tx().query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_id = $1",
            &[&user.0],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn newest_seq(&self) -> StoreResult<i64> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[]),
        )?;
        Ok(row.try_get(0)?)
    }

    fn pruned_up_to(&self) -> StoreResult<i64> {
        let row = self.wait(
            self.tx()
                .query_opt("SELECT value FROM meta WHERE key = 'events_pruned_up_to'", &[]),
        )?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }
}

/// Makes the heads rows of users who have none yet (a user's first event).
const HEADS_SQL: &str =
    "INSERT INTO event_heads (user_id) SELECT * FROM unnest($1::BIGINT[]) ORDER BY 1 ON CONFLICT DO NOTHING";

/// Locks the heads in user-id order, then takes the events' seqs and
/// moves the heads, in one statement. An event's row is only made from a
/// locked head's row (the join), so every seq of a user is taken under
/// that user's lock; `nextval` is volatile, so PostgreSQL takes it after
/// the sort, in emission order. Returns each user's lowest new seq, where
/// the live fan-out reads from.
const APPEND_SQL: &str = "WITH batch AS ( \
         SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[]) WITH ORDINALITY \
             AS b(user_id, kind, payload, message_id, ord) \
     ), locked AS ( \
         SELECT user_id FROM event_heads WHERE user_id = ANY($6::BIGINT[]) ORDER BY user_id FOR UPDATE \
     ), appended AS ( \
         INSERT INTO events (user_id, kind, payload, created_at, message_id) \
         SELECT b.user_id, b.kind, b.payload, $5, b.message_id \
         FROM batch b JOIN locked l ON l.user_id = b.user_id ORDER BY b.ord \
         RETURNING user_id, seq \
     ), tops AS ( \
         SELECT user_id, MAX(seq) AS top, MIN(seq) AS low FROM appended GROUP BY user_id \
     ), moved AS ( \
         UPDATE event_heads h SET last_seq = t.top FROM tops t WHERE h.user_id = t.user_id \
     ) \
     SELECT user_id, low FROM tops ORDER BY user_id";

/// Appends the transaction's events (see the module's documentation); runs
/// just before COMMIT. Two statements in one round trip (the heads, then
/// the events); the notification goes with the COMMIT.
pub(super) fn append(ptx: &mut PgTx<'_>) -> StoreResult<()> {
    if ptx.events.is_empty() {
        return Ok(());
    }
    let events = std::mem::take(&mut ptx.events);
    let mut users: Vec<i64> = events.iter().map(|(u, _)| u.0).collect();
    users.sort_unstable();
    users.dedup();
    let mut owners = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    let mut messages: Vec<Option<i64>> = Vec::with_capacity(events.len());
    for (user, kind) in &events {
        owners.push(user.0);
        kinds.push(kind.name());
        payloads.push(serde_json::to_string(kind)?);
        messages.push(carried_message(kind));
    }
    let tx = ptx.tx();
    // try_join polls in order: the heads' insert is queued first.
    let (_, rows) = ptx.wait(futures_util::future::try_join(
        tx.execute(HEADS_SQL, &[&users]),
        tx.query(
            APPEND_SQL,
            &[&owners, &kinds, &payloads, &messages, &ptx.now, &users],
        ),
    ))?;
    let mut noted = Vec::with_capacity(rows.len());
    let mut lows = Vec::with_capacity(rows.len());
    for row in &rows {
        noted.push(row.try_get::<_, i64>(0)?);
        lows.push(row.try_get::<_, i64>(1)?);
    }
    // Delivered to every node's listener at COMMIT, in commit order
    // (fanout.rs); sent with the COMMIT.
    for payload in super::fanout::payloads(&noted, &lows) {
        ptx.defer(
            "SELECT pg_notify($1, $2)",
            vec![Box::new(super::fanout::CHANNEL), Box::new(payload)],
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The forced interleaving: the first transaction to take a seq for a
    //! user commits last. Its event's insert sleeps (a trigger this test
    //! adds to its own database), so it holds its seq uncommitted while a
    //! second transaction for the same user, and one for another user, run.
    //! A third connection watches the user's log the whole time: every
    //! snapshot must be a prefix of the final log.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use mchat_shared::events::EventKind;
    use mchat_shared::{ConversationId, UserId};
    use std::time::Duration;

    fn settings(marker: i64) -> EventKind {
        EventKind::SettingsUpdated {
            conversation_id: ConversationId(marker),
            muted: true,
            archived: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn a_cursor_never_skips_a_late_commit() {
        let (_db, store, watch) = crate::store::both_backends::on_postgres().await;
        watch
            .batch_execute(
                "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                     VALUES (1, 'mona', 'mona', 'mentor', 'x', 0), (2, 'ana', 'ana', 'mentee', 'x', 0);
                 CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.payload LIKE '%\"conversation_id\":111%' THEN PERFORM pg_sleep(1.5); END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER slow_commit AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION slow_commit();",
            )
            .await
            .unwrap();
        let (mona, ana) = (UserId(1), UserId(2));
        // Both users already have a log (their `event_heads` rows exist), as
        // every user soon does: what keeps the order then is the row lock.
        for user in [mona, ana] {
            store
                .write_data(move |tx| tx.emit(user, settings(1)))
                .await
                .unwrap();
        }

        let first = tokio::spawn({
            let store = store.clone();
            async move { store.write_data(move |tx| tx.emit(mona, settings(111))).await }
        });
        // The first has taken its seq and sleeps before COMMIT: now the
        // second for the same user, and one for another user.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = tokio::spawn({
            let store = store.clone();
            async move { store.write_data(move |tx| tx.emit(mona, settings(222))).await }
        });
        let other = tokio::spawn({
            let store = store.clone();
            async move { store.write_data(move |tx| tx.emit(ana, settings(333))).await }
        });

        let log = |user: i64| {
            let watch = &watch;
            async move {
                watch
                    .query(
                        "SELECT seq, payload FROM events WHERE user_id = $1 ORDER BY seq",
                        &[&user],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>()
            }
        };
        let mut snapshots = Vec::new();
        let mut other_done_early = false;
        while !first.is_finished() || !second.is_finished() {
            snapshots.push(log(1).await);
            if other.is_finished() && !first.is_finished() {
                other_done_early = true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        other.await.unwrap().unwrap();
        let last = log(1).await;

        assert_eq!(last.len(), 3, "{last:?}");
        assert!(
            last[1].1.contains("111") && last[2].1.contains("222"),
            "emission order is seq order: {last:?}"
        );
        for seen in &snapshots {
            assert!(
                last.starts_with(seen),
                "a reader saw {seen:?}, not a prefix of {last:?}"
            );
        }
        assert!(
            snapshots.iter().any(|s| s.len() == 1),
            "the watcher looked while the first was still in flight"
        );
        assert!(other_done_early, "another user's append does not wait for mona's");
        assert_eq!(log(2).await.len(), 2);
        let head: i64 = watch
            .query_one("SELECT last_seq FROM event_heads WHERE user_id = 1", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(head, last[2].0, "mona's head is her newest seq");
    }
}
