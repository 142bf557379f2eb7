//! One request's transaction on PostgreSQL, as the rules see it: [`PgTx`]
//! implements the storage traits (`store/data`) with one statement per
//! call. The rules are synchronous (docs/STORAGE.md), so a job runs on a
//! blocking thread holding one pooled connection, and each statement blocks
//! that thread, never the runtime; the connection's own task keeps running
//! on the runtime.
//!
//! A round trip is most of what a statement costs on loopback, so the
//! transaction's edges take none of their own: BEGIN is sent with the
//! job's first statement (pipelined: both leave before either answer is
//! read), and a read-only snapshot's end is sent without waiting for its
//! answer, ahead of whatever the connection runs next. A write waits for
//! its COMMIT: the caller is answered only after it. Likewise a write
//! whose answer the rules do not read (a lock, an UPDATE of activity or
//! markers) is *deferred*: it goes out with the next statement, or with
//! the COMMIT, in order, and its error, if any, fails the job there.

use crate::store::data::{Now, Sweep, Sweeps};
use crate::store::{StoreError, StoreResult, now_ms};
use deadpool_postgres::{Object, Pool};
use futures_util::FutureExt;
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, UserId};
use std::cell::{Cell, RefCell};
use std::future::Future;
use tokio::runtime::Handle;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// An open transaction and the runtime its connection runs on.
pub struct PgTx<'c> {
    conn: &'c Object,
    rt: Handle,
    /// Which transaction the first statement opens (`Mode::begin`).
    mode: Mode,
    /// Whether BEGIN has been sent: the end then sends COMMIT or ROLLBACK.
    begun: Cell<bool>,
    /// Whether COMMIT or ROLLBACK has been sent (else dropping rolls back).
    ended: bool,
    /// Statements sent with the next one ([`PgTx::defer`]), in order.
    deferred: RefCell<Vec<Deferred>>,
    /// Milliseconds since the epoch, fixed for the request (as on SQLite).
    pub now: i64,
    /// Events emitted so far, appended just before COMMIT (`events.rs`).
    pub(super) events: Vec<(UserId, EventKind)>,
    /// Conversations this transaction holds (`lock_conversation`), so each
    /// is locked with one statement however often the rules ask.
    pub(super) locked: Vec<ConversationId>,
}

impl<'c> PgTx<'c> {
    /// Waits for one statement, on the job's blocking thread. The first
    /// one takes the transaction's BEGIN with it, and any statement takes
    /// the deferred ones before it, in the same round trip.
    pub(super) fn wait<T>(
        &self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        let begin = !self.begun.replace(true);
        let deferred = self.deferred.take();
        if !begin && deferred.is_empty() {
            return self.rt.block_on(f).map_err(StoreError::from);
        }
        let (before, result) = self
            .rt
            .block_on(futures_util::future::join(self.ahead(begin, &deferred), f));
        before?;
        result.map_err(StoreError::from)
    }

    /// BEGIN (when `begin`) and the deferred statements, in order: the
    /// future queues each on the connection when first polled, before
    /// whatever it is joined with (`join` polls in order), and succeeds
    /// when all of them did.
    async fn ahead(&self, begin: bool, deferred: &[Deferred]) -> Result<(), tokio_postgres::Error> {
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = deferred
            .iter()
            .map(|d| {
                d.params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect()
            })
            .collect();
        let tx = self.tx();
        let statements = deferred.iter().zip(&params).map(|(d, p)| tx.execute(d.sql, p));
        let begin = async {
            if begin {
                self.conn.batch_execute(self.mode.begin()).await
            } else {
                Ok(())
            }
        };
        let (begun, done) =
            futures_util::future::join(begin, futures_util::future::join_all(statements)).await;
        begun?;
        for d in done {
            d?;
        }
        Ok(())
    }

    /// Sends `sql` with the next statement (or the COMMIT) instead of now:
    /// for a write whose answer the rules do not read. It still runs
    /// before anything the job does after it; an error fails the job at
    /// that next statement.
    pub(super) fn defer(&self, sql: &'static str, params: Vec<Box<dyn ToSql + Sync>>) {
        self.deferred.borrow_mut().push(Deferred { sql, params });
    }

    /// Ends the transaction: a write waits for its COMMIT (with the deferred
    /// statements before it, whose failure turns it into a rollback and
    /// fails the job); a read's end is sent without waiting (nothing it did
    /// can fail to commit).
    fn finish(&mut self) -> StoreResult<()> {
        let pending = !self.deferred.borrow().is_empty();
        let result = match self.mode {
            _ if !pending && !self.begun.get() => Ok(()),
            Mode::Read if !pending => {
                self.send_without_waiting("COMMIT");
                Ok(())
            }
            _ => self.wait(self.conn.batch_execute("COMMIT")),
        };
        self.ended = true;
        result
    }

    /// Sends `sql` on the connection and goes on: the request is queued
    /// on the first poll, so whatever the connection runs next (the next
    /// job that takes it from the pool) runs after it.
    fn send_without_waiting(&self, sql: &str) {
        let _ = self.conn.batch_execute(sql).now_or_never();
    }

    /// Waits for something else async (not a statement) on the job's thread.
    pub(super) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The transaction, to run statements on: each is prepared once per
    /// connection and then reused (`Cached`).
    pub(super) fn tx(&self) -> Cached<'_> {
        Cached(self.conn)
    }
}

/// A statement waiting to go out with the next one ([`PgTx::defer`]).
struct Deferred {
    sql: &'static str,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl Drop for PgTx<'_> {
    /// A job that failed, or panicked, leaves nothing behind: the
    /// connection goes back to the pool with its ROLLBACK queued first.
    fn drop(&mut self) {
        if !self.ended && self.begun.get() {
            self.send_without_waiting("ROLLBACK");
        }
    }
}

/// Statements through the connection's statement cache: one round trip per
/// statement instead of two (prepare, then execute), which is most of what
/// a request costs on loopback. Every SQL text here is one of a fixed set,
/// so the cache stays small.
pub(super) struct Cached<'a>(&'a Object);

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Cached<'_> {
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, tokio_postgres::Error> {
        let st = self.0.prepare_cached(sql).await?;
        self.0.query(&st, params).await
    }

    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, tokio_postgres::Error> {
        let st = self.0.prepare_cached(sql).await?;
        self.0.query_one(&st, params).await
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let st = self.0.prepare_cached(sql).await?;
        self.0.query_opt(&st, params).await
    }

    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, tokio_postgres::Error> {
        let st = self.0.prepare_cached(sql).await?;
        self.0.execute(&st, params).await
    }
}

impl Now for PgTx<'_> {
    fn now(&self) -> i64 {
        self.now
    }
}

impl Sweeps for PgTx<'_> {
    fn sweep_turn(&mut self, sweep: Sweep) -> StoreResult<bool> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&sweep.lock_key()]),
        )?;
        Ok(row.try_get(0)?)
    }
}

/// Whether a job may write: reads run in a read-only snapshot.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    Read,
    Write,
}

impl Mode {
    /// The statement that opens this kind of transaction.
    fn begin(self) -> &'static str {
        match self {
            Mode::Read => "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            Mode::Write => "START TRANSACTION",
        }
    }
}

/// Takes a connection from the pool (503 when the database cannot be
/// reached) and runs `job` on a blocking thread inside one transaction:
/// committed when it succeeds, rolled back when it fails or panics.
pub(super) async fn run<T, F>(pool: &Pool, mode: Mode, job: F) -> StoreResult<T>
where
    F: FnOnce(&mut PgTx<'_>) -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    let conn: Object = pool
        .get()
        .await
        .map_err(|e| StoreError::Unavailable(format!("no database connection: {}", super::why(&e))))?;
    let rt = Handle::current();
    let done = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut ptx = PgTx {
            conn: &conn,
            rt,
            mode,
            begun: Cell::new(false),
            ended: false,
            deferred: RefCell::new(Vec::new()),
            now: now_ms(),
            events: Vec::new(),
            locked: Vec::new(),
        };
        let result = job(&mut ptx)
            .and_then(|v| super::events::append(&mut ptx).map(|()| v))
            .and_then(|v| ptx.finish().map(|()| v));
        // A failure drops `ptx` unfinished: its ROLLBACK goes first.
        drop(ptx);
        // As on SQLite: op=read per read; a write is one transaction here
        // (incl. COMMIT), reported as a batch of one.
        let op = match mode {
            Mode::Read => "read",
            Mode::Write => "write_batch",
        };
        metrics::histogram!("mchatd_db_duration_seconds", "op" => op).record(started.elapsed().as_secs_f64());
        if let Mode::Write = mode {
            metrics::histogram!("mchatd_db_write_batch_jobs").record(1.0);
        }
        result
    })
    .await;
    match done {
        Ok(result) => result,
        // A panic dropped the transaction (rolled back) and the connection.
        Err(_) => Err(StoreError::Internal("a database request panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    //! The transaction's edges and deferred statements, on a real database:
    //! a deferred write runs before the statement it went out with, and its
    //! failure fails the job, whether a statement or the COMMIT carried it.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{Mode, run};
    use crate::store::StoreError;
    use crate::store::postgres::Backend;
    use mchat_testkit::TestDatabase;

    async fn count(backend: &Backend) -> i64 {
        run(&backend.pool, Mode::Read, |tx| {
            let row = tx.wait(
                tx.tx()
                    .query_one("SELECT COUNT(*) FROM meta WHERE key LIKE 'd%'", &[]),
            )?;
            Ok(row.try_get::<_, i64>(0)?)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn deferred_statements_run_in_order_and_fail_the_job() {
        let db = TestDatabase::create();
        let backend = Backend::connect(db.url(), 2, 5000, None).await.unwrap();
        const INSERT: &str = "INSERT INTO meta (key, value) VALUES ($1, 1)";

        // Seen by the next statement of the job, then committed.
        let seen = run(&backend.pool, Mode::Write, |tx| {
            tx.defer(INSERT, vec![Box::new("d1")]);
            let row = tx.wait(
                tx.tx()
                    .query_one("SELECT COUNT(*) FROM meta WHERE key = 'd1'", &[]),
            )?;
            Ok(row.try_get::<_, i64>(0)?)
        })
        .await
        .unwrap();
        assert_eq!(seen, 1);
        // Carried by the COMMIT alone.
        run(&backend.pool, Mode::Write, |tx| {
            tx.defer(INSERT, vec![Box::new("d2")]);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(count(&backend).await, 2);

        // A failing one (the key is taken) fails the statement it went with,
        // and nothing of the job stays.
        let failed = run(&backend.pool, Mode::Write, |tx| {
            tx.defer(INSERT, vec![Box::new("d3")]);
            tx.defer(INSERT, vec![Box::new("d1")]);
            tx.wait(tx.tx().execute("SELECT 1", &[]))?;
            Ok(())
        })
        .await;
        assert!(matches!(failed, Err(StoreError::Postgres(_))), "{failed:?}");
        // Or the COMMIT it went with, which then rolls back.
        let failed = run(&backend.pool, Mode::Write, |tx| {
            tx.wait(tx.tx().execute(INSERT, &[&"d4"]))?;
            tx.defer(INSERT, vec![Box::new("d2")]);
            Ok(())
        })
        .await;
        assert!(matches!(failed, Err(StoreError::Postgres(_))), "{failed:?}");
        assert_eq!(count(&backend).await, 2, "d3 and d4 were rolled back");
        // The connections went back clean: a write still commits.
        run(&backend.pool, Mode::Write, |tx| {
            tx.defer(INSERT, vec![Box::new("d5")]);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(count(&backend).await, 3);
    }
}
