//! What the search rules (`store/search.rs`) need from storage: the
//! caller's conversations, and the newest messages that match.

use crate::store::StoreResult;
use mchat_shared::{ConversationId, MessageId, UserId};

/// One piece of a search: a word or a quoted phrase, as the user typed it
/// and as search words (`store/search_words.rs`). A term matches its words
/// in a row; with `prefix`, the last one may be the start of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub text: String,
    pub words: Vec<String>,
    pub prefix: bool,
}

/// Reading what a search needs.
pub trait SearchRead {
    /// The conversations `user` takes part in, by id.
    fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>>;
    /// The conversations `me` shares with the user named `username`.
    fn conversations_with(&self, me: UserId, username: &str) -> StoreResult<Vec<ConversationId>>;
    /// The newest (at most `limit`) text and file messages, not deleted, of
    /// these conversations of `me`'s that match every term, newest first,
    /// with their bodies.
    fn search_window(
        &self,
        me: UserId,
        terms: &[SearchTerm],
        conversations: &[ConversationId],
        limit: u32,
    ) -> StoreResult<Vec<(MessageId, String)>>;
}
