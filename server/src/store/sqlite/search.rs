//! Search on SQLite: the FTS5 index `messages_fts` (migration V4) holds
//! every text and file message that has a body and is not deleted, with its
//! conversation id as a second column. The user's terms reach FTS5 only as
//! quoted strings (the last one may be a prefix), ANDed with the caller's
//! conversations (`conv : ("12" OR "34")`), so a common word in a big
//! database costs a merge of doclists, not a scan of every match; the query
//! also joins `participants` on the caller, so nobody else's message can
//! come back.

use super::SqliteConn;
use crate::store::StoreResult;
use crate::store::data::{SearchRead, SearchTerm};
use mchat_shared::{ConversationId, MessageId, UserId};
use rusqlite::params;

/// Above this many conversations the `conv` filter is left out of the FTS5
/// expression (the participants join still restricts the rows).
const CONV_FILTER_MAX: usize = 500;

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The FTS5 expression for the terms on the `body` column: every word and
/// phrase (AND), a prefix term with `*`.
fn body_expression(terms: &[SearchTerm]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| format!("{}{}", quoted(&t.text), if t.prefix { "*" } else { "" }))
        .collect();
    format!("body : ({})", parts.join(" "))
}

/// The newest matches the caller can see, newest first.
const WINDOW_SQL: &str = "SELECT m.id, m.body FROM messages_fts \
     JOIN messages m ON m.id = messages_fts.rowid \
     JOIN participants me ON me.conversation_id = m.conversation_id AND me.user_id = ?1 \
     WHERE messages_fts MATCH ?2 AND m.deleted_at IS NULL AND m.kind != 'system' \
     ORDER BY messages_fts.rowid DESC LIMIT ?3";

impl<C: SqliteConn> SearchRead for C {
    fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT conversation_id FROM participants WHERE user_id = ?1 ORDER BY conversation_id",
            )?
            .query_map([user.0], |r| r.get(0).map(ConversationId))?
            .collect::<Result<_, _>>()?)
    }

    fn conversations_with(&self, me: UserId, username: &str) -> StoreResult<Vec<ConversationId>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT p.conversation_id FROM participants p JOIN users u ON u.id = p.user_id \
                 JOIN participants mine ON mine.conversation_id = p.conversation_id AND mine.user_id = ?1 \
                 WHERE u.username = ?2 AND u.id != ?1 ORDER BY p.conversation_id",
            )?
            .query_map(params![me.0, username], |r| r.get(0).map(ConversationId))?
            .collect::<Result<_, _>>()?)
    }

    fn search_window(
        &self,
        me: UserId,
        terms: &[SearchTerm],
        conversations: &[ConversationId],
        limit: u32,
    ) -> StoreResult<Vec<(MessageId, String)>> {
        let body = body_expression(terms);
        let expr = if conversations.len() <= CONV_FILTER_MAX {
            let ids: Vec<String> = conversations.iter().map(|c| format!("\"{c}\"")).collect();
            format!("{body} AND conv : ({})", ids.join(" OR "))
        } else {
            body
        };
        Ok(self
            .conn()
            .prepare_cached(WINDOW_SQL)?
            .query_map(params![me.0, expr, limit], |r| {
                Ok((MessageId(r.get(0)?), r.get(1)?))
            })?
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::search_terms;

    fn expr(q: &str) -> String {
        body_expression(&search_terms(q))
    }

    #[test]
    fn words_are_quoted_and_the_last_is_a_prefix() {
        assert_eq!(expr("rust life"), r#"body : ("rust" "life"*)"#);
        assert_eq!(
            expr(r#"say "pull request" now"#),
            r#"body : ("say" "pull request" "now"*)"#
        );
        assert_eq!(expr(r#""pull request""#), r#"body : ("pull request")"#);
    }

    #[test]
    fn fts_syntax_is_only_text() {
        assert_eq!(expr(r#""unbalanced"#), r#"body : ("unbalanced")"#);
        assert_eq!(expr("AND OR"), r#"body : ("AND" "OR"*)"#);
        assert_eq!(expr("NEAR(a b"), r#"body : ("NEAR(a" "b")"#);
        assert_eq!(expr("col:x"), r#"body : ("col:x")"#);
        assert_eq!(expr(r#"a"b"#), r#"body : ("a" "b")"#);
        assert_eq!(expr(r#"say "it""#), r#"body : ("say" "it")"#);
    }

    #[test]
    fn short_or_punctuated_last_words_are_exact() {
        assert_eq!(expr("x"), r#"body : ("x")"#);
        assert_eq!(expr("c++"), r#"body : ("c++")"#);
        assert_eq!(expr("ça"), r#"body : ("ça"*)"#);
    }
}
