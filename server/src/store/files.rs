//! Attachments: file rows (bytes live content-addressed under the data dir), who may fetch them, and attaching them to messages.
//!
//! The bytes themselves are written by the upload handler (routes/files.rs)
//! to `<data dir>/files/ab/cdef…` (the SHA-256 of the content); this module
//! keeps one row per upload (who, under which name and type) and answers
//! who may read it: the uploader, and the participants of a conversation
//! with a (non-deleted) message that carries it.

use super::rows::ts;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{Attachment, FileInfo, Message};
use mchat_shared::{ErrorCode, FileId};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;

/// The columns [`file_from_row`] reads, from the table alias `f`.
const FILE_COLUMNS: &str = "f.id, f.name, f.size, f.content_type, f.sha256, f.created_at";

fn file_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileInfo> {
    Ok(FileInfo {
        id: FileId(r.get(0)?),
        name: r.get(1)?,
        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        content_type: r.get(3)?,
        sha256: r.get(4)?,
        created_at: ts(r.get(5)?),
    })
}

/// Fills `attachment` on the messages that carry a file, with one query for the page.
pub(super) fn attachments(conn: &Connection, messages: &mut [Message]) -> StoreResult<()> {
    let Some(ids) = super::hydrate::live_ids(messages) else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, f.id, f.name, f.size, f.content_type FROM messages m JOIN files f ON f.id = m.file_id \
         WHERE m.id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut found: HashMap<i64, Attachment> = HashMap::new();
    let rows = stmt.query_map([ids], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Attachment {
                id: FileId(r.get(1)?),
                name: r.get(2)?,
                size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                content_type: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (id, attachment) = row?;
        found.insert(id, attachment);
    }
    for m in messages.iter_mut() {
        if let Some(a) = found.remove(&m.id.0) {
            m.attachment = Some(a);
        }
    }
    Ok(())
}

/// Checks that `file` was uploaded by `me` (the only files one may attach).
pub(super) fn check_own_file(conn: &Connection, me: i64, file: FileId) -> StoreResult<()> {
    let mine: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM files WHERE id = ?1 AND uploader_id = ?2)")?
        .query_row(params![file.0, me], |r| r.get(0))?;
    if mine {
        Ok(())
    } else {
        Err(StoreError::not_found("file"))
    }
}

impl Store {
    /// Records an upload whose bytes are already stored under their SHA-256.
    pub async fn insert_file(
        &self,
        uploader: i64,
        sha256: String,
        name: String,
        size: u64,
        content_type: String,
    ) -> StoreResult<FileInfo> {
        self.write(move |ctx| {
            let size = i64::try_from(size)
                .map_err(|_| StoreError::api(ErrorCode::PayloadTooLarge, "the file is too large"))?;
            ctx.conn
                .prepare_cached(
                    "INSERT INTO files (uploader_id, sha256, name, size, content_type, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![uploader, sha256, name, size, content_type, ctx.now])?;
            let id = ctx.conn.last_insert_rowid();
            Ok(ctx
                .conn
                .prepare_cached(&format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1"))?
                .query_row([id], file_from_row)?)
        })
        .await
    }

    /// A file `me` may download: one they uploaded, or one carried by a
    /// non-deleted message of a conversation they take part in. Anything
    /// else is "no such file" (existence is never revealed).
    pub async fn file_for_download(&self, me: i64, id: FileId) -> StoreResult<FileInfo> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1 AND (f.uploader_id = ?2 OR EXISTS( \
                 SELECT 1 FROM messages m JOIN participants p ON p.conversation_id = m.conversation_id \
                 WHERE m.file_id = f.id AND m.deleted_at IS NULL AND p.user_id = ?2))"
            ))?
            .query_row(params![id.0, me], file_from_row)
            .optional()?
            .ok_or_else(|| StoreError::not_found("file"))
        })
        .await
    }

    /// Prepares `<files dir>/tmp` for uploads and removes what an earlier
    /// run left there (uploads cut off by a crash or a restart). Blocking:
    /// call it at start, before serving.
    pub fn prepare_files_dir(files_dir: &Path) -> StoreResult<()> {
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
        Ok(())
    }
}
