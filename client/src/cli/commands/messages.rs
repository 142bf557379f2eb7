//! `mchat send` (through the outbox, so nothing typed is lost) and `mchat read`.

use super::super::context::Ctx;
use super::super::exit::Exit;
use super::super::output::{BOLD, CYAN, DIM, GREEN, clock, human_size, paint, safe, safe_text, truncate};
use super::conversations::find;
use super::outbox::{self, deliver, transient};
use clap::Args;
use mchat_shared::api::{Conversation, Message, MessageKind, MessagesQuery, ReadMarker};
use mchat_shared::{MessageId, validate};
use serde::Serialize;

#[derive(Args)]
pub struct SendArgs {
    /// Username of the peer, or a conversation id.
    #[arg(add = super::super::complete::peers())]
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
    #[arg(add = super::super::complete::peers())]
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
        for line in message_detail(m) {
            ctx.out.line(line);
        }
    }
}

/// The lines under a message's header in `mchat read`: the reply quote
/// ("↳ alice: excerpt"), the body or a "message deleted" tombstone,
/// "(edited)", the attachment, and reactions ("👍 2 alice, bob"). All
/// network text is sanitised.
pub fn message_detail(m: &Message) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(parent) = m.reply_to {
        let quote = match &m.reply {
            Some(q) if q.deleted => format!("#{parent} (message deleted)"),
            Some(q) => format!(
                "{}: {}",
                safe(q.sender.as_deref().unwrap_or("?")),
                truncate(&safe(&q.excerpt), 60)
            ),
            None => format!("#{parent}"),
        };
        lines.push(paint(DIM, format!("    ↳ {quote}")));
    }
    if m.deleted_at.is_some() {
        lines.push(paint(DIM, "    (message deleted)"));
        return lines;
    }
    for line in safe_text(&m.body).lines() {
        lines.push(format!("    {line}"));
    }
    if m.edited_at.is_some() {
        lines.push(paint(DIM, "    (edited)"));
    }
    if let Some(file) = &m.attachment {
        lines.push(format!(
            "    📎 {} ({}, {}) — {}",
            safe(&file.name),
            human_size(file.size),
            safe(&file.content_type),
            // `download` takes the message's id (it finds the file through it).
            paint(DIM, format!("mchat download {}", m.id))
        ));
    }
    if !m.reactions.is_empty() {
        let parts: Vec<String> = m
            .reactions
            .iter()
            .map(|r| {
                let users: Vec<_> = r.users.iter().map(|u| safe(u)).collect();
                format!("{} {} {}", safe(&r.emoji), r.count, paint(DIM, users.join(", ")))
            })
            .collect();
        lines.push(format!("    {}", parts.join("  ")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use mchat_shared::api::{Attachment, Reaction, ReplyQuote};
    use mchat_shared::{ConversationId, FileId};

    fn message(body: &str) -> Message {
        Message {
            id: MessageId(7),
            conversation_id: ConversationId(1),
            sender: Some("ana".into()),
            kind: MessageKind::Text,
            body: body.into(),
            system: None,
            client_id: None,
            reply_to: None,
            created_at: mchat_shared::Timestamp::UNIX_EPOCH,
            edited_at: None,
            deleted_at: None,
            reply: None,
            reactions: Vec::new(),
            attachment: None,
        }
    }

    fn plain(lines: &[String]) -> String {
        crate::cli::output::unstyled(&lines.join("\n"))
    }

    #[test]
    fn details_show_quotes_edits_files_and_reactions() {
        let mut m = message("sure\u{1b}[2J");
        m.reply_to = Some(MessageId(3));
        m.reply = Some(ReplyQuote {
            id: MessageId(3),
            sender: Some("mona\u{202e}".into()),
            excerpt: "can we talk?".into(),
            deleted: false,
        });
        m.edited_at = Some(mchat_shared::Timestamp::UNIX_EPOCH);
        m.attachment = Some(Attachment {
            id: FileId(4),
            name: "notes\u{7}.pdf".into(),
            size: 1536,
            content_type: "application/pdf".into(),
        });
        m.reactions = vec![Reaction {
            emoji: "👍".into(),
            count: 2,
            users: vec!["ana".into(), "bob".into()],
        }];
        let text = plain(&message_detail(&m));
        assert!(text.contains("↳ mona"), "{text}");
        assert!(text.contains(": can we talk?"), "{text}");
        assert!(text.contains("(edited)"), "{text}");
        assert!(text.contains("📎 notes"), "{text}");
        assert!(
            text.contains("(1.5 KiB, application/pdf) — mchat download 7"),
            "the message's id, which `download` takes, not the file's: {text}"
        );
        assert!(!text.contains("mchat download 4"), "{text}");
        assert!(text.contains("👍 2 ana, bob"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
    }

    #[test]
    fn tombstones_hide_everything_but_the_quote() {
        let mut m = message("");
        m.deleted_at = Some(mchat_shared::Timestamp::UNIX_EPOCH);
        m.reply_to = Some(MessageId(2));
        m.reply = Some(ReplyQuote {
            id: MessageId(2),
            sender: Some("mona".into()),
            excerpt: String::new(),
            deleted: true,
        });
        let text = plain(&message_detail(&m));
        assert_eq!(text, "    ↳ #2 (message deleted)\n    (message deleted)");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
