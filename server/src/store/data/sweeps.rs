//! Cluster-wide sweeps: work that one node should do for all of them.

use crate::store::StoreResult;

/// A periodic sweep every node runs on a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Pending requests past their deadline expire.
    RequestExpiry,
    /// Events older than the retention are pruned.
    EventPruning,
}

impl Sweep {
    /// The sweep's advisory lock key on PostgreSQL: "mchsw" in ASCII and a
    /// number per sweep, beside the migrations' key.
    pub fn lock_key(self) -> i64 {
        let base: i64 = 0x6d63_6873_7700_0000;
        base + match self {
            Sweep::RequestExpiry => 1,
            Sweep::EventPruning => 2,
        }
    }
}

/// Taking a sweep's turn.
pub trait Sweeps {
    /// Whether this transaction runs `sweep` now. On PostgreSQL it holds
    /// the sweep's advisory lock until COMMIT, and a node that finds the
    /// lock taken skips this round: another node is sweeping. SQLite has
    /// one node: always.
    fn sweep_turn(&mut self, sweep: Sweep) -> StoreResult<bool>;
}
