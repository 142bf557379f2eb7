//! Keys in the composer: text goes into the textarea; Enter sends through
//! the outbox (or saves an edit), Alt-Enter (or Ctrl-J) inserts a newline,
//! Ctrl-T inserts a template, Esc leaves (cancelling a reply or an edit).

use super::action::Effect;
use super::app::{App, Focus};
use super::keys::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mchat_shared::api::ConversationStatus;
use std::time::Instant;

pub fn composer_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let is_text = matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    if !is_text {
        if key.code == KeyCode::Esc {
            app.focus = Focus::Thread;
            app.reply_to = None;
            if app.editing.take().is_some() {
                app.composer = super::app::new_composer();
                app.status = Some("edit cancelled".into());
            }
            return Vec::new();
        }
        let cmds = [
            Command::Newline,
            Command::Send,
            Command::Template,
            Command::NextPane,
            Command::PrevPane,
            Command::Reconnect,
            Command::Quit,
        ];
        match app.keys.find(&key, &cmds) {
            Some(Command::Newline) => {
                app.composer.insert_newline();
                return Vec::new();
            }
            Some(Command::Send) => return send(app),
            Some(Command::Template) => {
                app.status = Some("loading templates…".into());
                return vec![Effect::LoadTemplates];
            }
            Some(Command::NextPane) => {
                app.focus = Focus::List;
                return Vec::new();
            }
            Some(Command::PrevPane) => {
                app.focus = Focus::Thread;
                return Vec::new();
            }
            Some(Command::Quit) => {
                app.quit = true;
                return vec![Effect::Quit];
            }
            Some(Command::Reconnect) if app.conn != super::app::Conn::Connected => {
                app.status = Some("reconnecting now…".into());
                return vec![Effect::Reconnect];
            }
            _ => {}
        }
    }
    app.composer.input(key);
    let Some(id) = app.open else { return Vec::new() };
    let now = Instant::now();
    let due = app
        .last_typing_sent
        .is_none_or(|t| now.duration_since(t) >= super::app::TYPING_RENEW);
    if is_text && due {
        app.last_typing_sent = Some(now);
        return vec![Effect::Typing(id)];
    }
    Vec::new()
}

/// Enter in the composer: the text goes to the outbox (so nothing is lost)
/// and is sent from there.
fn send(app: &mut App) -> Vec<Effect> {
    let Some(c) = app.open_conversation() else {
        return Vec::new();
    };
    let body = app.composer.lines().join("\n");
    let body = body.trim();
    if let Some(id) = app.editing {
        if body.is_empty() {
            app.status = Some("an edit cannot be empty (d deletes the message)".into());
            return Vec::new();
        }
        let effect = Effect::Edit {
            message: id,
            body: body.to_string(),
        };
        app.editing = None;
        app.composer = super::app::new_composer();
        app.focus = Focus::Thread;
        app.status = Some("saving the edit…".into());
        return vec![effect];
    }
    if body.is_empty() {
        return Vec::new();
    }
    if c.status != ConversationStatus::Accepted {
        app.status = Some(format!(
            "this conversation is {}; it cannot take messages",
            c.status
        ));
        return Vec::new();
    }
    let effect = Effect::Send {
        conversation: c.id,
        target: c.peer.username.clone(),
        body: body.to_string(),
        reply_to: app.reply_to.take(),
    };
    app.composer = super::app::new_composer();
    app.last_typing_sent = None;
    if let Some(t) = app.open.and_then(|id| app.threads.get_mut(&id)) {
        t.scroll = 0;
    }
    vec![effect]
}
