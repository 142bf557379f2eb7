//! The profile's event cursor, saved off the async runtime.
//!
//! `watch` saves the `seq` of every event right after processing it
//! (printing it, running `--exec`), so a restart resumes after the last
//! event it finished: nothing is skipped, and at most the one event being
//! processed when the process died is shown again. The store has its own
//! SQLite connection and every write runs under `spawn_blocking`, so the
//! live connection keeps reading (and answering pings) during the fsync.

use crate::local::{LocalError, LocalStore};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Saves the cursor; cheap to clone.
#[derive(Debug, Clone)]
pub struct CursorStore {
    store: Arc<Mutex<LocalStore>>,
}

impl CursorStore {
    /// Opens the profile's local store at `path`.
    pub fn open(path: &Path) -> Result<CursorStore, LocalError> {
        Ok(CursorStore {
            store: Arc::new(Mutex::new(LocalStore::open(path)?)),
        })
    }

    /// The stored cursor.
    pub async fn get(&self) -> anyhow::Result<Option<i64>> {
        self.with(|s| s.cursor()).await
    }

    /// Moves the cursor forward to `seq` (never back).
    pub async fn advance(&self, seq: i64) -> anyhow::Result<()> {
        self.with(move |s| s.set_cursor(seq).map(drop)).await
    }

    /// Sets the cursor to `seq`, even backwards (after a `resync`).
    pub async fn reset(&self, seq: i64) -> anyhow::Result<()> {
        self.with(move |s| s.reset_cursor(seq)).await
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&LocalStore) -> Result<T, LocalError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let guard = store
                .lock()
                .map_err(|_| anyhow::anyhow!("the local store is unusable after an earlier failure"))?;
            Ok(f(&guard)?)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn saves_forward_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.sqlite3");
        let c = CursorStore::open(&path).unwrap();
        assert_eq!(c.get().await.unwrap(), None);
        c.advance(10).await.unwrap();
        c.advance(7).await.unwrap();
        assert_eq!(c.get().await.unwrap(), Some(10));
        c.reset(4).await.unwrap();
        assert_eq!(LocalStore::open(&path).unwrap().cursor().unwrap(), Some(4));
    }
}
