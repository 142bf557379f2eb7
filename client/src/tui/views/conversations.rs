//! The conversation list: peer name, role, presence dot, status, unread
//! badge, `↩` when awaiting my reply, last message preview, relative time.
//! Muted conversations are dimmed and marked; archived ones are hidden until
//! new activity (or `A`), and marked when shown.

use super::text::{person, truncate, width};
use crate::cli::output::relative_from;
use crate::sanitize::line;
use crate::tui::app::{App, Focus};
use mchat_shared::api::{Conversation, ConversationStatus, MessageKind};
use mchat_shared::realtime::PresenceState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let focused = app.focus == Focus::List;
    let block = Block::default().borders(Borders::RIGHT).title(Span::styled(
        " Conversations ",
        if focused { t.bold() } else { t.dim() },
    ));
    let inner_width = area.width.saturating_sub(2) as usize;
    // Only the rows that fit are built (each conversation takes two lines).
    let visible: Vec<usize> = (0..app.conversations.len())
        .filter(|&i| app.visible(&app.conversations[i]))
        .collect();
    let fit = (area.height.saturating_sub(1) as usize / 2).max(1);
    let pos = visible.iter().position(|&i| i == app.selected);
    let start = pos.map_or(0, |p| (p + 1).saturating_sub(fit));
    let mut items = Vec::new();
    for &i in visible.iter().skip(start).take(fit) {
        items.push(item(app, &app.conversations[i], inner_width));
    }
    let selected = pos.map(|p| p - start);
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            "no conversations yet (3: find a mentor)",
            t.dim(),
        )));
    }
    let list = List::new(items)
        .block(block)
        .highlight_style(if focused { t.selected() } else { t.bold() });
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}

/// The presence dot of a peer (live presence, else their availability).
pub fn presence_dot(app: &App, c: &Conversation) -> (&'static str, Style) {
    let t = &app.theme;
    match app.presence.get(&c.peer.username) {
        Some(PresenceState::Online) => ("●", t.ok()),
        Some(PresenceState::Away) => ("●", t.warn()),
        Some(PresenceState::Busy) => ("●", t.error()),
        Some(PresenceState::Offline) | None => ("○", t.dim()),
    }
}

fn status_label(app: &App, c: &Conversation) -> (&'static str, Style) {
    let t = &app.theme;
    match c.status {
        ConversationStatus::Pending if c.requested_by == app.my_name() => ("requested", t.dim()),
        ConversationStatus::Pending => ("request", t.warn()),
        ConversationStatus::Accepted => ("", t.plain()),
        ConversationStatus::Declined => ("declined", t.dim()),
        ConversationStatus::Completed => ("completed", t.dim()),
        ConversationStatus::Expired => ("expired", t.dim()),
    }
}

fn item<'a>(app: &App, c: &Conversation, w: usize) -> ListItem<'a> {
    let t = &app.theme;
    let (dot, dot_style) = presence_dot(app, c);
    let (status, status_style) = status_label(app, c);
    let when = relative_from(c.last_activity_at, app.now);
    let mut right = String::new();
    if c.awaiting_reply {
        right.push_str("↩ ");
    }
    let badge = if c.unread > 0 {
        format!("{} ", c.unread)
    } else {
        String::new()
    };
    let name_room = w.saturating_sub(2 + width(&badge) + width(&right) + width(&when) + 1);
    let (name, handle) = person(&c.peer.display_name, &c.peer.username, name_room);
    let gap =
        w.saturating_sub(2 + width(&name) + width(&handle) + width(&badge) + width(&right) + width(&when));
    let name_style = if c.unread > 0 { t.bold() } else { t.plain() };
    let first = Line::from(vec![
        Span::styled(format!("{dot} "), dot_style),
        Span::styled(name, name_style),
        Span::styled(handle, t.dim()),
        Span::raw(" ".repeat(gap)),
        Span::styled(badge, t.badge()),
        Span::styled(right, t.accent()),
        Span::styled(when, t.dim()),
    ]);
    let preview = c
        .last_message
        .as_ref()
        .map(|m| {
            let who = match (&m.sender, m.kind) {
                (_, MessageKind::System) => String::new(),
                (Some(s), _) if s == app.my_name() => "you: ".into(),
                _ => String::new(),
            };
            let body = match &m.attachment {
                _ if m.deleted_at.is_some() => "(deleted)".to_string(),
                Some(a) if m.body.trim().is_empty() => format!("📎 {}", line(&a.name)),
                _ => line(&m.body).into_owned(),
            };
            format!("{who}{body}")
        })
        .unwrap_or_default();
    // A mentor's availability stands beside the role (a mentee sees whom to write now).
    let role = match (c.peer.role, c.peer.availability) {
        (mchat_shared::api::Role::Mentor, Some(a)) => format!("mentor, {}", a.as_str()),
        (r, _) => r.as_str().to_string(),
    };
    let role = role.as_str();
    let mut marks = String::new();
    if c.muted {
        marks.push_str("muted · ");
    }
    if c.archived {
        marks.push_str("archived · ");
    }
    let head = if status.is_empty() {
        format!("  {role} · ")
    } else {
        format!("  {role} · {status} · ")
    };
    let second = Line::from(vec![
        Span::styled(head, status_style),
        Span::styled(marks.clone(), t.warn()),
        Span::styled(
            truncate(
                &preview,
                w.saturating_sub(width(role) + width(status) + width(&marks) + 8),
            ),
            t.dim(),
        ),
    ]);
    let item = ListItem::new(vec![first, second]);
    if c.muted { item.style(t.dim()) } else { item }
}
