//! Messages on SQLite: `messages`, `message_edits`, `reactions`, and the
//! log's stored copies. A page's ids travel as one JSON array to
//! `json_each`, so each statement stays cached whatever the page size.

use super::SqliteConn;
use crate::store::data::{MessageTarget, MessagesRead, MessagesWrite, NewMessage, ReactionRow, SentBefore};
use crate::store::rows::{MESSAGE_SELECT, conversation_status, message_at, ts};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{Message, MessageEdit, MessageKind, ReplyQuote, Role};
use mchat_shared::{ConversationId, FileId, MessageId, UserId};
use rusqlite::{OptionalExtension, params};

/// `[1,2,3]`: ids as a JSON array for `json_each`.
pub(super) fn json_ids(ids: &[MessageId]) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.0.to_string());
    }
    out.push(']');
    out
}

impl<C: SqliteConn> MessagesRead for C {
    fn message_conversation(&self, id: MessageId) -> StoreResult<Option<ConversationId>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT conversation_id FROM messages WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0).map(ConversationId))
            .optional()?)
    }

    fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))?
            .query_row([id.0], |r| message_at(r, 0))
            .optional()?)
    }

    fn messages_after(
        &self,
        conv: ConversationId,
        after: MessageId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id > ?2 ORDER BY m.id ASC LIMIT ?3"
            ))?
            .query_map(params![conv.0, after.0, limit], |r| message_at(r, 0))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn messages_before(&self, conv: ConversationId, before: i64, limit: u32) -> StoreResult<Vec<Message>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
            ))?
            .query_map(params![conv.0, before, limit], |r| message_at(r, 0))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn sent_with_client_id(&self, sender: UserId, client_id: &str) -> StoreResult<Option<SentBefore>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, conversation_id, body, file_id FROM messages WHERE sender_id = ?1 AND client_id = ?2",
            )?
            .query_row(params![sender.0, client_id], |r| {
                Ok(SentBefore {
                    id: MessageId(r.get(0)?),
                    conversation: ConversationId(r.get(1)?),
                    body: r.get(2)?,
                    file: r.get::<_, Option<i64>>(3)?.map(FileId),
                })
            })
            .optional()?)
    }

    fn message_in(&self, conv: ConversationId, id: MessageId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2)")?
            .query_row(params![id.0, conv.0], |r| r.get(0))?)
    }

    fn replies_to(&self, id: MessageId) -> StoreResult<Vec<MessageId>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id FROM messages WHERE reply_to = ?1 ORDER BY id")?
            .query_map([id.0], |r| r.get(0).map(MessageId))?
            .collect::<Result<_, _>>()?)
    }

    fn quotes(&self, ids: &[MessageId], chars: usize) -> StoreResult<Vec<ReplyQuote>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT m.id, s.username, substr(m.body, 1, ?2), m.deleted_at IS NOT NULL \
             FROM messages m LEFT JOIN users s ON s.id = m.sender_id \
             WHERE m.id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map(params![json_ids(ids), chars as i64], |r| {
            Ok(ReplyQuote {
                id: MessageId(r.get(0)?),
                sender: r.get(1)?,
                excerpt: r.get(2)?,
                deleted: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn reactions(&self, ids: &[MessageId]) -> StoreResult<Vec<ReactionRow>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT r.message_id, r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id \
             WHERE r.message_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY r.message_id, r.created_at, u.username",
        )?;
        let rows = stmt.query_map([json_ids(ids)], |r| {
            Ok((MessageId(r.get(0)?), r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn message_target(&self, asker: UserId, id: MessageId) -> StoreResult<Option<MessageTarget>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT m.conversation_id, m.sender_id, m.kind, m.body, m.deleted_at IS NOT NULL, c.status, \
                 EXISTS(SELECT 1 FROM participants p \
                        WHERE p.conversation_id = m.conversation_id AND p.user_id = ?2), \
                 (SELECT u.role FROM users u WHERE u.id = ?2) \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1",
            )?
            .query_row(params![id.0, asker.0], |r| {
                let role: Option<String> = r.get(7)?;
                Ok(MessageTarget {
                    conversation: ConversationId(r.get(0)?),
                    sender: r.get::<_, Option<i64>>(1)?.map(UserId),
                    kind: MessageKind::parse(&r.get::<_, String>(2)?).unwrap_or(MessageKind::Text),
                    body: r.get(3)?,
                    deleted: r.get(4)?,
                    status: conversation_status(&r.get::<_, String>(5)?),
                    member: r.get(6)?,
                    asker_role: role.as_deref().and_then(Role::parse),
                })
            })
            .optional()?)
    }

    fn message_edits(&self, id: MessageId) -> StoreResult<Vec<MessageEdit>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT body, replaced_at FROM message_edits WHERE message_id = ?1 \
                 ORDER BY replaced_at DESC, id DESC",
            )?
            .query_map([id.0], |r| {
                Ok(MessageEdit {
                    body: r.get(0)?,
                    replaced_at: ts(r.get(1)?),
                })
            })?
            .collect::<Result<_, _>>()?)
    }

    fn my_reactions(&self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<(bool, u32)> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3), \
                 (SELECT COUNT(*) FROM reactions WHERE message_id = ?1 AND user_id = ?2)",
            )?
            .query_row(params![id.0, user.0, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }
}

impl MessagesWrite for WriteCtx<'_> {
    fn insert_message(&mut self, m: &NewMessage) -> StoreResult<MessageId> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, sender_id, client_id, kind, system_action, body, \
                 reply_to, created_at, file_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                m.conversation.0,
                m.sender.map(|s| s.0),
                m.client_id,
                m.kind.as_str(),
                m.system.map(|s| s.as_str()),
                m.body,
                m.reply_to.map(|r| r.0),
                self.now,
                m.file.map(|f| f.0),
            ])?;
        Ok(MessageId(self.conn.last_insert_rowid()))
    }

    fn replace_body(&mut self, id: MessageId, old: &str, new: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO message_edits (message_id, body, replaced_at) VALUES (?1, ?2, ?3)")?
            .execute(params![id.0, old, self.now])?;
        self.conn
            .prepare_cached("UPDATE messages SET body = ?2, edited_at = ?3 WHERE id = ?1")?
            .execute(params![id.0, new, self.now])?;
        Ok(())
    }

    fn tombstone(&mut self, id: MessageId) -> StoreResult<()> {
        // One UPDATE of body and deleted_at: the FTS trigger removes exactly
        // what was indexed (the old values).
        self.conn
            .prepare_cached("UPDATE messages SET deleted_at = ?2, body = '' WHERE id = ?1")?
            .execute(params![id.0, self.now])?;
        self.conn
            .prepare_cached("DELETE FROM message_edits WHERE message_id = ?1")?
            .execute([id.0])?;
        self.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
            .execute([id.0])?;
        Ok(())
    }

    fn add_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
                 SELECT ?1, ?2, ?3, MAX(?4, COALESCE(MAX(created_at) + 1, 0)) \
                 FROM reactions WHERE message_id = ?1",
            )?
            .execute(params![id.0, user.0, emoji, self.now])?;
        Ok(())
    }

    fn remove_reaction(&mut self, id: MessageId, user: UserId, emoji: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3")?
            .execute(params![id.0, user.0, emoji])?;
        Ok(())
    }

    fn rewrite_logged(&mut self, message: &Message) -> StoreResult<()> {
        super::events::rewrite_message(self.conn, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_a_json_array() {
        assert_eq!(json_ids(&[1, 22, 3].map(MessageId)), "[1,22,3]");
        assert_eq!(json_ids(&[]), "[]");
    }
}
