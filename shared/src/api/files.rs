//! Attachments: `POST /v1/files` streams the bytes up (name in the query,
//! type in `Content-Type`) and answers a [`FileInfo`]; a message then carries
//! the file by id. `GET /v1/files/{id}` streams them back to participants.

use crate::{FileId, Timestamp};
use serde::{Deserialize, Serialize};

/// `POST /v1/files?name=report.pdf` query.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The original file name (stored; sanitised again on download).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 255))]
    pub name: String,
}

/// An uploaded file, as its uploader sees it right after the upload.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Hex SHA-256 of the bytes (the content address).
    pub sha256: String,
    pub created_at: Timestamp,
}

/// A file as a message shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}
