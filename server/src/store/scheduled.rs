//! Scheduled messages and reminders: stored with their due time, listed and
//! cancelled by their author only, and delivered by the scheduler task
//! (`server.rs`) through the writer.
//!
//! Delivery is one transaction per item: the message (or reminder
//! notification), the item's new status and the events commit together, so
//! an item is delivered exactly once even across crashes and restarts. A
//! scheduled message is stored with the item's `client_id`, which the
//! messages table keeps unique per sender: a second attempt finds the first.

use super::conversations::{participants, status_of};
use super::messages::{IsOnline, MessageInsert, insert_message, notify_offline};
use super::notifications::notify;
use super::rows::ts;
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{
    ConversationStatus, CreateScheduledRequest, MessageKind, NotificationKind, ScheduledItem, ScheduledKind,
    ScheduledStatus,
};
use mchat_shared::events::EventKind;
use mchat_shared::limits::SCHEDULED_MAX;
use mchat_shared::{ConversationId, ErrorCode, MessageId, ScheduledId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// How long finished items stay in `?all=true` lists.
const FINISHED_VISIBLE_MS: i64 = 30 * 24 * 3600 * 1000;
/// Items delivered per scheduler pass (the rest follow on the next one).
const DUE_BATCH: i64 = 200;

const SELECT: &str = "SELECT s.id, s.kind, s.conversation_id, \
     (SELECT u.username FROM participants p JOIN users u ON u.id = p.user_id \
        WHERE p.conversation_id = s.conversation_id AND p.user_id != s.user_id LIMIT 1), \
     s.body, s.due_at, s.status, s.message_id, s.error, s.client_id, s.created_at \
     FROM scheduled s";

fn kind_str(k: ScheduledKind) -> &'static str {
    match k {
        ScheduledKind::Message => "message",
        ScheduledKind::Reminder => "reminder",
    }
}

fn parse_status(s: &str) -> ScheduledStatus {
    match s {
        "sent" => ScheduledStatus::Sent,
        "failed" => ScheduledStatus::Failed,
        "cancelled" => ScheduledStatus::Cancelled,
        _ => ScheduledStatus::Pending,
    }
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduledItem> {
    Ok(ScheduledItem {
        id: ScheduledId(r.get(0)?),
        kind: if r.get::<_, String>(1)? == "reminder" {
            ScheduledKind::Reminder
        } else {
            ScheduledKind::Message
        },
        conversation_id: r.get::<_, Option<i64>>(2)?.map(ConversationId),
        peer: r.get(3)?,
        body: r.get(4)?,
        due_at: ts(r.get(5)?),
        status: parse_status(&r.get::<_, String>(6)?),
        message_id: r.get::<_, Option<i64>>(7)?.map(MessageId),
        error: r.get(8)?,
        client_id: r.get(9)?,
        created_at: ts(r.get(10)?),
    })
}

fn load(conn: &Connection, id: ScheduledId) -> StoreResult<ScheduledItem> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE s.id = ?1"))?
        .query_row([id.0], from_row)?)
}

/// The item `id` if it is `me`'s; anyone else's is simply not found.
fn load_mine(conn: &Connection, me: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
    conn.prepare_cached(&format!("{SELECT} WHERE s.id = ?1 AND s.user_id = ?2"))?
        .query_row(params![id.0, me.0], from_row)
        .optional()?
        .ok_or_else(|| StoreError::api(ErrorCode::NotFound, format!("you have no scheduled item {id}")))
}

fn ms(t: mchat_shared::Timestamp) -> i64 {
    t.as_millisecond()
}

fn emit_item(ctx: &mut WriteCtx<'_>, user: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
    let item = load(ctx.conn, id)?;
    ctx.emit(user, EventKind::ScheduledUpdated { item: item.clone() })?;
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
fn replay(conn: &Connection, me: UserId, req: &CreateScheduledRequest) -> StoreResult<Option<ScheduledItem>> {
    let existing: Option<(ScheduledId, String, Option<ConversationId>, String, i64)> = conn
        .prepare_cached(
            "SELECT id, kind, conversation_id, body, due_at FROM scheduled WHERE user_id = ?1 AND client_id = ?2",
        )?
        .query_row(params![me.0, req.client_id], |r| {
            Ok((
                ScheduledId(r.get(0)?),
                r.get(1)?,
                r.get::<_, Option<i64>>(2)?.map(ConversationId),
                r.get(3)?,
                r.get(4)?,
            ))
        })
        .optional()?;
    let Some((id, kind, in_conv, body, due_at)) = existing else {
        return Ok(None);
    };
    if kind != kind_str(req.kind)
        || in_conv != req.conversation_id
        || body != req.body
        || due_at != ms(req.due_at)
    {
        return Err(StoreError::api(
            ErrorCode::IdempotencyConflict,
            "this client_id was already used for a different scheduled item",
        ));
    }
    Ok(Some(load(conn, id)?))
}

fn create(
    ctx: &mut WriteCtx<'_>,
    me: UserId,
    req: CreateScheduledRequest,
) -> StoreResult<(ScheduledItem, bool)> {
    let due = ms(req.due_at);
    let conv = req.conversation_id;
    // A retry (same client_id) answers with what the first attempt stored.
    if let Some(item) = replay(ctx.conn, me, &req)? {
        return Ok((item, false));
    }
    if let Some(conv) = conv {
        let (status, _) = status_of(ctx.conn, me, conv)?;
        if !matches!(status, ConversationStatus::Accepted | ConversationStatus::Pending) {
            return Err(StoreError::api(
                ErrorCode::ConversationNotOpen,
                format!("the conversation is {status}, so nothing can be scheduled into it"),
            ));
        }
    }
    let pending: i64 = ctx
        .conn
        .prepare_cached("SELECT COUNT(*) FROM scheduled WHERE user_id = ?1 AND status = 'pending'")?
        .query_row([me.0], |r| r.get(0))?;
    if pending >= SCHEDULED_MAX as i64 {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            format!(
                "you already have {SCHEDULED_MAX} pending scheduled items, the most allowed; cancel some first"
            ),
        ));
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO scheduled (user_id, kind, conversation_id, body, due_at, client_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            me.0,
            kind_str(req.kind),
            conv.map(|c| c.0),
            req.body,
            due,
            req.client_id,
            ctx.now
        ])?;
    let id = ScheduledId(ctx.conn.last_insert_rowid());
    Ok((emit_item(ctx, me, id)?, true))
}

fn finish(
    ctx: &mut WriteCtx<'_>,
    id: ScheduledId,
    status: &str,
    message: Option<MessageId>,
    error: Option<&str>,
) -> StoreResult<()> {
    ctx.conn
        .prepare_cached(
            "UPDATE scheduled SET status = ?2, message_id = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        )?
        .execute(params![id.0, status, message.map(|m| m.0), error, ctx.now])?;
    Ok(())
}

/// Delivers one due item (if it is still pending): the message or the
/// reminder, its status, the events. Returns whether it did anything.
fn deliver(ctx: &mut WriteCtx<'_>, id: ScheduledId, is_online: &IsOnline) -> StoreResult<bool> {
    let row: Option<(UserId, String, Option<ConversationId>, String, String)> = ctx
        .conn
        .prepare_cached(
            "SELECT user_id, kind, conversation_id, body, client_id FROM scheduled \
             WHERE id = ?1 AND status = 'pending' AND due_at <= ?2",
        )?
        .query_row(params![id.0, ctx.now], |r| {
            Ok((
                UserId(r.get(0)?),
                r.get(1)?,
                r.get::<_, Option<i64>>(2)?.map(ConversationId),
                r.get(3)?,
                r.get(4)?,
            ))
        })
        .optional()?;
    let Some((user, kind, conv, body, client_id)) = row else {
        return Ok(false);
    };
    match (kind.as_str(), conv) {
        ("message", Some(conv)) => {
            let already: Option<MessageId> = ctx
                .conn
                .prepare_cached("SELECT id FROM messages WHERE sender_id = ?1 AND client_id = ?2")?
                .query_row(params![user.0, client_id], |r| r.get(0).map(MessageId))
                .optional()?;
            let status = status_of(ctx.conn, user, conv).map(|(s, _)| s);
            match (already, status) {
                (Some(message), _) => finish(ctx, id, "sent", Some(message), None)?,
                (None, Ok(ConversationStatus::Accepted)) => {
                    let message = insert_message(
                        ctx,
                        MessageInsert {
                            conversation: conv,
                            sender: Some(user),
                            kind: MessageKind::Text,
                            body,
                            system: None,
                            client_id: Some(client_id),
                            reply_to: None,
                        },
                    )?;
                    notify_offline(ctx, user, conv, is_online)?;
                    finish(ctx, id, "sent", Some(message.id), None)?;
                }
                (None, status) => {
                    let peer = participants(ctx.conn, conv)?
                        .into_iter()
                        .find(|&u| u != user)
                        .map(|p| {
                            ctx.conn
                                .query_row("SELECT username FROM users WHERE id = ?1", [p.0], |r| {
                                    r.get::<_, String>(0)
                                })
                        })
                        .transpose()?
                        .unwrap_or_default();
                    let reason = match status {
                        Ok(s) => not_open_reason(s, &peer),
                        Err(_) => "you are no longer in that conversation".into(),
                    };
                    let error = format!("not sent: {reason}");
                    finish(ctx, id, "failed", None, Some(&error))?;
                    notify(
                        ctx,
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
            notify(ctx, user, NotificationKind::Reminder, body, None, None)?;
            finish(ctx, id, "sent", None, None)?;
        }
    }
    emit_item(ctx, user, id)?;
    Ok(true)
}

impl Store {
    /// Stores a scheduled message or reminder (already validated: body,
    /// client_id, due time, kind/conversation). 201-new or 200-replay.
    pub async fn create_scheduled(
        &self,
        me: UserId,
        req: CreateScheduledRequest,
    ) -> StoreResult<(ScheduledItem, bool)> {
        self.write(move |ctx| create(ctx, me, req)).await
    }

    /// The item stored earlier under `req.client_id`, if any (for retries
    /// that arrive after the item's time has passed).
    pub async fn find_scheduled_replay(
        &self,
        me: UserId,
        req: CreateScheduledRequest,
    ) -> StoreResult<Option<ScheduledItem>> {
        self.read(move |conn| replay(conn, me, &req)).await
    }

    /// My pending items by due time; with `all`, also the ones finished in
    /// the last 30 days.
    pub async fn scheduled(&self, me: UserId, all: bool) -> StoreResult<Vec<ScheduledItem>> {
        self.read(move |conn| {
            let since = super::now_ms().saturating_sub(FINISHED_VISIBLE_MS);
            let list = if all {
                conn.prepare_cached(&format!(
                    "{SELECT} WHERE s.user_id = ?1 \
                     AND (s.status = 'pending' OR COALESCE(s.finished_at, s.created_at) >= ?2) \
                     ORDER BY s.due_at, s.id"
                ))?
                .query_map(params![me.0, since], from_row)?
                .collect::<Result<Vec<_>, _>>()?
            } else {
                conn.prepare_cached(&format!(
                    "{SELECT} WHERE s.user_id = ?1 AND s.status = 'pending' ORDER BY s.due_at, s.id"
                ))?
                .query_map([me.0], from_row)?
                .collect::<Result<Vec<_>, _>>()?
            };
            Ok(list)
        })
        .await
    }

    /// Cancels my pending item. Already cancelled: answered as it is;
    /// already sent or failed: 409; not mine: not found.
    pub async fn cancel_scheduled(&self, me: UserId, id: ScheduledId) -> StoreResult<ScheduledItem> {
        self.write(move |ctx| {
            let item = load_mine(ctx.conn, me, id)?;
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
                    finish(ctx, id, "cancelled", None, None)?;
                    emit_item(ctx, me, id)
                }
            }
        })
        .await
    }

    /// When the next pending item is due (ms since the epoch), if any.
    pub async fn next_scheduled_due(&self) -> StoreResult<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT MIN(due_at) FROM scheduled WHERE status = 'pending'")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    /// Delivers every item due by now, each in its own write (one failing
    /// item does not hold the others back). Returns how many were delivered.
    pub async fn deliver_due_scheduled(&self, is_online: IsOnline) -> StoreResult<u32> {
        let now = super::now_ms();
        let due: Vec<ScheduledId> = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT id FROM scheduled WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
                    )?
                    .query_map(params![now, DUE_BATCH], |r| r.get(0).map(ScheduledId))?
                    .collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut delivered = 0;
        for id in due {
            let online = is_online.clone();
            match self.write(move |ctx| deliver(ctx, id, &online)).await {
                Ok(true) => delivered += 1,
                Ok(false) => {}
                Err(StoreError::Closed) => return Err(StoreError::Closed),
                Err(e) => tracing::warn!(error = %e, item = id.0, "scheduled delivery failed; will retry"),
            }
        }
        Ok(delivered)
    }
}
