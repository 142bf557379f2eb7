//! The PostgreSQL backend, for programs that run several mchatd nodes on one
//! database (issue 11; the design is docs/STORAGE.md). It is being built in
//! steps behind the same [`Store`](super::Store) surface the SQLite backend
//! serves. Here so far: the schema, versioned in `schema/`, with the
//! migration runner every node runs at start; the pool; the transaction the
//! rules run in ([`tx`]); and the resources already behind the seam.

mod conversations;
mod events;
mod files;
mod membership;
mod messages;
mod migrate;
mod notifications;
mod rows;
mod scheduled;
mod search;
mod templates;
mod tokens;
mod tx;
mod users;

pub use migrate::{LATEST, migrate};

use super::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// A pool of connections to one database, migrated to [`LATEST`].
#[derive(Clone)]
pub struct Backend {
    pool: Pool,
}

impl Backend {
    /// Connects to `url` with at most `pool_size` connections and brings the
    /// schema up to date. An unusable URL or an unreachable database is an
    /// error with one sentence.
    pub async fn connect(url: &str, pool_size: usize) -> StoreResult<Backend> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Internal(format!("the storage URL is not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let mut conn = pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot reach the database: {e}")))?;
        migrate(&mut conn).await?;
        Ok(Backend { pool })
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

    /// Whether the database answers (503 when it cannot be reached).
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))?;
        conn.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Closes the pool: connections end as they are returned.
    pub(crate) fn close(&self) {
        self.pool.close();
    }
}
