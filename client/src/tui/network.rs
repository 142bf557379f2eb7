//! Network results and live events → state. Live events are applied
//! idempotently (a replayed message replaces its copy), so a reconnect that
//! repeats history cannot duplicate anything.

use super::action::{Action, Effect};
use super::app::{App, Conn, Thread};
use crate::live::{ConnState, OfflineReason};
use mchat_shared::api::{Conversation, Message, MessageKind, ReadMarker};
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{ServerFrame, Signal};
use std::time::Instant;

pub fn apply(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(_) | Action::Tick => Vec::new(),
        Action::Resize(width, height) => {
            app.size = ratatui::layout::Rect::new(0, 0, width, height);
            Vec::new()
        }
        Action::Frame(ServerFrame::Event(ev)) => event(app, *ev),
        Action::Frame(ServerFrame::Signal(sig)) => signal(app, sig),
        Action::Conn(state) => conn(app, state),
        Action::Me(me) => {
            app.me = me;
            Vec::new()
        }
        Action::Conversations { list, cached } => conversations(app, list, cached),
        Action::CachedMessages {
            conversation,
            messages,
        } => {
            let t = app.threads.entry(conversation).or_default();
            if t.messages.is_empty() {
                t.has_more = true;
                t.merge(messages);
            }
            Vec::new()
        }
        Action::Messages {
            conversation,
            page,
            older,
        } => {
            let t = app.threads.entry(conversation).or_default();
            if !older && t.has_newer {
                // A window from a search jump: the newest page only joins it
                // when they overlap (no silent gap).
                let overlaps = page
                    .messages
                    .first()
                    .is_none_or(|p| t.last_id().is_some_and(|l| p.id <= l));
                if !overlaps {
                    return Vec::new();
                }
                t.has_newer = false;
            }
            if older {
                t.loading_older = false;
                t.has_more = page.has_more;
            } else if t
                .messages
                .first()
                .is_none_or(|m| page.messages.first().is_some_and(|p| p.id <= m.id))
            {
                // The newest page reaches back as far as what is loaded.
                t.has_more = page.has_more;
            }
            let cache = page.messages.clone();
            t.merge(page.messages);
            let me = app.my_name().to_string();
            if let Some(c) = app.conversation_mut(conversation) {
                for m in page.markers {
                    set_marker(c, m, &me);
                }
            }
            let mut effects = vec![Effect::CacheMessages {
                conversation,
                messages: cache,
            }];
            if app.is_reading(conversation) {
                effects.extend(super::input::mark_read(app, conversation));
            }
            effects
        }
        Action::Outbox(items) => {
            app.outbox = items;
            app.flushing = false;
            Vec::new()
        }
        Action::Sent(m) => {
            app.outbox.retain(|i| Some(&i.client_id) != m.client_id.as_ref());
            message(app, m, false)
        }
        Action::Conversation(c) => {
            let id = c.id;
            match app.conversation_mut(id) {
                Some(old) => *old = *c,
                None => app.conversations.push(*c),
            }
            app.resort();
            vec![Effect::LoadMessages {
                conversation: id,
                before: None,
            }]
        }
        Action::Mentors(list) => {
            app.mentors = list;
            app.mentor_selected = app.mentor_selected.min(app.mentors.len().saturating_sub(1));
            Vec::new()
        }
        Action::Notifications(list) => {
            app.notifications = list;
            app.notification_selected = app
                .notification_selected
                .min(app.notifications.len().saturating_sub(1));
            Vec::new()
        }
        Action::Around {
            conversation,
            target,
            older,
            newer,
        } => {
            let t = app.threads.entry(conversation).or_default();
            *t = Thread {
                has_more: older.has_more,
                has_newer: newer.has_more,
                ..Thread::default()
            };
            t.merge(older.messages.into_iter().chain(newer.messages));
            if !t.select(target) {
                app.status = Some("that message is no longer there".into());
            }
            let me = app.my_name().to_string();
            if let Some(c) = app.conversation_mut(conversation) {
                for m in older.markers {
                    set_marker(c, m, &me);
                }
            }
            Vec::new()
        }
        Action::NewerMessages { conversation, page } => {
            let Some(t) = app.threads.get_mut(&conversation) else {
                return Vec::new();
            };
            t.loading_newer = false;
            t.has_newer = page.has_more;
            let (was, scroll) = (t.messages.len(), t.scroll);
            t.merge(page.messages);
            if scroll == 0 {
                // Keep the selected message where it is; Down goes on from there.
                t.scroll = t.messages.len() - was;
            }
            Vec::new()
        }
        Action::Updated(m) => updated(app, m),
        Action::Settings {
            conversation,
            muted,
            archived,
        } => {
            settings(app, conversation, muted, archived);
            Vec::new()
        }
        Action::Archived(list) => {
            for c in list {
                match app.conversation_mut(c.id) {
                    Some(old) => *old = c,
                    None => app.conversations.push(c),
                }
            }
            app.resort();
            Vec::new()
        }
        Action::SearchResults { query, mut hits } => {
            if let Some(s) = app.search.as_mut().filter(|s| s.query == query) {
                s.loading = false;
                s.selected = 0;
                s.jumped = None;
                s.more = hits.len() > super::app::SEARCH_SHOWN;
                hits.truncate(super::app::SEARCH_SHOWN);
                if hits.is_empty() {
                    app.status = Some(format!("nothing found for \"{}\"", crate::sanitize::line(&query)));
                }
                s.hits = hits;
            }
            Vec::new()
        }
        Action::Templates(list) => {
            if list.is_empty() {
                app.status = Some("no templates yet: 'mchat template save NAME TEXT' makes one".into());
            } else if app.view == super::app::View::Chats && app.focus == super::app::Focus::Composer {
                app.status = None;
                app.picker = Some(super::app::Picker::Template {
                    templates: list,
                    selected: 0,
                });
            }
            Vec::new()
        }
        Action::Scheduled(list) => {
            app.scheduled.clear();
            for item in list {
                app.upsert_scheduled(item);
            }
            Vec::new()
        }
        Action::ScheduledItem(item) => {
            app.upsert_scheduled(item);
            Vec::new()
        }
        Action::Unreachable(e) => {
            let effects = apply(app, Action::Error(e));
            app.status_offline = true;
            effects
        }
        Action::Error(e) => {
            app.status_offline = false;
            app.flushing = false;
            // A failed page may be asked again by scrolling.
            for t in app.threads.values_mut() {
                t.loading_older = false;
                t.loading_newer = false;
            }
            if let Some(s) = app.search.as_mut() {
                s.loading = false;
            }
            app.status = Some(crate::sanitize::line(&e).into_owned());
            Vec::new()
        }
        Action::Note(n) => {
            app.status_offline = false;
            app.status = Some(crate::sanitize::line(&n).into_owned());
            Vec::new()
        }
    }
}

fn conversations(app: &mut App, list: Vec<Conversation>, cached: bool) -> Vec<Effect> {
    if cached && !app.conversations.is_empty() {
        return Vec::new();
    }
    let keep = app.selected_conversation().map(|c| c.id);
    let mut list = list;
    if app.show_archived && !cached {
        // The server's default list leaves archived ones out: keep those shown.
        let archived: Vec<Conversation> = app
            .conversations
            .iter()
            .filter(|c| c.archived && !list.iter().any(|n| n.id == c.id))
            .cloned()
            .collect();
        list.extend(archived);
    }
    app.conversations = list;
    crate::cli::commands::conversations::inbox_order(&mut app.conversations);
    app.selected = keep
        .and_then(|id| app.conversations.iter().position(|c| c.id == id))
        .unwrap_or(0);
    if let Some(peer) = app.start_with.clone()
        && let Some(i) = app.conversations.iter().position(|c| c.peer.username == peer)
    {
        app.selected = i;
        app.start_with = None;
    }
    let mut effects = Vec::new();
    if !cached {
        effects.push(Effect::CacheConversations(app.conversations.clone()));
    }
    if let Some(id) = app.open
        && app.is_reading(id)
    {
        effects.extend(super::input::mark_read(app, id));
    }
    effects
}

fn conn(app: &mut App, state: ConnState) -> Vec<Effect> {
    let was = app.conn;
    app.conn = match state {
        ConnState::Connecting => Conn::Connecting,
        ConnState::Connected => Conn::Connected,
        ConnState::Reconnecting { .. } => Conn::Reconnecting,
        ConnState::Offline(_) => Conn::Offline,
    };
    match state {
        ConnState::Connected => {
            if std::mem::take(&mut app.status_offline) {
                app.status = None;
            }
            // The server sends every online contact's presence after `ready`.
            app.presence.clear();
            app.replaying = true;
            app.flushing = true;
            let mut effects = vec![Effect::FlushOutbox { all: true }];
            if was != Conn::Connecting {
                // Back after an outage: catch up on what the log may not replay.
                effects.push(Effect::LoadConversations);
                if let Some(id) = app.open {
                    effects.push(Effect::LoadMessages {
                        conversation: id,
                        before: None,
                    });
                }
            }
            effects
        }
        ConnState::Offline(OfflineReason::Unauthorized { .. }) => {
            app.status = Some("the server no longer accepts this login: run 'mchat login' again".into());
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn event(app: &mut App, ev: Event) -> Vec<Effect> {
    let seq = ev.seq.0;
    let mut effects = match ev.kind {
        EventKind::MessageNew { message: m } => message(app, m, true),
        EventKind::ConversationUpdated {
            conversation_id,
            status,
            ..
        } => match app.conversation_mut(conversation_id) {
            Some(c) => {
                c.status = status;
                app.resort();
                Vec::new()
            }
            None => vec![Effect::LoadConversations],
        },
        EventKind::MarkersUpdated {
            conversation_id,
            markers,
        } => {
            let me = app.my_name().to_string();
            if let Some(c) = app.conversation_mut(conversation_id) {
                set_marker(c, markers, &me);
            }
            Vec::new()
        }
        EventKind::NotificationNew { notification } => {
            app.notifications.retain(|n| n.id != notification.id);
            app.notifications.insert(0, notification);
            Vec::new()
        }
        EventKind::NotificationsRead { ids, .. } => {
            // Read elsewhere is read here: the banner and counts follow.
            let at = ev.at;
            for n in app
                .notifications
                .iter_mut()
                .filter(|n| n.read_at.is_none() && (ids.is_empty() || ids.contains(&n.id)))
            {
                n.read_at = Some(at);
            }
            Vec::new()
        }
        EventKind::UserUpdated { user } => {
            if user.username == app.me.username {
                app.me = user;
            } else {
                for c in app
                    .conversations
                    .iter_mut()
                    .filter(|c| c.peer.username == user.username)
                {
                    c.peer.display_name = user.display_name.clone();
                    c.peer.availability = user.availability;
                }
                if let Some(m) = app.mentors.iter_mut().find(|m| m.username == user.username) {
                    *m = user;
                }
            }
            Vec::new()
        }
        EventKind::MessageUpdated { message } => updated(app, message),
        EventKind::SettingsUpdated {
            conversation_id,
            muted,
            archived,
        } => {
            if app.conversation(conversation_id).is_none() {
                vec![Effect::LoadConversations]
            } else {
                settings(app, conversation_id, muted, archived);
                Vec::new()
            }
        }
        EventKind::ScheduledUpdated { item } => {
            app.upsert_scheduled(item);
            Vec::new()
        }
        EventKind::Resync => {
            let mut e = vec![Effect::LoadConversations];
            if let Some(id) = app.open {
                e.push(Effect::LoadMessages {
                    conversation: id,
                    before: None,
                });
            }
            e.push(Effect::SaveCursor { seq, reset: true });
            return e;
        }
    };
    effects.push(Effect::SaveCursor { seq, reset: false });
    effects
}

fn set_marker(c: &mut Conversation, m: ReadMarker, me: &str) {
    if m.username == me {
        if c.last_message.as_ref().is_some_and(|l| l.id <= m.read_up_to) {
            c.unread = 0;
        }
        c.my_markers = m;
    } else if m.username == c.peer.username {
        c.peer_markers = m;
    }
}

/// A new (or edited) message, live or just sent by me.
pub fn message(app: &mut App, m: Message, live: bool) -> Vec<Effect> {
    let id = m.conversation_id;
    let me = app.my_name().to_string();
    let mine = m.sender.as_deref() == Some(me.as_str());
    let system = m.kind == MessageKind::System;
    let reading = app.is_reading(id);
    let Some(c) = app.conversation_mut(id) else {
        return vec![Effect::LoadConversations];
    };
    let is_new = c.last_message.as_ref().is_none_or(|l| l.id < m.id) && c.my_markers.read_up_to < m.id;
    let muted = c.muted;
    if c.last_message.as_ref().is_none_or(|l| l.id <= m.id) {
        c.last_message = Some(m.clone());
        c.last_activity_at = c.last_activity_at.max(m.created_at);
        if !system {
            c.awaiting_reply = !mine;
        }
    }
    if is_new && !mine && !reading {
        c.unread += 1;
        c.archived = false;
    }
    if mine && live && c.last_message.as_ref().is_some_and(|l| l.id == m.id) {
        // Sent from another device: sending moves my read marker to it on
        // the server, so everything before it is read here too (only when
        // it is the newest: a replayed older one says nothing of later ones).
        c.unread = 0;
        if c.my_markers.read_up_to < m.id {
            c.my_markers.read_up_to = m.id;
        }
    }
    if let Some(sender) = &m.sender
        && app.typing.get(&id).is_some_and(|(who, _)| who == sender)
    {
        app.typing.remove(&id);
    }
    if let Some(t) = app.threads.get_mut(&id) {
        // After a jump into history, newer messages load when scrolled to.
        if !t.has_newer {
            t.merge([m.clone()]);
        }
    } else if reading {
        app.threads.insert(id, Thread::default());
        if let Some(t) = app.threads.get_mut(&id) {
            t.merge([m.clone()]);
        }
    }
    app.resort();
    let mut effects = vec![Effect::CacheMessages {
        conversation: id,
        messages: vec![m.clone()],
    }];
    if is_new && !mine && reading {
        effects.push(Effect::MarkRead {
            conversation: id,
            up_to: m.id,
        });
    } else if is_new && !mine && live && !app.replaying && bell_allowed(app, muted) {
        effects.push(Effect::Bell);
    }
    effects
}

/// A message edited, deleted or reacted to: replaced in place (never
/// counted as new, never a bell).
fn updated(app: &mut App, m: Message) -> Vec<Effect> {
    let id = m.conversation_id;
    let mut requoted = Vec::new();
    if let Some(t) = app.threads.get_mut(&id) {
        if let Ok(i) = t.messages.binary_search_by(|x| x.id.cmp(&m.id)) {
            t.messages[i] = m.clone();
        }
        // Replies quote it: the quote follows the edit or the deletion (a
        // deleted "my password is …" must not stay on screen).
        let quote = quote_of(&m);
        for r in t.messages.iter_mut().filter(|r| r.reply_to == Some(m.id)) {
            if r.reply.as_ref() != Some(&quote) {
                r.reply = Some(quote.clone());
                requoted.push(r.clone());
            }
        }
    }
    if let Some(c) = app.conversation_mut(id)
        && c.last_message.as_ref().is_some_and(|l| l.id == m.id)
    {
        c.last_message = Some(m.clone());
        app.cache_dirty = true;
    }
    if m.deleted_at.is_some() {
        if app.editing == Some(m.id) {
            app.editing = None;
            app.composer = super::app::new_composer();
            app.status = Some("the message you were editing was deleted".into());
        }
        if app.reply_to == Some(m.id) {
            app.reply_to = None;
        }
    }
    requoted.push(m);
    vec![Effect::CacheMessages {
        conversation: id,
        messages: requoted,
    }]
}

/// How a reply quotes `m` now: what the server's quote of it would say.
fn quote_of(m: &Message) -> mchat_shared::api::ReplyQuote {
    let deleted = m.deleted_at.is_some();
    mchat_shared::api::ReplyQuote {
        id: m.id,
        sender: m.sender.clone(),
        excerpt: if deleted {
            String::new()
        } else {
            m.body
                .chars()
                .take(mchat_shared::limits::QUOTE_MAX_CHARS)
                .collect()
        },
        deleted,
    }
}

/// My muted/archived settings of a conversation changed.
fn settings(app: &mut App, id: mchat_shared::ConversationId, muted: bool, archived: bool) {
    if let Some(c) = app.conversation_mut(id) {
        c.muted = muted;
        c.archived = archived;
        app.cache_dirty = true;
    }
    // The highlighted conversation may have just been hidden.
    if app.selected_conversation().is_some_and(|c| !app.visible(c))
        && let Some(i) = (0..app.conversations.len()).find(|&i| app.visible(&app.conversations[i]))
    {
        app.selected = i;
    }
}

fn bell_allowed(app: &App, muted: bool) -> bool {
    app.bell && !muted && app.me.availability != Some(mchat_shared::api::Availability::Busy)
}

fn signal(app: &mut App, sig: Signal) -> Vec<Effect> {
    match sig {
        Signal::Typing {
            conversation_id,
            username,
            active,
        } => {
            if username == app.me.username {
                return Vec::new();
            }
            if active {
                app.typing.insert(
                    conversation_id,
                    (username, Instant::now() + super::app::TYPING_TTL),
                );
            } else {
                app.typing.remove(&conversation_id);
            }
            Vec::new()
        }
        Signal::Presence { username, state, .. } => {
            app.presence.insert(username, state);
            Vec::new()
        }
        Signal::Ready { seq } => {
            app.replaying = false;
            vec![Effect::SaveCursor {
                seq: seq.0,
                reset: false,
            }]
        }
    }
}
