//! Attachments: file rows (bytes live content-addressed under the data dir), who may fetch them, and attaching them to messages.
//!
//! The bytes themselves are written by the upload handler (routes/files.rs)
//! to `<data dir>/files/ab/cdef…` (the SHA-256 of the content); this module
//! keeps one row per upload (who, under which name and type) and answers
//! who may read it: the uploader, and the participants of a conversation
//! with a (non-deleted) message that carries it. Deleting the last message
//! that carries a file removes its row, and its bytes once no row names them.
//! The rules live here, over the storage traits (`data/files.rs`).

use super::data::{NewFile, Read, Tx};
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::FileInfo;
use mchat_shared::{ErrorCode, FileId, MessageId, UserId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Checks that `file` was uploaded by `me` (the only files one may attach).
pub(super) fn check_own_file(r: &dyn Read, me: UserId, file: FileId) -> StoreResult<()> {
    if r.uploaded_by(file, me)? {
        Ok(())
    } else {
        Err(StoreError::not_found("file"))
    }
}

impl Store {
    /// Records an upload whose bytes are already stored under their SHA-256.
    pub async fn insert_file(
        &self,
        uploader: UserId,
        sha256: String,
        name: String,
        size: u64,
        content_type: String,
    ) -> StoreResult<FileInfo> {
        self.write_data(move |tx| {
            let size = i64::try_from(size)
                .map_err(|_| StoreError::api(ErrorCode::PayloadTooLarge, "the file is too large"))?;
            let id = tx.insert_file(&NewFile {
                uploader,
                sha256,
                name,
                size,
                content_type,
            })?;
            tx.file(id)?.ok_or_else(|| StoreError::not_found("file"))
        })
        .await
    }

    /// A file `me` may download: one they uploaded, or one carried by a
    /// non-deleted message of a conversation they take part in. Anything
    /// else is "no such file" (existence is never revealed).
    pub async fn file_for_download(&self, me: UserId, id: FileId) -> StoreResult<FileInfo> {
        self.read_data(move |r| {
            r.readable_file(me, id)?
                .ok_or_else(|| StoreError::not_found("file"))
        })
        .await
    }

    /// Prepares `<files dir>/tmp` for uploads and removes what an earlier
    /// run left behind: uploads cut off by a crash or a restart, and blobs
    /// no file row names any more (a deletion unlinks its blob after COMMIT;
    /// a crash in between leaves it here). Call it at start, before serving:
    /// no upload is then between its rename and its row.
    pub async fn prepare_files_dir(&self, files_dir: PathBuf) -> StoreResult<()> {
        let known: HashSet<String> = self
            .read_data(|r| Ok(r.blob_hashes()?.into_iter().collect()))
            .await?;
        tokio::task::spawn_blocking(move || sweep_files_dir(&files_dir, &known))
            .await
            .map_err(|e| StoreError::Internal(format!("the files sweep failed: {e}")))?
    }

    /// Pins the blob of `sha256` until the guard drops: an upload takes it
    /// before it looks for those bytes in place and keeps it until its row
    /// is committed, so a concurrent deletion cannot unlink them under it.
    pub fn pin_blob(&self, sha256: &str) -> super::BlobPin {
        self.inner.blob_pins.pin(sha256)
    }

    /// Unlinks the blob a deletion condemned (after the COMMIT that removed
    /// the last row naming it), unless an upload has spared it since. A
    /// failure only leaves an orphan, which the next start removes.
    pub(crate) async fn remove_blob(&self, files_dir: &Path, doomed: super::blobs::Condemned) {
        let Some(path) = blob_path(files_dir, doomed.sha256()) else {
            tracing::error!(
                sha256 = doomed.sha256(),
                "not removing a blob with a malformed hash"
            );
            return;
        };
        let shown = path.display().to_string();
        match tokio::task::spawn_blocking(move || doomed.unlink(&path)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(path = %shown, error = %e, "cannot remove a deleted file's blob"),
            Err(e) => tracing::warn!(path = %shown, error = %e, "the blob unlink task failed"),
        }
    }

    /// The marks that keep a deletion's unlink off an upload's bytes.
    pub(super) fn blob_pins(&self) -> std::sync::Arc<super::blobs::BlobPins> {
        std::sync::Arc::clone(&self.inner.blob_pins)
    }
}

/// Takes a deleted message's file away from it: the message no longer
/// carries it, and when no other message does, its row goes too. Returns
/// the blob to unlink after COMMIT when no file row names those bytes any
/// more (an upload not yet sent keeps its row, and so the blob), condemned
/// here, inside the transaction that decided it (see `blobs`).
pub(super) fn detach_file(
    tx: &mut dyn Tx,
    pins: &std::sync::Arc<super::blobs::BlobPins>,
    message: MessageId,
) -> StoreResult<Option<super::blobs::Condemned>> {
    let Some(file) = tx.take_message_file(message)? else {
        return Ok(None);
    };
    if tx.file_carried(file)? {
        return Ok(None);
    }
    let Some(sha) = tx.delete_file(file)? else {
        return Ok(None);
    };
    Ok(if tx.blob_named(&sha)? {
        None
    } else {
        pins.condemn(sha)
    })
}

/// `files/ab/cdef…` for a hex SHA-256; `None` for anything else, so a
/// stored value can never name a path outside the files directory.
fn blob_path(files_dir: &Path, sha256: &str) -> Option<PathBuf> {
    (sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| files_dir.join(&sha256[..2]).join(&sha256[2..]))
}

/// The blocking half of [`Store::prepare_files_dir`].
fn sweep_files_dir(files_dir: &Path, known: &HashSet<String>) -> StoreResult<()> {
    let tmp = files_dir.join("tmp");
    let fail = |e: std::io::Error| StoreError::Internal(format!("cannot prepare {}: {e}", tmp.display()));
    std::fs::create_dir_all(&tmp).map_err(fail)?;
    let mut removed = 0usize;
    for entry in std::fs::read_dir(&tmp).map_err(fail)? {
        let path = entry.map_err(fail)?.path();
        if path.is_file() && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed unfinished uploads");
    }
    let fail = |e: std::io::Error| StoreError::Internal(format!("cannot sweep {}: {e}", files_dir.display()));
    let mut orphans = 0usize;
    for prefix in std::fs::read_dir(files_dir).map_err(fail)? {
        let prefix = prefix.map_err(fail)?;
        let head = prefix.file_name().to_string_lossy().into_owned();
        if head.len() != 2 || !prefix.path().is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(prefix.path()).map_err(fail)? {
            let blob = blob.map_err(fail)?;
            let sha = format!("{head}{}", blob.file_name().to_string_lossy());
            if blob_path(files_dir, &sha).is_some()
                && !known.contains(&sha)
                && std::fs::remove_file(blob.path()).is_ok()
            {
                orphans += 1;
            }
        }
    }
    if orphans > 0 {
        tracing::info!(orphans, "removed blobs no file names any more");
    }
    Ok(())
}
