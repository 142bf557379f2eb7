//! Render tests: every view into a `TestBackend`, at 80×24 and narrower,
//! with hostile strings and wide characters, with and without colour.

use super::*;

#[test]
fn chats_view_at_80x24() {
    let mut app = app();
    let screen = render(&app, 80, 24);
    assert!(screen.contains("MONA"), "{screen}");
    assert!(screen.contains("available"), "{screen}");
    assert!(screen.contains("3 unread"), "{screen}");
    assert!(screen.contains("● connected"), "{screen}");
    assert!(screen.contains("Ana"), "{screen}");
    assert!(screen.contains("Ben 漢字"), "{screen}");
    assert!(screen.contains("↩"), "{screen}");
    assert!(screen.contains("5m ago"), "{screen}");
    assert!(screen.contains("request"), "{screen}");
    assert!(screen.contains("🎉"), "{screen}");
    // Open ana: thread, ticks, composer.
    open_ana(&mut app);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("hi ana"), "{screen}");
    assert!(screen.contains("✓✓ read"), "{screen}");
    assert!(screen.contains("can we talk about rust?"), "{screen}");
    assert!(screen.contains("message"), "{screen}");
    assert_eq!(screen.lines().count(), 24);
}

#[test]
fn narrow_terminal_hides_the_list() {
    let mut app = app();
    open_ana(&mut app);
    let screen = render(&app, 50, 20);
    assert!(!screen.contains("Conversations"), "{screen}");
    assert!(screen.contains("hi ana"), "{screen}");
    let wide = render(&app, 100, 20);
    assert!(wide.contains("Conversations"), "{wide}");
}

#[test]
fn hostile_strings_never_reach_the_buffer() {
    for (i, bad) in crate::sanitize::HOSTILE.iter().enumerate() {
        let mut app = app();
        let mut c = conv(
            9,
            "eve",
            bad,
            ConversationStatus::Accepted,
            1,
            Some(msg(50, 9, "eve", bad)),
        );
        c.peer.display_name = format!("x{bad}");
        app.update(Action::Conversations {
            list: vec![c],
            cached: false,
        });
        crate::tui::input::open(&mut app, ConversationId(9));
        app.update(Action::Messages {
            conversation: ConversationId(9),
            page: MessagePage {
                messages: vec![msg(50, 9, "eve", bad)],
                has_more: false,
                markers: vec![],
            },
            older: false,
        });
        app.notifications = vec![Notification {
            id: NotificationId(1),
            kind: NotificationKind::MessageReceived,
            body: bad.to_string(),
            conversation_id: None,
            actor: None,
            created_at: t0(),
            read_at: None,
        }];
        for view in [View::Chats, View::Notifications, View::Requests] {
            app.view = view;
            let screen = render(&app, 80, 24);
            assert!(
                !screen
                    .chars()
                    .any(|ch| (ch.is_control() && ch != '\n') || ('\u{202a}'..='\u{202e}').contains(&ch)),
                "hostile #{i} leaked in {view:?}: {screen:?}"
            );
        }
    }
}

#[test]
fn other_views_render() {
    let mut app = app();
    app.view = View::Requests;
    let s = render(&app, 80, 24);
    assert!(s.contains("Ben 漢字") && s.contains("a accept"), "{s}");
    app.view = View::Mentors;
    app.mentors = vec![user("zed", Role::Mentor)];
    let s = render(&app, 80, 24);
    assert!(
        s.contains("ZED") && s.contains("rust") && s.contains("Staff engineer"),
        "{s}"
    );
    app.view = View::Notifications;
    app.notifications = vec![Notification {
        id: NotificationId(1),
        kind: NotificationKind::RequestReceived,
        body: "ben asked you for a conversation".into(),
        conversation_id: Some(ConversationId(2)),
        actor: Some("ben".into()),
        created_at: t0(),
        read_at: None,
    }];
    let s = render(&app, 80, 24);
    assert!(s.contains("ben asked you"), "{s}");
    let s = help_text(&mut app, 80, 24);
    // Every command is listed at 80×24 (by its first key), scrolling.
    for c in crate::tui::keys::Command::ALL {
        let first = app.keys.keys_of(*c).first().cloned().unwrap_or_default();
        assert!(s.contains(&first), "{c:?} ({first}) missing from help:\n{s}");
    }
    assert!(s.contains("quit") && s.contains("next unread chat"), "{s}");
}

#[test]
fn no_color_means_no_colours() {
    let mut app = app();
    open_ana(&mut app);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    let buf = term.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    app.theme = Theme { color: true };
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        term.backend()
            .buffer()
            .content
            .iter()
            .any(|c| c.fg != ratatui::style::Color::Reset)
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = app();
    open_ana(&mut app);
    app.mentors = vec![user("zed", Role::Mentor)];
    for (w, h) in [(1, 1), (10, 3), (30, 8), (59, 12), (200, 60)] {
        for view in [View::Chats, View::Requests, View::Mentors, View::Notifications] {
            app.view = view;
            for help in [false, true] {
                app.help = help;
                let s = render(&app, w, h);
                assert_eq!(s.lines().count(), h as usize);
            }
        }
    }
}

/// The vendored Big List of Naughty Strings (`testdata/blns/`) plus the
/// terminal-escape corpus.
pub(super) fn naughty_strings() -> Vec<String> {
    let blns: Vec<String> = serde_json::from_str(include_str!("../../../../testdata/blns/blns.json"))
        .unwrap_or_else(|e| panic!("blns.json: {e}"));
    assert!(blns.len() > 400);
    blns.into_iter()
        .chain(crate::sanitize::HOSTILE.iter().map(|s| (*s).to_string()))
        .collect()
}

/// No ESC, C1, bidi control, or other control character except newline in
/// any cell of the drawn buffer (the terminal receives these symbols).
pub(super) fn assert_buffer_safe(what: &str, app: &App, w: u16, h: u16) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, app))
        .unwrap_or_else(|e| panic!("draw {what}: {e}"));
    for cell in &term.backend().buffer().content {
        if let Some(c) = cell.symbol().chars().find(|&c| {
            c == '\u{1b}'
                || ('\u{80}'..='\u{9f}').contains(&c)
                || mchat_shared::validate::is_bidi_control(c)
                || (c.is_control() && c != '\n')
        }) {
            panic!(
                "{what}: raw U+{:04X} in a cell of the TUI: {}",
                c as u32,
                render(app, w, h)
            );
        }
    }
}

#[test]
fn naughty_strings_never_reach_the_buffer() {
    // Every string, whether or not the server would accept it: as a peer's
    // display name, a message body and last-message preview, a
    // notification, and a mentor's display name and headline and bio.
    for (i, bad) in naughty_strings().iter().enumerate() {
        let mut app = app();
        let mut c = conv(
            9,
            "eve",
            bad,
            ConversationStatus::Accepted,
            1,
            Some(msg(50, 9, "eve", bad)),
        );
        c.peer.display_name = bad.clone();
        app.update(Action::Conversations {
            list: vec![c],
            cached: false,
        });
        crate::tui::input::open(&mut app, ConversationId(9));
        app.update(Action::Messages {
            conversation: ConversationId(9),
            page: MessagePage {
                messages: vec![msg(50, 9, "eve", bad), msg(51, 9, "mona", bad)],
                has_more: false,
                markers: vec![],
            },
            older: false,
        });
        app.notifications = vec![Notification {
            id: NotificationId(1),
            kind: NotificationKind::MessageReceived,
            body: bad.clone(),
            conversation_id: None,
            actor: None,
            created_at: t0(),
            read_at: None,
        }];
        let mut mentor = user("zed", Role::Mentor);
        mentor.display_name = bad.clone();
        mentor.profile.headline = Some(bad.clone());
        mentor.profile.bio = Some(bad.clone());
        app.mentors = vec![mentor];
        for view in [View::Chats, View::Notifications, View::Requests, View::Mentors] {
            app.view = view;
            for (w, h) in [(80, 24), (40, 12)] {
                assert_buffer_safe(&format!("string #{i} {bad:?} in {view:?} at {w}x{h}"), &app, w, h);
            }
        }
    }
}

/// Issue 12: a display name can imitate someone (eve calls herself "Mona"),
/// so every view that names a person shows the username beside it.
#[test]
fn the_username_stands_beside_every_display_name() {
    let mut app = app();
    let mut list = app.conversations.clone();
    list.push(conv(
        7,
        "eve",
        "MONA",
        ConversationStatus::Pending,
        1,
        Some(msg(70, 7, "eve", "it is me, your mentor")),
    ));
    app.update(Action::Conversations { list, cached: false });
    let s = render(&app, 80, 24);
    assert!(s.contains("○ MONA @eve"), "the list:\n{s}");
    assert!(s.contains("○ Ana @ana"), "the list:\n{s}");

    crate::tui::input::open(&mut app, ConversationId(7));
    let s = render(&app, 80, 24);
    assert!(
        s.contains("MONA @eve (mentee) · pending"),
        "the thread title:\n{s}"
    );
    assert!(s.contains("@eve"), "the list beside the thread:\n{s}");

    app.view = View::Requests;
    let s = render(&app, 80, 24);
    assert!(s.contains("MONA @eve · mentee"), "the requests:\n{s}");

    app.view = View::Mentors;
    let mut zed = user("zed", Role::Mentor);
    zed.display_name = "Ana".into();
    app.mentors = vec![zed];
    let s = render(&app, 80, 24);
    assert!(s.contains("Ana @zed available"), "the mentors:\n{s}");

    // Beside an open thread the list is narrow: the display name gives way,
    // the username stays whole.
    app.view = View::Chats;
    if let Some(c) = app.conversations.iter_mut().find(|c| c.peer.username == "eve") {
        c.peer.display_name = "A very long display name indeed".into();
    }
    open_ana(&mut app);
    let s = render(&app, 80, 24);
    assert!(s.contains("○ A very") && s.contains("… @eve"), "{s}");
}
