//! Scheduled items on PostgreSQL: the `scheduled` table. Several nodes run
//! the scheduler at once: a delivery claims its item with
//! `FOR UPDATE SKIP LOCKED`, so each item is delivered by one node, once.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{NewScheduled, ScheduledRead, ScheduledRow, ScheduledWrite};
use crate::store::rows::{
    SCHEDULED_ROW_COLUMNS, SCHEDULED_SELECT, count, scheduled_at, scheduled_kind_str, scheduled_row_at,
    scheduled_status_str,
};
use mchat_shared::api::{ScheduledItem, ScheduledStatus};
use mchat_shared::events::EventKind;
use mchat_shared::{MessageId, ScheduledId, UserId};

impl ScheduledRead for PgTx<'_> {
    fn scheduled_item(&self, id: ScheduledId) -> StoreResult<Option<(UserId, ScheduledItem)>> {
        let row = self.wait(
            self.tx()
                .query_opt(&format!("{SCHEDULED_SELECT} WHERE s.id = $1"), &[&id.0]),
        )?;
        Ok(row.as_ref().map(scheduled_at).transpose()?)
    }

    fn scheduled_items(&self, user: UserId, finished_since: Option<i64>) -> StoreResult<Vec<ScheduledItem>> {
        let rows = match finished_since {
            Some(since) => self.wait(self.tx().query(
                &format!(
                    "{SCHEDULED_SELECT} WHERE s.user_id = $1 \
                     AND (s.status = 'pending' OR COALESCE(s.finished_at, s.created_at) >= $2) \
                     ORDER BY s.due_at, s.id"
                ),
                &[&user.0, &since],
            ))?,
            None => self.wait(self.tx().query(
                &format!(
                    "{SCHEDULED_SELECT} WHERE s.user_id = $1 AND s.status = 'pending' ORDER BY s.due_at, s.id"
                ),
                &[&user.0],
            ))?,
        };
        Ok(rows
            .iter()
            .map(|r| scheduled_at(r).map(|(_, item)| item))
            .collect::<Result<_, _>>()?)
    }

    fn scheduled_by_client_id(&self, user: UserId, client_id: &str) -> StoreResult<Option<ScheduledRow>> {
        let row = self.wait(self.tx().query_opt(
            &format!(
                "SELECT {SCHEDULED_ROW_COLUMNS} FROM scheduled s WHERE s.user_id = $1 AND s.client_id = $2"
            ),
            &[&user.0, &client_id],
        ))?;
        Ok(row.as_ref().map(scheduled_row_at).transpose()?)
    }

    fn pending_scheduled(&self, user: UserId) -> StoreResult<u32> {
        let row = self.wait(self.tx().query_one(
            "SELECT COUNT(*) FROM scheduled WHERE user_id = $1 AND status = 'pending'",
            &[&user.0],
        ))?;
        Ok(count(row.try_get(0)?))
    }

    fn next_scheduled_due(&self) -> StoreResult<Option<i64>> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT MIN(due_at) FROM scheduled WHERE status = 'pending'", &[]),
        )?;
        Ok(row.try_get(0)?)
    }

    fn due_scheduled(&self, now: i64, limit: u32) -> StoreResult<Vec<ScheduledId>> {
        self.wait(self.tx().query(
            "SELECT id FROM scheduled WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            &[&now, &i64::from(limit)],
        ))?
        .iter()
        .map(|r| Ok(ScheduledId(r.try_get(0)?)))
        .collect()
    }
}

impl ScheduledWrite for PgTx<'_> {
    fn insert_scheduled(&mut self, item: &NewScheduled) -> StoreResult<ScheduledId> {
        let row = self.wait(self.tx().query_one(
            "INSERT INTO scheduled (user_id, kind, conversation_id, body, due_at, client_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &item.user.0,
                &scheduled_kind_str(item.kind),
                &item.conversation.map(|c| c.0),
                &item.body,
                &item.due_at,
                &item.client_id,
                &self.now,
            ],
        ))?;
        Ok(ScheduledId(row.try_get(0)?))
    }

    fn claim_due_scheduled(&mut self, id: ScheduledId) -> StoreResult<Option<ScheduledRow>> {
        let row = self.wait(self.tx().query_opt(
            &format!(
                "SELECT {SCHEDULED_ROW_COLUMNS} FROM scheduled s \
                 WHERE s.id = $1 AND s.status = 'pending' AND s.due_at <= $2 FOR UPDATE SKIP LOCKED"
            ),
            &[&id.0, &self.now],
        ))?;
        Ok(row.as_ref().map(scheduled_row_at).transpose()?)
    }

    fn finish_scheduled(
        &mut self,
        id: ScheduledId,
        status: ScheduledStatus,
        message: Option<MessageId>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE scheduled SET status = $2, message_id = $3, error = $4, finished_at = $5 WHERE id = $1",
            &[
                &id.0,
                &scheduled_status_str(status),
                &message.map(|m| m.0),
                &error,
                &self.now,
            ],
        ))?;
        Ok(())
    }

    fn forget_scheduled_text(&mut self, sender: UserId, id: MessageId) -> StoreResult<()> {
        let items: Vec<i64> = self
            .wait(self.tx().query(
                "UPDATE scheduled SET body = '' WHERE user_id = $1 AND message_id = $2 RETURNING id",
                &[&sender.0, &id.0],
            ))?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if items.is_empty() {
            return Ok(());
        }
        let rows = self.wait(self.tx().query(
            "SELECT seq, payload FROM events WHERE user_id = $1 AND kind = 'scheduled_updated' \
             AND (payload::jsonb #>> '{data,item,id}')::BIGINT = ANY($2) ORDER BY seq",
            &[&sender.0, &items],
        ))?;
        self.rewrite_events(&rows, |kind| {
            if let EventKind::ScheduledUpdated { item } = kind {
                item.body.clear();
            }
        })
    }
}
