//! Full-text search (FTS5) over the messages a user can see.
//!
//! The index (`messages_fts`, migration V4) holds every text and file message
//! that has a body and is not deleted, with its conversation id as a second
//! column. A search never passes the user's text to FTS5 as syntax: it is cut
//! into words and `"quoted phrases"`, each quoted as an FTS5 string (the last
//! bare word as a prefix), and ANDed with the caller's conversations
//! (`conv : ("12" OR "34")`), so a common word in a big database costs a
//! merge of doclists, not a scan of every match. The same query also joins
//! `participants` on the caller: nobody else's message can come back.
//! One FTS5 query per search: the newest [`RANK_WINDOW`] matches, each body
//! with its matched words between two private-use characters
//! (`highlight()`). They are ranked bm25-style here (see [`rank`]), the
//! snippet of each hit is cut around its matches here too ([`make_snippet`];
//! FTS5's `snippet()` would re-run the match once per hit, which for a
//! prefix word means re-reading its whole doclist), and the markers become
//! `highlights` ranges.

use super::rows::message_at;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{SearchHit, SearchResults};
use mchat_shared::{ConversationId, ErrorCode, MessageId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// Above this many conversations the `conv` filter is left out of the FTS5
/// expression (the participants join still restricts the rows).
const CONV_FILTER_MAX: usize = 500;

/// Words a snippet of a long body keeps around its matches.
const SNIPPET_TOKENS: usize = 16;

/// Highlight markers: a pair of private-use characters absent from the body.
const MARKERS: [(char, char); 3] = [
    ('\u{E000}', '\u{E001}'),
    ('\u{F8FE}', '\u{F8FF}'),
    ('\u{E7FE}', '\u{E7FF}'),
];

/// One piece of a query: a bare word or a quoted phrase.
#[derive(Debug, PartialEq)]
struct Term {
    text: String,
    phrase: bool,
}

/// Cuts the user's text into words and `"phrases"` (an unclosed quote runs to
/// the end). Pieces without a letter or digit are dropped: they index nothing.
fn terms(q: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let (inner, next) = match after.find('"') {
                Some(end) => (&after[..end], &after[end + 1..]),
                None => (after, ""),
            };
            out.push(Term {
                text: inner.split_whitespace().collect::<Vec<_>>().join(" "),
                phrase: true,
            });
            rest = next;
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            out.push(Term {
                text: rest[..end].to_owned(),
                phrase: false,
            });
            rest = &rest[end..];
        }
    }
    out.retain(|t| t.text.chars().any(char::is_alphanumeric));
    out
}

/// Whether the last word may be a prefix: it ends in a run of at least two
/// letters or digits (a one-letter prefix would match half the index).
fn prefixable(word: &str) -> bool {
    word.chars()
        .rev()
        .take_while(|c| c.is_alphanumeric())
        .nth(1)
        .is_some()
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The FTS5 expression for the user's text on the `body` column: every
/// word and phrase (AND), the last bare word as a prefix. `None`: no words.
fn body_expression(q: &str) -> Option<String> {
    let terms = terms(q);
    let last = terms.len().checked_sub(1)?;
    let parts: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let star = if i == last && !t.phrase && prefixable(&t.text) {
                "*"
            } else {
                ""
            };
            format!("{}{star}", quoted(&t.text))
        })
        .collect();
    Some(format!("body : ({})", parts.join(" ")))
}

/// Splits a snippet with markers `open`/`close` into its text and the char
/// ranges between the markers.
fn split_highlights(marked: &str, open: char, close: char) -> (String, Vec<[u32; 2]>) {
    let mut text = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut at: u32 = 0;
    let mut start: Option<u32> = None;
    for c in marked.chars() {
        if c == open {
            start.get_or_insert(at);
        } else if c == close {
            if let Some(s) = start.take()
                && at > s
            {
                ranges.push([s, at]);
            }
        } else {
            text.push(c);
            at += 1;
        }
    }
    if let Some(s) = start
        && at > s
    {
        ranges.push([s, at]);
    }
    (text, ranges)
}

/// The conversations a search covers: `conversation` and/or `with` narrow
/// the caller's own list. Pointing at a conversation the caller is not in is
/// "not found", as everywhere.
fn scope(
    conn: &Connection,
    me: UserId,
    with: Option<&str>,
    conversation: Option<ConversationId>,
) -> StoreResult<Vec<ConversationId>> {
    let mut convs: Vec<ConversationId> = conn
        .prepare_cached(
            "SELECT conversation_id FROM participants WHERE user_id = ?1 ORDER BY conversation_id",
        )?
        .query_map([me.0], |r| r.get(0).map(ConversationId))?
        .collect::<Result<_, _>>()?;
    if let Some(id) = conversation {
        if !convs.contains(&id) {
            return Err(StoreError::not_found("conversation"));
        }
        convs = vec![id];
    }
    if let Some(user) = with {
        // Usernames are case-folded; a name that cannot be one is nobody's.
        let name = mchat_shared::validate::username(user).ok();
        let theirs: Vec<ConversationId> = match &name {
            Some(name) => conn
                .prepare_cached(
                    "SELECT p.conversation_id FROM participants p JOIN users u ON u.id = p.user_id \
                     JOIN participants mine ON mine.conversation_id = p.conversation_id AND mine.user_id = ?1 \
                     WHERE u.username = ?2 AND u.id != ?1",
                )?
                .query_map(params![me.0, name], |r| r.get(0).map(ConversationId))?
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        if theirs.is_empty() {
            let who = name.as_deref().unwrap_or("that user");
            return Err(StoreError::api(
                ErrorCode::NotFound,
                format!("you have no conversation with {who}"),
            ));
        }
        convs.retain(|c| theirs.contains(c));
    }
    Ok(convs)
}

/// The newest [`RANK_WINDOW`] matches the caller can see, each body with
/// the matched tokens between the markers (`highlight()`).
const WINDOW_SQL: &str = "SELECT messages_fts.rowid, highlight(messages_fts, 0, ?3, ?4) FROM messages_fts \
     JOIN messages m ON m.id = messages_fts.rowid \
     JOIN participants me ON me.conversation_id = m.conversation_id AND me.user_id = ?1 \
     WHERE messages_fts MATCH ?2 AND m.deleted_at IS NULL AND m.kind != 'system' \
     ORDER BY messages_fts.rowid DESC LIMIT ?5";

/// How many of the newest matches are ranked. Beyond it (a very common word
/// in a long history) the best among the most recent matches win: what a
/// chat search wants, at a cost that does not grow with the history.
const RANK_WINDOW: i64 = 500;

/// bm25 parameters (the usual ones, as FTS5's own `bm25()`).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Tokens of a highlighted body (runs of letters and digits, as the
/// unicode61 tokenizer cuts them) and how many of them are highlighted.
fn token_counts(marked: &str, open: char, close: char) -> (u32, u32) {
    let (mut tokens, mut hits) = (0, 0);
    let (mut in_token, mut inside) = (false, false);
    for c in marked.chars() {
        if c == open {
            inside = true;
            in_token = false;
        } else if c == close {
            inside = false;
            in_token = false;
        } else if c.is_alphanumeric() {
            if !in_token {
                tokens += 1;
                hits += u32::from(inside);
            }
            in_token = true;
        } else {
            in_token = false;
        }
    }
    (tokens, hits)
}

/// Ranks the window: bm25's term-frequency and length terms over the
/// matched tokens (lower is better, like FTS5's `bm25()`). FTS5's own
/// `bm25()` is not used: its IDF reads the whole doclist of every query word
/// on every search (20 ms for a word in half of a million messages); every
/// candidate here contains every word anyway (AND), so IDF would only
/// reweigh the words against each other.
fn rank(window: &[(MessageId, String)], open: char, close: char) -> Vec<(usize, f64)> {
    let counts: Vec<(u32, u32)> = window.iter().map(|(_, m)| token_counts(m, open, close)).collect();
    let total: u64 = counts.iter().map(|&(t, _)| u64::from(t)).sum();
    let avg = (total as f64 / counts.len().max(1) as f64).max(1.0);
    let mut ranked: Vec<(usize, f64)> = counts
        .into_iter()
        .enumerate()
        .map(|(i, (len, tf))| {
            let tf = f64::from(tf);
            let norm = K1 * (1.0 - B + B * f64::from(len) / avg);
            (i, -(tf * (K1 + 1.0) / (tf + norm)))
        })
        .collect();
    // Best first; equal scores: the newer message (the window is newest first).
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    ranked
}

/// The message columns in the `rows::message_at` layout.
const MESSAGE_SQL: &str = "SELECT m.id, m.conversation_id, s.username, m.kind, m.body, m.system_action, \
     m.client_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at \
     FROM messages m LEFT JOIN users s ON s.id = m.sender_id WHERE m.id = ?1";

/// One matched body with other markers (for a body that contains ours).
fn highlight_with(
    conn: &Connection,
    expr: &str,
    id: MessageId,
    open: char,
    close: char,
) -> StoreResult<String> {
    Ok(conn
        .prepare_cached(
            "SELECT highlight(messages_fts, 0, ?3, ?4) FROM messages_fts \
             WHERE messages_fts MATCH ?1 AND rowid = ?2",
        )?
        .query_row(params![expr, id.0, open.to_string(), close.to_string()], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or_default())
}

/// Token spans `[start, end)` (chars) of `text`: runs of letters and digits.
fn token_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
        n = i + 1;
    }
    if let Some(s) = start {
        spans.push((s, n));
    }
    spans
}

/// The snippet of a highlighted body: the whole body when it is short,
/// otherwise [`SNIPPET_TOKENS`] whole words around the densest run of
/// matches, with `…` where it is cut; `ranges` move with the text.
fn make_snippet(text: &str, ranges: &[[u32; 2]]) -> (String, Vec<[u32; 2]>) {
    let tokens = token_spans(text);
    if tokens.len() <= SNIPPET_TOKENS + SNIPPET_TOKENS / 2 {
        return (text.to_owned(), ranges.to_vec());
    }
    let hit = |&(s, e): &(usize, usize)| ranges.iter().any(|r| (r[0] as usize) < e && s < r[1] as usize);
    let hits: Vec<bool> = tokens.iter().map(hit).collect();
    // Windows of SNIPPET_TOKENS tokens starting three words before a match:
    // the one with the most matches (the earliest on ties).
    let last_start = tokens.len() - SNIPPET_TOKENS;
    let mut start_tok = 0;
    let mut most = 0;
    for h in (0..tokens.len()).filter(|&i| hits[i]) {
        let s = h.saturating_sub(3).min(last_start);
        let n = hits[s..s + SNIPPET_TOKENS].iter().filter(|&&x| x).count();
        if n > most {
            (start_tok, most) = (s, n);
        }
    }
    let end_tok = start_tok + SNIPPET_TOKENS;
    let chars: Vec<char> = text.chars().collect();
    let from = if start_tok == 0 { 0 } else { tokens[start_tok].0 };
    let to = if end_tok == tokens.len() {
        chars.len()
    } else {
        tokens[end_tok - 1].1
    };
    let lead = usize::from(from > 0);
    let mut out: String = if from > 0 { "…".into() } else { String::new() };
    out.extend(&chars[from..to]);
    if to < chars.len() {
        out.push('…');
    }
    let moved = ranges
        .iter()
        .filter_map(|r| {
            let (a, b) = ((r[0] as usize).max(from), (r[1] as usize).min(to));
            (a < b).then(|| [(a - from + lead) as u32, (b - from + lead) as u32])
        })
        .collect();
    (out, moved)
}

/// The other participant of `conv` (as seen by `me`).
fn peer(conn: &Connection, me: UserId, conv: ConversationId) -> StoreResult<String> {
    Ok(conn
        .prepare_cached(
            "SELECT u.username FROM participants o JOIN users u ON u.id = o.user_id \
             WHERE o.conversation_id = ?1 AND o.user_id != ?2 ORDER BY o.user_id LIMIT 1",
        )?
        .query_row(params![conv.0, me.0], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

fn search(
    conn: &Connection,
    me: UserId,
    q: &str,
    with: Option<&str>,
    conversation: Option<ConversationId>,
    limit: u32,
) -> StoreResult<SearchResults> {
    let body = body_expression(q).ok_or_else(|| {
        StoreError::api(
            ErrorCode::InvalidQuery,
            "the search has no words to look for: use letters or digits",
        )
    })?;
    let convs = scope(conn, me, with, conversation)?;
    if convs.is_empty() {
        return Ok(SearchResults { hits: Vec::new() });
    }
    let expr = if convs.len() <= CONV_FILTER_MAX {
        let ids: Vec<String> = convs.iter().map(|c| format!("\"{c}\"")).collect();
        format!("{body} AND conv : ({})", ids.join(" OR "))
    } else {
        body.clone()
    };
    let (open, close) = MARKERS[0];
    let window: Vec<(MessageId, String)> = conn
        .prepare_cached(WINDOW_SQL)?
        .query_map(
            params![me.0, expr, open.to_string(), close.to_string(), RANK_WINDOW],
            |r| {
                Ok((
                    MessageId(r.get(0)?),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )?
        .collect::<Result<_, _>>()?;
    let mut ranked = rank(&window, open, close);
    ranked.truncate(limit as usize);
    let mut messages = Vec::with_capacity(ranked.len());
    let mut rest = Vec::with_capacity(ranked.len());
    let mut peers: Vec<(ConversationId, String)> = Vec::new();
    for (at, rank) in ranked {
        let (id, marked) = &window[at];
        let message = conn
            .prepare_cached(MESSAGE_SQL)?
            .query_row([id.0], |r| message_at(r, 0))?;
        let clash = |(a, b): (char, char)| message.body.contains(a) || message.body.contains(b);
        let (text, ranges) = if !clash((open, close)) {
            split_highlights(marked, open, close)
        } else if let Some(&(a, b)) = MARKERS.iter().find(|&&m| !clash(m)) {
            split_highlights(&highlight_with(conn, &body, *id, a, b)?, a, b)
        } else {
            // Every marker pair occurs in the body: the body, unhighlighted.
            (message.body.clone(), Vec::new())
        };
        let (snippet, highlights) = make_snippet(&text, &ranges);
        let conv = message.conversation_id;
        let peer = match peers.iter().find(|(c, _)| *c == conv) {
            Some((_, p)) => p.clone(),
            None => {
                let p = peer(conn, me, conv)?;
                peers.push((conv, p.clone()));
                p
            }
        };
        messages.push(message);
        rest.push((peer, snippet, highlights, rank));
    }
    super::hydrate::hydrate(&super::sqlite::SqliteRead(conn), &mut messages)?;
    let hits = messages
        .into_iter()
        .zip(rest)
        .map(|(message, (peer, snippet, highlights, rank))| SearchHit {
            message,
            peer,
            snippet,
            highlights,
            rank,
        })
        .collect();
    Ok(SearchResults { hits })
}

impl Store {
    /// Messages `me` can see that match `q`, best first, at most
    /// `limit`; `with` / `conversation` narrow to one conversation.
    pub async fn search(
        &self,
        me: UserId,
        q: String,
        with: Option<String>,
        conversation: Option<ConversationId>,
        limit: u32,
    ) -> StoreResult<SearchResults> {
        self.read(move |conn| search(conn, me, &q, with.as_deref(), conversation, limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_the_last_is_a_prefix() {
        assert_eq!(
            body_expression("rust life").as_deref(),
            Some(r#"body : ("rust" "life"*)"#)
        );
        assert_eq!(
            body_expression(r#"say "pull request" now"#).as_deref(),
            Some(r#"body : ("say" "pull request" "now"*)"#)
        );
        assert_eq!(
            body_expression(r#""pull request""#).as_deref(),
            Some(r#"body : ("pull request")"#)
        );
    }

    #[test]
    fn fts_syntax_is_only_text() {
        assert_eq!(
            body_expression(r#""unbalanced"#).as_deref(),
            Some(r#"body : ("unbalanced")"#)
        );
        assert_eq!(
            body_expression("AND OR").as_deref(),
            Some(r#"body : ("AND" "OR"*)"#)
        );
        assert_eq!(
            body_expression("NEAR(a b").as_deref(),
            Some(r#"body : ("NEAR(a" "b")"#)
        );
        assert_eq!(body_expression("col:x").as_deref(), Some(r#"body : ("col:x")"#));
        assert_eq!(body_expression("* ^ - + ( ) :"), None);
        assert_eq!(body_expression("   "), None);
        assert_eq!(body_expression(r#""""#), None);
        assert_eq!(body_expression(r#"a"b"#).as_deref(), Some(r#"body : ("a" "b")"#));
    }

    #[test]
    fn short_or_punctuated_last_words_are_exact() {
        assert_eq!(body_expression("x").as_deref(), Some(r#"body : ("x")"#));
        assert_eq!(body_expression("c++").as_deref(), Some(r#"body : ("c++")"#));
        assert_eq!(body_expression("ça").as_deref(), Some(r#"body : ("ça"*)"#));
    }

    #[test]
    fn ranking_prefers_more_matches_in_shorter_bodies_then_newer() {
        let (o, c) = MARKERS[0];
        let m = |s: &str| s.replace('[', &o.to_string()).replace(']', &c.to_string());
        assert_eq!(token_counts(&m("a [rust] b [rust rust]"), o, c), (5, 3));
        assert_eq!(token_counts(&m("[café]-crème 12"), o, c), (3, 1));
        // Newest first, as the window query returns them.
        let window = vec![
            (MessageId(4), m("[rust] short")),
            (MessageId(3), m("[rust] short")),
            (MessageId(2), m("[rust] [rust] twice")),
            (
                MessageId(1),
                m("[rust] once in a rather long message about other things"),
            ),
        ];
        let ids: Vec<i64> = rank(&window, o, c)
            .into_iter()
            .map(|(at, _)| window[at].0.0)
            .collect();
        assert_eq!(ids, vec![2, 4, 3, 1]);
        assert!(rank(&[], o, c).is_empty());
    }

    #[test]
    fn snippets_keep_short_bodies_and_cut_long_ones_around_the_matches() {
        assert_eq!(
            make_snippet("short body", &[[0, 5]]),
            ("short body".into(), vec![[0, 5]])
        );
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let text = words.join(" ");
        // "w40" starts at char 3*10 + 4*30 = 150.
        let at = text.find("w40").unwrap() as u32;
        let (snippet, ranges) = make_snippet(&text, &[[at, at + 3]]);
        assert!(snippet.starts_with("…w37 w38 w39 w40"), "{snippet}");
        assert!(snippet.ends_with("w52…"), "{snippet}");
        let chars: Vec<char> = snippet.chars().collect();
        let [a, b] = ranges[0];
        assert_eq!(chars[a as usize..b as usize].iter().collect::<String>(), "w40");
        assert_eq!(ranges.len(), 1);
        // A match at the very end: the last words, no trailing ellipsis.
        let at = text.find("w59").unwrap() as u32;
        let (snippet, ranges) = make_snippet(&text, &[[at, at + 3]]);
        assert!(
            snippet.ends_with("w59") && snippet.starts_with("…w44 "),
            "{snippet}"
        );
        let chars: Vec<char> = snippet.chars().collect();
        let [a, b] = ranges[0];
        assert_eq!(chars[a as usize..b as usize].iter().collect::<String>(), "w59");
        // No match in range: the start of the body.
        let (snippet, ranges) = make_snippet(&text, &[]);
        assert!(
            snippet.starts_with("w0 ") && snippet.ends_with("w15…"),
            "{snippet}"
        );
        assert!(ranges.is_empty());
    }

    #[test]
    fn highlights_are_char_ranges_without_markers() {
        let (text, ranges) = split_highlights(
            "a \u{E000}café\u{E001} b \u{E000}x\u{E001}",
            '\u{E000}',
            '\u{E001}',
        );
        assert_eq!(text, "a café b x");
        assert_eq!(ranges, vec![[2, 6], [9, 10]]);
        let (text, ranges) = split_highlights("\u{E000}open", '\u{E000}', '\u{E001}');
        assert_eq!((text.as_str(), ranges), ("open", vec![[0, 4]]));
    }
}
