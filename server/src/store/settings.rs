//! Per-user conversation settings: muted and archived.

use super::{StoreResult, WriteCtx};

/// Called for every stored message, inside its transaction: unarchives the
/// conversation for the participants who archived it (and tells them).
pub(super) fn on_new_message(
    _ctx: &mut WriteCtx<'_>,
    _conversation: i64,
    _sender: Option<i64>,
) -> StoreResult<()> {
    Ok(())
}
