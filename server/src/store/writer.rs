//! The single writer thread, with group commit.
//!
//! Write requests queue on a channel. The thread takes everything queued (up
//! to `max_batch`), opens one `BEGIN IMMEDIATE` transaction, runs each request
//! inside its own SAVEPOINT (a failing request rolls back only itself), and
//! commits once. Callers are answered only after COMMIT returns, so an
//! acknowledged write is durable under the configured `synchronous` level;
//! committed events are then published to the real-time layer. Under load
//! this turns N fsyncs into one, which is what makes thousands of sends per
//! second possible with `synchronous = FULL`.
//!
//! Another process may write to the same database (`mchatd admin announce`
//! does). The writer tracks the newest event seq it has seen; at the start of
//! every batch, and every [`FOREIGN_POLL`] when idle, it publishes events
//! with a higher seq that it did not write itself, so live connections get
//! them in log order, as if this process had written them.
//!
//! The queue is bounded (`[storage] write_queue`): a burst beyond what the
//! writer can commit is refused at once with [`StoreError::Busy`] (503 with
//! Retry-After) instead of growing memory and latency without bound. A
//! refused job never ran, so nothing is half-written.

use super::events::{EventSink, UserEvent};
use super::rows::ts;
use super::{StoreError, StoreResult, now_ms};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use mchat_shared::events::Event;
use mchat_shared::{Seq, UserId};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often an idle writer looks for events written by another process.
const FOREIGN_POLL: Duration = Duration::from_secs(1);

/// What a write request sees: the connection inside the open transaction, the
/// batch's timestamp, and the event buffer.
pub struct WriteCtx<'c> {
    pub conn: &'c Connection,
    /// Milliseconds since the epoch, fixed for the request.
    pub now: i64,
    pub(super) events: &'c mut Vec<UserEvent>,
}

/// Sends the job's result once the transaction's fate is known.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&mut WriteCtx<'c>) -> (bool, Completion) + Send>;

enum Msg {
    Job(Job),
    Shutdown(oneshot::Sender<()>),
}

pub struct Writer {
    tx: Sender<Msg>,
}

impl Writer {
    /// Starts the writer thread; at most `queue` requests wait for it (0: no bound).
    pub fn start(
        conn: Connection,
        max_batch: usize,
        queue: usize,
        sink: Option<Arc<dyn EventSink>>,
    ) -> StoreResult<Writer> {
        // 0: unbounded, only to show what bounding prevents (bench `burst`).
        let (tx, rx) = match queue {
            0 => crossbeam_channel::unbounded(),
            n => crossbeam_channel::bounded(n),
        };
        std::thread::Builder::new()
            .name("mchatd-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1), sink))
            .map_err(|e| StoreError::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(Writer { tx })
    }

    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (otx, orx) = oneshot::channel();
        let job: Job = Box::new(move |ctx: &mut WriteCtx<'_>| {
            let result = match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
                Ok(r) => r,
                Err(_) => Err(StoreError::Internal("a write request panicked".into())),
            };
            let failed = result.is_err();
            let done: Completion = Box::new(move |commit: Result<(), StoreError>| {
                let _ = otx.send(commit.and(result));
            });
            (failed, done)
        });
        match self.tx.try_send(Msg::Job(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("mchatd_store_queue_rejected_total", "queue" => "write").increment(1);
                return Err(StoreError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
        }
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Processes everything queued before this call, checkpoints, and stops.
    pub async fn shutdown(&self) {
        let (otx, orx) = oneshot::channel();
        // Shutdown must not be refused like a request: wait for room, on a
        // blocking thread so the runtime never blocks.
        let tx = self.tx.clone();
        let queued = tokio::task::spawn_blocking(move || tx.send(Msg::Shutdown(otx)).is_ok()).await;
        if matches!(queued, Ok(true)) {
            let _ = orx.await;
        }
    }
}

fn run(conn: Connection, rx: Receiver<Msg>, max_batch: usize, sink: Option<Arc<dyn EventSink>>) {
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    let mut seen = newest_seq(&conn).unwrap_or(0);
    while shutdown.is_none() {
        let first = match rx.recv_timeout(FOREIGN_POLL) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => {
                publish_foreign(&conn, &mut seen, sink.as_deref());
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = Vec::with_capacity(16);
        match first {
            Msg::Job(job) => batch.push(job),
            Msg::Shutdown(done) => shutdown = Some(done),
        }
        while shutdown.is_none() && batch.len() < max_batch {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Shutdown(done)) => shutdown = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, batch, sink.as_deref(), &mut seen);
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
    drop(conn);
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}

fn newest_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
}

/// Publishes committed events above `seen` (written by another process, since
/// this one advances `seen` past its own) and advances `seen`. Inside the
/// batch's write transaction nobody else can be appending meanwhile.
fn publish_foreign(conn: &Connection, seen: &mut i64, sink: Option<&dyn EventSink>) {
    let found = (|| -> StoreResult<Vec<UserEvent>> {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, user_id, created_at, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT 10000",
        )?;
        let rows = stmt
            .query_map([*seen], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    UserId(r.get(1)?),
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut events = Vec::with_capacity(rows.len());
        for (seq, user, at, payload) in rows {
            *seen = (*seen).max(seq);
            match serde_json::from_str(&payload) {
                Ok(kind) => events.push(UserEvent {
                    user_id: user,
                    event: Event {
                        seq: Seq(seq),
                        at: ts(at),
                        kind,
                    },
                }),
                // Written by a newer build: live clients get it on replay.
                Err(e) => tracing::warn!(seq, error = %e, "cannot decode an event written elsewhere"),
            }
        }
        Ok(events)
    })();
    match found {
        Ok(events) if !events.is_empty() => {
            tracing::info!(
                count = events.len(),
                "publishing events written by another process"
            );
            if let Some(sink) = sink {
                sink.publish(events);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot look for events written elsewhere"),
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>, sink: Option<&dyn EventSink>, seen: &mut i64) {
    let started = Instant::now();
    let size = batch.len();
    let mut completions: Vec<Completion> = Vec::with_capacity(size);
    let mut pending: Vec<UserEvent> = Vec::new();

    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Run nothing. Dropping the jobs drops their reply channels, so
        // every caller gets an error instead of waiting forever.
        tracing::error!(error = %e, "cannot begin write transaction");
        drop(batch);
        return;
    }
    // Anything another process appended since our last look comes first.
    publish_foreign(conn, seen, sink);
    let now = now_ms();
    for job in batch {
        let mark = pending.len();
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed; request dropped");
            drop(job);
            continue;
        }
        let (failed, done) = {
            let mut ctx = WriteCtx {
                conn,
                now,
                events: &mut pending,
            };
            job(&mut ctx)
        };
        let undo = if failed {
            pending.truncate(mark);
            conn.execute_batch("ROLLBACK TO job; RELEASE job")
        } else {
            conn.execute_batch("RELEASE job")
        };
        if let Err(e) = undo {
            tracing::error!(error = %e, "savepoint release failed");
        }
        completions.push(done);
    }
    let outcome = conn.execute_batch("COMMIT");
    metrics::histogram!("mchatd_db_duration_seconds", "op" => "write_batch")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("mchatd_db_write_batch_jobs").record(size as f64);
    match outcome {
        Ok(()) => {
            if let Some(top) = pending.iter().map(|e| e.event.seq.0).max() {
                *seen = (*seen).max(top);
            }
            // Push first: the recipients' frames leave as early as the
            // senders' HTTP answers.
            if let Some(sink) = sink
                && !pending.is_empty()
            {
                sink.publish(pending);
            }
            for done in completions {
                done(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed; rolling back the batch");
            let _ = conn.execute_batch("ROLLBACK");
            for done in completions {
                done(Err(StoreError::Internal(format!("commit failed: {e}"))));
            }
        }
    }
}
