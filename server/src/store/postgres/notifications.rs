//! Notifications on PostgreSQL: the `notifications` table, with the
//! actor's username joined in.

use super::rows::touched;
use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{NotificationsRead, NotificationsWrite, NudgeFacts};
use crate::store::rows::{count, ts, ts_opt};
use mchat_shared::api::{Availability, Notification, NotificationKind, Role};
use mchat_shared::{ConversationId, NotificationId, UserId};
use tokio_postgres::Row;

const SELECT: &str = "SELECT n.id, n.kind, n.body, n.conversation_id, a.username, n.created_at, n.read_at \
     FROM notifications n LEFT JOIN users a ON a.id = n.actor_id";

fn from_row(r: &Row) -> StoreResult<Notification> {
    Ok(Notification {
        id: NotificationId(r.try_get(0)?),
        kind: NotificationKind::parse(r.try_get::<_, &str>(1)?).unwrap_or(NotificationKind::Announcement),
        body: r.try_get(2)?,
        conversation_id: r.try_get::<_, Option<i64>>(3)?.map(ConversationId),
        actor: r.try_get(4)?,
        created_at: ts(r.try_get(5)?),
        read_at: ts_opt(r.try_get(6)?),
    })
}

impl NotificationsRead for PgTx<'_> {
    fn notifications(&self, user: UserId, unread_only: bool, limit: u32) -> StoreResult<Vec<Notification>> {
        let sql = format!(
            "{SELECT} WHERE n.user_id = $1 {} ORDER BY n.id DESC LIMIT $2",
            if unread_only { "AND n.read_at IS NULL" } else { "" }
        );
        self.wait(self.tx().query(&sql, &[&user.0, &i64::from(limit)]))?
            .iter()
            .map(from_row)
            .collect()
    }

    fn unread_notifications(&self, user: UserId) -> StoreResult<u32> {
        let row = self.wait(self.tx().query_one(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
            &[&user.0],
        ))?;
        Ok(count(row.try_get(0)?))
    }

    fn notification(&self, id: NotificationId) -> StoreResult<Notification> {
        let row = self.wait(
            self.tx()
                .query_one(&format!("{SELECT} WHERE n.id = $1"), &[&id.0]),
        )?;
        from_row(&row)
    }

    fn owns_notification(&self, user: UserId, id: NotificationId) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2)",
            &[&id.0, &user.0],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn message_nudge_pending(&self, user: UserId, conv: ConversationId) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM notifications WHERE user_id = $1 AND conversation_id = $2 \
             AND kind = 'message_received' AND read_at IS NULL)",
            &[&user.0, &conv.0],
        ))?;
        Ok(row.try_get(0)?)
    }

    /// The lookups of `online_on_a_node`, the participant's `muted`,
    /// `presence_info`'s availability and `message_nudge_pending`, as one
    /// statement.
    fn nudge_facts(&self, user: UserId, conv: ConversationId) -> StoreResult<NudgeFacts> {
        let r = self.wait(self.tx().query_one(
            "SELECT EXISTS (SELECT 1 FROM node_sockets s JOIN nodes n ON n.id = s.node_id \
                 WHERE s.user_id = $1 AND s.sockets > 0 AND n.expires_at > $3), \
             COALESCE((SELECT muted FROM participants WHERE conversation_id = $2 AND user_id = $1), FALSE), \
             u.role, u.availability, \
             EXISTS (SELECT 1 FROM notifications WHERE user_id = $1 AND conversation_id = $2 \
                 AND kind = 'message_received' AND read_at IS NULL) \
             FROM users u WHERE u.id = $1",
            &[&user.0, &conv.0, &self.now],
        ))?;
        let mentor = Role::parse(r.try_get::<_, &str>(2)?) == Some(Role::Mentor);
        Ok(NudgeFacts {
            online_on_a_node: r.try_get(0)?,
            muted: r.try_get(1)?,
            busy: mentor && Availability::parse(r.try_get::<_, &str>(3)?) == Some(Availability::Busy),
            pending: r.try_get(4)?,
        })
    }
}

impl NotificationsWrite for PgTx<'_> {
    fn insert_notification(
        &mut self,
        user: UserId,
        kind: NotificationKind,
        body: &str,
        conversation: Option<ConversationId>,
        actor: Option<UserId>,
    ) -> StoreResult<NotificationId> {
        let row = self.wait(self.tx().query_one(
            "INSERT INTO notifications (user_id, kind, body, conversation_id, actor_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &user.0,
                &kind.as_str(),
                &body,
                &conversation.map(|c| c.0),
                &actor.map(|a| a.0),
                &self.now,
            ],
        ))?;
        Ok(NotificationId(row.try_get(0)?))
    }

    fn mark_all_notifications_read(&mut self, user: UserId) -> StoreResult<usize> {
        let n = self.wait(self.tx().execute(
            "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
            &[&user.0, &self.now],
        ))?;
        Ok(touched(n))
    }

    fn mark_notification_read(&mut self, user: UserId, id: NotificationId) -> StoreResult<usize> {
        let n = self.wait(self.tx().execute(
            "UPDATE notifications SET read_at = $3 WHERE id = $1 AND user_id = $2 AND read_at IS NULL",
            &[&id.0, &user.0, &self.now],
        ))?;
        Ok(touched(n))
    }

    fn clear_message_nudges(&mut self, user: UserId, conv: ConversationId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND conversation_id = $2 \
             AND kind = 'message_received' AND read_at IS NULL",
            &[&user.0, &conv.0, &self.now],
        ))?;
        Ok(())
    }
}
