//! What presence (the real-time layer's online/offline) needs from storage.

use crate::store::StoreResult;
use mchat_shared::api::Availability;
use mchat_shared::{Timestamp, UserId};

/// A participant of a conversation, as the hub needs it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: UserId,
    pub username: String,
}

/// What presence shows of a user.
#[derive(Debug, Clone)]
pub struct PresenceInfo {
    pub username: String,
    /// Mentors only.
    pub availability: Option<Availability>,
    pub last_seen: Option<Timestamp>,
}

/// Reading what presence shows.
pub trait PresenceRead {
    fn presence_info(&self, user: UserId) -> StoreResult<PresenceInfo>;
    /// Whether the nodes sharing the database hold a live connection of
    /// `user` (PostgreSQL counts them: `postgres/nodes.rs`). A SQLite
    /// database has one node, whose hub answers alone: false.
    fn online_on_a_node(&self, user: UserId) -> StoreResult<bool>;
}

/// Recording presence.
pub trait PresenceWrite: PresenceRead {
    /// Sets `user`'s `last_seen` to the transaction's now.
    fn touch_last_seen(&mut self, user: UserId) -> StoreResult<()>;
}
