//! The outbox: what cannot reach the server waits locally and is sent
//! exactly once later — after the server comes back, and after a response
//! lost on the way back (the server answers the retried `client_id` with
//! the original message).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence, bodies, eventually, one_json};
use mchat_testkit::{DropResponseProxy, TestServer};
use serde_json::Value;
use std::time::Duration;

/// How long a test waits for the outbox's retry backoff (about 1 s, then 2 s, ...).
const BACKOFF_WAIT: Duration = Duration::from_secs(15);

fn outbox_items(user: &User) -> Vec<Value> {
    user.json(&["outbox"], "")["items"].as_array().unwrap().clone()
}

/// Points both users at the server's current URL (a restart may change the port).
fn follow(server: &TestServer, users: &mut [&mut User]) {
    for u in users.iter_mut() {
        u.server = server.url();
    }
}

#[test]
fn queued_while_the_server_is_down_then_flushed_exactly_once() {
    let mut server = TestServer::start_open();
    let (mut mona, mut ana) = accepted_pair(&server);
    server.stop().expect("the server was running");

    let (code, out, err) = ana.run(&["send", "mona", "first, while you were away"], "");
    assert_eq!(code, 75, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_one_sentence(&err);
    assert!(err.contains("queued in the outbox (1 waiting)"), "{err}");
    assert!(err.contains("mchat outbox flush"), "says how to send it: {err}");

    // More messages queue behind it, in order (also from stdin, also with --json).
    let (code, out, _) = ana.run(&["--json", "send", "mona", "-"], "second,\nfrom stdin\n");
    assert_eq!(code, 75);
    let doc = assert_json_error(&out, 75);
    assert_eq!(doc["error"]["code"], "queued", "{doc}");
    let (code, _, err) = ana.run(&["send", "mona", "third"], "");
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("(3 waiting)"), "{err}");

    // `outbox list` shows them; `drop` forgets one.
    let items = outbox_items(&ana);
    let texts: Vec<&str> = items.iter().map(|i| i["body"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["first, while you were away", "second,\nfrom stdin", "third"]
    );
    assert!(
        items
            .iter()
            .all(|i| i["target"] == "mona" && i["client_id"].is_string()),
        "{items:?}"
    );
    let listing = ana.ok(&["outbox", "list"], "");
    assert_eq!(listing.lines().count(), 3, "{listing}");
    assert!(
        listing.contains("to mona") && listing.contains("second,⏎from stdin"),
        "{listing}"
    );
    let second = items[1]["id"].as_i64().unwrap().to_string();
    let out = ana.ok(&["outbox", "drop", &second], "");
    assert!(out.contains(&format!("dropped queued message {second}")), "{out}");
    let (code, _, err) = ana.run(&["outbox", "drop", &second], "");
    assert_eq!(code, 4, "dropping twice: {err}");
    assert_one_sentence(&err);

    // Still down: doctor says so (and fails), flush keeps everything.
    let (code, doctor, _) = ana.run(&["doctor"], "");
    assert_eq!(code, 1, "{doctor}");
    assert!(doctor.contains("reachable: no"), "{doctor}");
    assert!(doctor.contains("outbox       2 queued"), "{doctor}");
    let (_, out, _) = ana.run(&["--json", "doctor"], "");
    let doc = common::one_json(&out);
    assert_eq!(
        (doc["reachable"].clone(), doc["outbox_depth"].clone()),
        (false.into(), 2.into()),
        "{doc}"
    );
    let (code, out, err) = ana.run(&["outbox", "flush"], "");
    assert_eq!(code, 75, "{out}{err}");
    assert!(out.contains("sent 0, 0 refused, 2 still queued"), "{out}");
    assert_eq!(outbox_items(&ana).len(), 2);

    // Back up on the same data directory and port: the queue belongs to
    // this server's address.
    assert!(server.start_again_on_same_port(), "the old port was taken");
    follow(&server, &mut [&mut mona, &mut ana]);
    let report = ana.json(&["outbox", "flush"], "");
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(report["unreachable"], false, "{report}");
    let sent: Vec<&str> = report["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["first, while you were away", "third"]);
    let out = ana.ok(&["outbox", "flush"], "");
    assert!(out.contains("sent 0, 0 refused, 0 still queued"), "{out}");
    assert_eq!(ana.ok(&["outbox"], "").trim(), "the outbox is empty");
    let doctor = ana.ok(&["doctor"], "");
    assert!(
        doctor.contains("reachable: ok") && doctor.contains("outbox       0 queued"),
        "{doctor}"
    );

    assert_eq!(
        bodies(&mona, "ana"),
        [
            "hello, may I ask you about Rust?",
            "first, while you were away",
            "third"
        ],
        "exactly one copy of each, in order, and nothing dropped is sent"
    );
}

#[test]
fn the_next_ordinary_command_flushes_due_messages() {
    let mut server = TestServer::start_open();
    let (mut mona, mut ana) = accepted_pair(&server);
    server.stop();
    let (code, _, err) = ana.run(&["send", "mona", "sent by a later command"], "");
    assert_eq!(code, 75, "{err}");
    assert!(server.start_again_on_same_port(), "the old port was taken");
    follow(&server, &mut [&mut mona, &mut ana]);

    // The item becomes due after its backoff (~1 s); `inbox` sends it then.
    let note = eventually(BACKOFF_WAIT, "inbox to flush the outbox", || {
        let (code, out, err) = ana.run(&["inbox"], "");
        assert_eq!(code, 0, "{out}{err}");
        err.contains("sent 1 queued message(s) from the outbox")
            .then_some(out)
    });
    assert!(
        note.contains("you: sent by a later command"),
        "the inbox already shows it: {note}"
    );
    assert!(outbox_items(&ana).is_empty());
    assert_eq!(
        bodies(&mona, "ana"),
        ["hello, may I ask you about Rust?", "sent by a later command"]
    );
}

#[test]
fn a_lost_response_is_retried_without_a_duplicate() {
    let server = TestServer::start_open();
    let (mona, mut ana) = accepted_pair(&server);
    let proxy = DropResponseProxy::message_posts(&server.url(), 1);
    // Ana's server is the proxy from now on: her token goes only to the
    // server she logged in to, so she logs in there.
    ana.server = proxy.url();
    ana.ok(
        &["login", "ana", "--password-stdin"],
        &format!("{}\n", mchat_testkit::PASSWORD),
    );

    // The server stores the message, but its answer never arrives.
    let (code, out, err) = ana.run(&["send", "mona", "exactly once, please"], "");
    assert_eq!(code, 75, "{out}{err}");
    assert_one_sentence(&err);
    assert!(err.contains("queued in the outbox"), "{err}");
    assert_eq!(proxy.dropped(), 1, "{:?}", proxy.seen());
    let queued = outbox_items(&ana);
    assert_eq!(queued.len(), 1);
    let stored = mona.json(&["read", "ana", "--no-mark"], "");
    let on_server: Vec<&Value> = stored["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "exactly once, please")
        .collect();
    assert_eq!(
        on_server.len(),
        1,
        "the commit happened before the answer was lost"
    );
    assert_eq!(
        on_server[0]["client_id"], queued[0]["client_id"],
        "same idempotency key"
    );

    // The retry (through the proxy, its drop budget spent) gets the original back.
    let report = ana.json(&["outbox", "flush"], "");
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(
        report["sent"][0]["id"], on_server[0]["id"],
        "the original message: {report}"
    );
    let posts = proxy.seen().iter().filter(|s| s.contains("/messages")).count();
    assert_eq!(posts, 2, "sent twice on the wire: {:?}", proxy.seen());
    assert_eq!(
        bodies(&mona, "ana"),
        ["hello, may I ask you about Rust?", "exactly once, please"],
        "one copy on the server"
    );

    // Same again, retried by the next ordinary command instead of a flush.
    proxy.set_remaining(1);
    let (code, _, err) = ana.run(&["send", "mona", "lost again"], "");
    assert_eq!(code, 75, "{err}");
    let out = eventually(BACKOFF_WAIT, "a later command to flush the outbox", || {
        let (code, out, err) = ana.run(&["--json", "inbox"], "");
        assert_eq!(code, 0, "{out}{err}");
        err.contains("sent 1 queued message(s)").then_some(out)
    });
    let inbox = one_json(&out);
    assert_eq!(inbox["conversations"][0]["last_message"]["body"], "lost again");
    assert_eq!(proxy.dropped(), 2);
    assert_eq!(
        bodies(&mona, "ana"),
        [
            "hello, may I ask you about Rust?",
            "exactly once, please",
            "lost again"
        ]
    );
}

#[test]
fn sending_after_the_server_returns_goes_out_at_once_and_refused_messages_hold_nothing_back() {
    let mut server = TestServer::start_open();
    let (mut mona, mut ana) = accepted_pair(&server);
    server.stop();
    let (code, _, err) = ana.run(&["send", "mona", "first"], "");
    assert_eq!(code, 75, "{err}");
    // Queued by name; it turns out there is no such conversation.
    let (code, _, err) = ana.run(&["send", "nobodyhere", "lost cause"], "");
    assert_eq!(code, 75, "{err}");
    assert!(server.start_again_on_same_port(), "the old port was taken");
    follow(&server, &mut [&mut mona, &mut ana]);

    // Sending tries the backlog first, backoff or not: the server is back,
    // so everything goes now, in order, and the refused one is set aside.
    let (code, out, err) = ana.run(&["send", "mona", "second"], "");
    assert_eq!(code, 0, "the server is reachable: {out}{err}");
    assert!(out.starts_with("✓ sent"), "{out}");
    assert!(err.contains("sent 1 queued message(s) from the outbox"), "{err}");
    assert!(
        err.contains("to nobodyhere was refused: there is no user named nobodyhere"),
        "{err}"
    );
    // The refused message is kept (nothing typed is lost) but blocks nothing.
    let (code, out, err) = ana.run(&["send", "mona", "third"], "");
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let items = outbox_items(&ana);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["body"], "lost cause");
    assert!(
        items[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("there is no user named nobodyhere")
    );
    assert_eq!(
        bodies(&mona, "ana"),
        ["hello, may I ask you about Rust?", "first", "second", "third"]
    );
    let out = ana.ok(&["outbox", "drop", &items[0]["id"].to_string()], "");
    assert!(out.contains("dropped"), "{out}");
}
