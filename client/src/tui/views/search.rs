//! Search results (`/`): each hit's conversation, sender and time, and the
//! snippet with the matching words highlighted. Enter jumps to the message.

use super::text::{truncate, width};
use crate::cli::output::relative_from;
use crate::sanitize::line;
use crate::tui::app::App;
use mchat_shared::api::SearchHit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState};

/// The snippet cut into plain and highlighted runs (`highlights` are char
/// ranges of the raw snippet; each run is sanitised on its own), at most
/// `max` columns.
pub fn snippet_spans<'a>(app: &App, hit: &SearchHit, max: usize) -> Vec<Span<'a>> {
    let t = &app.theme;
    let chars: Vec<char> = hit.snippet.chars().collect();
    let mut ranges: Vec<(usize, usize)> = hit
        .highlights
        .iter()
        .map(|[a, b]| (*a as usize, (*b as usize).min(chars.len())))
        .filter(|(a, b)| a < b)
        .collect();
    ranges.sort_unstable();
    let mut runs: Vec<(String, bool)> = Vec::new();
    let mut at = 0;
    for (a, b) in ranges {
        let a = a.max(at);
        if a >= b {
            continue;
        }
        if at < a {
            runs.push((chars[at..a].iter().collect(), false));
        }
        runs.push((chars[a..b].iter().collect(), true));
        at = b;
    }
    if at < chars.len() {
        runs.push((chars[at..].iter().collect(), false));
    }
    let mut spans = Vec::new();
    let mut used = 0;
    for (run, hl) in runs {
        let safe = line(&run).into_owned();
        let w = width(&safe);
        let style = if hl { t.highlight() } else { t.plain() };
        if used + w > max {
            spans.push(Span::styled(truncate(&safe, max.saturating_sub(used)), style));
            break;
        }
        used += w;
        spans.push(Span::styled(safe, style));
    }
    spans
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4) as usize;
    let Some(s) = &app.search else { return };
    let mut items: Vec<ListItem> = s
        .hits
        .iter()
        .map(|hit| {
            let who = match hit.message.sender.as_deref() {
                Some(u) if u == app.my_name() => "you".to_string(),
                Some(u) => line(u).into_owned(),
                None => "system".to_string(),
            };
            let head = format!(
                "with {} · {} · {}",
                line(&hit.peer),
                who,
                relative_from(hit.message.created_at, app.now)
            );
            let mut snippet = vec![Span::raw("  ")];
            snippet.extend(snippet_spans(app, hit, w.saturating_sub(2)));
            ListItem::new(vec![
                Line::styled(truncate(&head, w), t.accent()),
                Line::from(snippet),
            ])
        })
        .collect();
    if items.is_empty() {
        items.push(ListItem::new(Line::styled(
            if s.loading {
                "searching…"
            } else {
                "no messages match"
            },
            t.dim(),
        )));
    }
    let title = format!(
        " Search \"{}\" — {}{} hit{} · enter jump (then n: next hit) · / again · esc back ",
        truncate(&line(&s.query), 30),
        if s.more { "the newest " } else { "" },
        s.hits.len(),
        if s.hits.len() == 1 { "" } else { "s" }
    );
    let selected = (!s.hits.is_empty()).then(|| s.selected.min(s.hits.len() - 1));
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(truncate(&title, w + 2));
    if s.more {
        // Always in sight, however far the list is scrolled.
        block = block.title_bottom(Line::styled(
            truncate(
                &format!(
                    " more messages match than the {} newest shown: add words to narrow it ",
                    s.hits.len()
                ),
                w + 2,
            ),
            t.dim(),
        ));
    }
    let list = List::new(items).block(block).highlight_style(t.bold());
    let mut state = ListState::default().with_selected(selected);
    f.render_stateful_widget(list, area, &mut state);
}
