//! `/v1/search`: full-text search over my messages.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::openapi::responses::{Invalid, NotFound, Unauthorized};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{SearchQuery, SearchResults};
use mchat_shared::limits::{SEARCH_DEFAULT, SEARCH_MAX, SEARCH_QUERY_MAX_CHARS};

/// Full-text search over the messages I can see, best match first.
///
/// 404 when `with` or `conversation` names no user or conversation of mine.
#[utoipa::path(get, path = "/search", tag = "search", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "Hits", body = SearchResults),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let q = query.q.trim();
    if q.is_empty() {
        return Err(ApiError::invalid_query("q is empty: give words to search for"));
    }
    if q.chars().count() > SEARCH_QUERY_MAX_CHARS {
        return Err(ApiError::invalid_query(format!(
            "q is limited to {SEARCH_QUERY_MAX_CHARS} characters"
        )));
    }
    if q.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(ApiError::invalid_query("q must not contain control characters"));
    }
    let limit = query.limit.unwrap_or(SEARCH_DEFAULT);
    if !(1..=SEARCH_MAX).contains(&limit) {
        return Err(ApiError::invalid_query(format!(
            "limit must be 1 to {SEARCH_MAX}"
        )));
    }
    let with = query.with.as_deref().map(str::trim).filter(|w| !w.is_empty());
    let results = state
        .store
        .search(
            me.user_id,
            q.to_owned(),
            with.map(str::to_owned),
            query.conversation,
            limit,
        )
        .await?;
    Ok(Json(results))
}
