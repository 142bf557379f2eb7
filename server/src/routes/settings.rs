//! `/v1/conversations/{id}/settings`: mute and archive.

use crate::error::ApiError;

pub async fn put_settings() -> ApiError {
    super::not_yet()
}
