//! Scheduled messages and reminders: stored with their due time, listed and
//! cancelled by their author only, and delivered by the scheduler task
//! (`server.rs`). The rules live here, over the storage traits
//! (`data/scheduled.rs`); each backend has the SQL.
//!
//! Delivery is one transaction per item: the message (or reminder
//! notification), the item's new status and the events commit together, so
//! an item is delivered exactly once even across crashes and restarts. A
//! scheduled message is stored with the item's `client_id`, which the
//! messages table keeps unique per sender: a second attempt finds the first.

use super::conversations::{peer_name, status_of};
use super::data::{NewMessage, NewScheduled, Read, Tx};
use super::messages::{IsOnline, insert_message_among, notify_offline};
use super::notifications::notify;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{
    ConversationStatus, CreateScheduledRequest, MessageKind, NotificationKind, ScheduledItem, ScheduledKind,
    ScheduledStatus,
};
use mchat_shared::events::EventKind;
use mchat_shared::limits::SCHEDULED_MAX;
use mchat_shared::{ErrorCode, ScheduledId, UserId};

/// How long finished items stay in `?all=true` lists.
const FINISHED_VISIBLE_MS: i64 = 30 * 24 * 3600 * 1000;
/// Items delivered per scheduler pass (the rest follow on the next one).
const DUE_BATCH: u32 = 200;

fn load(r: &dyn Read, id: ScheduledId) -> StoreResult<ScheduledItem> {
    match r.scheduled_item(id)? {
        Some((_, item)) => Ok(item),
        None => Err(StoreError::not_found("scheduled item")),
    }
}

/// The item `id` if it is `me`'s; anyone else's is simply not found.
fn load_mine(r: &dyn Read, me: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
    match r.scheduled_item(id)? {
        Some((author, item)) if author == me => Ok(item),
        _ => Err(StoreError::api(
            ErrorCode::NotFound,
            format!("you have no scheduled item {id}"),
        )),
    }
}

fn ms(t: mchat_shared::Timestamp) -> i64 {
    t.as_millisecond()
}

fn emit_item(tx: &mut dyn Tx, user: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
    let item = load(tx, id)?;
    tx.emit(user, EventKind::ScheduledUpdated { item: item.clone() })?;
    Ok(item)
}

/// Why a conversation cannot take a message now, for the author.
fn not_open_reason(status: ConversationStatus, peer: &str) -> String {
    match status {
        ConversationStatus::Pending => format!("{peer} had not accepted the request yet"),
        ConversationStatus::Declined => "the request was declined".into(),
        ConversationStatus::Expired => "the request expired".into(),
        ConversationStatus::Completed => "the conversation was completed".into(),
        ConversationStatus::Accepted => "the conversation is open".into(),
    }
}

/// The item a retry of `req` (same client_id) refers to; the same client_id
/// with different content is a conflict.
fn replay(r: &dyn Read, me: UserId, req: &CreateScheduledRequest) -> StoreResult<Option<ScheduledItem>> {
    let Some(row) = r.scheduled_by_client_id(me, &req.client_id)? else {
        return Ok(None);
    };
    if row.kind != req.kind
        || row.conversation != req.conversation_id
        || row.body != req.body
        || row.due_at != ms(req.due_at)
    {
        return Err(StoreError::api(
            ErrorCode::IdempotencyConflict,
            "this client_id was already used for a different scheduled item",
        ));
    }
    Ok(Some(load(r, row.id)?))
}

fn create(tx: &mut dyn Tx, me: UserId, req: CreateScheduledRequest) -> StoreResult<(ScheduledItem, bool)> {
    // A retry (same client_id) answers with what the first attempt stored.
    if let Some(item) = replay(tx, me, &req)? {
        return Ok((item, false));
    }
    if let Some(conv) = req.conversation_id {
        let (status, _) = status_of(tx, me, conv)?;
        if !matches!(status, ConversationStatus::Accepted | ConversationStatus::Pending) {
            return Err(StoreError::api(
                ErrorCode::ConversationNotOpen,
                format!("the conversation is {status}, so nothing can be scheduled into it"),
            ));
        }
    }
    if tx.pending_scheduled(me)? as usize >= SCHEDULED_MAX {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            format!(
                "you already have {SCHEDULED_MAX} pending scheduled items, the most allowed; cancel some first"
            ),
        ));
    }
    let id = tx.insert_scheduled(&NewScheduled {
        user: me,
        kind: req.kind,
        conversation: req.conversation_id,
        body: req.body,
        due_at: ms(req.due_at),
        client_id: req.client_id,
    })?;
    Ok((emit_item(tx, me, id)?, true))
}

/// Delivers one due item (if it is still pending and no other node has
/// it): the message or the reminder, its status, the events. Returns
/// whether it did anything.
fn deliver(tx: &mut dyn Tx, id: ScheduledId, is_online: &IsOnline) -> StoreResult<bool> {
    let Some(row) = tx.claim_due_scheduled(id)? else {
        return Ok(false);
    };
    let user = row.user;
    match (row.kind, row.conversation) {
        (ScheduledKind::Message, Some(conv)) => {
            // A message that was stored (a crash between the two is
            // impossible: one transaction) is found by its client_id.
            let already = tx.sent_with_client_id(user, &row.client_id)?.map(|m| m.id);
            let status = status_of(tx, user, conv).map(|(s, _)| s);
            match (already, status) {
                (Some(message), _) => tx.finish_scheduled(id, ScheduledStatus::Sent, Some(message), None)?,
                (None, Ok(ConversationStatus::Accepted)) => {
                    let (message, everyone) = insert_message_among(
                        tx,
                        NewMessage {
                            conversation: conv,
                            sender: Some(user),
                            kind: MessageKind::Text,
                            body: row.body,
                            system: None,
                            client_id: Some(row.client_id),
                            reply_to: None,
                            file: None,
                        },
                    )?;
                    notify_offline(tx, user, conv, &everyone, is_online)?;
                    tx.finish_scheduled(id, ScheduledStatus::Sent, Some(message.id), None)?;
                }
                (None, status) => {
                    let peer = peer_name(tx, user, conv)?;
                    let reason = match status {
                        Ok(s) => not_open_reason(s, &peer),
                        Err(_) => "you are no longer in that conversation".into(),
                    };
                    let error = format!("not sent: {reason}");
                    tx.finish_scheduled(id, ScheduledStatus::Failed, None, Some(&error))?;
                    notify(
                        tx,
                        user,
                        NotificationKind::Reminder,
                        format!("your scheduled message #{id} to {peer} was not sent: {reason}"),
                        Some(conv),
                        None,
                    )?;
                }
            }
        }
        _ => {
            notify(tx, user, NotificationKind::Reminder, row.body, None, None)?;
            tx.finish_scheduled(id, ScheduledStatus::Sent, None, None)?;
        }
    }
    emit_item(tx, user, id)?;
    Ok(true)
}

fn cancel(tx: &mut dyn Tx, me: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
    let item = load_mine(tx, me, id)?;
    match item.status {
        ScheduledStatus::Cancelled => Ok(item),
        ScheduledStatus::Sent | ScheduledStatus::Failed => Err(StoreError::api(
            ErrorCode::InvalidTransition,
            format!(
                "scheduled item {id} was already {}, so it cannot be cancelled",
                if item.status == ScheduledStatus::Sent {
                    "sent"
                } else {
                    "tried (it failed)"
                }
            ),
        )),
        ScheduledStatus::Pending => {
            tx.finish_scheduled(id, ScheduledStatus::Cancelled, None, None)?;
            emit_item(tx, me, id)
        }
    }
}

impl Store {
    /// Stores a scheduled message or reminder (already validated: body,
    /// client_id, due time, kind/conversation). 201-new or 200-replay.
    pub async fn create_scheduled(
        &self,
        me: UserId,
        req: CreateScheduledRequest,
    ) -> StoreResult<(ScheduledItem, bool)> {
        self.write_data(move |tx| create(tx, me, req)).await
    }

    /// The item stored earlier under `req.client_id`, if any (for retries
    /// that arrive after the item's time has passed).
    pub async fn find_scheduled_replay(
        &self,
        me: UserId,
        req: CreateScheduledRequest,
    ) -> StoreResult<Option<ScheduledItem>> {
        self.read_data(move |r| replay(r, me, &req)).await
    }

    /// My pending items by due time; with `all`, also the ones finished in
    /// the last 30 days.
    pub async fn scheduled(&self, me: UserId, all: bool) -> StoreResult<Vec<ScheduledItem>> {
        let since = all.then(|| super::now_ms().saturating_sub(FINISHED_VISIBLE_MS));
        self.read_data(move |r| r.scheduled_items(me, since)).await
    }

    /// Cancels my pending item. Already cancelled: answered as it is;
    /// already sent or failed: 409; not mine: not found.
    pub async fn cancel_scheduled(&self, me: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
        self.write_data(move |tx| cancel(tx, me, id)).await
    }

    /// When the next pending item is due (ms since the epoch), if any.
    pub async fn next_scheduled_due(&self) -> StoreResult<Option<i64>> {
        self.read_data(|r| r.next_scheduled_due()).await
    }

    /// Delivers every item due by now, each in its own write (one failing
    /// item does not hold the others back). Returns how many were delivered.
    pub async fn deliver_due_scheduled(&self, is_online: IsOnline) -> StoreResult<u32> {
        let now = super::now_ms();
        let due: Vec<ScheduledId> = self.read_data(move |r| r.due_scheduled(now, DUE_BATCH)).await?;
        let mut delivered = 0;
        for id in due {
            let online = is_online.clone();
            match self.write_data(move |tx| deliver(tx, id, &online)).await {
                Ok(true) => delivered += 1,
                Ok(false) => {}
                Err(StoreError::Closed) => return Err(StoreError::Closed),
                Err(e) => tracing::warn!(error = %e, item = id.0, "scheduled delivery failed; will retry"),
            }
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    //! Scheduling, retries, cancelling and delivery: one story on both backends.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::both_backends::{CONVERSATION, log_of, on_both, outcome};
    use crate::store::{IsOnline, Store, now_ms};
    use mchat_shared::api::{CreateScheduledRequest, ScheduledItem, ScheduledKind};
    use mchat_shared::{ConversationId, MessageId, ScheduledId, Timestamp, UserId};
    use std::sync::Arc;

    fn request(
        kind: ScheduledKind,
        conv: Option<ConversationId>,
        body: &str,
        in_ms: i64,
        cid: &str,
    ) -> CreateScheduledRequest {
        CreateScheduledRequest {
            kind,
            conversation_id: conv,
            body: body.into(),
            due_at: Timestamp::from_millisecond(now_ms() + in_ms).unwrap(),
            client_id: cid.into(),
        }
    }

    fn show(item: &ScheduledItem) -> String {
        format!(
            "#{} {:?} in {:?} with {:?} {:?} {:?} message {:?} error {:?} cid {}",
            item.id,
            item.kind,
            item.conversation_id,
            item.peer,
            item.body,
            item.status,
            item.message_id,
            item.error,
            item.client_id
        )
    }

    async fn story(store: Store, mona: UserId, ana: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        let offline: IsOnline = Arc::new(|_| false);
        let due = request(
            ScheduledKind::Message,
            Some(CONVERSATION),
            "see you at 5",
            -1000,
            "s1",
        );
        for req in [
            due.clone(),
            due.clone(),
            CreateScheduledRequest {
                body: "another text".into(),
                ..due.clone()
            },
            request(ScheduledKind::Reminder, None, "prepare the review", -500, "s2"),
            request(
                ScheduledKind::Message,
                Some(CONVERSATION),
                "next week",
                3_600_000,
                "s3",
            ),
            request(
                ScheduledKind::Message,
                Some(ConversationId(77)),
                "nowhere",
                1000,
                "s4",
            ),
        ] {
            lines.push(outcome(
                store
                    .create_scheduled(mona, req)
                    .await
                    .map(|(item, created)| format!("{} created {created}", show(&item))),
            ));
        }
        lines.push(outcome(
            store
                .find_scheduled_replay(mona, due.clone())
                .await
                .map(|found| format!("{:?}", found.map(|i| i.id))),
        ));
        for (who, id) in [
            (ana, ScheduledId(3)),
            (mona, ScheduledId(3)),
            (mona, ScheduledId(3)),
        ] {
            lines.push(outcome(store.cancel_scheduled(who, id).await.map(|i| show(&i))));
        }
        lines.push(format!(
            "next due in the past {}",
            store.next_scheduled_due().await.unwrap().unwrap() < now_ms()
        ));
        lines.push(format!(
            "delivered {}",
            store.deliver_due_scheduled(offline.clone()).await.unwrap()
        ));
        lines.push(format!(
            "delivered {}",
            store.deliver_due_scheduled(offline.clone()).await.unwrap()
        ));
        lines.push(format!(
            "next due {:?}",
            store.next_scheduled_due().await.unwrap()
        ));
        lines.push(outcome(
            store
                .cancel_scheduled(mona, ScheduledId(1))
                .await
                .map(|i| show(&i)),
        ));
        for all in [false, true] {
            for item in store.scheduled(mona, all).await.unwrap() {
                lines.push(format!("all {all}: {}", show(&item)));
            }
        }
        lines.push(format!(
            "ana's {}",
            store.scheduled(ana, true).await.unwrap().len()
        ));
        // Deleting the message it became leaves no copy of its text.
        let sent = store.scheduled(mona, true).await.unwrap()[0].message_id.unwrap();
        store
            .delete_message(
                mona,
                sent,
                &std::sync::Arc::new(crate::attachments::Blobs::in_dir(
                    tempfile::tempdir().unwrap().path().to_path_buf(),
                )),
            )
            .await
            .unwrap();
        lines.push(format!(
            "{:?}",
            store.scheduled(mona, true).await.unwrap()[0].body
        ));
        let (notes, _) = store.notifications(mona, false, 10).await.unwrap();
        lines.push(format!("{:?}", notes.iter().map(|n| &n.body).collect::<Vec<_>>()));
        lines.push(format!(
            "message {:?}",
            store
                .message(ana, MessageId(sent.0))
                .await
                .map(|m| m.deleted_at.is_some())
                .ok()
        ));
        lines.extend(log_of(&store, mona).await);
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn scheduling_behaves_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        let text = s.join("\n");
        assert!(
            s[0].starts_with(
                "#1 Message in Some(ConversationId(1)) with Some(\"ana\") \"see you at 5\" Pending"
            ) && s[0].ends_with("created true"),
            "{text}"
        );
        assert!(s[1].ends_with("created false"), "{text}");
        assert!(s[2].starts_with("refused IdempotencyConflict"), "{text}");
        assert!(s[3].starts_with("#2 Reminder in None with None"), "{text}");
        assert!(s[5].starts_with("refused NotFound"), "{text}");
        assert_eq!(s[6], "Some(ScheduledId(1))");
        assert!(
            s[7].starts_with("refused NotFound: you have no scheduled item 3"),
            "{text}"
        );
        assert!(s[8].contains("Cancelled"), "{text}");
        assert_eq!(s[9], s[8], "cancelling twice is a no-op");
        assert_eq!(
            s[10..14],
            [
                "next due in the past true",
                "delivered 2",
                "delivered 0",
                "next due None"
            ],
            "{text}"
        );
        assert!(
            s[14].starts_with("refused InvalidTransition: scheduled item 1 was already sent"),
            "{text}"
        );
        assert!(
            s[15..]
                .iter()
                .any(|l| l.starts_with("all true: #1 Message") && l.contains("Sent message Some(MessageId(")),
            "{text}"
        );
        assert!(text.contains("ana's 0"), "{text}");
        assert!(text.contains("\n\"\"\n"), "the item forgot its text: {text}");
        assert!(
            text.contains("\"prepare the review\""),
            "the reminder's notification: {text}"
        );
        assert!(
            !s.iter()
                .filter(|l| l.starts_with("{\"data\""))
                .any(|l| l.contains("see you at 5")),
            "no event keeps the text: {text}"
        );
        assert!(text.contains("message Some(true)"), "{text}");
    }
}
