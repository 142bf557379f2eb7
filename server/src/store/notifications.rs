//! Notifications: written inside other changes with [`notify`], listed and
//! marked read by their owner only.

use super::rows::{ts, ts_opt};
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{Notification, NotificationKind};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, NotificationId, UserId};
use rusqlite::{Connection, params};

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

/// Writes a notification for `user` and its event, in the caller's transaction.
pub(super) fn notify(
    ctx: &mut WriteCtx<'_>,
    user: UserId,
    kind: NotificationKind,
    body: String,
    conversation: Option<ConversationId>,
    actor: Option<UserId>,
) -> StoreResult<()> {
    ctx.conn
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
            ctx.now
        ])?;
    let id = NotificationId(ctx.conn.last_insert_rowid());
    let notification = ctx
        .conn
        .prepare_cached(&format!("{SELECT} WHERE n.id = ?1"))?
        .query_row([id.0], from_row)?;
    ctx.emit(user, EventKind::NotificationNew { notification })?;
    Ok(())
}

fn unread_count(conn: &Connection, user: UserId) -> StoreResult<u32> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL")?
        .query_row([user.0], |r| r.get(0))?)
}

impl Store {
    /// The user's notifications, newest first.
    pub async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        limit: u32,
    ) -> StoreResult<(Vec<Notification>, u32)> {
        self.read(move |conn| {
            let sql = format!(
                "{SELECT} WHERE n.user_id = ?1 {} ORDER BY n.id DESC LIMIT ?2",
                if unread_only { "AND n.read_at IS NULL" } else { "" }
            );
            let list = conn
                .prepare_cached(&sql)?
                .query_map(params![user.0, limit], from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((list, unread_count(conn, user)?))
        })
        .await
    }

    /// Marks some (`ids`) or all of the user's notifications read. Ids that are
    /// not the user's are "not found", exactly as ids that do not exist.
    pub async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<Vec<NotificationId>>,
    ) -> StoreResult<(u32, u32)> {
        self.write(move |ctx| {
            // Empty: all of them.
            let marked_ids: Vec<NotificationId> = ids.clone().unwrap_or_default();
            let marked = match ids {
                None => ctx.conn.execute(
                    "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
                    params![user.0, ctx.now],
                )?,
                Some(ids) => {
                    let mut n = 0;
                    for id in ids {
                        let mine: bool = ctx.conn.query_row(
                            "SELECT EXISTS(SELECT 1 FROM notifications WHERE id = ?1 AND user_id = ?2)",
                            params![id.0, user.0],
                            |r| r.get(0),
                        )?;
                        if !mine {
                            return Err(StoreError::not_found("notification"));
                        }
                        n += ctx.conn.execute(
                            "UPDATE notifications SET read_at = ?3 WHERE id = ?1 AND user_id = ?2 AND read_at IS NULL",
                            params![id.0, user.0, ctx.now],
                        )?;
                    }
                    n
                }
            };
            let unread = unread_count(ctx.conn, user)?;
            if marked > 0 {
                // The user's other devices update their counts and banners.
                ctx.emit(
                    user,
                    EventKind::NotificationsRead {
                        ids: marked_ids,
                        unread,
                    },
                )?;
            }
            Ok((marked as u32, unread))
        })
        .await
    }
}
