//! The blob marks of `store/blobs.rs` in the database, for nodes that share
//! their blobs: an upload's *pin* is a row of `blob_pins`, a deletion's
//! decision a row of `condemned_blobs`, and every step that reads or
//! changes the marks of a hash holds `pg_advisory_xact_lock` on it, so the
//! steps of one hash take turns across nodes:
//!
//! - pin: spare the hash (delete its condemned row), insert a pin;
//! - condemn (inside the deletion's transaction, until its COMMIT): unless
//!   a live pin or a file row names the hash, insert the condemned row;
//! - remove (after that COMMIT): delete the condemned row and, if it was
//!   still there, remove the blob before the lock ends.
//!
//! An upload that pins before the decision keeps the bytes; one that pins
//! after it spares them, or waits for their removal and then finds them
//! gone (and stores its own copy).

use super::tx::{self, Mode, PgTx};
use crate::attachments::Blobs;
use crate::store::StoreResult;
use deadpool_postgres::Pool;
use std::sync::Arc;

/// How long a pin counts: far longer than an upload between looking for
/// its bytes and committing its row; a pin left by a dead node then lapses.
const PIN_LIFE_MS: i64 = 3_600_000;

/// Takes the hash's advisory lock until the transaction ends.
fn lock(tx: &mut PgTx<'_>, sha256: &str) -> StoreResult<()> {
    tx.wait(tx.tx().execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&sha256],
    ))?;
    Ok(())
}

/// Pins `sha256`, sparing it from a deletion that condemned it; the pin's id.
pub(super) async fn pin(pool: &Pool, sha256: String) -> StoreResult<i64> {
    tx::run(pool, Mode::Write, move |tx| {
        lock(tx, &sha256)?;
        tx.wait(
            tx.tx()
                .execute("DELETE FROM condemned_blobs WHERE sha256 = $1", &[&sha256]),
        )?;
        let until = tx.now.saturating_add(PIN_LIFE_MS);
        let row = tx.wait(tx.tx().query_one(
            "INSERT INTO blob_pins (sha256, expires_at) VALUES ($1, $2) RETURNING id",
            &[&sha256, &until],
        ))?;
        Ok(row.try_get(0)?)
    })
    .await
}

/// Drops pin `id` (its upload's row is committed, or the upload failed).
pub(super) async fn unpin(pool: &Pool, id: i64) -> StoreResult<()> {
    tx::run(pool, Mode::Write, move |tx| {
        tx.wait(tx.tx().execute("DELETE FROM blob_pins WHERE id = $1", &[&id]))?;
        Ok(())
    })
    .await
}

/// Inside a deletion's transaction: condemns `sha256` unless an upload has
/// it pinned, or a file row names it; true when condemned.
///
/// Both in one statement, under the lock: an upload commits its row and
/// only then drops its pin, without the lock, so a look at the rows before
/// the lock (`blob_named`) can miss a row that commits just after, and a
/// look at the pins after it can miss the pin that row dropped. One
/// snapshot sees the pin, or else the row committed before it went.
pub(super) fn condemn(tx: &mut PgTx<'_>, sha256: &str) -> StoreResult<bool> {
    lock(tx, sha256)?;
    let kept = tx.wait(tx.tx().query_one(
        "SELECT EXISTS (SELECT 1 FROM blob_pins WHERE sha256 = $1 AND expires_at > $2) \
         OR EXISTS (SELECT 1 FROM files WHERE sha256 = $1)",
        &[&sha256, &tx.now],
    ))?;
    if kept.try_get(0)? {
        return Ok(false);
    }
    tx.wait(tx.tx().execute(
        "INSERT INTO condemned_blobs (sha256) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&sha256],
    ))?;
    Ok(true)
}

/// After the deletion's COMMIT: removes the blob of `sha256` if it is
/// still condemned; true when it was removed.
pub(super) async fn remove(pool: &Pool, sha256: String, blobs: Arc<Blobs>) -> StoreResult<bool> {
    tx::run(pool, Mode::Write, move |tx| {
        lock(tx, &sha256)?;
        let still = tx.wait(tx.tx().query_opt(
            "DELETE FROM condemned_blobs WHERE sha256 = $1 RETURNING 1",
            &[&sha256],
        ))?;
        if still.is_none() {
            return Ok(false);
        }
        // Under the lock: no upload finds the bytes while they go.
        match tx.block_on(blobs.remove(&sha256)) {
            Ok(removed) => Ok(removed),
            Err(e) => {
                // An orphan, which a later start removes.
                tracing::warn!(sha256 = %sha256, store = %blobs.describe(), error = %e, "cannot remove a deleted file's blob");
                Ok(false)
            }
        }
    })
    .await
}
