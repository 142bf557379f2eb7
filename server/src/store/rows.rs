//! Mapping rows to wire types. Each SELECT that feeds a mapper uses the
//! column list defined next to it, so the two cannot drift apart.

use mchat_shared::api::{
    Availability, Message, MessageKind, Profile, ReadMarker, Role, SystemAction, User, UserBrief,
};
use mchat_shared::{ConversationId, MessageId, Timestamp, UserId};
use rusqlite::Row;

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

/// Columns for [`user_from_row`], prefixed with the table alias `u`.
pub const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, u.availability, u.mentor_approved, \
     u.headline, u.experience, u.level, u.bio, u.expertise, u.interests, u.created_at, u.last_seen";

/// Reads the user at column `at` onward (the [`USER_COLUMNS`] layout).
pub fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<(UserId, User)> {
    let id = UserId(row.get(at)?);
    let role = Role::parse(&row.get::<_, String>(at + 3)?).unwrap_or(Role::Mentee);
    let is_mentor = role == Role::Mentor;
    let availability = Availability::parse(&row.get::<_, String>(at + 4)?);
    let user = User {
        username: row.get(at + 1)?,
        display_name: row.get(at + 2)?,
        role,
        availability: if is_mentor { availability } else { None },
        mentor_approved: if is_mentor {
            Some(row.get::<_, bool>(at + 5)?)
        } else {
            None
        },
        profile: Profile {
            headline: row.get(at + 6)?,
            experience: row.get(at + 7)?,
            level: row.get(at + 8)?,
            bio: row.get(at + 9)?,
            expertise: tags(&row.get::<_, String>(at + 10)?),
            interests: tags(&row.get::<_, String>(at + 11)?),
        },
        created_at: ts(row.get(at + 12)?),
        last_seen: ts_opt(row.get(at + 13)?),
    };
    Ok((id, user))
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

/// SELECT for [`message_from_row`]; append a WHERE clause.
pub const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, s.username, m.kind, m.body, m.system_action, \
     m.client_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at \
     FROM messages m LEFT JOIN users s ON s.id = m.sender_id";

pub fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}

/// Reads a message at column `at` onward (the [`MESSAGE_SELECT`] layout).
pub fn message_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Message> {
    let kind = MessageKind::parse(&row.get::<_, String>(at + 3)?).unwrap_or(MessageKind::Text);
    let system: Option<String> = row.get(at + 5)?;
    let deleted_at: Option<i64> = row.get(at + 10)?;
    Ok(Message {
        id: MessageId(row.get(at)?),
        conversation_id: ConversationId(row.get(at + 1)?),
        sender: row.get(at + 2)?,
        kind,
        // A deleted message keeps its row (a tombstone) but never its text.
        body: if deleted_at.is_some() {
            String::new()
        } else {
            row.get(at + 4)?
        },
        system: system.as_deref().and_then(SystemAction::parse),
        client_id: row.get(at + 6)?,
        reply_to: row.get::<_, Option<i64>>(at + 7)?.map(MessageId),
        created_at: ts(row.get(at + 8)?),
        edited_at: ts_opt(row.get(at + 9)?),
        deleted_at: ts_opt(deleted_at),
        // Filled in by `hydrate` (quotes, reactions, attachments).
        reply: None,
        reactions: Vec::new(),
        attachment: None,
    })
}

pub fn marker(username: String, delivered: MessageId, read: MessageId) -> ReadMarker {
    ReadMarker {
        username,
        delivered_up_to: delivered,
        read_up_to: read,
    }
}
