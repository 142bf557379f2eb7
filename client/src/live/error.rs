//! Why a live connection could not be made or was lost, and which of those
//! are worth retrying.

use std::time::Duration;

/// A failed connection attempt or a lost connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The server URL is not `http(s)://host[:port][/prefix]`. Final.
    #[error("the server must be an http:// or https:// URL, not {0:?}")]
    BadUrl(String),
    /// The token cannot be sent in an HTTP header. Final.
    #[error("the token contains characters that cannot be sent in a header")]
    BadToken,
    /// No connection: refused, DNS, TLS, timeout, reset during the handshake.
    #[error("cannot reach the server ({0})")]
    Unreachable(String),
    /// The server rejected the token (HTTP 401 on the upgrade, or close code
    /// 4401 later: revoked or expired). Final: log in again.
    #[error("the server did not accept the token: {0}")]
    Unauthorized(String),
    /// The server answered the upgrade with an error that retrying will not
    /// fix (400, 403, 404: not an mchatd, or a bad cursor). Final.
    #[error("the server refused the live connection (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// The server answered the upgrade with a temporary error (429, 5xx).
    #[error("the server is not taking live connections right now (HTTP {status})")]
    Busy {
        status: u16,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The server closed the connection with a close frame (1001 shutting
    /// down, 4008 too slow, ...): reconnect and resume.
    #[error("the server closed the connection ({code}{})", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Closed { code: u16, reason: String },
    /// The connection broke without a close frame.
    #[error("the connection was lost ({0})")]
    Lost(String),
    /// Nothing, not even a ping, arrived for this long: the connection is
    /// presumed dead (a silent network drop).
    #[error("nothing heard from the server for {} s", .0.as_secs())]
    Silent(Duration),
}

impl LiveError {
    /// Retrying cannot help: the connection task stops.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LiveError::BadUrl(_)
                | LiveError::BadToken
                | LiveError::Unauthorized(_)
                | LiveError::Refused { .. }
        )
    }

    /// The least the server asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LiveError::Busy { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Turns a handshake failure into a [`LiveError`].
pub(super) fn from_handshake(err: tokio_tungstenite::tungstenite::Error) -> LiveError {
    use tokio_tungstenite::tungstenite::Error as E;
    match err {
        E::Http(resp) => {
            let status = resp.status().as_u16();
            let message = resp
                .body()
                .as_deref()
                .map(error_message)
                .unwrap_or_else(|| resp.status().canonical_reason().unwrap_or("").to_string());
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            match status {
                401 => LiveError::Unauthorized(message),
                408 | 429 | 500..=599 => LiveError::Busy { status, retry_after },
                _ => LiveError::Refused { status, message },
            }
        }
        E::Url(e) => LiveError::BadUrl(e.to_string()),
        E::HttpFormat(e) => LiveError::BadUrl(e.to_string()),
        other => LiveError::Unreachable(short(&other)),
    }
}

/// The `message` of the API's error shape, or the start of the body.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => b.error.message,
        Err(_) => String::from_utf8_lossy(body)
            .chars()
            .take(120)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

/// The innermost cause: "Connection refused (os error 111)" rather than a
/// chain of wrappers.
pub(super) fn short(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::Response;

    fn http(status: u16, body: &str, retry_after: Option<&str>) -> LiveError {
        let mut b = Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header("Retry-After", r);
        }
        let resp = b.body(Some(body.as_bytes().to_vec())).unwrap();
        from_handshake(tokio_tungstenite::tungstenite::Error::Http(Box::new(resp)))
    }

    #[test]
    fn handshake_statuses_are_classified() {
        let e = http(
            401,
            r#"{"error":{"code":"unauthorized","message":"the token is not valid"}}"#,
            None,
        );
        assert_eq!(e, LiveError::Unauthorized("the token is not valid".into()));
        assert!(e.is_final());
        let e = http(404, "not found", None);
        assert_eq!(
            e,
            LiveError::Refused {
                status: 404,
                message: "not found".into()
            }
        );
        assert!(e.is_final());
        let e = http(429, "{}", Some("7"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(!e.is_final());
        assert!(!http(503, "", None).is_final());
        assert!(
            !LiveError::Closed {
                code: 4008,
                reason: String::new()
            }
            .is_final()
        );
        assert!(!LiveError::Silent(Duration::from_secs(60)).is_final());
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            LiveError::Closed {
                code: 1001,
                reason: "server shutting down".into()
            }
            .to_string(),
            "the server closed the connection (1001: server shutting down)"
        );
        assert_eq!(
            LiveError::Closed {
                code: 1006,
                reason: String::new()
            }
            .to_string(),
            "the server closed the connection (1006)"
        );
        assert_eq!(
            LiveError::Silent(Duration::from_secs(60)).to_string(),
            "nothing heard from the server for 60 s"
        );
    }
}
