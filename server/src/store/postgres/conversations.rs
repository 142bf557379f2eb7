//! Conversations on PostgreSQL: `conversations` and each user's
//! `participants` row. Nodes write at once, so a change to a conversation
//! first locks its row (`lock_conversation`) until COMMIT.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{
    ConversationRow, ConversationsRead, ConversationsWrite, DirectConversation, ParticipantRow,
};
use crate::store::rows::{
    CONVERSATION_SELECT, conversation_at, conversation_status as status, count, marker,
};
use mchat_shared::api::{ConversationStatus, ReadMarker};
use mchat_shared::{ConversationId, MessageId, UserId};
use tokio_postgres::Row;

/// [`CONVERSATION_SELECT`] for the viewer `$1`, then `filter`.
fn select_sql(filter: &str) -> String {
    format!("{CONVERSATION_SELECT} WHERE me.user_id = $1 {filter}")
}

fn from_row(row: &Row) -> StoreResult<ConversationRow> {
    Ok(conversation_at(row)?)
}

impl ConversationsRead for PgTx<'_> {
    fn conversation_row(&self, me: UserId, conv: ConversationId) -> StoreResult<Option<ConversationRow>> {
        self.wait(
            self.tx()
                .query_opt(&select_sql("AND c.id = $2"), &[&me.0, &conv.0]),
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    fn conversation_rows(&self, me: UserId, archived: bool) -> StoreResult<Vec<ConversationRow>> {
        let sql = select_sql(
            "AND me.archived = $2 \
             ORDER BY c.last_activity_at DESC, c.last_message_id DESC NULLS LAST, c.id DESC",
        );
        self.wait(self.tx().query(&sql, &[&me.0, &archived]))?
            .iter()
            .map(from_row)
            .collect()
    }

    fn conversation_status(
        &self,
        me: UserId,
        conv: ConversationId,
    ) -> StoreResult<Option<(ConversationStatus, UserId)>> {
        self.wait(self.tx().query_opt(
            "SELECT c.status, c.requested_by FROM conversations c \
             JOIN participants p ON p.conversation_id = c.id AND p.user_id = $1 WHERE c.id = $2",
            &[&me.0, &conv.0],
        ))?
        .map(|r| Ok((status(r.try_get(0)?), UserId(r.try_get(1)?))))
        .transpose()
    }

    fn direct_conversation(&self, key: &str) -> StoreResult<Option<DirectConversation>> {
        self.wait(self.tx().query_opt(
            "SELECT id, status, requested_by FROM conversations WHERE direct_key = $1",
            &[&key],
        ))?
        .map(|r| {
            Ok(DirectConversation {
                id: ConversationId(r.try_get(0)?),
                status: status(r.try_get(1)?),
                requested_by: UserId(r.try_get(2)?),
            })
        })
        .transpose()
    }

    fn due_requests(&self, now: i64, limit: u32) -> StoreResult<Vec<(ConversationId, UserId)>> {
        self.wait(self.tx().query(
            "SELECT id, requested_by FROM conversations WHERE status = 'pending' AND expires_at <= $1 \
             ORDER BY id LIMIT $2",
            &[&now, &i64::from(limit)],
        ))?
        .iter()
        .map(|r| Ok((ConversationId(r.try_get(0)?), UserId(r.try_get(1)?))))
        .collect()
    }

    fn participant(&self, conv: ConversationId, user: UserId) -> StoreResult<Option<ParticipantRow>> {
        self.wait(self.tx().query_opt(
            "SELECT delivered_up_to, read_up_to, muted, archived FROM participants \
             WHERE conversation_id = $1 AND user_id = $2",
            &[&conv.0, &user.0],
        ))?
        .map(|r| {
            Ok(ParticipantRow {
                delivered_up_to: MessageId(r.try_get(0)?),
                read_up_to: MessageId(r.try_get(1)?),
                muted: r.try_get(2)?,
                archived: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn markers(&self, conv: ConversationId) -> StoreResult<Vec<ReadMarker>> {
        self.wait(self.tx().query(
            "SELECT u.username, p.delivered_up_to, p.read_up_to FROM participants p \
             JOIN users u ON u.id = p.user_id WHERE p.conversation_id = $1 ORDER BY u.username COLLATE \"C\"",
            &[&conv.0],
        ))?
        .iter()
        .map(|r| {
            Ok(marker(
                r.try_get(0)?,
                MessageId(r.try_get(1)?),
                MessageId(r.try_get(2)?),
            ))
        })
        .collect()
    }

    fn last_message_id(&self, conv: ConversationId) -> StoreResult<MessageId> {
        let row = self.wait(self.tx().query_opt(
            "SELECT COALESCE(last_message_id, 0) FROM conversations WHERE id = $1",
            &[&conv.0],
        ))?;
        Ok(MessageId(match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        }))
    }

    fn unread_count(&self, me: UserId, conv: ConversationId, after: MessageId) -> StoreResult<u32> {
        let row = self.wait(self.tx().query_one(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND id > $3 \
             AND (sender_id IS NULL OR sender_id != $2)",
            &[&conv.0, &me.0, &after.0],
        ))?;
        Ok(count(row.try_get(0)?))
    }

    fn archived_by(&self, conv: ConversationId) -> StoreResult<Vec<(UserId, bool)>> {
        self.wait(self.tx().query(
            "SELECT user_id, muted FROM participants WHERE conversation_id = $1 AND archived ORDER BY user_id",
            &[&conv.0],
        ))?
        .iter()
        .map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?)))
        .collect()
    }
}

impl ConversationsWrite for PgTx<'_> {
    fn lock_conversation(&mut self, conv: ConversationId) -> StoreResult<()> {
        if self.locked.contains(&conv) {
            return Ok(());
        }
        // Sent with the next statement, which then runs under the lock.
        self.defer(
            "SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE",
            vec![Box::new(conv.0)],
        );
        self.locked.push(conv);
        Ok(())
    }

    fn insert_conversation(
        &mut self,
        key: &str,
        requester: UserId,
        expires_at: i64,
    ) -> StoreResult<Option<ConversationId>> {
        // A concurrent first request of the same pair makes this wait for
        // its COMMIT, then insert nothing.
        let row = self.wait(self.tx().query_opt(
            "INSERT INTO conversations (direct_key, status, requested_by, created_at, status_changed_at, \
             last_activity_at, expires_at) VALUES ($1, 'pending', $2, $3, $3, $3, $4) \
             ON CONFLICT (direct_key) DO NOTHING RETURNING id",
            &[&key, &requester.0, &self.now, &expires_at],
        ))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let conv = ConversationId(row.try_get(0)?);
        // Made by this transaction: nobody else sees it before COMMIT.
        self.locked.push(conv);
        Ok(Some(conv))
    }

    fn insert_participant(&mut self, conv: ConversationId, user: UserId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO participants (conversation_id, user_id, joined_at) VALUES ($1, $2, $3)",
            &[&conv.0, &user.0, &self.now],
        ))?;
        Ok(())
    }

    fn set_conversation_status(
        &mut self,
        conv: ConversationId,
        status: ConversationStatus,
        expires_at: Option<i64>,
    ) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE conversations SET status = $2, status_changed_at = $3, last_activity_at = $3, \
             expires_at = $4 WHERE id = $1",
            &[&conv.0, &status.as_str(), &self.now, &expires_at],
        ))?;
        Ok(())
    }

    fn renew_request(&mut self, conv: ConversationId, requester: UserId, expires_at: i64) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE conversations SET status = 'pending', requested_by = $2, status_changed_at = $3, \
             last_activity_at = $3, expires_at = $4 WHERE id = $1",
            &[&conv.0, &requester.0, &self.now, &expires_at],
        ))?;
        Ok(())
    }

    fn touch_conversation(
        &mut self,
        conv: ConversationId,
        last: MessageId,
        is_text: bool,
    ) -> StoreResult<()> {
        self.defer(
            "UPDATE conversations SET last_message_id = $2, last_activity_at = $3, \
             last_text_message_id = CASE WHEN $4 THEN $2 ELSE last_text_message_id END WHERE id = $1",
            vec![
                Box::new(conv.0),
                Box::new(last.0),
                Box::new(self.now),
                Box::new(is_text),
            ],
        );
        Ok(())
    }

    fn set_markers(
        &mut self,
        conv: ConversationId,
        user: UserId,
        delivered: MessageId,
        read: MessageId,
    ) -> StoreResult<()> {
        self.defer(
            "UPDATE participants SET read_up_to = $3, delivered_up_to = $4 \
             WHERE conversation_id = $1 AND user_id = $2",
            vec![
                Box::new(conv.0),
                Box::new(user.0),
                Box::new(read.0),
                Box::new(delivered.0),
            ],
        );
        Ok(())
    }

    fn set_settings(
        &mut self,
        conv: ConversationId,
        user: UserId,
        muted: bool,
        archived: bool,
    ) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE participants SET muted = $3, archived = $4 WHERE conversation_id = $1 AND user_id = $2",
            &[&conv.0, &user.0, &muted, &archived],
        ))?;
        Ok(())
    }

    fn unarchive(&mut self, conv: ConversationId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE participants SET archived = FALSE WHERE conversation_id = $1 AND archived",
            &[&conv.0],
        ))?;
        Ok(())
    }
}
