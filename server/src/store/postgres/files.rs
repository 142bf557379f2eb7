//! Files on PostgreSQL: the `files` table and the messages that carry them.

use super::rows::id_array;
use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{FilesRead, FilesWrite, NewFile};
use crate::store::rows::{FILE_COLUMNS, file_at};
use mchat_shared::api::{Attachment, FileInfo};
use mchat_shared::{FileId, MessageId, UserId};
use tokio_postgres::Row;

fn file_from_row(r: &Row) -> StoreResult<FileInfo> {
    Ok(file_at(r, 0)?)
}

impl FilesRead for PgTx<'_> {
    fn file(&self, id: FileId) -> StoreResult<Option<FileInfo>> {
        self.wait(self.tx().query_opt(
            &format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1"),
            &[&id.0],
        ))?
        .as_ref()
        .map(file_from_row)
        .transpose()
    }

    fn readable_file(&self, user: UserId, id: FileId) -> StoreResult<Option<FileInfo>> {
        self.wait(self.tx().query_opt(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1 AND (f.uploader_id = $2 OR EXISTS( \
                 SELECT 1 FROM messages m JOIN participants p ON p.conversation_id = m.conversation_id \
                 WHERE m.file_id = f.id AND m.deleted_at IS NULL AND p.user_id = $2))"
            ),
            &[&id.0, &user.0],
        ))?
        .as_ref()
        .map(file_from_row)
        .transpose()
    }

    fn uploaded_by(&self, file: FileId, user: UserId) -> StoreResult<bool> {
        let r = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM files WHERE id = $1 AND uploader_id = $2)",
            &[&file.0, &user.0],
        ))?;
        Ok(r.try_get(0)?)
    }

    fn attachments(&self, ids: &[MessageId]) -> StoreResult<Vec<(MessageId, Attachment)>> {
        self.wait(self.tx().query(
            "SELECT m.id, f.id, f.name, f.size, f.content_type FROM messages m JOIN files f ON f.id = m.file_id \
             WHERE m.id = ANY($1)",
            &[&id_array(ids)],
        ))?
        .iter()
        .map(|r| {
            Ok((
                MessageId(r.try_get(0)?),
                Attachment {
                    id: FileId(r.try_get(1)?),
                    name: r.try_get(2)?,
                    size: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                    content_type: r.try_get(4)?,
                },
            ))
        })
        .collect()
    }

    fn blob_hashes(&self) -> StoreResult<Vec<String>> {
        self.wait(self.tx().query("SELECT DISTINCT sha256 FROM files", &[]))?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    fn file_carried(&self, file: FileId) -> StoreResult<bool> {
        let r = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE file_id = $1)",
            &[&file.0],
        ))?;
        Ok(r.try_get(0)?)
    }

    fn blob_named(&self, sha256: &str) -> StoreResult<bool> {
        let r = self.wait(
            self.tx()
                .query_one("SELECT EXISTS(SELECT 1 FROM files WHERE sha256 = $1)", &[&sha256]),
        )?;
        Ok(r.try_get(0)?)
    }
}

impl FilesWrite for PgTx<'_> {
    fn insert_file(&mut self, f: &NewFile) -> StoreResult<FileId> {
        let r = self.wait(self.tx().query_one(
            "INSERT INTO files (uploader_id, sha256, name, size, content_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &f.uploader.0,
                &f.sha256,
                &f.name,
                &f.size,
                &f.content_type,
                &self.now,
            ],
        ))?;
        Ok(FileId(r.try_get(0)?))
    }

    fn take_message_file(&mut self, id: MessageId) -> StoreResult<Option<FileId>> {
        // The old value, read in the same statement that clears it.
        let row = self.wait(self.tx().query_opt(
            "UPDATE messages m SET file_id = NULL FROM messages old \
             WHERE m.id = $1 AND old.id = m.id AND old.file_id IS NOT NULL RETURNING old.file_id",
            &[&id.0],
        ))?;
        Ok(match row {
            Some(r) => Some(FileId(r.try_get(0)?)),
            None => None,
        })
    }

    fn condemn_blob(&mut self, sha256: &str) -> StoreResult<Option<bool>> {
        super::blob_marks::condemn(self, sha256).map(Some)
    }

    fn delete_file(&mut self, file: FileId) -> StoreResult<Option<String>> {
        let row = self.wait(
            self.tx()
                .query_opt("DELETE FROM files WHERE id = $1 RETURNING sha256", &[&file.0]),
        )?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }
}
