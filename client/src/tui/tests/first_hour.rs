//! What a new user tripped over in their first hour (issue 18): stale
//! quotes, a stale "cannot reach the server" line, unread counts and the
//! announcement banner that did not follow other devices, and the
//! Scheduled view's own idea of "soon".

use super::*;
use crate::tui::app::Thread;

/// Ana's thread with a reply quoting a message that is about to change.
fn quoted_thread(app: &mut App) {
    crate::tui::input::open(app, ConversationId(1));
    let mut reply = msg(12, 1, "mona", "noted, thanks");
    reply.reply_to = Some(MessageId(11));
    reply.reply = Some(ReplyQuote {
        id: MessageId(11),
        sender: Some("ana".into()),
        excerpt: "my password is hunter2".into(),
        deleted: false,
    });
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page: MessagePage {
            messages: vec![msg(11, 1, "ana", "my password is hunter2"), reply],
            has_more: false,
            markers: Vec::new(),
        },
        older: false,
    });
}

fn thread(app: &App) -> &Thread {
    app.threads
        .get(&ConversationId(1))
        .unwrap_or_else(|| panic!("ana's thread is loaded"))
}

#[test]
fn reply_quotes_follow_edits_and_deletions_live() {
    let mut app = app();
    quoted_thread(&mut app);
    assert!(render(&app, 100, 24).contains("hunter2"));

    let mut edited = msg(11, 1, "ana", "my password is ******");
    edited.edited_at = Some(t0());
    let effects = app.update(ev(70, EventKind::MessageUpdated { message: edited }));
    assert_eq!(
        thread(&app).messages[1]
            .reply
            .as_ref()
            .map(|q| q.excerpt.as_str()),
        Some("my password is ******")
    );
    // The quoting message is cached again too, so a restart shows the same.
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::CacheMessages { messages, .. }
            if messages.iter().any(|m| m.id == MessageId(12)))),
        "{effects:?}"
    );

    let mut deleted = msg(11, 1, "ana", "");
    deleted.deleted_at = Some(t0());
    app.update(ev(71, EventKind::MessageUpdated { message: deleted }));
    let quote = thread(&app).messages[1].reply.clone();
    assert!(
        quote.as_ref().is_some_and(|q| q.deleted && q.excerpt.is_empty()),
        "{quote:?}"
    );
    let screen = render(&app, 100, 24);
    assert!(
        !screen.contains("hunter2") && !screen.contains("******"),
        "{screen}"
    );
}

#[test]
fn a_reconnect_clears_the_unreachable_line() {
    let mut app = app();
    app.update(Action::Conn(ConnState::Reconnecting {
        attempt: 1,
        retry_in: Duration::from_secs(1),
        error: LiveError::Unreachable("connection refused".into()),
    }));
    app.update(Action::Unreachable(
        "cannot reach the server at http://127.0.0.1:7878 (connection refused)".into(),
    ));
    assert!(render(&app, 100, 24).contains("cannot reach the server"));
    app.update(Action::Conn(ConnState::Connected));
    let screen = render(&app, 100, 24);
    assert!(!screen.contains("cannot reach the server"), "{screen}");

    // Other errors are not the connection's to clear.
    app.update(Action::Error(
        "message is 4,001 characters; the limit is 4,000".into(),
    ));
    app.update(Action::Conn(ConnState::Connected));
    assert!(render(&app, 100, 24).contains("the limit is 4,000"));
}

#[test]
fn answering_from_another_device_clears_the_unread_count() {
    let mut app = app();
    assert_eq!(app.conversation(ConversationId(1)).map(|c| c.unread), Some(2));
    // `mchat send ana …` from a terminal: the event of my own message.
    app.update(ev(
        80,
        EventKind::MessageNew {
            message: msg(20, 1, "mona", "answered from my laptop"),
        },
    ));
    let c = app.conversation(ConversationId(1)).cloned();
    assert_eq!(c.as_ref().map(|c| c.unread), Some(0), "{c:?}");
    assert!(c.is_some_and(|c| !c.awaiting_reply));
    // A replayed older message of mine says nothing about newer ones.
    app.update(ev(
        81,
        EventKind::MessageNew {
            message: msg(21, 1, "ana", "thanks!"),
        },
    ));
    app.update(ev(
        82,
        EventKind::MessageNew {
            message: msg(19, 1, "mona", "an older one, replayed"),
        },
    ));
    assert_eq!(app.conversation(ConversationId(1)).map(|c| c.unread), Some(1));
}

#[test]
fn the_banner_goes_when_notifications_are_read_elsewhere() {
    let mut app = app();
    app.update(ev(
        90,
        EventKind::NotificationNew {
            notification: Notification {
                id: NotificationId(9),
                kind: NotificationKind::Announcement,
                body: "maintenance tonight".into(),
                conversation_id: None,
                actor: None,
                created_at: t0(),
                read_at: None,
            },
        },
    ));
    let last = render(&app, 100, 24)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        last.contains("maintenance tonight") && last.contains("m marks read"),
        "{last}"
    );
    app.update(ev(
        91,
        EventKind::NotificationsRead {
            ids: Vec::new(),
            unread: 0,
        },
    ));
    let last = render(&app, 100, 24)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(!last.contains("announcement"), "{last}");
}

#[test]
fn scheduled_times_read_like_the_command_line() {
    let mut app = app();
    let due = app.now + jiff::SignedDuration::from_secs(36);
    app.update(Action::Scheduled(vec![ScheduledItem {
        id: mchat_shared::ScheduledId(1),
        kind: ScheduledKind::Reminder,
        conversation_id: None,
        peer: None,
        body: "stand-up".into(),
        due_at: due,
        status: ScheduledStatus::Pending,
        message_id: None,
        error: None,
        client_id: "c1".into(),
        created_at: t0(),
    }]));
    app.update(key('5'));
    let screen = render(&app, 100, 24);
    assert!(screen.contains("(in 36s)"), "{screen}");
    assert!(!screen.contains("in 1m") && !screen.contains("UTC"), "{screen}");
}

#[test]
fn below_sixty_columns_the_list_comes_back_and_is_never_blind() {
    let mut app = app();
    crate::tui::input::open(&mut app, ConversationId(1));
    app.focus = crate::tui::app::Focus::Thread;
    let screen = render(&app, 50, 20);
    assert!(
        !screen.contains("Conversations"),
        "the thread fills the pane:\n{screen}"
    );
    // Esc moves to the list: the list is what shows.
    app.update(code(KeyCode::Esc));
    assert_eq!(app.focus, crate::tui::app::Focus::List);
    let screen = render(&app, 50, 20);
    assert!(screen.contains("Ben"), "the list is back:\n{screen}");
    // Moving and opening from there is visible all the way.
    app.update(key('j'));
    let screen = render(&app, 50, 20);
    assert!(screen.contains("Ben"), "{screen}");
}

#[test]
fn help_wraps_and_scrolls_instead_of_cutting() {
    let mut app = app();
    app.size = ratatui::layout::Rect::new(0, 0, 50, 20);
    app.update(key('?'));
    let first = render(&app, 50, 20);
    assert!(first.contains("↑↓ scroll"), "says it scrolls:\n{first}");
    assert!(
        !first.contains('…'),
        "descriptions are wrapped, not cut:\n{first}"
    );
    let lines = crate::tui::views::help::line_count(&app);
    assert!(lines > 18, "more lines than fit: {lines}");
    // Scroll to the end: the last command's text is reachable.
    for _ in 0..lines {
        app.update(key('j'));
    }
    assert!(app.help, "scrolling keeps it open");
    let last = render(&app, 50, 20);
    let final_help = crate::tui::keys::Command::ALL
        .last()
        .map(|c| c.help().split_whitespace().next().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert!(last.contains(&final_help), "{final_help} in\n{last}");
    assert_ne!(first, last);
    // Wide terminals: every description whole, at 120 columns too.
    for (w, h) in [(120, 40), (50, 20), (80, 24)] {
        // Borders aside, a wrapped description reads on across lines.
        let all = help_text(&mut app, w, h).replace('│', " ");
        let words: Vec<&str> = all.split_whitespace().collect();
        for c in crate::tui::keys::Command::ALL {
            let want: Vec<&str> = c.help().split_whitespace().collect();
            assert!(
                words.windows(want.len()).any(|win| win == want.as_slice()),
                "{w}x{h}: {:?} not shown whole",
                c.help()
            );
        }
    }
    app.update(key('x'));
    assert!(!app.help, "any other key closes it");
}

#[test]
fn a_failed_message_keeps_its_keys_visible_and_retry_answers() {
    let mut app = app();
    open_ana(&mut app);
    app.update(Action::Outbox(vec![crate::local::OutboxItem {
        id: 4,
        client_id: "c4".into(),
        target: "ana".into(),
        conversation_id: Some(1),
        body: "a reply".into(),
        reply_to: None,
        created_at: 0,
        attempts: 1,
        last_error: Some(
            "the conversation is completed; reopen it to post again — and this reason is long enough \
             to need more than one line"
                .into(),
        ),
        next_attempt_at: crate::local::OUTBOX_REFUSED,
    }]));
    let screen = render(&app, 70, 24);
    assert!(screen.contains("✗ failed · R retry · D drop"), "{screen}");
    assert!(
        screen.contains("more than one"),
        "the whole reason, wrapped:\n{screen}"
    );
    app.focus = crate::tui::app::Focus::Thread;
    let effects = app.update(key('R'));
    assert_eq!(effects, vec![Effect::RetryOutbox(4)]);
    assert_eq!(app.status.as_deref(), Some("retrying…"));
}

#[test]
fn the_composer_has_its_own_hints_and_closed_chats_say_why_typing_is_ignored() {
    let mut app = app();
    open_ana(&mut app);
    assert_eq!(app.focus, crate::tui::app::Focus::Composer);
    let last = render(&app, 100, 24)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(last.contains("enter send") && !last.contains("q quit"), "{last}");
    app.update(key('q'));
    assert!(!app.quit, "q is text in the composer");

    // Chris's conversation is completed: typing there says why nothing happens.
    crate::tui::input::open(&mut app, ConversationId(3));
    assert_eq!(app.focus, crate::tui::app::Focus::Thread);
    app.update(key('w'));
    let status = app.status.clone().unwrap_or_default();
    assert!(
        status.contains("completed") && status.contains("ignored"),
        "{status}"
    );
    app.status = None;
    app.update(key('i'));
    assert_eq!(
        app.focus,
        crate::tui::app::Focus::Thread,
        "no composer for a closed chat"
    );
    assert!(app.status.as_deref().is_some_and(|s| s.contains("completed")));
}

#[test]
fn mentors_complete_and_reopen_from_the_tui() {
    let mut app = app();
    open_ana(&mut app);
    app.focus = crate::tui::app::Focus::Thread;
    assert_eq!(app.update(key('C')), vec![Effect::Complete(ConversationId(1))]);
    assert_eq!(app.status.as_deref(), Some("completing…"));
    // The completed one reopens; an open one says it is open.
    crate::tui::input::open(&mut app, ConversationId(3));
    assert_eq!(app.update(key('O')), vec![Effect::Reopen(ConversationId(3))]);
    assert!(app.update(key('C')).is_empty());
    assert!(
        app.status
            .as_deref()
            .is_some_and(|s| s.contains("already completed"))
    );
    // A mentee cannot.
    app.me.role = Role::Mentee;
    assert!(app.update(key('O')).is_empty());
    assert!(
        app.status
            .as_deref()
            .is_some_and(|s| s.contains("only the mentor"))
    );
}

#[test]
fn the_header_counts_notifications_and_a_mentees_list_shows_availability() {
    let mut app = app();
    app.update(Action::Notifications(vec![Notification {
        id: NotificationId(1),
        kind: NotificationKind::RequestAccepted,
        body: "mona accepted your request".into(),
        conversation_id: Some(ConversationId(1)),
        actor: Some("mona".into()),
        created_at: t0(),
        read_at: None,
    }]));
    let top = render(&app, 120, 24)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(top.contains("1 notification"), "{top}");

    // A mentee's list: each mentor's availability beside the role.
    let mut mentor = conv(7, "mira", "Mira", ConversationStatus::Accepted, 0, None);
    mentor.peer.role = Role::Mentor;
    mentor.peer.availability = Some(Availability::Away);
    app.me = user("tom", Role::Mentee);
    app.update(Action::Conversations {
        list: vec![mentor],
        cached: false,
    });
    let screen = render(&app, 100, 24);
    assert!(screen.contains("mentor, away"), "{screen}");
}

#[test]
fn the_list_keeps_its_order_under_the_cursor_then_settles() {
    let mut app = app();
    app.focus = crate::tui::app::Focus::List;
    app.update(key('j'));
    let before: Vec<_> = app.conversations.iter().map(|c| c.id).collect();
    let selected = app.selected_conversation().map(|c| c.id);
    // Chris writes: his chat would jump to the top.
    let mut late = msg(30, 3, "chris", "one more question");
    late.created_at = t0() + jiff::SignedDuration::from_hours(1);
    app.update(ev(95, EventKind::MessageNew { message: late }));
    let during: Vec<_> = app.conversations.iter().map(|c| c.id).collect();
    assert_eq!(during, before, "no reordering while the cursor is moving");
    assert_eq!(app.selected_conversation().map(|c| c.id), selected);
    // Once it settles (here: the list loses the keyboard), the order follows.
    app.list_touched = None;
    app.update(Action::Tick);
    assert_eq!(
        app.conversations[0].id,
        ConversationId(3),
        "{:?}",
        app.conversations
    );
    assert_eq!(
        app.selected_conversation().map(|c| c.id),
        selected,
        "same conversation selected"
    );
}

#[test]
fn returning_to_chats_marks_the_open_thread_read_and_ctrl_r_reconnects() {
    let mut app = app();
    open_ana(&mut app);
    app.update(code(KeyCode::Esc));
    app.update(key('2'));
    if let Some(c) = app.conversation_mut(ConversationId(1)) {
        c.unread = 1;
        c.last_message = Some(msg(13, 1, "ana", "are you there?"));
    }
    let effects = app.update(key('1'));
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::MarkRead { conversation, .. } if *conversation == ConversationId(1))
        ),
        "{effects:?}"
    );
    app.conn = crate::tui::app::Conn::Reconnecting;
    app.update(code(KeyCode::Esc));
    let ctrl_r = Action::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_eq!(app.update(ctrl_r), vec![Effect::Reconnect]);
}

#[test]
fn one_header_per_run_of_messages_and_a_line_per_day() {
    let mut app = app();
    crate::tui::input::open(&mut app, ConversationId(1));
    let at = |m: &mut Message, minutes: i64| m.created_at = t0() + jiff::SignedDuration::from_mins(minutes);
    let mut a = msg(20, 1, "ana", "first thought");
    let mut b = msg(21, 1, "ana", "second thought");
    let mut c = msg(22, 1, "mona", "my answer");
    let mut d = msg(23, 1, "ana", "next morning");
    at(&mut a, 0);
    at(&mut b, 2);
    at(&mut c, 3);
    at(&mut d, 24 * 60);
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page: MessagePage {
            messages: vec![a, b, c, d],
            has_more: false,
            markers: Vec::new(),
        },
        older: false,
    });
    app.focus = crate::tui::app::Focus::List;
    let screen = render(&app, 100, 24);
    let headers = screen.lines().filter(|l| l.contains("│ana  ")).count();
    assert_eq!(headers, 2, "two runs of ana's, one header each:\n{screen}");
    assert!(screen.contains("second thought"), "{screen}");
    assert_eq!(
        screen
            .lines()
            .filter(|l| l.contains("──") && l.contains("Jan"))
            .count(),
        1,
        "one day line (the second day):\n{screen}"
    );
}

#[test]
fn a_search_jump_highlights_the_words_and_the_results_say_there_are_more() {
    let mut app = app();
    app.update(key('/'));
    for c in "lifetime".chars() {
        app.update(key(c));
    }
    app.update(code(KeyCode::Enter));
    let hits: Vec<SearchHit> = (0..=crate::tui::app::SEARCH_SHOWN as i64)
        .map(|i| SearchHit {
            message: msg(100 + i, 1, "ana", "about Lifetimes again"),
            peer: "ana".into(),
            snippet: "about Lifetimes again".into(),
            highlights: vec![[6, 14]],
            rank: -1.0,
        })
        .collect();
    app.update(Action::SearchResults {
        query: "lifetime".into(),
        hits,
    });
    let s = app.search.clone().unwrap_or_default();
    assert!(s.more && s.hits.len() == crate::tui::app::SEARCH_SHOWN);
    let screen = render(&app, 100, 60);
    assert!(screen.contains("the newest 50 hits"), "{screen}");
    assert!(screen.contains("more messages match"), "{screen}");

    // Jump to the first hit (its page already loaded): the words stand out.
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page: MessagePage {
            messages: vec![msg(100, 1, "ana", "about Lifetimes again")],
            has_more: false,
            markers: Vec::new(),
        },
        older: false,
    });
    app.update(code(KeyCode::Enter));
    let mut term = Terminal::new(TestBackend::new(100, 24)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    let buf = term.backend().buffer();
    let styled: String = buf
        .content
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::UNDERLINED))
        .map(|c| c.symbol().to_string())
        .collect();
    assert!(styled.contains("Lifetime"), "highlighted: {styled:?}");
}

#[test]
fn the_demo_starts_on_a_live_chat_not_a_request() {
    let mut app = App::new(
        user("mona", Role::Mentor),
        KeyMap::default(),
        Theme { color: false },
        true,
    );
    app.start_with = Some("chris".into());
    app.update(Action::Conversations {
        list: vec![
            conv(
                2,
                "ben",
                "Ben",
                ConversationStatus::Pending,
                1,
                Some(msg(12, 2, "ben", "hi")),
            ),
            conv(3, "chris", "Chris", ConversationStatus::Accepted, 0, None),
        ],
        cached: true,
    });
    assert_eq!(app.selected_conversation().map(|c| c.id), Some(ConversationId(3)));
    assert_eq!(app.start_with, None, "only once");
}

#[test]
fn the_composer_wraps_long_text_over_several_rows() {
    let mut app = app();
    open_ana(&mut app);
    let text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
    for c in text.chars() {
        app.update(key(c));
    }
    let screen = render(&app, 100, 24);
    // The thread pane is ~60 columns: the text takes two rows, all of it shown.
    let joined: String = screen.lines().collect::<Vec<_>>().join(" ");
    for word in ["one", "seven", "twelve", "fourteen"] {
        assert!(joined.contains(word), "{word} not shown:\n{screen}");
    }
    let rows = screen
        .lines()
        .filter(|l| l.contains("one two") || l.contains("fourteen"))
        .count();
    assert!(rows >= 1);
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("one two") && l.contains("fourteen")),
        "it wraps rather than fitting one row:\n{screen}"
    );
    // Short text still goes through the textarea as before.
    let mut short = self::app();
    open_ana(&mut short);
    for c in "hello".chars() {
        short.update(key(c));
    }
    assert!(render(&short, 100, 24).contains("hello"));
}
