//! Reader threads: each owns one read-only connection and takes jobs from a
//! shared queue. WAL lets them read while the writer commits.

use super::{StoreError, StoreResult, db};
use crate::config::StorageConfig;
use crossbeam_channel::Sender;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&Connection) + Send>;

pub struct Readers {
    tx: Sender<Option<Job>>,
    count: usize,
}

impl Readers {
    pub fn start(path: &Path, cfg: &StorageConfig) -> StoreResult<Readers> {
        let count = cfg.readers.max(1);
        let (tx, rx) = crossbeam_channel::unbounded::<Option<Job>>();
        for i in 0..count {
            let conn = db::open_read(path, cfg)?;
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("mchatd-reader-{i}"))
                .spawn(move || {
                    while let Ok(Some(job)) = rx.recv() {
                        job(&conn);
                    }
                })
                .map_err(|e| StoreError::Internal(format!("cannot start reader thread: {e}")))?;
        }
        Ok(Readers { tx, count })
    }

    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (otx, orx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let started = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("a read request panicked".into())));
            metrics::histogram!("mchatd_db_seconds", "op" => "read").record(started.elapsed().as_secs_f64());
            let _ = otx.send(result);
        });
        self.tx.send(Some(job)).map_err(|_| StoreError::Closed)?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Asks every reader to stop after the jobs queued before it.
    pub fn shutdown(&self) {
        for _ in 0..self.count {
            let _ = self.tx.send(None);
        }
    }
}
