//! `GET /v1/search?q=&with=&conversation=&limit=`: full-text search over the
//! messages the caller can see (never anyone else's), best match first.

use super::messages::Message;
use crate::ConversationId;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find (all of them, prefix match on the last); `"a phrase"` in quotes.
    #[cfg_attr(
        feature = "openapi",
        param(min_length = 1, max_length = 256, example = "borrow checker")
    )]
    pub q: String,
    /// Only the conversation with this user.
    #[serde(default)]
    pub with: Option<String>,
    /// Only this conversation.
    #[serde(default)]
    pub conversation: Option<ConversationId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// One match.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
}
