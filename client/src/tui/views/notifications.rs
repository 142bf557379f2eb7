//! Notifications, newest first; unread ones bold, announcements styled
//! apart. `m` marks all read.

use super::text::truncate;
use crate::cli::output::relative_from;
use crate::sanitize::line;
use crate::tui::app::App;
use mchat_shared::api::NotificationKind;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4) as usize;
    let mut items: Vec<ListItem> = app
        .notifications
        .iter()
        .map(|n| {
            let when = relative_from(n.created_at, app.now);
            let announcement = n.kind == NotificationKind::Announcement;
            let label = if announcement { "📣 announcement: " } else { "" };
            let body = truncate(
                &line(&n.body),
                w.saturating_sub(when.len() + 3 + super::text::width(label)),
            );
            let style = match (announcement, n.read_at.is_none()) {
                (true, true) => t.announcement(),
                (true, false) => t.announcement().patch(t.dim()),
                (false, true) => t.bold(),
                (false, false) => t.dim(),
            };
            ListItem::new(Line::from(vec![
                Span::styled(if n.read_at.is_none() { "• " } else { "  " }, t.badge()),
                Span::styled(label, style),
                Span::styled(body, style),
                Span::styled(format!("  {when}"), t.dim()),
            ]))
        })
        .collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled("no notifications", t.dim())));
    }
    let selected =
        (!app.notifications.is_empty()).then(|| app.notification_selected.min(app.notifications.len() - 1));
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Notifications — m mark all read · enter open "),
        )
        .highlight_style(t.selected());
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}
