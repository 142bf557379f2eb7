//! `/v1/messages/{id}`: read one, edit, delete, and reactions.

use crate::error::ApiError;

pub async fn get_one() -> ApiError {
    super::not_yet()
}

pub async fn edit() -> ApiError {
    super::not_yet()
}

pub async fn delete() -> ApiError {
    super::not_yet()
}

pub async fn react_add() -> ApiError {
    super::not_yet()
}

pub async fn react_remove() -> ApiError {
    super::not_yet()
}
