//! Conversations and the request flow: request (get-or-create per pair),
//! accept, decline, complete, reopen, expiry. Every status change writes a
//! system message into the thread, a notification for the other side, and
//! events for both — in one transaction.
//!
//! Authorization lives in the queries: every lookup joins `participants` on
//! the caller, so a conversation the caller is not in is simply not found.

use super::messages::{MessageInsert, insert_message};
use super::notifications::notify;
use super::rows::{USER_COLUMNS, brief, marker, message_at, ts, ts_opt, user_from_row};
use super::users::load_user;
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{
    Conversation, ConversationStatus, MessageKind, NotificationKind, Role, SystemAction,
};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, MessageId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// A status change asked for by a participant.
#[derive(Debug, Clone)]
pub enum Transition {
    Accept,
    Decline(Option<String>),
    Complete,
    Reopen,
}

/// One conversation as seen by `me.user_id`: the peer, markers, unread count,
/// the last message. Used by both the list and the single lookup.
fn select_sql(filter: &str) -> String {
    format!(
        "SELECT c.id, c.status, r.username, c.created_at, c.last_activity_at, c.expires_at, \
         me.delivered_up_to, me.read_up_to, me.muted, me.archived, \
         peer.delivered_up_to, peer.read_up_to, \
         (SELECT COUNT(*) FROM messages x WHERE x.conversation_id = c.id AND x.id > me.read_up_to \
            AND (x.sender_id IS NULL OR x.sender_id != me.user_id)) AS unread, \
         (SELECT lt.sender_id FROM messages lt WHERE lt.id = c.last_text_message_id) AS last_text_sender, \
         me.user_id, \
         {USER_COLUMNS}, \
         m.id, m.conversation_id, s.username, m.kind, m.body, m.system_action, m.client_id, m.reply_to, \
         m.created_at, m.edited_at, m.deleted_at \
         FROM participants me \
         JOIN conversations c ON c.id = me.conversation_id \
         JOIN participants peer ON peer.conversation_id = c.id AND peer.user_id != me.user_id \
         JOIN users u ON u.id = peer.user_id \
         JOIN users r ON r.id = c.requested_by \
         LEFT JOIN messages m ON m.id = c.last_message_id \
         LEFT JOIN users s ON s.id = m.sender_id \
         WHERE me.user_id = ?1 {filter}"
    )
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
    let status = ConversationStatus::parse(&row.get::<_, String>(1)?).unwrap_or(ConversationStatus::Pending);
    let me = UserId(row.get(14)?);
    let (_, peer) = user_from_row(row, 15)?;
    let msg_at = 15 + 14;
    let last_message = match row.get::<_, Option<i64>>(msg_at)? {
        Some(_) => Some(message_at(row, msg_at)?),
        None => None,
    };
    let last_text_sender = row.get::<_, Option<i64>>(13)?.map(UserId);
    let open = matches!(status, ConversationStatus::Pending | ConversationStatus::Accepted);
    Ok(Conversation {
        id: ConversationId(row.get(0)?),
        status,
        requested_by: row.get(2)?,
        created_at: ts(row.get(3)?),
        last_activity_at: ts(row.get(4)?),
        expires_at: if status == ConversationStatus::Pending {
            ts_opt(row.get(5)?)
        } else {
            None
        },
        my_markers: marker(String::new(), MessageId(row.get(6)?), MessageId(row.get(7)?)),
        muted: row.get(8)?,
        archived: row.get(9)?,
        peer_markers: marker(
            peer.username.clone(),
            MessageId(row.get(10)?),
            MessageId(row.get(11)?),
        ),
        unread: row.get(12)?,
        awaiting_reply: open && last_text_sender.is_some_and(|s| s != me),
        peer: brief(&peer),
        last_message,
    })
}

/// Completes the `last_message` of each conversation (quote, reactions,
/// attachment) with one `hydrate` call for the whole list.
fn hydrate_last(conn: &Connection, list: &mut [Conversation]) -> StoreResult<()> {
    let owners: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].last_message.is_some())
        .collect();
    let mut last: Vec<_> = owners
        .iter()
        .filter_map(|&i| list[i].last_message.take())
        .collect();
    super::hydrate::hydrate(conn, &mut last)?;
    for (i, m) in owners.into_iter().zip(last) {
        list[i].last_message = Some(m);
    }
    Ok(())
}

/// Loads conversation `id` as `me` sees it; not a participant → not found.
pub(super) fn load(conn: &Connection, me: UserId, id: ConversationId) -> StoreResult<Conversation> {
    let username: String = conn
        .prepare_cached("SELECT username FROM users WHERE id = ?1")?
        .query_row([me.0], |r| r.get(0))?;
    let mut conv = conn
        .prepare_cached(&select_sql("AND c.id = ?2"))?
        .query_row(params![me.0, id.0], from_row)
        .optional()?
        .ok_or_else(|| StoreError::not_found("conversation"))?;
    conv.my_markers.username = username;
    hydrate_last(conn, std::slice::from_mut(&mut conv))?;
    Ok(conv)
}

/// The participants of a conversation (user ids).
pub(super) fn participants(conn: &Connection, conv: ConversationId) -> StoreResult<Vec<UserId>> {
    use super::data::MembershipRead;
    super::sqlite::SqliteRead(conn).participants(conv)
}

/// Status and requester of a conversation `me` is in; otherwise not found.
pub(super) fn status_of(
    conn: &Connection,
    me: UserId,
    conv: ConversationId,
) -> StoreResult<(ConversationStatus, UserId)> {
    conn.prepare_cached(
        "SELECT c.status, c.requested_by FROM conversations c \
         JOIN participants p ON p.conversation_id = c.id AND p.user_id = ?1 WHERE c.id = ?2",
    )?
    .query_row(params![me.0, conv.0], |r| {
        Ok((
            ConversationStatus::parse(&r.get::<_, String>(0)?).unwrap_or(ConversationStatus::Pending),
            UserId(r.get(1)?),
        ))
    })
    .optional()?
    .ok_or_else(|| StoreError::not_found("conversation"))
}

fn username_of(conn: &Connection, id: UserId) -> StoreResult<String> {
    Ok(conn
        .prepare_cached("SELECT username FROM users WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))?)
}

fn set_status(
    ctx: &mut WriteCtx<'_>,
    conv: ConversationId,
    status: ConversationStatus,
    expires_at: Option<i64>,
) -> StoreResult<()> {
    ctx.conn.execute(
        "UPDATE conversations SET status = ?2, status_changed_at = ?3, last_activity_at = ?3, expires_at = ?4 \
         WHERE id = ?1",
        params![conv.0, status.as_str(), ctx.now, expires_at],
    )?;
    Ok(())
}

/// Writes the system message, the events for everyone in the conversation,
/// and a notification for `notify_user`.
#[allow(clippy::too_many_arguments)]
fn record_change(
    ctx: &mut WriteCtx<'_>,
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
        ctx,
        MessageInsert {
            conversation: conv,
            sender: actor,
            kind: MessageKind::System,
            body: text,
            system: Some(action),
            client_id: None,
            reply_to: None,
        },
    )?;
    let actor_name = actor.map(|a| username_of(ctx.conn, a)).transpose()?;
    let everyone = participants(ctx.conn, conv)?;
    ctx.emit_all(
        &everyone,
        EventKind::ConversationUpdated {
            conversation_id: conv,
            status,
            actor: actor_name,
        },
    )?;
    notify(ctx, notify_user, kind, note, Some(conv), actor)
}

/// What `request` did.
pub(super) struct Requested {
    pub conversation: ConversationId,
    pub created: bool,
}

fn request(
    ctx: &mut WriteCtx<'_>,
    me: UserId,
    to: &str,
    intro: String,
    client_id: Option<String>,
    ttl_ms: i64,
) -> StoreResult<Requested> {
    // A retried request (same client_id) returns what the first one made.
    if let Some(cid) = &client_id {
        let existing: Option<(ConversationId, String)> = ctx
            .conn
            .prepare_cached(
                "SELECT conversation_id, body FROM messages WHERE sender_id = ?1 AND client_id = ?2",
            )?
            .query_row(params![me.0, cid], |r| Ok((ConversationId(r.get(0)?), r.get(1)?)))
            .optional()?;
        if let Some((conversation, body)) = existing {
            if body != intro {
                return Err(StoreError::api(
                    ErrorCode::IdempotencyConflict,
                    "this client_id was already used for a different message",
                ));
            }
            return Ok(Requested {
                conversation,
                created: false,
            });
        }
    }
    let me_rec = load_user(ctx.conn, me)?;
    let target_id = ctx
        .conn
        .prepare_cached("SELECT id FROM users WHERE username = ?1")?
        .query_row([to], |r| r.get(0).map(UserId))
        .optional()?
        .ok_or_else(|| StoreError::api(ErrorCode::NotFound, format!("no user named {to}")))?;
    if target_id == me {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            "you cannot request a conversation with yourself",
        ));
    }
    let target = load_user(ctx.conn, target_id)?.user;
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

    let key = format!("{}:{}", me.min(target_id), me.max(target_id));
    let existing: Option<(ConversationId, String, UserId)> = ctx
        .conn
        .prepare_cached("SELECT id, status, requested_by FROM conversations WHERE direct_key = ?1")?
        .query_row([&key], |r| {
            Ok((ConversationId(r.get(0)?), r.get(1)?, UserId(r.get(2)?)))
        })
        .optional()?;
    let expires_at = ctx.now.saturating_add(ttl_ms);
    let conv = match existing {
        None => {
            ctx.conn.execute(
                "INSERT INTO conversations (direct_key, status, requested_by, created_at, status_changed_at, \
                 last_activity_at, expires_at) VALUES (?1, 'pending', ?2, ?3, ?3, ?3, ?4)",
                params![key, me.0, ctx.now, expires_at],
            )?;
            let conv = ConversationId(ctx.conn.last_insert_rowid());
            for user in [me, target_id] {
                ctx.conn.execute(
                    "INSERT INTO participants (conversation_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
                    params![conv.0, user.0, ctx.now],
                )?;
            }
            conv
        }
        Some((conv, status, requested_by)) => {
            let status = ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Pending);
            match status {
                ConversationStatus::Pending
                | ConversationStatus::Accepted
                | ConversationStatus::Completed => {
                    return Ok(Requested {
                        conversation: conv,
                        created: false,
                    });
                }
                ConversationStatus::Declined if requested_by == me => {
                    return Err(StoreError::api(
                        ErrorCode::RequestDeclined,
                        format!("{to} declined your earlier request"),
                    ));
                }
                // Expired, or declined by me: a fresh request renews the conversation.
                ConversationStatus::Declined | ConversationStatus::Expired => {
                    ctx.conn.execute(
                        "UPDATE conversations SET status = 'pending', requested_by = ?2, status_changed_at = ?3, \
                         last_activity_at = ?3, expires_at = ?4 WHERE id = ?1",
                        params![conv.0, me.0, ctx.now, expires_at],
                    )?;
                    conv
                }
            }
        }
    };
    insert_message(
        ctx,
        MessageInsert {
            conversation: conv,
            sender: Some(me),
            kind: MessageKind::Text,
            body: intro,
            system: None,
            client_id,
            reply_to: None,
        },
    )?;
    let everyone = participants(ctx.conn, conv)?;
    ctx.emit_all(
        &everyone,
        EventKind::ConversationUpdated {
            conversation_id: conv,
            status: ConversationStatus::Pending,
            actor: Some(me_rec.user.username.clone()),
        },
    )?;
    notify(
        ctx,
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

fn transition(ctx: &mut WriteCtx<'_>, me: UserId, conv: ConversationId, t: Transition) -> StoreResult<()> {
    use ConversationStatus as S;
    let (status, requested_by) = status_of(ctx.conn, me, conv)?;
    let peer = participants(ctx.conn, conv)?
        .into_iter()
        .find(|&u| u != me)
        .ok_or_else(|| StoreError::Internal(format!("conversation {conv} has no peer")))?;
    let me_name = username_of(ctx.conn, me)?;
    let peer_name = username_of(ctx.conn, peer)?;
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
    set_status(ctx, conv, target, None)?;
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
    record_change(ctx, conv, target, Some(me), action, text, peer, kind, note)
}

fn expire_due(ctx: &mut WriteCtx<'_>) -> StoreResult<u32> {
    let due: Vec<(ConversationId, UserId)> = ctx
        .conn
        .prepare_cached(
            "SELECT id, requested_by FROM conversations WHERE status = 'pending' AND expires_at <= ?1 LIMIT 500",
        )?
        .query_map([ctx.now], |r| Ok((ConversationId(r.get(0)?), UserId(r.get(1)?))))?
        .collect::<Result<_, _>>()?;
    for &(conv, requester) in &due {
        let peer = participants(ctx.conn, conv)?
            .into_iter()
            .find(|&u| u != requester)
            .map(|p| username_of(ctx.conn, p))
            .transpose()?
            .unwrap_or_default();
        set_status(ctx, conv, ConversationStatus::Expired, None)?;
        record_change(
            ctx,
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
    Ok(due.len() as u32)
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
        self.write(move |ctx| {
            let r = request(ctx, me, &to, intro, client_id, ttl_ms)?;
            Ok((load(ctx.conn, me, r.conversation)?, r.created))
        })
        .await
    }

    pub async fn transition(
        &self,
        me: UserId,
        conv: ConversationId,
        t: Transition,
    ) -> StoreResult<Conversation> {
        self.write(move |ctx| {
            transition(ctx, me, conv, t)?;
            load(ctx.conn, me, conv)
        })
        .await
    }

    pub async fn conversation(&self, me: UserId, conv: ConversationId) -> StoreResult<Conversation> {
        self.read(move |conn| load(conn, me, conv)).await
    }

    /// My conversations, most recent activity first. Writes committed in one
    /// batch share a timestamp, so ties go to the newest last message (every
    /// activity writes one, and message ids follow commit order).
    /// `archived`: false leaves archived conversations out, true lists only them.
    pub async fn conversations(&self, me: UserId, archived: bool) -> StoreResult<Vec<Conversation>> {
        self.read(move |conn| {
            let username = username_of(conn, me)?;
            let mut stmt = conn.prepare_cached(&select_sql(
                "AND (me.archived != 0) = ?2 \
                 ORDER BY c.last_activity_at DESC, c.last_message_id DESC, c.id DESC",
            ))?;
            let mut list = stmt
                .query_map(params![me.0, archived], from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            for c in &mut list {
                c.my_markers.username = username.clone();
            }
            hydrate_last(conn, &mut list)?;
            Ok(list)
        })
        .await
    }

    /// Expires requests left pending past their deadline. Returns how many.
    pub async fn expire_requests(&self) -> StoreResult<u32> {
        self.write(expire_due).await
    }
}
