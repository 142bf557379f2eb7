//! The database checks of `mchat-bench crash`, on the SQLite file opened
//! read-only: `PRAGMA integrity_check`, and the run's messages by
//! `client_id` with a count of any (sender, client_id) stored more than once.

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

fn open(db: &Path) -> Result<Connection> {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} read-only", db.display()))
}

/// `PRAGMA integrity_check`: `"ok"`, or the problems it lists.
pub fn integrity_check(db: &Path) -> Result<String> {
    let conn = open(db)?;
    let mut q = conn.prepare("PRAGMA integrity_check")?;
    let lines = q
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(lines.join("; "))
}

/// The stored messages whose `client_id` starts with `prefix`.
#[derive(Debug, Default)]
pub struct Stored {
    /// client_id -> message ids stored under it (one, unless duplicated).
    pub by_client_id: BTreeMap<String, Vec<i64>>,
    /// (sender, client_id) groups with more than one row.
    pub duplicate_groups: u64,
}

pub fn stored_messages(db: &Path, prefix: &str) -> Result<Stored> {
    let conn = open(db)?;
    let pattern = format!("{prefix}%");
    let duplicate_groups: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE client_id LIKE ?1 \
         GROUP BY sender_id, client_id HAVING COUNT(*) > 1)",
        [&pattern],
        |r| r.get(0),
    )?;
    let mut q = conn.prepare("SELECT client_id, id FROM messages WHERE client_id LIKE ?1")?;
    let rows = q.query_map([&pattern], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut by_client_id: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in rows {
        let (cid, id) = row?;
        by_client_id.entry(cid).or_default().push(id);
    }
    Ok(Stored {
        by_client_id,
        duplicate_groups: u64::try_from(duplicate_groups).unwrap_or(0),
    })
}
