//! Appending to the event log from the rules (`store/events.rs` keeps the
//! reading side). An event is appended to one user's log inside the
//! change's transaction and becomes visible with it.

use crate::store::StoreResult;
use mchat_shared::UserId;
use mchat_shared::events::EventKind;

/// Appending events, inside the request's transaction.
pub trait EventsWrite {
    /// Appends `kind` to `user`'s log; it is published to live connections
    /// after COMMIT.
    fn emit(&mut self, user: UserId, kind: EventKind) -> StoreResult<()>;
}
