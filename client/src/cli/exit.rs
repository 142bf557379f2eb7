//! Exit codes (DESIGN §5) and turning any error into one clear sentence.

use crate::api::ClientError;
use mchat_shared::ErrorCode;
use mchat_shared::validate::ValidationError;

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const AUTH: u8 = 3;
pub const NOT_FOUND: u8 = 4;
pub const REJECTED: u8 = 5;
/// The server could not be reached; the message waits in the outbox.
pub const QUEUED: u8 = 75;

/// An error that carries its own exit code (and optional JSON code).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
    /// The machine-readable code in `--json` error documents.
    pub machine: &'static str,
}

impl Exit {
    /// An error with this exit code; its `--json` code follows from it, so
    /// the two never disagree (2 is `usage`, 3 `unauthorized`, ...).
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
            machine: match code {
                USAGE => "usage",
                AUTH => "unauthorized",
                NOT_FOUND => "not_found",
                REJECTED => "validation_failed",
                QUEUED => "queued",
                _ => "error",
            },
        }
    }
    pub fn queued(message: impl Into<String>) -> Exit {
        Exit {
            code: QUEUED,
            message: message.into(),
            machine: "queued",
        }
    }
    pub fn not_logged_in(profile: &str) -> Exit {
        Exit {
            code: AUTH,
            message: if profile == crate::config::DEFAULT_PROFILE {
                "you are not logged in: run 'mchat login USERNAME' (or 'mchat register USERNAME')".into()
            } else {
                format!("profile {profile} is not logged in: run 'mchat --profile {profile} login USERNAME'")
            },
            machine: "unauthorized",
        }
    }
    pub fn not_found(message: impl Into<String>) -> Exit {
        Exit {
            code: NOT_FOUND,
            message: message.into(),
            machine: "not_found",
        }
    }
    pub fn rejected(message: impl Into<String>) -> Exit {
        Exit {
            code: REJECTED,
            message: message.into(),
            machine: "validation_failed",
        }
    }
}

/// A command that already wrote its whole answer (with `--json`, its one
/// document) and only has to end with a non-zero code: the sentence goes to
/// stderr and no error document is added to stdout.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Reported {
    pub code: u8,
    pub message: String,
}

/// The exit code, sentence and machine code for any error.
pub fn describe(err: &anyhow::Error) -> (u8, String, String) {
    if let Some(e) = err.downcast_ref::<Exit>() {
        return (e.code, e.message.clone(), e.machine.to_string());
    }
    if let Some(e) = err.downcast_ref::<Reported>() {
        return (e.code, e.message.clone(), "error".into());
    }
    if let Some(e) = err.downcast_ref::<ClientError>() {
        let sentence = match e {
            ClientError::Api {
                code: ErrorCode::Unauthorized,
                ..
            } => "the server did not accept your token (expired or revoked?): log in again".to_string(),
            ClientError::Api {
                code: ErrorCode::RateLimited,
                retry_after_secs,
                ..
            } => format!(
                "the server is rate-limiting you; try again in {} s",
                retry_after_secs.unwrap_or(1)
            ),
            other => crate::sanitize::line(&other.to_string()).into_owned(),
        };
        let code = e.code().map_or(
            match e {
                ClientError::Unreachable { .. } => "unreachable",
                ClientError::Local(_) => "local",
                _ => "protocol",
            },
            |c| c.as_str(),
        );
        return (e.exit_code(), sentence, code.to_string());
    }
    if let Some(e) = err.downcast_ref::<ValidationError>() {
        return (
            REJECTED,
            e.message.clone(),
            ErrorCode::ValidationFailed.as_str().into(),
        );
    }
    (FAILURE, format!("{err:#}"), "error".into())
}
