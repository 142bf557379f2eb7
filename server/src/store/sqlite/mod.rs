//! The SQLite backend's implementations of the storage traits that the
//! rules are written over (docs/STORAGE.md). Writes implement them on the
//! group-commit writer's [`WriteCtx`](super::WriteCtx); reads on a reader
//! thread's connection, through [`SqliteRead`]. Resources move here one at
//! a time; the rest still run their SQL beside their rules.

mod conversations;
mod events;
mod files;
mod membership;
mod messages;
mod notifications;
mod scheduled;
mod search;
mod templates;
mod tokens;
mod users;

use super::StoreResult;
use super::WriteCtx;
use super::data::{Now, Sweep, Sweeps};
use rusqlite::Connection;

/// A reader thread's connection, as the read traits see it.
pub struct SqliteRead<'c>(pub &'c Connection);

/// What the read implementations read through: a reader thread's
/// connection, or the writer's inside its transaction (a rule reads what
/// its own transaction wrote). One blanket impl per read trait serves both.
pub trait SqliteConn {
    fn conn(&self) -> &Connection;
}

impl SqliteConn for SqliteRead<'_> {
    fn conn(&self) -> &Connection {
        self.0
    }
}

impl SqliteConn for WriteCtx<'_> {
    fn conn(&self) -> &Connection {
        self.conn
    }
}

impl Now for WriteCtx<'_> {
    fn now(&self) -> i64 {
        self.now
    }
}

/// One node, one writer: every sweep is this node's to run.
impl Sweeps for WriteCtx<'_> {
    fn sweep_turn(&mut self, _sweep: Sweep) -> StoreResult<bool> {
        Ok(true)
    }
}
