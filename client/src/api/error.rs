//! What can go wrong talking to the server, and how each case maps to an
//! exit code.

use mchat_shared::{ErrorBody, ErrorCode};

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer at all: connection refused, DNS, timeout, reset.
    #[error("cannot reach the server at {url} ({reason})")]
    Unreachable { url: String, reason: String },
    /// The server answered with the API's error shape.
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        field: Option<String>,
        retry_after_secs: Option<u64>,
    },
    /// The server answered, but not with something this client understands.
    #[error("unexpected answer from the server (HTTP {status}): {detail}")]
    Protocol { status: u16, detail: String },
    /// Something failed on this machine (reading the file to upload,
    /// writing a download): one sentence saying what.
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// Builds the error for a non-2xx answer from its body.
    pub(crate) fn from_response(status: u16, body: &[u8], retry_after: Option<u64>) -> ClientError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => ClientError::Api {
                status,
                code: b.error.code,
                message: b.error.message,
                field: b.error.field,
                retry_after_secs: b.error.retry_after_secs.or(retry_after),
            },
            // Not mentorchat's error shape: a proxy's or another program's
            // page. Its text is not ours to repeat (it may be a whole HTML
            // document, or words chosen to mislead); say what it was.
            Err(_) => ClientError::Protocol {
                status,
                detail: if body.is_empty() {
                    "an empty body, not mentorchat's error format".into()
                } else {
                    format!(
                        "{} bytes that are not mentorchat's error format (is this a mentorchat server?)",
                        body.len()
                    )
                },
            },
        }
    }

    /// The API error code, if the server sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Protocol { status, .. } => Some(*status),
            ClientError::Unreachable { .. } | ClientError::Local(_) => None,
        }
    }

    /// Worth retrying later with the same `client_id`: the server was not
    /// reached, or failed on its side (5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            other => other.status().is_some_and(|s| s >= 500),
        }
    }

    /// The process exit code for this error (DESIGN §5): 3 authentication,
    /// 4 not found / not allowed, 5 rejected input, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self.code() {
            Some(ErrorCode::Unauthorized | ErrorCode::InvalidCredentials) => 3,
            Some(ErrorCode::NotFound | ErrorCode::Forbidden | ErrorCode::RegistrationClosed) => 4,
            Some(
                ErrorCode::ValidationFailed
                | ErrorCode::InvalidJson
                | ErrorCode::InvalidQuery
                | ErrorCode::UsernameTaken
                | ErrorCode::NameTaken
                | ErrorCode::IdempotencyConflict
                | ErrorCode::ConversationNotOpen
                | ErrorCode::InvalidTransition
                | ErrorCode::RequestDeclined
                | ErrorCode::PayloadTooLarge
                | ErrorCode::UriTooLong
                | ErrorCode::HeadersTooLarge
                | ErrorCode::UnsupportedMediaType,
            ) => 5,
            _ => 1,
        }
    }
}
