//! The multi-line composer (tui-textarea): Enter sends, Alt-Enter inserts a
//! newline; the title says when it replies to or edits a message.

use crate::tui::app::{App, Focus};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let focused = app.focus == Focus::Composer;
    let mut composer = app.composer.clone();
    let title = match app.open_conversation() {
        Some(c) if c.status != mchat_shared::api::ConversationStatus::Accepted => {
            format!(" {} — cannot write here ", c.status)
        }
        Some(_) if app.editing.is_some() => " editing your message — enter saves, esc cancels ".to_string(),
        Some(c) => match app.reply_to.and_then(|r| {
            let t = app.threads.get(&c.id)?;
            let i = t.messages.binary_search_by(|m| m.id.cmp(&r)).ok()?;
            t.messages.get(i)
        }) {
            Some(m) => format!(
                " replying to {}: {} — esc cancels ",
                crate::sanitize::line(m.sender.as_deref().unwrap_or("?")),
                super::text::truncate(&crate::sanitize::line(&m.body), 30)
            ),
            None => " message — ctrl-t template ".to_string(),
        },
        None => " message ".to_string(),
    };
    composer.set_block(
        Block::default()
            .borders(Borders::TOP | Borders::BOTTOM)
            .title(Span::styled(title, if focused { t.bold() } else { t.dim() })),
    );
    if !focused {
        composer.set_cursor_style(ratatui::style::Style::default());
    }
    f.render_widget(&composer, area);
}
