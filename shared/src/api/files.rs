//! Attachments: `POST /v1/files` streams the bytes up (name in the query,
//! type in `Content-Type`) and answers a [`FileInfo`]; a message then carries
//! the file by id. `GET /v1/files/{id}` streams them back to participants.

use crate::{FileId, Timestamp};
use serde::{Deserialize, Serialize};

/// `POST /v1/files?name=report.pdf` query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The original file name (stored; sanitised again on download).
    pub name: String,
}

/// An uploaded file, as its uploader sees it right after the upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Hex SHA-256 of the bytes (the content address).
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// A file as a message shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}
