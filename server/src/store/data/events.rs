//! The event log as the rules (`store/events.rs`) see it: appending to one
//! user's log inside a change's transaction (visible with it), reading a
//! user's log after a cursor, and pruning by age.

use crate::store::StoreResult;
use mchat_shared::UserId;
use mchat_shared::events::EventKind;

/// One stored event: its seq, when (ms since the epoch), and its kind's
/// JSON exactly as stored.
pub type StoredEvent = (i64, i64, String);

/// The id of the message an event carries, stored beside it in the log so
/// an edit or a deletion can rewrite every copy (`events.message_id`).
pub fn carried_message(kind: &EventKind) -> Option<i64> {
    match kind {
        EventKind::MessageNew { message } | EventKind::MessageUpdated { message } => Some(message.id.0),
        _ => None,
    }
}

/// Reading the log.
pub trait EventsRead {
    /// `user`'s events with a seq above `since`, oldest first, at most `limit`.
    fn events_after(&self, user: UserId, since: i64, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// The newest seq in `user`'s log (0 for none).
    fn newest_user_seq(&self, user: UserId) -> StoreResult<i64>;
    /// The newest seq in the whole log (0 for none).
    fn newest_seq(&self) -> StoreResult<i64>;
    /// Where retention pruned up to (0: never).
    fn pruned_up_to(&self) -> StoreResult<i64>;
}

/// Appending events, inside the request's transaction.
pub trait EventsWrite {
    /// Appends `kind` to `user`'s log; it is published to live connections
    /// after COMMIT.
    fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<()>;
    /// Appends a copy of `kind` to each of `users`' logs.
    fn emit_all(&mut self, users: &[UserId], kind: EventKind) -> StoreResult<()> {
        for &user in users {
            self.emit(user, kind.clone())?;
        }
        Ok(())
    }
    /// The newest seq of an event older than `before_ms`, if any.
    fn newest_seq_before(&self, before_ms: i64) -> StoreResult<Option<i64>>;
    /// Deletes every event up to seq `top`; how many.
    fn delete_events_up_to(&mut self, top: i64) -> StoreResult<u64>;
    /// Raises the pruning horizon to `top` (never lowers it).
    fn raise_pruned_up_to(&mut self, top: i64) -> StoreResult<()>;
}
