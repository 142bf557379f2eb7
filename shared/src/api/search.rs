//! `GET /v1/search?q=&with=&conversation=&limit=`: full-text search over the
//! messages the caller can see (never anyone else's), best match first.

use super::messages::Message;
use crate::ConversationId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find (all of them, prefix match on the last); `"a phrase"` in quotes.
    pub q: String,
    /// Only the conversation with this user.
    #[serde(default)]
    pub with: Option<String>,
    /// Only this conversation.
    #[serde(default)]
    pub conversation: Option<ConversationId>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: Message,
    /// The other participant of the message's conversation.
    pub peer: String,
    /// The matching part of the body (whole words, `…` where cut).
    pub snippet: String,
    /// Character ranges `[start, end)` of `snippet` that matched the query.
    pub highlights: Vec<[u32; 2]>,
    /// Relevance (bm25; lower is better), for clients that merge pages.
    pub rank: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
}
