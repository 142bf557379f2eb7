//! `mchat edit`, `mchat delete`, `mchat react` and replies, end to end
//! through the real binary against a real server: what `mchat read` shows
//! afterwards (quotes, "(edited)", tombstones, reactions), the `--json`
//! documents, and the exit codes when the server or the input says no.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence};
use mchat_shared::api::Message;
use mchat_testkit::TestServer;
use serde_json::Value;

fn sent_id(doc: &Value) -> String {
    doc["message"]["id"].as_i64().unwrap().to_string()
}

fn message(doc: Value) -> Message {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("not a message: {e}\n{doc}"))
}

/// The block `mchat read` prints for message `id`: its header line and the
/// indented lines under it.
fn block(read: &str, id: &str) -> String {
    let tag = format!("#{id}");
    let mut lines = read
        .lines()
        .skip_while(|l| !l.split_whitespace().any(|w| w == tag));
    let mut out = vec![lines.next().unwrap_or_else(|| panic!("no {tag} in:\n{read}"))];
    out.extend(lines.take_while(|l| l.starts_with("    ")));
    out.join("\n")
}

#[test]
fn edit_react_reply_and_delete_show_in_read() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let first = ana.json(&["send", "mona", "can we talk about lifetmes?"], "");
    let id = sent_id(&first);

    // Edit: one line in human mode, the message in --json.
    let out = ana.ok(&["edit", &id, "can", "we", "talk", "about", "lifetimes?"], "");
    assert_eq!(out.trim(), format!("✓ edited #{id}"));
    let edited = message(ana.json(&["edit", &id, "-"], "can we talk about lifetimes, please?\n"));
    assert_eq!(edited.body, "can we talk about lifetimes, please?");
    assert!(edited.edited_at.is_some());

    // A reply quotes its parent.
    let answer = mona.json(&["send", "ana", "of course", "--reply-to", &id], "");
    let answer_id = sent_id(&answer);

    // Reactions, from both sides; adding twice counts once.
    let out = mona.ok(&["react", &id, "👍"], "");
    assert_eq!(out.trim(), format!("✓ reacted 👍 to #{id}"));
    ana.ok(&["react", &id, "👍"], "");
    ana.ok(&["react", &id, "🎉"], "");
    let reacted = message(mona.json(&["react", &id, "👍"], ""));
    assert_eq!(reacted.reactions[0].count, 2);
    assert_eq!(reacted.reactions[0].users, vec!["mona", "ana"]);

    let read = mona.ok(&["read", "ana"], "");
    let parent = block(&read, &id);
    assert!(
        parent.contains("can we talk about lifetimes, please?"),
        "{parent}"
    );
    assert!(parent.contains("(edited)"), "{parent}");
    assert!(parent.contains("👍 2 mona, ana"), "{parent}");
    assert!(parent.contains("🎉 1 ana"), "{parent}");
    let reply = block(&read, &answer_id);
    assert!(
        reply.contains("↳ ana: can we talk about lifetimes, please?"),
        "{reply}"
    );
    assert!(reply.contains("of course"), "{reply}");

    // Taking a reaction back.
    let out = ana.ok(&["react", &id, "🎉", "--remove"], "");
    assert_eq!(out.trim(), format!("✓ took back 🎉 on #{id}"));
    let read = ana.ok(&["read", "mona"], "");
    assert!(!block(&read, &id).contains("🎉"), "{read}");

    // Delete: a tombstone in the thread, the quote says so too.
    let out = ana.ok(&["delete", &id], "");
    assert_eq!(out.trim(), format!("✓ deleted #{id}"));
    let tomb = message(ana.json(&["delete", &id], ""));
    assert!(tomb.deleted_at.is_some());
    assert_eq!(tomb.body, "");
    let read = mona.ok(&["read", "ana"], "");
    let parent = block(&read, &id);
    assert!(parent.contains("(message deleted)"), "{parent}");
    assert!(!parent.contains("lifetimes"), "{parent}");
    assert!(!parent.contains("👍"), "reactions go with the text: {parent}");
    let reply = block(&read, &answer_id);
    assert!(reply.contains(&format!("↳ #{id} (message deleted)")), "{reply}");
    // --json read carries the same facts.
    let doc = mona.json(&["read", "ana"], "");
    let messages: Vec<Message> = serde_json::from_value(doc["messages"].clone()).unwrap();
    let quoted = messages.iter().find(|m| m.id.to_string() == answer_id).unwrap();
    assert!(quoted.reply.as_ref().unwrap().deleted);
}

#[test]
fn refusals_have_meaningful_exit_codes() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let eve = User::register(&server, "eve", &[]);
    let id = sent_id(&ana.json(&["send", "mona", "only for mona"], ""));

    // A stranger cannot tell the message exists: 4, as for a missing one.
    for args in [
        vec!["edit", id.as_str(), "mine"],
        vec!["delete", id.as_str()],
        vec!["react", id.as_str(), "👀"],
        vec!["react", id.as_str(), "👀", "--remove"],
        vec!["delete", "999999"],
    ] {
        let (code, out, err) = eve.run(&args, "");
        assert_eq!(code, 4, "{args:?}: {out}{err}");
        assert_one_sentence(&err);
        let mut json = vec!["--json"];
        json.extend_from_slice(&args);
        let (code, out, _) = eve.run(&json, "");
        assert_eq!(code, 4);
        let doc = assert_json_error(&out, 4);
        assert_eq!(doc["error"]["code"], "not_found", "{doc}");
    }
    // The peer may not change ana's words: 4 (forbidden).
    for args in [
        vec!["edit", id.as_str(), "rewritten"],
        vec!["delete", id.as_str()],
    ] {
        let mut json = vec!["--json"];
        json.extend_from_slice(&args);
        let (code, out, _) = mona.run(&json, "");
        assert_eq!(code, 4, "{args:?}: {out}");
        let doc = assert_json_error(&out, 4);
        assert_eq!(doc["error"]["code"], "forbidden", "{doc}");
    }
    // No text at all is a usage error (2), as for send; bad text is
    // rejected before anything is sent: 5.
    let (code, _, err) = ana.run(&["edit", &id, "-"], "   \n");
    assert_eq!(code, 2, "{err}");
    assert_one_sentence(&err);
    let long = "x".repeat(4001);
    let (code, _, err) = ana.run(&["edit", &id, &long], "");
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = ana.run(&["react", &id, "ok"], "");
    assert_eq!(code, 5, "{err}");
    assert_one_sentence(&err);
    // The server says no to editing a tombstone: 5 with its sentence.
    ana.ok(&["delete", &id], "");
    let (code, _, err) = ana.run(&["edit", &id, "back again"], "");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("deleted"), "{err}");
    // Nothing above changed the message.
    let doc = mona.json(&["read", "ana"], "");
    let messages: Vec<Message> = serde_json::from_value(doc["messages"].clone()).unwrap();
    let m = messages.iter().find(|m| m.id.to_string() == id).unwrap();
    assert!(m.edited_at.is_none());
    assert!(m.reactions.is_empty());
}

#[test]
fn hostile_text_in_quotes_and_reactions_is_sanitised() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let id = sent_id(&ana.json(&["send", "mona", "look \u{202e}evil\u{200b} twice"], ""));
    mona.ok(&["send", "ana", "seen", "--reply-to", &id], "");
    mona.ok(&["react", &id, "🏳\u{FE0F}\u{200D}🌈"], "");
    let read = mona.ok(&["read", "ana"], "");
    assert!(
        !read
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{read:?}"
    );
    assert!(read.contains("🏳\u{FE0F}\u{200D}🌈 1 mona"), "{read}");
    assert!(
        read.contains("↳ ana: look "),
        "the quote is there, made safe: {read}"
    );
}
