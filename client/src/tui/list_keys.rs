//! Keys of the Requests, Mentors, Notifications and Scheduled views.

use super::action::Effect;
use super::app::{App, Prompt, PromptKind};
use super::input::{answer_request, mentors_query, open};
use super::keys::Command;
use crossterm::event::KeyEvent;
use mchat_shared::ConversationId;

fn list_move(app: &App, key: &KeyEvent, index: &mut usize, len: usize) -> bool {
    if app.keys.is(Command::Up, key) {
        *index = index.saturating_sub(1);
    } else if app.keys.is(Command::Down, key) {
        *index = (*index + 1).min(len.saturating_sub(1));
    } else {
        return false;
    }
    true
}

pub fn requests_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let ids: Vec<ConversationId> = app.incoming_requests().iter().map(|c| c.id).collect();
    let mut i = app.requests_selected.min(ids.len().saturating_sub(1));
    if list_move(app, &key, &mut i, ids.len()) {
        app.requests_selected = i;
        return Vec::new();
    }
    let Some(id) = ids.get(i).copied() else {
        return Vec::new();
    };
    match app
        .keys
        .find(&key, &[Command::Accept, Command::Decline, Command::Open])
    {
        Some(Command::Accept) => answer_request(app, id, true),
        Some(Command::Decline) => answer_request(app, id, false),
        Some(Command::Open) => open(app, id),
        _ => Vec::new(),
    }
}

pub fn mentors_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let mut i = app.mentor_selected;
    if list_move(app, &key, &mut i, app.mentors.len()) {
        app.mentor_selected = i;
        return Vec::new();
    }
    match app.keys.find(
        &key,
        &[Command::FilterAvailable, Command::FilterExpertise, Command::Open],
    ) {
        Some(Command::FilterAvailable) => {
            app.mentors_available_only = !app.mentors_available_only;
            vec![mentors_query(app)]
        }
        Some(Command::FilterExpertise) => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Expertise,
                input: app.mentors_expertise.clone().unwrap_or_default(),
            });
            Vec::new()
        }
        Some(Command::Open) => {
            if let Some(m) = app.mentors.get(i) {
                let existing = app
                    .conversations
                    .iter()
                    .find(|c| c.peer.username == m.username)
                    .map(|c| c.id);
                if let Some(id) = existing {
                    return open(app, id);
                }
                app.prompt = Some(Prompt {
                    kind: PromptKind::Intro(m.username.clone()),
                    input: String::new(),
                });
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn notifications_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let mut i = app.notification_selected;
    if list_move(app, &key, &mut i, app.notifications.len()) {
        app.notification_selected = i;
        return Vec::new();
    }
    match app.keys.find(&key, &[Command::MarkAllRead, Command::Open]) {
        Some(Command::MarkAllRead) => vec![Effect::MarkNotificationsRead],
        Some(Command::Open) => match app.notifications.get(i).and_then(|n| n.conversation_id) {
            Some(id) if app.conversation(id).is_some() => open(app, id),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

pub fn scheduled_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let mut i = app.scheduled_selected;
    if list_move(app, &key, &mut i, app.scheduled.len()) {
        app.scheduled_selected = i;
        return Vec::new();
    }
    let Some(item) = app.scheduled.get(i) else {
        return Vec::new();
    };
    match app.keys.find(&key, &[Command::CancelScheduled, Command::Open]) {
        Some(Command::CancelScheduled) => {
            app.status = Some("cancelling…".into());
            vec![Effect::CancelScheduled(item.id)]
        }
        Some(Command::Open) => match item.conversation_id {
            Some(id) if app.conversation(id).is_some() => open(app, id),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
