//! Messages on PostgreSQL: `messages`, `message_edits`, `reactions`, and
//! the log's stored copies. A page's ids travel as one BIGINT array.

use super::rows::id_array;
use super::search::vector;
use super::tx::PgTx;
use crate::store::data::{MessageTarget, MessagesRead, MessagesWrite, NewMessage, ReactionRow, SentBefore};
use crate::store::rows::{MESSAGE_SELECT, conversation_status, count, message_at, ts};
use crate::store::{StoreError, StoreResult};
use mchat_shared::api::{Message, MessageEdit, MessageKind, ReplyQuote, Role};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, FileId, MessageId, UserId};

impl PgTx<'_> {
    /// Rewrites the stored events `rows` (seq, payload) with `change`
    /// applied to each parsed kind. The payload is re-serialised from the
    /// typed event, so it stays exactly what `emit` would write.
    pub(super) fn rewrite_events(
        &self,
        rows: &[tokio_postgres::Row],
        change: impl Fn(&mut EventKind),
    ) -> StoreResult<()> {
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let mut kind: EventKind = serde_json::from_str(row.try_get::<_, &str>(1)?)?;
            change(&mut kind);
            let payload = serde_json::to_string(&kind)?;
            self.wait(
                self.tx()
                    .execute("UPDATE events SET payload = $2 WHERE seq = $1", &[&seq, &payload]),
            )?;
        }
        Ok(())
    }
}

impl MessagesRead for PgTx<'_> {
    fn message_conversation(&self, id: MessageId) -> StoreResult<Option<ConversationId>> {
        let row = self.wait(
            self.tx()
                .query_opt("SELECT conversation_id FROM messages WHERE id = $1", &[&id.0]),
        )?;
        Ok(match row {
            Some(r) => Some(ConversationId(r.try_get(0)?)),
            None => None,
        })
    }

    fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.wait(
            self.tx()
                .query_opt(&format!("{MESSAGE_SELECT} WHERE m.id = $1"), &[&id.0]),
        )?
        .map(|r| Ok(message_at(&r, 0)?))
        .transpose()
    }

    fn messages_after(
        &self,
        conv: ConversationId,
        after: MessageId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.wait(self.tx().query(
            &format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.id > $2 ORDER BY m.id ASC LIMIT $3"
            ),
            &[&conv.0, &after.0, &i64::from(limit)],
        ))?
        .iter()
        .map(|r| Ok(message_at(r, 0)?))
        .collect()
    }

    fn messages_before(&self, conv: ConversationId, before: i64, limit: u32) -> StoreResult<Vec<Message>> {
        self.wait(self.tx().query(
            &format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
            ),
            &[&conv.0, &before, &i64::from(limit)],
        ))?
        .iter()
        .map(|r| Ok(message_at(r, 0)?))
        .collect()
    }

    fn sent_with_client_id(&self, sender: UserId, client_id: &str) -> StoreResult<Option<SentBefore>> {
        self.wait(self.tx().query_opt(
            "SELECT id, conversation_id, body, file_id FROM messages WHERE sender_id = $1 AND client_id = $2",
            &[&sender.0, &client_id],
        ))?
        .map(|r| {
            Ok(SentBefore {
                id: MessageId(r.try_get(0)?),
                conversation: ConversationId(r.try_get(1)?),
                body: r.try_get(2)?,
                file: r.try_get::<_, Option<i64>>(3)?.map(FileId),
            })
        })
        .transpose()
    }

    fn message_in(&self, conv: ConversationId, id: MessageId) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2)",
            &[&id.0, &conv.0],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn replies_to(&self, id: MessageId) -> StoreResult<Vec<MessageId>> {
        self.wait(self.tx().query(
            "SELECT id FROM messages WHERE reply_to = $1 ORDER BY id",
            &[&id.0],
        ))?
        .iter()
        .map(|r| Ok(MessageId(r.try_get(0)?)))
        .collect()
    }

    fn quotes(&self, ids: &[MessageId], chars: usize) -> StoreResult<Vec<ReplyQuote>> {
        let chars = i32::try_from(chars).unwrap_or(i32::MAX);
        self.wait(self.tx().query(
            "SELECT m.id, s.username, substr(m.body, 1, $2), m.deleted_at IS NOT NULL \
             FROM messages m LEFT JOIN users s ON s.id = m.sender_id WHERE m.id = ANY($1)",
            &[&id_array(ids), &chars],
        ))?
        .iter()
        .map(|r| {
            Ok(ReplyQuote {
                id: MessageId(r.try_get(0)?),
                sender: r.try_get(1)?,
                excerpt: r.try_get(2)?,
                deleted: r.try_get(3)?,
            })
        })
        .collect()
    }

    fn reactions(&self, ids: &[MessageId]) -> StoreResult<Vec<ReactionRow>> {
        self.wait(self.tx().query(
            "SELECT r.message_id, r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id \
             WHERE r.message_id = ANY($1) ORDER BY r.message_id, r.created_at, u.username COLLATE \"C\"",
            &[&id_array(ids)],
        ))?
        .iter()
        .map(|r| Ok((MessageId(r.try_get(0)?), r.try_get(1)?, r.try_get(2)?)))
        .collect()
    }

    fn message_target(&self, asker: UserId, id: MessageId) -> StoreResult<Option<MessageTarget>> {
        self.wait(self.tx().query_opt(
            "SELECT m.conversation_id, m.sender_id, m.kind, m.body, m.deleted_at IS NOT NULL, c.status, \
             EXISTS(SELECT 1 FROM participants p WHERE p.conversation_id = m.conversation_id AND p.user_id = $2), \
             (SELECT u.role FROM users u WHERE u.id = $2) \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1",
            &[&id.0, &asker.0],
        ))?
        .map(|r| {
            let role: Option<&str> = r.try_get(7)?;
            Ok(MessageTarget {
                conversation: ConversationId(r.try_get(0)?),
                sender: r.try_get::<_, Option<i64>>(1)?.map(UserId),
                kind: MessageKind::parse(r.try_get::<_, &str>(2)?).unwrap_or(MessageKind::Text),
                body: r.try_get(3)?,
                deleted: r.try_get(4)?,
                status: conversation_status(r.try_get(5)?),
                member: r.try_get(6)?,
                asker_role: role.and_then(Role::parse),
            })
        })
        .transpose()
    }

    fn message_edits(&self, id: MessageId) -> StoreResult<Vec<MessageEdit>> {
        self.wait(self.tx().query(
            "SELECT body, replaced_at FROM message_edits WHERE message_id = $1 ORDER BY replaced_at DESC, id DESC",
            &[&id.0],
        ))?
        .iter()
        .map(|r| {
            Ok(MessageEdit {
                body: r.try_get(0)?,
                replaced_at: ts(r.try_get(1)?),
            })
        })
        .collect()
    }

    fn my_reactions(&self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<(bool, u32)> {
        let r = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3), \
             (SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND user_id = $2)",
            &[&id.0, &user.0, &emoji],
        ))?;
        Ok((r.try_get(0)?, count(r.try_get(1)?)))
    }
}

impl MessagesWrite for PgTx<'_> {
    fn insert_message(&mut self, m: &NewMessage) -> StoreResult<MessageId> {
        if !self.locked.contains(&m.conversation) {
            return Err(StoreError::Internal(
                "a message was inserted without its conversation's lock".into(),
            ));
        }
        let row = self.wait(self.tx().query_one(
            "INSERT INTO messages (conversation_id, sender_id, client_id, kind, system_action, body, reply_to, \
             created_at, file_id, search_words) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::tsvector) \
             RETURNING id",
            &[
                &m.conversation.0,
                &m.sender.map(|s| s.0),
                &m.client_id,
                &m.kind.as_str(),
                &m.system.map(|s| s.as_str()),
                &m.body,
                &m.reply_to.map(|r| r.0),
                &self.now,
                &m.file.map(|f| f.0),
                &vector(m.kind, &m.body),
            ],
        ))?;
        Ok(MessageId(row.try_get(0)?))
    }

    fn replace_body(&mut self, id: MessageId, old: &str, new: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO message_edits (message_id, body, replaced_at) VALUES ($1, $2, $3)",
            &[&id.0, &old, &self.now],
        ))?;
        // Only text and file messages are edited (system ones are refused).
        self.wait(self.tx().execute(
            "UPDATE messages SET body = $2, edited_at = $3, search_words = $4::text::tsvector WHERE id = $1",
            &[&id.0, &new, &self.now, &vector(MessageKind::Text, new)],
        ))?;
        Ok(())
    }

    fn tombstone(&mut self, id: MessageId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE messages SET deleted_at = $2, body = '', search_words = NULL WHERE id = $1",
            &[&id.0, &self.now],
        ))?;
        self.wait(
            self.tx()
                .execute("DELETE FROM message_edits WHERE message_id = $1", &[&id.0]),
        )?;
        self.wait(
            self.tx()
                .execute("DELETE FROM reactions WHERE message_id = $1", &[&id.0]),
        )?;
        Ok(())
    }

    fn add_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
             SELECT $1, $2, $3, GREATEST($4, COALESCE(MAX(created_at) + 1, 0)) \
             FROM reactions WHERE message_id = $1",
            &[&id.0, &user.0, &emoji, &self.now],
        ))?;
        Ok(())
    }

    fn remove_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
            &[&id.0, &user.0, &emoji],
        ))?;
        Ok(())
    }

    fn rewrite_logged(&mut self, message: &Message) -> StoreResult<()> {
        let rows = self.wait(self.tx().query(
            "SELECT seq, payload FROM events WHERE message_id = $1 ORDER BY seq",
            &[&message.id.0],
        ))?;
        self.rewrite_events(&rows, |kind| {
            if let EventKind::MessageNew { message: m } | EventKind::MessageUpdated { message: m } = kind {
                *m = message.clone();
            }
        })
    }
}
