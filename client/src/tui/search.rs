//! Search everywhere (`/`): the query goes to the server, the results list
//! shows highlighted snippets, and Enter jumps to the message in its
//! conversation (the page around it is loaded, the message selected); `n`
//! then goes to the next hit, Esc leaves the results.

use super::action::Effect;
use super::app::{App, Focus, Search, View};
use super::keys::Command;
use crossterm::event::KeyEvent;
use mchat_shared::limits::SEARCH_QUERY_MAX_CHARS;

/// Enter in the search prompt.
pub fn start(app: &mut App, query: String) -> Vec<Effect> {
    if query.is_empty() {
        app.status = Some("type something to search for".into());
        return Vec::new();
    }
    if query.chars().count() > SEARCH_QUERY_MAX_CHARS {
        app.status = Some(format!("a search is at most {SEARCH_QUERY_MAX_CHARS} characters"));
        return Vec::new();
    }
    let back = match (app.view, &app.search) {
        (View::Search, Some(s)) => s.back,
        (v, _) => Some(v),
    };
    app.search = Some(Search {
        query: query.clone(),
        loading: true,
        back,
        ..Default::default()
    });
    app.view = View::Search;
    vec![Effect::Search(query)]
}

/// Keys of the results list.
pub fn results_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let cmds = [Command::Up, Command::Down, Command::Open, Command::Back];
    let Some(cmd) = app.keys.find(&key, &cmds) else {
        return Vec::new();
    };
    let Some(s) = app.search.as_mut() else {
        app.view = View::Chats;
        return Vec::new();
    };
    match cmd {
        Command::Up => {
            s.selected = s.selected.saturating_sub(1);
            Vec::new()
        }
        Command::Down => {
            s.selected = (s.selected + 1).min(s.hits.len().saturating_sub(1));
            Vec::new()
        }
        Command::Open => {
            let i = s.selected;
            jump(app, i)
        }
        _ => {
            app.view = s.back.filter(|v| *v != View::Search).unwrap_or(View::Chats);
            Vec::new()
        }
    }
}

/// `n` after a jump: the next hit.
pub fn next_hit(app: &mut App) -> Vec<Effect> {
    let Some(s) = app.search.as_ref() else {
        return Vec::new();
    };
    let next = s.jumped.map_or(0, |i| i + 1);
    if next >= s.hits.len() {
        app.status = Some(format!(
            "no more hits for \"{}\"",
            crate::sanitize::line(&s.query)
        ));
        return Vec::new();
    }
    jump(app, next)
}

/// Opens hit `i`'s conversation with the message selected.
pub fn jump(app: &mut App, i: usize) -> Vec<Effect> {
    let Some(hit) = app.search.as_ref().and_then(|s| s.hits.get(i)) else {
        return Vec::new();
    };
    let id = hit.message.conversation_id;
    let target = hit.message.id;
    if let Some(s) = app.search.as_mut() {
        s.selected = i;
        s.jumped = Some(i);
    }
    let mut effects = Vec::new();
    if app.conversation(id).is_none() {
        // Only archived conversations are missing from the list.
        app.show_archived = true;
        effects.push(Effect::LoadArchived);
    }
    app.view = View::Chats;
    if let Some(pos) = app.conversations.iter().position(|c| c.id == id) {
        app.selected = pos;
    }
    if app.open != Some(id) {
        app.composer = super::app::new_composer();
        app.reply_to = None;
        app.editing = None;
    }
    app.open = Some(id);
    app.focus = Focus::Thread;
    let loaded = app.threads.get_mut(&id).is_some_and(|t| t.select(target));
    if !loaded {
        effects.push(Effect::LoadAround {
            conversation: id,
            message: target,
        });
    }
    effects.extend(super::input::mark_read(app, id));
    effects
}
