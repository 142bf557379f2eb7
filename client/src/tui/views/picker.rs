//! The popup pickers over the current view: reactions (`+`) and templates
//! (Ctrl-T in the composer).

use super::text::truncate;
use crate::sanitize::line;
use crate::tui::app::{App, Picker, QUICK_REACTIONS};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// A centred box of at most `w`×`h` inside `area`.
fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let width = area.width.min(w);
    let height = area.height.min(h);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    match &app.picker {
        Some(Picker::React { selected, custom, .. }) => {
            let rect = popup(area, 44, 5);
            f.render_widget(Clear, rect);
            let block = Block::default()
                .borders(Borders::ALL)
                .title(" React — enter toggles · esc ");
            let inner = block.inner(rect);
            f.render_widget(block, rect);
            let mut spans = Vec::new();
            for (i, e) in QUICK_REACTIONS.iter().enumerate() {
                let style = if i == *selected && custom.is_empty() {
                    t.selected()
                } else {
                    t.plain()
                };
                spans.push(Span::styled(format!("{} {e}", i + 1), style));
                spans.push(Span::raw(" "));
            }
            let typed = Line::from(vec![
                Span::styled("or type one: ", t.dim()),
                Span::raw(line(custom).into_owned()),
                Span::styled("▏", t.accent()),
            ]);
            f.render_widget(Paragraph::new(vec![Line::from(spans), typed]), inner);
        }
        Some(Picker::Template { templates, selected }) => {
            let rows = templates.len().min(12) as u16;
            let rect = popup(area, 60, rows + 2);
            f.render_widget(Clear, rect);
            let block = Block::default()
                .borders(Borders::ALL)
                .title(" Templates — enter inserts · esc ");
            let inner = block.inner(rect);
            f.render_widget(block, rect);
            let w = inner.width as usize;
            let fit = inner.height.max(1) as usize;
            let start = (selected + 1).saturating_sub(fit);
            let lines: Vec<Line> = templates
                .iter()
                .enumerate()
                .skip(start)
                .take(fit)
                .map(|(i, tpl)| {
                    let text = format!("{}  {}", line(&tpl.name), line(&tpl.body));
                    Line::styled(
                        truncate(&text, w),
                        if i == *selected { t.selected() } else { t.plain() },
                    )
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
        }
        None => {}
    }
}
