//! The one-line prompt (decline reason, intro, search, expertise filter)
//! and thread search.

use super::action::Effect;
use super::app::{App, Focus, Prompt, PromptKind};
use super::input::mentors_query;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn prompt_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = app.prompt.as_mut() else {
        return Vec::new();
    };
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
                PromptKind::Search => {
                    search(app, text);
                    Vec::new()
                }
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

/// Highlights `term` in the open thread and scrolls to its newest match.
fn search(app: &mut App, term: String) {
    if term.is_empty() {
        app.search = None;
        return;
    }
    let needle = term.to_lowercase();
    // The same term again: the next older match.
    let again = app.search.as_deref() == Some(term.as_str());
    let found = app.open.and_then(|id| app.threads.get_mut(&id)).and_then(|t| {
        let end = if again {
            t.messages.len().saturating_sub(t.scroll + 1)
        } else {
            t.messages.len()
        };
        let pos = t.messages[..end]
            .iter()
            .rposition(|m| m.body.to_lowercase().contains(&needle))?;
        t.scroll = t.messages.len() - 1 - pos;
        Some(())
    });
    app.status = Some(if found.is_some() {
        format!("found \"{}\"", crate::sanitize::line(&term))
    } else {
        format!("no loaded message contains \"{}\"", crate::sanitize::line(&term))
    });
    app.search = Some(term);
    app.focus = Focus::Thread;
}
