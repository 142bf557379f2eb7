//! Wire types, limits, validation and error codes shared by `mchat` and `mchatd`.
//!
//! This crate does no I/O. Both sides validate with the same functions, so a
//! client can reject bad input before it is sent and the server enforces the
//! same rules whatever the client does.

pub mod api;
pub mod confusable;
pub mod error;
pub mod events;
pub mod ids;
pub mod limits;
pub mod realtime;
pub mod validate;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use ids::{ConversationId, FileId, MessageId, NotificationId, ScheduledId, Seq, TokenId, UserId};

/// Timestamps on the wire are RFC 3339 strings in UTC (`Z`), fraction digits only as
/// needed: jiff's own serde, byte for byte what `time::serde::rfc3339` wrote before
/// (pinned by `tests/wire_time.rs`). Any RFC 3339 offset is read.
pub type Timestamp = jiff::Timestamp;

/// The API version prefix every route lives under.
pub const API_PREFIX: &str = "/v1";
