//! Search on PostgreSQL: each text or file message keeps its search words
//! (`store/search_words.rs`) in `messages.search_words`, a tsvector written
//! here from the words mchatd cut, never through a text search
//! configuration; a search is a tsquery built the same way, each word a
//! quoted lexeme, so nothing the user typed is ever read as syntax.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{SearchRead, SearchTerm};
use crate::store::search_words::words;
use mchat_shared::api::MessageKind;
use mchat_shared::{ConversationId, MessageId, UserId};
use std::collections::BTreeMap;

/// The highest word position a tsvector keeps.
const POSITION_MAX: usize = 16_383;

/// The longest lexeme a tsvector or tsquery takes, in bytes. A longer
/// "word" (a 4000-letter run) is left out of the index, so no search finds
/// it on PostgreSQL; nobody searches for one.
const LEXEME_MAX: usize = 2046;

/// `word` as a quoted tsvector/tsquery lexeme.
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// The tsvector text of a body's search words with their positions; `None`
/// for a message that is not searched (system messages, empty bodies).
pub(super) fn vector(kind: MessageKind, body: &str) -> Option<String> {
    if kind == MessageKind::System {
        return None;
    }
    let mut positions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, w) in words(body).into_iter().enumerate() {
        if w.key.len() <= LEXEME_MAX {
            positions
                .entry(w.key)
                .or_default()
                .push((i + 1).min(POSITION_MAX));
        }
    }
    if positions.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (word, at) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&lexeme(&word));
        out.push(':');
        let at: Vec<String> = at.iter().map(usize::to_string).collect();
        out.push_str(&at.join(","));
    }
    Some(out)
}

/// The tsquery of the terms: each term its words in a row (`<->`), a prefix
/// term's last word with `:*`, all of them ANDed.
fn query(terms: &[SearchTerm]) -> String {
    let mut out = String::new();
    for t in terms {
        if !out.is_empty() {
            out.push_str(" & ");
        }
        out.push('(');
        for (i, w) in t.words.iter().enumerate() {
            if i > 0 {
                out.push_str(" <-> ");
            }
            out.push_str(&lexeme(w));
            if t.prefix && i + 1 == t.words.len() {
                out.push_str(":*");
            }
        }
        out.push(')');
    }
    out
}

/// The newest matches the caller can see, newest first.
const WINDOW_SQL: &str = "SELECT m.id, m.body FROM messages m \
     JOIN participants me ON me.conversation_id = m.conversation_id AND me.user_id = $1 \
     WHERE m.conversation_id = ANY($2) AND m.search_words IS NOT NULL \
     AND m.search_words @@ $3::text::tsquery AND m.deleted_at IS NULL AND m.kind <> 'system' \
     ORDER BY m.id DESC LIMIT $4";

impl SearchRead for PgTx<'_> {
    fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        self.wait(self.tx().query(
            "SELECT conversation_id FROM participants WHERE user_id = $1 ORDER BY conversation_id",
            &[&user.0],
        ))?
        .iter()
        .map(|r| Ok(ConversationId(r.try_get(0)?)))
        .collect()
    }

    fn conversations_with(&self, me: UserId, username: &str) -> StoreResult<Vec<ConversationId>> {
        self.wait(self.tx().query(
            "SELECT p.conversation_id FROM participants p JOIN users u ON u.id = p.user_id \
             JOIN participants mine ON mine.conversation_id = p.conversation_id AND mine.user_id = $1 \
             WHERE u.username = $2 AND u.id != $1 ORDER BY p.conversation_id",
            &[&me.0, &username],
        ))?
        .iter()
        .map(|r| Ok(ConversationId(r.try_get(0)?)))
        .collect()
    }

    fn search_window(
        &self,
        me: UserId,
        terms: &[SearchTerm],
        conversations: &[ConversationId],
        limit: u32,
    ) -> StoreResult<Vec<(MessageId, String)>> {
        if terms.iter().flat_map(|t| &t.words).any(|w| w.len() > LEXEME_MAX) {
            // Never indexed (see LEXEME_MAX): nothing can match.
            return Ok(Vec::new());
        }
        let convs: Vec<i64> = conversations.iter().map(|c| c.0).collect();
        self.wait(
            self.tx()
                .query(WINDOW_SQL, &[&me.0, &convs, &query(terms), &i64::from(limit)]),
        )?
        .iter()
        .map(|r| Ok((MessageId(r.try_get(0)?), r.try_get(1)?)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::search_terms;

    #[test]
    fn words_become_quoted_lexemes_with_positions() {
        assert_eq!(
            vector(MessageKind::Text, "Café, café au lait").as_deref(),
            Some("'au':3 'cafe':1,2 'lait':4")
        );
        assert_eq!(vector(MessageKind::System, "mona accepted"), None);
        assert_eq!(vector(MessageKind::File, " -- "), None);
        assert_eq!(lexeme("it's"), "'it''s'");
        assert_eq!(
            query(&search_terms(r#"say "pull request" ça"#)),
            "('say') & ('pull' <-> 'request') & ('ca':*)"
        );
        assert_eq!(query(&search_terms("NEAR(a & !b")), "('near' <-> 'a') & ('b')");
        let long = "a".repeat(LEXEME_MAX + 1);
        assert_eq!(
            vector(MessageKind::Text, &format!("{long} short")).as_deref(),
            Some("'short':2")
        );
    }
}
