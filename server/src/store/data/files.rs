//! What the file rules (`store/files.rs`) need from storage: upload rows,
//! who may read them, and which messages carry them.

use crate::store::StoreResult;
use mchat_shared::api::{Attachment, FileInfo};
use mchat_shared::{FileId, MessageId, UserId};

/// A recorded upload.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub uploader: UserId,
    pub sha256: String,
    pub name: String,
    pub size: i64,
    pub content_type: String,
}

/// Reading files.
pub trait FilesRead {
    fn file(&self, id: FileId) -> StoreResult<Option<FileInfo>>;
    /// File `id` if `user` uploaded it or takes part in a conversation with
    /// a message (not deleted) that carries it.
    fn readable_file(&self, user: UserId, id: FileId) -> StoreResult<Option<FileInfo>>;
    /// Whether `user` uploaded `file`.
    fn uploaded_by(&self, file: FileId, user: UserId) -> StoreResult<bool>;
    /// The attachments of these messages.
    fn attachments(&self, ids: &[MessageId]) -> StoreResult<Vec<(MessageId, Attachment)>>;
    /// Every hash a file row names.
    fn blob_hashes(&self) -> StoreResult<Vec<String>>;
    /// Whether a message carries `file`.
    fn file_carried(&self, file: FileId) -> StoreResult<bool>;
    /// Whether a file row names these bytes.
    fn blob_named(&self, sha256: &str) -> StoreResult<bool>;
}

/// Changing files, inside the request's transaction.
pub trait FilesWrite: FilesRead {
    fn insert_file(&mut self, f: &NewFile) -> StoreResult<FileId>;
    /// Takes message `id`'s file away from it; the file it carried.
    fn take_message_file(&mut self, id: MessageId) -> StoreResult<Option<FileId>>;
    /// Deletes the row of `file`; the hash it named.
    fn delete_file(&mut self, file: FileId) -> StoreResult<Option<String>>;
    /// Condemns the blob of `sha256` in the database, for nodes that share
    /// their blobs (`postgres/blob_marks.rs`): `Some(false)` when an upload
    /// holds it pinned. `None`: this backend has one process, whose own
    /// marks (`store/blobs.rs`) decide.
    fn condemn_blob(&mut self, sha256: &str) -> StoreResult<Option<bool>>;
}
