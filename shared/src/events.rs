//! The event log's entries: what a user's live connections and `sync` receive.
//!
//! Every state change a user must learn about appends one event per affected
//! user, in the same transaction as the change. `seq` orders a user's events;
//! a client stores the last `seq` it processed and resumes from it.

use crate::api::{ConversationStatus, Message, Notification, ReadMarker, ScheduledItem, User};
use crate::{ConversationId, NotificationId, Seq, Timestamp};
use serde::{Deserialize, Serialize};

/// One entry of a user's event log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: Seq,
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Serialised as `{"type": "...", "data": {...}}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventKind {
    /// A message was stored in one of my conversations (mine included, so my
    /// other devices see it).
    MessageNew { message: Message },
    /// A conversation I am in changed status (request made, accepted, declined,
    /// completed, reopened, expired).
    ConversationUpdated {
        conversation_id: ConversationId,
        status: ConversationStatus,
        #[serde(default)]
        actor: Option<String>,
    },
    /// A message I can see was edited, deleted or reacted to: the whole
    /// message as it is now (tombstone for a deletion).
    MessageUpdated { message: Message },
    /// My own settings for a conversation changed (muted, archived), on
    /// this or another of my devices, or new activity unarchived it.
    SettingsUpdated {
        conversation_id: ConversationId,
        muted: bool,
        archived: bool,
    },
    /// One of my scheduled messages or reminders was created, sent, failed
    /// or cancelled.
    ScheduledUpdated { item: ScheduledItem },
    /// A participant's delivered/read markers moved.
    MarkersUpdated {
        conversation_id: ConversationId,
        markers: ReadMarker,
    },
    /// A new notification for me.
    NotificationNew { notification: Notification },
    /// Some of my notifications were marked read (on this or another of my
    /// devices): `ids` empty means all of them; `unread` is what is left.
    NotificationsRead {
        #[serde(default)]
        ids: Vec<NotificationId>,
        unread: u32,
    },
    /// My profile, or that of someone I share a conversation with, changed.
    UserUpdated { user: User },
    /// My cursor is older than the retained log: refetch state, then continue
    /// from this event's `seq`.
    Resync,
}

impl EventKind {
    /// The stable name stored in the log's `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageNew { .. } => "message_new",
            Self::ConversationUpdated { .. } => "conversation_updated",
            Self::MessageUpdated { .. } => "message_updated",
            Self::SettingsUpdated { .. } => "settings_updated",
            Self::ScheduledUpdated { .. } => "scheduled_updated",
            Self::MarkersUpdated { .. } => "markers_updated",
            Self::NotificationNew { .. } => "notification_new",
            Self::NotificationsRead { .. } => "notifications_read",
            Self::UserUpdated { .. } => "user_updated",
            Self::Resync => "resync",
        }
    }
}
