//! Presence and typing: ephemeral signals to the people who share a
//! conversation with the user, never logged.
//!
//! On SQLite there is one node, and its hub knows who is online. When
//! several nodes share a PostgreSQL database, the database counts each
//! user's connections on every node and decides when someone comes online
//! or goes offline (`store/postgres/nodes.rs`); the signals travel through
//! it to every node. The functions here pick the one or the other.

use crate::state::AppState;
use crate::store::presence_state;
use mchat_shared::realtime::{PresenceState, Signal};
use mchat_shared::{ConversationId, UserId};
use tokio::task::JoinHandle;

/// A connection of `user` opened here (`first`: their first on this node).
/// On a shared database the count is recorded by a task, whose handle
/// [`disconnected`] awaits so a close never overtakes its open.
pub fn connected(state: &AppState, user: UserId, first: bool) -> Option<JoinHandle<bool>> {
    match &state.node {
        Some(node) => {
            let node = node.clone();
            Some(tokio::spawn(async move {
                match node.sockets_changed(user, 1).await {
                    Ok(()) => true,
                    Err(e) => {
                        // The heartbeat sets the count right.
                        tracing::debug!(error = %e, "a connection was not counted");
                        false
                    }
                }
            }))
        }
        None => {
            if first {
                went_online(state, user);
            }
            None
        }
    }
}

/// A connection of `user` closed here (`last`: their last on this node);
/// `counted`: what [`connected`] returned for it.
pub fn disconnected(state: &AppState, user: UserId, last: bool, counted: Option<JoinHandle<bool>>) {
    match (&state.node, counted) {
        (Some(node), Some(counted)) => {
            let node = node.clone();
            tokio::spawn(async move {
                if matches!(counted.await, Ok(true))
                    && let Err(e) = node.sockets_changed(user, -1).await
                {
                    tracing::debug!(error = %e, "a closed connection was not counted");
                }
            });
        }
        (Some(_), None) => {}
        (None, _) => {
            if last {
                went_offline(state, user);
            }
        }
    }
}

/// The user's first connection opened: tell their contacts.
fn went_online(state: &AppState, user: UserId) {
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
fn went_offline(state: &AppState, user: UserId) {
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
    if let Some(node) = state.node.clone() {
        tokio::spawn(async move {
            let _ = node.announce(user).await;
        });
        return;
    }
    if state.hub.is_online(user) {
        went_online(state, user);
    }
}

/// `user` has a new contact (a request was made): both learn each other's
/// presence now, not at their next reconnect. Presence signals are
/// idempotent, so telling the older contacts again is harmless.
pub fn new_contact(state: &AppState, user: UserId) {
    if let Some(node) = state.node.clone() {
        let state = state.clone();
        tokio::spawn(async move {
            let _ = node.announce(user).await;
            let Ok(contacts) = state.store.contacts(user).await else {
                return;
            };
            // Relayed: `user` may be connected to other nodes.
            for signal in node.online_presence(contacts).await.unwrap_or_default() {
                state.hub.signal(&[user], &signal);
            }
        });
        return;
    }
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
    if let Some(node) = &state.node {
        let online = node.online_presence(contacts).await.unwrap_or_default();
        return online
            .iter()
            .filter_map(|s| serde_json::to_string(s).ok())
            .collect();
    }
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
