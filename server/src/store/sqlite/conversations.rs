//! Conversations on SQLite: `conversations` and each user's `participants`
//! row. The one writer commits in order, so locking has nothing to do.

use super::SqliteConn;
use crate::store::data::{
    ConversationRow, ConversationsRead, ConversationsWrite, DirectConversation, ParticipantRow,
};
use crate::store::rows::{CONVERSATION_SELECT, conversation_at, conversation_status as status, marker};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{ConversationStatus, ReadMarker};
use mchat_shared::{ConversationId, MessageId, UserId};
use rusqlite::{OptionalExtension, params};

/// [`CONVERSATION_SELECT`] for the viewer `?1`, then `filter`.
fn select_sql(filter: &str) -> String {
    format!("{CONVERSATION_SELECT} WHERE me.user_id = ?1 {filter}")
}

impl<C: SqliteConn> ConversationsRead for C {
    fn conversation_row(&self, me: UserId, conv: ConversationId) -> StoreResult<Option<ConversationRow>> {
        Ok(self
            .conn()
            .prepare_cached(&select_sql("AND c.id = ?2"))?
            .query_row(params![me.0, conv.0], |r| conversation_at(r))
            .optional()?)
    }

    fn conversation_rows(&self, me: UserId, archived: bool) -> StoreResult<Vec<ConversationRow>> {
        Ok(self
            .conn()
            .prepare_cached(&select_sql(
                "AND (me.archived != 0) = ?2 \
                 ORDER BY c.last_activity_at DESC, c.last_message_id DESC, c.id DESC",
            ))?
            .query_map(params![me.0, archived], |r| conversation_at(r))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn conversation_status(
        &self,
        me: UserId,
        conv: ConversationId,
    ) -> StoreResult<Option<(ConversationStatus, UserId)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT c.status, c.requested_by FROM conversations c \
                 JOIN participants p ON p.conversation_id = c.id AND p.user_id = ?1 WHERE c.id = ?2",
            )?
            .query_row(params![me.0, conv.0], |r| {
                Ok((status(&r.get::<_, String>(0)?), UserId(r.get(1)?)))
            })
            .optional()?)
    }

    fn direct_conversation(&self, key: &str) -> StoreResult<Option<DirectConversation>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id, status, requested_by FROM conversations WHERE direct_key = ?1")?
            .query_row([key], |r| {
                Ok(DirectConversation {
                    id: ConversationId(r.get(0)?),
                    status: status(&r.get::<_, String>(1)?),
                    requested_by: UserId(r.get(2)?),
                })
            })
            .optional()?)
    }

    fn due_requests(&self, now: i64, limit: u32) -> StoreResult<Vec<(ConversationId, UserId)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, requested_by FROM conversations WHERE status = 'pending' AND expires_at <= ?1 \
                 ORDER BY id LIMIT ?2",
            )?
            .query_map(params![now, limit], |r| {
                Ok((ConversationId(r.get(0)?), UserId(r.get(1)?)))
            })?
            .collect::<Result<_, _>>()?)
    }

    fn participant(&self, conv: ConversationId, user: UserId) -> StoreResult<Option<ParticipantRow>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT delivered_up_to, read_up_to, muted, archived FROM participants \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .query_row(params![conv.0, user.0], |r| {
                Ok(ParticipantRow {
                    delivered_up_to: MessageId(r.get(0)?),
                    read_up_to: MessageId(r.get(1)?),
                    muted: r.get(2)?,
                    archived: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn markers(&self, conv: ConversationId) -> StoreResult<Vec<ReadMarker>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT u.username, p.delivered_up_to, p.read_up_to FROM participants p \
                 JOIN users u ON u.id = p.user_id WHERE p.conversation_id = ?1 ORDER BY u.username",
            )?
            .query_map([conv.0], |r| {
                Ok(marker(r.get(0)?, MessageId(r.get(1)?), MessageId(r.get(2)?)))
            })?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn last_message_id(&self, conv: ConversationId) -> StoreResult<MessageId> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COALESCE(last_message_id, 0) FROM conversations WHERE id = ?1")?
            .query_row([conv.0], |r| r.get(0).map(MessageId))
            .optional()?
            .unwrap_or(MessageId(0)))
    }

    fn unread_count(&self, me: UserId, conv: ConversationId, after: MessageId) -> StoreResult<u32> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND id > ?3 \
                 AND (sender_id IS NULL OR sender_id != ?2)",
            )?
            .query_row(params![conv.0, me.0, after.0], |r| r.get(0))?)
    }

    fn archived_by(&self, conv: ConversationId) -> StoreResult<Vec<(UserId, bool)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT user_id, muted FROM participants WHERE conversation_id = ?1 AND archived != 0 \
                 ORDER BY user_id",
            )?
            .query_map([conv.0], |r| Ok((UserId(r.get(0)?), r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    }
}

impl ConversationsWrite for WriteCtx<'_> {
    fn lock_conversation(&mut self, _conv: ConversationId) -> StoreResult<()> {
        Ok(())
    }

    fn insert_conversation(
        &mut self,
        key: &str,
        requester: UserId,
        expires_at: i64,
    ) -> StoreResult<Option<ConversationId>> {
        // One writer: the lookup just before saw no conversation of `key`.
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (direct_key, status, requested_by, created_at, status_changed_at, \
                 last_activity_at, expires_at) VALUES (?1, 'pending', ?2, ?3, ?3, ?3, ?4)",
            )?
            .execute(params![key, requester.0, self.now, expires_at])?;
        Ok(Some(ConversationId(self.conn.last_insert_rowid())))
    }

    fn insert_participant(&mut self, conv: ConversationId, user: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO participants (conversation_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![conv.0, user.0, self.now])?;
        Ok(())
    }

    fn set_conversation_status(
        &mut self,
        conv: ConversationId,
        status: ConversationStatus,
        expires_at: Option<i64>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET status = ?2, status_changed_at = ?3, last_activity_at = ?3, \
                 expires_at = ?4 WHERE id = ?1",
            )?
            .execute(params![conv.0, status.as_str(), self.now, expires_at])?;
        Ok(())
    }

    fn renew_request(&mut self, conv: ConversationId, requester: UserId, expires_at: i64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET status = 'pending', requested_by = ?2, status_changed_at = ?3, \
                 last_activity_at = ?3, expires_at = ?4 WHERE id = ?1",
            )?
            .execute(params![conv.0, requester.0, self.now, expires_at])?;
        Ok(())
    }

    fn touch_conversation(
        &mut self,
        conv: ConversationId,
        last: MessageId,
        is_text: bool,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET last_message_id = ?2, last_activity_at = ?3, \
                 last_text_message_id = CASE WHEN ?4 THEN ?2 ELSE last_text_message_id END WHERE id = ?1",
            )?
            .execute(params![conv.0, last.0, self.now, is_text])?;
        Ok(())
    }

    fn set_markers(
        &mut self,
        conv: ConversationId,
        user: UserId,
        delivered: MessageId,
        read: MessageId,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE participants SET read_up_to = ?3, delivered_up_to = ?4 \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .execute(params![conv.0, user.0, read.0, delivered.0])?;
        Ok(())
    }

    fn set_settings(
        &mut self,
        conv: ConversationId,
        user: UserId,
        muted: bool,
        archived: bool,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE participants SET muted = ?3, archived = ?4 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .execute(params![conv.0, user.0, muted, archived])?;
        Ok(())
    }

    fn unarchive(&mut self, conv: ConversationId) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE participants SET archived = 0 WHERE conversation_id = ?1 AND archived != 0",
            )?
            .execute([conv.0])?;
        Ok(())
    }
}
