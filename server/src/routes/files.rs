//! `/v1/files`: streaming uploads and participant-only downloads.

use crate::error::ApiError;

pub async fn upload() -> ApiError {
    super::not_yet()
}

pub async fn download() -> ApiError {
    super::not_yet()
}
