//! Conversations: request, requests, accept/decline/complete/reopen, inbox,
//! and resolving `USER|CONV` arguments to a conversation.

use super::super::context::Ctx;
use super::super::exit::Exit;
use super::super::output::Out;
use super::super::output::{
    BADGE, BOLD, CYAN, DIM, GREEN, YELLOW, columns, display_cell, pad, paint, relative, safe, truncate,
};
use super::outbox;
use crate::api::Client;
use mchat_shared::ConversationId;
use mchat_shared::api::{Conversation, ConversationStatus, CreateConversationRequest, MessageKind};
use mchat_shared::validate;
use serde::Serialize;

/// Finds my conversation with `target`: a username, or a numeric conversation id.
pub async fn find(client: &Client, target: &str) -> anyhow::Result<Conversation> {
    if let Ok(id) = target.parse::<i64>() {
        return client
            .conversation(ConversationId(id))
            .await
            .map_err(|e| match e {
                crate::api::ClientError::Api { status: 404, .. } => {
                    anyhow::Error::from(Exit::not_found(format!("you have no conversation {id}")))
                }
                other => other.into(),
            });
    }
    let name =
        validate::username(target).map_err(|_| Exit::not_found(format!("no user named {}", safe(target))))?;
    let list = client.conversations().await?;
    if let Some(c) = list.conversations.into_iter().find(|c| c.peer.username == name) {
        return Ok(c);
    }
    // Archived conversations are left out of the default list, not gone.
    let archived = client
        .conversations_archived()
        .await?
        .into_iter()
        .find(|c| c.peer.username == name);
    if let Some(c) = archived {
        return Ok(c);
    }
    // Only suggest a request to someone who exists (and whom I may see).
    match client.user(&name).await {
        Ok(_) => Err(Exit::not_found(format!(
            "you have no conversation with {name}; ask for one with 'mchat request {name} MESSAGE'"
        ))
        .into()),
        Err(crate::api::ClientError::Api { status: 404, .. }) => {
            Err(Exit::not_found(format!("there is no user named {name}")).into())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn request(ctx: &mut Ctx, user: &str, words: Vec<String>) -> anyhow::Result<()> {
    let to = validate::username(user).map_err(|e| Exit::rejected(e.message))?;
    let message = validate::message_body(&super::body_from(words, "intro message")?)?;
    let client = ctx.client()?;
    outbox::flush_quietly(ctx, &client).await;
    let created = client
        .request_conversation(&CreateConversationRequest {
            to: to.clone(),
            message: message.clone(),
            client_id: Some(uuid::Uuid::now_v7().to_string()),
        })
        .await?;
    let c = &created.conversation;
    let peer = safe(&c.peer.username).into_owned();
    if created.created {
        if ctx.out.json {
            return ctx.out.json(&created);
        }
        ctx.out.line(format!(
            "{} asked {} for a conversation; you will be notified when they answer",
            paint(GREEN, "✓"),
            paint(BOLD, &peer)
        ));
        return Ok(());
    }
    // The pair already has a conversation: say what to do instead, or, when
    // it is open, deliver the message there rather than drop it.
    let me = &c.my_markers.username;
    match c.status {
        ConversationStatus::Accepted => {
            let sent = client
                .send(
                    c.id,
                    &mchat_shared::api::SendMessageRequest {
                        client_id: uuid::Uuid::now_v7().to_string(),
                        body: message,
                        reply_to: None,
                        file: None,
                    },
                )
                .await?;
            if ctx.out.json {
                return ctx.out.json(&serde_json::json!({
                    "conversation": c, "created": false, "message": sent.value
                }));
            }
            ctx.out.line(format!(
                "{} you already talk with {}: sent your message there (#{})",
                paint(GREEN, "✓"),
                paint(BOLD, &peer),
                sent.value.id
            ));
            Ok(())
        }
        ConversationStatus::Pending if &c.requested_by == me => Err(Exit::rejected(format!(
            "you already asked {peer}; the request is still pending, so this message was not sent"
        ))
        .into()),
        ConversationStatus::Pending => Err(Exit::rejected(format!(
            "{peer} already asked you for a conversation: accept it with 'mchat accept {peer}'"
        ))
        .into()),
        _ => Err(Exit::rejected(format!(
            "your conversation with {peer} is {}; reopen it with 'mchat reopen {peer}' to write again",
            c.status
        ))
        .into()),
    }
}

#[derive(Serialize)]
struct Requests {
    incoming: Vec<Conversation>,
    outgoing: Vec<Conversation>,
}

pub async fn requests(ctx: &mut Ctx) -> anyhow::Result<()> {
    let client = ctx.client()?;
    outbox::flush_quietly(ctx, &client).await;
    let me = client.me().await?.username;
    let (outgoing, incoming): (Vec<_>, Vec<_>) = client
        .conversations()
        .await?
        .conversations
        .into_iter()
        .filter(|c| c.status == ConversationStatus::Pending)
        .partition(|c| c.requested_by == me);
    if ctx.out.json {
        return ctx.out.json(&Requests { incoming, outgoing });
    }
    if incoming.is_empty() && outgoing.is_empty() {
        ctx.out.line("no pending requests");
        return Ok(());
    }
    // Username, display name beside it, aligned across both lists.
    let names: Vec<Vec<String>> = incoming
        .iter()
        .chain(&outgoing)
        .map(|c| {
            vec![
                safe(&c.peer.username).into_owned(),
                display_cell(&c.peer.display_name),
            ]
        })
        .collect();
    let w = columns(&names);
    let who = |c: &Conversation| {
        format!(
            "{}  {}",
            paint(BOLD, pad(&safe(&c.peer.username), w[0])),
            pad(&display_cell(&c.peer.display_name), w[1])
        )
    };
    if !incoming.is_empty() {
        ctx.out.line(paint(BOLD, "Incoming"));
        for c in &incoming {
            let intro = c
                .last_message
                .as_ref()
                .map(|m| safe(&m.body).into_owned())
                .unwrap_or_default();
            ctx.out.line(format!(
                "  {}  {}  {}",
                who(c),
                paint(DIM, relative(c.created_at)),
                truncate(&intro, 60)
            ));
        }
        ctx.out.line(paint(
            DIM,
            "  answer with: mchat accept USER | mchat decline USER --reason ...",
        ));
    }
    if !outgoing.is_empty() {
        ctx.out.line(paint(BOLD, "Outgoing"));
        for c in &outgoing {
            ctx.out.line(format!(
                "  {}  {}  {}",
                who(c),
                paint(DIM, format!("sent {}", relative(c.created_at))),
                c.expires_at
                    .map(|t| format!("expires {}", crate::when::to_local(t).date()))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}

pub enum Change {
    Accept,
    Decline(Option<String>),
    Complete,
    Reopen,
}

pub async fn change(ctx: &mut Ctx, user: &str, change: Change) -> anyhow::Result<()> {
    let client = ctx.client()?;
    outbox::flush_quietly(ctx, &client).await;
    let conv = find(&client, user).await?;
    // Asking for the state it is already in changes nothing: say so rather
    // than claim the change (the server answers such a request with the
    // conversation as it is).
    let already = match (&change, conv.status) {
        (Change::Accept, ConversationStatus::Accepted) => Some("already accepted"),
        (Change::Decline(_), ConversationStatus::Declined) => Some("already declined"),
        (Change::Complete, ConversationStatus::Completed) => Some("already completed"),
        (Change::Reopen, ConversationStatus::Accepted) => Some("already open"),
        _ => None,
    };
    if let Some(state) = already {
        if ctx.out.json {
            return ctx.out.json(&conv);
        }
        ctx.out.line(format!(
            "the conversation with {} is {state}; nothing changed",
            paint(BOLD, safe(&conv.peer.username))
        ));
        return Ok(());
    }
    let (verb, result) = match change {
        Change::Accept => ("accepted the request from", client.accept(conv.id).await?),
        Change::Decline(reason) => {
            if let Some(r) = &reason {
                validate::free_text("reason", r, mchat_shared::limits::REASON_MAX_CHARS)?;
            }
            (
                "declined the request from",
                client.decline(conv.id, reason).await?,
            )
        }
        Change::Complete => ("completed the conversation with", client.complete(conv.id).await?),
        Change::Reopen => ("reopened the conversation with", client.reopen(conv.id).await?),
    };
    if ctx.out.json {
        return ctx.out.json(&result);
    }
    ctx.out.line(format!(
        "{} {verb} {}",
        paint(GREEN, "✓"),
        paint(BOLD, safe(&result.peer.username))
    ));
    Ok(())
}

/// Inbox order: awaiting my reply first, then unread, then by recent activity.
pub fn inbox_order(list: &mut [Conversation]) {
    list.sort_by(|a, b| {
        b.awaiting_reply
            .cmp(&a.awaiting_reply)
            .then((b.unread > 0).cmp(&(a.unread > 0)))
            .then(b.last_activity_at.cmp(&a.last_activity_at))
    });
}

fn status_label(c: &Conversation, me: &str) -> (String, anstyle::Style) {
    match c.status {
        ConversationStatus::Pending if c.requested_by == me => ("requested".into(), DIM),
        ConversationStatus::Pending => ("request".into(), YELLOW),
        ConversationStatus::Accepted => ("open".into(), GREEN),
        other => (other.to_string(), DIM),
    }
}

/// `mchat inbox [--archived]`: my conversations (archived ones only with `--archived`).
pub async fn inbox(ctx: &mut Ctx, archived: bool) -> anyhow::Result<()> {
    let client = ctx.client()?;
    outbox::flush_quietly(ctx, &client).await;
    let mut list = if archived {
        client.conversations_archived().await?
    } else {
        client.conversations().await?.conversations
    };
    inbox_order(&mut list);
    if !archived {
        // The TUI paints from this cache, and shell completion takes the
        // names it offers from it: keep it fresh (best effort).
        if let Ok(local) = ctx.local() {
            let _ = local.cache_conversations(&list);
        }
    }
    if ctx.out.json {
        return ctx
            .out
            .json(&mchat_shared::api::ConversationList { conversations: list });
    }
    if list.is_empty() {
        if archived {
            ctx.out.line("no archived conversations");
            return Ok(());
        }
        let hidden = client.conversations_archived().await?.len();
        if hidden > 0 {
            ctx.out.line(format!(
                "no conversations in the inbox; {hidden} archived ('mchat inbox --archived' lists them)"
            ));
            return Ok(());
        }
    }
    print_inbox(&ctx.out, &list);
    Ok(())
}

/// Renders the inbox table (already ordered).
pub fn print_inbox(out: &Out, list: &[Conversation]) {
    if list.is_empty() {
        out.line("no conversations yet: find a mentor with 'mchat mentors'");
        return;
    }
    let me = list[0].my_markers.username.clone();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let preview = c
                .last_message
                .as_ref()
                .map(|m| {
                    let body = safe(&m.body).into_owned();
                    match (m.kind, m.sender.as_deref()) {
                        (MessageKind::System, _) => format!("· {body}"),
                        (_, Some(s)) if s == me => format!("you: {body}"),
                        _ => body,
                    }
                })
                .unwrap_or_default();
            vec![
                if c.unread > 0 {
                    format!("{}", c.unread)
                } else {
                    String::new()
                },
                safe(&c.peer.username).into_owned(),
                display_cell(&c.peer.display_name),
                c.peer.role.to_string(),
                match (c.muted, c.archived) {
                    (true, true) => format!("{} · muted · archived", status_label(c, &me).0),
                    (true, false) => format!("{} · muted", status_label(c, &me).0),
                    (false, true) => format!("{} · archived", status_label(c, &me).0),
                    (false, false) => status_label(c, &me).0,
                },
                if c.awaiting_reply {
                    "↩ reply".into()
                } else {
                    String::new()
                },
                relative(c.last_activity_at),
                truncate(&preview, 48),
            ]
        })
        .collect();
    let w = columns(&rows);
    for (row, c) in rows.iter().zip(list) {
        // Muted conversations stay quiet in the list too.
        let name_style = if c.muted {
            DIM
        } else if c.unread > 0 {
            BOLD
        } else {
            anstyle::Style::new()
        };
        out.line(format!(
            "{} {}  {}  {}  {}  {}  {}  {}",
            paint(BADGE, format!("{:>w$}", row[0], w = w[0].max(1))),
            paint(name_style, pad(&row[1], w[1])),
            pad(&row[2], w[2]),
            paint(DIM, pad(&row[3], w[3])),
            paint(status_label(c, &me).1, pad(&row[4], w[4])),
            paint(CYAN, pad(&row[5], w[5])),
            paint(DIM, pad(&row[6], w[6])),
            row[7]
        ));
    }
}
