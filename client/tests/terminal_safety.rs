//! Untrusted text never reaches the terminal raw (DESIGN §5): every string of
//! `mchat::sanitize::HOSTILE` is pushed through every way the server lets it
//! in — message bodies, request intros, decline reasons, announcements,
//! bios, display names, headlines, and error messages that echo input —
//! and every human-mode output (`inbox`, `read`, `requests`, `mentors`,
//! `notifications`, `whoami`, stderr) is checked for escape sequences,
//! control characters and bidi controls. What the server refuses is
//! refused with exit 5 (and 400 on the wire); `--json` keeps accepted text
//! byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_one_sentence, bodies};
use mchat::api::{Client, ClientError};
use mchat::sanitize::HOSTILE;
use mchat_shared::api::{SendMessageRequest, UpdateMeRequest};
use mchat_shared::{ConversationId, ErrorCode};
use mchat_testkit::TestServer;

/// A character a terminal could act on, or that hides or reorders text.
fn dangerous(c: char) -> bool {
    let cp = c as u32;
    (c.is_control() && c != '\n' && c != '\t') // C0 (ESC, NUL, BEL, BS, CR, ...), DEL, C1
        || matches!(cp, 0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C) // bidi
        || matches!(cp, 0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD) // invisible
        || matches!(cp, 0x2028 | 0x2029 | 0xE0000..=0xE007F | 0xFFF9..=0xFFFB) // hidden breaks, tags, annotations
}

/// Fails if `text` (one stream of one command) carries a dangerous character.
fn assert_safe(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| dangerous(c)) {
        let start = text[..i].char_indices().rev().nth(30).map_or(0, |(j, _)| j);
        let end = text[i..]
            .char_indices()
            .nth(30)
            .map_or(text.len(), |(j, _)| i + j);
        panic!(
            "{what}: raw U+{:04X} reaches the terminal near {:?}",
            c as u32,
            &text[start..end]
        );
    }
}

/// Runs a human-mode command, insists on exit 0, and checks both streams.
fn safe_run(user: &User, args: &[&str]) -> String {
    let (code, out, err) = user.run(args, "");
    assert_eq!(code, 0, "mchat {args:?}: {err}");
    assert_safe(&format!("stdout of mchat {args:?} as {}", user.name), &out);
    assert_safe(&format!("stderr of mchat {args:?} as {}", user.name), &err);
    out
}

/// Would the server's message-body rules accept `s`? (Only newline and tab
/// among the control characters.)
fn body_ok(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Would the rules for names and one-line labels accept `s`? (No control,
/// bidi or invisible characters at all.)
fn label_ok(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || matches!(c as u32, 0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C)
            || matches!(c as u32, 0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD | 0x180E)
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn assert_validation_400(what: &str, result: Result<impl std::fmt::Debug, ClientError>) {
    match result {
        Err(ClientError::Api {
            status: 400,
            code: ErrorCode::ValidationFailed,
            ..
        }) => {}
        other => panic!("{what}: the server must refuse it with 400 validation_failed, got {other:?}"),
    }
}

#[test]
fn the_corpus_covers_both_sides_of_the_server_rules() {
    // The tests below are only meaningful if some hostile strings get in.
    assert!(
        HOSTILE.iter().any(|h| body_ok(h)),
        "some hostile bodies are accepted"
    );
    assert!(
        HOSTILE.iter().any(|h| !body_ok(h)),
        "some hostile bodies are refused"
    );
    assert!(
        HOSTILE.iter().any(|h| label_ok(h)),
        "some hostile labels are accepted"
    );
    assert!(
        HOSTILE.iter().all(|h| h.chars().any(dangerous)),
        "every entry is dangerous raw"
    );
}

#[test]
fn hostile_message_bodies_never_reach_the_terminal_raw() {
    let server = TestServer::start_open();
    let mona = User::register(&server, "mona", &["--role", "mentor"]);
    let ana = User::register(&server, "ana", &[]);
    let accepted: Vec<&str> = HOSTILE.iter().copied().filter(|h| body_ok(h)).collect();

    // A hostile intro shows in `requests` and, once accepted, everywhere else.
    ana.ok(&["request", "mona", "-"], accepted[0]);
    let requests = safe_run(&mona, &["requests"]);
    assert!(
        requests.contains(&*mchat::sanitize::line(accepted[0])),
        "{requests}"
    );
    safe_run(&ana, &["requests"]);
    mona.ok(&["accept", "ana"], "");

    let conv = ConversationId(
        mona.json(&["inbox"], "")["conversations"][0]["id"]
            .as_i64()
            .unwrap(),
    );
    let ana_api = Client::new(&server.url(), Some(ana.token())).unwrap();

    for h in HOSTILE {
        if body_ok(h) {
            // As an argument and from stdin, both ways.
            ana.ok(&["send", "mona", h], "");
            mona.ok(&["send", "ana", "-"], h);
            for (user, peer) in [(&mona, "ana"), (&ana, "mona")] {
                let inbox = safe_run(user, &["inbox"]);
                assert!(
                    inbox.contains(&*mchat::sanitize::line(h)),
                    "preview of {h:?}: {inbox}"
                );
                let thread = safe_run(user, &["read", peer, "--limit", "2"]);
                assert!(
                    thread.contains(&format!("    {}\n", mchat::sanitize::text(h))),
                    "{h:?} is shown, made visible: {thread}"
                );
            }
        } else {
            // Refused before it leaves the client: exit 5, one safe sentence.
            let via_stdin = ana.run(&["send", "mona", "-"], h);
            let runs = if h.contains('\0') {
                vec![via_stdin] // NUL cannot be an argument
            } else {
                vec![via_stdin, ana.run(&["send", "mona", h], "")]
            };
            for (code, out, err) in runs {
                assert_eq!(code, 5, "{h:?}: {err}");
                assert!(out.is_empty());
                assert_one_sentence(&err);
                assert_safe(&format!("refusal of {h:?}"), &err);
                assert!(err.contains("control character U+"), "{err}");
            }
            // And refused by the server itself, whatever the client does.
            let req = SendMessageRequest {
                client_id: uuid::Uuid::now_v7().to_string(),
                body: h.to_string(),
                reply_to: None,
                file: None,
            };
            assert_validation_400(&format!("body {h:?}"), block_on(ana_api.send(conv, &req)));
        }
    }
    // Whole threads, notifications and the directory stay clean too.
    safe_run(&mona, &["read", "ana", "--limit", "100"]);
    safe_run(&ana, &["read", "mona", "--limit", "100", "--no-mark"]);
    safe_run(&ana, &["notifications"]);
    safe_run(&mona, &["notifications"]);
    safe_run(&ana, &["mentors"]);

    // --json keeps every accepted body byte for byte.
    let mut expected = vec![accepted[0].to_string()];
    for h in &accepted {
        expected.push(h.to_string());
        expected.push(h.to_string());
    }
    assert_eq!(bodies(&ana, "mona"), expected);
}

#[test]
fn hostile_names_profiles_reasons_and_announcements_are_refused_or_made_visible() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let max = User::register(&server, "max", &["--role", "mentor"]);
    let mona_api = Client::new(&server.url(), Some(mona.token())).unwrap();

    for h in HOSTILE {
        if label_ok(h) {
            // Accepted as a display name and a headline: shown made visible
            // in the directory, the thread header, the inbox and whoami.
            safe_run(&mona, &["profile", "set", "--display-name", h, "--headline", h]);
            let mentors = safe_run(&ana, &["mentors"]);
            assert!(mentors.contains(&*mchat::sanitize::line(h)), "{h:?}: {mentors}");
            let thread = safe_run(&ana, &["read", "mona", "--limit", "1"]);
            assert!(
                thread.contains(&format!("── {} (mona)", mchat::sanitize::line(h))),
                "{thread}"
            );
            safe_run(&ana, &["inbox"]);
            let who = safe_run(&mona, &["whoami"]);
            assert!(who.contains(&*mchat::sanitize::line(h)), "{who}");
            let json = mona.json(&["whoami"], "");
            assert_eq!(json["user"]["display_name"], *h, "byte-exact in --json");
            assert_eq!(json["user"]["profile"]["headline"], *h, "byte-exact in --json");
        } else {
            // Refused by the server (the CLI does not pre-check profile edits): exit 5.
            if !h.contains('\0') {
                for flag in ["--display-name", "--headline"] {
                    let (code, out, err) = mona.run(&["profile", "set", flag, h], "");
                    assert_eq!(code, 5, "{flag} {h:?}: {out}{err}");
                    assert_one_sentence(&err);
                    assert_safe(&format!("refusal of {flag} {h:?}"), &err);
                    assert!(
                        err.contains("may not contain control or invisible characters"),
                        "{err}"
                    );
                }
            }
            let req = UpdateMeRequest {
                display_name: Some(h.to_string()),
                ..UpdateMeRequest::default()
            };
            assert_validation_400(&format!("display name {h:?}"), block_on(mona_api.update_me(&req)));
            let req = UpdateMeRequest {
                headline: Some(h.to_string()),
                ..UpdateMeRequest::default()
            };
            assert_validation_400(&format!("headline {h:?}"), block_on(mona_api.update_me(&req)));
        }
    }

    // Multi-line free text (bio, decline reason, announcement) takes bidi and
    // invisible characters; all of them, at once.
    let accepted: Vec<&str> = HOSTILE.iter().copied().filter(|h| body_ok(h)).collect();
    let all = accepted.join("\n");
    let out = mona.ok(&["profile", "set", "--bio", &all], "");
    assert_safe("profile set --bio output", &out);
    let who = safe_run(&mona, &["whoami"]);
    for h in &accepted {
        assert!(
            who.contains(&*mchat::sanitize::text(h)),
            "{h:?} in the bio: {who}"
        );
    }
    assert_eq!(mona.json(&["whoami"], "")["user"]["profile"]["bio"], all.as_str());

    ana.ok(&["request", "max", "may I?"], "");
    let reason = accepted.join(" ");
    max.ok(&["decline", "ana", "--reason", &reason], "");
    for args in [
        &["read", "max"][..],
        &["inbox"],
        &["notifications"],
        &["requests"],
    ] {
        let out = safe_run(&ana, args);
        if args[0] != "requests" {
            assert!(out.contains("declined"), "{args:?}: {out}");
        }
    }
    let thread = ana.json(&["read", "max"], "");
    let system = thread["messages"].as_array().unwrap().last().unwrap()["body"]
        .as_str()
        .unwrap();
    assert!(
        system.ends_with(&reason),
        "the reason is kept exactly: {system:?}"
    );

    let out = server.admin(&["announce", &all], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let notes = safe_run(&ana, &["notifications", "--unread"]);
    assert!(notes.contains(&*mchat::sanitize::line(&all)), "{notes}");
    let json = ana.json(&["notifications"], "");
    assert!(
        json["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["body"] == all.as_str()),
        "the announcement is byte-exact in --json: {json}"
    );
    safe_run(&mona, &["notifications"]);
}

#[test]
fn escape_sequences_echoed_in_errors_are_made_visible() {
    let server = TestServer::start_open();
    let (mona, _ana) = accepted_pair(&server);
    for h in HOSTILE.iter().filter(|h| !h.contains('\0')) {
        // A tag too long is refused with a message that quotes it.
        let tag = format!("{h}{}", "x".repeat(40));
        let (code, out, err) = mona.run(&["profile", "set", "--expertise", &tag], "");
        assert_eq!(code, 5, "{tag:?}: {out}{err}");
        assert_one_sentence(&err);
        assert_safe(&format!("server error quoting {h:?}"), &err);
        let (code, out, err) = mona.run(&["--json", "profile", "set", "--expertise", &tag], "");
        assert_eq!(code, 5);
        assert_safe("stderr with --json", &err);
        let doc = common::assert_json_error(&out, 5);
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("characters; the limit is 32"),
            "{doc}"
        );

        // Names typed by the user come back in "not found" sentences.
        for args in [
            &["send", h, "hi"][..],
            &["read", h],
            &["accept", h],
            &["request", h, "hi"],
        ] {
            let (code, out, err) = mona.run(args, "");
            assert!(matches!(code, 4 | 5), "{args:?}: {out}{err}");
            assert_one_sentence(&err);
            assert_safe(&format!("error for {args:?}"), &err);
            assert_safe(&format!("stdout for {args:?}"), &out);
        }
    }
    // Display names the client checks before sending are refused safely too.
    let newcomer = User::new("newcomer", &server.url());
    let (code, _, err) = newcomer.run(
        &[
            "register",
            "newcomer",
            "--password-stdin",
            "--display-name",
            "\x1b]0;pwned\x07",
        ],
        mchat_testkit::PASSWORD,
    );
    assert_eq!(code, 5, "{err}");
    assert_one_sentence(&err);
    assert_safe("register refusal", &err);
}
