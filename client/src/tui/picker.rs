//! Keys of the popup pickers: the reaction picker (`+`: arrows or 1–7
//! choose a common emoji, or type one; Enter toggles my reaction) and the
//! template picker (Ctrl-T in the composer: Enter inserts the template,
//! filled with the peer's details).

use super::action::Effect;
use super::app::{App, Focus, Picker, QUICK_REACTIONS};
use super::keys::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mchat_shared::limits::REACTION_MAX_CHARS;

pub fn picker_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.code == KeyCode::Esc {
        app.picker = None;
        return Vec::new();
    }
    match app.picker.take() {
        Some(Picker::React {
            message,
            selected,
            custom,
        }) => react_key(app, key, message, selected, custom),
        Some(Picker::Template { templates, selected }) => {
            let n = templates.len();
            if app.keys.is(Command::Up, &key) {
                app.picker = Some(Picker::Template {
                    templates,
                    selected: selected.saturating_sub(1),
                });
            } else if app.keys.is(Command::Down, &key) {
                app.picker = Some(Picker::Template {
                    templates,
                    selected: (selected + 1).min(n.saturating_sub(1)),
                });
            } else if key.code == KeyCode::Enter {
                if let Some(t) = templates.get(selected) {
                    insert_template(app, &t.name, &t.body);
                }
            } else {
                app.picker = Some(Picker::Template { templates, selected });
            }
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn react_key(
    app: &mut App,
    key: KeyEvent,
    message: mchat_shared::MessageId,
    mut selected: usize,
    mut custom: String,
) -> Vec<Effect> {
    let n = QUICK_REACTIONS.len();
    let plain = !key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match key.code {
        KeyCode::Enter => {
            let emoji = if custom.trim().is_empty() {
                QUICK_REACTIONS.get(selected).copied().unwrap_or("👍").to_string()
            } else {
                custom
            };
            return super::message_keys::toggle_reaction(app, message, &emoji);
        }
        KeyCode::Left | KeyCode::Up | KeyCode::BackTab => selected = (selected + n - 1) % n,
        KeyCode::Right | KeyCode::Down | KeyCode::Tab => selected = (selected + 1) % n,
        KeyCode::Backspace => {
            custom.pop();
        }
        KeyCode::Char(c @ '1'..='9') if plain && custom.is_empty() => {
            let i = c as usize - '1' as usize;
            if let Some(emoji) = QUICK_REACTIONS.get(i) {
                return super::message_keys::toggle_reaction(app, message, emoji);
            }
        }
        KeyCode::Char(c) if plain && custom.chars().count() < REACTION_MAX_CHARS => custom.push(c),
        _ => {}
    }
    app.picker = Some(Picker::React {
        message,
        selected,
        custom,
    });
    Vec::new()
}

/// Puts a template, filled in for the open conversation's peer, at the
/// composer's cursor. When it cannot be filled (unknown placeholders, a
/// stray brace) the raw text goes in and the status line says why.
pub fn insert_template(app: &mut App, name: &str, body: &str) {
    let vars = app
        .open_conversation()
        .map(|c| crate::templates::brief_vars(&c.peer, &app.me))
        .unwrap_or_default();
    let name = crate::sanitize::line(name).into_owned();
    match crate::templates::render(body, &vars) {
        Ok(text) => {
            app.composer.insert_str(&text);
            app.status = Some(format!("inserted template {name}"));
        }
        Err(e) => {
            app.composer.insert_str(body);
            let unknown: Vec<String> = crate::templates::variables(body)
                .into_iter()
                .filter(|v| !vars.contains_key(v))
                .collect();
            let why = match e {
                crate::templates::TemplateError::Unknown { .. } if !unknown.is_empty() => {
                    format!("unknown variables: {}", unknown.join(", "))
                }
                other => other.to_string(),
            };
            app.status = Some(format!(
                "inserted template {name} as written ({})",
                crate::sanitize::line(&why)
            ));
        }
    }
    app.focus = Focus::Composer;
}
