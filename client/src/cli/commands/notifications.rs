//! `mchat notifications [--unread] [--mark-read]`.

use super::super::context::Ctx;
use super::super::output::{BOLD, DIM, paint, relative, safe};

pub async fn list(ctx: &mut Ctx, unread: bool, mark_read: bool) -> anyhow::Result<()> {
    let client = ctx.client()?;
    super::outbox::flush_quietly(ctx, &client).await;
    let mut list = client.notifications(unread, None).await?;
    if mark_read && !list.notifications.is_empty() {
        let marked = client.mark_notifications_read(None).await?;
        list.unread_count = marked.unread_count;
    }
    if ctx.out.json {
        return ctx.out.json(&list);
    }
    if list.notifications.is_empty() {
        ctx.out.line(if unread {
            "no unread notifications"
        } else {
            "no notifications"
        });
        return Ok(());
    }
    for n in &list.notifications {
        let style = if n.read_at.is_none() {
            BOLD
        } else {
            anstyle::Style::new()
        };
        ctx.out.line(format!(
            "{} {}  {}",
            if n.read_at.is_none() { "•" } else { " " },
            paint(style, safe(&n.body)),
            paint(DIM, relative(n.created_at))
        ));
    }
    Ok(())
}
