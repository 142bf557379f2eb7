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
/// How much of a parent message a reply quotes, in characters.
pub const QUOTE_MAX_CHARS: usize = 200;
/// Reaction emoji: at most this many characters (one emoji may be several
/// scalar values joined by ZWJ) and this many distinct emoji per user per message.
pub const REACTION_MAX_CHARS: usize = 16;
pub const REACTIONS_PER_USER_MAX: usize = 20;
/// Uploaded file names, in characters.
pub const FILE_NAME_MAX_CHARS: usize = 255;
/// Search: query length and results per page.
pub const SEARCH_QUERY_MAX_CHARS: usize = 256;
pub const SEARCH_DEFAULT: u32 = 20;
pub const SEARCH_MAX: u32 = 100;
/// Templates: name length (letters, digits, '-', '_') and how many per user.
pub const TEMPLATE_NAME_MAX: usize = 40;
pub const TEMPLATES_MAX: usize = 200;
/// Pending scheduled messages and reminders per user, and how far ahead.
pub const SCHEDULED_MAX: usize = 500;
pub const SCHEDULE_MAX_DAYS: i64 = 366;
