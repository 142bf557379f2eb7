//! The one-line prompt (decline reason, intro, search, expertise filter)
//! and the y/n question before deleting a message.

use super::action::Effect;
use super::app::{App, Prompt, PromptKind};
use super::input::mentors_query;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn prompt_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = app.prompt.as_mut() else {
        return Vec::new();
    };
    if let PromptKind::ConfirmDelete(id) = prompt.kind {
        app.prompt = None;
        return if matches!(key.code, KeyCode::Char('y' | 'Y')) {
            app.status = Some("deleting…".into());
            vec![Effect::Delete(id)]
        } else {
            app.status = Some("not deleted".into());
            Vec::new()
        };
    }
    match key.code {
        KeyCode::Esc => {
            app.prompt = None;
            Vec::new()
        }
        KeyCode::Backspace => {
            prompt.input.pop();
            Vec::new()
        }
        KeyCode::Enter => {
            let Some(Prompt { kind, input }) = app.prompt.take() else {
                return Vec::new();
            };
            let text = input.trim().to_string();
            match kind {
                PromptKind::DeclineReason(id) => vec![Effect::Decline {
                    conversation: id,
                    reason: (!text.is_empty()).then_some(text),
                }],
                PromptKind::Intro(username) if !text.is_empty() => {
                    vec![Effect::Request {
                        username,
                        intro: text,
                    }]
                }
                PromptKind::Intro(_) => {
                    app.status = Some("an intro message is needed".into());
                    Vec::new()
                }
                PromptKind::Search => super::search::start(app, text),
                PromptKind::ConfirmDelete(_) => Vec::new(),
                PromptKind::Expertise => {
                    app.mentors_expertise = (!text.is_empty()).then_some(text);
                    vec![mentors_query(app)]
                }
            }
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            if prompt.input.chars().count() < 500 {
                prompt.input.push(c);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}
