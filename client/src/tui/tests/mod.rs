//! Render tests (ratatui `TestBackend`), update-logic tests and the
//! benchmark; the fixtures they share live here.

mod bench;
mod first_hour;
mod local_time;
mod render;
mod rich;
mod update;

use super::action::{Action, Effect};
use super::app::{App, Conn, Focus, View};
use super::keys::KeyMap;
use super::theme::Theme;
use super::views;
use crate::live::{ConnState, LiveError};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mchat_shared::Timestamp;
use mchat_shared::api::*;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{ServerFrame, Signal};
use mchat_shared::{ConversationId, MessageId, NotificationId, Seq};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

pub(super) fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(super) fn user(name: &str, role: Role) -> User {
    User {
        username: name.into(),
        display_name: name.to_uppercase(),
        role,
        availability: (role == Role::Mentor).then_some(Availability::Available),
        mentor_approved: None,
        profile: Profile {
            expertise: vec!["rust".into()],
            headline: Some("Staff engineer".into()),
            ..Default::default()
        },
        created_at: t0(),
        last_seen: None,
    }
}

pub(super) fn marker(name: &str, delivered: i64, read: i64) -> ReadMarker {
    ReadMarker {
        username: name.into(),
        delivered_up_to: MessageId(delivered),
        read_up_to: MessageId(read),
    }
}

pub(super) fn msg(id: i64, conv: i64, sender: &str, body: &str) -> Message {
    Message {
        id: MessageId(id),
        conversation_id: ConversationId(conv),
        sender: Some(sender.into()),
        kind: MessageKind::Text,
        body: body.into(),
        system: None,
        client_id: None,
        reply_to: None,
        created_at: t0(),
        edited_at: None,
        deleted_at: None,
        reply: None,
        reactions: Vec::new(),
        attachment: None,
    }
}

pub(super) fn conv(
    id: i64,
    peer: &str,
    display: &str,
    status: ConversationStatus,
    unread: u32,
    last: Option<Message>,
) -> Conversation {
    Conversation {
        id: ConversationId(id),
        peer: UserBrief {
            username: peer.into(),
            display_name: display.into(),
            role: Role::Mentee,
            availability: None,
            last_seen: None,
        },
        status,
        requested_by: peer.into(),
        created_at: t0(),
        last_activity_at: t0(),
        expires_at: None,
        awaiting_reply: last.as_ref().is_some_and(|m| m.sender.as_deref() == Some(peer)),
        last_message: last,
        unread,
        my_markers: marker("mona", 0, 0),
        peer_markers: marker(peer, 0, 0),
        muted: false,
        archived: false,
    }
}

pub(super) fn app() -> App {
    let mut app = App::new(
        user("mona", Role::Mentor),
        KeyMap::default(),
        Theme { color: false },
        true,
    );
    app.now = t0() + jiff::SignedDuration::from_mins(5);
    app.conn = Conn::Connected;
    let list = vec![
        conv(
            1,
            "ana",
            "Ana",
            ConversationStatus::Accepted,
            2,
            Some(msg(11, 1, "ana", "can we talk about rust?")),
        ),
        conv(
            2,
            "ben",
            "Ben 漢字",
            ConversationStatus::Pending,
            1,
            Some(msg(12, 2, "ben", "hello, I'd like mentoring 🎉")),
        ),
        conv(
            3,
            "chris",
            "Chris",
            ConversationStatus::Completed,
            0,
            Some(msg(5, 3, "mona", "good luck!")),
        ),
    ];
    app.update(Action::Conversations { list, cached: false });
    app
}

pub(super) fn render(app: &App, w: u16, h: u16) -> String {
    let mut term = match Terminal::new(TestBackend::new(w, h)) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };
    if let Err(e) = term.draw(|f| views::draw(f, app)) {
        panic!("draw: {e}");
    }
    let buf = term.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        let mut skip = 0;
        for x in 0..w {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            s.push_str(sym);
        }
        s.push('\n');
    }
    s
}

/// Everything the help overlay shows at `w`×`h`, scrolled through from
/// the top (it opens it if needed; it stays open).
pub(super) fn help_text(app: &mut App, w: u16, h: u16) -> String {
    app.size = ratatui::layout::Rect::new(0, 0, w, h);
    if !app.help {
        app.update(key('?'));
    }
    app.help_scroll = 0;
    let mut all = render(app, w, h);
    for _ in 0..crate::tui::views::help::line_count(app) {
        app.update(key('j'));
        all.push_str(&render(app, w, h));
    }
    all
}

pub(super) fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub(super) fn code(c: KeyCode) -> Action {
    Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(super) fn open_ana(app: &mut App) -> Vec<Effect> {
    let effects = crate::tui::input::open(app, ConversationId(1));
    let page = MessagePage {
        messages: vec![
            msg(10, 1, "mona", "hi ana"),
            msg(11, 1, "ana", "can we talk about rust?"),
        ],
        has_more: false,
        markers: vec![marker("ana", 10, 10), marker("mona", 11, 11)],
    };
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page,
        older: false,
    });
    effects
}

pub(super) fn ev(seq: i64, kind: EventKind) -> Action {
    Action::Frame(ServerFrame::Event(Box::new(Event {
        seq: Seq(seq),
        at: t0(),
        kind,
    })))
}
