//! `GET /v1/info` (no token): what a server is and what it accepts, so a
//! client can refuse an upload or a message before sending it rather than
//! after the server stopped reading. The refusal sentences live here too, so
//! the client's early refusal reads exactly like the server's 413/415.

use serde::{Deserialize, Serialize};

/// `GET /v1/info`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The server's version (`mchatd --version`).
    pub version: String,
    pub limits: ServerLimits,
}

/// The limits a request is held to (beyond them: 400, 413 or 415).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLimits {
    /// Longest message body, in characters after trimming.
    pub message_max_chars: u64,
    /// Largest accepted file, in bytes (413 beyond it).
    pub file_max_bytes: u64,
    /// Accepted media types of uploads: exact types, `type/*` for a whole
    /// family, `*/*` for everything (415 otherwise).
    pub file_allowed_types: Vec<String>,
    /// Longest file name, in characters.
    pub file_name_max_chars: u64,
    /// Largest JSON request body, in bytes (uploads are not held to it).
    pub body_max_bytes: u64,
}

impl ServerLimits {
    /// Whether an upload of `size` bytes of `content_type` (an essence such
    /// as `image/png`) would be accepted; otherwise the server's sentence
    /// and error code for it.
    pub fn check_file(&self, size: u64, content_type: &str) -> Result<(), (crate::ErrorCode, String)> {
        if !media_type_allowed(&self.file_allowed_types, content_type) {
            return Err((
                crate::ErrorCode::UnsupportedMediaType,
                file_type_refused_message(content_type),
            ));
        }
        if size > self.file_max_bytes {
            return Err((
                crate::ErrorCode::PayloadTooLarge,
                file_too_large_message(self.file_max_bytes),
            ));
        }
        Ok(())
    }
}

/// Whether `content_type` (an essence such as `image/png`, lowercase) is
/// matched by one of `patterns` (exact, `type/*`, or `*/*`).
pub fn media_type_allowed(patterns: &[String], content_type: &str) -> bool {
    let Some((kind, _)) = content_type.split_once('/') else {
        return false;
    };
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        pattern == "*/*"
            || pattern == content_type
            || pattern.strip_suffix("/*").is_some_and(|family| family == kind)
    })
}

/// The sentence of a 413 for a file over `max` bytes.
pub fn file_too_large_message(max: u64) -> String {
    format!("the file is larger than this server accepts ({max} bytes)")
}

/// The sentence of a 415 for an upload of `content_type`.
pub fn file_type_refused_message(content_type: &str) -> String {
    format!("files of type {content_type} are not accepted here")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            message_max_chars: 4000,
            file_max_bytes: 100,
            file_allowed_types: vec!["text/*".into(), "Image/PNG".into()],
            file_name_max_chars: 255,
            body_max_bytes: 65536,
        }
    }

    #[test]
    fn files_are_checked_like_the_server_does() {
        let l = limits();
        assert!(l.check_file(100, "text/plain").is_ok());
        assert!(l.check_file(1, "image/png").is_ok());
        let (code, msg) = l.check_file(101, "text/plain").unwrap_err();
        assert_eq!(code, crate::ErrorCode::PayloadTooLarge);
        assert_eq!(msg, "the file is larger than this server accepts (100 bytes)");
        let (code, msg) = l.check_file(1, "video/mp4").unwrap_err();
        assert_eq!(code, crate::ErrorCode::UnsupportedMediaType);
        assert!(msg.contains("not accepted"), "{msg}");
        assert!(!media_type_allowed(&l.file_allowed_types, "text"));
        assert!(media_type_allowed(&["*/*".into()], "a/b"));
    }
}
