//! Messages: send (idempotent by `client_id`), cursor pages of history, and
//! the per-participant delivered/read markers.

use super::conversations::{participants, status_of};
use super::rows::{MESSAGE_SELECT, marker, message_from_row};
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{ConversationStatus, Message, MessageKind, MessagePage, ReadMarker, SystemAction};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, FileId, MessageId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) struct MessageInsert {
    pub conversation: ConversationId,
    pub sender: Option<UserId>,
    pub kind: MessageKind,
    pub body: String,
    pub system: Option<SystemAction>,
    pub client_id: Option<String>,
    pub reply_to: Option<MessageId>,
}

/// One message, completed by `hydrate` (quote, reactions, attachment).
pub(super) fn load_message(conn: &Connection, id: MessageId) -> StoreResult<Message> {
    let mut message = conn
        .prepare_cached(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))?
        .query_row([id.0], message_from_row)?;
    super::hydrate::hydrate(conn, std::slice::from_mut(&mut message))?;
    Ok(message)
}

/// Stores a message, moves the conversation's activity and the sender's own
/// markers, and emits `message_new` to every participant.
pub(super) fn insert_message(ctx: &mut WriteCtx<'_>, m: MessageInsert) -> StoreResult<Message> {
    insert_message_with_file(ctx, m, None)
}

/// [`insert_message`] with an attached file (already checked to be the sender's).
pub(super) fn insert_message_with_file(
    ctx: &mut WriteCtx<'_>,
    m: MessageInsert,
    file: Option<FileId>,
) -> StoreResult<Message> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO messages (conversation_id, sender_id, client_id, kind, system_action, body, reply_to, \
             created_at, file_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            m.conversation.0,
            m.sender.map(|s| s.0),
            m.client_id,
            m.kind.as_str(),
            m.system.map(|s| s.as_str()),
            m.body,
            m.reply_to.map(|r| r.0),
            ctx.now,
            file.map(|f| f.0),
        ])?;
    let id = MessageId(ctx.conn.last_insert_rowid());
    let is_text = m.kind != MessageKind::System;
    ctx.conn
        .prepare_cached(
            "UPDATE conversations SET last_message_id = ?2, last_activity_at = ?3, \
             last_text_message_id = CASE WHEN ?4 THEN ?2 ELSE last_text_message_id END WHERE id = ?1",
        )?
        .execute(params![m.conversation.0, id.0, ctx.now, is_text])?;
    if let Some(sender) = m.sender {
        ctx.conn
            .prepare_cached(
                "UPDATE participants SET read_up_to = ?3, delivered_up_to = ?3 \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .execute(params![m.conversation.0, sender.0, id.0])?;
    }
    // New activity brings an archived conversation back (settings.rs).
    super::settings::on_new_message(ctx, m.conversation, m.sender)?;
    let message = load_message(ctx.conn, id)?;
    let everyone = participants(ctx.conn, m.conversation)?;
    ctx.emit_all(
        &everyone,
        EventKind::MessageNew {
            message: message.clone(),
        },
    )?;
    Ok(message)
}

fn not_open(status: ConversationStatus, me_is_requester: bool, peer: &str) -> StoreError {
    let msg = match status {
        ConversationStatus::Pending if me_is_requester => format!("{peer} has not accepted your request yet"),
        ConversationStatus::Pending => format!("accept {peer}'s request before replying"),
        ConversationStatus::Declined => {
            "the request was declined; nobody can post in this conversation".into()
        }
        ConversationStatus::Expired => "the request expired; send a new request to talk again".into(),
        ConversationStatus::Completed => "the conversation is completed; reopen it to post again".into(),
        ConversationStatus::Accepted => "the conversation is open".into(),
    };
    StoreError::api(ErrorCode::ConversationNotOpen, msg)
}

fn peer_name(conn: &Connection, me: UserId, conv: ConversationId) -> StoreResult<String> {
    Ok(conn
        .prepare_cached(
            "SELECT u.username FROM participants p JOIN users u ON u.id = p.user_id \
             WHERE p.conversation_id = ?1 AND p.user_id != ?2 LIMIT 1",
        )?
        .query_row(params![conv.0, me.0], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

fn markers(conn: &Connection, conv: ConversationId) -> StoreResult<Vec<ReadMarker>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.username, p.delivered_up_to, p.read_up_to FROM participants p \
             JOIN users u ON u.id = p.user_id WHERE p.conversation_id = ?1 ORDER BY u.username",
        )?
        .query_map([conv.0], |r| {
            Ok(marker(r.get(0)?, MessageId(r.get(1)?), MessageId(r.get(2)?)))
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

fn unread(conn: &Connection, me: UserId, conv: ConversationId, read_up_to: MessageId) -> StoreResult<u32> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND id > ?3 \
             AND (sender_id IS NULL OR sender_id != ?2)",
        )?
        .query_row(params![conv.0, me.0, read_up_to.0], |r| r.get(0))?)
}

/// Whether a user has a live connection right now (the real-time hub answers).
pub type IsOnline = std::sync::Arc<dyn Fn(UserId) -> bool + Send + Sync>;

/// A "message received" notification for each recipient with no live
/// connection, unless they are busy (do not disturb), muted the
/// conversation, or already have an unread one for this conversation (one
/// is enough to bring them back). Also used by scheduled sends.
pub(super) fn notify_offline(
    ctx: &mut WriteCtx<'_>,
    sender: UserId,
    conv: ConversationId,
    is_online: &IsOnline,
) -> StoreResult<()> {
    for user in participants(ctx.conn, conv)? {
        if user == sender || is_online(user) || super::settings::is_muted(ctx.conn, user, conv)? {
            continue;
        }
        let (busy, pending): (bool, bool) = ctx
            .conn
            .prepare_cached(
                "SELECT u.availability = 'busy' AND u.role = 'mentor', \
             EXISTS(SELECT 1 FROM notifications n WHERE n.user_id = u.id AND n.conversation_id = ?2 \
                    AND n.kind = 'message_received' AND n.read_at IS NULL) \
             FROM users u WHERE u.id = ?1",
            )?
            .query_row(params![user.0, conv.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if busy || pending {
            continue;
        }
        let name: String = ctx
            .conn
            .prepare_cached("SELECT username FROM users WHERE id = ?1")?
            .query_row([sender.0], |r| r.get(0))?;
        super::notifications::notify(
            ctx,
            user,
            mchat_shared::api::NotificationKind::MessageReceived,
            format!("{name} sent you a message"),
            Some(conv),
            Some(sender),
        )?;
    }
    Ok(())
}

/// How a marker update moves: each present field only ever moves forward.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkerUpdate {
    pub read_up_to: Option<MessageId>,
    pub delivered_up_to: Option<MessageId>,
    /// Also count the unread messages left (an HTTP caller shows it; the
    /// live path, which moves delivered markers on every frame, does not
    /// need it and must not pay a scan of a long unread backlog for it).
    pub count_unread: bool,
}

impl Store {
    /// Sends a message, with an attached file when `file` is set (one the
    /// sender uploaded; the body may then be empty). Returns the message and
    /// whether it was created now (false: the same `client_id`, body and file
    /// were stored before).
    #[allow(clippy::too_many_arguments)]
    pub async fn send_message(
        &self,
        me: UserId,
        conv: ConversationId,
        client_id: String,
        body: String,
        reply_to: Option<MessageId>,
        file: Option<FileId>,
        is_online: IsOnline,
    ) -> StoreResult<(Message, bool)> {
        self.write(move |ctx| {
            let (status, requested_by) = status_of(ctx.conn, me, conv)?;
            let existing: Option<(MessageId, ConversationId, String, Option<FileId>)> = ctx
                .conn
                .prepare_cached(
                    "SELECT id, conversation_id, body, file_id FROM messages WHERE sender_id = ?1 AND client_id = ?2",
                )?
                .query_row(params![me.0, client_id], |r| {
                    Ok((
                        MessageId(r.get(0)?),
                        ConversationId(r.get(1)?),
                        r.get(2)?,
                        r.get::<_, Option<i64>>(3)?.map(FileId),
                    ))
                })
                .optional()?;
            if let Some((id, in_conv, stored, stored_file)) = existing {
                if in_conv != conv || stored != body || stored_file != file {
                    return Err(StoreError::api(
                        ErrorCode::IdempotencyConflict,
                        "this client_id was already used for a different message",
                    ));
                }
                return Ok((load_message(ctx.conn, id)?, false));
            }
            if status != ConversationStatus::Accepted {
                return Err(not_open(
                    status,
                    requested_by == me,
                    &peer_name(ctx.conn, me, conv)?,
                ));
            }
            if let Some(parent) = reply_to {
                let ok: bool = ctx.conn.query_row(
                    "SELECT EXISTS(SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2)",
                    params![parent.0, conv.0],
                    |r| r.get(0),
                )?;
                if !ok {
                    return Err(StoreError::api(
                        ErrorCode::ValidationFailed,
                        format!("message {parent} is not in this conversation, so it cannot be replied to"),
                    ));
                }
            }
            if let Some(file) = file {
                super::files::check_own_file(ctx.conn, me, file)?;
            }
            let message = insert_message_with_file(
                ctx,
                MessageInsert {
                    conversation: conv,
                    sender: Some(me),
                    kind: if file.is_some() {
                        MessageKind::File
                    } else {
                        MessageKind::Text
                    },
                    body,
                    system: None,
                    client_id: Some(client_id),
                    reply_to,
                },
                file,
            )?;
            notify_offline(ctx, me, conv, &is_online)?;
            Ok((message, true))
        })
        .await
    }

    /// A page of history, oldest first. `after` pages forward; otherwise the
    /// page ends just before `before` (or is the newest page).
    pub async fn messages(
        &self,
        me: UserId,
        conv: ConversationId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<MessagePage> {
        self.read(move |conn| {
            status_of(conn, me, conv)?;
            let take = i64::from(limit) + 1;
            let mut messages = if let Some(after) = after {
                conn.prepare_cached(&format!(
                    "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id > ?2 ORDER BY m.id ASC LIMIT ?3"
                ))?
                .query_map(params![conv.0, after.0, take], message_from_row)?
                .collect::<Result<Vec<_>, _>>()?
            } else {
                let before = before.map_or(i64::MAX, |b| b.0);
                let mut page = conn
                    .prepare_cached(&format!(
                        "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
                    ))?
                    .query_map(params![conv.0, before, take], message_from_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                page.reverse();
                page
            };
            let has_more = messages.len() > limit as usize;
            if has_more {
                if after.is_some() {
                    messages.pop();
                } else {
                    messages.remove(0);
                }
            }
            super::hydrate::hydrate(conn, &mut messages)?;
            Ok(MessagePage {
                messages,
                has_more,
                markers: markers(conn, conv)?,
            })
        })
        .await
    }

    /// Moves my markers forward (never back, never past the last message).
    /// Returns my markers and, when counted, my unread count.
    pub async fn update_markers(
        &self,
        me: UserId,
        conv: ConversationId,
        update: MarkerUpdate,
    ) -> StoreResult<(ReadMarker, Option<u32>)> {
        self.write(move |ctx| {
            status_of(ctx.conn, me, conv)?;
            let (username, delivered, read, last): (String, MessageId, MessageId, MessageId) = ctx
                .conn
                .prepare_cached(
                    "SELECT u.username, p.delivered_up_to, p.read_up_to, COALESCE(c.last_message_id, 0) \
                     FROM participants p JOIN users u ON u.id = p.user_id \
                     JOIN conversations c ON c.id = p.conversation_id \
                     WHERE p.conversation_id = ?1 AND p.user_id = ?2",
                )?
                .query_row(params![conv.0, me.0], |r| {
                    Ok((
                        r.get(0)?,
                        MessageId(r.get(1)?),
                        MessageId(r.get(2)?),
                        MessageId(r.get(3)?),
                    ))
                })?;
            let new_read = update.read_up_to.map_or(read, |r| read.max(r.min(last)));
            let new_delivered = update
                .delivered_up_to
                .map_or(delivered, |d| delivered.max(d.min(last)))
                .max(new_read);
            let mine = marker(username, new_delivered, new_read);
            if (new_read, new_delivered) != (read, delivered) {
                ctx.conn.execute(
                    "UPDATE participants SET read_up_to = ?3, delivered_up_to = ?4 \
                     WHERE conversation_id = ?1 AND user_id = ?2",
                    params![conv.0, me.0, new_read.0, new_delivered.0],
                )?;
                let everyone = participants(ctx.conn, conv)?;
                ctx.emit_all(
                    &everyone,
                    EventKind::MarkersUpdated {
                        conversation_id: conv,
                        markers: mine.clone(),
                    },
                )?;
            }
            let read_moved = new_read != read;
            let left = if read_moved || update.count_unread {
                Some(unread(ctx.conn, me, conv, new_read)?)
            } else {
                None
            };
            if read_moved && left == Some(0) {
                // Caught up: a "message received" nudge for it has done its job.
                ctx.conn.execute(
                    "UPDATE notifications SET read_at = ?3 WHERE user_id = ?1 AND conversation_id = ?2 \
                     AND kind = 'message_received' AND read_at IS NULL",
                    params![me.0, conv.0, ctx.now],
                )?;
            }
            Ok((mine, left))
        })
        .await
    }
}
