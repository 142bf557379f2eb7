//! Scheduled messages and reminders: stored by the server and delivered at
//! their time whether or not the author is online (and across restarts).

use crate::{ConversationId, MessageId, ScheduledId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduledKind {
    /// A message posted into a conversation at `due_at`.
    Message,
    /// A `reminder` notification for the author at `due_at`.
    Reminder,
}

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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduledRequest {
    pub kind: ScheduledKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: Timestamp,
    pub client_id: String,
}

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
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: Timestamp,
    pub status: ScheduledStatus,
    /// The message it became, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub client_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// `GET /v1/scheduled?all=`: pending items by due time (with `all=true`,
/// also sent, failed and cancelled ones from the last 30 days).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledQuery {
    #[serde(default)]
    pub all: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledList {
    pub items: Vec<ScheduledItem>,
}
