//! `/v1/scheduled`: scheduled messages and reminders.

use crate::error::ApiError;

pub async fn list() -> ApiError {
    super::not_yet()
}

pub async fn create() -> ApiError {
    super::not_yet()
}

pub async fn cancel() -> ApiError {
    super::not_yet()
}
