//! Opening connections with the right pragmas, and online backup.

use super::{StoreError, StoreResult};
use crate::config::{StorageConfig, Synchronous};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

fn common(conn: &Connection, cfg: &StorageConfig) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_millis(cfg.busy_timeout_ms))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let sync = match cfg.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The writer's connection: WAL mode, foreign keys, busy timeout.
pub fn open_write(path: &Path, cfg: &StorageConfig) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "could not enable WAL (journal_mode={mode})"
        )));
    }
    common(&conn, cfg)?;
    // Freed row space is zeroed where that costs no extra I/O, so a deleted
    // or edited-away text does not linger in the file (docs/RELIABILITY.md).
    conn.pragma_update(None, "secure_delete", "FAST")?;
    Ok(conn)
}

/// A reader's connection: read-only, so a bug can never write through it.
pub fn open_read(path: &Path, cfg: &StorageConfig) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    common(&conn, cfg)?;
    Ok(conn)
}

/// Copies the database at `src` to `dest` with SQLite's online backup API,
/// which gives a consistent snapshot while the server keeps writing.
pub fn backup(src: &Path, dest: &Path) -> StoreResult<()> {
    if dest.exists() {
        return Err(StoreError::Internal(format!("{} already exists", dest.display())));
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut to = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
        backup.run_to_completion(256, Duration::from_millis(5), None)?;
    }
    // The copy is a standalone file: no WAL sidecar needed to open it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}
