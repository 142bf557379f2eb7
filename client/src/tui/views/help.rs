//! The `?` overlay: every command with its keys (as configured). When one
//! column does not fit the height (80×24), it uses two.

use super::text::truncate;
use crate::tui::app::App;
use crate::tui::keys::Command;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let n = Command::ALL.len();
    let columns = if (area.height as usize) < n + 2 { 2 } else { 1 };
    let rows = n.div_ceil(columns);
    let width = area.width.min(if columns == 2 { 120 } else { 76 });
    let height = area.height.min(rows as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Keys — any key closes ");
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (col, chunk) in Command::ALL.chunks(rows).enumerate() {
        let Some(area) = areas.get(col) else { break };
        let col_width = area.width as usize;
        let key_width = if columns == 2 { 14 } else { 24 };
        let lines: Vec<Line> = chunk
            .iter()
            .map(|c| {
                let keys = truncate(&app.keys.keys_of(*c).join(" "), key_width - 1);
                Line::from(vec![
                    Span::styled(format!("{keys:<key_width$}"), app.theme.accent()),
                    Span::raw(truncate(c.help(), col_width.saturating_sub(key_width + 1))),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), *area);
    }
}
