//! Conversations and the request flow.

use super::messages::{Message, ReadMarker};
use super::users::UserBrief;
use crate::{ConversationId, MessageId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `pending` → `accepted` | `declined` | `expired`; `accepted` → `completed` → `accepted` (reopen).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Pending,
    Accepted,
    Declined,
    Completed,
    Expired,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Completed => "completed",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "completed" => Self::Completed,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

impl fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /v1/conversations`: request a conversation (get-or-create per pair).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    /// The other user's username.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$"))]
    pub to: String,
    /// The intro message.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub message: String,
    /// Idempotency key for the intro message.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$"))]
    pub client_id: Option<String>,
}

/// A conversation as one participant sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    /// The other participant.
    pub peer: UserBrief,
    pub status: ConversationStatus,
    /// Username of whoever made the request.
    pub requested_by: String,
    pub created_at: Timestamp,
    pub last_activity_at: Timestamp,
    /// When a pending request expires.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub last_message: Option<Message>,
    /// Messages from others above my read marker.
    pub unread: u32,
    /// The last message that is not a system message came from the peer.
    pub awaiting_reply: bool,
    /// My markers, and the peer's (for delivery ticks on my messages).
    pub my_markers: ReadMarker,
    pub peer_markers: ReadMarker,
    pub muted: bool,
    pub archived: bool,
}

/// `POST /v1/conversations` answer. 201 with `created: true` for a new (or
/// renewed) request, 200 with `created: false` when it already existed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationCreated {
    pub conversation: Conversation,
    pub created: bool,
}

/// `GET /v1/conversations`, most recent activity first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

/// `GET /v1/conversations?archived=`: without it archived conversations are
/// left out; `archived=true` lists only them.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationsQuery {
    #[serde(default)]
    pub archived: Option<bool>,
}

/// `PUT /v1/conversations/{id}/settings`: my own settings; absent fields
/// stay as they are. Muted: no notification, no bell. Archived: out of the
/// default list until new activity (a new message unarchives it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(min_properties = 1))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// `POST /v1/conversations/{id}/decline`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub reason: Option<String>,
}

/// `POST /v1/conversations/{id}/read`: move my read marker (and delivered, if behind).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    pub up_to: MessageId,
}

/// `POST /v1/conversations/{id}/read` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadResponse {
    pub markers: ReadMarker,
    pub unread: u32,
}
