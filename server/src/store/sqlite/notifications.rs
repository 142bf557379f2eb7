//! Notifications on SQLite: the `notifications` table, with the actor's
//! username joined in.

use super::SqliteConn;
use crate::store::data::{
    ConversationsRead, NotificationsRead, NotificationsWrite, NudgeFacts, PresenceRead,
};
use crate::store::rows::{ts, ts_opt};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{Availability, Notification, NotificationKind};
use mchat_shared::{ConversationId, NotificationId, UserId};
use rusqlite::params;

const SELECT: &str = "SELECT n.id, n.kind, n.body, n.conversation_id, a.username, n.created_at, n.read_at \
     FROM notifications n LEFT JOIN users a ON a.id = n.actor_id";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: NotificationId(r.get(0)?),
        kind: NotificationKind::parse(&r.get::<_, String>(1)?).unwrap_or(NotificationKind::Announcement),
        body: r.get(2)?,
        conversation_id: r.get::<_, Option<i64>>(3)?.map(ConversationId),
        actor: r.get(4)?,
        created_at: ts(r.get(5)?),
        read_at: ts_opt(r.get(6)?),
    })
}

impl<C: SqliteConn> NotificationsRead for C {
    fn notifications(&self, user: UserId, unread_only: bool, limit: u32) -> StoreResult<Vec<Notification>> {
        let sql = format!(
            "{SELECT} WHERE n.user_id = ?1 {} ORDER BY n.id DESC LIMIT ?2",
            if unread_only { "AND n.read_at IS NULL" } else { "" }
        );
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_map(params![user.0, limit], from_row)?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn unread_notifications(&self, user: UserId) -> StoreResult<u32> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL")?
            .query_row([user.0], |r| r.get(0))?)
    }

    fn notification(&self, id: NotificationId) -> StoreResult<Notification> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{SELECT} WHERE n.id = ?1"))?
            .query_row([id.0], from_row)?)
    }

    fn owns_notification(&self, user: UserId, id: NotificationId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM notifications WHERE id = ?1 AND user_id = ?2)")?
            .query_row(params![id.0, user.0], |r| r.get(0))?)
    }

    fn message_nudge_pending(&self, user: UserId, conv: ConversationId) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM notifications WHERE user_id = ?1 AND conversation_id = ?2 \
                 AND kind = 'message_received' AND read_at IS NULL)",
            )?
            .query_row(params![user.0, conv.0], |r| r.get(0))?)
    }

    /// Each fact by its own lookup: on SQLite a statement is a function call.
    fn nudge_facts(&self, user: UserId, conv: ConversationId) -> StoreResult<NudgeFacts> {
        Ok(NudgeFacts {
            online_on_a_node: self.online_on_a_node(user)?,
            muted: self.participant(conv, user)?.is_some_and(|p| p.muted),
            busy: self.presence_info(user)?.availability == Some(Availability::Busy),
            pending: self.message_nudge_pending(user, conv)?,
        })
    }
}

impl NotificationsWrite for WriteCtx<'_> {
    fn insert_notification(
        &mut self,
        user: UserId,
        kind: NotificationKind,
        body: &str,
        conversation: Option<ConversationId>,
        actor: Option<UserId>,
    ) -> StoreResult<NotificationId> {
        self.conn
            .prepare_cached(
                "INSERT INTO notifications (user_id, kind, body, conversation_id, actor_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                user.0,
                kind.as_str(),
                body,
                conversation.map(|c| c.0),
                actor.map(|a| a.0),
                self.now
            ])?;
        Ok(NotificationId(self.conn.last_insert_rowid()))
    }

    fn mark_all_notifications_read(&mut self, user: UserId) -> StoreResult<usize> {
        Ok(self
            .conn
            .prepare_cached("UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL")?
            .execute(params![user.0, self.now])?)
    }

    fn mark_notification_read(&mut self, user: UserId, id: NotificationId) -> StoreResult<usize> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE notifications SET read_at = ?3 WHERE id = ?1 AND user_id = ?2 AND read_at IS NULL",
            )?
            .execute(params![id.0, user.0, self.now])?)
    }

    fn clear_message_nudges(&mut self, user: UserId, conv: ConversationId) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE notifications SET read_at = ?3 WHERE user_id = ?1 AND conversation_id = ?2 \
                 AND kind = 'message_received' AND read_at IS NULL",
            )?
            .execute(params![user.0, conv.0, self.now])?;
        Ok(())
    }
}
