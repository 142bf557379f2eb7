//! Messages, pages of history and read markers.

use super::files::Attachment;
use crate::{ConversationId, FileId, MessageId, Timestamp};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    System,
    File,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::System => "system",
            Self::File => "file",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => Self::Text,
            "system" => Self::System,
            "file" => Self::File,
            _ => return None,
        })
    }
}

/// What a system message records, for clients that style it apart.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemAction {
    Requested,
    Accepted,
    Declined,
    Completed,
    Reopened,
    Expired,
}

impl SystemAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Completed => "completed",
            Self::Reopened => "reopened",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "completed" => Self::Completed,
            "reopened" => Self::Reopened,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Username of the sender; for system messages, whoever caused it (none for expiry).
    #[serde(default)]
    pub sender: Option<String>,
    pub kind: MessageKind,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub edited_at: Option<Timestamp>,
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
    /// The message this one answers, quoted (only when `reply_to` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyQuote>,
    /// Reactions, one entry per emoji, in the order first used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The attached file (messages of kind `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// A quote of the parent message, so a reply reads on its own.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyQuote {
    pub id: MessageId,
    #[serde(default)]
    pub sender: Option<String>,
    /// The start of the parent's body (at most [`crate::limits::QUOTE_MAX_CHARS`]
    /// characters); empty when the parent was deleted.
    pub excerpt: String,
    pub deleted: bool,
}

/// One emoji's reactions on a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    /// Who reacted, in the order they did.
    pub users: Vec<String>,
}

/// One earlier text of an edited message: what it said until `replaced_at`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdit {
    pub body: String,
    pub replaced_at: Timestamp,
}

/// `GET /v1/messages/{id}/edits`: the earlier texts, newest first. Readable
/// by the sender, and by an admin who takes part in the conversation; for
/// anyone else the message does not exist (404). Replay and history only
/// ever show the current text; a deletion drops the history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdits {
    pub message_id: MessageId,
    pub edits: Vec<MessageEdit>,
}

/// `PATCH /v1/messages/{id}`: the sender replaces the body (same rules as a
/// send). The previous text is kept server-side.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessageRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub body: String,
}

/// `POST /v1/conversations/{id}/messages`. 201 for a new message; 200 with
/// the original when the same `client_id` and body were already stored; 409
/// when the `client_id` was used with another body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$"))]
    pub client_id: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// An uploaded file (`POST /v1/files`) to attach; the body may then be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileId>,
}

/// `GET /v1/conversations/{id}/messages?before=&after=&limit=`. Without
/// `before`/`after` it is the newest page.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    #[serde(default)]
    pub before: Option<MessageId>,
    #[serde(default)]
    pub after: Option<MessageId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// One page of history, oldest first. `has_more` says whether further
/// messages exist in the paging direction (older for `before` and the newest
/// page, newer for `after`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
    /// Every participant's markers (for delivery ticks).
    pub markers: Vec<ReadMarker>,
}

/// A participant's position in a conversation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub username: String,
    pub delivered_up_to: MessageId,
    pub read_up_to: MessageId,
}
