//! Notifications: written inside other changes with [`notify`], listed and
//! marked read by their owner only. The rules live here, over the storage
//! traits (`data/notifications.rs`); each backend has the SQL.

use super::data::Tx;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{Notification, NotificationKind};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, NotificationId, UserId};

/// Writes a notification for `user` and its event, in the caller's transaction.
pub(super) fn notify(
    tx: &mut dyn Tx,
    user: UserId,
    kind: NotificationKind,
    body: String,
    conversation: Option<ConversationId>,
    actor: Option<UserId>,
) -> StoreResult<()> {
    let id = tx.insert_notification(user, kind, &body, conversation, actor)?;
    let notification = tx.notification(id)?;
    tx.emit(user, EventKind::NotificationNew { notification })
}

/// Marks some (`ids`) or all (`None`) of `user`'s notifications read and
/// tells their other devices. Ids that are not the user's are "not found",
/// exactly as ids that do not exist. Returns how many were marked and how
/// many are left unread.
fn mark_read(tx: &mut dyn Tx, user: UserId, ids: Option<Vec<NotificationId>>) -> StoreResult<(u32, u32)> {
    let marked_ids: Vec<NotificationId> = ids.clone().unwrap_or_default();
    let marked = match ids {
        None => tx.mark_all_notifications_read(user)?,
        Some(ids) => {
            let mut n = 0;
            for id in ids {
                if !tx.owns_notification(user, id)? {
                    return Err(StoreError::not_found("notification"));
                }
                n += tx.mark_notification_read(user, id)?;
            }
            n
        }
    };
    let unread = tx.unread_notifications(user)?;
    if marked > 0 {
        // The user's other devices update their counts and banners.
        tx.emit(
            user,
            EventKind::NotificationsRead {
                ids: marked_ids,
                unread,
            },
        )?;
    }
    Ok((u32::try_from(marked).unwrap_or(u32::MAX), unread))
}

impl Store {
    /// The user's notifications, newest first, and how many are unread.
    pub async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        limit: u32,
    ) -> StoreResult<(Vec<Notification>, u32)> {
        self.read_data(move |r| {
            Ok((
                r.notifications(user, unread_only, limit)?,
                r.unread_notifications(user)?,
            ))
        })
        .await
    }

    /// Marks some (`ids`) or all of the user's notifications read.
    pub async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<Vec<NotificationId>>,
    ) -> StoreResult<(u32, u32)> {
        self.write_data(move |tx| mark_read(tx, user, ids)).await
    }
}

#[cfg(test)]
mod tests {
    //! The notification rules on both backends: the same story through
    //! `Store` on SQLite and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::notify;
    use crate::store::both_backends::on_both;
    use crate::store::{Store, StoreError};
    use mchat_shared::api::NotificationKind;
    use mchat_shared::{ErrorCode, NotificationId, UserId};

    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        store
            .write_data(move |tx| {
                notify(
                    tx,
                    me,
                    NotificationKind::MessageReceived,
                    "ana sent you a message".into(),
                    None,
                    Some(other),
                )?;
                notify(
                    tx,
                    me,
                    NotificationKind::Announcement,
                    "Office hours move".into(),
                    None,
                    None,
                )?;
                notify(
                    tx,
                    other,
                    NotificationKind::Announcement,
                    "Office hours move".into(),
                    None,
                    None,
                )
            })
            .await
            .unwrap();
        let (list, unread) = store.notifications(me, false, 50).await.unwrap();
        lines.push(format!("unread {unread}"));
        for n in &list {
            lines.push(format!(
                "{} {:?} {:?} by {:?} read {}",
                n.id,
                n.kind,
                n.body,
                n.actor,
                n.read_at.is_some()
            ));
        }
        let (theirs, _) = store.notifications(other, false, 50).await.unwrap();
        let refused = store.mark_notifications_read(me, Some(vec![theirs[0].id])).await;
        lines.push(match refused {
            Err(StoreError::Api(code, m)) => format!("refused {code:?}: {m}"),
            other => format!("{other:?}"),
        });
        let oldest: NotificationId = list[list.len() - 1].id;
        lines.push(format!(
            "{:?}",
            store
                .mark_notifications_read(me, Some(vec![oldest]))
                .await
                .unwrap()
        ));
        lines.push(format!(
            "{:?}",
            store
                .mark_notifications_read(me, Some(vec![oldest]))
                .await
                .unwrap()
        ));
        lines.push(format!(
            "{:?}",
            store.mark_notifications_read(me, None).await.unwrap()
        ));
        let (unread_only, left) = store.notifications(me, true, 50).await.unwrap();
        lines.push(format!("unread only {} left {left}", unread_only.len()));
        let log = store.events_after(me, mchat_shared::Seq(0), 100).await.unwrap();
        let kinds: Vec<&str> = log.events.iter().map(|e| e.kind.name()).collect();
        lines.push(format!("log {kinds:?}"));
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn notifications_behave_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        assert_eq!(s[0], "unread 2");
        assert!(
            s[1].contains("Announcement")
                && s[2].contains("MessageReceived")
                && s[2].contains("Some(\"ana\")"),
            "{s:?}"
        );
        assert!(
            s[3].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
            "{s:?}"
        );
        assert_eq!(
            s[4..8],
            ["(1, 1)", "(0, 1)", "(1, 0)", "unread only 0 left 0"],
            "{s:?}"
        );
        // Two notification_new, then notifications_read twice (the no-op
        // mark wrote nothing).
        assert_eq!(
            s[8],
            r#"log ["notification_new", "notification_new", "notifications_read", "notifications_read"]"#
        );
    }
}
