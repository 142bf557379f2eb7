//! Scheduled items on SQLite: the `scheduled` table. The one writer runs
//! each delivery alone, so claiming a due item is reading it.

use super::SqliteConn;
use crate::store::data::{NewScheduled, ScheduledRead, ScheduledRow, ScheduledWrite};
use crate::store::rows::{
    SCHEDULED_ROW_COLUMNS, SCHEDULED_SELECT, scheduled_at, scheduled_kind_str, scheduled_row_at,
    scheduled_status_str,
};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{ScheduledItem, ScheduledStatus};
use mchat_shared::{MessageId, ScheduledId, UserId};
use rusqlite::{OptionalExtension, params};

impl<C: SqliteConn> ScheduledRead for C {
    fn scheduled_item(&self, id: ScheduledId) -> StoreResult<Option<(UserId, ScheduledItem)>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{SCHEDULED_SELECT} WHERE s.id = ?1"))?
            .query_row([id.0], |r| scheduled_at(r))
            .optional()?)
    }

    fn scheduled_items(&self, user: UserId, finished_since: Option<i64>) -> StoreResult<Vec<ScheduledItem>> {
        let conn = self.conn();
        Ok(match finished_since {
            Some(since) => conn
                .prepare_cached(&format!(
                    "{SCHEDULED_SELECT} WHERE s.user_id = ?1 \
                     AND (s.status = 'pending' OR COALESCE(s.finished_at, s.created_at) >= ?2) \
                     ORDER BY s.due_at, s.id"
                ))?
                .query_map(params![user.0, since], |r| scheduled_at(r).map(|(_, item)| item))?
                .collect::<Result<Vec<_>, _>>()?,
            None => conn
                .prepare_cached(&format!(
                    "{SCHEDULED_SELECT} WHERE s.user_id = ?1 AND s.status = 'pending' ORDER BY s.due_at, s.id"
                ))?
                .query_map([user.0], |r| scheduled_at(r).map(|(_, item)| item))?
                .collect::<Result<Vec<_>, _>>()?,
        })
    }

    fn scheduled_by_client_id(&self, user: UserId, client_id: &str) -> StoreResult<Option<ScheduledRow>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {SCHEDULED_ROW_COLUMNS} FROM scheduled s WHERE s.user_id = ?1 AND s.client_id = ?2"
            ))?
            .query_row(params![user.0, client_id], |r| scheduled_row_at(r))
            .optional()?)
    }

    fn pending_scheduled(&self, user: UserId) -> StoreResult<u32> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM scheduled WHERE user_id = ?1 AND status = 'pending'")?
            .query_row([user.0], |r| r.get(0))?)
    }

    fn next_scheduled_due(&self) -> StoreResult<Option<i64>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT MIN(due_at) FROM scheduled WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?)
    }

    fn due_scheduled(&self, now: i64, limit: u32) -> StoreResult<Vec<ScheduledId>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id FROM scheduled WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
            )?
            .query_map(params![now, limit], |r| r.get(0).map(ScheduledId))?
            .collect::<Result<Vec<_>, _>>()?)
    }
}

impl ScheduledWrite for WriteCtx<'_> {
    fn insert_scheduled(&mut self, item: &NewScheduled) -> StoreResult<ScheduledId> {
        self.conn
            .prepare_cached(
                "INSERT INTO scheduled (user_id, kind, conversation_id, body, due_at, client_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                item.user.0,
                scheduled_kind_str(item.kind),
                item.conversation.map(|c| c.0),
                item.body,
                item.due_at,
                item.client_id,
                self.now
            ])?;
        Ok(ScheduledId(self.conn.last_insert_rowid()))
    }

    fn claim_due_scheduled(&mut self, id: ScheduledId) -> StoreResult<Option<ScheduledRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SCHEDULED_ROW_COLUMNS} FROM scheduled s \
                 WHERE s.id = ?1 AND s.status = 'pending' AND s.due_at <= ?2"
            ))?
            .query_row(params![id.0, self.now], |r| scheduled_row_at(r))
            .optional()?)
    }

    fn finish_scheduled(
        &mut self,
        id: ScheduledId,
        status: ScheduledStatus,
        message: Option<MessageId>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE scheduled SET status = ?2, message_id = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                scheduled_status_str(status),
                message.map(|m| m.0),
                error,
                self.now
            ])?;
        Ok(())
    }

    fn forget_scheduled_text(&mut self, sender: UserId, id: MessageId) -> StoreResult<()> {
        let items: Vec<ScheduledId> = self
            .conn
            .prepare_cached("SELECT id FROM scheduled WHERE user_id = ?1 AND message_id = ?2")?
            .query_map(params![sender.0, id.0], |r| r.get(0).map(ScheduledId))?
            .collect::<Result<_, _>>()?;
        for item in items {
            self.conn
                .prepare_cached("UPDATE scheduled SET body = '' WHERE id = ?1")?
                .execute([item.0])?;
            self.conn
                .prepare_cached(
                    "UPDATE events SET payload = json_set(payload, '$.data.item.body', '') \
                     WHERE user_id = ?1 AND kind = 'scheduled_updated' \
                     AND json_extract(payload, '$.data.item.id') = ?2",
                )?
                .execute(params![sender.0, item.0])?;
        }
        Ok(())
    }
}
