//! Fills the parts of a message that live in other tables: the quoted parent, reactions and the attachment.

use super::StoreResult;
use mchat_shared::api::Message;
use rusqlite::Connection;

/// Completes messages read with `rows::MESSAGE_SELECT`: the reply quote and
/// reactions (message_actions work) and the attachment (files work). Call it
/// on every message that leaves the store.
#[allow(dead_code)] // wired in by the message-actions work
pub(super) fn hydrate(_conn: &Connection, _messages: &mut [Message]) -> StoreResult<()> {
    Ok(())
}
