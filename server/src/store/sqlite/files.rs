//! Files on SQLite: the `files` table and the messages that carry them.

use super::SqliteConn;
use super::messages::json_ids;
use crate::store::data::{FilesRead, FilesWrite, NewFile};
use crate::store::rows::{FILE_COLUMNS, file_at};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{Attachment, FileInfo};
use mchat_shared::{FileId, MessageId, UserId};
use rusqlite::{OptionalExtension, params};

fn file_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileInfo> {
    file_at(r, 0)
}

impl<C: SqliteConn> FilesRead for C {
    fn file(&self, id: FileId) -> StoreResult<Option<FileInfo>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1"))?
            .query_row([id.0], file_from_row)
            .optional()?)
    }

    fn readable_file(&self, user: UserId, id: FileId) -> StoreResult<Option<FileInfo>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1 AND (f.uploader_id = ?2 OR EXISTS( \
                 SELECT 1 FROM messages m JOIN participants p ON p.conversation_id = m.conversation_id \
                 WHERE m.file_id = f.id AND m.deleted_at IS NULL AND p.user_id = ?2))"
            ))?
            .query_row(params![id.0, user.0], file_from_row)
            .optional()?)
    }

    fn uploaded_by(&self, file: FileId, user: UserId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM files WHERE id = ?1 AND uploader_id = ?2)")?
            .query_row(params![file.0, user.0], |r| r.get(0))?)
    }

    fn attachments(&self, ids: &[MessageId]) -> StoreResult<Vec<(MessageId, Attachment)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT m.id, f.id, f.name, f.size, f.content_type FROM messages m JOIN files f ON f.id = m.file_id \
             WHERE m.id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([json_ids(ids)], |r| {
            Ok((
                MessageId(r.get(0)?),
                Attachment {
                    id: FileId(r.get(1)?),
                    name: r.get(2)?,
                    size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    content_type: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn blob_hashes(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self.conn().prepare("SELECT DISTINCT sha256 FROM files")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn file_carried(&self, file: FileId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE file_id = ?1)")?
            .query_row([file.0], |r| r.get(0))?)
    }

    fn blob_named(&self, sha256: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM files WHERE sha256 = ?1)")?
            .query_row([sha256], |r| r.get(0))?)
    }
}

impl FilesWrite for WriteCtx<'_> {
    fn insert_file(&mut self, f: &NewFile) -> StoreResult<FileId> {
        self.conn
            .prepare_cached(
                "INSERT INTO files (uploader_id, sha256, name, size, content_type, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                f.uploader.0,
                f.sha256,
                f.name,
                f.size,
                f.content_type,
                self.now
            ])?;
        Ok(FileId(self.conn.last_insert_rowid()))
    }

    fn take_message_file(&mut self, id: MessageId) -> StoreResult<Option<FileId>> {
        let file = self
            .conn
            .prepare_cached("SELECT file_id FROM messages WHERE id = ?1")?
            .query_row([id.0], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten()
            .map(FileId);
        if file.is_some() {
            self.conn
                .prepare_cached("UPDATE messages SET file_id = NULL WHERE id = ?1")?
                .execute([id.0])?;
        }
        Ok(file)
    }

    fn condemn_blob(&mut self, _sha256: &str) -> StoreResult<Option<bool>> {
        Ok(None)
    }

    fn delete_file(&mut self, file: FileId) -> StoreResult<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM files WHERE id = ?1 RETURNING sha256")?
            .query_row([file.0], |r| r.get(0))
            .optional()?)
    }
}
