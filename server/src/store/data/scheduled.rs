//! What the scheduled-item rules (`store/scheduled.rs`) need from storage:
//! items as their author sees them, the one a `client_id` names, the due
//! ones, and their outcome.

use crate::store::StoreResult;
use mchat_shared::api::{ScheduledItem, ScheduledKind, ScheduledStatus};
use mchat_shared::{ConversationId, MessageId, ScheduledId, UserId};

/// A scheduled item as stored, for its retries and its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRow {
    pub id: ScheduledId,
    pub user: UserId,
    pub kind: ScheduledKind,
    pub conversation: Option<ConversationId>,
    pub body: String,
    pub due_at: i64,
    pub client_id: String,
}

/// A scheduled item to store (already validated).
#[derive(Debug, Clone)]
pub struct NewScheduled {
    pub user: UserId,
    pub kind: ScheduledKind,
    pub conversation: Option<ConversationId>,
    pub body: String,
    pub due_at: i64,
    pub client_id: String,
}

/// Reading scheduled items.
pub trait ScheduledRead {
    /// Item `id` (with the peer of its conversation) and its author.
    fn scheduled_item(&self, id: ScheduledId) -> StoreResult<Option<(UserId, ScheduledItem)>>;
    /// `user`'s pending items by due time, then id; with `finished_since`,
    /// also the ones finished (or, unfinished, made) since then.
    fn scheduled_items(&self, user: UserId, finished_since: Option<i64>) -> StoreResult<Vec<ScheduledItem>>;
    fn scheduled_by_client_id(&self, user: UserId, client_id: &str) -> StoreResult<Option<ScheduledRow>>;
    /// How many of `user`'s items are pending.
    fn pending_scheduled(&self, user: UserId) -> StoreResult<u32>;
    /// When the next pending item is due.
    fn next_scheduled_due(&self) -> StoreResult<Option<i64>>;
    /// Pending items due by `now`, by due time then id, at most `limit`.
    fn due_scheduled(&self, now: i64, limit: u32) -> StoreResult<Vec<ScheduledId>>;
}

/// Changing scheduled items, inside the request's transaction.
pub trait ScheduledWrite: ScheduledRead {
    fn insert_scheduled(&mut self, item: &NewScheduled) -> StoreResult<ScheduledId>;
    /// Item `id` if it is pending and due by now, held for this transaction
    /// alone: a node already delivering it (PostgreSQL) makes it `None`.
    fn claim_due_scheduled(&mut self, id: ScheduledId) -> StoreResult<Option<ScheduledRow>>;
    /// Records how item `id` ended, now.
    fn finish_scheduled(
        &mut self,
        id: ScheduledId,
        status: ScheduledStatus,
        message: Option<MessageId>,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// Empties the text of `sender`'s scheduled items that became message
    /// `id`, in their rows and in their `scheduled_updated` events.
    fn forget_scheduled_text(&mut self, sender: UserId, id: MessageId) -> StoreResult<()>;
}
