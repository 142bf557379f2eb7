//! One request's transaction on PostgreSQL, as the rules see it: [`PgTx`]
//! implements the storage traits (`store/data`) with one statement per
//! call. The rules are synchronous (docs/STORAGE.md), so a job runs on a
//! blocking thread holding one pooled connection, and each statement blocks
//! that thread, never the runtime; the connection's own task keeps running
//! on the runtime.

use crate::store::data::{Now, Sweep, Sweeps};
use crate::store::{StoreError, StoreResult, now_ms};
use deadpool_postgres::{Object, Pool};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, UserId};
use std::future::Future;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

/// An open transaction and the runtime its connection runs on.
pub struct PgTx<'c> {
    tx: deadpool_postgres::Transaction<'c>,
    rt: Handle,
    /// Milliseconds since the epoch, fixed for the request (as on SQLite).
    pub now: i64,
    /// Events emitted so far, appended just before COMMIT (`events.rs`).
    pub(super) events: Vec<(UserId, EventKind)>,
    /// Conversations this transaction holds (`lock_conversation`), so each
    /// is locked with one statement however often the rules ask.
    pub(super) locked: Vec<ConversationId>,
}

impl<'c> PgTx<'c> {
    /// Waits for one statement, on the job's blocking thread.
    pub(super) fn wait<T>(
        &self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        self.rt.block_on(f).map_err(StoreError::from)
    }

    /// Waits for something else async (not a statement) on the job's thread.
    pub(super) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The transaction, to run statements on: each is prepared once per
    /// connection and then reused (`Cached`).
    pub(super) fn tx(&self) -> Cached<'_, 'c> {
        Cached(&self.tx)
    }
}

/// Statements through the connection's statement cache: one round trip per
/// statement instead of two (prepare, then execute), which is most of what
/// a request costs on loopback. Every SQL text here is one of a fixed set,
/// so the cache stays small.
pub(super) struct Cached<'a, 'c>(&'a deadpool_postgres::Transaction<'c>);

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Cached<'_, '_> {
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

/// Takes a connection from the pool (503 when the database cannot be
/// reached) and runs `job` on a blocking thread inside one transaction:
/// committed when it succeeds, rolled back when it fails or panics.
pub(super) async fn run<T, F>(pool: &Pool, mode: Mode, job: F) -> StoreResult<T>
where
    F: FnOnce(&mut PgTx<'_>) -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    let mut conn: Object = pool
        .get()
        .await
        .map_err(|e| StoreError::Unavailable(format!("no database connection: {}", super::why(&e))))?;
    let rt = Handle::current();
    let done = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let builder = conn.build_transaction();
        let builder = match mode {
            Mode::Read => builder
                .read_only(true)
                .isolation_level(IsolationLevel::RepeatableRead),
            Mode::Write => builder,
        };
        let tx = rt.block_on(builder.start())?;
        let mut ptx = PgTx {
            tx,
            rt,
            now: now_ms(),
            events: Vec::new(),
            locked: Vec::new(),
        };
        let result = match job(&mut ptx).and_then(|v| super::events::append(&mut ptx).map(|()| v)) {
            Ok(v) => ptx
                .rt
                .block_on(ptx.tx.commit())
                .map(|()| v)
                .map_err(StoreError::from),
            Err(e) => {
                let _ = ptx.rt.block_on(ptx.tx.rollback());
                Err(e)
            }
        };
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
