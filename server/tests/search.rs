//! `GET /v1/search`: full-text search over the caller's messages, through a
//! real server: ranking and highlights, prefix and phrases, edits and
//! deletions kept in step, never another pair's messages, never system
//! messages, and hostile queries answered with 400 or results, never 500.

mod common;

use common::{TestServer, assert_error, assert_error_shape, decode};
use mchat_shared::api::{SearchHit, SearchResults};
use reqwest::StatusCode;
use serde_json::json;

/// `GET /v1/search?...` with the query string encoded; the raw answer.
async fn search_raw(api: &common::Api, params: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let rb = api.builder(reqwest::Method::GET, "/v1/search").query(params);
    let r = common::Api::send(rb).await;
    (r.status, r.body)
}

async fn search(api: &common::Api, params: &[(&str, &str)]) -> Vec<SearchHit> {
    let (status, v) = search_raw(api, params).await;
    assert_eq!(status, StatusCode::OK, "search {params:?}: {v}");
    decode::<SearchResults>(v).hits
}

/// The highlighted parts of a hit's snippet.
fn highlighted(hit: &SearchHit) -> Vec<String> {
    let chars: Vec<char> = hit.snippet.chars().collect();
    hit.highlights
        .iter()
        .map(|[a, b]| chars[*a as usize..*b as usize].iter().collect())
        .collect()
}

#[tokio::test]
async fn finds_ranked_highlighted_matches_with_prefix_and_phrases() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    ana.say(conv, "c1", "Rust lifetimes are tricky when borrowing")
        .await;
    let best = mona
        .say(conv, "c2", "rust rust rust: the borrow checker, again rust")
        .await;
    ana.say(conv, "c3", "nothing to see here").await;
    mona.say(conv, "c4", "Café crème at the meetup?").await;

    let hits = search(&ana, &[("q", "rust")]).await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].message.id, best.id, "the denser match ranks first");
    assert!(hits[0].rank <= hits[1].rank);
    for hit in &hits {
        assert_eq!(hit.peer, "mona");
        assert!(
            !hit.snippet.contains(['\u{E000}', '\u{E001}']),
            "{:?}",
            hit.snippet
        );
        let marked = highlighted(hit);
        assert!(!marked.is_empty(), "{hit:?}");
        assert!(
            marked.iter().all(|w| w.eq_ignore_ascii_case("rust")),
            "{marked:?}"
        );
    }
    // The other side sees the same message with ana as the peer.
    let theirs = search(&mona, &[("q", "tricky")]).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].peer, "ana");
    assert_eq!(theirs[0].message.sender.as_deref(), Some("ana"));

    // The last word is a prefix; earlier words are whole words.
    let prefix = search(&ana, &[("q", "lifet")]).await;
    assert_eq!(prefix.len(), 1);
    assert_eq!(highlighted(&prefix[0]), vec!["lifetimes"]);
    assert!(search(&ana, &[("q", "lifet tricky")]).await.is_empty());
    assert_eq!(search(&ana, &[("q", "rust checker")]).await.len(), 1);
    assert_eq!(
        search(&ana, &[("q", "rust borrow")]).await.len(),
        2,
        "borrow* finds borrowing"
    );
    // Phrases keep their order; all words must match.
    assert_eq!(search(&ana, &[("q", "\"lifetimes are\"")]).await.len(), 1);
    assert!(search(&ana, &[("q", "\"are lifetimes\"")]).await.is_empty());
    assert!(search(&ana, &[("q", "rust meetup")]).await.is_empty());
    // Diacritics fold both ways.
    assert_eq!(search(&ana, &[("q", "cafe creme")]).await.len(), 1);
    assert_eq!(search(&ana, &[("q", "CAFÉ")]).await.len(), 1);
    // limit
    assert_eq!(search(&ana, &[("q", "rust"), ("limit", "1")]).await.len(), 1);
}

#[tokio::test]
async fn never_finds_another_pairs_messages() {
    let server = TestServer::start();
    let (mona, ana, ours) = server.accepted_pair("mona", "ana").await;
    let (bob, carl, theirs) = server.accepted_pair("bob", "carl").await;
    ana.say(ours, "a1", "our shared secret is pineapple").await;
    carl.say(theirs, "b1", "their secret is mango").await;
    bob.say(theirs, "b2", "mango pineapple secret").await;

    let mine = search(&ana, &[("q", "secret")]).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].message.conversation_id, ours);
    assert!(search(&ana, &[("q", "mango")]).await.is_empty());
    assert!(search(&mona, &[("q", "mango")]).await.is_empty());
    assert_eq!(search(&carl, &[("q", "secret")]).await.len(), 2);

    // Pointing at their conversation: not found, as for any conversation you are not in.
    let theirs_id = theirs.to_string();
    let (status, v) = search_raw(&ana, &[("q", "mango"), ("conversation", &theirs_id)]).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = search_raw(&ana, &[("q", "mango"), ("with", "carl")]).await;
    assert_error(status, &v, 404, "not_found");
    let (status, v) = search_raw(&ana, &[("q", "mango"), ("with", "nobody-here")]).await;
    assert_error(status, &v, 404, "not_found");
    // A conversation id that does not exist answers the same.
    let (status, v) = search_raw(&ana, &[("q", "mango"), ("conversation", "999999")]).await;
    assert_error(status, &v, 404, "not_found");
    // Conflicting narrowing finds nothing rather than leaking.
    let ours_id = ours.to_string();
    let hits = search(&carl, &[("q", "secret"), ("with", "bob")]).await;
    assert_eq!(hits.len(), 2);
    let (status, _) = search_raw(&carl, &[("q", "secret"), ("conversation", &ours_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // with= and conversation= narrow to my own conversation.
    let (_, dave, other) = {
        let dave = server.mentee("dave").await;
        let (status, created) = dave.request("mona", "pineapple question for you").await;
        assert_eq!(status, StatusCode::CREATED);
        (status, dave, created.conversation.id)
    };
    let all = search(&mona, &[("q", "pineapple")]).await;
    assert_eq!(
        all.len(),
        2,
        "a pending request's intro is searchable by both: {all:?}"
    );
    let with_ana = search(&mona, &[("q", "pineapple"), ("with", "ana")]).await;
    assert_eq!(with_ana.len(), 1);
    assert_eq!(
        search(&mona, &[("q", "pineapple"), ("with", " ANA ")])
            .await
            .len(),
        1,
        "case-folded"
    );
    let junk = "x".repeat(5000);
    let (status, v) = search_raw(&mona, &[("q", "pineapple"), ("with", &junk)]).await;
    assert_error(status, &v, 404, "not_found");
    assert!(v.to_string().len() < 500, "the junk name is not echoed: {v}");
    assert_eq!(with_ana[0].message.conversation_id, ours);
    let other_id = other.to_string();
    let only = search(&mona, &[("q", "pineapple"), ("conversation", &other_id)]).await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].peer, "dave");
    assert_eq!(search(&dave, &[("q", "pineapple")]).await.len(), 1);

    // No token: 401.
    let (status, v) = search_raw(&server.anon(), &[("q", "secret")]).await;
    assert_error(status, &v, 401, "unauthorized");
}

#[tokio::test]
async fn system_deleted_and_edited_messages() {
    let server = TestServer::start();
    let (mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    // "mona accepted the request" is a system message in the thread.
    assert!(search(&ana, &[("q", "accepted")]).await.is_empty());
    assert!(search(&mona, &[("q", "accepted")]).await.is_empty());

    let gone = ana.say(conv, "d1", "a regrettable typo-laden message").await;
    let kept = ana.say(conv, "d2", "another regrettable one, but it stays").await;
    assert_eq!(search(&mona, &[("q", "regrettable")]).await.len(), 2);
    let (status, v) = ana.delete(&format!("/v1/messages/{}", gone.id)).await;
    assert_eq!(status, StatusCode::OK, "delete: {v}");
    let hits = search(&mona, &[("q", "regrettable")]).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message.id, kept.id);

    let (status, v) = ana
        .patch(
            &format!("/v1/messages/{}", kept.id),
            &json!({"body": "fixed wording about lifetimes"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "edit: {v}");
    assert!(
        search(&mona, &[("q", "regrettable")]).await.is_empty(),
        "the old text is gone"
    );
    let hits = search(&mona, &[("q", "lifetimes wording")]).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message.id, kept.id);
    assert_eq!(hits[0].message.body, "fixed wording about lifetimes");
    assert!(hits[0].message.edited_at.is_some());

    // The index matches its content exactly after inserts, edits and deletes.
    let mut server = server;
    server.stop();
    let sql = server.sql();
    let (indexed, system) = if server.on_postgres() {
        (
            sql.int(
                "SELECT COUNT(*) FROM messages WHERE search_words IS NOT NULL",
                &[],
            ),
            sql.int(
                "SELECT COUNT(*) FROM messages \
                 WHERE search_words @@ plainto_tsquery('simple', 'accepted')",
                &[],
            ),
        )
    } else {
        // FTS5's own check that the index matches its content table.
        sql.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            &[],
        );
        (
            sql.int("SELECT COUNT(*) FROM messages_fts_src", &[]),
            sql.int(
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'body : accepted'",
                &[],
            ),
        )
    };
    assert_eq!(
        (indexed, system),
        (2, 0),
        "intro + edited message; no system text"
    );
}

#[tokio::test]
async fn bodies_with_the_marker_characters_still_highlight() {
    let server = TestServer::start();
    let (_mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let body = "odd \u{E000}marker\u{E001} text with rust inside";
    ana.say(conv, "m1", body).await;
    let hits = search(&ana, &[("q", "rust")]).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(highlighted(&hits[0]), vec!["rust"]);
    assert!(
        hits[0].snippet.contains("\u{E000}marker\u{E001}"),
        "{:?}",
        hits[0].snippet
    );
}

#[tokio::test]
async fn hostile_queries_are_400_or_results_never_500() {
    let server = TestServer::start();
    let (_mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    ana.say(conv, "h1", "AND OR NOT near the rust \"quoted\" text")
        .await;
    let long_ok = "rust ".repeat(51);
    let too_long = "x".repeat(257);
    let queries: Vec<&str> = vec![
        "\"unbalanced",
        "AND OR",
        "*",
        "NEAR(",
        "NEAR(rust text, 2)",
        "rust*",
        "^rust",
        "body:rust",
        "{body conv}: 1",
        "conv : 1",
        "-rust",
        "rust OR",
        "(((",
        "\"\"",
        "'",
        "\u{E000}",
        "r\u{0}ust",
        "rust\u{1b}[31m",
        "\u{202e}rust",
        "🦀",
        "",
        "   ",
        &long_ok,
        &too_long,
    ];
    for q in queries {
        let (status, v) = search_raw(&ana, &[("q", q)]).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{q:?}: {status} {v}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_error_shape(&v);
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(!msg.contains("fts5") && !msg.contains("sqlite"), "{q:?}: {msg}");
        } else {
            decode::<SearchResults>(v);
        }
    }
    // Operators are words, not syntax: "AND OR" finds the message with both words.
    assert_eq!(search(&ana, &[("q", "AND OR")]).await.len(), 1);
    assert_eq!(search(&ana, &[("q", "NEAR(rust text, 2)")]).await.len(), 0);
    assert_eq!(search(&ana, &[("q", "\"unbalanced")]).await.len(), 0);
    assert_eq!(search(&ana, &[("q", "\"quoted")]).await.len(), 1);
    assert_eq!(search(&ana, &[("q", &long_ok)]).await.len(), 1);
    for (q, status) in [("", 400), ("   ", 400), ("*", 400), ("r\u{0}ust", 400)] {
        let (got, v) = search_raw(&ana, &[("q", q)]).await;
        assert_error(got, &v, status, "invalid_query");
    }
    let (status, v) = search_raw(&ana, &[("q", &too_long)]).await;
    assert_error(status, &v, 400, "invalid_query");
    for limit in ["0", "101", "-1", "many"] {
        let (status, v) = search_raw(&ana, &[("q", "rust"), ("limit", limit)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={limit}: {v}");
        assert_error_shape(&v);
    }
    let (status, v) = search_raw(&ana, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no q: {v}");
    let (status, v) = search_raw(&ana, &[("q", "rust"), ("conversation", "abc")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn long_bodies_give_a_cut_snippet_around_the_match() {
    let server = TestServer::start();
    let (_mona, ana, conv) = server.accepted_pair("mona", "ana").await;
    let words: Vec<String> = (0..80).map(|i| format!("filler{i}")).collect();
    let body = format!(
        "{} the ÉLÉPHANT is here {}",
        words[..40].join(" "),
        words[40..].join(" ")
    );
    ana.say(conv, "long", &body).await;
    let hits = search(&ana, &[("q", "elephant")]).await;
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.message.body, body, "the message keeps its whole body");
    assert!(
        hit.snippet.starts_with('…') && hit.snippet.ends_with('…'),
        "{:?}",
        hit.snippet
    );
    assert!(hit.snippet.chars().count() < 200, "{:?}", hit.snippet);
    assert_eq!(highlighted(hit), vec!["ÉLÉPHANT"]);
}
