//! The mentorship flow through the real CLI against a real server: a mentee
//! finds an available mentor, asks, the mentor accepts, they talk both
//! ways; inbox badges, "awaiting your reply" and read marks follow. Once in
//! human mode and once with `--json` on every command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, one_json};
use mchat_shared::api::{
    Conversation, ConversationCreated, ConversationList, ConversationStatus, Message, MessageKind,
    NotificationList, User as ApiUser, UserList,
};
use mchat_testkit::TestServer;
use serde_json::Value;

/// The inbox row for `peer`: its display name, and the other words
/// (`[unread] peer role status [↩ reply] ...`).
fn inbox_row_and_name(user: &User, peer: &str) -> (Vec<String>, String) {
    let out = user.ok(&["inbox"], "");
    let words: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|words| words.iter().take(2).any(|w| w == peer))
        .unwrap_or_else(|| panic!("no inbox row for {peer}:\n{out}"));
    // The display name stands between the username and the role.
    let at = words.iter().position(|w| w == peer).unwrap_or(0);
    let role = (at + 1..words.len())
        .find(|&i| ["mentor", "mentee", "admin"].contains(&words[i].as_str()))
        .unwrap_or_else(|| panic!("no role in the inbox row {words:?}"));
    let name = words[at + 1..role].join(" ");
    let row = words[..=at].iter().chain(&words[role..]).cloned().collect();
    (row, name)
}

fn inbox_row(user: &User, peer: &str) -> Vec<String> {
    inbox_row_and_name(user, peer).0
}

fn unread_badge(row: &[String]) -> Option<u32> {
    row.first().and_then(|w| w.parse().ok())
}

fn awaiting(row: &[String]) -> bool {
    row.iter().any(|w| w == "↩")
}

/// Mentors as listed by `mchat mentors ARGS`: the first word of each line, sorted.
fn mentor_names(user: &User, args: &[&str]) -> Vec<String> {
    let mut all = vec!["mentors"];
    all.extend_from_slice(args);
    let out = user.ok(&all, "");
    if out.trim() == "no mentors match" {
        return Vec::new();
    }
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[test]
fn mentorship_flow_in_human_mode() {
    let server = TestServer::start(); // mentor approval on
    let mona = User::register(
        &server,
        "mona",
        &[
            "--role",
            "mentor",
            "--display-name",
            "Mona Lisa",
            "--headline",
            "Rust engineer",
            "--expertise",
            "rust,cli",
        ],
    );
    let max = User::register(&server, "max", &["--role", "mentor", "--expertise", "go"]);
    let ana = User::register(&server, "ana", &["--display-name", "Ana Lima"]);

    // Unapproved mentors are not in the directory.
    assert_eq!(mentor_names(&ana, &[]), Vec::<String>::new());
    for name in ["mona", "max"] {
        let out = server.admin(&["approve-mentor", name], "");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    max.ok(&["status", "away"], "");
    assert_eq!(mentor_names(&ana, &[]), ["max", "mona"]);
    assert_eq!(mentor_names(&ana, &["--available"]), ["mona"]);
    assert_eq!(mentor_names(&ana, &["--expertise", "rust"]), ["mona"]);
    assert_eq!(mentor_names(&ana, &["--expertise", "go"]), ["max"]);
    assert_eq!(
        mentor_names(&ana, &["--available", "--expertise", "go"]),
        Vec::<String>::new()
    );
    let listing = ana.ok(&["mentors", "--available"], "");
    assert!(
        listing.contains("Mona Lisa") && listing.contains("Rust engineer"),
        "{listing}"
    );
    assert!(
        listing.contains("available") && listing.contains("rust, cli"),
        "{listing}"
    );
    // Issue 12: the username, which nobody can imitate, beside the display name.
    let row = listing
        .lines()
        .find(|l| l.starts_with("mona "))
        .expect("mona's row");
    assert!(row.starts_with("mona  Mona Lisa  available"), "{row}");

    // The request.
    let out = ana.ok(&["request", "mona", "intro"], "");
    assert!(out.contains("asked mona for a conversation"), "{out}");
    let incoming = mona.ok(&["requests"], "");
    assert!(incoming.contains("Incoming"), "{incoming}");
    let row = incoming
        .lines()
        .find(|l| l.trim_start().starts_with("ana"))
        .expect("ana's request");
    assert!(row.ends_with("intro"), "the intro is shown: {row}");
    assert!(
        row.trim_start().starts_with("ana  Ana Lima  "),
        "display name beside: {row}"
    );
    assert!(!incoming.contains("Outgoing"), "{incoming}");
    let outgoing = ana.ok(&["requests"], "");
    assert!(
        outgoing.contains("Outgoing") && outgoing.contains("mona"),
        "{outgoing}"
    );
    assert!(!outgoing.contains("Incoming"), "{outgoing}");
    assert_eq!(max.ok(&["requests"], "").trim(), "no pending requests");
    assert_eq!(inbox_row(&ana, "mona")[2], "requested");
    assert_eq!(inbox_row(&mona, "ana")[3], "request");
    // Issue 12: each inbox row shows the display name beside the username.
    assert_eq!(inbox_row_and_name(&ana, "mona").1, "Mona Lisa");
    assert_eq!(inbox_row_and_name(&mona, "ana").1, "Ana Lima");

    // Nobody can post while it is pending.
    let (code, _, err) = ana.run(&["send", "mona", "are you there?"], "");
    assert_eq!(code, 5, "{err}");
    assert_eq!(err.trim(), "mchat: mona has not accepted your request yet");

    let out = mona.ok(&["accept", "ana"], "");
    assert!(out.contains("accepted the request from ana"), "{out}");
    assert_eq!(mona.ok(&["requests"], "").trim(), "no pending requests");
    let notes = ana.ok(&["notifications"], "");
    assert!(notes.contains("mona"), "ana is told: {notes}");

    // Mentee → mentor.
    let out = ana.ok(&["send", "mona", "Thanks", "for", "accepting!"], "");
    assert!(out.starts_with("✓ sent (#"), "{out}");
    let row = inbox_row(&mona, "ana");
    assert_eq!(unread_badge(&row), Some(1), "{row:?}");
    assert!(awaiting(&row), "mona owes a reply: {row:?}");
    assert!(
        row.join(" ").ends_with("Thanks for accepting!"),
        "preview: {row:?}"
    );
    let row = inbox_row(&ana, "mona");
    assert_eq!(unread_badge(&row), None, "{row:?}");
    assert!(!awaiting(&row), "ana wrote last: {row:?}");
    assert!(row.join(" ").contains("you: Thanks for accepting!"), "{row:?}");

    // --no-mark shows the message and leaves it unread; read marks it.
    let thread = mona.ok(&["read", "ana", "--no-mark"], "");
    assert!(thread.contains("    Thanks for accepting!"), "{thread}");
    assert_eq!(unread_badge(&inbox_row(&mona, "ana")), Some(1));
    let thread = mona.ok(&["read", "ana"], "");
    assert!(
        thread.starts_with("── Ana Lima (ana) · accepted · conversation "),
        "{thread}"
    );
    assert!(
        thread.contains("mona accepted the request"),
        "system message: {thread}"
    );
    let row = inbox_row(&mona, "ana");
    assert_eq!(unread_badge(&row), None, "read marks it read: {row:?}");
    assert!(awaiting(&row), "read is not a reply: {row:?}");

    // Mentor → mentee.
    mona.ok(&["send", "ana", "Happy to help. What are you working on?"], "");
    let row = inbox_row(&ana, "mona");
    assert_eq!(unread_badge(&row), Some(1), "{row:?}");
    assert!(awaiting(&row), "{row:?}");
    assert!(!awaiting(&inbox_row(&mona, "ana")), "mona replied");
    let thread = ana.ok(&["read", "mona"], "");
    let lines: Vec<&str> = thread.lines().collect();
    assert!(
        lines[0].contains("Mona Lisa (mona)") && lines[0].contains("accepted"),
        "{thread}"
    );
    let mine = lines
        .iter()
        .position(|l| l.trim() == "Thanks for accepting!")
        .expect("my message");
    assert!(
        lines[mine - 1].contains("ana") && lines[mine - 1].ends_with("✓✓ read"),
        "tick: {thread}"
    );
    assert!(
        thread.contains("    Happy to help. What are you working on?"),
        "{thread}"
    );
    assert_eq!(unread_badge(&inbox_row(&ana, "mona")), None);

    let who = mona.ok(&["whoami"], "");
    assert!(who.starts_with("Mona Lisa (mona) — mentor, available"), "{who}");
    assert!(
        who.contains("\n  headline    Rust engineer\n"),
        "labels line up: {who}"
    );
    assert!(who.contains("\n  expertise   rust, cli\n"), "{who}");
    assert!(who.contains(&server.url()), "{who}");
}

/// Runs with `--json`, insists on exit 0 and one JSON document, and checks
/// that it decodes as the documented shared type `T`.
fn json_as<T: serde::de::DeserializeOwned>(user: &User, args: &[&str]) -> (Value, T) {
    let doc = user.json(args, "");
    let typed = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("mchat --json {args:?}: not the documented shape ({e}):\n{doc:#}"));
    (doc, typed)
}

fn json_register(server: &TestServer, name: &str, extra: &[&str]) -> User {
    let user = User::new(name, &server.url());
    let mut args = vec!["register", name, "--password-stdin"];
    args.extend_from_slice(extra);
    let doc = user.json(&args, &format!("{}\n", mchat_testkit::PASSWORD));
    assert_eq!(doc["user"]["username"], name, "{doc}");
    assert_eq!(doc["server"], server.url().as_str(), "{doc}");
    assert_eq!(doc["profile"], "default", "{doc}");
    assert!(doc["token_id"].is_i64() && doc["expires_at"].is_string(), "{doc}");
    assert!(
        doc.get("token").is_none(),
        "the secret stays in the credentials file: {doc}"
    );
    user
}

fn inbox_entry(user: &User, peer: &str) -> Conversation {
    let (_, list): (_, ConversationList) = json_as(user, &["inbox"]);
    list.conversations
        .into_iter()
        .find(|c| c.peer.username == peer)
        .unwrap_or_else(|| panic!("no conversation with {peer}"))
}

#[test]
fn mentorship_flow_with_json_everywhere() {
    let server = TestServer::start_open();
    let mona = json_register(&server, "mona", &["--role", "mentor", "--expertise", "rust"]);
    let max = json_register(&server, "max", &["--role", "mentor", "--expertise", "go"]);
    let ana = json_register(&server, "ana", &[]);

    let (_, me): (_, ApiUser) = json_as(&max, &["status", "busy"]);
    assert_eq!(me.availability.map(|a| a.to_string()).as_deref(), Some("busy"));
    let (doc, list): (_, UserList) = json_as(&ana, &["mentors", "--available"]);
    let names: Vec<&str> = list.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["mona"], "{doc}");
    assert_eq!(doc["users"][0]["availability"], "available");
    assert_eq!(doc["users"][0]["profile"]["expertise"][0], "rust");
    let (_, list): (_, UserList) = json_as(&ana, &["mentors", "--expertise", "go"]);
    assert_eq!(list.users.len(), 1);
    assert_eq!(list.users[0].username, "max");

    let (doc, created): (_, ConversationCreated) = json_as(&ana, &["request", "mona", "intro"]);
    assert!(created.created, "{doc}");
    assert_eq!(created.conversation.status, ConversationStatus::Pending);
    assert_eq!(doc["conversation"]["peer"]["username"], "mona");
    let conv_id = created.conversation.id;

    let requests = mona.json(&["requests"], "");
    let incoming: Vec<Conversation> = serde_json::from_value(requests["incoming"].clone()).unwrap();
    assert_eq!(incoming.len(), 1, "{requests}");
    assert_eq!(incoming[0].peer.username, "ana");
    assert_eq!(
        incoming[0].last_message.as_ref().map(|m| m.body.as_str()),
        Some("intro")
    );
    assert_eq!(requests["outgoing"], serde_json::json!([]));
    let requests = ana.json(&["requests"], "");
    assert_eq!(requests["outgoing"][0]["peer"]["username"], "mona", "{requests}");

    let (doc, conv): (_, Conversation) = json_as(&mona, &["accept", "ana"]);
    assert_eq!(conv.status, ConversationStatus::Accepted, "{doc}");
    assert_eq!(conv.id, conv_id);

    let sent = ana.json(&["send", "mona", "first"], "");
    assert_eq!(sent["status"], "sent", "{sent}");
    let message: Message = serde_json::from_value(sent["message"].clone()).unwrap();
    assert_eq!(message.body, "first");
    assert_eq!(message.sender.as_deref(), Some("ana"));
    assert_eq!(message.conversation_id, conv_id);
    assert!(message.client_id.is_some());
    assert_eq!(sent.as_object().unwrap().len(), 2, "{sent}");
    let sent_by_id = ana.json(&["send", &conv_id.to_string(), "second"], "");
    assert_eq!(
        sent_by_id["message"]["body"], "second",
        "USER|CONV: by conversation id"
    );

    let c = inbox_entry(&mona, "ana");
    assert_eq!(
        (c.unread, c.awaiting_reply, c.status),
        (2, true, ConversationStatus::Accepted)
    );
    assert_eq!(c.last_message.as_ref().map(|m| m.body.as_str()), Some("second"));
    let c = inbox_entry(&ana, "mona");
    assert_eq!((c.unread, c.awaiting_reply), (0, false));

    // --no-mark: reads, leaves unread.
    let page = mona.json(&["read", "ana", "--no-mark"], "");
    for key in ["conversation", "messages", "has_more", "markers"] {
        assert!(page.get(key).is_some(), "read --json has {key}: {page}");
    }
    let messages: Vec<Message> = serde_json::from_value(page["messages"].clone()).unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .filter(|m| m.kind == MessageKind::Text)
        .map(|m| m.body.as_str())
        .collect();
    assert_eq!(texts, ["intro", "first", "second"]);
    assert_eq!(page["has_more"], false);
    assert!(page.get("marked_read_up_to").is_none(), "{page}");
    assert_eq!(inbox_entry(&mona, "ana").unread, 2);
    // A page smaller than the thread says so.
    let small = mona.json(&["read", "ana", "--no-mark", "--limit", "1"], "");
    assert_eq!(small["has_more"], true);
    assert_eq!(small["messages"].as_array().unwrap().len(), 1);

    let page = mona.json(&["read", "ana"], "");
    let newest = messages.last().unwrap().id;
    assert_eq!(page["marked_read_up_to"], newest.0, "{page}");
    let c = inbox_entry(&mona, "ana");
    assert_eq!((c.unread, c.awaiting_reply), (0, true));

    let reply = mona.json(&["send", "ana", "welcome!"], "");
    assert_eq!(reply["status"], "sent");
    let c = inbox_entry(&ana, "mona");
    assert_eq!((c.unread, c.awaiting_reply), (1, true));
    assert!(
        c.peer_markers.read_up_to >= newest,
        "ana sees mona read her messages"
    );
    assert!(!inbox_entry(&mona, "ana").awaiting_reply);
    let page = ana.json(&["read", "mona"], "");
    let markers = page["markers"].as_array().unwrap();
    assert!(markers.iter().any(|m| m["username"] == "mona"), "{page}");
    assert_eq!(inbox_entry(&ana, "mona").unread, 0);

    let (doc, notes): (_, NotificationList) = json_as(&ana, &["notifications", "--unread"]);
    assert!(
        !notes.notifications.is_empty(),
        "request accepted → notification: {doc}"
    );
    let (_, notes): (_, NotificationList) = json_as(&ana, &["notifications", "--mark-read"]);
    assert_eq!(notes.unread_count, 0);
    let (_, notes): (_, NotificationList) = json_as(&ana, &["notifications", "--unread"]);
    assert!(notes.notifications.is_empty());

    let who = ana.json(&["whoami"], "");
    assert_eq!(who["user"]["username"], "ana");
    assert_eq!(who["user"]["role"], "mentee");
    assert_eq!(who["server"], server.url().as_str());
    assert_eq!(who["profile"], "default");
    let tokens = ana.json(&["tokens", "list"], "");
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 1, "{tokens}");
    assert_eq!(tokens["tokens"][0]["current"], true, "{tokens}");
    let outbox = ana.json(&["outbox"], "");
    assert_eq!(outbox, serde_json::json!({"items": [], "queued_elsewhere": 0}));
    let doctor = ana.json(&["doctor"], "");
    assert_eq!(
        (doctor["reachable"].clone(), doctor["outbox_depth"].clone()),
        (true.into(), 0.into())
    );

    // Completing and reopening keep the documented shape too.
    let (_, c): (_, Conversation) = json_as(&mona, &["complete", "ana"]);
    assert_eq!(c.status, ConversationStatus::Completed);
    let (code, out, err) = ana.run(&["--json", "send", "mona", "still there?"], "");
    assert_eq!(code, 5, "a completed conversation is read-only: {err}");
    common::assert_json_error(&out, 5);
    let (_, c): (_, Conversation) = json_as(&ana, &["reopen", "mona"]);
    assert_eq!(c.status, ConversationStatus::Accepted);
    let logout = one_json(&ana.ok(&["--json", "logout"], ""));
    assert_eq!(logout["revoked"], true, "{logout}");
}

/// Asking again someone you already have a conversation with never drops the
/// message silently: it is delivered when the conversation is open, and
/// otherwise refused (exit 5) with what to do instead.
#[test]
fn requesting_again_delivers_or_explains() {
    let server = TestServer::start_open();
    let mona = User::register(&server, "mona", &["--role", "mentor"]);
    let ana = User::register(&server, "ana", &[]);
    ana.ok(&["request", "mona", "first ask"], "");

    let (code, _, err) = ana.run(&["request", "mona", "second ask"], "");
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("you already asked mona; the request is still pending"),
        "{err}"
    );
    let (code, _, err) = mona.run(&["request", "ana", "hello?"], "");
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("ana already asked you for a conversation: accept it with 'mchat accept ana'"),
        "{err}"
    );

    mona.ok(&["accept", "ana"], "");
    let out = ana.ok(&["request", "mona", "asking again after accept"], "");
    assert!(out.contains("sent your message there"), "{out}");
    let doc = ana.json(&["request", "mona", "and once more, as JSON"], "");
    assert_eq!(doc["created"], false);
    assert_eq!(doc["message"]["body"], "and once more, as JSON");
    assert_eq!(
        common::bodies(&mona, "ana"),
        vec!["first ask", "asking again after accept", "and once more, as JSON"]
    );

    mona.ok(&["complete", "ana"], "");
    let (code, _, err) = ana.run(&["request", "mona", "after completion"], "");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("reopen it with 'mchat reopen mona'"), "{err}");
}

/// `read --json` reports the conversation after marking it: unread 0 and my
/// read marker at the newest message.
#[test]
fn read_json_reports_the_marked_state() {
    let server = TestServer::start_open();
    let (mona, ana) = common::accepted_pair(&server);
    mona.ok(&["send", "ana", "one"], "");
    mona.ok(&["send", "ana", "two"], "");
    let peek = ana.json(&["read", "mona", "--no-mark"], "");
    assert_eq!(peek["conversation"]["unread"], 3, "{peek}");
    let doc = ana.json(&["read", "mona"], "");
    let newest = doc["messages"].as_array().unwrap().last().unwrap()["id"].clone();
    assert_eq!(doc["conversation"]["unread"], 0, "{doc}");
    assert_eq!(doc["conversation"]["my_markers"]["read_up_to"], newest);
    assert_eq!(doc["marked_read_up_to"], newest);
}
