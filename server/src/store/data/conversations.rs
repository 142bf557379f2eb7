//! What the conversation rules (`store/conversations.rs`, `messages.rs`,
//! `settings.rs`) need from storage: a conversation as one participant sees
//! it, its status, the pair key of a direct conversation, and each
//! participant's row (markers, muted, archived).

use crate::store::StoreResult;
use crate::store::rows::{brief, marker, ts, ts_opt};
use mchat_shared::api::{Conversation, ConversationStatus, Message, ReadMarker, User};
use mchat_shared::{ConversationId, MessageId, UserId};

/// One conversation as a participant sees it, as stored; the rules turn it
/// into the wire's [`Conversation`] with [`ConversationRow::into_conversation`].
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub status: ConversationStatus,
    /// The requester's username.
    pub requested_by: String,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub expires_at: Option<i64>,
    /// The participant it is seen by.
    pub me: UserId,
    pub mine: ParticipantRow,
    pub peer: User,
    pub peer_delivered: MessageId,
    pub peer_read: MessageId,
    /// Messages after my read marker that are not mine.
    pub unread: u32,
    /// Who wrote the newest text (not system) message.
    pub last_text_sender: Option<UserId>,
    /// The newest message, not hydrated yet.
    pub last_message: Option<Message>,
}

impl ConversationRow {
    /// The wire form, seen by `my_name`.
    pub fn into_conversation(self, my_name: String) -> Conversation {
        let open = matches!(
            self.status,
            ConversationStatus::Pending | ConversationStatus::Accepted
        );
        Conversation {
            id: self.id,
            status: self.status,
            requested_by: self.requested_by,
            created_at: ts(self.created_at),
            last_activity_at: ts(self.last_activity_at),
            expires_at: if self.status == ConversationStatus::Pending {
                ts_opt(self.expires_at)
            } else {
                None
            },
            my_markers: marker(my_name, self.mine.delivered_up_to, self.mine.read_up_to),
            muted: self.mine.muted,
            archived: self.mine.archived,
            peer_markers: marker(self.peer.username.clone(), self.peer_delivered, self.peer_read),
            unread: self.unread,
            awaiting_reply: open && self.last_text_sender.is_some_and(|s| s != self.me),
            peer: brief(&self.peer),
            last_message: self.last_message,
        }
    }
}

/// One participant's own row of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantRow {
    pub delivered_up_to: MessageId,
    pub read_up_to: MessageId,
    pub muted: bool,
    pub archived: bool,
}

/// A direct conversation found by its pair key.
#[derive(Debug, Clone, Copy)]
pub struct DirectConversation {
    pub id: ConversationId,
    pub status: ConversationStatus,
    pub requested_by: UserId,
}

/// The key of the one direct conversation between two users.
pub fn direct_key(a: UserId, b: UserId) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

/// Reading conversations.
pub trait ConversationsRead {
    /// Conversation `conv` as `me` sees it; `None` unless `me` takes part.
    fn conversation_row(&self, me: UserId, conv: ConversationId) -> StoreResult<Option<ConversationRow>>;
    /// `me`'s conversations, archived ones only or none of them, most
    /// recent activity first, then the newest last message, then the id.
    fn conversation_rows(&self, me: UserId, archived: bool) -> StoreResult<Vec<ConversationRow>>;
    /// Status and requester of `conv`; `None` unless `me` takes part.
    fn conversation_status(
        &self,
        me: UserId,
        conv: ConversationId,
    ) -> StoreResult<Option<(ConversationStatus, UserId)>>;
    fn direct_conversation(&self, key: &str) -> StoreResult<Option<DirectConversation>>;
    /// Requests still pending at `now` past their deadline (at most `limit`),
    /// with their requester.
    fn due_requests(&self, now: i64, limit: u32) -> StoreResult<Vec<(ConversationId, UserId)>>;
    /// `user`'s own row of `conv`.
    fn participant(&self, conv: ConversationId, user: UserId) -> StoreResult<Option<ParticipantRow>>;
    /// Every participant's markers, by username (byte order).
    fn markers(&self, conv: ConversationId) -> StoreResult<Vec<ReadMarker>>;
    /// The newest message of `conv` (0 for none).
    fn last_message_id(&self, conv: ConversationId) -> StoreResult<MessageId>;
    /// Messages of `conv` after `after` that `me` did not write.
    fn unread_count(&self, me: UserId, conv: ConversationId, after: MessageId) -> StoreResult<u32>;
    /// The participants who archived `conv`, with whether they muted it.
    fn archived_by(&self, conv: ConversationId) -> StoreResult<Vec<(UserId, bool)>>;
}

/// Changing conversations, inside the request's transaction.
pub trait ConversationsWrite: ConversationsRead {
    /// Holds `conv` until COMMIT: changes to one conversation (its status,
    /// its messages, whose ids then follow commit order) take turns. A
    /// single writer (SQLite) has nothing to do.
    fn lock_conversation(&mut self, conv: ConversationId) -> StoreResult<()>;
    /// A new pending direct conversation; its participants are added apart.
    /// `None` when another transaction created the one of `key` meanwhile
    /// (two first requests of a pair at once, through two nodes): look it
    /// up again.
    fn insert_conversation(
        &mut self,
        key: &str,
        requester: UserId,
        expires_at: i64,
    ) -> StoreResult<Option<ConversationId>>;
    fn insert_participant(&mut self, conv: ConversationId, user: UserId) -> StoreResult<()>;
    /// Sets the status (and its deadline), as a change of now.
    fn set_conversation_status(
        &mut self,
        conv: ConversationId,
        status: ConversationStatus,
        expires_at: Option<i64>,
    ) -> StoreResult<()>;
    /// Makes `conv` a pending request of `requester` again.
    fn renew_request(&mut self, conv: ConversationId, requester: UserId, expires_at: i64) -> StoreResult<()>;
    /// Records `last` as the newest message (and newest text one when
    /// `is_text`), as activity of now.
    fn touch_conversation(&mut self, conv: ConversationId, last: MessageId, is_text: bool)
    -> StoreResult<()>;
    fn set_markers(
        &mut self,
        conv: ConversationId,
        user: UserId,
        delivered: MessageId,
        read: MessageId,
    ) -> StoreResult<()>;
    fn set_settings(
        &mut self,
        conv: ConversationId,
        user: UserId,
        muted: bool,
        archived: bool,
    ) -> StoreResult<()>;
    /// Unarchives `conv` for everyone who archived it.
    fn unarchive(&mut self, conv: ConversationId) -> StoreResult<()>;
}
