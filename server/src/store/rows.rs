//! Mapping rows to wire types, once for both backends. Each SELECT that
//! feeds a mapper uses the column list defined next to it, so the two
//! cannot drift apart; a mapper reads its cells through [`Cells`], which
//! SQLite's and PostgreSQL's rows both implement.

use super::data::{ConversationRow, ParticipantRow, ScheduledRow, UserRecord};
use mchat_shared::api::{
    Availability, ConversationStatus, FileInfo, Message, MessageKind, Profile, ReadMarker, Role,
    ScheduledItem, ScheduledKind, ScheduledStatus, SystemAction, User, UserBrief,
};
use mchat_shared::{ConversationId, FileId, MessageId, ScheduledId, Timestamp, UserId};

pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn ts_opt(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(ts)
}

/// A stored JSON array of tags; anything else reads as none.
pub fn tags(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The cells of one result row, by column index, in the types the schema
/// stores (integers, text, flags), whichever backend read it.
pub trait Cells {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

impl Cells for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
}

impl Cells for tokio_postgres::Row {
    type Error = tokio_postgres::Error;
    fn int(&self, i: usize) -> Result<i64, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<String, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, tokio_postgres::Error> {
        self.try_get(i)
    }
}

/// A stored count as the API shows it (PostgreSQL counts in BIGINT).
pub fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Columns for [`user_at`], prefixed with the table alias `u`.
pub const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, u.availability, u.mentor_approved, \
     u.headline, u.experience, u.level, u.bio, u.expertise, u.interests, u.created_at, u.last_seen";

/// Reads the user at column `at` onward (the [`USER_COLUMNS`] layout).
pub fn user_at<R: Cells>(row: &R, at: usize) -> Result<UserRecord, R::Error> {
    let role = Role::parse(&row.text(at + 3)?).unwrap_or(Role::Mentee);
    let is_mentor = role == Role::Mentor;
    let availability = Availability::parse(&row.text(at + 4)?);
    let user = User {
        username: row.text(at + 1)?,
        display_name: row.text(at + 2)?,
        role,
        availability: if is_mentor { availability } else { None },
        mentor_approved: if is_mentor { Some(row.flag(at + 5)?) } else { None },
        profile: Profile {
            headline: row.opt_text(at + 6)?,
            experience: row.opt_text(at + 7)?,
            level: row.opt_text(at + 8)?,
            bio: row.opt_text(at + 9)?,
            expertise: tags(&row.text(at + 10)?),
            interests: tags(&row.text(at + 11)?),
        },
        created_at: ts(row.int(at + 12)?),
        last_seen: ts_opt(row.opt_int(at + 13)?),
    };
    Ok(UserRecord {
        id: UserId(row.int(at)?),
        user,
    })
}

pub fn brief(user: &User) -> UserBrief {
    UserBrief {
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        availability: user.availability,
        last_seen: user.last_seen,
    }
}

/// SELECT for [`message_at`]; append a WHERE clause.
pub const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, s.username, m.kind, m.body, m.system_action, \
     m.client_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at \
     FROM messages m LEFT JOIN users s ON s.id = m.sender_id";

/// How many columns [`message_at`] reads.
const MESSAGE_WIDTH: usize = 11;

/// Reads a message at column `at` onward (the [`MESSAGE_SELECT`] layout),
/// not hydrated yet.
pub fn message_at<R: Cells>(row: &R, at: usize) -> Result<Message, R::Error> {
    let kind = MessageKind::parse(&row.text(at + 3)?).unwrap_or(MessageKind::Text);
    let system = row.opt_text(at + 5)?;
    let deleted_at = row.opt_int(at + 10)?;
    Ok(Message {
        id: MessageId(row.int(at)?),
        conversation_id: ConversationId(row.int(at + 1)?),
        sender: row.opt_text(at + 2)?,
        kind,
        // A deleted message keeps its row (a tombstone) but never its text.
        body: if deleted_at.is_some() {
            String::new()
        } else {
            row.text(at + 4)?
        },
        system: system.as_deref().and_then(SystemAction::parse),
        client_id: row.opt_text(at + 6)?,
        reply_to: row.opt_int(at + 7)?.map(MessageId),
        created_at: ts(row.int(at + 8)?),
        edited_at: ts_opt(row.opt_int(at + 9)?),
        deleted_at: ts_opt(deleted_at),
        // Filled in by `hydrate` (quotes, reactions, attachments).
        reply: None,
        reactions: Vec::new(),
        attachment: None,
    })
}

/// The columns [`file_at`] reads, from the table alias `f`.
pub const FILE_COLUMNS: &str = "f.id, f.name, f.size, f.content_type, f.sha256, f.created_at";

pub fn file_at<R: Cells>(row: &R, at: usize) -> Result<FileInfo, R::Error> {
    Ok(FileInfo {
        id: FileId(row.int(at)?),
        name: row.text(at + 1)?,
        size: u64::try_from(row.int(at + 2)?).unwrap_or(0),
        content_type: row.text(at + 3)?,
        sha256: row.text(at + 4)?,
        created_at: ts(row.int(at + 5)?),
    })
}

/// One conversation as seen by the participant `me`: the peer, markers,
/// unread count, the last message, for [`conversation_at`]. Append
/// `WHERE me.user_id = <the viewer>` and the backend's filters.
pub const CONVERSATION_SELECT: &str = "SELECT c.id, c.status, r.username, c.created_at, c.last_activity_at, \
     c.expires_at, me.delivered_up_to, me.read_up_to, me.muted, me.archived, \
     peer.delivered_up_to, peer.read_up_to, \
     (SELECT COUNT(*) FROM messages x WHERE x.conversation_id = c.id AND x.id > me.read_up_to \
        AND (x.sender_id IS NULL OR x.sender_id != me.user_id)) AS unread, \
     (SELECT lt.sender_id FROM messages lt WHERE lt.id = c.last_text_message_id) AS last_text_sender, \
     me.user_id, \
     u.id, u.username, u.display_name, u.role, u.availability, u.mentor_approved, \
     u.headline, u.experience, u.level, u.bio, u.expertise, u.interests, u.created_at, u.last_seen, \
     m.id, m.conversation_id, s.username, m.kind, m.body, m.system_action, m.client_id, m.reply_to, \
     m.created_at, m.edited_at, m.deleted_at \
     FROM participants me \
     JOIN conversations c ON c.id = me.conversation_id \
     JOIN participants peer ON peer.conversation_id = c.id AND peer.user_id != me.user_id \
     JOIN users u ON u.id = peer.user_id \
     JOIN users r ON r.id = c.requested_by \
     LEFT JOIN messages m ON m.id = c.last_message_id \
     LEFT JOIN users s ON s.id = m.sender_id";

pub fn conversation_status(s: &str) -> ConversationStatus {
    ConversationStatus::parse(s).unwrap_or(ConversationStatus::Pending)
}

/// Reads a [`CONVERSATION_SELECT`] row.
pub fn conversation_at<R: Cells>(row: &R) -> Result<ConversationRow, R::Error> {
    const PEER: usize = 15;
    const LAST: usize = PEER + 14;
    let last_message = match row.opt_int(LAST)? {
        Some(_) => Some(message_at(row, LAST)?),
        None => None,
    };
    debug_assert_eq!(LAST + MESSAGE_WIDTH, 40);
    Ok(ConversationRow {
        id: ConversationId(row.int(0)?),
        status: conversation_status(&row.text(1)?),
        requested_by: row.text(2)?,
        created_at: row.int(3)?,
        last_activity_at: row.int(4)?,
        expires_at: row.opt_int(5)?,
        me: UserId(row.int(14)?),
        mine: ParticipantRow {
            delivered_up_to: MessageId(row.int(6)?),
            read_up_to: MessageId(row.int(7)?),
            muted: row.flag(8)?,
            archived: row.flag(9)?,
        },
        peer: user_at(row, PEER)?.user,
        peer_delivered: MessageId(row.int(10)?),
        peer_read: MessageId(row.int(11)?),
        unread: count(row.int(12)?),
        last_text_sender: row.opt_int(13)?.map(UserId),
        last_message,
    })
}

/// SELECT for [`scheduled_at`], with the peer of the item's conversation;
/// append a WHERE clause on `s`.
pub const SCHEDULED_SELECT: &str = "SELECT s.id, s.kind, s.conversation_id, \
     (SELECT u.username FROM participants p JOIN users u ON u.id = p.user_id \
        WHERE p.conversation_id = s.conversation_id AND p.user_id != s.user_id ORDER BY p.user_id LIMIT 1), \
     s.body, s.due_at, s.status, s.message_id, s.error, s.client_id, s.created_at, s.user_id \
     FROM scheduled s";

pub fn scheduled_kind(s: &str) -> ScheduledKind {
    if s == "reminder" {
        ScheduledKind::Reminder
    } else {
        ScheduledKind::Message
    }
}

pub fn scheduled_kind_str(k: ScheduledKind) -> &'static str {
    match k {
        ScheduledKind::Message => "message",
        ScheduledKind::Reminder => "reminder",
    }
}

pub fn scheduled_status_str(s: ScheduledStatus) -> &'static str {
    match s {
        ScheduledStatus::Pending => "pending",
        ScheduledStatus::Sent => "sent",
        ScheduledStatus::Failed => "failed",
        ScheduledStatus::Cancelled => "cancelled",
    }
}

fn scheduled_status(s: &str) -> ScheduledStatus {
    match s {
        "sent" => ScheduledStatus::Sent,
        "failed" => ScheduledStatus::Failed,
        "cancelled" => ScheduledStatus::Cancelled,
        _ => ScheduledStatus::Pending,
    }
}

/// Reads a [`SCHEDULED_SELECT`] row: the item and its author.
pub fn scheduled_at<R: Cells>(r: &R) -> Result<(UserId, ScheduledItem), R::Error> {
    let item = ScheduledItem {
        id: ScheduledId(r.int(0)?),
        kind: scheduled_kind(&r.text(1)?),
        conversation_id: r.opt_int(2)?.map(ConversationId),
        peer: r.opt_text(3)?,
        body: r.text(4)?,
        due_at: ts(r.int(5)?),
        status: scheduled_status(&r.text(6)?),
        message_id: r.opt_int(7)?.map(MessageId),
        error: r.opt_text(8)?,
        client_id: r.text(9)?,
        created_at: ts(r.int(10)?),
    };
    Ok((UserId(r.int(11)?), item))
}

/// The columns [`scheduled_row_at`] reads, from the table alias `s`.
pub const SCHEDULED_ROW_COLUMNS: &str =
    "s.id, s.user_id, s.kind, s.conversation_id, s.body, s.due_at, s.client_id";

pub fn scheduled_row_at<R: Cells>(r: &R) -> Result<ScheduledRow, R::Error> {
    Ok(ScheduledRow {
        id: ScheduledId(r.int(0)?),
        user: UserId(r.int(1)?),
        kind: scheduled_kind(&r.text(2)?),
        conversation: r.opt_int(3)?.map(ConversationId),
        body: r.text(4)?,
        due_at: r.int(5)?,
        client_id: r.text(6)?,
    })
}

pub fn marker(username: String, delivered: MessageId, read: MessageId) -> ReadMarker {
    ReadMarker {
        username,
        delivered_up_to: delivered,
        read_up_to: read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conversation_select_reads_its_user_columns_in_order() {
        // The peer's columns inside CONVERSATION_SELECT are USER_COLUMNS.
        assert!(CONVERSATION_SELECT.contains(USER_COLUMNS));
    }
}
