//! The PostgreSQL backend, for programs that run several mchatd nodes on one
//! database (issue 11; the design is docs/STORAGE.md). It is being built in
//! steps behind the same [`Store`](super::Store) surface the SQLite backend
//! serves. Here so far: the schema, versioned in `schema/`, with the
//! migration runner every node runs at start; the pool; the transaction the
//! rules run in ([`tx`]); and the resources already behind the seam.

mod blob_marks;
mod conversations;
mod events;
mod fanout;
mod files;
mod membership;
mod messages;
mod migrate;
mod nodes;
mod notifications;
mod rows;
mod scheduled;
mod search;
mod templates;
mod tokens;
mod tx;
mod users;

pub use migrate::{LATEST, migrate};
pub use nodes::Node;

use super::events::EventSink;
use super::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::sync::Arc;

/// `host:port` of the database (never its password), for sentences.
fn where_(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// Why a connection could not be had: the innermost causes, joined (the
/// pool's own wrapping says nothing).
pub(crate) fn why(e: &deadpool_postgres::PoolError) -> String {
    let mut parts = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = match e {
        deadpool_postgres::PoolError::Backend(e) => Some(e),
        other => Some(other),
    };
    while let Some(c) = cause {
        parts.push(c.to_string());
        cause = c.source();
    }
    parts.join(": ")
}

/// An upload's pin in the database, dropped (in the background) with the guard.
pub struct PinRow {
    id: i64,
    pool: Pool,
}

impl Drop for PinRow {
    fn drop(&mut self) {
        let (id, pool) = (self.id, self.pool.clone());
        // A pin that cannot be dropped now lapses by itself.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = blob_marks::unpin(&pool, id).await;
            });
        }
    }
}

/// A pool of connections to one database, migrated to [`LATEST`], and the
/// live fan-out's task.
#[derive(Clone)]
pub struct Backend {
    pool: Pool,
    /// The fan-out (`fanout.rs`), stopped with the pool.
    fanout: Option<tokio::task::AbortHandle>,
}

impl Backend {
    /// Connects to `url` with at most `pool_size` connections, each with a
    /// statement timeout of `statement_timeout_ms` (0: none), brings the
    /// schema up to date, and starts pushing committed events to `sink`.
    /// An unusable URL or an unreachable database is an error with one
    /// sentence.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        statement_timeout_ms: u64,
        sink: Option<Arc<dyn EventSink>>,
    ) -> StoreResult<Backend> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Internal(format!("the storage URL is not a PostgreSQL URL: {e}")))?;
        if statement_timeout_ms > 0 {
            let options = match config.get_options() {
                Some(given) => format!("{given} -c statement_timeout={statement_timeout_ms}"),
                None => format!("-c statement_timeout={statement_timeout_ms}"),
            };
            config.options(&options);
        }
        if config.get_application_name().is_none() {
            config.application_name("mchatd");
        }
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let mut conn = pool.get().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot reach the database at {}: {}",
                where_(&config),
                why(&e)
            ))
        })?;
        migrate(&mut conn).await?;
        let keyed = users::backfill_name_keys(&mut conn).await?;
        if keyed > 0 {
            tracing::info!(users = keyed, "filled the look-alike keys of users that had none");
        }
        let fanout = sink.map(|sink| tokio::spawn(fanout::run(config, sink)).abort_handle());
        Ok(Backend { pool, fanout })
    }

    /// Runs `f` over the read operations, in a read-only snapshot.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&dyn super::data::Read) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        tx::run(&self.pool, tx::Mode::Read, move |tx| f(tx)).await
    }

    /// Runs `f` over the write operations in one transaction; resolves after
    /// COMMIT.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut dyn super::data::Tx) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        tx::run(&self.pool, tx::Mode::Write, move |tx| f(tx)).await
    }

    /// Records this process as one of the nodes serving the database
    /// (`nodes.rs`), renewing its row every `heartbeat_ms`.
    pub(crate) async fn join(&self, heartbeat_ms: u64) -> StoreResult<Node> {
        Node::join(self.pool.clone(), heartbeat_ms).await
    }

    /// Pins the blob of `sha256` in the database (`blob_marks.rs`) until
    /// the returned guard drops.
    pub(crate) async fn pin_blob(&self, sha256: &str) -> StoreResult<PinRow> {
        let id = blob_marks::pin(&self.pool, sha256.to_string()).await?;
        Ok(PinRow {
            id,
            pool: self.pool.clone(),
        })
    }

    /// Removes the blob of `sha256` if a deletion's mark on it still stands.
    pub(crate) async fn remove_condemned(
        &self,
        sha256: String,
        blobs: Arc<crate::attachments::Blobs>,
    ) -> StoreResult<bool> {
        blob_marks::remove(&self.pool, sha256, blobs).await
    }

    /// Whether the database answers (503 when it cannot be reached).
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {}", why(&e))))?;
        conn.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Closes the pool (connections end as they are returned) and stops
    /// the fan-out.
    pub(crate) fn close(&self) {
        if let Some(fanout) = &self.fanout {
            fanout.abort();
        }
        self.pool.close();
    }
}
