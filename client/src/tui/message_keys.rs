//! Keys that act on the message under the thread's cursor (reply, edit,
//! delete, react, save the attachment) and on a conversation's settings
//! (mute, archive).

use super::action::Effect;
use super::app::{App, Focus, Picker, Prompt, PromptKind};
use crate::sanitize::line;
use mchat_shared::ConversationId;
use mchat_shared::api::{Message, MessageKind};

/// The selected message, or a status line saying why there is none.
fn selected(app: &mut App) -> Option<Message> {
    let m = app.selected_message().cloned();
    if m.is_none() {
        app.status = Some(if app.open.is_some() {
            "no message selected (j/k in the thread select one)".into()
        } else {
            "open a conversation first".into()
        });
    }
    m
}

/// `r`: the composer answers the selected message.
pub fn reply(app: &mut App) -> Vec<Effect> {
    let Some(m) = selected(app) else { return Vec::new() };
    if m.kind == MessageKind::System || m.deleted_at.is_some() {
        app.status = Some("that message cannot be replied to".into());
        return Vec::new();
    }
    if app.editing.take().is_some() {
        app.composer = super::app::new_composer();
    }
    app.reply_to = Some(m.id);
    app.focus = Focus::Composer;
    Vec::new()
}

/// Refuses (with a status line) unless the message is mine and still there.
fn check_mine(app: &mut App, m: &Message, what: &str) -> bool {
    if app.can_change(m) {
        return true;
    }
    app.status = Some(
        if m.sender.as_deref() != Some(app.my_name()) || m.kind == MessageKind::System {
            format!("you can only {what} your own messages")
        } else {
            format!("a deleted message cannot be {what}ed")
        },
    );
    false
}

/// `e`: the composer is filled with my message's text; Enter saves it.
pub fn edit(app: &mut App) -> Vec<Effect> {
    let Some(m) = selected(app) else { return Vec::new() };
    if !check_mine(app, &m, "edit") {
        return Vec::new();
    }
    let mut composer = super::app::new_composer();
    composer.insert_str(&m.body);
    app.composer = composer;
    app.editing = Some(m.id);
    app.reply_to = None;
    app.focus = Focus::Composer;
    Vec::new()
}

/// `d`: asks y/n before deleting my message.
pub fn delete(app: &mut App) -> Vec<Effect> {
    let Some(m) = selected(app) else { return Vec::new() };
    if !check_mine(app, &m, "delete") {
        return Vec::new();
    }
    // The thread takes the keyboard so the message in question is marked.
    app.focus = Focus::Thread;
    app.prompt = Some(Prompt {
        kind: PromptKind::ConfirmDelete(m.id),
        input: String::new(),
    });
    Vec::new()
}

/// `+`: the reaction picker for the selected message.
pub fn react(app: &mut App) -> Vec<Effect> {
    let Some(m) = selected(app) else { return Vec::new() };
    if m.kind == MessageKind::System || m.deleted_at.is_some() {
        app.status = Some("that message cannot take reactions".into());
        return Vec::new();
    }
    app.focus = Focus::Thread;
    app.picker = Some(Picker::React {
        message: m.id,
        selected: 0,
        custom: String::new(),
    });
    Vec::new()
}

/// Adds my reaction, or removes it when I already reacted with that emoji.
pub fn toggle_reaction(app: &mut App, message: mchat_shared::MessageId, emoji: &str) -> Vec<Effect> {
    let emoji = match mchat_shared::validate::reaction(emoji) {
        Ok(e) => e,
        Err(e) => {
            app.status = Some(line(&e.to_string()).into_owned());
            return Vec::new();
        }
    };
    let me = app.my_name().to_string();
    let mine = app
        .open
        .and_then(|id| app.threads.get(&id))
        .and_then(|t| {
            let i = t.messages.binary_search_by(|x| x.id.cmp(&message)).ok()?;
            t.messages.get(i)
        })
        .is_some_and(|m| {
            m.reactions
                .iter()
                .any(|r| r.emoji == emoji && r.users.contains(&me))
        });
    vec![Effect::React {
        message,
        emoji,
        add: !mine,
    }]
}

/// `s` in the thread: saves the selected message's attachment.
pub fn save(app: &mut App) -> Vec<Effect> {
    let Some(m) = selected(app) else { return Vec::new() };
    let Some(file) = m.attachment.filter(|_| m.deleted_at.is_none()) else {
        app.status = Some("the selected message has no attachment".into());
        return Vec::new();
    };
    app.status = Some(format!("saving {}…", line(&file.name)));
    vec![Effect::Download {
        file,
        dir: app.download_dir.clone(),
    }]
}

/// `m` / `z`: flips muted or archived for a conversation.
pub fn settings(app: &mut App, id: ConversationId, mute: bool) -> Vec<Effect> {
    let Some(c) = app.conversation(id) else {
        return Vec::new();
    };
    let (muted, archived) = if mute {
        (Some(!c.muted), None)
    } else {
        (None, Some(!c.archived))
    };
    // The username beside the display name, as everywhere a person is named.
    let name = format!("{} @{}", line(&c.peer.display_name), line(&c.peer.username));
    app.status = Some(match (muted, archived) {
        (Some(true), _) => format!("muting {name}…"),
        (Some(false), _) => format!("unmuting {name}…"),
        (_, Some(true)) => format!("archiving {name}…"),
        _ => format!("unarchiving {name}…"),
    });
    vec![Effect::SetSettings {
        conversation: id,
        muted,
        archived,
    }]
}
