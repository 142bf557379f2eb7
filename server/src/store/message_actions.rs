//! Edit (the original kept in message_edits), soft delete (a tombstone) and reactions.
//!
//! Authorization is in the lookup: a message is found only through the
//! caller's participant row (an admin may delete without one), so a
//! non-participant learns nothing (404). Rules, checked in this order:
//!
//! - **Edit**: participant; not a system message, not deleted (409); only
//!   the sender (403); only while the conversation is pending or accepted —
//!   completed conversations are read-only, declined/expired ones closed
//!   (409). Identical text is a no-op.
//! - **Delete**: participant or admin; not a system message (409); the
//!   sender or an admin (403); in any conversation status (taking words
//!   back is always allowed). Deleting twice is a no-op. The text stays in
//!   the row (for moderation) but never leaves the store.
//! - **Reactions**: participant; not a system or deleted message (409);
//!   pending or accepted conversations only; at most
//!   [`REACTIONS_PER_USER_MAX`] distinct emoji per user per message; adding
//!   twice or removing what is not there is a no-op.
//!
//! Every change emits `message_updated` (the whole message after it) to
//! every participant in the same transaction; a no-op emits nothing.

use super::conversations::participants;
use super::messages::load_message;
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{ConversationStatus, Message, MessageKind, Role};
use mchat_shared::events::EventKind;
use mchat_shared::limits::REACTIONS_PER_USER_MAX;
use mchat_shared::{ErrorCode, MessageId};
use rusqlite::{Connection, OptionalExtension, params};

/// What the checks need to know about a message.
struct Target {
    conversation: i64,
    sender: Option<i64>,
    kind: MessageKind,
    body: String,
    deleted: bool,
    status: ConversationStatus,
    /// Whether the caller is a participant, and an admin.
    member: bool,
    admin: bool,
}

/// The message `id` as `me` may see it: only through my participant row,
/// unless `admin_too` and I am an admin. Otherwise not found.
fn target(conn: &Connection, me: i64, id: MessageId, admin_too: bool) -> StoreResult<Target> {
    let found = conn
        .prepare_cached(
            "SELECT m.conversation_id, m.sender_id, m.kind, m.body, m.deleted_at IS NOT NULL, c.status, \
             EXISTS(SELECT 1 FROM participants p \
                    WHERE p.conversation_id = m.conversation_id AND p.user_id = ?2), \
             (SELECT u.role FROM users u WHERE u.id = ?2) \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1",
        )?
        .query_row(params![id.0, me], |r| {
            let role: Option<String> = r.get(7)?;
            Ok(Target {
                conversation: r.get(0)?,
                sender: r.get(1)?,
                kind: MessageKind::parse(&r.get::<_, String>(2)?).unwrap_or(MessageKind::Text),
                body: r.get(3)?,
                deleted: r.get(4)?,
                status: ConversationStatus::parse(&r.get::<_, String>(5)?)
                    .unwrap_or(ConversationStatus::Pending),
                member: r.get(6)?,
                admin: role.as_deref().and_then(Role::parse) == Some(Role::Admin),
            })
        })
        .optional()?;
    match found {
        Some(t) if t.member || (admin_too && t.admin) => Ok(t),
        _ => Err(StoreError::not_found("message")),
    }
}

/// Edits and reactions need a conversation that is still going.
fn require_open(status: ConversationStatus, what: &str) -> StoreResult<()> {
    let why = match status {
        ConversationStatus::Pending | ConversationStatus::Accepted => return Ok(()),
        ConversationStatus::Completed => "the conversation is completed (read-only); reopen it first",
        ConversationStatus::Declined => "the request was declined; the conversation is closed",
        ConversationStatus::Expired => "the request expired; the conversation is closed",
    };
    Err(StoreError::api(
        ErrorCode::ConversationNotOpen,
        format!("cannot {what}: {why}"),
    ))
}

fn conflict(message: &str) -> StoreError {
    StoreError::api(ErrorCode::InvalidTransition, message)
}

/// Loads the message after a change and tells every participant.
fn publish(ctx: &mut WriteCtx<'_>, id: MessageId, conversation: i64) -> StoreResult<Message> {
    let message = load_message(ctx.conn, id.0)?;
    let everyone = participants(ctx.conn, conversation)?;
    ctx.emit_all(
        &everyone,
        EventKind::MessageUpdated {
            message: message.clone(),
        },
    )?;
    Ok(message)
}

fn edit(ctx: &mut WriteCtx<'_>, me: i64, id: MessageId, body: String) -> StoreResult<Message> {
    let t = target(ctx.conn, me, id, false)?;
    if t.kind == MessageKind::System {
        return Err(conflict("system messages cannot be edited"));
    }
    if t.deleted {
        return Err(conflict("this message was deleted; it cannot be edited"));
    }
    if t.sender != Some(me) {
        return Err(StoreError::api(
            ErrorCode::Forbidden,
            "only the sender can edit a message",
        ));
    }
    require_open(t.status, "edit")?;
    if t.body == body {
        return load_message(ctx.conn, id.0);
    }
    ctx.conn
        .prepare_cached("INSERT INTO message_edits (message_id, body, replaced_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id.0, t.body, ctx.now])?;
    ctx.conn
        .prepare_cached("UPDATE messages SET body = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id.0, body, ctx.now])?;
    publish(ctx, id, t.conversation)
}

fn delete(ctx: &mut WriteCtx<'_>, me: i64, id: MessageId) -> StoreResult<Message> {
    let t = target(ctx.conn, me, id, true)?;
    if t.kind == MessageKind::System {
        return Err(conflict("system messages cannot be deleted"));
    }
    if t.sender != Some(me) && !t.admin {
        return Err(StoreError::api(
            ErrorCode::Forbidden,
            "only the sender (or an admin) can delete a message",
        ));
    }
    if t.deleted {
        return load_message(ctx.conn, id.0);
    }
    ctx.conn
        .prepare_cached("UPDATE messages SET deleted_at = ?2 WHERE id = ?1")?
        .execute(params![id.0, ctx.now])?;
    publish(ctx, id, t.conversation)
}

fn react(ctx: &mut WriteCtx<'_>, me: i64, id: MessageId, emoji: String, add: bool) -> StoreResult<Message> {
    let t = target(ctx.conn, me, id, false)?;
    if t.kind == MessageKind::System {
        return Err(conflict("system messages take no reactions"));
    }
    if t.deleted {
        return Err(conflict("this message was deleted; it takes no reactions"));
    }
    require_open(t.status, if add { "react" } else { "remove a reaction" })?;
    let (exists, mine): (bool, i64) = ctx
        .conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3), \
             (SELECT COUNT(*) FROM reactions WHERE message_id = ?1 AND user_id = ?2)",
        )?
        .query_row(params![id.0, me, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if exists == add {
        return load_message(ctx.conn, id.0);
    }
    if add {
        if mine >= REACTIONS_PER_USER_MAX as i64 {
            return Err(StoreError::api(
                ErrorCode::ValidationFailed,
                format!(
                    "you already reacted to this message with {REACTIONS_PER_USER_MAX} different emoji; \
                     take one back first"
                ),
            ));
        }
        // Writes in one batch share `now`: keep each message's reactions in
        // a strict order (the order shown) by never reusing a timestamp.
        ctx.conn
            .prepare_cached(
                "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
                 SELECT ?1, ?2, ?3, MAX(?4, COALESCE(MAX(created_at) + 1, 0)) \
                 FROM reactions WHERE message_id = ?1",
            )?
            .execute(params![id.0, me, emoji, ctx.now])?;
    } else {
        ctx.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3")?
            .execute(params![id.0, me, emoji])?;
    }
    publish(ctx, id, t.conversation)
}

impl Store {
    /// One message, for a participant (otherwise not found).
    pub async fn message(&self, me: i64, id: MessageId) -> StoreResult<Message> {
        self.read(move |conn| {
            target(conn, me, id, false)?;
            load_message(conn, id.0)
        })
        .await
    }

    /// Replaces the body of my message (already validated), keeping the old one.
    pub async fn edit_message(&self, me: i64, id: MessageId, body: String) -> StoreResult<Message> {
        self.write(move |ctx| edit(ctx, me, id, body)).await
    }

    /// Soft-deletes a message (mine, or any as an admin); returns the tombstone.
    pub async fn delete_message(&self, me: i64, id: MessageId) -> StoreResult<Message> {
        self.write(move |ctx| delete(ctx, me, id)).await
    }

    /// Adds (or with `add` false takes back) my reaction `emoji` (already validated).
    pub async fn react(&self, me: i64, id: MessageId, emoji: String, add: bool) -> StoreResult<Message> {
        self.write(move |ctx| react(ctx, me, id, emoji, add)).await
    }
}
