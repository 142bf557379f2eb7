//! Update-logic tests: live events, keys and network results → state and effects.

use super::*;

#[test]
fn a_message_for_the_open_thread_marks_read() {
    let mut app = app();
    open_ana(&mut app);
    let effects = app.update(ev(
        5,
        EventKind::MessageNew {
            message: msg(20, 1, "ana", "are you there?"),
        },
    ));
    assert!(
        effects.contains(&Effect::MarkRead {
            conversation: ConversationId(1),
            up_to: MessageId(20)
        }),
        "{effects:?}"
    );
    assert!(!effects.contains(&Effect::Bell));
    assert_eq!(app.conversation(ConversationId(1)).map(|c| c.unread), Some(0));
    assert_eq!(app.threads[&ConversationId(1)].messages.len(), 3);
    // A replayed copy does not duplicate it.
    app.update(ev(
        5,
        EventKind::MessageNew {
            message: msg(20, 1, "ana", "are you there?"),
        },
    ));
    assert_eq!(app.threads[&ConversationId(1)].messages.len(), 3);
    assert!(render(&app, 80, 24).contains("are you there?"));
}

#[test]
fn a_message_for_another_conversation_bumps_the_badge_and_rings() {
    let mut app = app();
    open_ana(&mut app);
    let effects = app.update(ev(
        6,
        EventKind::MessageNew {
            message: msg(21, 3, "chris", "one more question"),
        },
    ));
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    let c = app.conversation(ConversationId(3)).cloned();
    assert_eq!(c.as_ref().map(|c| c.unread), Some(1));
    assert!(c.is_some_and(|c| c.awaiting_reply));
    // Busy: no bell.
    app.me.availability = Some(Availability::Busy);
    let effects = app.update(ev(
        7,
        EventKind::MessageNew {
            message: msg(22, 3, "chris", "again"),
        },
    ));
    assert!(!effects.contains(&Effect::Bell));
    // Unknown conversation: refetch the list.
    let effects = app.update(ev(
        8,
        EventKind::MessageNew {
            message: msg(23, 77, "dan", "hi"),
        },
    ));
    assert!(effects.contains(&Effect::LoadConversations));
}

#[test]
fn a_receipt_updates_ticks() {
    let mut app = app();
    open_ana(&mut app);
    app.update(ev(
        9,
        EventKind::MessageNew {
            message: msg(30, 1, "mona", "see you at 5"),
        },
    ));
    assert!(render(&app, 80, 24).contains("✓ sent"));
    app.update(ev(
        10,
        EventKind::MarkersUpdated {
            conversation_id: ConversationId(1),
            markers: marker("ana", 30, 11),
        },
    ));
    assert!(render(&app, 80, 24).contains("✓✓ delivered"));
    app.update(ev(
        11,
        EventKind::MarkersUpdated {
            conversation_id: ConversationId(1),
            markers: marker("ana", 30, 30),
        },
    ));
    let s = render(&app, 80, 24);
    assert!(s.contains("see you at 5") && s.contains("✓✓ read"), "{s}");
}

#[test]
fn a_status_change_and_typing() {
    let mut app = app();
    app.update(ev(
        12,
        EventKind::ConversationUpdated {
            conversation_id: ConversationId(2),
            status: ConversationStatus::Accepted,
            actor: Some("mona".into()),
        },
    ));
    assert_eq!(
        app.conversation(ConversationId(2)).map(|c| c.status),
        Some(ConversationStatus::Accepted)
    );
    assert!(app.incoming_requests().is_empty());
    open_ana(&mut app);
    app.update(Action::Frame(ServerFrame::Signal(Signal::Typing {
        conversation_id: ConversationId(1),
        username: "ana".into(),
        active: true,
    })));
    assert!(render(&app, 80, 24).contains("ana is typing…"));
    app.update(ev(
        13,
        EventKind::MessageNew {
            message: msg(31, 1, "ana", "done"),
        },
    ));
    assert!(!render(&app, 80, 24).contains("is typing"));
}

#[test]
fn a_reconnect_flushes_and_catches_up() {
    let mut app = app();
    open_ana(&mut app);
    app.update(Action::Conn(ConnState::Reconnecting {
        attempt: 1,
        retry_in: Duration::from_secs(1),
        error: LiveError::Lost("reset".into()),
    }));
    assert!(render(&app, 80, 24).contains("reconnecting"));
    let effects = app.update(Action::Conn(ConnState::Connected));
    assert!(effects.contains(&Effect::FlushOutbox { all: true }));
    assert!(effects.contains(&Effect::LoadConversations));
    assert!(effects.contains(&Effect::LoadMessages {
        conversation: ConversationId(1),
        before: None
    }));
    // No bell during the replay, until `ready`.
    let effects = app.update(ev(
        14,
        EventKind::MessageNew {
            message: msg(40, 3, "chris", "while away"),
        },
    ));
    assert!(!effects.contains(&Effect::Bell));
    app.update(Action::Frame(ServerFrame::Signal(Signal::Ready { seq: Seq(14) })));
    assert!(!app.replaying);
}

#[test]
fn composing_sends_through_the_outbox() {
    let mut app = app();
    open_ana(&mut app);
    assert_eq!(app.focus, Focus::Composer);
    for c in "hello".chars() {
        app.update(key(c));
    }
    app.update(Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    app.update(key('x'));
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        effects.contains(&Effect::Send {
            conversation: ConversationId(1),
            target: "ana".into(),
            body: "hello\nx".into(),
            reply_to: None
        }),
        "{effects:?}"
    );
    assert!(app.composer.lines().join("").is_empty());
    // Queued → "sending" in the thread.
    app.update(Action::Outbox(vec![crate::local::OutboxItem {
        id: 1,
        client_id: "c1".into(),
        target: "ana".into(),
        conversation_id: Some(1),
        body: "hello\nx".into(),
        reply_to: None,
        created_at: 0,
        attempts: 0,
        last_error: None,
        next_attempt_at: 0,
    }]));
    let s = render(&app, 80, 24);
    assert!(s.contains("… sending") && s.contains("1 queued"), "{s}");
}

#[test]
fn keys_navigate_and_quit() {
    let mut app = app();
    app.update(key('n'));
    assert_eq!(app.open, Some(ConversationId(2)));
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.focus, Focus::List);
    app.update(key('2'));
    assert_eq!(app.view, View::Requests);
    app.update(key('x'));
    assert!(app.prompt.is_some());
    for c in "busy".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert!(effects.contains(&Effect::Decline {
        conversation: ConversationId(2),
        reason: Some("busy".into())
    }));
    let effects = app.update(key('s'));
    assert!(effects.contains(&Effect::SetAvailability(Availability::Away)));
    let effects = app.update(key('q'));
    assert!(effects.contains(&Effect::Quit) && app.quit);
}

#[test]
fn scrolling_to_the_top_loads_older_history() {
    let mut app = app();
    crate::tui::input::open(&mut app, ConversationId(1));
    let page = MessagePage {
        messages: (100..150).map(|i| msg(i, 1, "ana", &format!("m{i}"))).collect(),
        has_more: true,
        markers: vec![],
    };
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page,
        older: false,
    });
    app.update(code(KeyCode::Esc));
    let mut asked = Vec::new();
    for _ in 0..10 {
        asked.extend(app.update(code(KeyCode::PageUp)));
    }
    assert!(
        asked.contains(&Effect::LoadMessages {
            conversation: ConversationId(1),
            before: Some(MessageId(100))
        }),
        "{asked:?}"
    );
}

#[test]
fn reply_requests_and_typing_expiry() {
    let mut app = app();
    open_ana(&mut app);
    app.update(code(KeyCode::Esc));
    app.update(key('r'));
    assert_eq!(app.reply_to, Some(MessageId(11)));
    assert!(render(&app, 80, 24).contains("replying to ana"));
    for c in "yes".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Send {
                reply_to: Some(MessageId(11)),
                ..
            }
        )),
        "{effects:?}"
    );
    // The quote shows above a reply.
    let mut reply = msg(60, 1, "mona", "yes");
    reply.reply_to = Some(MessageId(11));
    app.update(Action::Sent(reply));
    assert!(render(&app, 80, 24).contains("↳ ana: can we talk about rust?"));
    // Mentors: Enter asks for an intro, then requests.
    app.update(code(KeyCode::Esc));
    app.update(key('3'));
    app.mentors = vec![user("zed", Role::Mentor)];
    app.update(code(KeyCode::Enter));
    for c in "hi zed".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert!(effects.contains(&Effect::Request {
        username: "zed".into(),
        intro: "hi zed".into()
    }));
    // Typing expires without renewal.
    app.typing
        .insert(ConversationId(1), ("ana".into(), std::time::Instant::now()));
    app.update(Action::Tick);
    assert!(app.typing.is_empty());
}

#[test]
fn search_and_failed_messages() {
    let mut app = app();
    crate::tui::input::open(&mut app, ConversationId(1));
    let page = MessagePage {
        messages: (1..=40)
            .map(|i| {
                msg(
                    i,
                    1,
                    "ana",
                    &format!("note {i} {}", if i % 10 == 0 { "needle" } else { "" }),
                )
            })
            .collect(),
        has_more: false,
        markers: vec![],
    };
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page,
        older: false,
    });
    app.update(code(KeyCode::Esc));
    app.update(key('/'));
    for c in "needle".chars() {
        app.update(key(c));
    }
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::Search("needle".into())]);
    assert_eq!(app.view, View::Search);
    let hit = |id: i64| SearchHit {
        message: msg(id, 1, "ana", &format!("note {id} needle")),
        peer: "ana".into(),
        snippet: format!("note {id} needle"),
        highlights: vec![[8, 14]],
        rank: -1.0,
    };
    app.update(Action::SearchResults {
        query: "needle".into(),
        hits: vec![hit(40), hit(30)],
    });
    // Enter jumps to the first hit (loaded: no fetch), `n` to the next.
    app.update(code(KeyCode::Enter));
    assert_eq!(app.view, View::Chats);
    assert_eq!(app.threads[&ConversationId(1)].scroll, 0); // message 40
    app.update(key('n'));
    assert_eq!(app.threads[&ConversationId(1)].scroll, 10); // message 30
    assert!(render(&app, 80, 24).contains("note 30 needle"));
    app.update(code(KeyCode::End));
    app.update(Action::Outbox(vec![crate::local::OutboxItem {
        id: 7,
        client_id: "c7".into(),
        target: "ana".into(),
        conversation_id: Some(1),
        body: "refused one".into(),
        reply_to: None,
        created_at: 0,
        attempts: 1,
        last_error: Some("the conversation is completed".into()),
        next_attempt_at: crate::tui::app::REFUSED,
    }]));
    let s = render(&app, 100, 24);
    assert!(s.contains("✗ failed") && s.contains("refused one"), "{s}");
    assert_eq!(app.update(key('R')), vec![Effect::RetryOutbox(7)]);
    assert_eq!(app.update(key('D')), vec![Effect::DropOutbox(7)]);
}
