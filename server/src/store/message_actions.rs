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
//!   back is always allowed). Deleting twice is a no-op. What is deleted
//!   stays deleted: the row stays as a tombstone with its text emptied, the
//!   edit history and reactions go, the file is detached (and removed when
//!   nothing else carries it, see files.rs), a scheduled item that sent it
//!   forgets its text, and every stored copy in the event log (its own and
//!   the quotes in replies) becomes the tombstone. An admin who is not a
//!   participant gets a bare tombstone: nothing they could not read before.
//! - **Edit history**: the sender, or an admin who is a participant; anyone
//!   else gets the 404 of a missing message. Replay never shows it: an
//!   edit rewrites the log's copies to the current text.
//! - **Reactions**: participant; not a system or deleted message (409);
//!   pending or accepted conversations only; at most
//!   [`REACTIONS_PER_USER_MAX`] distinct emoji per user per message; adding
//!   twice or removing what is not there is a no-op.
//!
//! Every change emits `message_updated` (the whole message after it) to
//! every participant in the same transaction; a no-op emits nothing.

use super::blobs::BlobPins;
use super::conversations::participants;
use super::messages::load_message;
use super::rows::ts;
use super::sqlite::rewrite_message;
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{ConversationStatus, Message, MessageEdit, MessageEdits, MessageKind, Role};
use mchat_shared::events::EventKind;
use mchat_shared::limits::REACTIONS_PER_USER_MAX;
use mchat_shared::{ConversationId, ErrorCode, MessageId, ScheduledId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::PathBuf;
use std::sync::Arc;

/// What the checks need to know about a message.
struct Target {
    conversation: ConversationId,
    sender: Option<UserId>,
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
fn target(conn: &Connection, me: UserId, id: MessageId, admin_too: bool) -> StoreResult<Target> {
    let found = conn
        .prepare_cached(
            "SELECT m.conversation_id, m.sender_id, m.kind, m.body, m.deleted_at IS NOT NULL, c.status, \
             EXISTS(SELECT 1 FROM participants p \
                    WHERE p.conversation_id = m.conversation_id AND p.user_id = ?2), \
             (SELECT u.role FROM users u WHERE u.id = ?2) \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1",
        )?
        .query_row(params![id.0, me.0], |r| {
            let role: Option<String> = r.get(7)?;
            Ok(Target {
                conversation: ConversationId(r.get(0)?),
                sender: r.get::<_, Option<i64>>(1)?.map(UserId),
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
fn publish(ctx: &mut WriteCtx<'_>, id: MessageId, conversation: ConversationId) -> StoreResult<Message> {
    let message = load_message(ctx.conn, id)?;
    let everyone = participants(ctx.conn, conversation)?;
    ctx.emit_all(
        &everyone,
        EventKind::MessageUpdated {
            message: message.clone(),
        },
    )?;
    Ok(message)
}

/// Brings the log's stored copies of `id`, and of the replies that quote
/// it, to their current state (see [`rewrite_message`]).
fn rewrite_stored(conn: &Connection, id: MessageId) -> StoreResult<()> {
    let replies: Vec<MessageId> = conn
        .prepare_cached("SELECT id FROM messages WHERE reply_to = ?1")?
        .query_map([id.0], |r| r.get(0).map(MessageId))?
        .collect::<Result<_, _>>()?;
    for m in std::iter::once(id).chain(replies) {
        rewrite_message(conn, &load_message(conn, m)?)?;
    }
    Ok(())
}

fn edit(ctx: &mut WriteCtx<'_>, me: UserId, id: MessageId, body: String) -> StoreResult<Message> {
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
        return load_message(ctx.conn, id);
    }
    ctx.conn
        .prepare_cached("INSERT INTO message_edits (message_id, body, replaced_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id.0, t.body, ctx.now])?;
    ctx.conn
        .prepare_cached("UPDATE messages SET body = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id.0, body, ctx.now])?;
    rewrite_stored(ctx.conn, id)?;
    publish(ctx, id, t.conversation)
}

/// What a deletion did: the tombstone, whether the caller takes part in the
/// conversation, and the blob to unlink after COMMIT.
struct Deleted {
    message: Message,
    member: bool,
    blob: Option<super::blobs::Condemned>,
}

fn delete(ctx: &mut WriteCtx<'_>, me: UserId, id: MessageId, pins: &Arc<BlobPins>) -> StoreResult<Deleted> {
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
        return Ok(Deleted {
            message: load_message(ctx.conn, id)?,
            member: t.member,
            blob: None,
        });
    }
    // One UPDATE of body and deleted_at: the FTS trigger removes exactly
    // what was indexed (the old values).
    ctx.conn
        .prepare_cached("UPDATE messages SET deleted_at = ?2, body = '' WHERE id = ?1")?
        .execute(params![id.0, ctx.now])?;
    ctx.conn
        .prepare_cached("DELETE FROM message_edits WHERE message_id = ?1")?
        .execute([id.0])?;
    ctx.conn
        .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([id.0])?;
    let blob = super::files::detach_file(ctx.conn, pins, id)?;
    if let Some(sender) = t.sender {
        forget_scheduled_text(ctx.conn, sender, id)?;
    }
    rewrite_stored(ctx.conn, id)?;
    Ok(Deleted {
        message: publish(ctx, id, t.conversation)?,
        member: t.member,
        blob,
    })
}

/// A scheduled message that became `id` keeps no copy of its text, neither
/// in its row nor in its owner's `scheduled_updated` events.
fn forget_scheduled_text(conn: &Connection, sender: UserId, id: MessageId) -> StoreResult<()> {
    let items: Vec<ScheduledId> = conn
        .prepare_cached("SELECT id FROM scheduled WHERE user_id = ?1 AND message_id = ?2")?
        .query_map(params![sender.0, id.0], |r| r.get(0).map(ScheduledId))?
        .collect::<Result<_, _>>()?;
    for item in items {
        conn.prepare_cached("UPDATE scheduled SET body = '' WHERE id = ?1")?
            .execute([item.0])?;
        conn.prepare_cached(
            "UPDATE events SET payload = json_set(payload, '$.data.item.body', '') \
             WHERE user_id = ?1 AND kind = 'scheduled_updated' AND json_extract(payload, '$.data.item.id') = ?2",
        )?
        .execute(params![sender.0, item.0])?;
    }
    Ok(())
}

/// The earlier texts of `id`, newest first, for its sender or an admin who
/// takes part; for anyone else the message does not exist.
fn edit_history(conn: &Connection, me: UserId, id: MessageId) -> StoreResult<MessageEdits> {
    let t = target(conn, me, id, false)?;
    if t.sender != Some(me) && !t.admin {
        return Err(StoreError::not_found("message"));
    }
    let edits = conn
        .prepare_cached(
            "SELECT body, replaced_at FROM message_edits WHERE message_id = ?1 ORDER BY replaced_at DESC, id DESC",
        )?
        .query_map([id.0], |r| {
            Ok(MessageEdit {
                body: r.get(0)?,
                replaced_at: ts(r.get(1)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(MessageEdits {
        message_id: id,
        edits,
    })
}

/// The tombstone as a moderator outside the conversation may see it: that
/// the message is gone, not who wrote it or what it answered.
fn bare_tombstone(mut m: Message) -> Message {
    m.sender = None;
    m.client_id = None;
    m.reply = None;
    m.reply_to = None;
    m.reactions.clear();
    m.attachment = None;
    m.body.clear();
    m
}

fn react(
    ctx: &mut WriteCtx<'_>,
    me: UserId,
    id: MessageId,
    emoji: String,
    add: bool,
) -> StoreResult<Message> {
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
        .query_row(params![id.0, me.0, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if exists == add {
        return load_message(ctx.conn, id);
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
            .execute(params![id.0, me.0, emoji, ctx.now])?;
    } else {
        ctx.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3")?
            .execute(params![id.0, me.0, emoji])?;
    }
    publish(ctx, id, t.conversation)
}

impl Store {
    /// One message, for a participant (otherwise not found).
    pub async fn message(&self, me: UserId, id: MessageId) -> StoreResult<Message> {
        self.read(move |conn| {
            target(conn, me, id, false)?;
            load_message(conn, id)
        })
        .await
    }

    /// Replaces the body of my message (already validated), keeping the old one.
    pub async fn edit_message(&self, me: UserId, id: MessageId, body: String) -> StoreResult<Message> {
        self.write(move |ctx| edit(ctx, me, id, body)).await
    }

    /// Deletes a message (mine, or any as an admin) down to its tombstone,
    /// which it returns; its file's bytes under `files_dir` go after COMMIT
    /// when nothing else names them.
    pub async fn delete_message(
        &self,
        me: UserId,
        id: MessageId,
        files_dir: PathBuf,
    ) -> StoreResult<Message> {
        let pins = self.blob_pins();
        let mut done = self.write(move |ctx| delete(ctx, me, id, &pins)).await?;
        if let Some(doomed) = done.blob.take() {
            self.remove_blob(&files_dir, doomed).await;
        }
        Ok(if done.member {
            done.message
        } else {
            bare_tombstone(done.message)
        })
    }

    /// The earlier texts of a message (see [`MessageEdits`] for who may read them).
    pub async fn message_edits(&self, me: UserId, id: MessageId) -> StoreResult<MessageEdits> {
        self.read(move |conn| edit_history(conn, me, id)).await
    }

    /// Adds (or with `add` false takes back) my reaction `emoji` (already validated).
    pub async fn react(&self, me: UserId, id: MessageId, emoji: String, add: bool) -> StoreResult<Message> {
        self.write(move |ctx| react(ctx, me, id, emoji, add)).await
    }
}
