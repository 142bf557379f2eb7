//! Messages: send (idempotent by `client_id`), cursor pages of history, and
//! the per-participant delivered/read markers.

use super::conversations::{peer_name, status_of};
use super::data::{NewMessage, Read, Tx};
use super::rows::marker;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{ConversationStatus, Message, MessageKind, MessagePage, ReadMarker};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, FileId, MessageId, UserId};

/// One message, completed by `hydrate` (quote, reactions, attachment).
pub(super) fn load_message(r: &dyn Read, id: MessageId) -> StoreResult<Message> {
    let mut message = r.message(id)?.ok_or_else(|| StoreError::not_found("message"))?;
    super::hydrate::hydrate(r, std::slice::from_mut(&mut message))?;
    Ok(message)
}

/// Stores a message (its file, when it has one, already checked to be the
/// sender's), moves the conversation's activity and the sender's own
/// markers, and emits `message_new` to every participant.
pub(super) fn insert_message(tx: &mut dyn Tx, m: NewMessage) -> StoreResult<Message> {
    insert_message_among(tx, m).map(|(message, _)| message)
}

/// [`insert_message`], also returning the participants it emitted to (a
/// send's nudges go to the same people, without looking them up again).
pub(super) fn insert_message_among(tx: &mut dyn Tx, m: NewMessage) -> StoreResult<(Message, Vec<UserId>)> {
    // Message ids follow commit order within a conversation (pages and
    // markers count on it): inserts into one conversation take turns.
    tx.lock_conversation(m.conversation)?;
    let id = tx.insert_message(&m)?;
    tx.touch_conversation(m.conversation, id, m.kind != MessageKind::System)?;
    if let Some(sender) = m.sender {
        tx.set_markers(m.conversation, sender, id, id)?;
    }
    // New activity brings an archived conversation back (settings.rs).
    super::settings::on_new_message(tx, m.conversation)?;
    let mut message = tx.message(id)?.ok_or_else(|| StoreError::not_found("message"))?;
    super::hydrate::fresh(tx, &mut message)?;
    let everyone = tx.participants(m.conversation)?;
    tx.emit_all(
        &everyone,
        EventKind::MessageNew {
            message: message.clone(),
        },
    )?;
    Ok((message, everyone))
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

/// Whether a user has a live connection right now (the real-time hub answers).
pub type IsOnline = std::sync::Arc<dyn Fn(UserId) -> bool + Send + Sync>;

/// A "message received" notification for each recipient with no live
/// connection, unless they are busy (do not disturb), muted the
/// conversation, or already have an unread one for this conversation (one
/// is enough to bring them back). Also used by scheduled sends.
/// `everyone` is the conversation's participants.
pub(super) fn notify_offline(
    tx: &mut dyn Tx,
    sender: UserId,
    conv: ConversationId,
    everyone: &[UserId],
    is_online: &IsOnline,
) -> StoreResult<()> {
    for &user in everyone {
        if user == sender || is_online(user) {
            continue;
        }
        // Presence shows availability for mentors only: busy means a busy mentor.
        let facts = tx.nudge_facts(user, conv)?;
        if facts.online_on_a_node || facts.muted || facts.busy || facts.pending {
            continue;
        }
        let name = tx.username(sender)?;
        super::notifications::notify(
            tx,
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

/// A message as its sender asks for it.
struct Outgoing {
    client_id: String,
    body: String,
    reply_to: Option<MessageId>,
    file: Option<FileId>,
}

fn send(
    tx: &mut dyn Tx,
    me: UserId,
    conv: ConversationId,
    out: Outgoing,
    is_online: &IsOnline,
) -> StoreResult<(Message, bool)> {
    // Retries of one client_id take turns, on every node: the second finds the first.
    tx.lock_conversation(conv)?;
    let (status, requested_by) = status_of(tx, me, conv)?;
    if let Some(before) = tx.sent_with_client_id(me, &out.client_id)? {
        if before.conversation != conv || before.body != out.body || before.file != out.file {
            return Err(StoreError::api(
                ErrorCode::IdempotencyConflict,
                "this client_id was already used for a different message",
            ));
        }
        return Ok((load_message(tx, before.id)?, false));
    }
    if status != ConversationStatus::Accepted {
        return Err(not_open(status, requested_by == me, &peer_name(tx, me, conv)?));
    }
    if let Some(parent) = out.reply_to
        && !tx.message_in(conv, parent)?
    {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            format!("message {parent} is not in this conversation, so it cannot be replied to"),
        ));
    }
    if let Some(file) = out.file {
        super::files::check_own_file(tx, me, file)?;
    }
    let (message, everyone) = insert_message_among(
        tx,
        NewMessage {
            conversation: conv,
            sender: Some(me),
            kind: if out.file.is_some() {
                MessageKind::File
            } else {
                MessageKind::Text
            },
            body: out.body,
            system: None,
            client_id: Some(out.client_id),
            reply_to: out.reply_to,
            file: out.file,
        },
    )?;
    notify_offline(tx, me, conv, &everyone, is_online)?;
    Ok((message, true))
}

fn page(
    r: &dyn Read,
    me: UserId,
    conv: ConversationId,
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: u32,
) -> StoreResult<MessagePage> {
    status_of(r, me, conv)?;
    let take = limit.saturating_add(1);
    let mut messages = match after {
        Some(after) => r.messages_after(conv, after, take)?,
        None => {
            let mut page = r.messages_before(conv, before.map_or(i64::MAX, |b| b.0), take)?;
            page.reverse();
            page
        }
    };
    let has_more = messages.len() > limit as usize;
    if has_more {
        if after.is_some() {
            messages.pop();
        } else {
            messages.remove(0);
        }
    }
    super::hydrate::hydrate(r, &mut messages)?;
    Ok(MessagePage {
        messages,
        has_more,
        markers: r.markers(conv)?,
    })
}

fn move_markers(
    tx: &mut dyn Tx,
    me: UserId,
    conv: ConversationId,
    update: MarkerUpdate,
) -> StoreResult<(ReadMarker, Option<u32>)> {
    status_of(tx, me, conv)?;
    // Markers move from what is stored: two devices' updates take turns, or
    // the later one would write back what it read before the other's.
    tx.lock_conversation(conv)?;
    let row = tx
        .participant(conv, me)?
        .ok_or_else(|| StoreError::not_found("conversation"))?;
    let (delivered, read) = (row.delivered_up_to, row.read_up_to);
    let last = tx.last_message_id(conv)?;
    let new_read = update.read_up_to.map_or(read, |r| read.max(r.min(last)));
    let new_delivered = update
        .delivered_up_to
        .map_or(delivered, |d| delivered.max(d.min(last)))
        .max(new_read);
    let mine = marker(tx.username(me)?, new_delivered, new_read);
    if (new_read, new_delivered) != (read, delivered) {
        tx.set_markers(conv, me, new_delivered, new_read)?;
        let everyone = tx.participants(conv)?;
        tx.emit_all(
            &everyone,
            EventKind::MarkersUpdated {
                conversation_id: conv,
                markers: mine.clone(),
            },
        )?;
    }
    let read_moved = new_read != read;
    let left = if read_moved || update.count_unread {
        Some(tx.unread_count(me, conv, new_read)?)
    } else {
        None
    };
    if read_moved && left == Some(0) {
        // Caught up: a "message received" nudge for it has done its job.
        tx.clear_message_nudges(me, conv)?;
    }
    Ok((mine, left))
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
        self.write_data(move |tx| {
            send(
                tx,
                me,
                conv,
                Outgoing {
                    client_id,
                    body,
                    reply_to,
                    file,
                },
                &is_online,
            )
        })
        .await
    }

    /// Whether `me` already sent a message with this `client_id`.
    pub async fn sent_before(&self, me: UserId, client_id: String) -> StoreResult<bool> {
        self.read_data(move |r| Ok(r.sent_with_client_id(me, &client_id)?.is_some()))
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
        self.read_data(move |r| page(r, me, conv, before, after, limit))
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
        self.write_data(move |tx| move_markers(tx, me, conv, update))
            .await
    }
}

#[cfg(test)]
mod tests {
    //! Conversations, messages, markers and settings: one story on both backends.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{IsOnline, MarkerUpdate};
    use crate::store::both_backends::{
        CONVERSATION, add_user, log_of, on_both, outcome, show_conversation, show_message,
    };
    use crate::store::{Store, Transition};
    use mchat_shared::api::{ConversationSettings, Role};
    use mchat_shared::{MessageId, UserId};
    use std::sync::Arc;

    async fn story(store: Store, mona: UserId, ana: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        let offline: IsOnline = Arc::new(|_| false);
        let send_in = |conv, who: UserId, cid: &str, body: &str, reply: Option<MessageId>| {
            let (store, offline) = (store.clone(), offline.clone());
            let (cid, body) = (cid.to_owned(), body.to_owned());
            async move {
                outcome(
                    store
                        .send_message(who, conv, cid, body, reply, None, offline)
                        .await
                        .map(|(m, created)| format!("{} created {created}", show_message(&m))),
                )
            }
        };
        let send =
            |who, cid: &'static str, body: &'static str, reply| send_in(CONVERSATION, who, cid, body, reply);
        lines.push(send(ana, "a1", "hello mona", None).await);
        lines.push(send(ana, "a1", "hello mona", None).await);
        lines.push(send(ana, "a1", "something else", None).await);
        lines.push(send(mona, "m1", "hi ana", Some(MessageId(1))).await);
        lines.push(send(mona, "m2", "a reply to nothing", Some(MessageId(999))).await);
        lines.push(send(mona, "m3", "welcome", Some(MessageId(2))).await);

        // A newcomer asks mona; retries, answers and a second thread.
        let ben = add_user(&store, "ben", Role::Mentee).await;
        for (to, cid) in [
            ("mona", "b1"),
            ("mona", "b1"),
            ("ana", "b2"),
            ("nobody", "b3"),
            ("ben", "b4"),
        ] {
            lines.push(outcome(
                store
                    .request_conversation(ben, to.into(), "may I ask?".into(), Some(cid.into()), 60_000)
                    .await
                    .map(|(c, created)| format!("{} created {created}", show_conversation(&c))),
            ));
        }
        let asked = store.conversations(mona, false).await.unwrap();
        let theirs = asked.iter().find(|c| c.peer.username == "ben").unwrap().id;
        lines.push(send_in(theirs, ben, "b5", "too early", None).await);
        for (who, t) in [
            (ben, Transition::Accept),
            (mona, Transition::Complete),
            (mona, Transition::Accept),
            (mona, Transition::Accept),
            (ben, Transition::Complete),
            (mona, Transition::Reopen),
            (mona, Transition::Decline(Some("busy".into()))),
        ] {
            lines.push(outcome(
                store
                    .transition(who, theirs, t)
                    .await
                    .map(|c| show_conversation(&c)),
            ));
        }
        lines.push(outcome(
            store
                .transition(ana, theirs, Transition::Complete)
                .await
                .map(|c| show_conversation(&c)),
        ));

        // Markers only move forward, and never past the last message.
        for update in [
            MarkerUpdate {
                read_up_to: Some(MessageId(3)),
                delivered_up_to: None,
                count_unread: true,
            },
            MarkerUpdate {
                read_up_to: Some(MessageId(1)),
                delivered_up_to: Some(MessageId(500)),
                count_unread: false,
            },
        ] {
            lines.push(format!(
                "{:?}",
                store.update_markers(ana, CONVERSATION, update).await.unwrap()
            ));
        }

        // Settings: muted and archived are mine; new activity unarchives.
        let set = |muted, archived| ConversationSettings { muted, archived };
        lines.push(outcome(
            store
                .set_conversation_settings(ana, CONVERSATION, set(None, None))
                .await
                .map(|c| show_conversation(&c)),
        ));
        lines.push(outcome(
            store
                .set_conversation_settings(ana, CONVERSATION, set(Some(true), Some(true)))
                .await
                .map(|c| show_conversation(&c)),
        ));
        for c in store.conversations(ana, true).await.unwrap() {
            lines.push(format!("archived: {}", show_conversation(&c)));
        }
        lines.push(send(mona, "m4", "still there?", None).await);
        for who in [ana, mona, ben] {
            for c in store.conversations(who, false).await.unwrap() {
                lines.push(format!("list {who}: {}", show_conversation(&c)));
            }
        }

        // Pages, both ways.
        let page = store.messages(ana, CONVERSATION, None, None, 2).await.unwrap();
        lines.push(format!(
            "newest {:?} more {} markers {:?}",
            page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            page.has_more,
            page.markers
        ));
        for (before, after) in [(Some(MessageId(3)), None), (None, Some(MessageId(1)))] {
            let page = store.messages(ana, CONVERSATION, before, after, 2).await.unwrap();
            lines.push(format!(
                "page {:?} more {}",
                page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
                page.has_more
            ));
        }
        lines.push(outcome(
            store
                .messages(ben, CONVERSATION, None, None, 10)
                .await
                .map(|p| format!("{}", p.messages.len())),
        ));

        // A request nobody answers expires, once.
        let cara = add_user(&store, "cara", Role::Mentee).await;
        store
            .request_conversation(cara, "mona".into(), "hello?".into(), None, 0)
            .await
            .unwrap();
        lines.push(format!("expired {}", store.expire_requests().await.unwrap()));
        lines.push(format!("expired {}", store.expire_requests().await.unwrap()));
        lines.push(outcome(
            store
                .request_conversation(cara, "mona".into(), "again?".into(), None, 60_000)
                .await
                .map(|(c, created)| format!("{} created {created}", show_conversation(&c))),
        ));

        let (notes, unread) = store.notifications(ana, false, 50).await.unwrap();
        lines.push(format!(
            "ana's notifications {unread} {:?}",
            notes.iter().map(|n| (&n.kind, &n.body)).collect::<Vec<_>>()
        ));
        for who in [ana, ben] {
            lines.extend(log_of(&store, who).await);
        }
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn messaging_behaves_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        let text = s.join("\n");
        assert!(
            s[0].starts_with("#1 in 1 Text by Some(\"ana\") \"hello mona\"")
                && s[0].ends_with("created true"),
            "{text}"
        );
        assert!(s[1].ends_with("created false"), "{text}");
        assert!(s[2].starts_with("refused IdempotencyConflict"), "{text}");
        assert!(
            s[3].contains("quote Some((Some(\"ana\"), \"hello mona\", false))"),
            "{text}"
        );
        assert!(s[4].starts_with("refused ValidationFailed"), "{text}");
        // ben → mona: made once, the retry finds it; mentees ask mentors only.
        assert!(
            s[6].contains("Pending asked by ben peer mona") && s[6].ends_with("created true"),
            "{text}"
        );
        assert!(s[7].ends_with("created false"), "{text}");
        assert!(s[8].starts_with("refused Forbidden"), "{text}");
        assert!(s[9].starts_with("refused NotFound"), "{text}");
        assert!(s[10].starts_with("refused ValidationFailed"), "{text}");
        assert!(
            s[11].starts_with("refused ConversationNotOpen: mona has not accepted"),
            "{text}"
        );
        // Only mona answers; then complete, reopen; an outsider is not found.
        assert!(s[12].starts_with("refused Forbidden: only mona"), "{text}");
        assert!(s[13].starts_with("refused InvalidTransition"), "{text}");
        assert!(s[14].contains("conv 2 Accepted"), "{text}");
        assert_eq!(s[15], s[14], "accepting twice is a no-op");
        assert!(s[16].contains("conv 2 Completed"), "{text}");
        assert!(
            s[17].contains("conv 2 Accepted") && s[17].contains("reopened"),
            "{text}"
        );
        assert!(
            s[18].starts_with(
                "refused InvalidTransition: the conversation is accepted, so it cannot be declined"
            ),
            "{text}"
        );
        assert!(s[19].starts_with("refused NotFound"), "{text}");
        assert_eq!(
            s[20],
            "(ReadMarker { username: \"ana\", delivered_up_to: MessageId(3), read_up_to: MessageId(3) }, Some(0))"
        );
        assert!(
            s[21].contains("delivered_up_to: MessageId(3), read_up_to: MessageId(3) }, None"),
            "{text}"
        );
        assert!(s[22].starts_with("refused ValidationFailed"), "{text}");
        assert!(s[23].contains("muted true archived true"), "{text}");
        assert!(s[24].starts_with("archived: conv 1"), "{text}");
        assert!(text.contains("list 2: conv 1 Accepted asked by ana peer mona unread 1 awaiting true muted true archived false"), "{text}");
        assert!(text.contains("expired 1\nexpired 0\n"), "{text}");
        assert!(text.contains("\"settings_updated\""), "{text}");
    }
}
