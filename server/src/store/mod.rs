//! Storage: everything the server keeps, in SQLite or PostgreSQL.
//!
//! Handlers never see SQL or a connection. They call the async methods of
//! [`Store`] (one `impl Store` block per resource, in the files below). Each
//! resource's rules are written once, over the storage traits of `data`,
//! and each backend implements those traits with its SQL (`sqlite`,
//! `postgres`; docs/STORAGE.md). SQLite runs on dedicated threads: one
//! writer that commits in batches and a few readers. PostgreSQL runs each
//! job on a blocking thread with a pooled connection. No database call ever
//! runs on an async worker, and no SQLite connection is held across an
//! `.await`.

mod blobs;
#[cfg(test)]
mod both_backends;
mod conversations;
mod data;
mod db;
mod events;
mod files;
mod hydrate;
mod message_actions;
mod messages;
mod migrations;
mod name_keys;
mod notifications;
pub mod postgres;
mod presence;
mod readers;
mod rows;
mod scheduled;
mod search;
mod search_words;
mod settings;
mod sqlite;
mod templates;
mod tokens;
mod users;
mod writer;

pub use conversations::Transition;
pub use data::AuthContext;
pub use data::{Member, PresenceInfo};
pub use data::{NewUser, UserRecord};
pub use events::{EventSink, Replay, UserEvent};
pub use messages::{IsOnline, MarkerUpdate};
pub use presence::presence_state;
pub use users::{DirectoryFilter, ProfilePatch};
pub use writer::WriteCtx;

use crate::config::{Config, StorageBackend, StorageConfig};
use mchat_shared::ErrorCode;
use readers::Readers;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use writer::Writer;

pub use files::BlobPin;

/// Why a storage call failed: a domain rejection (with the API code to
/// answer with) or a real failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{1}")]
    Api(ErrorCode, String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("postgres: {}", postgres_detail(.0))]
    Postgres(tokio_postgres::Error),
    /// The database was migrated by a newer mchatd than this one.
    #[error(
        "the database's schema is version {found}, newer than this mchatd knows ({known}): run the newer mchatd"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The database cannot be reached right now (503; the request did not run).
    #[error("{0}")]
    Unavailable(String),
    #[error("the storage threads have stopped")]
    Closed,
    /// The writer's or the readers' queue is full: the request was refused
    /// before it ran (the caller may retry after a moment).
    #[error("the server is busy")]
    Busy,
    /// A field rejected against stored state (answered like a validation error, with its field).
    #[error("{0}")]
    Invalid(#[from] mchat_shared::validate::ValidationError),
    #[error("{0}")]
    Internal(String),
}

/// What the server's log says of a PostgreSQL error: the database's own
/// message, SQLSTATE and detail when it sent one (`db error` alone says
/// nothing). Never sent to a client.
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({}): {detail}", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => e.to_string(),
    }
}

/// A PostgreSQL error is a failure of the request (500), unless the
/// database is away or too busy right now: a lost or refused connection, a
/// server shutting down, a statement cancelled by the timeout. Those answer
/// 503 with Retry-After, and the pool reconnects when it is back.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let away = match e.code() {
            // No SQLSTATE: a connection that closed or failed, or a client-side
            // error (a type mismatch), which is a bug like any other.
            None => {
                e.is_closed()
                    || std::error::Error::source(&e)
                        .is_some_and(|c| c.downcast_ref::<std::io::Error>().is_some())
            }
            Some(code) => {
                code.code().starts_with("08")
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::QUERY_CANCELED
                    || *code == SqlState::TOO_MANY_CONNECTIONS
            }
        };
        if away {
            tracing::warn!(error = %e, "the database is unavailable");
            StoreError::Unavailable("the database is unavailable; try again in a moment".into())
        } else {
            StoreError::Postgres(e)
        }
    }
}

impl StoreError {
    pub fn not_found(what: &str) -> Self {
        StoreError::Api(ErrorCode::NotFound, format!("no such {what}"))
    }
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError::Api(code, message.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage handle: cheap to clone, shared by every handler.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Blobs that uploads in flight are about to name: a deletion's unlink
    /// after COMMIT leaves them alone (see `blobs`).
    blob_pins: Arc<blobs::BlobPins>,
}

/// Where the data lives.
enum Backend {
    /// The embedded default: one file, one group-committing writer thread
    /// and a few reader threads.
    Sqlite {
        writer: Writer,
        readers: Readers,
        path: PathBuf,
    },
    /// PostgreSQL (docs/STORAGE.md). Every resource runs on it, through
    /// [`Store::read_data`] / [`Store::write_data`]; only the tests open one
    /// yet, as the configuration cannot ask for it.
    Postgres(postgres::Backend),
}

impl Store {
    /// The store `config` asks for: SQLite in the data directory, or the
    /// PostgreSQL database at `[storage] url`; `sink` receives every
    /// committed event. What stops it is said in one sentence.
    pub async fn open_configured(config: &Config, sink: Option<Arc<dyn EventSink>>) -> StoreResult<Store> {
        let storage = config.storage.clone();
        match storage.backend {
            StorageBackend::Sqlite => {
                let path = config.database_path();
                tokio::task::spawn_blocking(move || Store::open_with_sink(&path, &storage, sink))
                    .await
                    .map_err(|e| StoreError::Internal(format!("opening the database failed: {e}")))?
            }
            StorageBackend::Postgres => {
                let url = storage.url.as_deref().ok_or_else(|| {
                    StoreError::Internal(
                        "[storage] backend = \"postgres\" needs url = \"postgres://…\" \
                         (or MCHATD_STORAGE__URL)"
                            .into(),
                    )
                })?;
                Store::open_postgres(url, &storage, sink).await
            }
        }
    }

    /// A store on the PostgreSQL database at `url`, migrated to the latest
    /// schema, with `cfg`'s pool size and statement timeout.
    pub async fn open_postgres(
        url: &str,
        cfg: &StorageConfig,
        sink: Option<Arc<dyn EventSink>>,
    ) -> StoreResult<Store> {
        let backend = postgres::Backend::connect(url, cfg.pool_size, cfg.statement_timeout_ms, sink).await?;
        Ok(Store {
            inner: Arc::new(Inner {
                backend: Backend::Postgres(backend),
                blob_pins: Arc::default(),
            }),
        })
    }

    /// Opens (creating if needed) the database at `path`, applies migrations
    /// and starts the writer and reader threads.
    pub fn open(path: &Path, cfg: &StorageConfig) -> StoreResult<Store> {
        Store::open_with_sink(path, cfg, None)
    }

    /// Like [`Store::open`], with `sink` receiving every committed event.
    pub fn open_with_sink(
        path: &Path,
        cfg: &StorageConfig,
        sink: Option<Arc<dyn EventSink>>,
    ) -> StoreResult<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = db::open_write(path, cfg)?;
        migrations::apply(&mut conn)?;
        name_keys::backfill(&mut conn)?;
        let writer = Writer::start(conn, cfg.max_batch, cfg.write_queue, sink)?;
        let readers = Readers::start(path, cfg)?;
        Ok(Store {
            inner: Arc::new(Inner {
                backend: Backend::Sqlite {
                    writer,
                    readers,
                    path: path.to_path_buf(),
                },
                blob_pins: Arc::default(),
            }),
        })
    }

    /// Runs `f` over the read operations (`data::Read`) on a reader thread:
    /// how rules that have moved behind the seam read (docs/STORAGE.md).
    pub(crate) async fn read_data<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&dyn data::Read) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.inner.backend {
            Backend::Sqlite { readers, .. } => readers.run(move |conn| f(&sqlite::SqliteRead(conn))).await,
            Backend::Postgres(pg) => pg.read(f).await,
        }
    }

    /// Runs `f` over the write operations (`data::Tx`) inside the writer's
    /// transaction; resolves after COMMIT.
    pub(crate) async fn write_data<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut dyn data::Tx) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.inner.backend {
            Backend::Sqlite { writer, .. } => writer.run(move |ctx| f(ctx)).await,
            Backend::Postgres(pg) => pg.write(f).await,
        }
    }

    /// Runs `f` inside the SQLite writer's transaction; resolves after
    /// COMMIT. Every rule writes through [`Store::write_data`]; the tests
    /// use this to set a database up.
    #[cfg(test)]
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.inner.backend {
            Backend::Sqlite { writer, .. } => writer.run(f).await,
            Backend::Postgres(_) => Err(StoreError::Internal(
                "Store::write reaches SQLite's writer only: use write_data".into(),
            )),
        }
    }

    /// Finishes queued writes, checkpoints the WAL and stops the threads.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite { writer, readers, .. } => {
                writer.shutdown().await;
                readers.shutdown().await;
            }
            Backend::Postgres(pg) => pg.close(),
        }
    }

    /// Writes a consistent copy of the live database to `dest` (SQLite online backup).
    pub async fn backup(&self, dest: PathBuf) -> StoreResult<()> {
        let Backend::Sqlite { path, .. } = &self.inner.backend else {
            return Err(StoreError::Internal(
                "mchatd backup copies SQLite databases; back PostgreSQL up with pg_dump".into(),
            ));
        };
        let src = path.clone();
        tokio::task::spawn_blocking(move || db::backup(&src, &dest))
            .await
            .map_err(|e| StoreError::Internal(format!("backup task failed: {e}")))?
    }

    /// Copies the database file at `src` to `dest` without starting a store.
    pub fn backup_file(src: &Path, dest: &Path) -> StoreResult<()> {
        db::backup(src, dest)
    }

    /// Quick liveness check for `/healthz`: the database answers a query.
    pub async fn ping(&self) -> StoreResult<()> {
        match &self.inner.backend {
            Backend::Sqlite { readers, .. } => {
                readers
                    .run(|conn| {
                        conn.query_row("SELECT 1", [], |_| Ok(()))?;
                        Ok(())
                    })
                    .await
            }
            Backend::Postgres(pg) => pg.ping().await,
        }
    }
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
