//! The open thread. Only the visible part is laid out: messages are wrapped
//! from the bottom (the newest not scrolled away) upwards until the area is
//! full, so a thread of 100,000 messages costs a screenful per frame.

use super::text::{truncate, wrap};
use crate::cli::output::clock;
use crate::local::OutboxItem;
use crate::sanitize::{line, text};
use crate::tui::app::{App, Focus, REFUSED};
use mchat_shared::api::{Conversation, Message, MessageKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(c) = app.open_conversation() else { return };
    let focused = app.focus == Focus::Thread;
    let title = format!(
        " {} ({}) · {} ",
        line(&c.peer.display_name),
        c.peer.role,
        c.status
    );
    let block = Block::default()
        .borders(Borders::BOTTOM)
        .title(Span::styled(title, if focused { t.bold() } else { t.accent() }));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = visible_lines(app, c, inner.width as usize, inner.height as usize);
    f.render_widget(Paragraph::new(lines), inner);
}

/// The lines that fit in `height` rows, bottom-aligned.
pub fn visible_lines<'a>(app: &App, c: &Conversation, width: usize, height: usize) -> Vec<Line<'a>> {
    let mut rev: Vec<Line<'a>> = Vec::new();
    let thread = app.threads.get(&c.id);
    let scroll = thread.map_or(0, |t| t.scroll);
    if scroll == 0 {
        let queued: Vec<&OutboxItem> = app.queued_for(c.id).collect();
        for item in queued.iter().rev() {
            push_rev(&mut rev, queued_lines(app, item, width));
            if rev.len() >= height {
                break;
            }
        }
    }
    if let Some(th) = thread {
        let end = th.messages.len().saturating_sub(scroll);
        for (i, m) in th.messages[..end].iter().enumerate().rev() {
            if rev.len() >= height {
                break;
            }
            let quoted = m.reply_to.and_then(|r| {
                th.messages[..i]
                    .binary_search_by(|x| x.id.cmp(&r))
                    .ok()
                    .map(|j| &th.messages[j])
            });
            push_rev(&mut rev, message_lines(app, c, m, quoted, width));
        }
        if th.messages.is_empty() {
            rev.push(Line::styled("no messages loaded yet", app.theme.dim()));
        } else if end > 0 && rev.len() < height && th.has_more {
            rev.push(Line::styled(
                "↑ older messages load when you scroll up",
                app.theme.dim(),
            ));
        }
    }
    rev.truncate(height);
    rev.reverse();
    rev
}

fn push_rev<'a>(rev: &mut Vec<Line<'a>>, lines: Vec<Line<'a>>) {
    rev.extend(lines.into_iter().rev());
}

fn ticks(app: &App, c: &Conversation, m: &Message) -> Span<'static> {
    let t = &app.theme;
    if c.peer_markers.read_up_to >= m.id {
        Span::styled(" ✓✓ read", t.accent())
    } else if c.peer_markers.delivered_up_to >= m.id {
        Span::styled(" ✓✓ delivered", t.dim())
    } else {
        Span::styled(" ✓ sent", t.dim())
    }
}

fn message_lines<'a>(
    app: &App,
    c: &Conversation,
    m: &Message,
    quoted: Option<&Message>,
    width: usize,
) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = Vec::new();
    if m.kind == MessageKind::System {
        for l in wrap(&format!("· {} · {}", line(&m.body), clock(m.created_at)), width) {
            out.push(Line::styled(l, t.system()));
        }
        return out;
    }
    let sender = m.sender.as_deref().unwrap_or("?");
    let mine = sender == app.my_name();
    let matched = app
        .search
        .as_ref()
        .is_some_and(|s| m.body.to_lowercase().contains(&s.to_lowercase()));
    let mut head = vec![
        Span::styled(
            if mine {
                "you".to_string()
            } else {
                line(sender).into_owned()
            },
            if matched {
                t.highlight()
            } else if mine {
                t.me()
            } else {
                t.peer()
            },
        ),
        Span::styled(format!("  {}", clock(m.created_at)), t.dim()),
    ];
    if m.edited_at.is_some() && m.deleted_at.is_none() {
        head.push(Span::styled(" (edited)", t.dim()));
    }
    if mine {
        head.push(ticks(app, c, m));
    }
    out.push(Line::from(head));
    if let Some(q) = quoted {
        let who = q.sender.as_deref().unwrap_or("?");
        let preview = format!("│ {}: {}", line(who), line(&q.body));
        out.push(Line::styled(truncate(&preview, width), t.dim()));
    } else if m.reply_to.is_some() {
        out.push(Line::styled("│ (reply to an older message)", t.dim()));
    }
    if m.deleted_at.is_some() {
        out.push(Line::styled("  (message deleted)", t.dim()));
    } else {
        let body = if m.kind == MessageKind::File {
            format!("📎 {}", m.body)
        } else {
            m.body.clone()
        };
        for l in wrap(&text(&body), width.saturating_sub(2)) {
            out.push(Line::raw(format!("  {l}")));
        }
    }
    out
}

fn queued_lines<'a>(app: &App, item: &OutboxItem, width: usize) -> Vec<Line<'a>> {
    let t = &app.theme;
    let state = if item.next_attempt_at == REFUSED {
        Span::styled(
            format!(
                " ✗ failed: {} (R retry, D drop)",
                line(item.last_error.as_deref().unwrap_or("refused"))
            ),
            t.error(),
        )
    } else if item.attempts > 0 {
        Span::styled(format!(" … sending (try {})", item.attempts + 1), t.warn())
    } else {
        Span::styled(" … sending", t.dim())
    };
    let mut out = vec![Line::from(vec![Span::styled("you", t.me()), state])];
    for l in wrap(&text(&item.body), width.saturating_sub(2)) {
        out.push(Line::raw(format!("  {l}")));
    }
    out
}

/// "ana is typing…" under the thread.
pub fn draw_typing(f: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(id) = app.open else { return };
    if let Some((who, _)) = app.typing.get(&id) {
        let s = format!("{} is typing…", line(who));
        f.render_widget(Paragraph::new(Line::styled(s, app.theme.dim())), area);
    }
}
