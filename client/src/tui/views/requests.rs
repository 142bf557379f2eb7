//! Requests: incoming pending requests (accept `a`, decline `x` with a
//! reason), then the ones I made that are still pending.

use super::text::{person, truncate, width};
use crate::cli::output::relative_from;
use crate::sanitize::line;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4) as usize;
    let incoming = app.incoming_requests();
    let mut items: Vec<ListItem> = incoming
        .iter()
        .map(|c| {
            let intro = c
                .last_message
                .as_ref()
                .map(|m| line(&m.body).into_owned())
                .unwrap_or_default();
            let tail = format!(" · {} · {}", c.peer.role, relative_from(c.created_at, app.now));
            let (name, handle) = person(
                &c.peer.display_name,
                &c.peer.username,
                w.saturating_sub(width(&tail)),
            );
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(name, t.bold()),
                    Span::styled(handle, t.dim()),
                    Span::styled(tail, t.dim()),
                ]),
                Line::raw(format!("  {}", truncate(&intro, w.saturating_sub(2)))),
            ])
        })
        .collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            "no requests waiting for you",
            t.dim(),
        )));
    }
    let outgoing = app.outgoing_requests();
    if !outgoing.is_empty() {
        items.push(ListItem::new(Line::styled("— asked by you, waiting —", t.dim())));
        for c in outgoing {
            let (name, handle) = person(&c.peer.display_name, &c.peer.username, w.saturating_sub(2));
            items.push(ListItem::new(Line::styled(format!("  {name}{handle}"), t.dim())));
        }
    }
    let selected = (!incoming.is_empty()).then(|| app.requests_selected.min(incoming.len() - 1));
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Requests — a accept · x decline · enter open "),
        )
        .highlight_style(t.selected());
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}
