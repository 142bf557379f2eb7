//! The command line's contract, as a script sees it: exit codes that match
//! the README's table (with `--json` codes that agree with them), hints that
//! are right, and listings that say what they mean.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence, one_json};
use mchat_testkit::TestServer;

#[test]
fn exit_codes_follow_the_table() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);

    // A mentee may not set an availability: not allowed (4), not bad input (5).
    let (code, _, err) = ana.run(&["status", "busy"], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("only mentors"), "{err}");

    // An empty body is a mistake in the command line (2).
    for args in [
        &["send", "mona", ""][..],
        &["send", "mona", "   "],
        &["send", "mona", "-"],
    ] {
        let (code, _, err) = ana.run(args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("the message is empty"), "{err}");
    }

    // With --json, the document's code agrees with the exit code.
    let (code, out, _) = mona.run(&["--json", "status", "sleeping"], "");
    assert_eq!(code, 2);
    assert_eq!(assert_json_error(&out, 2)["error"]["code"], "usage");

    // Nobody by that name: say so (4), do not suggest a request.
    let (code, _, err) = ana.run(&["send", "nosuchuser", "hello?"], "");
    assert_eq!(code, 4, "{err}");
    assert_one_sentence(&err);
    assert!(err.contains("there is no user named nosuchuser"), "{err}");
    assert!(!err.contains("mchat request"), "{err}");
    // Someone who exists but with whom there is no conversation: the hint stays.
    User::register(&server, "carl", &["--role", "mentor"]);
    let (code, _, err) = ana.run(&["send", "carl", "hello?"], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("mchat request carl"), "{err}");

    // Accepting what is already accepted changes nothing and says so.
    let (code, out, err) = mona.run(&["accept", "ana"], "");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('✓') && out.contains("already accepted"), "{out}");
    mona.ok(&["complete", "ana"], "");
    let out = mona.ok(&["complete", "ana"], "");
    assert!(out.contains("already completed"), "{out}");

    // The TUI without a terminal: a usage error that says what to run instead.
    let (code, _, err) = ana.run(&["tui"], "");
    assert_eq!(code, 2, "{err}");
    assert_one_sentence(&err);
    assert!(
        err.contains("needs a terminal") && err.contains("mchat inbox"),
        "{err}"
    );
}

#[test]
fn doctor_fails_when_a_check_fails() {
    let mut server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);

    let doc = ana.json(&["doctor"], "");
    assert_eq!(doc["ok"], true, "{doc}");

    // Not logged in: 3, and still the whole report as one document.
    let fresh = User::new("fresh", &server.url());
    let (code, out, err) = fresh.run(&["--json", "doctor"], "");
    assert_eq!(code, 3, "{out}{err}");
    let doc = one_json(&out);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["logged_in"], false);
    assert!(err.contains("not logged in"), "{err}");

    // The server down: 1, in both modes.
    server.stop();
    let (code, out, err) = ana.run(&["--json", "doctor"], "");
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(one_json(&out)["reachable"], false);
    let (code, out, err) = ana.run(&["doctor"], "");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("reachable: no"), "{out}");
    assert_one_sentence(&err);
}

#[test]
fn refused_outbox_items_are_shown_and_counted_as_refused() {
    let mut server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    server.stop();
    // Queued by name while the server is down; there is no such peer.
    let (code, _, err) = ana.run(&["send", "nobodyhere", "lost cause"], "");
    assert_eq!(code, 75, "{err}");
    let doc = ana.json(&["outbox"], "");
    let item = &doc["items"][0];
    assert_eq!(item["status"], "waiting", "{doc}");
    assert!(
        item["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339: {doc}"
    );
    assert!(item["next_attempt_at"].is_string(), "{doc}");

    assert!(server.start_again_on_same_port(), "the old port was taken");
    let (code, out, err) = ana.run(&["outbox", "flush"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("sent 0, 1 refused, 0 still queued"),
        "counted once: {out}"
    );

    let doc = ana.json(&["outbox"], "");
    let item = &doc["items"][0];
    assert_eq!(item["status"], "refused", "{doc}");
    assert!(
        item["next_attempt_at"].is_null(),
        "no retry at the end of time: {doc}"
    );
    // One failed attempt while the server was down, one refusal.
    assert_eq!(item["attempts"], 2);
    let listed = ana.ok(&["outbox"], "");
    assert!(listed.contains("refused"), "{listed}");
    assert!(listed.contains("(2 tries:"), "{listed}");
}

#[test]
fn watch_json_reports_connection_changes_on_stderr() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    let (code, out, err) = ana.run(&["--json", "watch", "--from-now", "--timeout", "2"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("connected to {}", server.url())), "{err}");
    for line in out.lines() {
        one_json(line);
    }
}

#[test]
fn bare_tokens_and_template_list_and_hints_point_at_the_right_id() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let listed = ana.ok(&["tokens"], "");
    assert!(listed.contains("(this one)"), "{listed}");
    assert_eq!(ana.json(&["tokens"], ""), ana.json(&["tokens", "list"], ""));
    // A new script token is not the one in use, and names are unique.
    let created = ana.json(&["tokens", "create", "nightly"], "");
    assert_eq!(created["info"]["current"], false, "{created}");
    let (code, _, err) = ana.run(&["tokens", "create", "nightly"], "");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("already have a token named"), "{err}");
    let id = created["info"]["id"].to_string();
    ana.ok(&["tokens", "revoke", &id], "");
    ana.ok(&["tokens", "create", "nightly"], "");
    ana.ok(&["template", "add", "hi", "Hello {first_name}"], "");
    assert!(ana.ok(&["template"], "").contains("hi"));

    // `read` names the command that downloads the file: by message id.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "some notes\n").unwrap();
    // Make the file's id differ from the message's.
    for _ in 0..3 {
        ana.ok(&["send", "mona", "padding"], "");
    }
    ana.ok(
        &["send", "mona", "--file", path.to_str().unwrap(), "the notes"],
        "",
    );
    let doc = mona.json(&["read", "ana", "--no-mark"], "");
    let message = doc["messages"].as_array().unwrap().last().unwrap().clone();
    let id = message["id"].as_i64().unwrap();
    assert_ne!(Some(id), message["attachment"]["id"].as_i64(), "{message}");
    let shown = mona.ok(&["read", "ana", "--no-mark"], "");
    let hint = format!("mchat download {id}");
    assert!(shown.contains(&hint), "{shown}");
    let out_dir = tempfile::tempdir().unwrap();
    mona.ok(
        &[
            "download",
            &id.to_string(),
            "-o",
            out_dir.path().to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("notes.txt")).unwrap(),
        "some notes\n"
    );
}

/// What the shell's completion script asks `mchat` at a TAB after `words`.
fn complete(user: &User, words: &[&str]) -> Vec<String> {
    let index = (words.len() + 1).to_string();
    let mut args = vec!["--", "mchat"];
    args.extend_from_slice(words);
    args.push("");
    let (code, out, err) = user.run_env(
        &args,
        "",
        &[
            ("COMPLETE", "bash"),
            ("_CLAP_COMPLETE_INDEX", index.as_str()),
            ("_CLAP_COMPLETE_COMP_TYPE", "9"),
            ("_CLAP_COMPLETE_SPACE", "true"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    out.split(['\n', '\u{b}'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_offer_usernames_from_the_cache_and_values() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let script = mona.ok(&["completions", "zsh"], "");
    assert!(
        script.starts_with("#compdef mchat"),
        "{}",
        &script[..60.min(script.len())]
    );
    assert!(complete(&mona, &["status"]).contains(&"busy".to_string()));
    // Nothing cached yet: no names, and no files created by a TAB.
    assert!(!complete(&mona, &["send"]).contains(&"ana".to_string()));
    mona.ok(&["inbox"], "");
    for words in [&["send"][..], &["read"], &["accept"], &["mute"]] {
        let got = complete(&mona, words);
        assert!(got.contains(&"ana".to_string()), "{words:?}: {got:?}");
    }
    // Each profile completes its own peers.
    assert!(!complete(&ana, &["send"]).contains(&"mona".to_string()));
    ana.ok(&["inbox"], "");
    let got = complete(&ana, &["send"]);
    assert!(
        got.contains(&"mona".to_string()) && !got.contains(&"ana".to_string()),
        "{got:?}"
    );
}
