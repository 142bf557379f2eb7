//! The open thread. Only the visible part is laid out: messages are wrapped
//! from the bottom (the newest not scrolled away) upwards until the area is
//! full, so a thread of 100,000 messages costs a screenful per frame. Each
//! message shows its reply quote, "(edited)" or the deleted tombstone, its
//! attachment and reactions; the bottom one is the selected message.
//! Consecutive messages of one sender (a few minutes apart, same day) sit
//! under one header, and a line marks each new day (local time).

use super::text::{person, truncate, width, wrap};
use crate::cli::output::clock_at;
use crate::local::OutboxItem;
use crate::sanitize::{line, text};
use crate::tui::app::{App, Focus, REFUSED};
use crate::tui::effects::human_size;
use mchat_shared::Timestamp;
use mchat_shared::api::{Attachment, Conversation, Message, MessageKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(c) = app.open_conversation() else { return };
    let focused = app.focus == Focus::Thread;
    let tail = format!(" ({}) · {} ", c.peer.role, c.status);
    let (name, handle) = person(
        &c.peer.display_name,
        &c.peer.username,
        (area.width as usize).saturating_sub(width(&tail) + 1),
    );
    let title = format!(" {name}{handle}{tail}");
    let block = Block::default()
        .borders(Borders::BOTTOM)
        .title(Span::styled(title, if focused { t.bold() } else { t.accent() }));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = visible_lines(app, c, inner.width as usize, inner.height as usize);
    f.render_widget(Paragraph::new(lines), inner);
}

/// The lines that fit in `height` rows, bottom-aligned. The bottom message
/// is the selected one (marked while the thread has the keyboard).
pub fn visible_lines<'a>(app: &App, c: &Conversation, width: usize, height: usize) -> Vec<Line<'a>> {
    let mut rev: Vec<Line<'a>> = Vec::new();
    let thread = app.threads.get(&c.id);
    let scroll = thread.map_or(0, |t| t.scroll);
    if scroll == 0 && !thread.is_some_and(|t| t.has_newer) {
        let queued: Vec<&OutboxItem> = app.queued_for(c.id).collect();
        for item in queued.iter().rev() {
            push_rev(&mut rev, queued_lines(app, item, width));
            if rev.len() >= height {
                break;
            }
        }
    }
    if let Some(th) = thread {
        let end = th.messages.len().saturating_sub(scroll);
        if scroll > 0 || th.has_newer {
            rev.insert(
                0,
                Line::styled(
                    if th.has_newer {
                        "↓ newer messages load when you scroll down"
                    } else {
                        "↓ newer below (G: newest)"
                    },
                    app.theme.dim(),
                ),
            );
        }
        let cursor = app.focus == Focus::Thread;
        for (i, m) in th.messages[..end].iter().enumerate().rev() {
            if rev.len() >= height {
                break;
            }
            let quoted = if m.reply.is_none() {
                m.reply_to.and_then(|r| {
                    th.messages[..i]
                        .binary_search_by(|x| x.id.cmp(&r))
                        .ok()
                        .map(|j| &th.messages[j])
                })
            } else {
                None
            };
            let selected = cursor && i + 1 == end;
            let prev = i.checked_sub(1).map(|j| &th.messages[j]);
            push_rev(&mut rev, message_lines(app, c, m, prev, quoted, selected, width));
        }
        if th.messages.is_empty() {
            rev.push(Line::styled("no messages loaded yet", app.theme.dim()));
        } else if end > 0 && rev.len() < height && th.has_more {
            rev.push(Line::styled(
                "↑ older messages load when you scroll up",
                app.theme.dim(),
            ));
        }
    }
    rev.truncate(height);
    rev.reverse();
    // A short thread scrolled up: the messages after the selected one fill
    // the room left below it (above the "newer below" line).
    if let Some(th) = thread.filter(|t| t.scroll > 0 && rev.len() < height) {
        let marker = rev.pop();
        let end = th.messages.len().saturating_sub(th.scroll);
        let mut shown_all = true;
        for (k, m) in th.messages[end..].iter().enumerate() {
            let prev = (end + k).checked_sub(1).map(|j| &th.messages[j]);
            let quoted = m
                .reply_to
                .filter(|_| m.reply.is_none())
                .and_then(|r| th.messages.binary_search_by(|x| x.id.cmp(&r)).ok())
                .map(|j| &th.messages[j]);
            let lines = message_lines(app, c, m, prev, quoted, false, width);
            if rev.len() + lines.len() + 1 > height {
                shown_all = false;
                break;
            }
            rev.extend(lines);
        }
        if let Some(marker) = marker.filter(|_| !shown_all || th.has_newer) {
            rev.push(marker);
        }
    }
    rev
}

fn push_rev<'a>(rev: &mut Vec<Line<'a>>, lines: Vec<Line<'a>>) {
    rev.extend(lines.into_iter().rev());
}

fn ticks(app: &App, c: &Conversation, m: &Message) -> Span<'static> {
    let t = &app.theme;
    if c.peer_markers.read_up_to >= m.id {
        Span::styled(" ✓✓ read", t.accent())
    } else if c.peer_markers.delivered_up_to >= m.id {
        Span::styled(" ✓✓ delivered", t.dim())
    } else {
        Span::styled(" ✓ sent", t.dim())
    }
}

/// "↳ ana: can we talk…" above a reply (the server's quote, else the
/// loaded parent).
fn quote_line<'a>(app: &App, m: &Message, quoted: Option<&Message>, width: usize) -> Option<Line<'a>> {
    let dim = app.theme.dim();
    let me = app.my_name();
    let name = |s: Option<&str>| match s {
        Some(s) if s == me => "you".to_string(),
        s => line(s.unwrap_or("?")).into_owned(),
    };
    let text = if let Some(q) = &m.reply {
        let who = name(q.sender.as_deref());
        if q.deleted {
            format!("↳ {who}: (message deleted)")
        } else {
            format!("↳ {who}: {}", line(&q.excerpt))
        }
    } else if let Some(q) = quoted {
        let who = name(q.sender.as_deref());
        if q.deleted_at.is_some() {
            format!("↳ {who}: (message deleted)")
        } else {
            format!("↳ {who}: {}", line(&q.body))
        }
    } else if m.reply_to.is_some() {
        "↳ (reply to an older message)".to_string()
    } else {
        return None;
    };
    Some(Line::styled(truncate(&text, width), dim))
}

/// The message the last search jump went to, and the words searched for.
fn search_terms(app: &App) -> Option<(mchat_shared::MessageId, Vec<Vec<char>>)> {
    let s = app.search.as_ref()?;
    let hit = s.hits.get(s.jumped?)?;
    let terms: Vec<Vec<char>> = s
        .query
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c == '"' || c == '*'))
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().flat_map(char::to_lowercase).collect())
        .collect();
    Some((hit.message.id, terms))
}

/// `s` in runs, the (case-blind) occurrences of `terms` in `hl`.
fn highlighted<'a>(
    s: &str,
    terms: &[Vec<char>],
    plain: ratatui::style::Style,
    hl: ratatui::style::Style,
) -> Vec<Span<'a>> {
    let chars: Vec<char> = s.chars().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut mark = vec![false; chars.len()];
    for term in terms.iter().filter(|t| !t.is_empty()) {
        for start in 0..lower.len() {
            if lower[start..].starts_with(term) {
                for m in &mut mark[start..start + term.len()] {
                    *m = true;
                }
            }
        }
    }
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_hl = false;
    for (c, h) in chars.into_iter().zip(mark) {
        if h != run_hl && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_hl { hl } else { plain },
            ));
        }
        run_hl = h;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hl { hl } else { plain }));
    }
    spans
}

/// "📎 report.pdf · 1.2 MiB · application/pdf".
fn attachment_line<'a>(app: &App, a: &Attachment, selected: bool, width: usize) -> Line<'a> {
    let t = &app.theme;
    let mut s = format!(
        "  📎 {} · {} · {}",
        line(&a.name),
        human_size(a.size),
        line(&a.content_type)
    );
    const HINT: &str = " · s save";
    if selected && super::text::width(&s) + HINT.len() <= width {
        s.push_str(HINT);
    }
    Line::styled(truncate(&s, width), t.accent())
}

/// "👍 2 · 🎉 1" (mine stand out); when selected, who reacted.
fn reaction_lines<'a>(app: &App, m: &Message, selected: bool, width: usize) -> Vec<Line<'a>> {
    let t = &app.theme;
    let me = app.my_name();
    let mut spans = vec![Span::raw("  ")];
    let mut used = 2;
    for (i, r) in m.reactions.iter().enumerate() {
        let item = format!("{}{} {}", if i > 0 { " · " } else { "" }, line(&r.emoji), r.count);
        let w = super::text::width(&item);
        if used + w > width {
            spans.push(Span::styled("…", t.dim()));
            break;
        }
        used += w;
        let mine = r.users.iter().any(|u| u == me);
        spans.push(Span::styled(item, if mine { t.accent() } else { t.plain() }));
    }
    let mut out = vec![Line::from(spans)];
    if selected {
        let who = m
            .reactions
            .iter()
            .map(|r| {
                let names: Vec<String> = r
                    .users
                    .iter()
                    .map(|u| {
                        if u == me {
                            "you".to_string()
                        } else {
                            line(u).into_owned()
                        }
                    })
                    .collect();
                format!("{} {}", line(&r.emoji), names.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" · ");
        for l in wrap(&who, width.saturating_sub(2)) {
            out.push(Line::styled(format!("  {l}"), t.dim()));
        }
    }
    out
}

/// How far apart two messages of one sender may be and still share a header.
const GROUP_GAP_SECS: i64 = 5 * 60;

/// The local calendar day of a time ("Tue 1 Dec", with the year when it is
/// not this year's), and a comparable key for it.
fn local_day(t: Timestamp, now: Timestamp) -> (String, i32, i16) {
    let (z, n) = (crate::when::to_local(t), crate::when::to_local(now));
    let fmt = if z.year() == n.year() {
        "%a %-d %b"
    } else {
        "%a %-d %b %Y"
    };
    (z.strftime(fmt).to_string(), i32::from(z.year()), z.day_of_year())
}

/// `m` continues `prev`'s group: same sender, same day, close in time, and
/// nothing in between that needs a header of its own.
fn continues(prev: &Message, m: &Message, same_day: bool) -> bool {
    same_day
        && prev.kind != MessageKind::System
        && m.kind != MessageKind::System
        && prev.sender.is_some()
        && prev.sender == m.sender
        && m.created_at.duration_since(prev.created_at).as_secs() <= GROUP_GAP_SECS
}

fn message_lines<'a>(
    app: &App,
    c: &Conversation,
    m: &Message,
    prev: Option<&Message>,
    quoted: Option<&Message>,
    selected: bool,
    width: usize,
) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = Vec::new();
    let (day, year, ordinal) = local_day(m.created_at, app.now);
    let same_day = prev.is_some_and(|p| {
        let (_, y, o) = local_day(p.created_at, app.now);
        (y, o) == (year, ordinal)
    });
    if prev.is_some() && !same_day {
        let label = format!(" {day} ");
        let side = width.saturating_sub(super::text::width(&label)) / 2;
        out.push(Line::styled(
            format!("{}{label}{}", "─".repeat(side), "─".repeat(side)),
            t.dim(),
        ));
    }
    let grouped = !selected && prev.is_some_and(|p| continues(p, m, same_day));
    if m.kind == MessageKind::System {
        let style = if selected {
            t.system().patch(t.selected())
        } else {
            t.system()
        };
        for l in wrap(
            &format!("· {} · {}", line(&m.body), clock_at(m.created_at, app.now)),
            width,
        ) {
            out.push(Line::styled(l, style));
        }
        return out;
    }
    let sender = m.sender.as_deref().unwrap_or("?");
    let mine = sender == app.my_name();
    let mut head = vec![
        Span::styled(
            if mine {
                "you".to_string()
            } else {
                line(sender).into_owned()
            },
            if selected {
                t.selected()
            } else if mine {
                t.me()
            } else {
                t.peer()
            },
        ),
        Span::styled(format!("  {}", clock_at(m.created_at, app.now)), t.dim()),
    ];
    if m.edited_at.is_some() && m.deleted_at.is_none() {
        head.push(Span::styled(" (edited)", t.dim()));
    }
    if mine {
        head.push(ticks(app, c, m));
    }
    if grouped {
        // Under the previous message's header: what the header would say of
        // it alone ("(edited)", my ticks) goes at the end of its first line.
        let mut rest = message_body_lines(app, m, quoted, selected, width);
        if let Some(first) = rest.first_mut() {
            if m.edited_at.is_some() && m.deleted_at.is_none() {
                first.spans.push(Span::styled(" (edited)", t.dim()));
            }
            if mine {
                first.spans.push(ticks(app, c, m));
            }
        }
        out.extend(rest);
        return out;
    }
    out.push(Line::from(head));
    out.extend(message_body_lines(app, m, quoted, selected, width));
    out
}

/// A message's lines below its header: quote, tombstone or attachment and
/// text, reactions.
fn message_body_lines<'a>(
    app: &App,
    m: &Message,
    quoted: Option<&Message>,
    selected: bool,
    width: usize,
) -> Vec<Line<'a>> {
    let t = &app.theme;
    let mut out = Vec::new();
    if let Some(q) = quote_line(app, m, quoted, width) {
        out.push(q);
    }
    if m.deleted_at.is_some() {
        out.push(Line::styled("  (message deleted)", t.dim().patch(t.system())));
        return out;
    }
    if let Some(a) = &m.attachment {
        out.push(attachment_line(app, a, selected, width));
    }
    let body = if m.kind == MessageKind::File && m.attachment.is_none() {
        format!("📎 {}", m.body)
    } else {
        m.body.clone()
    };
    if !body.is_empty() || m.attachment.is_none() {
        // The message a search jumped to shows the words that matched.
        let terms = search_terms(app).filter(|(id, _)| *id == m.id).map(|(_, t)| t);
        for l in wrap(&text(&body), width.saturating_sub(2)) {
            match &terms {
                Some(terms) => {
                    let mut spans = vec![Span::raw("  ")];
                    spans.extend(highlighted(&l, terms, t.plain(), t.highlight()));
                    out.push(Line::from(spans));
                }
                None => out.push(Line::raw(format!("  {l}"))),
            }
        }
    }
    if !m.reactions.is_empty() {
        out.extend(reaction_lines(app, m, selected, width));
    }
    out
}

fn queued_lines<'a>(app: &App, item: &OutboxItem, width: usize) -> Vec<Line<'a>> {
    let t = &app.theme;
    if item.next_attempt_at == REFUSED {
        // The keys on the header, where they always fit; the reason, which
        // may be long, wrapped below it.
        let mut out = vec![Line::from(vec![
            Span::styled("you", t.me()),
            Span::styled(" ✗ failed · R retry · D drop", t.error()),
        ])];
        let why = format!(
            "not sent: {}",
            line(item.last_error.as_deref().unwrap_or("refused by the server"))
        );
        for l in wrap(&why, width.saturating_sub(2)) {
            out.push(Line::styled(format!("  {l}"), t.error()));
        }
        for l in wrap(&text(&item.body), width.saturating_sub(2)) {
            out.push(Line::raw(format!("  {l}")));
        }
        return out;
    }
    let state = if item.attempts > 0 {
        Span::styled(format!(" … sending (try {})", item.attempts + 1), t.warn())
    } else {
        Span::styled(" … sending", t.dim())
    };
    let mut out = vec![Line::from(vec![Span::styled("you", t.me()), state])];
    for l in wrap(&text(&item.body), width.saturating_sub(2)) {
        out.push(Line::raw(format!("  {l}")));
    }
    out
}

/// "ana is typing…" under the thread.
pub fn draw_typing(f: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(id) = app.open else { return };
    if let Some((who, _)) = app.typing.get(&id) {
        let s = format!("{} is typing…", line(who));
        f.render_widget(Paragraph::new(Line::styled(s, app.theme.dim())), area);
    }
}
