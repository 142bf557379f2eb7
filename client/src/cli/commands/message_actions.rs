//! `mchat edit`, `mchat delete` and `mchat react`.

use super::super::context::Ctx;
use super::super::output::{GREEN, paint, safe};
use clap::Args;
use mchat_shared::api::Message;
use mchat_shared::{MessageId, validate};

#[derive(Args)]
pub struct EditArgs {
    /// The message id (shown by `mchat read`).
    pub id: i64,
    /// The new text; '-' (or nothing, with piped stdin) reads stdin.
    pub text: Vec<String>,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The message id.
    pub id: i64,
}

#[derive(Args)]
pub struct ReactArgs {
    /// The message id.
    pub id: i64,
    /// One emoji, e.g. 👍
    pub emoji: String,
    /// Take the reaction back.
    #[arg(long)]
    pub remove: bool,
}

/// One line for a change that worked, or the message as JSON.
fn report(ctx: &Ctx, message: &Message, what: String) -> anyhow::Result<()> {
    if ctx.out.json {
        return ctx.out.json(message);
    }
    if !ctx.out.quiet {
        ctx.out.line(format!("{} {what}", paint(GREEN, "✓")));
    }
    Ok(())
}

pub async fn edit(ctx: &mut Ctx, a: EditArgs) -> anyhow::Result<()> {
    let text = super::body_from(a.text, "new text")?;
    let body = validate::message_body(&text)?;
    let client = ctx.client()?;
    let message = client.edit_message(MessageId(a.id), &body).await?;
    report(ctx, &message, format!("edited #{}", message.id))
}

pub async fn delete(ctx: &mut Ctx, a: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let message = client.delete_message(MessageId(a.id)).await?;
    report(ctx, &message, format!("deleted #{}", message.id))
}

pub async fn react(ctx: &mut Ctx, a: ReactArgs) -> anyhow::Result<()> {
    let emoji = validate::reaction(&a.emoji)?;
    let client = ctx.client()?;
    let message = client.react(MessageId(a.id), &emoji, !a.remove).await?;
    let what = if a.remove {
        format!("took back {} on #{}", safe(&emoji), message.id)
    } else {
        format!("reacted {} to #{}", safe(&emoji), message.id)
    };
    report(ctx, &message, what)
}
