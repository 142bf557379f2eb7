//! What PostgreSQL's rows and parameters need beyond `store/rows.rs`:
//! touched-row counts and id arrays.

use mchat_shared::MessageId;

/// How many rows a statement touched, as the traits answer it.
pub fn touched(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Ids as the BIGINT array a `= ANY($1)` takes.
pub fn id_array(ids: &[MessageId]) -> Vec<i64> {
    ids.iter().map(|id| id.0).collect()
}
