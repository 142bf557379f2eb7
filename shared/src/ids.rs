//! Typed ids, so a message id can never be passed where a conversation id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A user's numeric id (usernames are what people type; ids are what rows reference).
    UserId
);
id_type!(
    /// A conversation between two (later: several) users.
    ConversationId
);
id_type!(
    /// A message id: a single server-wide monotonic integer, so ids order messages.
    MessageId
);
id_type!(
    /// A notification row.
    NotificationId
);
id_type!(
    /// A login or named API token (the id, never the secret).
    TokenId
);
id_type!(
    /// A position in a user's event log; a client resumes from the last one it processed.
    Seq
);
id_type!(
    /// An uploaded file (its bytes are stored once per content hash).
    FileId
);
id_type!(
    /// A scheduled message or reminder.
    ScheduledId
);
