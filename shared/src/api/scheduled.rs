//! Scheduled messages and reminders: stored by the server and delivered at
//! their time whether or not the author is online (and across restarts).

use crate::{ConversationId, MessageId, ScheduledId, Timestamp};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduledKind {
    /// A message posted into a conversation at `due_at`.
    Message,
    /// A `reminder` notification for the author at `due_at`.
    Reminder,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduledStatus {
    Pending,
    Sent,
    /// Due, but could not be delivered (say the conversation was completed); see `error`.
    Failed,
    Cancelled,
}

/// `POST /v1/scheduled`. A message needs `conversation_id`; a reminder must
/// not have one. `client_id` makes retries safe, as for sends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduledRequest {
    pub kind: ScheduledKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub body: String,
    pub due_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$"))]
    pub client_id: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledItem {
    pub id: ScheduledId,
    pub kind: ScheduledKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// The other participant, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub body: String,
    pub due_at: Timestamp,
    pub status: ScheduledStatus,
    /// The message it became, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub client_id: String,
    pub created_at: Timestamp,
}

/// `GET /v1/scheduled?all=`: pending items by due time (with `all=true`,
/// also sent, failed and cancelled ones from the last 30 days).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledQuery {
    #[serde(default)]
    pub all: Option<bool>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledList {
    pub items: Vec<ScheduledItem>,
}
