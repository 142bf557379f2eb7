//! The server's one error type. Every handler returns `Result<_, ApiError>`,
//! and `ApiError` renders as the single JSON error shape with the right status.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mchat_shared::validate::ValidationError;
use mchat_shared::{ErrorBody, ErrorCode};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidQuery, message)
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "the server failed to handle this request")
    }
    /// 503: a storage queue is full; the request did not run.
    pub fn busy(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::Unavailable,
            format!("the server is busy; try again in {retry_after_secs} s"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimited,
            format!("too many requests; try again in {retry_after_secs} s"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            code: ErrorCode::ValidationFailed,
            message: e.message,
            field: Some(e.field.to_string()),
            retry_after_secs: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Api(code, message) => Self::new(code, message),
            StoreError::Invalid(v) => v.into(),
            StoreError::Busy => Self::busy(1),
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "database unavailable");
                let mut e = Self::new(
                    ErrorCode::Unavailable,
                    "the database is unavailable; try again in a moment",
                );
                e.retry_after_secs = Some(1);
                e
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::internal()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                ErrorCode::UnsupportedMediaType,
                "the request body must be JSON (Content-Type: application/json)",
            ),
            JsonRejection::BytesRejection(b) => b.into(),
            JsonRejection::JsonDataError(e) => Self::new(
                ErrorCode::InvalidJson,
                format!("invalid request: {}", e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(e) => Self::new(
                ErrorCode::InvalidJson,
                format!("malformed JSON: {}", e.body_text()),
            ),
            other => Self::new(ErrorCode::InvalidJson, other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        } else {
            Self::new(ErrorCode::InvalidJson, r.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid_query(format!("invalid query string: {}", r.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = ErrorBody::new(self.code, self.message);
        body.error.field = self.field;
        body.error.retry_after_secs = self.retry_after_secs;
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
