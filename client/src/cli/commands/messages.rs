//! `mchat send` (through the outbox, so nothing typed is lost) and `mchat read`.

use super::super::context::Ctx;
use super::super::exit::Exit;
use super::super::output::{BOLD, CYAN, DIM, GREEN, clock, paint, safe, safe_text, truncate};
use super::conversations::find;
use super::outbox::{self, deliver, transient};
use clap::Args;
use mchat_shared::api::{Conversation, Message, MessageKind, MessagesQuery, ReadMarker};
use mchat_shared::{MessageId, validate};
use serde::Serialize;

#[derive(Args)]
pub struct SendArgs {
    /// Username of the peer, or a conversation id.
    pub target: String,
    /// The message; '-' (or nothing, with piped stdin) reads stdin.
    pub message: Vec<String>,
    /// Reply to this message id.
    #[arg(long)]
    pub reply_to: Option<i64>,
    /// Attach a file (the message, if any, is its caption).
    #[arg(long, conflicts_with_all = ["template", "at", "in_"])]
    pub file: Option<std::path::PathBuf>,
    /// Use a saved template as the body (see 'mchat template').
    #[arg(long)]
    pub template: Option<String>,
    /// A template variable: --var topic=rust (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", requires = "template")]
    pub vars: Vec<String>,
    /// Send later, at this local time: "2026-12-01 09:00", "09:00", "tomorrow 09:00".
    #[arg(long, conflicts_with = "in_")]
    pub at: Option<String>,
    /// Send later, after this long: 30m, 2h, 1d, 1h30m.
    #[arg(long = "in")]
    pub in_: Option<String>,
}

#[derive(Args)]
pub struct ReadArgs {
    /// Username of the peer, or a conversation id.
    pub target: String,
    /// How many messages.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Messages before this id (older history).
    #[arg(long)]
    pub before: Option<i64>,
    /// Do not mark the conversation read.
    #[arg(long)]
    pub no_mark: bool,
}

#[derive(Serialize)]
struct Sent<'a> {
    status: &'static str,
    message: &'a Message,
}

fn queued_sentence(ctx: &Ctx, depth: u32) -> String {
    format!(
        "cannot reach the server at {}; the message is queued in the outbox ({depth} waiting) and will be \
         sent by the next mchat command that reaches the server, or by 'mchat outbox flush'",
        ctx.server
    )
}

pub async fn send(ctx: &mut Ctx, a: SendArgs) -> anyhow::Result<()> {
    if a.file.is_some() {
        return super::files::send_file(ctx, a).await;
    }
    if a.at.is_some() || a.in_.is_some() {
        return super::organise::send_later(ctx, a).await;
    }
    let text = match &a.template {
        Some(name) => super::organise::template_body(ctx, &a.target, name, &a.vars).await?,
        None => super::body_from(a.message, "message")?,
    };
    let body = validate::message_body(&text)?;
    let client = ctx.client()?;
    // Older queued messages go first, so order is kept; refused ones (left
    // in 'mchat outbox') do not hold new messages back.
    let backlog = outbox::flush_before_send(ctx, &client).await?;
    let conversation_id = if let Ok(id) = a.target.parse::<i64>() {
        Some(id)
    } else if backlog > 0 {
        None
    } else {
        match find(&client, &a.target).await {
            Ok(c) => Some(c.id.0),
            Err(e) if transient(&e) => None,
            Err(e) => return Err(e),
        }
    };
    let client_id = uuid::Uuid::now_v7().to_string();
    // Durable first: if this process dies mid-send, the message is still queued.
    let item = ctx
        .local()?
        .outbox_add(&client_id, &a.target, conversation_id, &body, a.reply_to)?;
    if backlog > 0 {
        let depth = ctx.local()?.outbox_len()?;
        return Err(Exit::queued(queued_sentence(ctx, depth)).into());
    }
    match deliver(&client, &item).await {
        Ok((message, _)) => {
            ctx.local()?.outbox_remove_by_client_id(&client_id)?;
            if ctx.out.json {
                ctx.out.json(&Sent {
                    status: "sent",
                    message: &message,
                })?;
            } else if !ctx.out.quiet {
                ctx.out
                    .line(format!("{} sent (#{})", paint(GREEN, "✓"), message.id));
            }
            Ok(())
        }
        Err(e) if transient(&e) => {
            let next = crate::local::now_ms() + crate::local::backoff_ms(1);
            ctx.local()?.outbox_mark_failed(item.id, &e.to_string(), next)?;
            let depth = ctx.local()?.outbox_len()?;
            Err(Exit::queued(queued_sentence(ctx, depth)).into())
        }
        Err(e) => {
            // Refused for good (not open, too long, ...): the error says why,
            // and the text is still in the user's hands.
            ctx.local()?.outbox_remove_by_client_id(&client_id)?;
            Err(e)
        }
    }
}

#[derive(Serialize)]
struct ReadOutput<'a> {
    conversation: &'a Conversation,
    messages: &'a [Message],
    has_more: bool,
    markers: &'a [ReadMarker],
    #[serde(skip_serializing_if = "Option::is_none")]
    marked_read_up_to: Option<MessageId>,
}

/// The delivery tick for one of my messages, from the peer's markers.
pub fn tick(id: MessageId, peer: Option<&ReadMarker>) -> (&'static str, anstyle::Style) {
    match peer {
        Some(p) if p.read_up_to >= id => ("✓✓ read", CYAN),
        Some(p) if p.delivered_up_to >= id => ("✓✓", DIM),
        _ => ("✓", DIM),
    }
}

pub async fn read(ctx: &mut Ctx, a: ReadArgs) -> anyhow::Result<()> {
    if !(1..=mchat_shared::limits::PAGE_MAX).contains(&a.limit) {
        return Err(
            Exit::rejected(format!("--limit must be 1 to {}", mchat_shared::limits::PAGE_MAX)).into(),
        );
    }
    let client = ctx.client()?;
    outbox::flush_quietly(ctx, &client).await;
    let conv = find(&client, &a.target).await?;
    let page = client
        .messages(
            conv.id,
            &MessagesQuery {
                before: a.before.map(MessageId),
                after: None,
                limit: Some(a.limit),
            },
        )
        .await?;
    let newest = page.messages.last().map(|m| m.id);
    let mut conv = conv;
    let mut marked = None;
    if let Some(up_to) = newest {
        let moved = if a.no_mark {
            client.mark_delivered(conv.id, up_to).await?
        } else {
            marked = Some(up_to);
            client.mark_read(conv.id, up_to).await?
        };
        // Report the conversation as it is now, not as it was before marking.
        conv.unread = moved.unread;
        conv.my_markers = moved.markers;
    }
    if ctx.out.json {
        return ctx.out.json(&ReadOutput {
            conversation: &conv,
            messages: &page.messages,
            has_more: page.has_more,
            markers: &page.markers,
            marked_read_up_to: marked,
        });
    }
    print_thread(ctx, &conv, &page.messages, &page.markers, page.has_more);
    Ok(())
}

fn print_thread(
    ctx: &Ctx,
    conv: &Conversation,
    messages: &[Message],
    markers: &[ReadMarker],
    has_more: bool,
) {
    let me = conv.my_markers.username.as_str();
    let peer = markers.iter().find(|m| m.username != me);
    ctx.out.line(paint(
        DIM,
        format!(
            "── {} ({}) · {} · conversation {} ──",
            safe(&conv.peer.display_name),
            safe(&conv.peer.username),
            conv.status,
            conv.id
        ),
    ));
    if has_more {
        let oldest = messages.first().map(|m| m.id.0).unwrap_or(0);
        ctx.out.line(paint(
            DIM,
            format!(
                "   older messages: mchat read {} --before {oldest}",
                safe(&conv.peer.username)
            ),
        ));
    }
    for m in messages {
        let when = clock(m.created_at);
        if m.kind == MessageKind::System {
            ctx.out.line(paint(DIM, format!("{when}  · {}", safe(&m.body))));
            continue;
        }
        let sender = m.sender.as_deref().unwrap_or("?");
        let mine = sender == me;
        let head = format!(
            "{}  {}  {}",
            paint(DIM, &when),
            paint(if mine { GREEN } else { BOLD }, safe(sender)),
            paint(DIM, format!("#{}", m.id))
        );
        let status = if mine {
            let (t, style) = tick(m.id, peer);
            format!("  {}", paint(style, t))
        } else {
            String::new()
        };
        ctx.out.line(format!("{head}{status}"));
        if let Some(parent) = m.reply_to {
            let quote = messages
                .iter()
                .find(|p| p.id == parent)
                .map(|p| {
                    format!(
                        "{}: {}",
                        safe(p.sender.as_deref().unwrap_or("?")),
                        truncate(&safe(&p.body), 50)
                    )
                })
                .unwrap_or_else(|| format!("#{parent}"));
            ctx.out.line(paint(DIM, format!("    ↳ {quote}")));
        }
        if m.deleted_at.is_some() {
            ctx.out.line(paint(DIM, "    (message deleted)"));
            continue;
        }
        for line in safe_text(&m.body).lines() {
            ctx.out.line(format!("    {line}"));
        }
        if m.edited_at.is_some() {
            ctx.out.line(paint(DIM, "    (edited)"));
        }
    }
}
