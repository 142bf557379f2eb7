//! `/v1/search`: full-text search over my messages.

use crate::error::ApiError;

pub async fn search() -> ApiError {
    super::not_yet()
}
