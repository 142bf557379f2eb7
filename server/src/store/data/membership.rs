//! Who is in which conversation: what almost every rule asks before it
//! acts or tells anyone.

use crate::store::StoreResult;
use mchat_shared::{ConversationId, UserId};

/// Reading conversation membership.
pub trait MembershipRead {
    /// The participants of `conv`, by id.
    fn participants(&self, conv: ConversationId) -> StoreResult<Vec<UserId>>;
    /// Everyone who shares a conversation with `user`.
    fn contacts(&self, user: UserId) -> StoreResult<Vec<UserId>>;
    /// A user's username.
    fn username(&self, user: UserId) -> StoreResult<String>;
}
