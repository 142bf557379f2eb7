//! Reader threads: each owns one read-only connection and takes jobs from a
//! shared queue. WAL lets them read while the writer commits.
//!
//! The queue is bounded (`[storage] read_queue`): when every reader is busy
//! and the queue is full, a read fails at once with [`StoreError::Busy`]
//! (503 with Retry-After). Readers wait in a blocking `recv`, never spin.

use super::{StoreError, StoreResult, db};
use crate::config::StorageConfig;
use crossbeam_channel::{Sender, TrySendError};
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
        // 0: unbounded, only to show what bounding prevents (bench `burst`).
        let (tx, rx) = match cfg.read_queue {
            0 => crossbeam_channel::unbounded::<Option<Job>>(),
            n => crossbeam_channel::bounded::<Option<Job>>(n),
        };
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
            metrics::histogram!("mchatd_db_duration_seconds", "op" => "read")
                .record(started.elapsed().as_secs_f64());
            let _ = otx.send(result);
        });
        match self.tx.try_send(Some(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("mchatd_store_queue_rejected_total", "queue" => "read").increment(1);
                return Err(StoreError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
        }
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Asks every reader to stop after the jobs queued before it (waiting
    /// for room in the queue on a blocking thread, never on the runtime).
    pub async fn shutdown(&self) {
        let tx = self.tx.clone();
        let count = self.count;
        let _ = tokio::task::spawn_blocking(move || {
            for _ in 0..count {
                let _ = tx.send(None);
            }
        })
        .await;
    }
}
