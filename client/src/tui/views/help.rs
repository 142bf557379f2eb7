//! The `?` overlay: every command with its keys (as configured), one row
//! each, descriptions wrapped rather than cut. When the rows do not fit,
//! it scrolls (Up/Down, j/k, PageUp/PageDown) and the title says where
//! you are; any other key closes it.

use super::text::{truncate, width};
use crate::tui::app::App;
use crate::tui::keys::Command;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The widest the overlay gets: wider only makes rows hard to follow.
const MAX_WIDTH: u16 = 100;

/// How wide the keys column is for a given inner width.
fn key_width(inner: usize) -> usize {
    (inner / 3).clamp(8, 24)
}

/// The overlay's lines for an inner width: keys, then the description
/// wrapped into the rest (continuation lines indented under it).
fn lines(app: &App, inner: usize) -> Vec<Line<'static>> {
    let kw = key_width(inner);
    let room = inner.saturating_sub(kw).max(8);
    let mut out = Vec::new();
    for c in Command::ALL {
        let keys = truncate(&app.keys.keys_of(*c).join(" "), kw.saturating_sub(1));
        let mut first = true;
        for part in wrap(c.help(), room) {
            let head = if first {
                format!("{keys:<kw$}")
            } else {
                " ".repeat(kw)
            };
            first = false;
            out.push(Line::from(vec![
                Span::styled(head, app.theme.accent()),
                Span::raw(part),
            ]));
        }
    }
    out
}

/// Words into lines of at most `room` columns (a longer word is cut).
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let extra = if line.is_empty() { 0 } else { 1 };
        if !line.is_empty() && width(&line) + extra + width(word) > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&truncate(word, room));
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn popup(area: Rect) -> Rect {
    let width = area.width.min(MAX_WIDTH);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y,
        width,
        height: area.height,
    }
}

/// How many lines the overlay has at the terminal's current size (the
/// update logic bounds scrolling with it; the last size drawn is used).
pub fn line_count(app: &App) -> usize {
    let inner = popup(app.size).width.saturating_sub(2) as usize;
    lines(app, inner).len()
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let popup = popup(area);
    let inner_width = popup.width.saturating_sub(2) as usize;
    let all = lines(app, inner_width);
    let visible = popup.height.saturating_sub(2) as usize;
    let height = (all.len().min(visible) + 2) as u16;
    let popup = Rect {
        y: area.y + (area.height - height.min(area.height)) / 2,
        height: height.min(area.height),
        ..popup
    };
    let first = usize::from(app.help_scroll).min(all.len().saturating_sub(visible.max(1)));
    let title = if all.len() > visible {
        format!(
            " Keys {}–{} of {} — ↑↓ scroll · any other key closes ",
            first + 1,
            (first + visible).min(all.len()),
            all.len()
        )
    } else {
        " Keys — any key closes ".to_string()
    };
    f.render_widget(Clear, popup);
    let block = Block::default().borders(Borders::ALL).title(title);
    let shown: Vec<Line> = all.into_iter().skip(first).take(visible).collect();
    f.render_widget(Paragraph::new(shown).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn words_wrap_within_the_room() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("", 7), [""]);
        assert_eq!(wrap("abcdefghij", 4).len(), 1);
    }
}
