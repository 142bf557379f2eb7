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
//! every participant in the same transaction; a no-op emits nothing. The
//! rules live here, over the storage traits (`data/messages.rs`).

use super::blobs::BlobPins;
use super::data::{MessageTarget, Read, Tx};
use super::messages::load_message;
use super::{Store, StoreError, StoreResult};
use crate::attachments::Blobs;
use mchat_shared::api::{ConversationStatus, Message, MessageEdits, MessageKind, Role};
use mchat_shared::events::EventKind;
use mchat_shared::limits::REACTIONS_PER_USER_MAX;
use mchat_shared::{ConversationId, ErrorCode, MessageId, UserId};
use std::sync::Arc;

/// Holds the conversation of message `id` for a change to it: an edit, a
/// reaction or a deletion reads the message, then writes from what it read.
fn lock_for_change(tx: &mut dyn Tx, id: MessageId) -> StoreResult<()> {
    if let Some(conv) = tx.message_conversation(id)? {
        tx.lock_conversation(conv)?;
    }
    Ok(())
}

/// The message `id` as `me` may see it: only through my participant row,
/// unless `admin_too` and I am an admin. Otherwise not found.
fn target(r: &dyn Read, me: UserId, id: MessageId, admin_too: bool) -> StoreResult<MessageTarget> {
    match r.message_target(me, id)? {
        Some(t) if t.member || (admin_too && t.asker_role == Some(Role::Admin)) => Ok(t),
        _ => Err(StoreError::not_found("message")),
    }
}

fn is_admin(t: &MessageTarget) -> bool {
    t.asker_role == Some(Role::Admin)
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
fn publish(tx: &mut dyn Tx, id: MessageId, conversation: ConversationId) -> StoreResult<Message> {
    let message = load_message(tx, id)?;
    let everyone = tx.participants(conversation)?;
    tx.emit_all(
        &everyone,
        EventKind::MessageUpdated {
            message: message.clone(),
        },
    )?;
    Ok(message)
}

/// Brings the log's stored copies of `id`, and of the replies that quote
/// it, to their current state.
fn rewrite_stored(tx: &mut dyn Tx, id: MessageId) -> StoreResult<()> {
    let replies = tx.replies_to(id)?;
    for m in std::iter::once(id).chain(replies) {
        let message = load_message(tx, m)?;
        tx.rewrite_logged(&message)?;
    }
    Ok(())
}

fn edit(tx: &mut dyn Tx, me: UserId, id: MessageId, body: String) -> StoreResult<Message> {
    lock_for_change(tx, id)?;
    let t = target(tx, me, id, false)?;
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
        return load_message(tx, id);
    }
    tx.replace_body(id, &t.body, &body)?;
    rewrite_stored(tx, id)?;
    publish(tx, id, t.conversation)
}

/// What a deletion did: the tombstone, whether the caller takes part in the
/// conversation, and the blob to unlink after COMMIT.
struct Deleted {
    message: Message,
    member: bool,
    blob: Option<super::files::Doomed>,
}

fn delete(tx: &mut dyn Tx, me: UserId, id: MessageId, pins: &Arc<BlobPins>) -> StoreResult<Deleted> {
    lock_for_change(tx, id)?;
    let t = target(tx, me, id, true)?;
    if t.kind == MessageKind::System {
        return Err(conflict("system messages cannot be deleted"));
    }
    if t.sender != Some(me) && !is_admin(&t) {
        return Err(StoreError::api(
            ErrorCode::Forbidden,
            "only the sender (or an admin) can delete a message",
        ));
    }
    if t.deleted {
        return Ok(Deleted {
            message: load_message(tx, id)?,
            member: t.member,
            blob: None,
        });
    }
    tx.tombstone(id)?;
    let blob = super::files::detach_file(tx, pins, id)?;
    if let Some(sender) = t.sender {
        // A scheduled message that became this one keeps no copy of its text.
        tx.forget_scheduled_text(sender, id)?;
    }
    rewrite_stored(tx, id)?;
    Ok(Deleted {
        message: publish(tx, id, t.conversation)?,
        member: t.member,
        blob,
    })
}

/// The earlier texts of `id`, newest first, for its sender or an admin who
/// takes part; for anyone else the message does not exist.
fn edit_history(r: &dyn Read, me: UserId, id: MessageId) -> StoreResult<MessageEdits> {
    let t = target(r, me, id, false)?;
    if t.sender != Some(me) && !is_admin(&t) {
        return Err(StoreError::not_found("message"));
    }
    Ok(MessageEdits {
        message_id: id,
        edits: r.message_edits(id)?,
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

fn react(tx: &mut dyn Tx, me: UserId, id: MessageId, emoji: String, add: bool) -> StoreResult<Message> {
    lock_for_change(tx, id)?;
    let t = target(tx, me, id, false)?;
    if t.kind == MessageKind::System {
        return Err(conflict("system messages take no reactions"));
    }
    if t.deleted {
        return Err(conflict("this message was deleted; it takes no reactions"));
    }
    require_open(t.status, if add { "react" } else { "remove a reaction" })?;
    let (exists, mine) = tx.my_reactions(id, me, &emoji)?;
    if exists == add {
        return load_message(tx, id);
    }
    if add {
        if mine >= REACTIONS_PER_USER_MAX as u32 {
            return Err(StoreError::api(
                ErrorCode::ValidationFailed,
                format!(
                    "you already reacted to this message with {REACTIONS_PER_USER_MAX} different emoji; \
                     take one back first"
                ),
            ));
        }
        tx.add_reaction(id, me, &emoji)?;
    } else {
        tx.remove_reaction(id, me, &emoji)?;
    }
    publish(tx, id, t.conversation)
}

impl Store {
    /// One message, for a participant (otherwise not found).
    pub async fn message(&self, me: UserId, id: MessageId) -> StoreResult<Message> {
        self.read_data(move |r| {
            target(r, me, id, false)?;
            load_message(r, id)
        })
        .await
    }

    /// Replaces the body of my message (already validated), keeping the old one.
    pub async fn edit_message(&self, me: UserId, id: MessageId, body: String) -> StoreResult<Message> {
        self.write_data(move |tx| edit(tx, me, id, body)).await
    }

    /// Deletes a message (mine, or any as an admin) down to its tombstone,
    /// which it returns; its file's bytes in `blobs` go after COMMIT when
    /// nothing else names them.
    pub async fn delete_message(
        &self,
        me: UserId,
        id: MessageId,
        blobs: &Arc<Blobs>,
    ) -> StoreResult<Message> {
        let pins = self.blob_pins();
        let mut done = self.write_data(move |tx| delete(tx, me, id, &pins)).await?;
        if let Some(doomed) = done.blob.take() {
            self.remove_blob(blobs, doomed).await;
        }
        Ok(if done.member {
            done.message
        } else {
            bare_tombstone(done.message)
        })
    }

    /// The earlier texts of a message (see [`MessageEdits`] for who may read them).
    pub async fn message_edits(&self, me: UserId, id: MessageId) -> StoreResult<MessageEdits> {
        self.read_data(move |r| edit_history(r, me, id)).await
    }

    /// Adds (or with `add` false takes back) my reaction `emoji` (already validated).
    pub async fn react(&self, me: UserId, id: MessageId, emoji: String, add: bool) -> StoreResult<Message> {
        self.write_data(move |tx| react(tx, me, id, emoji, add)).await
    }
}

#[cfg(test)]
mod tests {
    //! Edits, reactions, deletions and attachments: one story on both backends.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::both_backends::{CONVERSATION, add_user, log_of, on_both, outcome, show_message};
    use crate::store::{IsOnline, Store};
    use mchat_shared::api::{Message, Role};
    use mchat_shared::{MessageId, UserId};
    use std::sync::Arc;

    fn line(r: Result<Message, crate::store::StoreError>) -> String {
        outcome(r.map(|m| show_message(&m)))
    }

    async fn story(store: Store, mona: UserId, ana: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        let offline: IsOnline = Arc::new(|_| false);
        let dir = tempfile::tempdir().unwrap();
        let blobs = Arc::new(crate::attachments::Blobs::in_dir(dir.path().to_path_buf()));
        let admin = add_user(&store, "root", Role::Admin).await;
        let sha = "ab".repeat(32);
        let file = store
            .insert_file(ana, sha.clone(), "notes.txt".into(), 42, "text/plain".into())
            .await
            .unwrap();
        lines.push(format!("file {} {} {}", file.id, file.name, file.size));
        let send = |who, cid: &str, body: &str, reply, file| {
            let (store, offline) = (store.clone(), offline.clone());
            let (cid, body) = (cid.to_owned(), body.to_owned());
            async move {
                store
                    .send_message(who, CONVERSATION, cid, body, reply, file, offline)
                    .await
                    .map(|(m, _)| m)
            }
        };
        lines.push(outcome(
            send(mona, "m0", "not mine", None, Some(file.id))
                .await
                .map(|m| show_message(&m)),
        ));
        let first = send(ana, "a1", "see the notes", None, Some(file.id))
            .await
            .unwrap();
        let reply = send(mona, "m1", "thanks", Some(first.id), None).await.unwrap();
        for who in [mona, admin] {
            lines.push(outcome(
                store
                    .file_for_download(who, file.id)
                    .await
                    .map(|f| format!("download {}", f.name)),
            ));
        }

        // Edits: the sender only, history for the sender; the same text is a no-op.
        lines.push(line(store.edit_message(mona, first.id, "mine now".into()).await));
        lines.push(line(
            store.edit_message(ana, first.id, "see my notes".into()).await,
        ));
        lines.push(line(
            store.edit_message(ana, first.id, "see my notes".into()).await,
        ));
        lines.push(line(
            store.edit_message(ana, first.id, "see my notes, v3".into()).await,
        ));
        for who in [ana, mona] {
            lines.push(outcome(store.message_edits(who, first.id).await.map(|e| {
                format!("edits {:?}", e.edits.iter().map(|x| &x.body).collect::<Vec<_>>())
            })));
        }
        lines.push(line(store.message(mona, reply.id).await));
        lines.push(line(store.message(admin, reply.id).await));

        // Reactions keep their order; twice is a no-op; system messages take none.
        for (who, emoji, add) in [
            (mona, "👍", true),
            (ana, "🎉", true),
            (ana, "👍", true),
            (ana, "👍", true),
            (mona, "👍", false),
            (mona, "🙃", false),
        ] {
            lines.push(line(store.react(who, first.id, emoji.into(), add).await));
        }

        // Deletion: the sender or an admin; a tombstone everywhere, the file gone.
        lines.push(line(store.delete_message(mona, first.id, &blobs).await));
        lines.push(line(store.delete_message(ana, first.id, &blobs).await));
        lines.push(line(store.delete_message(ana, first.id, &blobs).await));
        lines.push(line(store.delete_message(admin, reply.id, &blobs).await));
        lines.push(line(store.edit_message(ana, first.id, "back?".into()).await));
        lines.push(line(store.react(mona, first.id, "👍".into(), true).await));
        lines.push(line(store.message(mona, reply.id).await));
        lines.push(outcome(
            store
                .file_for_download(ana, file.id)
                .await
                .map(|f| format!("download {}", f.name)),
        ));
        lines.push(line(store.message(ana, MessageId(999)).await));
        lines.extend(log_of(&store, mona).await);
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn message_actions_behave_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        let text = s.join("\n");
        assert_eq!(s[0], "file 1 notes.txt 42");
        assert!(s[1].starts_with("refused NotFound: no such file"), "{text}");
        assert_eq!(s[2..4], ["download notes.txt", "refused NotFound: no such file"]);
        assert!(s[4].starts_with("refused Forbidden"), "{text}");
        assert!(
            s[5].contains("\"see my notes\"") && s[5].contains("edited true"),
            "{text}"
        );
        assert_eq!(s[6], s[5], "the same text again changes nothing");
        assert_eq!(s[8], "edits [\"see my notes\", \"see the notes\"]");
        assert!(s[9].starts_with("refused NotFound"), "{text}");
        assert!(
            s[10].contains("quote Some((Some(\"ana\"), \"see my notes, v3\", false))"),
            "{text}"
        );
        assert!(
            s[11].starts_with("refused NotFound"),
            "an admin outside is not shown it: {text}"
        );
        assert!(s[12].contains("reactions [(\"👍\", 1, [\"mona\"])]"), "{text}");
        assert!(
            s[14].contains("reactions [(\"👍\", 2, [\"mona\", \"ana\"]), (\"🎉\", 1, [\"ana\"])]"),
            "{text}"
        );
        assert_eq!(s[15], s[14], "{text}");
        assert!(
            s[16].contains("reactions [(\"🎉\", 1, [\"ana\"]), (\"👍\", 1, [\"ana\"])]"),
            "{text}"
        );
        assert_eq!(s[17], s[16], "{text}");
        assert!(s[18].starts_with("refused Forbidden"), "{text}");
        assert!(
            s[19].contains("\"\"") && s[19].contains("file None") && s[19].contains("deleted true"),
            "{text}"
        );
        assert_eq!(s[20], s[19], "deleting twice is a no-op");
        assert!(
            s[21].contains("by None") && s[21].contains("deleted true"),
            "an admin outside gets a bare tombstone: {text}"
        );
        assert!(s[22].starts_with("refused InvalidTransition"), "{text}");
        assert!(s[23].starts_with("refused InvalidTransition"), "{text}");
        assert!(
            s[24].contains("quote Some((Some(\"ana\"), \"\", true))"),
            "{text}"
        );
        assert!(s[25].starts_with("refused NotFound: no such file"), "{text}");
        assert!(s[26].starts_with("refused NotFound"), "{text}");
        // The log keeps no text that was edited away or deleted.
        for gone in ["see the notes", "see my notes", "thanks"] {
            assert!(
                !s[27..].iter().any(|l| l.contains(&format!("\"{gone}\""))),
                "{gone}: {text}"
            );
        }
    }
}
