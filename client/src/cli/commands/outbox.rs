//! The outbox: messages that could not reach the server wait in the local
//! store with their `client_id` and are sent, in order, by the next command
//! that reaches the server or by `mchat outbox flush`. The server answers a
//! repeated `client_id` with the original message, so a retry after a lost
//! response never makes a duplicate.

use super::super::context::Ctx;
use super::super::exit::Exit;
use super::super::output::{DIM, GREEN, Out, RED, paint, relative, safe, truncate};
use super::conversations::find;
use crate::api::{Client, ClientError};
use crate::local::{OutboxItem, backoff_ms, now_ms};
use clap::Subcommand;
use mchat_shared::api::{Message, SendMessageRequest};
use mchat_shared::{ConversationId, MessageId, Timestamp};
use serde::Serialize;

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// List queued messages (the default).
    List,
    /// Send everything queued now.
    Flush,
    /// Forget a queued message.
    Drop { id: i64 },
}

/// Sends one queued item (resolving its conversation if it was queued by name).
pub async fn deliver(client: &Client, item: &OutboxItem) -> anyhow::Result<(Message, bool)> {
    let conv = match item.conversation_id {
        Some(id) => ConversationId(id),
        None => find(client, &item.target).await?.id,
    };
    let req = SendMessageRequest {
        client_id: item.client_id.clone(),
        body: item.body.clone(),
        reply_to: item.reply_to.map(MessageId),
        file: None,
    };
    let sent = client.send(conv, &req).await?;
    Ok((sent.value, sent.created))
}

/// Is this failure worth retrying later (server unreachable or failing)?
pub fn transient(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ClientError>()
        .is_some_and(ClientError::is_transient)
}

#[derive(Debug, Default, Serialize)]
pub struct FlushReport {
    pub sent: Vec<Message>,
    pub failed: Vec<FailedItem>,
    /// The server could not be reached; the rest stays queued.
    pub unreachable: bool,
    /// Items still waiting to be sent (refused ones are not counted).
    pub remaining: u32,
}

#[derive(Debug, Serialize)]
pub struct FailedItem {
    pub id: i64,
    pub client_id: String,
    pub target: String,
    pub error: String,
}

/// Sends queued items oldest first. `all`: every item now; otherwise only
/// those whose retry time has come. Stops at the first "unreachable" so
/// order is kept; a permanently refused item is kept (nothing typed is
/// lost) but not retried automatically.
pub async fn flush(ctx: &mut Ctx, client: &Client, all: bool) -> anyhow::Result<FlushReport> {
    let items = if all {
        ctx.local()?.outbox_list()?
    } else {
        ctx.local()?.outbox_due(now_ms())?
    };
    flush_items(ctx, client, items).await
}

/// Queued messages waiting for a retry: all but the refused ones.
fn waiting(ctx: &mut Ctx) -> anyhow::Result<Vec<OutboxItem>> {
    let items = ctx.local()?.outbox_list()?;
    Ok(items.into_iter().filter(|i| !i.is_refused()).collect())
}

/// One outbox item as `mchat outbox --json` shows it: times in RFC 3339
/// like every other document, and a refused item says so instead of
/// carrying a retry time at the end of time.
#[derive(Debug, Serialize)]
pub struct OutboxEntry<'a> {
    pub id: i64,
    pub client_id: &'a str,
    pub target: &'a str,
    pub conversation_id: Option<i64>,
    pub body: &'a str,
    pub reply_to: Option<i64>,
    /// `waiting` (sent by the next command that reaches the server) or
    /// `refused` (kept for you; `mchat outbox drop ID` forgets it).
    pub status: &'static str,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<&'a str>,
    /// When it is retried next; `null` for refused items.
    pub next_attempt_at: Option<Timestamp>,
}

fn at_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl<'a> From<&'a OutboxItem> for OutboxEntry<'a> {
    fn from(i: &'a OutboxItem) -> Self {
        OutboxEntry {
            id: i.id,
            client_id: &i.client_id,
            target: &i.target,
            conversation_id: i.conversation_id,
            body: &i.body,
            reply_to: i.reply_to,
            status: if i.is_refused() { "refused" } else { "waiting" },
            created_at: at_ms(i.created_at),
            attempts: i.attempts,
            last_error: i.last_error.as_deref(),
            next_attempt_at: (!i.is_refused()).then(|| at_ms(i.next_attempt_at)),
        }
    }
}

/// "1 try", "3 tries".
fn tries(n: u32) -> String {
    if n == 1 {
        "1 try".into()
    } else {
        format!("{n} tries")
    }
}

/// Before `send`: every message waiting for a retry goes first, whatever its
/// backoff (sending is a network attempt anyway, and order must be kept).
/// Refused messages hold nothing back. Returns how many still wait, i.e.
/// whether the new message has to queue behind them.
pub async fn flush_before_send(ctx: &mut Ctx, client: &Client) -> anyhow::Result<usize> {
    flush_waiting(ctx, client).await?;
    Ok(waiting(ctx)?.len())
}

/// Sends every message waiting for a retry now, whatever its backoff, and
/// says what happened on stderr. For moments when the server is known to be
/// reachable: before `send`, and when `watch`'s live connection (re)connects.
/// Refused messages stay where they are. Fails only when the local store
/// cannot be read; a failed delivery is recorded on the item.
pub async fn flush_waiting(ctx: &mut Ctx, client: &Client) -> anyhow::Result<()> {
    let items = waiting(ctx)?;
    if items.is_empty() {
        return Ok(());
    }
    let out = ctx.out;
    match flush_items(ctx, client, items).await {
        Ok(r) => notes(out, &r),
        Err(e) if out.verbose => out.note(format!("outbox flush failed: {e:#}")),
        Err(_) => {}
    }
    Ok(())
}

async fn flush_items(ctx: &mut Ctx, client: &Client, items: Vec<OutboxItem>) -> anyhow::Result<FlushReport> {
    let mut report = FlushReport::default();
    for item in items {
        match deliver(client, &item).await {
            Ok((message, _)) => {
                ctx.local()?.outbox_remove_by_client_id(&item.client_id)?;
                report.sent.push(message);
            }
            Err(e) if transient(&e) => {
                let next = now_ms() + backoff_ms(item.attempts + 1);
                ctx.local()?.outbox_mark_failed(item.id, &e.to_string(), next)?;
                report.unreachable = true;
                break;
            }
            Err(e) => {
                let (_, sentence, _) = super::super::exit::describe(&e);
                ctx.local()?
                    .outbox_mark_failed(item.id, &sentence, crate::local::OUTBOX_REFUSED)?;
                report.failed.push(FailedItem {
                    id: item.id,
                    client_id: item.client_id.clone(),
                    target: item.target.clone(),
                    error: sentence,
                });
            }
        }
    }
    // Still queued = still to be sent; refused items are counted once, as refused.
    report.remaining = u32::try_from(waiting(ctx)?.len()).unwrap_or(u32::MAX);
    Ok(report)
}

/// Called by every command that talks to the server: sends what is due and
/// says so on stderr. Never fails the command it runs in.
pub async fn flush_quietly(ctx: &mut Ctx, client: &Client) {
    let queued = match ctx.local().and_then(|l| Ok(l.outbox_len()?)) {
        Ok(n) => n,
        Err(_) => return,
    };
    if queued == 0 {
        return;
    }
    let out = ctx.out;
    match flush(ctx, client, false).await {
        Ok(r) => notes(out, &r),
        Err(e) => {
            if out.verbose {
                out.note(format!("outbox flush failed: {e:#}"));
            }
        }
    }
}

/// What an automatic flush did, on stderr.
fn notes(out: Out, r: &FlushReport) {
    if !r.sent.is_empty() {
        out.note(format!("sent {} queued message(s) from the outbox", r.sent.len()));
    }
    for f in &r.failed {
        out.note(format!(
            "queued message {} to {} was refused: {} (see 'mchat outbox')",
            f.id,
            safe(&f.target),
            safe(&f.error)
        ));
    }
}

pub async fn run(ctx: &mut Ctx, cmd: Option<OutboxCommand>) -> anyhow::Result<()> {
    match cmd.unwrap_or(OutboxCommand::List) {
        OutboxCommand::List => {
            let items = ctx.local()?.outbox_list()?;
            let elsewhere = ctx.local()?.outbox_others()?;
            if ctx.out.json {
                let items: Vec<OutboxEntry<'_>> = items.iter().map(OutboxEntry::from).collect();
                return ctx
                    .out
                    .json(&serde_json::json!({ "items": items, "queued_elsewhere": elsewhere }));
            }
            if items.is_empty() {
                ctx.out.line("the outbox is empty");
            }
            if elsewhere > 0 {
                ctx.out.note(format!(
                    "{elsewhere} more message(s) wait for another server or account: they are sent \
                     only there (mchat --server URL outbox)"
                ));
            }
            for i in &items {
                let when = Timestamp::from_millisecond(i.created_at)
                    .map(relative)
                    .unwrap_or_default();
                let state = if i.is_refused() {
                    paint(RED, "refused")
                } else {
                    "waiting".to_string()
                };
                ctx.out.line(format!(
                    "{:>4}  {state}  to {}  {}  {}{}",
                    i.id,
                    safe(&i.target),
                    paint(DIM, when),
                    truncate(&safe(&i.body), 50),
                    i.last_error
                        .as_ref()
                        .map(|e| format!(
                            "  {}",
                            paint(RED, format!("({}: {})", tries(i.attempts), safe(e)))
                        ))
                        .unwrap_or_default()
                ));
            }
            Ok(())
        }
        OutboxCommand::Flush => {
            let client = ctx.client()?;
            let report = flush(ctx, &client, true).await?;
            if ctx.out.json {
                ctx.out.json(&report)?;
            } else {
                ctx.out.line(format!(
                    "{} sent {}, {} refused, {} still queued",
                    paint(GREEN, "✓"),
                    report.sent.len(),
                    report.failed.len(),
                    report.remaining
                ));
                for f in &report.failed {
                    ctx.out
                        .line(format!("  {} to {}: {}", f.id, safe(&f.target), safe(&f.error)));
                }
            }
            if report.unreachable {
                return Err(Exit::queued(format!(
                    "cannot reach the server at {}; {} message(s) stay queued",
                    ctx.server, report.remaining
                ))
                .into());
            }
            Ok(())
        }
        OutboxCommand::Drop { id } => {
            if !ctx.local()?.outbox_drop(id)? {
                return Err(Exit::not_found(format!("no queued message {id}")).into());
            }
            if ctx.out.json {
                return ctx.out.json(&serde_json::json!({ "dropped": id }));
            }
            ctx.out
                .line(format!("{} dropped queued message {id}", paint(GREEN, "✓")));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tries;

    #[test]
    fn tries_are_counted_in_english() {
        assert_eq!(tries(1), "1 try");
        assert_eq!(tries(0), "0 tries");
        assert_eq!(tries(3), "3 tries");
    }
}
