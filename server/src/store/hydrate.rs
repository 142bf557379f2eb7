//! Fills the parts of a message that live in other tables: the quoted
//! parent, reactions and the attachment.
//!
//! A whole page is completed with one lookup per table for all its
//! messages, never one per message.

use super::StoreResult;
use super::data::Read;
use mchat_shared::MessageId;
use mchat_shared::api::{Message, MessageKind, Reaction, ReplyQuote};
use mchat_shared::limits::QUOTE_MAX_CHARS;
use std::collections::HashMap;

/// Completes messages as the store reads them: the reply quote and
/// reactions (message_actions work) and the attachment (files work). Call
/// it on every message that leaves the store.
pub(super) fn hydrate(r: &dyn Read, messages: &mut [Message]) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    quotes(r, messages)?;
    let live = live_ids(messages);
    if !live.is_empty() {
        reactions(r, &live, messages)?;
        attachments(r, messages)?;
    }
    // A deletion removes both (message_actions.rs); never show them on a tombstone regardless.
    for m in messages.iter_mut().filter(|m| m.deleted_at.is_some()) {
        m.reactions.clear();
        m.attachment = None;
    }
    Ok(())
}

/// Completes a message just inserted: its quote and attachment (no one
/// can have reacted to it yet, so that lookup is spared).
pub(super) fn fresh(r: &dyn Read, message: &mut Message) -> StoreResult<()> {
    let messages = std::slice::from_mut(message);
    quotes(r, messages)?;
    attachments(r, messages)
}

/// The ids of the messages that are not deleted.
fn live_ids(messages: &[Message]) -> Vec<MessageId> {
    messages
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| m.id)
        .collect()
}

/// The start of a body, at most [`QUOTE_MAX_CHARS`] characters.
pub(super) fn excerpt(body: &str) -> String {
    match body.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((end, _)) => body[..end].to_owned(),
        None => body.to_owned(),
    }
}

fn quotes(r: &dyn Read, messages: &mut [Message]) -> StoreResult<()> {
    let parents: Vec<MessageId> = messages.iter().filter_map(|m| m.reply_to).collect();
    if parents.is_empty() {
        return Ok(());
    }
    let found: HashMap<MessageId, ReplyQuote> = r
        .quotes(&parents, QUOTE_MAX_CHARS)?
        .into_iter()
        .map(|mut q| {
            q.excerpt = if q.deleted {
                String::new()
            } else {
                excerpt(&q.excerpt)
            };
            (q.id, q)
        })
        .collect();
    for m in messages.iter_mut() {
        if let Some(parent) = m.reply_to {
            m.reply = found.get(&parent).cloned();
        }
    }
    Ok(())
}

fn reactions(r: &dyn Read, live: &[MessageId], messages: &mut [Message]) -> StoreResult<()> {
    let mut by_message: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
    for (id, emoji, user) in r.reactions(live)? {
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

/// Only a file message carries a file (`messages.rs`: the kind follows the
/// file), so a page of text needs no lookup.
fn attachments(r: &dyn Read, messages: &mut [Message]) -> StoreResult<()> {
    let carrying: Vec<MessageId> = messages
        .iter()
        .filter(|m| m.deleted_at.is_none() && m.kind == MessageKind::File)
        .map(|m| m.id)
        .collect();
    if carrying.is_empty() {
        return Ok(());
    }
    let mut found: HashMap<MessageId, _> = r.attachments(&carrying)?.into_iter().collect();
    for m in messages.iter_mut() {
        if let Some(a) = found.remove(&m.id) {
            m.attachment = Some(a);
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
    }
}
