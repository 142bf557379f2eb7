//! `mchat search`: end to end through the real binary and a real server:
//! human blocks with the match in bold and a `mchat read` hint, `--json`,
//! `--with`, no match, exit codes, another pair's messages never found, and
//! network text sanitised before it is styled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence};
use mchat_testkit::TestServer;

fn hits(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["hits"].as_array().expect("hits array")
}

#[test]
fn search_prints_blocks_json_and_hints() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    ana.ok(&["send", "mona", "the borrow checker rejects my lifetimes"], "");
    mona.ok(&["send", "ana", "Show me the lifetimes error, please"], "");
    ana.ok(&["send", "mona", "unrelated chatter"], "");

    // --json: one document, ranked hits with highlights and the peer.
    let doc = mona.json(&["search", "lifetimes"], "");
    assert_eq!(hits(&doc).len(), 2, "{doc}");
    for hit in hits(&doc) {
        assert_eq!(hit["peer"], "ana");
        let snippet: Vec<char> = hit["snippet"].as_str().unwrap().chars().collect();
        let [a, b] = [0, 1].map(|i| hit["highlights"][0][i].as_u64().unwrap() as usize);
        assert_eq!(
            snippet[a..b].iter().collect::<String>().to_lowercase(),
            "lifetimes"
        );
    }
    let doc = mona.json(&["search", "borrow", "lifet"], "");
    assert_eq!(hits(&doc).len(), 1, "the last word is a prefix: {doc}");
    let id = hits(&doc)[0]["message"]["id"].as_i64().unwrap();

    // Human: who, when, id, snippet, and the command to see it in context.
    let out = mona.ok(&["search", "borrow", "checker"], "");
    assert!(out.contains("ana  from ana"), "{out}");
    assert!(out.contains(&format!("#{id}")), "{out}");
    assert!(out.contains("the borrow checker rejects"), "{out}");
    assert!(
        out.contains(&format!("mchat read ana --before {}", id + 1)),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no styles when piped: {out:?}");
    // The hint works: the message is the newest of that page.
    let page = mona.json(
        &["read", "ana", "--before", &(id + 1).to_string(), "--no-mark"],
        "",
    );
    let last = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["id"].as_i64(), Some(id));

    // Forced colour: the matched words (and only they) are bold.
    let (code, out, err) = mona.run_env(&["search", "checker"], "", &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\x1b[1mchecker\x1b[0m"), "{out:?}");
    assert!(!out.contains("\x1b[1mborrow"), "{out:?}");

    // Phrases from the shell keep their quotes.
    assert_eq!(hits(&ana.json(&["search", "\"borrow checker\""], "")).len(), 1);
    assert!(hits(&ana.json(&["search", "\"checker borrow\""], "")).is_empty());

    // --with narrows; --limit caps.
    assert_eq!(
        hits(&ana.json(&["search", "lifetimes", "--with", "mona"], "")).len(),
        2
    );
    assert_eq!(
        hits(&ana.json(&["search", "lifetimes", "--limit", "1"], "")).len(),
        1
    );

    // No match: exit 0 and one sentence; --json gives an empty list.
    assert_eq!(ana.ok(&["search", "zebra"], "").trim(), "no messages match");
    assert!(hits(&ana.json(&["search", "zebra"], "")).is_empty());
}

#[test]
fn search_exit_codes_and_other_pairs() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let bob = User::register(&server, "bob", &["--role", "mentor"]);
    let carl = User::register(&server, "carl", &[]);
    carl.ok(&["request", "bob", "my secret plan involves tofu"], "");
    bob.ok(&["accept", "carl"], "");
    ana.ok(&["send", "mona", "no tofu here, only rust"], "");

    // Nobody sees another pair's messages, by any route.
    assert!(hits(&mona.json(&["search", "secret"], "")).is_empty());
    let tofu = ana.json(&["search", "tofu"], "");
    assert_eq!(hits(&tofu).len(), 1, "{tofu}");
    assert_eq!(hits(&tofu)[0]["peer"], "mona");
    assert_eq!(hits(&carl.json(&["search", "tofu"], "")).len(), 1);

    // --with someone I have no conversation with: 4 (not found), one sentence.
    let (code, out, err) = ana.run(&["search", "tofu", "--with", "carl"], "");
    assert_eq!((code, out.as_str()), (4, ""), "{err}");
    assert_one_sentence(&err);
    let (code, out, _) = ana.run(&["--json", "search", "tofu", "--with", "carl"], "");
    assert_eq!(code, 4);
    assert_json_error(&out, 4);

    // Nothing searchable, or too long: 5 (rejected input).
    for q in ["*", "(((", &"x".repeat(300)] {
        let (code, out, err) = ana.run(&["search", q], "");
        assert_eq!((code, out.as_str()), (5, ""), "{q}: {err}");
        assert_one_sentence(&err);
    }
    let (code, _, err) = ana.run(&["search", "rust", "--limit", "0"], "");
    assert_eq!(code, 5, "{err}");
    // No words at all: a usage error from clap.
    let (code, _, _) = ana.run(&["search"], "");
    assert_eq!(code, 2);
    // Not logged in: 3.
    let stranger = User::new("stranger", &server.url());
    let (code, _, err) = stranger.run(&["search", "rust"], "");
    assert_eq!(code, 3, "{err}");
}

#[test]
fn snippets_are_sanitised_before_they_are_styled() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    ana.ok(&["send", "mona", "evil \u{202E}reversed rust\nsecond line"], "");
    let (code, out, err) = mona.run_env(&["search", "rust"], "", &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\u{202E}'), "{out:?}");
    assert!(
        out.contains("<U+202E>reversed \x1b[1mrust\x1b[0m⏎second line"),
        "{out:?}"
    );
    // JSON keeps the exact text.
    let doc = mona.json(&["search", "rust"], "");
    assert!(
        hits(&doc)[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("\u{202E}reversed rust\nsecond")
    );
}
