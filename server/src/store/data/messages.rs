//! What the message rules (`store/messages.rs`, `message_actions.rs`,
//! `hydrate.rs`) need from storage: message rows, the pieces that complete
//! them (quotes, reactions), earlier texts, and the log's stored copies.

use crate::store::StoreResult;
use mchat_shared::api::{
    ConversationStatus, Message, MessageEdit, MessageKind, ReplyQuote, Role, SystemAction,
};
use mchat_shared::{ConversationId, FileId, MessageId, UserId};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub sender: Option<UserId>,
    pub kind: MessageKind,
    pub body: String,
    pub system: Option<SystemAction>,
    pub client_id: Option<String>,
    pub reply_to: Option<MessageId>,
    pub file: Option<FileId>,
}

/// What a sender's earlier message with a `client_id` was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBefore {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub body: String,
    pub file: Option<FileId>,
}

/// What the action checks need to know about a message and its asker.
#[derive(Debug, Clone)]
pub struct MessageTarget {
    pub conversation: ConversationId,
    pub sender: Option<UserId>,
    pub kind: MessageKind,
    pub body: String,
    pub deleted: bool,
    pub status: ConversationStatus,
    /// Whether the asker takes part in the conversation.
    pub member: bool,
    pub asker_role: Option<Role>,
}

/// One reaction row: message, emoji, username.
pub type ReactionRow = (MessageId, String, String);

/// Reading messages.
pub trait MessagesRead {
    /// Message `id` as stored (a tombstone without text), not hydrated.
    fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// The conversation message `id` is in.
    fn message_conversation(&self, id: MessageId) -> StoreResult<Option<ConversationId>>;
    /// At most `limit` messages of `conv` after `after`, oldest first.
    fn messages_after(&self, conv: ConversationId, after: MessageId, limit: u32)
    -> StoreResult<Vec<Message>>;
    /// At most `limit` messages of `conv` before `before`, newest first.
    fn messages_before(&self, conv: ConversationId, before: i64, limit: u32) -> StoreResult<Vec<Message>>;
    fn sent_with_client_id(&self, sender: UserId, client_id: &str) -> StoreResult<Option<SentBefore>>;
    /// Whether message `id` is in `conv`.
    fn message_in(&self, conv: ConversationId, id: MessageId) -> StoreResult<bool>;
    /// The messages that reply to `id`.
    fn replies_to(&self, id: MessageId) -> StoreResult<Vec<MessageId>>;
    /// The quotes of these messages: sender, the first `chars` characters
    /// of the text (empty once deleted), and whether it was deleted.
    fn quotes(&self, ids: &[MessageId], chars: usize) -> StoreResult<Vec<ReplyQuote>>;
    /// The reactions to these messages, in the order shown: by message,
    /// then when, then username.
    fn reactions(&self, ids: &[MessageId]) -> StoreResult<Vec<ReactionRow>>;
    /// Message `id` and `asker`'s relation to it; `None` when there is no such message.
    fn message_target(&self, asker: UserId, id: MessageId) -> StoreResult<Option<MessageTarget>>;
    /// The earlier texts of `id`, newest first.
    fn message_edits(&self, id: MessageId) -> StoreResult<Vec<MessageEdit>>;
    /// Whether `user` reacted to `id` with `emoji`, and with how many emoji in all.
    fn my_reactions(&self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<(bool, u32)>;
}

/// Changing messages, inside the request's transaction.
pub trait MessagesWrite: MessagesRead {
    /// Stores a message at now; its id is greater than every earlier one.
    fn insert_message(&mut self, m: &NewMessage) -> StoreResult<MessageId>;
    /// Keeps `old` as an earlier text of `id` and sets its text to `new`, edited now.
    fn replace_body(&mut self, id: MessageId, old: &str, new: &str) -> StoreResult<()>;
    /// Empties message `id` to a tombstone deleted now, without its earlier
    /// texts or reactions.
    fn tombstone(&mut self, id: MessageId) -> StoreResult<()>;
    /// Adds a reaction, strictly after every other reaction to `id` (writes
    /// that share `now` keep their order).
    fn add_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()>;
    fn remove_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()>;
    /// Rewrites every stored copy of `message` in the event log (the events
    /// that carry it) to `message` as it is now; kinds, seqs and times stay.
    fn rewrite_logged(&mut self, message: &Message) -> StoreResult<()>;
}
