//! The mentor directory: availability and expertise filters, Enter starts a
//! request with an intro (or opens the existing conversation).

use super::text::{person, truncate, width};
use crate::sanitize::line;
use crate::tui::app::App;
use mchat_shared::api::Availability;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4) as usize;
    let mut items: Vec<ListItem> = app
        .mentors
        .iter()
        .map(|m| {
            let (label, style) = match m.availability {
                Some(Availability::Available) => ("available", t.ok()),
                Some(Availability::Away) => ("away", t.warn()),
                Some(Availability::Busy) => ("busy", t.error()),
                None => ("", t.dim()),
            };
            let tags = m
                .profile
                .expertise
                .iter()
                .map(|e| line(e).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            let headline = m
                .profile
                .headline
                .as_deref()
                .map(|h| line(h).into_owned())
                .unwrap_or_default();
            let (name, handle) = person(&m.display_name, &m.username, w.saturating_sub(width(label) + 1));
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(name, t.bold()),
                    Span::styled(format!("{handle} "), t.dim()),
                    Span::styled(label, style),
                ]),
                Line::styled(
                    format!("  {}", truncate(&headline, w.saturating_sub(2))),
                    t.plain(),
                ),
                Line::styled(format!("  {}", truncate(&tags, w.saturating_sub(2))), t.accent()),
            ])
        })
        .collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            "no mentors match (or still loading)",
            t.dim(),
        )));
    }
    let filter = format!(
        " Mentors{}{} — v available only · f expertise · enter request ",
        if app.mentors_available_only {
            " · available"
        } else {
            ""
        },
        app.mentors_expertise
            .as_deref()
            .map(|e| format!(" · #{}", line(e)))
            .unwrap_or_default()
    );
    let selected = (!app.mentors.is_empty()).then(|| app.mentor_selected.min(app.mentors.len() - 1));
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title(filter))
        .highlight_style(t.selected());
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}
