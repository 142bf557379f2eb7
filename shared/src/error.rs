//! The one error shape of the API: `{"error": {"code": "...", "message": "..."}}`.
//!
//! `code` is stable and machine-readable; `message` is one sentence meant for
//! people and may change wording. Clients map codes to exit codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. New codes may be added; existing ones never change meaning.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a field failed validation (`field` says which).
    ValidationFailed,
    /// 400: the body is not JSON, has the wrong types, or unknown fields.
    InvalidJson,
    /// 400: a query-string parameter is malformed.
    InvalidQuery,
    /// 401: no token, a malformed, unknown, revoked or expired token.
    Unauthorized,
    /// 401: login with a wrong username or password.
    InvalidCredentials,
    /// 403: authenticated, but this action is not allowed for you.
    Forbidden,
    /// 403: registration is closed or needs an invite.
    RegistrationClosed,
    /// 404: no such thing, or not yours (indistinguishable on purpose).
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the username is taken.
    UsernameTaken,
    /// 409: you already have one of these by that name (a token).
    NameTaken,
    /// 409: a `client_id` was reused with a different body.
    IdempotencyConflict,
    /// 409: the conversation is not open for posting (pending, declined, expired, completed).
    ConversationNotOpen,
    /// 409: the requested status change is not allowed from the current status.
    InvalidTransition,
    /// 409: the other side declined an earlier request.
    RequestDeclined,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 414: the request URI (path and query) is longer than the server accepts.
    UriTooLong,
    /// 415: the request body is not `application/json`.
    UnsupportedMediaType,
    /// 429: too many requests; see `Retry-After`.
    RateLimited,
    /// 431: too many request headers, or too many bytes of them.
    HeadersTooLarge,
    /// 500: a server-side failure; nothing about it is revealed.
    Internal,
    /// 503: the server is shutting down or overloaded.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status the server answers with for this code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            ValidationFailed | InvalidJson | InvalidQuery => 400,
            Unauthorized | InvalidCredentials => 401,
            Forbidden | RegistrationClosed => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            UsernameTaken | NameTaken | IdempotencyConflict | ConversationNotOpen | InvalidTransition
            | RequestDeclined => 409,
            PayloadTooLarge => 413,
            UriTooLong => 414,
            UnsupportedMediaType => 415,
            RateLimited => 429,
            HeadersTooLarge => 431,
            Internal => 500,
            Unavailable => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            ValidationFailed => "validation_failed",
            InvalidJson => "invalid_json",
            InvalidQuery => "invalid_query",
            Unauthorized => "unauthorized",
            InvalidCredentials => "invalid_credentials",
            Forbidden => "forbidden",
            RegistrationClosed => "registration_closed",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            UsernameTaken => "username_taken",
            NameTaken => "name_taken",
            IdempotencyConflict => "idempotency_conflict",
            ConversationNotOpen => "conversation_not_open",
            InvalidTransition => "invalid_transition",
            RequestDeclined => "request_declined",
            PayloadTooLarge => "payload_too_large",
            UriTooLong => "uri_too_long",
            UnsupportedMediaType => "unsupported_media_type",
            RateLimited => "rate_limited",
            HeadersTooLarge => "headers_too_large",
            Internal => "internal",
            Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// For `validation_failed`: the offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: seconds to wait (also in the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
                retry_after_secs: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in [
            ErrorCode::NotFound,
            ErrorCode::ConversationNotOpen,
            ErrorCode::RateLimited,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        let body = ErrorBody::new(ErrorCode::NotFound, "no such conversation");
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(json["error"]["code"], "not_found");
        assert!(json["error"].get("field").is_none());
    }
}
