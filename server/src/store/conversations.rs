//! Conversations and the request flow: request (get-or-create per pair),
//! accept, decline, complete, reopen, expiry. Every status change writes a
//! system message into the thread, a notification for the other side, and
//! events for both — in one transaction.
//!
//! Authorization lives in the lookups: every one goes through the caller's
//! participant row, so a conversation the caller is not in is simply not
//! found. The rules live here, over the storage traits
//! (`data/conversations.rs`); each backend has the SQL.

use super::data::{NewMessage, Read, Sweep, Tx, direct_key};
use super::messages::insert_message;
use super::notifications::notify;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{
    Conversation, ConversationStatus, MessageKind, NotificationKind, Role, SystemAction,
};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, UserId};

/// A status change asked for by a participant.
#[derive(Debug, Clone)]
pub enum Transition {
    Accept,
    Decline(Option<String>),
    Complete,
    Reopen,
}

/// Completes the `last_message` of each conversation (quote, reactions,
/// attachment) with one `hydrate` call for the whole list.
fn hydrate_last(r: &dyn Read, list: &mut [Conversation]) -> StoreResult<()> {
    let owners: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].last_message.is_some())
        .collect();
    let mut last: Vec<_> = owners
        .iter()
        .filter_map(|&i| list[i].last_message.take())
        .collect();
    super::hydrate::hydrate(r, &mut last)?;
    for (i, m) in owners.into_iter().zip(last) {
        list[i].last_message = Some(m);
    }
    Ok(())
}

/// Loads conversation `id` as `me` sees it; not a participant → not found.
pub(super) fn load(r: &dyn Read, me: UserId, id: ConversationId) -> StoreResult<Conversation> {
    let username = r.username(me)?;
    let mut conv = r
        .conversation_row(me, id)?
        .ok_or_else(|| StoreError::not_found("conversation"))?
        .into_conversation(username);
    hydrate_last(r, std::slice::from_mut(&mut conv))?;
    Ok(conv)
}

/// My conversations (archived ones, or the others), hydrated.
fn list(r: &dyn Read, me: UserId, archived: bool) -> StoreResult<Vec<Conversation>> {
    let username = r.username(me)?;
    let mut list: Vec<Conversation> = r
        .conversation_rows(me, archived)?
        .into_iter()
        .map(|row| row.into_conversation(username.clone()))
        .collect();
    hydrate_last(r, &mut list)?;
    Ok(list)
}

/// The username of `me`'s peer in `conv` (empty when there is none).
pub(super) fn peer_name(r: &dyn Read, me: UserId, conv: ConversationId) -> StoreResult<String> {
    match r.participants(conv)?.into_iter().find(|&u| u != me) {
        Some(peer) => r.username(peer),
        None => Ok(String::new()),
    }
}

/// Status and requester of a conversation `me` is in; otherwise not found.
pub(super) fn status_of(
    r: &dyn Read,
    me: UserId,
    conv: ConversationId,
) -> StoreResult<(ConversationStatus, UserId)> {
    r.conversation_status(me, conv)?
        .ok_or_else(|| StoreError::not_found("conversation"))
}

/// Writes the system message, the events for everyone in the conversation,
/// and a notification for `notify_user`.
#[allow(clippy::too_many_arguments)]
fn record_change(
    tx: &mut dyn Tx,
    conv: ConversationId,
    status: ConversationStatus,
    actor: Option<UserId>,
    action: SystemAction,
    text: String,
    notify_user: UserId,
    kind: NotificationKind,
    note: String,
) -> StoreResult<()> {
    insert_message(
        tx,
        NewMessage {
            conversation: conv,
            sender: actor,
            kind: MessageKind::System,
            body: text,
            system: Some(action),
            client_id: None,
            reply_to: None,
            file: None,
        },
    )?;
    let actor_name = actor.map(|a| tx.username(a)).transpose()?;
    let everyone = tx.participants(conv)?;
    tx.emit_all(
        &everyone,
        EventKind::ConversationUpdated {
            conversation_id: conv,
            status,
            actor: actor_name,
        },
    )?;
    notify(tx, notify_user, kind, note, Some(conv), actor)
}

/// What `request` did.
pub(super) struct Requested {
    pub conversation: ConversationId,
    pub created: bool,
}

fn request(
    tx: &mut dyn Tx,
    me: UserId,
    to: &str,
    intro: String,
    client_id: Option<String>,
    ttl_ms: i64,
) -> StoreResult<Requested> {
    // A retried request (same client_id) returns what the first one made.
    if let Some(cid) = &client_id
        && let Some(before) = tx.sent_with_client_id(me, cid)?
    {
        if before.body != intro {
            return Err(StoreError::api(
                ErrorCode::IdempotencyConflict,
                "this client_id was already used for a different message",
            ));
        }
        return Ok(Requested {
            conversation: before.conversation,
            created: false,
        });
    }
    let me_rec = tx.user(me)?.ok_or_else(|| StoreError::not_found("user"))?;
    let target_rec = tx
        .user_named(to)?
        .ok_or_else(|| StoreError::api(ErrorCode::NotFound, format!("no user named {to}")))?;
    let target_id = target_rec.id;
    if target_id == me {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            "you cannot request a conversation with yourself",
        ));
    }
    let target = target_rec.user;
    let approved = |u: &mchat_shared::api::User| u.mentor_approved == Some(true);
    match (me_rec.user.role, target.role) {
        // Unapproved mentors are hidden from everyone but admins (and
        // themselves): asking for one answers like a name nobody has.
        (Role::Admin, Role::Mentor) if !approved(&target) => {
            return Err(StoreError::api(
                ErrorCode::Forbidden,
                format!("{to} is not accepting requests yet (their mentor account awaits approval)"),
            ));
        }
        (_, Role::Mentor) if !approved(&target) => {
            return Err(StoreError::api(
                ErrorCode::NotFound,
                format!("no user named {to}"),
            ));
        }
        (_, Role::Mentor) | (Role::Admin, _) => {}
        (Role::Mentor, _) if !approved(&me_rec.user) => {
            return Err(StoreError::api(
                ErrorCode::Forbidden,
                "your mentor account awaits approval; you can start conversations once an admin approves it",
            ));
        }
        (Role::Mentor, _) => {}
        (Role::Mentee, _) => {
            return Err(StoreError::api(
                ErrorCode::Forbidden,
                format!("{to} is not a mentor; mentees can request conversations with mentors only"),
            ));
        }
    }

    let key = direct_key(me, target_id);
    let expires_at = tx.now().saturating_add(ttl_ms);
    enum Found {
        Made(ConversationId),
        There(super::data::DirectConversation),
    }
    let found =
        match tx.direct_conversation(&key)? {
            Some(existing) => Found::There(existing),
            None => match tx.insert_conversation(&key, me, expires_at)? {
                Some(conv) => {
                    for user in [me, target_id] {
                        tx.insert_participant(conv, user)?;
                    }
                    Found::Made(conv)
                }
                // Another node's first request of this pair committed first:
                // it is the existing one now.
                None => Found::There(tx.direct_conversation(&key)?.ok_or_else(|| {
                    StoreError::Internal("a conversation made meanwhile is not there".into())
                })?),
            },
        };
    let conv = match found {
        Found::Made(conv) => conv,
        Found::There(existing) => {
            let conv = existing.id;
            tx.lock_conversation(conv)?;
            match existing.status {
                ConversationStatus::Pending
                | ConversationStatus::Accepted
                | ConversationStatus::Completed => {
                    return Ok(Requested {
                        conversation: conv,
                        created: false,
                    });
                }
                ConversationStatus::Declined if existing.requested_by == me => {
                    return Err(StoreError::api(
                        ErrorCode::RequestDeclined,
                        format!("{to} declined your earlier request"),
                    ));
                }
                // Expired, or declined by me: a fresh request renews the conversation.
                ConversationStatus::Declined | ConversationStatus::Expired => {
                    tx.renew_request(conv, me, expires_at)?;
                    conv
                }
            }
        }
    };
    insert_message(
        tx,
        NewMessage {
            conversation: conv,
            sender: Some(me),
            kind: MessageKind::Text,
            body: intro,
            system: None,
            client_id,
            reply_to: None,
            file: None,
        },
    )?;
    let everyone = tx.participants(conv)?;
    tx.emit_all(
        &everyone,
        EventKind::ConversationUpdated {
            conversation_id: conv,
            status: ConversationStatus::Pending,
            actor: Some(me_rec.user.username.clone()),
        },
    )?;
    notify(
        tx,
        target_id,
        NotificationKind::RequestReceived,
        format!("{} asked you for a conversation", me_rec.user.username),
        Some(conv),
        Some(me),
    )?;
    Ok(Requested {
        conversation: conv,
        created: true,
    })
}

fn transition(tx: &mut dyn Tx, me: UserId, conv: ConversationId, t: Transition) -> StoreResult<()> {
    use ConversationStatus as S;
    tx.lock_conversation(conv)?;
    let (status, requested_by) = status_of(tx, me, conv)?;
    let peer = tx
        .participants(conv)?
        .into_iter()
        .find(|&u| u != me)
        .ok_or_else(|| StoreError::Internal(format!("conversation {conv} has no peer")))?;
    let me_name = tx.username(me)?;
    let peer_name = tx.username(peer)?;
    let target = match &t {
        Transition::Accept => S::Accepted,
        Transition::Decline(_) => S::Declined,
        Transition::Complete => S::Completed,
        Transition::Reopen => S::Accepted,
    };
    // Asking for the state it is already in is a no-op, so retries are safe.
    let already = match &t {
        Transition::Reopen => status == S::Accepted,
        _ => status == target,
    };
    if already {
        return Ok(());
    }
    let verb = match &t {
        Transition::Accept => "accepted",
        Transition::Decline(_) => "declined",
        Transition::Complete => "completed",
        Transition::Reopen => "reopened",
    };
    let allowed_from = match &t {
        Transition::Accept | Transition::Decline(_) => S::Pending,
        Transition::Complete => S::Accepted,
        Transition::Reopen => S::Completed,
    };
    if status != allowed_from {
        return Err(StoreError::api(
            ErrorCode::InvalidTransition,
            format!("the conversation is {status}, so it cannot be {verb}"),
        ));
    }
    if matches!(t, Transition::Accept | Transition::Decline(_)) && requested_by == me {
        return Err(StoreError::api(
            ErrorCode::Forbidden,
            format!("only {peer_name} can answer this request"),
        ));
    }
    tx.set_conversation_status(conv, target, None)?;
    let (action, text, kind, note) = match t {
        Transition::Accept => (
            SystemAction::Accepted,
            format!("{me_name} accepted the request"),
            NotificationKind::RequestAccepted,
            format!("{me_name} accepted your request"),
        ),
        Transition::Decline(reason) => {
            let suffix = reason.map(|r| format!(": {r}")).unwrap_or_default();
            (
                SystemAction::Declined,
                format!("{me_name} declined the request{suffix}"),
                NotificationKind::RequestDeclined,
                format!("{me_name} declined your request{suffix}"),
            )
        }
        Transition::Complete => (
            SystemAction::Completed,
            format!("{me_name} marked the conversation complete"),
            NotificationKind::ConversationCompleted,
            format!("{me_name} marked your conversation complete"),
        ),
        Transition::Reopen => (
            SystemAction::Reopened,
            format!("{me_name} reopened the conversation"),
            NotificationKind::ConversationReopened,
            format!("{me_name} reopened your conversation"),
        ),
    };
    record_change(tx, conv, target, Some(me), action, text, peer, kind, note)
}

fn expire_due(tx: &mut dyn Tx) -> StoreResult<u32> {
    if !tx.sweep_turn(Sweep::RequestExpiry)? {
        return Ok(0);
    }
    let due = tx.due_requests(tx.now(), 500)?;
    let mut expired = 0;
    for &(conv, requester) in &due {
        tx.lock_conversation(conv)?;
        // Another node may have answered it since it was listed.
        match tx.conversation_status(requester, conv)? {
            Some((ConversationStatus::Pending, by)) if by == requester => {}
            _ => continue,
        }
        let peer = peer_name(tx, requester, conv)?;
        tx.set_conversation_status(conv, ConversationStatus::Expired, None)?;
        expired += 1;
        record_change(
            tx,
            conv,
            ConversationStatus::Expired,
            None,
            SystemAction::Expired,
            "the request expired without an answer".into(),
            requester,
            NotificationKind::RequestExpired,
            format!("your request to {peer} expired without an answer"),
        )?;
    }
    Ok(expired)
}

impl Store {
    /// Requests a conversation with `to` (get-or-create per pair of users).
    pub async fn request_conversation(
        &self,
        me: UserId,
        to: String,
        intro: String,
        client_id: Option<String>,
        ttl_ms: i64,
    ) -> StoreResult<(Conversation, bool)> {
        self.write_data(move |tx| {
            let r = request(tx, me, &to, intro, client_id, ttl_ms)?;
            Ok((load(tx, me, r.conversation)?, r.created))
        })
        .await
    }

    pub async fn transition(
        &self,
        me: UserId,
        conv: ConversationId,
        t: Transition,
    ) -> StoreResult<Conversation> {
        self.write_data(move |tx| {
            transition(tx, me, conv, t)?;
            load(tx, me, conv)
        })
        .await
    }

    pub async fn conversation(&self, me: UserId, conv: ConversationId) -> StoreResult<Conversation> {
        self.read_data(move |r| load(r, me, conv)).await
    }

    /// My conversations, most recent activity first. Writes committed in one
    /// batch share a timestamp, so ties go to the newest last message (every
    /// activity writes one, and message ids follow commit order).
    /// `archived`: false leaves archived conversations out, true lists only them.
    pub async fn conversations(&self, me: UserId, archived: bool) -> StoreResult<Vec<Conversation>> {
        self.read_data(move |r| list(r, me, archived)).await
    }

    /// Expires requests left pending past their deadline. Returns how many.
    pub async fn expire_requests(&self) -> StoreResult<u32> {
        self.write_data(expire_due).await
    }
}
