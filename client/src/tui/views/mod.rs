//! Widgets that only draw from `&App`. [`draw`] lays out the frame: header,
//! the current view, the status/prompt line, and the help overlay.

pub mod composer;
pub mod conversations;
pub mod header;
pub mod help;
pub mod mentors;
pub mod notifications;
pub mod picker;
pub mod requests;
pub mod scheduled;
pub mod search;
pub mod text;
pub mod thread;

use super::app::{App, Focus, View};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Below this width the conversation list is hidden while a thread is open.
pub const NARROW: u16 = 60;

pub fn draw(f: &mut Frame<'_>, app: &App) {
    let area = f.area();
    let [head, body, foot] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    header::draw(f, head, app);
    match app.view {
        View::Chats => chats(f, body, app),
        View::Requests => requests::draw(f, body, app),
        View::Mentors => mentors::draw(f, body, app),
        View::Notifications => notifications::draw(f, body, app),
        View::Scheduled => scheduled::draw(f, body, app),
        View::Search => search::draw(f, body, app),
    }
    footer(f, foot, app);
    if app.picker.is_some() {
        picker::draw(f, body, app);
    }
    if app.help {
        help::draw(f, area, app);
    }
}

fn chats(f: &mut Frame<'_>, area: Rect, app: &App) {
    let narrow = area.width < NARROW;
    // Narrow: one pane at a time. With the keyboard on the list (Esc, h,
    // Left from the thread) the list is what shows, so moving and Enter
    // are never blind.
    if app.open.is_none() || (narrow && app.focus == Focus::List) {
        conversations::draw(f, area, app);
        return;
    }
    let right = if narrow {
        area
    } else {
        let list_width = (area.width / 3).clamp(24, 40);
        let [left, right] =
            Layout::horizontal([Constraint::Length(list_width), Constraint::Min(1)]).areas(area);
        conversations::draw(f, left, app);
        right
    };
    let composer_height = composer::rows(app, right.width) as u16 + 2;
    let [thread_area, typing_area, composer_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(composer_height),
    ])
    .areas(right);
    thread::draw(f, thread_area, app);
    thread::draw_typing(f, typing_area, app);
    composer::draw(f, composer_area, app);
}

fn footer(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let line = if let Some(p) = &app.prompt {
        Line::from(vec![
            Span::styled(p.kind.label(), t.bold()),
            Span::raw(crate::sanitize::line(&p.input).into_owned()),
            Span::styled("▏", t.accent()),
        ])
    } else if let Some(s) = &app.status {
        Line::from(Span::styled(crate::sanitize::line(s).into_owned(), t.warn()))
    } else if let Some(n) = app.unread_announcement() {
        // The banner stays until the announcement is read (4, then m).
        let head = "📣 announcement: ";
        let tail = "  (4 notifications · m marks read)";
        let room = (area.width as usize).saturating_sub(text::width(head) + text::width(tail));
        Line::from(vec![
            Span::styled(head, t.announcement()),
            Span::styled(
                text::truncate(&crate::sanitize::line(&n.body), room),
                t.announcement(),
            ),
            Span::styled(tail, t.dim()),
        ])
    } else if app.view == View::Chats && app.focus == Focus::Composer {
        // In the composer `q` is text: the hints are the composer's keys.
        Line::from(Span::styled(
            "enter send · alt-enter new line · ctrl-t template · tab next pane · esc leave",
            t.dim(),
        ))
    } else {
        Line::from(Span::styled(
            "1 chats 2 requests 3 mentors 4 notifications 5 scheduled / search ? help q quit",
            t.dim(),
        ))
    };
    f.render_widget(Paragraph::new(line), area);
}
