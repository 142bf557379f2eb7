//! Organising through the real CLI against a real server: mute/unmute,
//! archive/unarchive and `inbox --archived`; templates (`mchat template
//! add|list|show|rm`, `send --template --var`); scheduled messages (`send
//! --in/--at`), reminders (`remind`), `scheduled [list [--all] | cancel
//! ID]`; and announcements showing in `mchat notifications`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence, bodies, eventually};
use mchat_shared::Timestamp;
use mchat_testkit::TestServer;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// Runs, insists on exit `code`, and checks stderr is one sentence; returns it.
fn fails(user: &User, args: &[&str], code: i32) -> String {
    let (got, out, err) = user.run(args, "");
    assert_eq!(got, code, "mchat {args:?}\nstdout: {out}\nstderr: {err}");
    assert_one_sentence(&err);
    err
}

fn inbox_line<'a>(out: &'a str, peer: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().take(2).any(|w| w == peer))
}

#[test]
fn mute_and_archive_from_the_command_line() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);

    let out = ana.ok(&["mute", "mona"], "");
    assert!(out.contains("✓ muted mona"), "{out}");
    let inbox = ana.ok(&["inbox"], "");
    assert!(inbox_line(&inbox, "mona").unwrap().contains("muted"), "{inbox}");
    let doc = ana.json(&["inbox"], "");
    assert_eq!(doc["conversations"][0]["muted"], true, "{doc}");
    // Muted: Mona's messages bring no notification.
    mona.ok(&["send", "ana", "are you there?"], "");
    let notes = ana.json(&["notifications", "--unread"], "");
    assert!(
        !notes["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "message_received"),
        "{notes}"
    );
    let doc = ana.json(&["unmute", "mona"], "");
    assert_eq!(doc["muted"], false, "{doc}");
    assert!(
        !inbox_line(&ana.ok(&["inbox"], ""), "mona")
            .unwrap()
            .contains("muted")
    );

    let out = ana.ok(&["archive", "mona"], "");
    assert!(out.contains("✓ archived mona"), "{out}");
    let inbox = ana.ok(&["inbox"], "");
    assert!(inbox_line(&inbox, "mona").is_none(), "{inbox}");
    assert!(inbox.contains("1 archived"), "{inbox}");
    let archived = ana.ok(&["inbox", "--archived"], "");
    assert!(inbox_line(&archived, "mona").is_some(), "{archived}");
    let doc = ana.json(&["inbox", "--archived"], "");
    assert_eq!(doc["conversations"][0]["archived"], true, "{doc}");
    // Mona's own inbox is not affected.
    assert!(inbox_line(&mona.ok(&["inbox"], ""), "ana").is_some());
    // A new message brings it back.
    mona.ok(&["send", "ana", "ping"], "");
    assert!(inbox_line(&ana.ok(&["inbox"], ""), "mona").is_some());
    assert!(
        ana.ok(&["inbox", "--archived"], "")
            .contains("no archived conversations")
    );
    // Unarchive finds an archived conversation by name.
    ana.ok(&["archive", "mona"], "");
    // Archived is out of the inbox, not out of reach: read finds it by name.
    let read = ana.ok(&["read", "mona", "--no-mark"], "");
    assert!(read.contains("ping"), "{read}");
    let out = ana.ok(&["unarchive", "mona"], "");
    assert!(out.contains("✓ unarchived mona"), "{out}");
    assert!(inbox_line(&ana.ok(&["inbox"], ""), "mona").is_some());

    // Someone I have no conversation with: not found (4).
    User::register(&server, "zed", &[]);
    let err = fails(&ana, &["mute", "zed"], 4);
    assert!(err.contains("no conversation with zed"), "{err}");
    fails(&ana, &["archive", "999999"], 4);
    let (code, out, _) = ana.run(&["--json", "mute", "zed"], "");
    assert_json_error(&out, code);
}

#[test]
fn templates_from_the_command_line() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);

    let out = mona.ok(
        &[
            "template",
            "add",
            "Welcome",
            "Hi {first_name}! Let us talk about {topic}. {{braces}}",
        ],
        "",
    );
    assert!(
        out.contains("✓ saved template welcome (uses {first_name}, {topic})"),
        "{out}"
    );
    let out = mona.ok(&["template", "add", "sig", "-"], "— Mona\n");
    assert!(out.contains("saved template sig"), "{out}");
    let out = mona.ok(&["template", "add", "sig", "Mona (mentor)"], "");
    assert!(out.contains("replaced template sig"), "{out}");
    let list = mona.ok(&["template", "list"], "");
    let names: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["sig", "welcome"], "{list}");
    let doc = mona.json(&["template", "list"], "");
    assert_eq!(doc["templates"].as_array().unwrap().len(), 2, "{doc}");
    let show = mona.ok(&["template", "show", "welcome"], "");
    assert!(
        show.contains("Hi {first_name}! Let us talk about {topic}."),
        "{show}"
    );
    let doc = mona.json(&["template", "show", "WELCOME"], "");
    assert_eq!(doc["name"], "welcome");

    // Sending from a template: profile variables plus --var.
    mona.ok(
        &["send", "ana", "--template", "welcome", "--var", "topic=lifetimes"],
        "",
    );
    let got = bodies(&ana, "mona");
    assert_eq!(
        got.last().unwrap(),
        "Hi ana! Let us talk about lifetimes. {braces}",
        "{got:?}"
    );
    // A variable with no value: rejected (5), naming it.
    let err = fails(&mona, &["send", "ana", "--template", "welcome"], 5);
    assert!(err.contains("'topic'") && err.contains("--var topic="), "{err}");
    let err = fails(&mona, &["send", "ana", "--template", "nope"], 4);
    assert!(err.contains("no template named nope"), "{err}");
    fails(
        &mona,
        &["send", "ana", "--template", "welcome", "--var", "novalue"],
        2,
    );
    // Bad names and bodies.
    let err = fails(&mona, &["template", "add", "two words", "x"], 5);
    assert!(err.contains("template name"), "{err}");
    // Nothing to save is a usage error, like an empty message.
    fails(&mona, &["template", "add", "empty", "   "], 2);
    fails(&mona, &["template", "add", "broken", "Hi {name"], 5);

    // Templates are per user: Ana has none and cannot remove Mona's.
    assert!(ana.ok(&["template", "list"], "").contains("no templates yet"));
    fails(&ana, &["template", "rm", "welcome"], 4);
    let out = mona.ok(&["template", "rm", "welcome"], "");
    assert!(out.contains("✓ deleted template welcome"), "{out}");
    fails(&mona, &["template", "show", "welcome"], 4);
    let (code, out, _) = mona.run(&["--json", "template", "rm", "welcome"], "");
    assert_eq!(assert_json_error(&out, 4)["error"]["exit_code"], code);
}

fn items(user: &User, all: bool) -> Vec<Value> {
    let mut args = vec!["scheduled", "list"];
    if all {
        args.push("--all");
    }
    user.json(&args, "")["items"].as_array().unwrap().clone()
}

#[test]
fn scheduled_messages_and_reminders_from_the_command_line() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);

    let out = ana.ok(&["send", "mona", "see you at the review", "--in", "2s"], "");
    assert!(
        out.starts_with("✓ scheduled #") && out.contains("to mona for"),
        "{out}"
    );
    assert!(out.contains("(in "), "{out}");
    let pending = items(&ana, false);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["status"], "pending");
    assert!(ana.ok(&["scheduled"], "").contains("see you at the review"));
    // Delivered by the server on time, once.
    eventually(WAIT, "the scheduled message", || {
        bodies(&mona, "ana")
            .iter()
            .any(|b| b == "see you at the review")
            .then_some(())
    });
    assert_eq!(
        bodies(&mona, "ana")
            .iter()
            .filter(|b| *b == "see you at the review")
            .count(),
        1
    );
    assert!(items(&ana, false).is_empty());
    let all = items(&ana, true);
    assert_eq!(all[0]["status"], "sent", "{all:?}");
    assert!(ana.ok(&["scheduled", "list", "--all"], "").contains("sent"));

    // A reminder for myself.
    let doc = ana.json(&["remind", "--in", "1s", "follow", "up", "with", "mona"], "");
    assert_eq!(doc["item"]["kind"], "reminder", "{doc}");
    eventually(WAIT, "the reminder", || {
        let notes = ana.json(&["notifications"], "");
        notes["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "reminder" && n["body"] == "follow up with mona")
            .then_some(())
    });
    assert!(ana.ok(&["notifications"], "").contains("follow up with mona"));

    // Cancel: mine only.
    let doc = ana.json(&["send", "mona", "later", "--in", "1h"], "");
    let id = doc["item"]["id"].as_i64().unwrap().to_string();
    let err = fails(&mona, &["scheduled", "cancel", &id], 4);
    assert!(err.contains(&format!("#{id}")), "{err}");
    let out = ana.ok(&["scheduled", "cancel", &id], "");
    assert!(out.contains(&format!("✓ cancelled #{id} to mona")), "{out}");
    assert!(items(&ana, false).is_empty());
    fails(&ana, &["scheduled", "cancel", "999999"], 4);
    // Sent ones cannot be cancelled.
    let sent = all[0]["id"].as_i64().unwrap().to_string();
    let err = fails(&ana, &["scheduled", "cancel", &sent], 5);
    assert!(err.contains("already sent"), "{err}");
    // Nobody else's conversation.
    User::register(&server, "zed", &[]);
    fails(&ana, &["send", "zed", "hi", "--in", "1h"], 4);
}

#[test]
fn bad_times_are_refused_with_a_sentence() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    for (args, want) in [
        (
            vec!["send", "mona", "hi", "--in", "soon"],
            "cannot read the duration",
        ),
        (vec!["send", "mona", "hi", "--in", "0s"], "in the past"),
        (
            vec!["send", "mona", "hi", "--at", "next tuesday"],
            "cannot read the time",
        ),
        (
            vec!["send", "mona", "hi", "--at", "2026-13-01 09:00"],
            "cannot read the time",
        ),
        (
            vec!["send", "mona", "hi", "--at", "2020-01-01 09:00"],
            "in the past",
        ),
        (vec!["send", "mona", "hi", "--in", "400d"], "too far ahead"),
        (vec!["remind", "--in", "2y", "x"], "cannot read the duration"),
        (vec!["remind", "--at", "2020-01-01 09:00", "x"], "in the past"),
    ] {
        let err = fails(&ana, &args, 5);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, out, _) = ana.run(&["--json", "remind", "--in", "soon", "x"], "");
    assert_eq!(code, 5);
    assert_json_error(&out, 5);
    // Both or neither of --at/--in: usage.
    let (code, _, _) = ana.run(&["remind", "x"], "");
    assert_eq!(code, 2);
    let (code, _, _) = ana.run(&["send", "mona", "hi", "--at", "09:00", "--in", "1h"], "");
    assert_eq!(code, 2);
    assert!(items(&ana, true).is_empty(), "nothing was scheduled");
}

#[test]
fn at_times_are_read_in_the_local_time_zone() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    // A fixed zone five hours east of UTC, no daylight saving.
    let env = [("MCHAT_TZ", "XXX-5")];
    let (code, out, err) = ana.run_env(
        &["--json", "remind", "--at", "tomorrow 09:00", "stand-up"],
        "",
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    let doc = common::one_json(&out);
    let due: Timestamp = doc["item"]["due_at"].as_str().unwrap().parse().unwrap();
    let plus5 = jiff::tz::TimeZone::fixed(jiff::tz::offset(5));
    let local_today = Timestamp::now().to_zoned(plus5.clone()).date();
    let want = local_today
        .tomorrow()
        .unwrap()
        .at(9, 0, 0, 0)
        .to_zoned(plus5)
        .unwrap()
        .timestamp();
    assert_eq!(due, want, "{doc}");
    // The human line shows local time.
    let (code, out, err) = ana.run_env(&["remind", "--at", "tomorrow 09:00", "again"], "", &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" 09:00 (in "), "{out}");
    let (code, _, err) = ana.run_env(
        &["remind", "--in", "1h", "x"],
        "",
        &[("MCHAT_TZ", "Nowhere/Atlantis")],
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("MCHAT_TZ"), "{err}");
}

#[test]
fn announcements_show_in_notifications() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let out = server.admin(&["announce", "The server moves on Friday"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for user in [&mona, &ana] {
        let text = user.ok(&["notifications"], "");
        assert!(text.contains("The server moves on Friday"), "{text}");
        let doc = user.json(&["notifications", "--unread"], "");
        assert!(
            doc["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "announcement" && n["body"] == "The server moves on Friday"),
            "{doc}"
        );
    }
}

#[test]
fn a_scheduled_message_survives_a_server_restart_and_is_sent_once() {
    let mut server = TestServer::start_open();
    let (mut mona, mut ana) = accepted_pair(&server);
    let doc = ana.json(
        &["send", "mona", "sent while the server was down", "--in", "2s"],
        "",
    );
    assert_eq!(doc["item"]["status"], "pending", "{doc}");
    let stopped = server.stop().expect("the server was running");
    assert!(stopped.success(), "{stopped}");
    std::thread::sleep(Duration::from_millis(3000));
    assert!(server.start_again_on_same_port(), "the old port was taken");
    mona.server = server.url();
    ana.server = server.url();
    let count = |who: &User| {
        bodies(who, "ana")
            .iter()
            .filter(|b| *b == "sent while the server was down")
            .count()
    };
    eventually(WAIT, "the message after the restart", || {
        (count(&mona) > 0).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&mona), 1, "exactly once");
    let all = items(&ana, true);
    assert_eq!(all[0]["status"], "sent", "{all:?}");
}
