//! Full-text search: `GET /v1/search`.

use super::{Client, ClientError};
use mchat_shared::api::{SearchQuery, SearchResults};

impl Client {
    /// `GET /v1/search?q=&with=&conversation=&limit=`: my messages matching
    /// `q.q`, best first, with highlighted snippets.
    pub async fn search(&self, q: &SearchQuery) -> Result<SearchResults, ClientError> {
        let mut query = vec![("q", q.q.clone())];
        if let Some(with) = &q.with {
            query.push(("with", with.clone()));
        }
        if let Some(c) = q.conversation {
            query.push(("conversation", c.to_string()));
        }
        if let Some(l) = q.limit {
            query.push(("limit", l.to_string()));
        }
        self.get("/v1/search", &query).await
    }
}
