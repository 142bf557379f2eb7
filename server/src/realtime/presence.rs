//! Presence and typing: ephemeral signals to the people who share a
//! conversation with the user, never logged.

use super::ws::presence_state;
use crate::state::AppState;
use mchat_shared::realtime::{PresenceState, Signal};
use mchat_shared::{ConversationId, UserId};

/// The user's first connection opened: tell their contacts.
pub fn went_online(state: &AppState, user: UserId) {
    let state = state.clone();
    tokio::spawn(async move {
        let (Ok(info), Ok(contacts)) = (
            state.store.presence_info(user).await,
            state.store.contacts(user).await,
        ) else {
            return;
        };
        // They may have gone offline meanwhile: a late "online" would stick.
        if !state.hub.is_online(user) {
            return;
        }
        state.hub.signal(
            &contacts,
            &Signal::Presence {
                username: info.username,
                state: presence_state(info.availability),
                last_seen: None,
            },
        );
    });
}

/// The user's last connection closed: record `last_seen` and tell their contacts.
pub fn went_offline(state: &AppState, user: UserId) {
    let state = state.clone();
    tokio::spawn(async move {
        let seen = state.store.touch_last_seen(user).await.ok();
        let (Ok(info), Ok(contacts)) = (
            state.store.presence_info(user).await,
            state.store.contacts(user).await,
        ) else {
            return;
        };
        // They may have reconnected meanwhile.
        if state.hub.is_online(user) {
            return;
        }
        state.hub.signal(
            &contacts,
            &Signal::Presence {
                username: info.username,
                state: PresenceState::Offline,
                last_seen: seen,
            },
        );
    });
}

/// A mentor changed availability while online: tell their contacts.
pub fn availability_changed(state: &AppState, user: UserId) {
    if state.hub.is_online(user) {
        went_online(state, user);
    }
}

/// `user` has a new contact (a request was made): both learn each other's
/// presence now, not at their next reconnect. Presence signals are
/// idempotent, so telling the older contacts again is harmless.
pub fn new_contact(state: &AppState, user: UserId) {
    if !state.hub.is_online(user) {
        return;
    }
    went_online(state, user);
    let state = state.clone();
    tokio::spawn(async move {
        let Ok(contacts) = state.store.contacts(user).await else {
            return;
        };
        for c in contacts.into_iter().filter(|&c| state.hub.is_online(c)) {
            let Ok(info) = state.store.presence_info(c).await else {
                continue;
            };
            state.hub.signal(
                &[user],
                &Signal::Presence {
                    username: info.username,
                    state: presence_state(info.availability),
                    last_seen: None,
                },
            );
        }
    });
}

/// For after `ready`: the presence of each contact who is online now, as
/// frames for the connection to send.
pub async fn contact_signals(state: &AppState, user: UserId) -> Vec<String> {
    let Ok(contacts) = state.store.contacts(user).await else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    for c in contacts.into_iter().filter(|&c| state.hub.is_online(c)) {
        let Ok(info) = state.store.presence_info(c).await else {
            continue;
        };
        let signal = Signal::Presence {
            username: info.username,
            state: presence_state(info.availability),
            last_seen: None,
        };
        if let Ok(text) = serde_json::to_string(&signal) {
            frames.push(text);
        }
    }
    frames
}

/// `user` is typing in `conv`: checked against membership, then relayed.
/// Returns false when the conversation is not theirs.
pub async fn typing(state: &AppState, user: UserId, conv: ConversationId) -> bool {
    match state.store.members(user, conv).await {
        Ok(members) => {
            state.hub.typing(conv, user, &members);
            true
        }
        Err(_) => false,
    }
}
