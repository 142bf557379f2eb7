//! Full-text search over the messages a user can see.
//!
//! The user's text is cut into words and `"quoted phrases"` ([`terms`]):
//! never syntax for a search engine. Each backend finds the newest
//! [`RANK_WINDOW`] matches among the caller's conversations (SQLite with
//! FTS5, PostgreSQL with a GIN index over the same search words). The rest
//! happens here, the same for both: the matched words are found in each
//! body ([`highlights`], over `search_words`), the window is ranked
//! bm25-style ([`rank`]), each hit's snippet is cut around its matches
//! ([`make_snippet`]) and the matches become `highlights` ranges.

use super::conversations::peer_name;
use super::data::{Read, SearchTerm};
use super::search_words::{Word, words};
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{SearchHit, SearchResults};
use mchat_shared::{ConversationId, ErrorCode, UserId};

/// Words a snippet of a long body keeps around its matches.
const SNIPPET_TOKENS: usize = 16;

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

/// The search terms of the user's text: every word and phrase, the last
/// bare word a prefix when it may be one. Empty: nothing to look for.
pub(super) fn search_terms(q: &str) -> Vec<SearchTerm> {
    let terms = terms(q);
    let last = terms.len().saturating_sub(1);
    terms
        .into_iter()
        .enumerate()
        .map(|(i, t)| SearchTerm {
            prefix: i == last && !t.phrase && prefixable(&t.text),
            words: words(&t.text).into_iter().map(|w| w.key).collect(),
            text: t.text,
        })
        .filter(|t| !t.words.is_empty())
        .collect()
}

/// Char ranges of the body (cut into `body` words) where a term matches:
/// each match of a term spans its words; matches that overlap merge.
fn highlights(body: &[Word], terms: &[SearchTerm]) -> Vec<[u32; 2]> {
    let mut ranges: Vec<[u32; 2]> = Vec::new();
    for t in terms {
        let n = t.words.len();
        for at in 0..body.len().saturating_sub(n - 1) {
            let hit = t.words.iter().enumerate().all(|(j, w)| {
                let word = &body[at + j].key;
                word == w || (t.prefix && j == n - 1 && word.starts_with(w.as_str()))
            });
            if hit {
                ranges.push([body[at].start as u32, body[at + n - 1].end as u32]);
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<[u32; 2]> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r[0] < last[1] => last[1] = last[1].max(r[1]),
            _ => merged.push(r),
        }
    }
    merged
}

/// The conversations a search covers: `conversation` and/or `with` narrow
/// the caller's own list. Pointing at a conversation the caller is not in is
/// "not found", as everywhere.
fn scope(
    r: &dyn Read,
    me: UserId,
    with: Option<&str>,
    conversation: Option<ConversationId>,
) -> StoreResult<Vec<ConversationId>> {
    let mut convs = r.conversations_of(me)?;
    if let Some(id) = conversation {
        if !convs.contains(&id) {
            return Err(StoreError::not_found("conversation"));
        }
        convs = vec![id];
    }
    if let Some(user) = with {
        // Usernames are case-folded; a name that cannot be one is nobody's.
        let name = mchat_shared::validate::username(user).ok();
        let theirs = match &name {
            Some(name) => r.conversations_with(me, name)?,
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

/// How many of the newest matches are ranked. Beyond it (a very common word
/// in a long history) the best among the most recent matches win: what a
/// chat search wants, at a cost that does not grow with the history.
const RANK_WINDOW: u32 = 500;

/// bm25 parameters (the usual ones, as FTS5's own `bm25()`).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// How many words a body has, and how many of them a match covers.
fn word_counts(body: &[Word], ranges: &[[u32; 2]]) -> (u32, u32) {
    let inside = |w: &Word| {
        ranges
            .iter()
            .any(|r| (r[0] as usize) <= w.start && w.end <= r[1] as usize)
    };
    let hits = body.iter().filter(|w| inside(w)).count();
    (
        u32::try_from(body.len()).unwrap_or(u32::MAX),
        u32::try_from(hits).unwrap_or(u32::MAX),
    )
}

/// Ranks the window: bm25's term-frequency and length terms over the
/// matched tokens (lower is better, like FTS5's `bm25()`). FTS5's own
/// `bm25()` is not used: its IDF reads the whole doclist of every query word
/// on every search (20 ms for a word in half of a million messages); every
/// candidate here contains every word anyway (AND), so IDF would only
/// reweigh the words against each other.
fn rank(counts: &[(u32, u32)]) -> Vec<(usize, f64)> {
    let total: u64 = counts.iter().map(|&(t, _)| u64::from(t)).sum();
    let avg = (total as f64 / counts.len().max(1) as f64).max(1.0);
    let mut ranked: Vec<(usize, f64)> = counts
        .iter()
        .copied()
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

/// The snippet of a highlighted body: the whole body when it is short,
/// otherwise [`SNIPPET_TOKENS`] whole words around the densest run of
/// matches, with `…` where it is cut; `ranges` move with the text.
fn make_snippet(text: &str, body: &[Word], ranges: &[[u32; 2]]) -> (String, Vec<[u32; 2]>) {
    let tokens: Vec<(usize, usize)> = body.iter().map(|w| (w.start, w.end)).collect();
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

fn search(
    r: &dyn Read,
    me: UserId,
    q: &str,
    with: Option<&str>,
    conversation: Option<ConversationId>,
    limit: u32,
) -> StoreResult<SearchResults> {
    let terms = search_terms(q);
    if terms.is_empty() {
        return Err(StoreError::api(
            ErrorCode::InvalidQuery,
            "the search has no words to look for: use letters or digits",
        ));
    }
    let convs = scope(r, me, with, conversation)?;
    if convs.is_empty() {
        return Ok(SearchResults { hits: Vec::new() });
    }
    let window = r.search_window(me, &terms, &convs, RANK_WINDOW)?;
    let cut: Vec<(Vec<Word>, Vec<[u32; 2]>)> = window
        .iter()
        .map(|(_, body)| {
            let body = words(body);
            let ranges = highlights(&body, &terms);
            (body, ranges)
        })
        .collect();
    let counts: Vec<(u32, u32)> = cut
        .iter()
        .map(|(body, ranges)| word_counts(body, ranges))
        .collect();
    let mut ranked = rank(&counts);
    ranked.truncate(limit as usize);
    let mut messages = Vec::with_capacity(ranked.len());
    let mut rest = Vec::with_capacity(ranked.len());
    let mut peers: Vec<(ConversationId, String)> = Vec::new();
    for (at, rank) in ranked {
        let (id, text) = &window[at];
        let message = r.message(*id)?.ok_or_else(|| StoreError::not_found("message"))?;
        let (body, ranges) = &cut[at];
        let (snippet, highlights) = make_snippet(text, body, ranges);
        let conv = message.conversation_id;
        let peer = match peers.iter().find(|(c, _)| *c == conv) {
            Some((_, p)) => p.clone(),
            None => {
                let p = peer_name(r, me, conv)?;
                peers.push((conv, p.clone()));
                p
            }
        };
        messages.push(message);
        rest.push((peer, snippet, highlights, rank));
    }
    super::hydrate::hydrate(r, &mut messages)?;
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
        self.read_data(move |r| search(r, me, &q, with.as_deref(), conversation, limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges_of(body: &str, q: &str) -> Vec<String> {
        let chars: Vec<char> = body.chars().collect();
        highlights(&words(body), &search_terms(q))
            .into_iter()
            .map(|[a, b]| chars[a as usize..b as usize].iter().collect())
            .collect()
    }

    #[test]
    fn terms_are_words_and_phrases_and_the_last_word_a_prefix() {
        let t = search_terms(r#"say "Pull  request" NOW"#);
        assert_eq!(
            t.iter()
                .map(|t| (t.text.as_str(), t.words.clone(), t.prefix))
                .collect::<Vec<_>>(),
            [
                ("say", vec!["say".to_owned()], false),
                (
                    "Pull request",
                    vec!["pull".to_owned(), "request".to_owned()],
                    false
                ),
                ("NOW", vec!["now".to_owned()], true),
            ]
        );
        assert!(search_terms("* ^ - + ( ) :").is_empty());
        assert!(search_terms(r#""""#).is_empty());
        assert!(!search_terms("c++")[0].prefix && !search_terms("x")[0].prefix);
        assert_eq!(search_terms("NEAR(a")[0].words, ["near", "a"]);
    }

    #[test]
    fn highlights_cover_each_match_and_ignore_case_and_accents() {
        assert_eq!(ranges_of("Café au lait, CAFE noir", "cafe"), ["Café", "CAFE"]);
        assert_eq!(
            ranges_of("a pull request, pull it", "\"pull request\""),
            ["pull request"]
        );
        assert_eq!(
            ranges_of("rustacean rust rusty", "rus"),
            ["rustacean", "rust", "rusty"]
        );
        assert_eq!(ranges_of("rustacean rust", "rust life"), ["rust"]);
        assert!(ranges_of("nothing here", "rust").is_empty());
        // Overlapping matches of two terms merge into one range.
        assert_eq!(
            ranges_of("big pull request", "\"big pull\" \"pull request\""),
            ["big pull request"]
        );
    }

    #[test]
    fn ranking_prefers_more_matches_in_shorter_bodies_then_newer() {
        let terms = search_terms("rust");
        // Newest first, as the window comes.
        let window = [
            "rust short",
            "rust short",
            "rust rust twice",
            "rust once in a rather long message about other things",
        ];
        let counts: Vec<(u32, u32)> = window
            .iter()
            .map(|b| {
                let body = words(b);
                let ranges = highlights(&body, &terms);
                word_counts(&body, &ranges)
            })
            .collect();
        assert_eq!(counts[2], (3, 2));
        let order: Vec<usize> = rank(&counts).into_iter().map(|(at, _)| at).collect();
        assert_eq!(order, vec![2, 0, 1, 3]);
        assert!(rank(&[]).is_empty());
    }

    #[test]
    fn snippets_keep_short_bodies_and_cut_long_ones_around_the_matches() {
        let snippet = |text: &str, ranges: &[[u32; 2]]| make_snippet(text, &words(text), ranges);
        assert_eq!(
            snippet("short body", &[[0, 5]]),
            ("short body".into(), vec![[0, 5]])
        );
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let text = words.join(" ");
        let at = text.find("w40").unwrap() as u32;
        let (cut, ranges) = snippet(&text, &[[at, at + 3]]);
        assert!(cut.starts_with("…w37 w38 w39 w40"), "{cut}");
        assert!(cut.ends_with("w52…"), "{cut}");
        let chars: Vec<char> = cut.chars().collect();
        let [a, b] = ranges[0];
        assert_eq!(chars[a as usize..b as usize].iter().collect::<String>(), "w40");
        assert_eq!(ranges.len(), 1);
        // A match at the very end: the last words, no trailing ellipsis.
        let at = text.find("w59").unwrap() as u32;
        let (cut, ranges) = snippet(&text, &[[at, at + 3]]);
        assert!(cut.ends_with("w59") && cut.starts_with("…w44 "), "{cut}");
        let chars: Vec<char> = cut.chars().collect();
        let [a, b] = ranges[0];
        assert_eq!(chars[a as usize..b as usize].iter().collect::<String>(), "w59");
        // No match in range: the start of the body.
        let (cut, ranges) = snippet(&text, &[]);
        assert!(cut.starts_with("w0 ") && cut.ends_with("w15…"), "{cut}");
        assert!(ranges.is_empty());
    }

    mod on_both_backends {
        //! One search story on both backends: the same hits, ranks and highlights.
        #![allow(clippy::unwrap_used, clippy::expect_used)]

        use crate::store::both_backends::{CONVERSATION, add_user, on_both, outcome};
        use crate::store::{IsOnline, Store, Transition};
        use mchat_shared::api::Role;
        use mchat_shared::{ConversationId, UserId};
        use std::sync::Arc;

        async fn story(store: Store, mona: UserId, ana: UserId) -> Vec<String> {
            let offline: IsOnline = Arc::new(|_| false);
            let ben = add_user(&store, "ben", Role::Mentee).await;
            let (theirs, _) = store
                .request_conversation(
                    ben,
                    "mona".into(),
                    "Un café avant la revue ?".into(),
                    None,
                    60_000,
                )
                .await
                .unwrap();
            store
                .transition(mona, theirs.id, Transition::Accept)
                .await
                .unwrap();
            let mut sent = Vec::new();
            for (who, conv, body) in [
                (ana, CONVERSATION, "CAFÉ menu attached"),
                (mona, CONVERSATION, "cafe, but about to be deleted"),
                (ana, CONVERSATION, "Rust life: a pull request, then another pull"),
                (mona, CONVERSATION, "rustacean notes on the review"),
                (ana, CONVERSATION, "say \"it\" AND OR NEAR(a b) col:x * ^"),
                (mona, theirs.id, "cafe with ben"),
            ] {
                let (m, _) = store
                    .send_message(
                        who,
                        conv,
                        format!("c{}", sent.len()),
                        body.into(),
                        None,
                        None,
                        offline.clone(),
                    )
                    .await
                    .unwrap();
                sent.push(m.id);
            }
            store
                .delete_message(
                    mona,
                    sent[1],
                    &std::sync::Arc::new(crate::attachments::Blobs::in_dir(
                        tempfile::tempdir().unwrap().path().to_path_buf(),
                    )),
                )
                .await
                .unwrap();
            store
                .edit_message(mona, sent[3], "rustaceans review notes".into())
                .await
                .unwrap();
            let mut lines = Vec::new();
            for (who, q, with, conv) in [
                (ana, "cafe", None, None),
                (mona, "café", None, None),
                (mona, "CAFE", Some("ben"), None),
                (mona, "cafe", None, Some(theirs.id)),
                (ana, "cafe", None, Some(theirs.id)),
                (ana, "cafe", Some("nobody"), None),
                (ana, "rust", None, None),
                (ana, "\"pull request\"", None, None),
                (ana, "pull", None, None),
                (ana, "review", None, None),
                (ana, "AND OR NEAR(a", None, None),
                (ana, "col:x", None, None),
                (ana, "* ^ -", None, None),
                (ben, "menu", None, None),
                (ana, "deleted", None, None),
                (ana, "accepted", None, None),
                (ana, "\"notes on\"", None, None),
            ] {
                let found = store
                    .search(
                        who,
                        q.into(),
                        with.map(str::to_owned),
                        conv.map(|c: ConversationId| c),
                        20,
                    )
                    .await
                    .map(|r| {
                        let hits: Vec<String> = r
                            .hits
                            .iter()
                            .map(|h| {
                                format!(
                                    "#{} with {} {:?} {:?} rank {:.4}",
                                    h.message.id, h.peer, h.snippet, h.highlights, h.rank
                                )
                            })
                            .collect();
                        format!("{q}: {hits:?}")
                    });
                lines.push(outcome(found));
            }
            lines
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
        async fn search_behaves_the_same_on_sqlite_and_postgres() {
            let s = on_both(story).await;
            let text = s.join("\n");
            // Accents and case fold both ways; a deleted message is not found.
            assert!(
                s[0].starts_with("cafe: [\"#3 with mona \\\"CAFÉ menu attached\\\" [[0, 4]]"),
                "{text}"
            );
            assert!(!s[0].contains("deleted") && !s[0].contains("ben"), "{text}");
            assert!(
                s[1].contains("#3 with ana") && s[1].contains("with ben"),
                "{text}"
            );
            assert!(s[2].contains("with ben") && !s[2].contains("with ana"), "{text}");
            assert_eq!(s[3].matches('#').count(), 2, "the intro and the reply: {text}");
            assert!(
                s[4].starts_with("refused NotFound: no such conversation"),
                "{text}"
            );
            assert!(
                s[5].starts_with("refused NotFound: you have no conversation with nobody"),
                "{text}"
            );
            // The last word is a prefix; a phrase matches its words in a row.
            assert!(
                s[6].contains("Rust life") && s[6].contains("rustaceans"),
                "{text}"
            );
            assert!(
                s[7].contains("[[13, 25]]") && !s[7].contains("rustaceans"),
                "{text}"
            );
            assert!(s[8].contains("[[13, 17], [40, 44]]"), "{text}");
            assert!(
                s[9].contains("rustaceans review notes") && !s[9].contains("revue"),
                "{text}"
            );
            // Search syntax is only text.
            assert!(s[10].contains("NEAR(a b)") && s[11].contains("col:x"), "{text}");
            assert!(s[12].starts_with("refused InvalidQuery"), "{text}");
            assert_eq!(s[13], "menu: []", "{text}");
            assert_eq!(s[14], "deleted: []", "{text}");
            assert_eq!(s[15], "accepted: []", "system messages are not searched: {text}");
            assert_eq!(
                s[16], "\"notes on\": []",
                "an edit is searched as it is now: {text}"
            );
        }
    }
}
