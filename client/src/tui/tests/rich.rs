//! Rich messaging in the TUI: reply quotes, reactions, edits, tombstones,
//! attachments, search, mute/archive, templates, scheduled items and
//! announcements — render tests (hostile text included) and the keys and
//! live events that drive them.

use super::render::{assert_buffer_safe, naughty_strings};
use super::*;
use crate::tui::app::{Picker, PromptKind};
use mchat_shared::{FileId, ScheduledId};

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn reaction(emoji: &str, users: &[&str]) -> Reaction {
    Reaction {
        emoji: emoji.into(),
        count: users.len() as u32,
        users: users.iter().map(|u| (*u).to_string()).collect(),
    }
}

fn attachment(name: &str) -> Attachment {
    Attachment {
        id: FileId(7),
        name: name.into(),
        size: 1_234_567,
        content_type: "application/pdf".into(),
    }
}

fn hit(id: i64, conv: i64, snippet: &str, highlights: Vec<[u32; 2]>) -> SearchHit {
    SearchHit {
        message: msg(id, conv, "ana", snippet),
        peer: "ana".into(),
        snippet: snippet.into(),
        highlights,
        rank: -1.0,
    }
}

fn scheduled(id: i64, kind: ScheduledKind, body: &str, in_minutes: i64) -> ScheduledItem {
    ScheduledItem {
        id: ScheduledId(id),
        kind,
        conversation_id: (kind == ScheduledKind::Message).then_some(ConversationId(1)),
        peer: (kind == ScheduledKind::Message).then(|| "ana".to_string()),
        body: body.into(),
        due_at: t0() + jiff::SignedDuration::from_mins(5 + in_minutes),
        status: ScheduledStatus::Pending,
        message_id: None,
        error: None,
        client_id: format!("c{id}"),
        created_at: t0(),
    }
}

fn announcement(body: &str) -> Notification {
    Notification {
        id: NotificationId(9),
        kind: NotificationKind::Announcement,
        body: body.into(),
        conversation_id: None,
        actor: None,
        created_at: t0(),
        read_at: None,
    }
}

fn template(name: &str, body: &str) -> Template {
    Template {
        name: name.into(),
        body: body.into(),
        created_at: t0(),
        updated_at: t0(),
    }
}

/// Ana's thread with a reply (quoting 10), a reacted message, an edited
/// one, a tombstone and an attachment; the thread pane has the keyboard.
fn rich_thread(app: &mut App) {
    crate::tui::input::open(app, ConversationId(1));
    let mut reply = msg(11, 1, "ana", "sure, see below");
    reply.reply_to = Some(MessageId(10));
    reply.reply = Some(ReplyQuote {
        id: MessageId(10),
        sender: Some("mona".into()),
        excerpt: "shall we pair on lifetimes?".into(),
        deleted: false,
    });
    let mut reacted = msg(12, 1, "ana", "it compiles now");
    reacted.reactions = vec![reaction("👍", &["mona", "ana"]), reaction("🎉", &["ana"])];
    let mut edited = msg(13, 1, "mona", "great work (fixed typo)");
    edited.edited_at = Some(t0());
    let mut deleted = msg(14, 1, "ana", "");
    deleted.deleted_at = Some(t0());
    let mut file = msg(15, 1, "ana", "the report");
    file.kind = MessageKind::File;
    file.attachment = Some(attachment("report.pdf"));
    app.update(Action::Messages {
        conversation: ConversationId(1),
        page: MessagePage {
            messages: vec![
                msg(10, 1, "mona", "shall we pair on lifetimes?"),
                reply,
                reacted,
                edited,
                deleted,
                file,
            ],
            has_more: false,
            markers: vec![],
        },
        older: false,
    });
    app.focus = Focus::Thread;
}

#[test]
fn thread_shows_quotes_reactions_edits_tombstones_and_attachments() {
    let mut app = app();
    rich_thread(&mut app);
    let s = render(&app, 80, 24);
    // My own message is "you" in the quote, as everywhere.
    assert!(s.contains("↳ you: shall we pair on lifetimes?"), "{s}");
    assert!(s.contains("👍 2 · 🎉 1"), "{s}");
    assert!(s.contains("(edited)"), "{s}");
    assert!(s.contains("(message deleted)"), "{s}");
    assert!(s.contains("📎 report.pdf · 1.2 MiB · application/pdf"), "{s}");
    // The attachment is selected (the newest): the hint says how to save it.
    assert!(s.contains("application/pdf · s save"), "{s}");
    // Select the reacted message: who reacted shows under it.
    for _ in 0..3 {
        app.update(key('k'));
    }
    assert_eq!(app.selected_message().map(|m| m.id), Some(MessageId(12)));
    let s = render(&app, 80, 24);
    assert!(s.contains("👍 you, ana · 🎉 ana"), "{s}");
    // A quote of a deleted parent, and narrow terminals.
    let t = app
        .threads
        .get_mut(&ConversationId(1))
        .unwrap_or_else(|| panic!("thread"));
    if let Some(q) = t.messages[1].reply.as_mut() {
        q.deleted = true;
        q.excerpt.clear();
    }
    t.scroll = 0;
    for _ in 0..4 {
        app.update(key('k'));
    }
    let s = render(&app, 80, 24);
    assert!(s.contains("↳ you: (message deleted)"), "{s}");
    for (w, h) in [(40, 12), (20, 6)] {
        assert_eq!(render(&app, w, h).lines().count(), h as usize);
    }
    // The selected message's sender is marked (reversed) while the thread has the keyboard.
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    let reversed = term
        .backend()
        .buffer()
        .content
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::REVERSED))
        .map(|c| c.symbol().to_string())
        .collect::<String>();
    assert_eq!(reversed, "ana", "{s}");
    // A file with no caption reads as its name in the list.
    let mut file = msg(16, 1, "ana", "");
    file.kind = MessageKind::File;
    file.attachment = Some(attachment("notes.txt"));
    app.update(ev(70, EventKind::MessageNew { message: file }));
    assert!(render(&app, 120, 24).contains("📎 notes.txt"));
}

#[test]
fn r_replies_to_the_selected_message() {
    let mut app = app();
    rich_thread(&mut app);
    for _ in 0..4 {
        app.update(key('k'));
    }
    app.update(key('r'));
    assert_eq!(app.reply_to, Some(MessageId(11)));
    assert_eq!(app.focus, Focus::Composer);
    assert!(render(&app, 80, 24).contains("replying to ana: sure, see below"));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.reply_to, None);
}

#[test]
fn e_edits_only_my_own_messages() {
    let mut app = app();
    rich_thread(&mut app);
    // The newest (15) is ana's: refused.
    assert!(app.update(key('e')).is_empty());
    assert_eq!(app.editing, None);
    assert!(
        app.status
            .as_deref()
            .is_some_and(|s| s.contains("only edit your own"))
    );
    // The tombstone (14) is refused too, and d on it as well.
    app.update(key('k'));
    app.update(key('e'));
    assert_eq!(app.editing, None);
    app.update(key('d'));
    assert!(app.prompt.is_none());
    // Mine (13): the composer is filled; Enter saves through edit.
    app.update(key('k'));
    app.update(key('e'));
    assert_eq!(app.editing, Some(MessageId(13)));
    assert_eq!(app.composer.lines().join("\n"), "great work (fixed typo)");
    assert!(render(&app, 80, 24).contains("editing your message"));
    app.update(key('!'));
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Edit {
            message: MessageId(13),
            body: "great work (fixed typo)!".into()
        }]
    );
    assert_eq!(app.editing, None);
    assert!(app.composer.lines().join("").is_empty());
    // Esc cancels an edit and empties the composer.
    app.update(key('e'));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.editing, None);
    assert!(app.composer.lines().join("").is_empty());
}

#[test]
fn d_asks_before_deleting() {
    let mut app = app();
    rich_thread(&mut app);
    app.update(key('k'));
    app.update(key('k'));
    assert_eq!(app.selected_message().map(|m| m.id), Some(MessageId(13)));
    assert!(app.update(key('d')).is_empty());
    assert_eq!(
        app.prompt.as_ref().map(|p| p.kind.clone()),
        Some(PromptKind::ConfirmDelete(MessageId(13)))
    );
    assert!(render(&app, 80, 24).contains("delete this message for everyone? y/n"));
    assert!(app.update(key('n')).is_empty());
    assert!(app.prompt.is_none());
    app.update(key('d'));
    assert_eq!(app.update(key('y')), vec![Effect::Delete(MessageId(13))]);
}

#[test]
fn plus_toggles_a_reaction() {
    let mut app = app();
    rich_thread(&mut app);
    for _ in 0..3 {
        app.update(key('k'));
    }
    app.update(key('+'));
    assert!(matches!(app.picker, Some(Picker::React { .. })));
    assert!(render(&app, 80, 24).contains("React"));
    // I already reacted 👍: Enter on it removes mine.
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        vec![Effect::React {
            message: MessageId(12),
            emoji: "👍".into(),
            add: false
        }]
    );
    assert!(app.picker.is_none());
    // 🎉 is only ana's: mine is added (by its number).
    app.update(key('+'));
    assert_eq!(
        app.update(key('4')),
        vec![Effect::React {
            message: MessageId(12),
            emoji: "🎉".into(),
            add: true
        }]
    );
    // Typed: an emoji goes, text is refused with a reason.
    app.update(key('+'));
    app.update(key('🚀'));
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        vec![Effect::React {
            message: MessageId(12),
            emoji: "🚀".into(),
            add: true
        }]
    );
    app.update(key('+'));
    app.update(key('o'));
    app.update(key('k'));
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert!(
        app.status.as_deref().is_some_and(|s| s.contains("emoji")),
        "{:?}",
        app.status
    );
    // Esc closes the picker without reacting.
    app.update(key('+'));
    assert!(app.update(code(KeyCode::Esc)).is_empty());
    assert!(app.picker.is_none());
}

#[test]
fn s_saves_the_selected_attachment() {
    let mut app = app();
    rich_thread(&mut app);
    app.download_dir = Some("/tmp/dl".into());
    assert_eq!(
        app.update(key('s')),
        vec![Effect::Download {
            file: attachment("report.pdf"),
            dir: Some("/tmp/dl".into())
        }]
    );
    assert!(render(&app, 80, 24).contains("saving report.pdf"));
    app.update(key('k'));
    assert!(app.update(key('s')).is_empty());
    assert!(app.status.as_deref().is_some_and(|s| s.contains("no attachment")));
    // In the list, s still cycles availability.
    app.update(code(KeyCode::Esc));
    assert_eq!(
        app.update(key('s')),
        vec![Effect::SetAvailability(Availability::Away)]
    );
}

#[test]
fn message_updated_replaces_in_place() {
    let mut app = app();
    rich_thread(&mut app);
    let before = app.threads[&ConversationId(1)].messages.len();
    let unread = app.conversation(ConversationId(3)).map(|c| c.unread);
    let mut edited = msg(12, 1, "ana", "it compiles now, really");
    edited.edited_at = Some(t0());
    edited.reactions = vec![reaction("👀", &["ana"])];
    let effects = app.update(ev(
        20,
        EventKind::MessageUpdated {
            message: edited.clone(),
        },
    ));
    assert!(!effects.contains(&Effect::Bell));
    assert!(!effects.iter().any(|e| matches!(e, Effect::MarkRead { .. })));
    let t = &app.threads[&ConversationId(1)];
    assert_eq!(t.messages.len(), before);
    assert_eq!(t.messages[2], edited);
    let s = render(&app, 80, 24);
    assert!(s.contains("it compiles now, really") && s.contains("👀 1"), "{s}");
    assert!(!s.contains("🎉"), "{s}");
    // A deletion elsewhere (not loaded) changes no counts and adds nothing.
    let mut gone = msg(5, 3, "mona", "");
    gone.deleted_at = Some(t0());
    app.update(ev(21, EventKind::MessageUpdated { message: gone }));
    assert_eq!(app.conversation(ConversationId(3)).map(|c| c.unread), unread);
    assert_eq!(
        app.conversation(ConversationId(3))
            .and_then(|c| c.last_message.as_ref())
            .map(|m| m.deleted_at.is_some()),
        Some(true)
    );
    assert!(render(&app, 160, 24).contains("(deleted)"));
    // Editing a message that gets deleted meanwhile cancels the edit.
    app.update(key('k'));
    app.update(key('k'));
    app.update(key('e'));
    assert_eq!(app.editing, Some(MessageId(13)));
    let mut mine_gone = msg(13, 1, "mona", "");
    mine_gone.deleted_at = Some(t0());
    app.update(Action::Updated(mine_gone));
    assert_eq!(app.editing, None);
}

#[test]
fn archived_hidden_unless_toggled_and_muted_rings_no_bell() {
    let mut app = app();
    // z archives the selected conversation (through the server).
    let first = app
        .selected_conversation()
        .map(|c| c.id)
        .unwrap_or(ConversationId(0));
    assert_eq!(
        app.update(key('z')),
        vec![Effect::SetSettings {
            conversation: first,
            muted: None,
            archived: Some(true)
        }]
    );
    // Chris (3, nothing unread) is archived, from another device.
    app.update(ev(
        30,
        EventKind::SettingsUpdated {
            conversation_id: ConversationId(3),
            muted: false,
            archived: true,
        },
    ));
    let s = render(&app, 80, 24);
    assert!(!s.contains("Chris"), "{s}");
    app.update(key('A'));
    let s = render(&app, 80, 24);
    assert!(s.contains("Chris") && s.contains("archived"), "{s}");
    app.update(key('A'));
    assert!(!render(&app, 80, 24).contains("Chris"));
    // Archived chats the server left out of the list arrive with A.
    let effects = app.update(key('A'));
    assert!(effects.contains(&Effect::LoadArchived));
    let mut old = conv(4, "dora", "Dora", ConversationStatus::Completed, 0, None);
    old.archived = true;
    app.update(Action::Archived(vec![old]));
    assert!(render(&app, 80, 24).contains("Dora"));
    // A refreshed (default, unarchived) list keeps them while shown.
    let list: Vec<Conversation> = app
        .conversations
        .iter()
        .filter(|c| !c.archived)
        .cloned()
        .collect();
    app.update(Action::Conversations { list, cached: false });
    assert!(render(&app, 80, 24).contains("Dora"));
    app.update(key('A'));
    // Muted: marked, dimmed, and no bell for a new message.
    app.update(Action::Settings {
        conversation: ConversationId(1),
        muted: true,
        archived: false,
    });
    let s = render(&app, 80, 24);
    assert!(s.contains("muted"), "{s}");
    let effects = app.update(ev(
        31,
        EventKind::MessageNew {
            message: msg(40, 1, "ana", "ping"),
        },
    ));
    assert!(!effects.contains(&Effect::Bell), "{effects:?}");
    // m flips it back.
    let i = app
        .conversations
        .iter()
        .position(|c| c.id == ConversationId(1))
        .unwrap_or(0);
    app.selected = i;
    assert_eq!(
        app.update(key('m')),
        vec![Effect::SetSettings {
            conversation: ConversationId(1),
            muted: Some(false),
            archived: None
        }]
    );
}

#[test]
fn search_results_highlight_and_jump_into_history() {
    let mut app = app();
    app.update(key('/'));
    for c in "lifetime".chars() {
        app.update(key(c));
    }
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        vec![Effect::Search("lifetime".into())]
    );
    assert!(render(&app, 80, 24).contains("searching…"));
    app.update(Action::SearchResults {
        query: "lifetime".into(),
        hits: vec![
            hit(500, 1, "… about lifetimes and borrows", vec![[8, 17]]),
            hit(7, 3, "lifetime elision", vec![[0, 8]]),
        ],
    });
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = render(&app, 80, 24);
    assert!(s.contains("2 hits") && s.contains("with ana"), "{s}");
    assert!(s.contains("… about lifetimes and borrows"), "{s}");
    // The highlighted run is styled apart (underlined without colour).
    let buf = term.backend().buffer();
    let row = (0..24u16)
        .find(|&y| {
            (0..80u16)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .contains("about lifetimes")
        })
        .unwrap_or_else(|| panic!("{s}"));
    let cells: Vec<_> = (0..80u16).map(|x| &buf[(x, row)]).collect();
    let start = cells
        .iter()
        .position(|c| c.symbol() == "l")
        .unwrap_or_else(|| panic!("{s}"));
    let underlined = |c: &ratatui::buffer::Cell| c.modifier.contains(ratatui::style::Modifier::UNDERLINED);
    assert!(cells[start..start + 9].iter().all(|c| underlined(c)), "{s}");
    assert!(!underlined(cells[start + 10]) && !underlined(cells[start - 2]));
    // Enter: message 500 is not loaded, so the page around it is asked for.
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        effects.contains(&Effect::LoadAround {
            conversation: ConversationId(1),
            message: MessageId(500)
        }),
        "{effects:?}"
    );
    assert_eq!(
        (app.view, app.open, app.focus),
        (View::Chats, Some(ConversationId(1)), Focus::Thread)
    );
    let page = |ids: std::ops::Range<i64>, more: bool| MessagePage {
        messages: ids.map(|i| msg(i, 1, "ana", &format!("m{i}"))).collect(),
        has_more: more,
        markers: vec![],
    };
    app.update(Action::Around {
        conversation: ConversationId(1),
        target: MessageId(500),
        older: page(451..501, true),
        newer: page(501..551, true),
    });
    assert_eq!(app.selected_message().map(|m| m.id), Some(MessageId(500)));
    let s = render(&app, 80, 24);
    assert!(s.contains("m500") && !s.contains("m501"), "{s}");
    // A live message does not land after the gap; scrolling down loads newer.
    app.update(ev(
        40,
        EventKind::MessageNew {
            message: msg(900, 1, "ana", "live"),
        },
    ));
    assert!(
        !app.threads[&ConversationId(1)]
            .messages
            .iter()
            .any(|m| m.id.0 == 900)
    );
    let mut asked = Vec::new();
    for _ in 0..60 {
        asked.extend(app.update(key('j')));
    }
    assert!(
        asked.contains(&Effect::LoadNewer {
            conversation: ConversationId(1),
            after: MessageId(550)
        }),
        "{asked:?}"
    );
    app.update(Action::NewerMessages {
        conversation: ConversationId(1),
        page: page(551..601, false),
    });
    assert_eq!(app.selected_message().map(|m| m.id), Some(MessageId(550)));
    // Esc in the results goes back where search started.
    app.update(key('/'));
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.view, View::Chats);
}

#[test]
fn templates_insert_into_the_composer() {
    let mut app = app();
    open_ana(&mut app);
    assert_eq!(app.update(ctrl('t')), vec![Effect::LoadTemplates]);
    app.update(Action::Templates(vec![
        template("welcome", "Hi {first_name}, welcome! {{braces}}"),
        template("odd", "Dear {nickname}"),
    ]));
    assert!(matches!(app.picker, Some(Picker::Template { .. })));
    let s = render(&app, 80, 24);
    assert!(
        s.contains("Templates") && s.contains("welcome") && s.contains("odd"),
        "{s}"
    );
    app.update(code(KeyCode::Enter));
    assert_eq!(app.composer.lines().join("\n"), "Hi Ana, welcome! {braces}");
    assert!(app.picker.is_none());
    // Unknown variables: the raw text, and the status line names them.
    app.composer = crate::tui::app::new_composer();
    app.update(ctrl('t'));
    app.update(Action::Templates(vec![
        template("welcome", "Hi {first_name}"),
        template("odd", "Dear {nickname}"),
    ]));
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.composer.lines().join("\n"), "Dear {nickname}");
    assert!(
        app.status.as_deref().is_some_and(|s| s.contains("nickname")),
        "{:?}",
        app.status
    );
}

#[test]
fn scheduled_view_lists_cancels_and_follows_live_updates() {
    let mut app = app();
    assert_eq!(app.update(key('5')), vec![Effect::LoadScheduled]);
    app.update(Action::Scheduled(vec![
        scheduled(2, ScheduledKind::Reminder, "call the bank", 180),
        scheduled(1, ScheduledKind::Message, "good morning!", 30),
    ]));
    let s = render(&app, 80, 24);
    assert!(s.contains("Scheduled"), "{s}");
    assert!(
        s.contains("✉ to ana · ") && s.contains("(in 30m)") && s.contains("good morning!"),
        "{s}"
    );
    assert!(
        s.contains("⏰ reminder · ") && s.contains("(in 3h)") && s.contains("call the bank"),
        "{s}"
    );
    // Soonest first; x cancels the selected one.
    assert_eq!(
        app.update(key('x')),
        vec![Effect::CancelScheduled(ScheduledId(1))]
    );
    let mut cancelled = scheduled(1, ScheduledKind::Message, "good morning!", 30);
    cancelled.status = ScheduledStatus::Cancelled;
    app.update(Action::ScheduledItem(cancelled));
    assert_eq!(app.scheduled.len(), 1);
    // Live: a new one appears, a sent one goes.
    app.update(ev(
        50,
        EventKind::ScheduledUpdated {
            item: scheduled(3, ScheduledKind::Message, "weekly check-in", 60),
        },
    ));
    assert_eq!(
        app.scheduled.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let mut sent = scheduled(2, ScheduledKind::Reminder, "call the bank", 180);
    sent.status = ScheduledStatus::Sent;
    app.update(ev(51, EventKind::ScheduledUpdated { item: sent }));
    assert!(!render(&app, 80, 24).contains("call the bank"));
    app.scheduled.clear();
    assert!(render(&app, 80, 24).contains("nothing scheduled"));
}

#[test]
fn announcements_show_a_banner_until_read() {
    let mut app = app();
    app.update(ev(
        60,
        EventKind::NotificationNew {
            notification: announcement("maintenance tonight at 22:00"),
        },
    ));
    let s = render(&app, 80, 24);
    let last = s.lines().last().unwrap_or_default();
    assert!(last.contains("📣 announcement: maintenance tonight"), "{s}");
    app.update(key('4'));
    let s = render(&app, 80, 24);
    assert!(s.contains("📣 announcement: maintenance tonight at 22:00"), "{s}");
    if let Some(n) = app.notifications.first_mut() {
        n.read_at = Some(t0());
    }
    let s = render(&app, 80, 24);
    assert!(
        !s.lines().last().unwrap_or_default().contains("announcement"),
        "{s}"
    );
    // Colour: the announcement is styled apart from other notifications.
    app.theme = Theme { color: true };
    app.notifications[0].read_at = None;
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap_or_else(|e| panic!("{e}"));
    term.draw(|f| views::draw(f, &app))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        term.backend()
            .buffer()
            .content
            .iter()
            .any(|c| c.fg == ratatui::style::Color::Magenta && c.symbol() == "m")
    );
}

#[test]
fn help_lists_the_new_keys() {
    let mut app = app();
    let s = help_text(&mut app, 80, 24);
    for text in [
        "edit my selected",
        "delete my selected",
        "react to",
        "insert a template",
        "mute",
        "archive",
        "Scheduled",
    ] {
        assert!(s.contains(text), "{text} missing from help:\n{s}");
    }
}

#[test]
fn hostile_rich_text_never_reaches_the_buffer() {
    for (i, bad) in naughty_strings().iter().enumerate() {
        let mut app = app();
        rich_thread(&mut app);
        {
            let t = app
                .threads
                .get_mut(&ConversationId(1))
                .unwrap_or_else(|| panic!("thread"));
            if let Some(q) = t.messages[1].reply.as_mut() {
                q.excerpt = bad.clone();
                q.sender = Some(bad.clone());
            }
            t.messages[2].reactions = vec![reaction(bad, &[bad, "mona"])];
            t.messages[5].attachment = Some(Attachment {
                id: FileId(1),
                name: bad.clone(),
                size: 3,
                content_type: bad.clone(),
            });
            t.messages[5].body = bad.clone();
        }
        app.notifications = vec![announcement(bad)];
        app.scheduled = vec![ScheduledItem {
            peer: Some(bad.clone()),
            ..scheduled(1, ScheduledKind::Message, bad, 10)
        }];
        let tag = format!("string #{i} {bad:?}");
        // Thread: the attachment selected, then the reactions (with who).
        for (w, h) in [(80, 24), (40, 12)] {
            assert_buffer_safe(&format!("{tag} thread at {w}x{h}"), &app, w, h);
        }
        for _ in 0..3 {
            app.update(key('k'));
        }
        app.update(key('+'));
        for c in bad.chars().take(16) {
            app.update(key(c));
        }
        for (w, h) in [(80, 24), (40, 12)] {
            assert_buffer_safe(&format!("{tag} reactions at {w}x{h}"), &app, w, h);
        }
        app.picker = Some(Picker::Template {
            templates: vec![template(bad, bad)],
            selected: 0,
        });
        assert_buffer_safe(&format!("{tag} templates"), &app, 80, 24);
        app.picker = None;
        app.search = Some(crate::tui::app::Search {
            query: bad.clone(),
            hits: vec![SearchHit {
                peer: bad.clone(),
                ..hit(3, 1, bad, vec![[0, 3], [2, 5], [4, 400]])
            }],
            ..Default::default()
        });
        for view in [View::Search, View::Scheduled, View::Notifications, View::Requests] {
            app.view = view;
            for (w, h) in [(80, 24), (40, 12)] {
                assert_buffer_safe(&format!("{tag} in {view:?} at {w}x{h}"), &app, w, h);
            }
        }
    }
}

#[test]
fn download_dir_setting_and_file_names() {
    use crate::tui::TuiSettings;
    use crate::tui::effects::{human_size, unused_path};
    let t: toml::Table = toml::from_str("download_dir = '/srv/dl'").unwrap_or_else(|e| panic!("{e}"));
    let s = TuiSettings::from_table(&t).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.download_dir, Some(std::path::PathBuf::from("/srv/dl")));
    let bad: toml::Table = toml::from_str("download_dir = 3").unwrap_or_else(|e| panic!("{e}"));
    assert!(TuiSettings::from_table(&bad).is_err());
    let typo: toml::Table = toml::from_str("downloads = '/x'").unwrap_or_else(|e| panic!("{e}"));
    assert!(TuiSettings::from_table(&typo).is_err());
    // A name that exists already is never overwritten.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let first = unused_path(dir.path(), "report.pdf").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, dir.path().join("report.pdf"));
    std::fs::write(&first, b"x").unwrap_or_else(|e| panic!("{e}"));
    let second = unused_path(dir.path(), "report.pdf").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second, dir.path().join("report (2).pdf"));
    std::fs::write(dir.path().join("README"), b"x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        unused_path(dir.path(), "README").unwrap_or_else(|e| panic!("{e}")),
        dir.path().join("README (2)")
    );
    assert_eq!(human_size(340), "340 B");
    assert_eq!(human_size(1_234_567), "1.2 MiB");
}

#[test]
fn every_command_is_in_the_example_config() {
    let example = include_str!("../../../../config.example.toml");
    for c in crate::tui::keys::Command::ALL {
        assert!(
            example.contains(&format!("# {} = ", c.name())),
            "config.example.toml [tui.keys] lacks {}",
            c.name()
        );
    }
    assert!(example.contains("# download_dir = "));
}
