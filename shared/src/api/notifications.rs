//! Notifications: things that happened while you were not looking.

use crate::{ConversationId, NotificationId, Timestamp};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    RequestReceived,
    RequestAccepted,
    RequestDeclined,
    RequestExpired,
    ConversationCompleted,
    ConversationReopened,
    MessageReceived,
    MentorApproved,
    Announcement,
    Reminder,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestReceived => "request_received",
            Self::RequestAccepted => "request_accepted",
            Self::RequestDeclined => "request_declined",
            Self::RequestExpired => "request_expired",
            Self::ConversationCompleted => "conversation_completed",
            Self::ConversationReopened => "conversation_reopened",
            Self::MessageReceived => "message_received",
            Self::MentorApproved => "mentor_approved",
            Self::Announcement => "announcement",
            Self::Reminder => "reminder",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "request_received" => Self::RequestReceived,
            "request_accepted" => Self::RequestAccepted,
            "request_declined" => Self::RequestDeclined,
            "request_expired" => Self::RequestExpired,
            "conversation_completed" => Self::ConversationCompleted,
            "conversation_reopened" => Self::ConversationReopened,
            "message_received" => Self::MessageReceived,
            "mentor_approved" => Self::MentorApproved,
            "announcement" => Self::Announcement,
            "reminder" => Self::Reminder,
            _ => return None,
        })
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub kind: NotificationKind,
    /// One sentence, e.g. "alice asked you for a conversation".
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Username of whoever caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub read_at: Option<Timestamp>,
}

/// `GET /v1/notifications?unread=true&limit=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsQuery {
    #[serde(default)]
    pub unread: Option<bool>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationList {
    pub notifications: Vec<Notification>,
    pub unread_count: u32,
}

/// `POST /v1/notifications/read`: either `ids` or `all: true`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkNotificationsRead {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub ids: Option<Vec<NotificationId>>,
    #[serde(default)]
    pub all: Option<bool>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkedRead {
    pub marked: u32,
    pub unread_count: u32,
}
