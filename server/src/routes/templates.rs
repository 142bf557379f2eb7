//! `/v1/templates`: saved replies.

use crate::error::ApiError;

pub async fn list() -> ApiError {
    super::not_yet()
}

pub async fn put() -> ApiError {
    super::not_yet()
}

pub async fn delete() -> ApiError {
    super::not_yet()
}
