//! Fills the parts of a message that live in other tables: the quoted parent, reactions and the attachment.
//!
//! A whole page is completed with one query per table (ids passed as a JSON
//! array to `json_each`, so the statement stays cached whatever the page
//! size), never one query per message.

use super::StoreResult;
use mchat_shared::MessageId;
use mchat_shared::api::{Message, Reaction, ReplyQuote};
use mchat_shared::limits::QUOTE_MAX_CHARS;
use rusqlite::Connection;
use std::collections::HashMap;

/// Completes messages read with `rows::MESSAGE_SELECT`: the reply quote and
/// reactions (message_actions work) and the attachment (files work). Call it
/// on every message that leaves the store.
pub(super) fn hydrate(conn: &Connection, messages: &mut [Message]) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    quotes(conn, messages)?;
    reactions(conn, messages)?;
    // Attachments (files work) are filled here.
    super::files::attachments(conn, messages)?;
    // A deletion removes both (message_actions.rs); never show them on a tombstone regardless.
    for m in messages.iter_mut().filter(|m| m.deleted_at.is_some()) {
        m.reactions.clear();
        m.attachment = None;
    }
    Ok(())
}

/// The ids of the messages that are not deleted, as a JSON array for
/// `json_each`; `None` when there are none (nothing to look up).
pub(super) fn live_ids(messages: &[Message]) -> Option<String> {
    let mut ids = messages
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| m.id)
        .peekable();
    ids.peek()?;
    Some(id_list(ids))
}

/// `[1,2,3]`: the ids as a JSON array for `json_each`.
fn id_list(ids: impl Iterator<Item = MessageId>) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.0.to_string());
    }
    out.push(']');
    out
}

/// The start of a body, at most [`QUOTE_MAX_CHARS`] characters.
pub(super) fn excerpt(body: &str) -> String {
    match body.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((end, _)) => body[..end].to_owned(),
        None => body.to_owned(),
    }
}

fn quotes(conn: &Connection, messages: &mut [Message]) -> StoreResult<()> {
    let parents: Vec<MessageId> = messages.iter().filter_map(|m| m.reply_to).collect();
    if parents.is_empty() {
        return Ok(());
    }
    let mut found: HashMap<MessageId, ReplyQuote> = HashMap::with_capacity(parents.len());
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, s.username, substr(m.body, 1, ?2), m.deleted_at IS NOT NULL \
         FROM messages m LEFT JOIN users s ON s.id = m.sender_id \
         WHERE m.id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![id_list(parents.into_iter()), QUOTE_MAX_CHARS as i64],
        |r| {
            let deleted: bool = r.get(3)?;
            let body: String = r.get(2)?;
            Ok(ReplyQuote {
                id: MessageId(r.get(0)?),
                sender: r.get(1)?,
                excerpt: if deleted { String::new() } else { excerpt(&body) },
                deleted,
            })
        },
    )?;
    for q in rows {
        let q = q?;
        found.insert(q.id, q);
    }
    for m in messages.iter_mut() {
        if let Some(parent) = m.reply_to {
            m.reply = found.get(&parent).cloned();
        }
    }
    Ok(())
}

fn reactions(conn: &Connection, messages: &mut [Message]) -> StoreResult<()> {
    let Some(ids) = live_ids(messages) else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT r.message_id, r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id \
         WHERE r.message_id IN (SELECT value FROM json_each(?1)) \
         ORDER BY r.message_id, r.created_at, u.username",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((
            MessageId(r.get(0)?),
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut by_message: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
    for row in rows {
        let (id, emoji, user) = row?;
        let list = by_message.entry(id).or_default();
        match list.iter_mut().find(|x| x.emoji == emoji) {
            Some(x) => {
                x.count += 1;
                x.users.push(user);
            }
            None => list.push(Reaction {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    for m in messages.iter_mut() {
        if let Some(list) = by_message.remove(&m.id) {
            m.reactions = list;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_characters() {
        assert_eq!(excerpt("short"), "short");
        let long: String = "é".repeat(QUOTE_MAX_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), QUOTE_MAX_CHARS);
        assert_eq!(id_list([1, 22, 3].map(MessageId).into_iter()), "[1,22,3]");
        assert_eq!(id_list(std::iter::empty()), "[]");
    }
}
