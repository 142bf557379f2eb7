//! Keys → state changes and effects, per view and pane. The bindings come
//! from [`super::keys::KeyMap`]; in the composer only non-character keys
//! (and ctrl/alt combinations) are commands, everything else is text.

use super::action::Effect;
use super::app::{App, Focus, Prompt, PromptKind, View};
use super::keys::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mchat_shared::ConversationId;
use mchat_shared::api::{Availability, ConversationStatus};

const PAGE: usize = 10;

pub fn key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![Effect::Quit];
    }
    if app.help {
        // Up/Down/PageUp/PageDown/j/k scroll the overlay; anything else closes it.
        let step: i32 = match key.code {
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::PageDown | KeyCode::Char(' ') => PAGE as i32,
            KeyCode::PageUp => -(PAGE as i32),
            _ => {
                app.help = false;
                return Vec::new();
            }
        };
        let max = super::views::help::line_count(app).saturating_sub(1);
        app.help_scroll = (i32::from(app.help_scroll) + step).clamp(0, max as i32) as u16;
        return Vec::new();
    }
    if app.picker.is_some() {
        return super::picker::picker_key(app, key);
    }
    if app.prompt.is_some() {
        return super::prompt::prompt_key(app, key);
    }
    if app.view == View::Chats && app.focus == Focus::Composer {
        return super::compose::composer_key(app, key);
    }
    app.status = None;
    // In the thread, `s` saves the selected attachment (elsewhere it cycles availability).
    if app.view == View::Chats && app.focus == Focus::Thread && app.keys.is(Command::SaveFile, &key) {
        return super::message_keys::save(app);
    }
    let global = [
        Command::Quit,
        Command::Help,
        Command::ViewChats,
        Command::ViewRequests,
        Command::ViewMentors,
        Command::ViewNotifications,
        Command::ViewScheduled,
        Command::Availability,
        Command::Search,
        Command::Reconnect,
    ];
    if let Some(cmd) = app.keys.find(&key, &global) {
        return global_command(app, cmd);
    }
    match app.view {
        View::Chats => chats_key(app, key),
        View::Requests => super::list_keys::requests_key(app, key),
        View::Mentors => super::list_keys::mentors_key(app, key),
        View::Notifications => super::list_keys::notifications_key(app, key),
        View::Scheduled => super::list_keys::scheduled_key(app, key),
        View::Search => super::search::results_key(app, key),
    }
}

fn global_command(app: &mut App, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Quit => {
            app.quit = true;
            vec![Effect::Quit]
        }
        Command::Help => {
            app.help = true;
            app.help_scroll = 0;
            Vec::new()
        }
        Command::Reconnect => {
            if app.conn == super::app::Conn::Connected {
                app.status = Some("connected already".into());
                Vec::new()
            } else {
                app.status = Some("reconnecting now…".into());
                vec![Effect::Reconnect]
            }
        }
        Command::ViewChats => {
            app.view = View::Chats;
            // Back in front of the open thread: what it shows is read now.
            match app.open {
                Some(id) => mark_read(app, id),
                None => Vec::new(),
            }
        }
        Command::ViewRequests => {
            app.view = View::Requests;
            Vec::new()
        }
        Command::ViewMentors => {
            app.view = View::Mentors;
            vec![mentors_query(app)]
        }
        Command::ViewNotifications => {
            app.view = View::Notifications;
            vec![Effect::LoadNotifications]
        }
        Command::ViewScheduled => {
            app.view = View::Scheduled;
            vec![Effect::LoadScheduled]
        }
        Command::Search => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Search,
                input: app.search.as_ref().map(|s| s.query.clone()).unwrap_or_default(),
            });
            Vec::new()
        }
        Command::Availability => {
            if !app.is_mentor() {
                app.status = Some("only mentors have an availability".into());
                return Vec::new();
            }
            let next = match app.me.availability {
                Some(Availability::Available) => Availability::Away,
                Some(Availability::Away) => Availability::Busy,
                _ => Availability::Available,
            };
            app.me.availability = Some(next);
            vec![Effect::SetAvailability(next)]
        }
        _ => Vec::new(),
    }
}

pub fn mentors_query(app: &App) -> Effect {
    Effect::LoadMentors {
        available_only: app.mentors_available_only,
        expertise: app.mentors_expertise.clone(),
    }
}

/// Opens a conversation in the thread pane.
pub fn open(app: &mut App, id: ConversationId) -> Vec<Effect> {
    app.view = View::Chats;
    if let Some(i) = app.conversations.iter().position(|c| c.id == id) {
        app.selected = i;
    }
    if app.open != Some(id) {
        app.composer = super::app::new_composer();
        app.reply_to = None;
        app.editing = None;
    }
    if let Some(s) = app.search.as_mut() {
        s.jumped = None;
    }
    app.open = Some(id);
    let accepted = app
        .conversation(id)
        .is_some_and(|c| c.status == ConversationStatus::Accepted);
    app.focus = if accepted { Focus::Composer } else { Focus::Thread };
    if let Some(t) = app.threads.get_mut(&id) {
        if t.has_newer {
            // A window from a search jump: start again from the newest page.
            *t = super::app::Thread::default();
        }
        t.scroll = 0;
    }
    let mut effects = vec![Effect::LoadMessages {
        conversation: id,
        before: None,
    }];
    effects.extend(mark_read(app, id));
    effects
}

/// Marks the conversation read up to its newest known message, if it has unread ones.
pub fn mark_read(app: &mut App, id: ConversationId) -> Vec<Effect> {
    let thread_last = app.threads.get(&id).and_then(|t| t.last_id());
    let Some(c) = app.conversation_mut(id) else {
        return Vec::new();
    };
    if c.unread == 0 {
        return Vec::new();
    }
    let up_to = thread_last
        .into_iter()
        .chain(c.last_message.as_ref().map(|m| m.id))
        .max();
    c.unread = 0;
    up_to
        .map(|up_to| {
            vec![Effect::MarkRead {
                conversation: id,
                up_to,
            }]
        })
        .unwrap_or_default()
}

fn move_selection(app: &mut App, down: bool) {
    let n = app.conversations.len();
    if n == 0 {
        return;
    }
    let mut i = app.selected;
    for _ in 0..n {
        i = if down {
            (i + 1).min(n - 1)
        } else {
            i.saturating_sub(1)
        };
        if app.visible(&app.conversations[i]) {
            app.selected = i;
            return;
        }
        if i == 0 || i == n - 1 {
            return;
        }
    }
}

fn next_unread(app: &mut App, forward: bool) -> Vec<Effect> {
    let n = app.conversations.len();
    for step in 1..=n {
        let i = if forward {
            (app.selected + step) % n
        } else {
            (app.selected + n * 2 - step) % n
        };
        if app.conversations[i].unread > 0 {
            let id = app.conversations[i].id;
            return open(app, id);
        }
    }
    app.status = Some("no unread conversations: inbox zero".into());
    Vec::new()
}

fn chats_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let cmds = [
        Command::NextPane,
        Command::PrevPane,
        Command::NextUnread,
        Command::PrevUnread,
        Command::Accept,
        Command::Decline,
        Command::CompleteChat,
        Command::ReopenChat,
        Command::Retry,
        Command::DropQueued,
        Command::Compose,
        Command::Reply,
        Command::Edit,
        Command::Delete,
        Command::React,
        Command::Mute,
        Command::Archive,
        Command::ShowArchived,
        Command::Up,
        Command::Down,
        Command::PageUp,
        Command::PageDown,
        Command::Top,
        Command::Bottom,
        Command::Open,
        Command::Back,
    ];
    let Some(cmd) = app.keys.find(&key, &cmds) else {
        // Text typed at a conversation that cannot take it: say why rather
        // than swallow it.
        let text = matches!(key.code, KeyCode::Char(_))
            && !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        if text
            && app.focus == Focus::Thread
            && let Some(why) = app.open_conversation().and_then(closed_reason)
        {
            app.status = Some(why);
        }
        return Vec::new();
    };
    let in_list = app.focus == Focus::List;
    match cmd {
        Command::NextPane => {
            app.focus = match app.focus {
                Focus::List if app.open.is_some() => Focus::Thread,
                Focus::List => Focus::List,
                Focus::Thread => Focus::Composer,
                Focus::Composer => Focus::List,
            };
            Vec::new()
        }
        Command::PrevPane => {
            app.focus = match app.focus {
                Focus::List if app.open.is_some() => Focus::Composer,
                Focus::Composer => Focus::Thread,
                _ => Focus::List,
            };
            Vec::new()
        }
        Command::NextUnread if app.search.as_ref().is_some_and(|s| s.jumped.is_some()) => {
            super::search::next_hit(app)
        }
        Command::NextUnread => next_unread(app, true),
        Command::PrevUnread => next_unread(app, false),
        Command::Accept | Command::Decline => {
            let target = if in_list {
                app.selected_conversation().map(|c| c.id)
            } else {
                app.open
            };
            target
                .map(|id| answer_request(app, id, cmd == Command::Accept))
                .unwrap_or_default()
        }
        Command::CompleteChat | Command::ReopenChat => {
            let target = if in_list {
                app.selected_conversation().map(|c| (c.id, c.status))
            } else {
                app.open_conversation().map(|c| (c.id, c.status))
            };
            let Some((id, status)) = target else {
                return Vec::new();
            };
            complete_or_reopen(app, id, status, cmd == Command::CompleteChat)
        }
        Command::Retry | Command::DropQueued => {
            let Some(id) = app.open else { return Vec::new() };
            let failed = app
                .queued_for(id)
                .filter(|i| i.last_error.is_some())
                .map(|i| i.id)
                .last();
            match failed {
                Some(item) if cmd == Command::Retry => {
                    app.status = Some("retrying…".into());
                    vec![Effect::RetryOutbox(item)]
                }
                Some(item) => vec![Effect::DropOutbox(item)],
                None => {
                    app.status = Some("no failed message in this conversation".into());
                    Vec::new()
                }
            }
        }
        Command::Reply => super::message_keys::reply(app),
        Command::Edit => super::message_keys::edit(app),
        Command::Delete => super::message_keys::delete(app),
        Command::React => super::message_keys::react(app),
        Command::Mute | Command::Archive => {
            let target = if in_list {
                app.selected_conversation().map(|c| c.id)
            } else {
                app.open
            };
            target
                .map(|id| super::message_keys::settings(app, id, cmd == Command::Mute))
                .unwrap_or_default()
        }
        Command::ShowArchived => {
            app.show_archived = !app.show_archived;
            if app.show_archived {
                app.status = Some("archived chats shown (A hides them)".into());
                vec![Effect::LoadArchived]
            } else {
                app.status = Some("archived chats hidden".into());
                let keep = app.selected_conversation().is_some_and(|c| app.visible(c));
                if !keep {
                    move_selection(app, true);
                    move_selection(app, false);
                }
                Vec::new()
            }
        }
        Command::Compose if app.open.is_some() => {
            match app.open_conversation().and_then(closed_reason) {
                Some(why) => app.status = Some(why),
                None => app.focus = Focus::Composer,
            }
            Vec::new()
        }
        Command::Up
        | Command::Down
        | Command::PageUp
        | Command::PageDown
        | Command::Top
        | Command::Bottom
            if in_list =>
        {
            let n = match cmd {
                Command::PageUp | Command::PageDown => PAGE,
                Command::Top | Command::Bottom => app.conversations.len(),
                _ => 1,
            };
            let down = matches!(cmd, Command::Down | Command::PageDown | Command::Bottom);
            app.list_touched = Some(std::time::Instant::now());
            for _ in 0..n {
                move_selection(app, down);
            }
            Vec::new()
        }
        Command::Up
        | Command::Down
        | Command::PageUp
        | Command::PageDown
        | Command::Top
        | Command::Bottom => scroll_thread(app, cmd),
        Command::Open if in_list => match app.selected_conversation().map(|c| c.id) {
            Some(id) => open(app, id),
            None => Vec::new(),
        },
        Command::Back if !in_list => {
            app.focus = Focus::List;
            if let Some(s) = app.search.as_mut() {
                s.jumped = None;
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Why nothing can be written in `c` now (`None`: it is open).
fn closed_reason(c: &mchat_shared::api::Conversation) -> Option<String> {
    let why = match c.status {
        ConversationStatus::Accepted => return None,
        ConversationStatus::Pending => "the request is not accepted yet: nothing can be written until it is",
        ConversationStatus::Completed => {
            "this conversation is completed (read-only): typing is ignored; the mentor reopens it with O"
        }
        ConversationStatus::Declined => "the request was declined: this conversation takes no messages",
        ConversationStatus::Expired => "the request expired: ask again from the Mentors view (3)",
    };
    Some(why.into())
}

/// `C` / `O`: complete an open chat or reopen a completed one (mentors);
/// anything else says why not, on the status line.
fn complete_or_reopen(
    app: &mut App,
    id: ConversationId,
    status: ConversationStatus,
    complete: bool,
) -> Vec<Effect> {
    if app.me.role != mchat_shared::api::Role::Mentor && app.me.role != mchat_shared::api::Role::Admin {
        app.status = Some("only the mentor completes or reopens a conversation".into());
        return Vec::new();
    }
    match (complete, status) {
        (true, ConversationStatus::Accepted) => {
            app.status = Some("completing…".into());
            vec![Effect::Complete(id)]
        }
        (false, ConversationStatus::Completed) => {
            app.status = Some("reopening…".into());
            vec![Effect::Reopen(id)]
        }
        (true, ConversationStatus::Completed) => {
            app.status = Some("already completed (O reopens it)".into());
            Vec::new()
        }
        (false, ConversationStatus::Accepted) => {
            app.status = Some("the conversation is open already".into());
            Vec::new()
        }
        (_, other) => {
            app.status = Some(format!("a {other} conversation cannot be completed or reopened"));
            Vec::new()
        }
    }
}

/// Scrolls the open thread; reaching the top asks for an older page.
fn scroll_thread(app: &mut App, cmd: Command) -> Vec<Effect> {
    let Some(id) = app.open else { return Vec::new() };
    let Some(t) = app.threads.get_mut(&id) else {
        return Vec::new();
    };
    let max = t.messages.len().saturating_sub(1);
    t.scroll = match cmd {
        Command::Up => t.scroll + 1,
        Command::PageUp => t.scroll + PAGE,
        Command::Down => t.scroll.saturating_sub(1),
        Command::PageDown => t.scroll.saturating_sub(PAGE),
        Command::Top => max,
        _ => 0,
    }
    .min(max);
    if t.scroll >= max && t.has_more && !t.loading_older {
        t.loading_older = true;
        let before = t.messages.first().map(|m| m.id);
        return vec![Effect::LoadMessages {
            conversation: id,
            before,
        }];
    }
    if t.scroll == 0
        && t.has_newer
        && !t.loading_newer
        && let Some(after) = t.last_id()
    {
        t.loading_newer = true;
        return vec![Effect::LoadNewer {
            conversation: id,
            after,
        }];
    }
    Vec::new()
}

pub fn answer_request(app: &mut App, id: ConversationId, accept: bool) -> Vec<Effect> {
    let me = app.my_name().to_string();
    let Some(c) = app.conversation(id) else {
        return Vec::new();
    };
    if c.status != ConversationStatus::Pending || c.requested_by == me {
        app.status = Some("that is not a request waiting for your answer".into());
        return Vec::new();
    }
    if accept {
        vec![Effect::Accept(id)]
    } else {
        app.prompt = Some(Prompt {
            kind: PromptKind::DeclineReason(id),
            input: String::new(),
        });
        Vec::new()
    }
}
