//! The header: who I am, my availability, total unread, connection state.

use crate::sanitize::line;
use crate::tui::app::{App, Conn, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(format!(" {} ", line(&app.me.display_name)), t.bold()),
        Span::styled(format!("@{}", line(&app.me.username)), t.dim()),
    ];
    if let Some(a) = app.availability() {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            a.as_str(),
            match a {
                mchat_shared::api::Availability::Available => t.ok(),
                mchat_shared::api::Availability::Away => t.warn(),
                mchat_shared::api::Availability::Busy => t.error(),
            },
        ));
    }
    let unread = app.total_unread();
    spans.push(Span::raw(" · "));
    spans.push(if unread > 0 {
        Span::styled(format!("{unread} unread"), t.badge())
    } else {
        Span::styled("0 unread", t.dim())
    });
    let notes = app.notifications.iter().filter(|n| n.read_at.is_none()).count();
    if notes > 0 {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{notes} notification{}", if notes == 1 { "" } else { "s" }),
            t.warn(),
        ));
    }
    let queued = app.outbox.len();
    let (dot, label, style) = match app.conn {
        Conn::Connected => ("●", "connected".to_string(), t.ok()),
        Conn::Connecting => ("◌", "connecting".to_string(), t.warn()),
        Conn::Reconnecting => ("◌", "reconnecting".to_string(), t.warn()),
        Conn::Offline => ("○", "offline".to_string(), t.error()),
    };
    spans.push(Span::raw(" · "));
    spans.push(Span::styled(format!("{dot} {label}"), style));
    if queued > 0 {
        spans.push(Span::styled(format!(" — {queued} queued"), t.warn()));
    }
    let view = match app.view {
        View::Chats => "Chats",
        View::Requests => "Requests",
        View::Mentors => "Mentors",
        View::Notifications => "Notifications",
        View::Scheduled => "Scheduled",
        View::Search => "Search",
    };
    let requests = app.incoming_requests().len();
    spans.push(Span::raw(" · "));
    spans.push(Span::styled(view, t.accent()));
    if requests > 0 && app.view != View::Requests {
        spans.push(Span::styled(
            format!(" ({requests} request{})", if requests == 1 { "" } else { "s" }),
            t.warn(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
