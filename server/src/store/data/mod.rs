//! The storage operations the rules are written over (docs/STORAGE.md):
//! one pair of traits per resource, `…Read` and `…Write`, that each backend
//! implements with its own SQL. [`Read`] is everything a read may use and
//! [`Tx`] everything a write may use inside its transaction; both grow a
//! supertrait as each resource moves behind the seam.

mod conversations;
mod events;
mod files;
mod membership;
mod messages;
mod notifications;
mod presence;
mod scheduled;
mod search;
mod sweeps;
mod templates;
mod tokens;
mod users;

pub use conversations::{
    ConversationRow, ConversationsRead, ConversationsWrite, DirectConversation, ParticipantRow, direct_key,
};
pub use events::{EventsRead, EventsWrite, StoredEvent, carried_message};
pub use files::{FilesRead, FilesWrite, NewFile};
pub use membership::MembershipRead;
pub use messages::{MessageTarget, MessagesRead, MessagesWrite, NewMessage, ReactionRow, SentBefore};
pub use notifications::{NotificationsRead, NotificationsWrite, NudgeFacts};
pub use presence::{Member, PresenceInfo, PresenceRead, PresenceWrite};
pub use scheduled::{NewScheduled, ScheduledRead, ScheduledRow, ScheduledWrite};
pub use search::{SearchRead, SearchTerm};
pub use sweeps::{Sweep, Sweeps};
pub use templates::{TemplatesRead, TemplatesWrite};
pub use tokens::{AuthContext, TokensRead, TokensWrite};
pub use users::{DirectoryFilter, NewUser, UserRecord, UsersRead, UsersWrite, escape_like};

/// The request's clock inside a write: one instant for the whole
/// transaction (milliseconds since the epoch).
pub trait Now {
    fn now(&self) -> i64;
}

/// Every read operation, on a consistent snapshot.
pub trait Read:
    ConversationsRead
    + EventsRead
    + FilesRead
    + MembershipRead
    + MessagesRead
    + NotificationsRead
    + PresenceRead
    + ScheduledRead
    + SearchRead
    + TemplatesRead
    + TokensRead
    + UsersRead
{
}

impl<T> Read for T where
    T: ConversationsRead
        + EventsRead
        + FilesRead
        + MembershipRead
        + MessagesRead
        + NotificationsRead
        + PresenceRead
        + ScheduledRead
        + SearchRead
        + TemplatesRead
        + TokensRead
        + UsersRead
        + ?Sized
{
}

/// Every operation a write may use, inside its one transaction.
pub trait Tx:
    Read
    + Now
    + ConversationsWrite
    + EventsWrite
    + FilesWrite
    + MessagesWrite
    + NotificationsWrite
    + PresenceWrite
    + ScheduledWrite
    + Sweeps
    + TemplatesWrite
    + TokensWrite
    + UsersWrite
{
}

impl<T> Tx for T where
    T: Read
        + Now
        + ConversationsWrite
        + EventsWrite
        + FilesWrite
        + MessagesWrite
        + NotificationsWrite
        + PresenceWrite
        + ScheduledWrite
        + Sweeps
        + TemplatesWrite
        + TokensWrite
        + UsersWrite
        + ?Sized
{
}
