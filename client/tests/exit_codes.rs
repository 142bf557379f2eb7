//! Every documented exit code (DESIGN §5: 0 ok, 2 usage, 3 authentication,
//! 4 not found / not allowed, 5 rejected input, 75 queued, 1 anything else),
//! each failure as one clear sentence on stderr and, with `--json`, one
//! error document on stdout. Also `completions`, `doctor` and `logout`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence, one_json};
use mchat_testkit::{PASSWORD, TestServer};
use std::path::Path;

/// Runs `args` in human mode and with `--json`; both must exit `code` with
/// one sentence on stderr; the JSON run must print one error document whose
/// message is that sentence. Returns the human run's stderr sentence.
fn fails(user: &User, args: &[&str], stdin: &str, code: i32) -> String {
    fails_env(user, args, stdin, &[], code)
}

fn fails_env(user: &User, args: &[&str], stdin: &str, env: &[(&str, &str)], code: i32) -> String {
    let (got, out, err) = user.run_env(args, stdin, env);
    assert_eq!(got, code, "mchat {args:?}\nstdout: {out}\nstderr: {err}");
    assert!(
        out.is_empty(),
        "mchat {args:?}: nothing on stdout in human mode: {out}"
    );
    assert_one_sentence(&err);
    let sentence = err.trim().trim_start_matches("mchat: ").to_string();

    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(args);
    let (got, out, err) = user.run_env(&json_args, stdin, env);
    assert_eq!(got, code, "mchat {json_args:?}\nstdout: {out}\nstderr: {err}");
    let doc = assert_json_error(&out, code);
    assert_eq!(
        doc["error"]["message"],
        sentence.as_str(),
        "the same sentence in both modes"
    );
    assert_one_sentence(&err);
    sentence
}

/// A usage error: exit 2, clap's "error: ..." first line and usage, no
/// panic; with `--json` also one error document on stdout. Returns the
/// first stderr line and the JSON message, on two lines.
fn usage(user: &User, args: &[&str]) -> String {
    let (code, out, err) = user.run(args, "");
    assert_eq!(code, 2, "mchat {args:?}\nstdout: {out}\nstderr: {err}");
    assert!(out.is_empty(), "{out}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ") || first.starts_with("mchat: "),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(args);
    let (code, out, _) = user.run(&json_args, "");
    assert_eq!(code, 2, "mchat {json_args:?}");
    let doc = assert_json_error(&out, 2);
    assert_eq!(doc["error"]["code"], "usage", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        !message.starts_with("error:") && !message.contains("Usage:"),
        "{doc}"
    );
    format!("{first}\n{message}")
}

/// A URL where nothing listens (a port just released).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[test]
fn exit_codes_without_a_server() {
    let nobody = User::new("nobody", &dead_url());

    // 0
    let (code, out, err) = nobody.run(&["completions", "bash"], "");
    assert_eq!(code, 0, "{err}");
    // A bash script that asks mchat itself at each TAB (dynamic completion).
    assert!(
        out.contains("_clap_complete_mchat") && out.contains("complete ") && out.contains("COMPLETE"),
        "a bash script:\n{out}"
    );
    let (code, words, err) = nobody.run_env(
        &["--", "mchat", ""],
        "",
        &[
            ("COMPLETE", "bash"),
            ("_CLAP_COMPLETE_INDEX", "1"),
            ("_CLAP_COMPLETE_COMP_TYPE", "9"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    for sub in ["inbox", "outbox", "mentors", "--json"] {
        assert!(words.contains(sub), "completes {sub}: {words}");
    }
    let (code, out, _) = nobody.run(&["completions", "zsh"], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("#compdef mchat"), "{}", &out[..40.min(out.len())]);
    let (code, out, _) = nobody.run(&["--version"], "");
    assert_eq!((code, out.starts_with("mchat ")), (0, true));

    // 2: unknown flag, missing argument, bad value, no terminal for a password.
    assert!(usage(&nobody, &["inbox", "--bogus"]).contains("--bogus"));
    let missing = usage(&nobody, &["send"]);
    assert!(
        missing.ends_with("required arguments were not provided: <TARGET>"),
        "{missing}"
    );
    assert!(usage(&nobody, &["read"]).contains("required"));
    assert!(usage(&nobody, &["completions", "tcsh"]).contains("tcsh"));
    assert!(usage(&nobody, &["frobnicate"]).contains("frobnicate"));
    assert!(fails(&nobody, &["login", "ana"], "", 2).contains("--password-stdin"));
    assert!(fails(&nobody, &["status", "sideways"], "", 2).contains("available, away, busy"));
    assert!(fails(&nobody, &["--server", "ftp://example.org", "inbox"], "", 2).contains("http(s)"));

    // 3: not logged in.
    let sentence = fails(&nobody, &["inbox"], "", 3);
    assert!(
        sentence.contains("not logged in") && sentence.contains("mchat login"),
        "{sentence}"
    );
    fails(&nobody, &["send", "mona", "hi"], "", 3);
    fails(&nobody, &["logout"], "", 3);

    // 5: refused before anything is sent.
    let long = "x".repeat(4001);
    let env = [("MCHAT_TOKEN", "mct_not_checked_yet")];
    let sentence = fails_env(&nobody, &["send", "mona", &long], "", &env, 5);
    assert_eq!(sentence, "message is 4,001 characters; the limit is 4,000");
    let sentence = fails_env(&nobody, &["send", "mona", "-"], &long, &env, 5);
    assert_eq!(sentence, "message is 4,001 characters; the limit is 4,000");
    fails_env(&nobody, &["read", "mona", "--limit", "0"], "", &env, 5);
    fails(&nobody, &["register", "ab", "--password-stdin"], PASSWORD, 5);
    fails(&nobody, &["register", "newbie", "--password-stdin"], "short\n", 5);

    // 75: the server is unreachable and the message waits in the outbox.
    let (code, out, err) = nobody.run_env(&["send", "mona", "hello?"], "", &env);
    assert_eq!(code, 75, "{out}{err}");
    assert_one_sentence(&err);
    assert!(err.contains("queued in the outbox (1 waiting)"), "{err}");
    let (code, out, _) = nobody.run_env(&["--json", "send", "mona", "hello again?"], "", &env);
    assert_eq!(code, 75);
    assert_eq!(assert_json_error(&out, 75)["error"]["code"], "queued");
    let (code, _, err) = nobody.run_env(&["outbox", "flush"], "", &env);
    assert_eq!(code, 75, "{err}");

    // 1: anything else — the server is down (for a command that queues nothing).
    let sentence = fails_env(&nobody, &["inbox"], "", &env, 1);
    assert!(
        sentence.starts_with("cannot reach the server at http://127.0.0.1:"),
        "{sentence}"
    );
    // 4 without a server: nothing to drop.
    fails(&nobody, &["outbox", "drop", "999"], "", 4);
}

#[test]
fn corrupt_local_files_exit_1_with_one_sentence() {
    let user = User::new("broken", &dead_url());
    let config = user.home.path().join("config/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "default_profile = [\n").unwrap();
    let sentence = fails(&user, &["inbox"], "", 1);
    assert!(
        sentence.contains("invalid config file") && sentence.contains("config.toml"),
        "{sentence}"
    );
    assert!(sentence.contains(" at line "), "says where: {sentence}");
    std::fs::write(&config, "no_such_setting = 1\n").unwrap();
    let sentence = fails(&user, &["whoami"], "", 1);
    assert!(sentence.contains("no_such_setting"), "{sentence}");
    std::fs::remove_file(&config).unwrap();

    let creds = user.home.path().join("data/profiles/default/credentials.json");
    std::fs::create_dir_all(creds.parent().unwrap()).unwrap();
    std::fs::write(&creds, "{ not json").unwrap();
    let sentence = fails(&user, &["whoami"], "", 1);
    assert!(sentence.contains("corrupt credentials file"), "{sentence}");
    fails(&user, &["--profile", "no/such", "whoami"], "", 1);
}

#[test]
fn exit_codes_from_the_server() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let eve = User::register(&server, "eve", &[]);
    let conv = ana.json(&["inbox"], "")["conversations"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();

    // 3: a bad token, a wrong password.
    let stranger = User::new("stranger", &server.url());
    let sentence = fails_env(&stranger, &["inbox"], "", &[("MCHAT_TOKEN", "mct_bogus")], 3);
    assert!(sentence.contains("did not accept your token"), "{sentence}");
    fails(
        &stranger,
        &["login", "ana", "--password-stdin"],
        "not the password\n",
        3,
    );

    // 4: no such user or conversation, or not yours (indistinguishable).
    let sentence = fails(&ana, &["send", "nobody", "hi"], "", 4);
    assert!(sentence.contains("there is no user named nobody"), "{sentence}");
    fails(&ana, &["read", "nobody"], "", 4);
    fails(&ana, &["read", "999999"], "", 4);
    let not_yours = fails(&eve, &["read", &conv], "", 4);
    let missing = fails(&eve, &["read", "999999"], "", 4);
    assert_eq!(
        not_yours.replace(&conv, "N"),
        missing.replace("999999", "N"),
        "a conversation that is not yours looks like one that does not exist"
    );
    fails(&eve, &["send", &conv, "let me in"], "", 4);
    fails(&eve, &["accept", "ana"], "", 4);
    fails(&eve, &["request", "nobody", "hi"], "", 4);

    // 5: refused by the server.
    let (code, _, err) = eve.run(&["request", "mona", "hello"], "");
    assert_eq!(code, 0, "{err}");
    let sentence = fails(&eve, &["send", "mona", "hi again"], "", 5);
    assert_eq!(sentence, "mona has not accepted your request yet");
    let sentence = fails(&mona, &["send", "eve", "hi"], "", 5);
    assert!(sentence.contains("accept eve"), "{sentence}");
    let long = "y".repeat(4001);
    let sentence = fails(&ana, &["send", "mona", &long], "", 5);
    assert_eq!(sentence, "message is 4,001 characters; the limit is 4,000");
    // An empty body is a usage error (2), not text the server refused.
    let sentence = fails(&ana, &["send", "mona", "   "], "", 2);
    assert_eq!(sentence, "the message is empty");
    fails(&mona, &["decline", "ana"], "", 5); // accepted: too late to decline
    fails(&ana, &["profile", "set", "--headline", &"h".repeat(201)], "", 5);
    let newbie = User::new("newbie", &server.url());
    fails(&newbie, &["register", "ana", "--password-stdin"], PASSWORD, 5); // taken

    // 0 again, and nothing above changed the conversation.
    assert_eq!(
        common::bodies(&mona, "ana"),
        ["hello, may I ask you about Rust?"],
        "no refused message was stored"
    );
}

#[test]
fn doctor_reports_reachability_and_the_outbox() {
    let mut server = TestServer::start_open();
    let (mut mona, mut ana) = accepted_pair(&server);
    let report = ana.ok(&["doctor"], "");
    assert!(
        report.contains(&format!("server       {}  reachable: ok", server.url())),
        "{report}"
    );
    assert!(report.contains("account      ana  token valid: ok"), "{report}");
    assert!(report.contains("outbox       0 queued"), "{report}");
    let doc = ana.json(&["doctor"], "");
    assert_eq!(doc["reachable"], true);
    assert_eq!(doc["token_valid"], true);
    assert_eq!(doc["username"], "ana");
    assert_eq!(doc["outbox_depth"], 0);
    assert_eq!(doc["problems"], serde_json::json!([]));

    server.stop();
    let (code, _, _) = ana.run(&["send", "mona", "queued for the doctor"], "");
    assert_eq!(code, 75);
    // A failed check is a failed doctor (exit 1), with the whole report.
    let (code, report, _) = ana.run(&["doctor"], "");
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("reachable: no"), "{report}");
    assert!(report.contains("outbox       1 queued"), "{report}");
    assert!(report.contains("1 message(s) wait in the outbox"), "{report}");
    let (code, out, _) = ana.run(&["--json", "doctor"], "");
    assert_eq!(code, 1, "{out}");
    let doc = common::one_json(&out);
    assert_eq!(
        (doc["reachable"].clone(), doc["outbox_depth"].clone()),
        (false.into(), 1.into())
    );
    assert!(
        doc["token_valid"].is_null(),
        "not checked while unreachable: {doc}"
    );

    // Not logged in: doctor still reports, and says so.
    let (code, out, _) = User::new("fresh", &server.url()).run(&["--json", "doctor"], "");
    assert_ne!(code, 0, "{out}");
    let doc = common::one_json(&out);
    assert_eq!(doc["logged_in"], false);
    assert!(doc["problems"].to_string().contains("not logged in"), "{doc}");

    assert!(server.start_again_on_same_port(), "the old port was taken");
    mona.server = server.url();
    ana.server = server.url();
    ana.ok(&["outbox", "flush"], "");
    assert_eq!(ana.json(&["doctor"], "")["outbox_depth"], 0);
    assert_eq!(mona.json(&["inbox"], "")["conversations"][0]["unread"], 1);
}

fn credentials(home: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(home.join("data/profiles/default/credentials.json")).unwrap())
        .unwrap()
}

#[test]
fn logout_revokes_the_token() {
    let server = TestServer::start_open();
    let ana = User::register(&server, "ana", &[]);
    let creds_path = ana.home.path().join("data/profiles/default/credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }
    let old_token = credentials(ana.home.path())["token"]
        .as_str()
        .unwrap()
        .to_string();

    let out = ana.ok(&["logout"], "");
    assert_eq!(out.trim(), format!("logged out of {}", server.url()));
    assert!(!creds_path.exists(), "the token file is gone");
    let sentence = fails(&ana, &["inbox"], "", 3);
    assert!(sentence.contains("not logged in"), "{sentence}");

    // The old token was revoked on the server, not just forgotten here.
    let elsewhere = User::new("elsewhere", &server.url());
    let sentence = fails_env(&elsewhere, &["whoami"], "", &[("MCHAT_TOKEN", &old_token)], 3);
    assert!(sentence.contains("did not accept your token"), "{sentence}");

    // Logging in again works and gives a new token.
    ana.ok(&["login", "ana", "--password-stdin"], PASSWORD);
    assert_ne!(credentials(ana.home.path())["token"], old_token.as_str());
    let doc = one_json(&ana.ok(&["--json", "logout"], ""));
    assert_eq!(
        doc,
        serde_json::json!({"ok": true, "revoked": true, "profile": "default"})
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_closed_stdout_is_not_an_error() {
    // `mchat completions bash | head -1`: the reader goes away early. A FIFO
    // whose only reader is closed before mchat starts makes that exact, with
    // no timing involved (opening a FIFO read-write never blocks on Linux).
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    drop(reader);
    let user = User::new("piped", &dead_url());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mchat"))
        .env("MCHAT_HOME", user.home.path())
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("internal error") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "like any Unix filter: {err}");
}
