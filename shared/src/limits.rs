//! Hard limits of the protocol. Server-side configurable limits (rate limits,
//! request body size) live in the server's config; these are the ones both
//! sides must agree on.

/// Username length, in characters (all ASCII).
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
/// Display name length, in characters after trimming.
pub const DISPLAY_NAME_MAX: usize = 64;
/// Message body length, in characters (Unicode scalar values) after trimming.
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Password length, in characters. The upper bound keeps hashing cost bounded.
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
/// Free-text profile fields (headline, experience, level).
pub const PROFILE_TEXT_MAX: usize = 200;
/// Longer profile text (bio).
pub const BIO_MAX: usize = 2000;
/// Expertise tags / interests: how many, and how long each.
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX_CHARS: usize = 32;
/// Decline reasons and similar short notes.
pub const REASON_MAX_CHARS: usize = 500;
/// Client-chosen idempotency keys.
pub const CLIENT_ID_MAX: usize = 64;
/// Token names (for named script tokens).
pub const TOKEN_NAME_MAX: usize = 64;
/// Page sizes for message history.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 100;
/// Directory search results per page.
pub const DIRECTORY_MAX: u32 = 100;
