//! What the notification rules (`store/notifications.rs`) need from
//! storage: one user's notifications, their read marks and counts.

use crate::store::StoreResult;
use mchat_shared::api::{Notification, NotificationKind};
use mchat_shared::{ConversationId, NotificationId, UserId};

/// Reading notifications.
pub trait NotificationsRead {
    /// `user`'s notifications, newest first, at most `limit`.
    fn notifications(&self, user: UserId, unread_only: bool, limit: u32) -> StoreResult<Vec<Notification>>;
    /// How many of `user`'s notifications are unread.
    fn unread_notifications(&self, user: UserId) -> StoreResult<u32>;
    /// One notification, as its owner sees it.
    fn notification(&self, id: NotificationId) -> StoreResult<Notification>;
    /// Whether notification `id` is `user`'s.
    fn owns_notification(&self, user: UserId, id: NotificationId) -> StoreResult<bool>;
    /// Whether `user` has an unread "message received" for `conv`.
    fn message_nudge_pending(&self, user: UserId, conv: ConversationId) -> StoreResult<bool>;
    /// Everything that decides whether a new message in `conv` nudges
    /// `user`, read at once (one statement on PostgreSQL, where each
    /// statement is a round trip).
    fn nudge_facts(&self, user: UserId, conv: ConversationId) -> StoreResult<NudgeFacts>;
}

/// What decides whether `user` gets a "message received" notification
/// (`messages.rs`, `notify_offline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NudgeFacts {
    /// A live socket on some node (`PresenceRead::online_on_a_node`).
    pub online_on_a_node: bool,
    /// `user` muted `conv`.
    pub muted: bool,
    /// A mentor who set themselves busy (do not disturb).
    pub busy: bool,
    /// An unread "message received" for `conv` is already there.
    pub pending: bool,
}

/// Changing notifications, inside the request's transaction.
pub trait NotificationsWrite: NotificationsRead {
    fn insert_notification(
        &mut self,
        user: UserId,
        kind: NotificationKind,
        body: &str,
        conversation: Option<ConversationId>,
        actor: Option<UserId>,
    ) -> StoreResult<NotificationId>;
    /// Marks all of `user`'s unread notifications read; how many.
    fn mark_all_notifications_read(&mut self, user: UserId) -> StoreResult<usize>;
    /// Marks `user`'s notification `id` read if it was unread; how many (0 or 1).
    fn mark_notification_read(&mut self, user: UserId, id: NotificationId) -> StoreResult<usize>;
    /// Marks `user`'s unread "message received" for `conv` read.
    fn clear_message_nudges(&mut self, user: UserId, conv: ConversationId) -> StoreResult<()>;
}
