//! Scheduled (`5`): my pending scheduled messages and reminders, soonest
//! first, live via `scheduled_updated`. `x` cancels the selected one.

use super::text::{truncate, width};
use crate::sanitize::line;
use crate::tui::app::App;
use mchat_shared::Timestamp;
use mchat_shared::api::{ScheduledItem, ScheduledKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

/// When it is due, as `mchat scheduled` says it: local time and "in 36s"
/// (one formatter for both, `when::describe`).
pub fn due_in(due: Timestamp, now: Timestamp) -> String {
    crate::when::describe(&crate::when::to_local(due), &crate::when::to_local(now))
}

fn item<'a>(app: &App, i: &ScheduledItem, w: usize) -> ListItem<'a> {
    let t = &app.theme;
    let what = match (i.kind, &i.peer) {
        (ScheduledKind::Reminder, _) => "⏰ reminder".to_string(),
        (ScheduledKind::Message, Some(p)) => format!("✉ to {}", line(p)),
        (ScheduledKind::Message, None) => "✉ message".to_string(),
    };
    let due = format!(" · {}", due_in(i.due_at, app.now));
    let body_room = w.saturating_sub(2);
    let head_room = w.saturating_sub(width(&due));
    ListItem::new(vec![
        Line::from(vec![
            Span::styled(truncate(&what, head_room), t.bold()),
            Span::styled(due, t.accent()),
        ]),
        Line::styled(format!("  {}", truncate(&line(&i.body), body_room)), t.plain()),
    ])
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4) as usize;
    let mut items: Vec<ListItem> = app.scheduled.iter().map(|i| item(app, i, w)).collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            "nothing scheduled ('mchat send --at' or 'mchat remind' adds one)",
            t.dim(),
        )));
    }
    let selected = (!app.scheduled.is_empty()).then(|| app.scheduled_selected.min(app.scheduled.len() - 1));
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Scheduled — x cancel · enter open the chat "),
        )
        .highlight_style(t.selected());
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}
