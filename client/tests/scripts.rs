//! Using `mchat` from scripts: bodies from stdin, exact multi-line round
//! trips, CRLF, `MCHAT_TOKEN` without any files, several profiles in one home.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, bodies};
use mchat_testkit::{PASSWORD, TestServer};

#[test]
fn bodies_from_stdin_round_trip_exactly() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);

    // `send USER -` reads a file's worth of text, kept byte for byte
    // (tabs, blank lines, indentation, non-ASCII), minus the surrounding
    // whitespace the server trims.
    let file = "Notes for Thursday:\n\n\t- ownership\n\t- borrowing\n  indented line\n\
                unicode: 日本語, emoji 👩‍💻, combining e\u{301}\nlast line";
    let out = ana.ok(&["send", "mona", "-"], &format!("{file}\n"));
    assert!(out.starts_with("✓ sent (#"), "{out}");

    // No message argument and piped stdin: stdin is the body.
    let piped = "piped without '-'\nsecond line";
    ana.ok(&["send", "mona"], &format!("{piped}\n\n"));

    // CRLF from Windows editors becomes LF; a lone CR is refused, not mangled.
    ana.ok(
        &["send", "mona", "-"],
        "crlf one\r\ncrlf two\r\n\r\ncrlf four\r\n",
    );
    let (code, _, err) = ana.run(&["send", "mona", "-"], "carriage\rreturn");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("control character U+000D"), "{err}");

    // Nothing to send, or not text.
    let (code, _, err) = ana.run(&["send", "mona", "-"], " \n\t\n");
    assert_eq!(code, 2, "a usage error, not rejected text: {err}");
    assert_eq!(err.trim(), "mchat: the message is empty");
    let (code, _, err) = run_bytes(&ana, &["send", "mona", "-"], b"caf\xe9\n");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("cannot read the message from stdin"), "{err}");

    // Arguments are joined with single spaces.
    ana.ok(&["send", "mona", "several", "words", "here"], "");

    // The reply goes the other way through stdin too.
    mona.ok(&["send", "ana", "-"], "got it,\n\tthanks\n");

    assert_eq!(
        bodies(&mona, "ana"),
        [
            "hello, may I ask you about Rust?",
            file,
            piped,
            "crlf one\ncrlf two\n\ncrlf four",
            "several words here",
            "got it,\n\tthanks",
        ]
    );
    // The human view keeps the lines (indented under the sender).
    let thread = ana.ok(&["read", "mona"], "");
    assert!(
        thread.contains("\n    \t- ownership\n    \t- borrowing\n      indented line\n"),
        "{thread}"
    );
    assert!(thread.contains("    crlf two\n    \n    crlf four\n"), "{thread}");
    assert!(!thread.contains('\r'), "{thread:?}");
}

#[test]
fn request_intro_from_stdin() {
    let server = TestServer::start_open();
    let max = User::register(&server, "max", &["--role", "mentor"]);
    let ana = User::register(&server, "ana", &[]);
    let intro = "Hi Max,\n\nI am learning Go.\r\nCould we talk?";
    ana.ok(&["request", "max"], intro);
    let doc = max.json(&["requests"], "");
    assert_eq!(
        doc["incoming"][0]["last_message"]["body"], "Hi Max,\n\nI am learning Go.\nCould we talk?",
        "{doc}"
    );
}

fn run_bytes(user: &User, args: &[&str], stdin: &[u8]) -> common::Run {
    common::run_mchat(user.home.path(), &user.server, args, stdin, &[])
}

#[test]
fn mchat_token_works_without_any_config_or_credentials() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let created = ana.json(&["tokens", "create", "nightly-report"], "");
    let token = created["token"]
        .as_str()
        .expect("the secret is printed once")
        .to_string();
    assert_eq!(created["info"]["name"], "nightly-report", "{created}");
    let token_id = created["info"]["id"].as_i64().unwrap();

    // A fresh, empty home: only MCHAT_SERVER and MCHAT_TOKEN.
    let script = User::new("script", &server.url());
    let env = [("MCHAT_TOKEN", token.as_str())];
    let (code, out, err) = script.run_env(&["--json", "whoami"], "", &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::one_json(&out)["user"]["username"], "ana");
    let (code, out, err) = script.run_env(&["send", "mona", "-"], "report: all green\n", &env);
    assert_eq!((code, out.starts_with("✓ sent")), (0, true), "{out}{err}");
    let (code, out, _) = script.run_env(&["inbox"], "", &env);
    assert_eq!(code, 0);
    assert!(out.contains("you: report: all green"), "{out}");
    assert_eq!(
        bodies(&mona, "ana").last().map(String::as_str),
        Some("report: all green")
    );
    let data = script.home.path().join("data/profiles/default");
    assert!(
        !data.join("credentials.json").exists(),
        "a token from the environment is never written down"
    );
    assert!(!script.home.path().join("config/config.toml").exists());
    let (_, out, _) = script.run_env(&["--json", "doctor"], "", &env);
    assert_eq!(common::one_json(&out)["token_source"], "MCHAT_TOKEN");

    // MCHAT_TOKEN wins over a profile's credentials file.
    let (code, out, _) = mona.run_env(&["--json", "whoami"], "", &env);
    assert_eq!(code, 0);
    assert_eq!(common::one_json(&out)["user"]["username"], "ana");

    // A revoked token stops working at once.
    let listed = ana.json(&["tokens", "list"], "");
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == token_id && t["name"] == "nightly-report"),
        "{listed}"
    );
    ana.ok(&["tokens", "revoke", &token_id.to_string()], "");
    let (code, _, err) = script.run_env(&["inbox"], "", &env);
    assert_eq!(code, 3, "{err}");
    common::assert_one_sentence(&err);
}

#[test]
fn two_profiles_side_by_side_in_one_home() {
    let server = TestServer::start_open();
    let (_mona, _ana) = accepted_pair(&server);
    let home = User::new("both", &server.url());
    home.ok(
        &["--profile", "a", "login", "ana", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    home.ok(&["--profile", "b", "login", "mona", "--password-stdin"], PASSWORD);

    let who = |args: &[&str], env: &[(&str, &str)]| {
        let (code, out, err) = home.run_env(args, "", env);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    let a = who(&["--profile", "a", "whoami"], &[]);
    assert!(a.starts_with("ana (ana) — mentee"), "{a}");
    assert!(a.contains("(profile a)"), "{a}");
    let b = who(&["--profile", "b", "whoami"], &[]);
    assert!(b.starts_with("mona (mona) — mentor"), "{b}");
    let b_env = who(&["--json", "whoami"], &[("MCHAT_PROFILE", "b")]);
    assert_eq!(common::one_json(&b_env)["user"]["username"], "mona");
    assert_eq!(common::one_json(&b_env)["profile"], "b");
    // --profile beats MCHAT_PROFILE.
    let a_flag = who(&["--json", "--profile", "a", "whoami"], &[("MCHAT_PROFILE", "b")]);
    assert_eq!(common::one_json(&a_flag)["user"]["username"], "ana");

    // The default profile is a third, separate account slot.
    let (code, _, err) = home.run(&["whoami"], "");
    assert_eq!(code, 3, "{err}");
    common::assert_one_sentence(&err);

    // Each profile talks as its own user.
    home.ok(&["--profile", "a", "send", "mona", "from profile a"], "");
    let thread = home.json(&["--profile", "b", "read", "ana"], "");
    let last = thread["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["sender"].as_str(), last["body"].as_str()),
        (Some("ana"), Some("from profile a"))
    );

    // The config file can pick the default profile.
    std::fs::create_dir_all(home.home.path().join("config")).unwrap();
    std::fs::write(
        home.home.path().join("config/config.toml"),
        "default_profile = \"b\"\n",
    )
    .unwrap();
    let b = who(&["whoami"], &[]);
    assert!(b.starts_with("mona (mona)"), "{b}");

    // Logging one profile out leaves the other logged in.
    home.ok(&["--profile", "a", "logout"], "");
    let (code, _, err) = home.run(&["--profile", "a", "whoami"], "");
    assert_eq!(code, 3);
    assert!(err.contains("profile a is not logged in"), "{err}");
    assert!(who(&["--profile", "b", "whoami"], &[]).starts_with("mona"));
}
