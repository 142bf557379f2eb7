//! The multi-line composer (ratatui-textarea): Enter sends, Alt-Enter inserts
//! a newline; the title says when it replies to or edits a message. A line
//! longer than the pane wraps onto the next rows (the textarea is left in its
//! default no-wrap mode, which scrolls sideways), the pane grows up to
//! [`MAX_ROWS`] rows, and beyond that it follows the cursor.

use crate::tui::app::{App, Focus};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthChar;

/// The most text rows the composer takes (it scrolls past that).
pub const MAX_ROWS: usize = 5;

/// The composer's text wrapped at `width` columns, and where the cursor is
/// in it (visual row, column). A row break falls before the character that
/// would not fit; a cursor at the end of a full row goes to the next one.
fn wrapped(lines: &[String], width: usize, cursor: (usize, usize)) -> (Vec<String>, (usize, usize)) {
    let width = width.max(2);
    let mut rows = Vec::new();
    let mut at = (0, 0);
    for (li, l) in lines.iter().enumerate() {
        let mut row = String::new();
        let mut used = 0;
        for (ci, ch) in l.chars().enumerate() {
            let w = ch.width().unwrap_or(0);
            if used + w > width.saturating_sub(1) {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            if (li, ci) == cursor {
                at = (rows.len(), used);
            }
            row.push(ch);
            used += w;
        }
        if li == cursor.0 && cursor.1 >= l.chars().count() {
            if used >= width.saturating_sub(1) {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            at = (rows.len(), used);
        }
        rows.push(row);
    }
    (rows, at)
}

/// The composer's cursor as (line, character).
fn cursor(app: &App) -> (usize, usize) {
    let c = app.composer.cursor();
    (c.0, c.1)
}

/// How many text rows the composer needs at `width` columns (1..=MAX_ROWS).
pub fn rows(app: &App, width: u16) -> usize {
    let lines = app.composer.lines();
    let (rows, _) = wrapped(lines, width as usize, cursor(app));
    rows.len().clamp(1, MAX_ROWS)
}

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
    let fits = app
        .composer
        .lines()
        .iter()
        .all(|l| super::text::width(l) < area.width as usize);
    if fits {
        f.render_widget(&composer, area);
        return;
    }
    // Wrapped: the rows around the cursor, the cursor drawn as the
    // textarea draws it (a reversed cell).
    let inner_height = area.height.saturating_sub(2) as usize;
    let (rows, (crow, ccol)) = wrapped(app.composer.lines(), area.width as usize, cursor(app));
    let first = (crow + 1).saturating_sub(inner_height.max(1));
    let mut lines: Vec<Line> = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(first).take(inner_height) {
        let text = crate::sanitize::line(r).into_owned();
        if i == crow && focused {
            let mut before = String::new();
            let mut cur = String::from(" ");
            let mut after = String::new();
            let mut used = 0;
            let mut placed = false;
            for ch in text.chars() {
                if !placed && used >= ccol {
                    cur = ch.to_string();
                    placed = true;
                    continue;
                }
                if placed {
                    after.push(ch);
                } else {
                    before.push(ch);
                    used += ch.width().unwrap_or(0);
                }
            }
            lines.push(Line::from(vec![
                Span::raw(before),
                Span::styled(
                    cur,
                    ratatui::style::Style::default().add_modifier(ratatui::style::Modifier::REVERSED),
                ),
                Span::raw(after),
            ]));
        } else {
            lines.push(Line::raw(text));
        }
    }
    let title_block = composer.block().cloned().unwrap_or_default();
    f.render_widget(Paragraph::new(lines).block(title_block), area);
}

#[cfg(test)]
mod tests {
    use super::wrapped;

    #[test]
    fn long_lines_wrap_and_the_cursor_follows() {
        let lines = vec!["abcdefgh".to_string(), "xy".to_string()];
        // 5 columns: 4 characters a row (one column is the cursor's).
        let (rows, at) = wrapped(&lines, 5, (0, 8));
        assert_eq!(rows, ["abcd", "efgh", "", "xy"]);
        assert_eq!(at, (2, 0), "after a full row the cursor starts the next");
        assert_eq!(wrapped(&lines, 5, (0, 5)).1, (1, 1));
        assert_eq!(
            wrapped(&lines, 5, (1, 2)),
            (vec!["abcd".into(), "efgh".into(), "xy".into()], (2, 2))
        );
        // Wide characters count two columns.
        let (rows, _) = wrapped(&["漢字漢字".to_string()], 5, (0, 0));
        assert_eq!(rows, ["漢字", "漢字"]);
    }
}
