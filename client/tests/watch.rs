//! `mchat watch` against a real server: JSON Lines in order, the cursor
//! saved and resumed (no duplicates across runs, also while running), the
//! connection surviving a server restart (and flushing the outbox when it
//! comes back), `--conversation`, `--exec`, hostile text, and a revoked
//! token ending it with exit 3.
//!
//! The stream is read from a running child process line by line; every wait
//! is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_json_error, assert_one_sentence, bodies, eventually};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::ServerFrame;
use mchat_testkit::TestServer;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a test waits for something the server pushes.
const WAIT: Duration = Duration::from_secs(30);

/// `mchat watch ...` running in the background.
struct Running {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `mchat ARGS` as `user`, with extra environment variables.
    fn start(user: &User, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mchat"));
        for var in ["MCHAT_TOKEN", "MCHAT_PROFILE", "MCHAT_SERVER", "NO_COLOR"] {
            cmd.env_remove(var);
        }
        cmd.env("MCHAT_HOME", user.home.path())
            .env("MCHAT_SERVER", &user.server)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot run mchat");
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running {
            child: Some(child),
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`.
    fn wait_stderr(&self, needle: &str) {
        eventually(WAIT, &format!("{needle:?} on stderr"), || {
            self.stderr().contains(needle).then_some(())
        });
    }

    /// Reads lines until one satisfies `done`; returns all lines read.
    fn read_until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut read = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let finished = done(&line);
                    read.push(line);
                    if finished {
                        return read;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; read so far:\n{}\nstderr:\n{}",
                    read.join("\n"),
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for the process to exit by itself; its code, the rest of
    /// stdout, and stderr.
    fn wait(mut self) -> (i32, Vec<String>, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("mchat watch did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<String> =
            std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_secs(5)).ok()).collect();
        // Let the stderr reader drain.
        std::thread::sleep(Duration::from_millis(50));
        (status.code().unwrap_or(-1), rest, self.stderr())
    }

    /// SIGTERM, then [`Running::wait`].
    fn terminate(self) -> (i32, Vec<String>, String) {
        let pid = self.child.as_ref().unwrap().id();
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        self.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A JSON line as a frame (it must decode) and as a value.
fn frame(line: &str) -> (ServerFrame, Value) {
    let f: ServerFrame = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a frame ({e}): {line}"));
    (f, serde_json::from_str(line).unwrap())
}

fn seq(line: &str) -> Option<i64> {
    match frame(line).0 {
        ServerFrame::Event(ev) => Some(ev.seq.0),
        ServerFrame::Signal(_) => None,
    }
}

/// The body of a `message_new` line.
fn body(line: &str) -> Option<String> {
    match frame(line).0 {
        ServerFrame::Event(ev) => match ev.kind {
            EventKind::MessageNew { message } => Some(message.body),
            _ => None,
        },
        ServerFrame::Signal(_) => None,
    }
}

fn bodies_in(lines: &[String]) -> Vec<String> {
    lines.iter().filter_map(|l| body(l)).collect()
}

fn assert_increasing(lines: &[String]) {
    let seqs: Vec<i64> = lines.iter().filter_map(|l| seq(l)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs must strictly increase (no duplicates): {seqs:?}"
    );
}

/// The profile's stored cursor, read by another process.
fn stored_cursor(user: &User) -> Option<i64> {
    user.json(&["doctor"], "")["event_cursor"].as_i64()
}

#[test]
fn json_lines_resume_from_the_saved_cursor_without_duplicates() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    assert_eq!(stored_cursor(&mona), None);

    // No cursor yet: from now on.
    let mut watch = Running::start(&mona, &["--json", "-v", "watch"], &[]);
    watch.wait_stderr("up to date");
    for text in ["one", "two", "three"] {
        ana.ok(&["send", "mona", text], "");
    }
    let mut lines = watch.read_until("three", |l| body(l).as_deref() == Some("three"));
    assert_eq!(bodies_in(&lines), ["one", "two", "three"]);
    assert_increasing(&lines);
    // Saved while running, visible to other processes at once.
    let last = seq(lines.last().unwrap()).unwrap();
    eventually(WAIT, "the cursor saved while running", || {
        (stored_cursor(&mona).unwrap_or(0) >= last).then_some(())
    });
    let (code, rest, err) = watch.terminate();
    assert_eq!(code, 0, "Ctrl-C/SIGTERM is a normal end: {err}");
    lines.extend(rest);
    assert_increasing(&lines);
    let last = lines.iter().filter_map(|l| seq(l)).max().unwrap();
    assert_eq!(
        stored_cursor(&mona),
        Some(last),
        "the cursor is the last printed event"
    );
    assert!(!err.contains("mchat:"), "no error: {err}");

    // Later runs pick up after it: --count 1 twice, then --once for the rest.
    ana.ok(&["send", "mona", "four"], "");
    ana.ok(&["send", "mona", "five"], "");
    let mut later = Vec::new();
    for _ in 0..2 {
        let out = mona.ok(&["--json", "watch", "--count", "1"], "");
        let got: Vec<String> = out.lines().map(str::to_string).collect();
        assert_eq!(got.len(), 1, "{out}");
        later.extend(got);
    }
    let out = mona.ok(&["--json", "watch", "--once"], "");
    later.extend(out.lines().map(str::to_string));
    assert!(
        later.iter().all(|l| seq(l).unwrap() > last),
        "only newer events: {later:?}"
    );
    assert_increasing(&later);
    assert_eq!(bodies_in(&later), ["four", "five"], "each exactly once");
    // Nothing new: --once prints nothing and keeps the cursor.
    let cursor = stored_cursor(&mona);
    assert_eq!(mona.ok(&["--json", "watch", "--once"], ""), "");
    assert_eq!(stored_cursor(&mona), cursor);

    // --since replays; --from-now skips the backlog.
    let all = mona.ok(&["--json", "watch", "--once", "--since", "0"], "");
    let all: Vec<String> = all.lines().map(str::to_string).collect();
    assert_increasing(&all);
    let replayed = bodies_in(&all);
    for text in ["one", "two", "three", "four", "five"] {
        assert_eq!(replayed.iter().filter(|b| *b == text).count(), 1, "{replayed:?}");
    }
    ana.ok(&["send", "mona", "six"], "");
    assert_eq!(mona.ok(&["--json", "watch", "--once", "--from-now"], ""), "");
    assert_eq!(
        mona.ok(&["--json", "watch", "--once"], ""),
        "",
        "--from-now moved the cursor"
    );
}

#[test]
fn a_server_restart_loses_and_repeats_nothing_and_flushes_the_outbox() {
    let mut server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let mut watch = Running::start(&mona, &["--json", "-v", "watch"], &[]);
    watch.wait_stderr("up to date");
    ana.ok(&["send", "mona", "before"], "");
    let mut lines = watch.read_until("before", |l| body(l).as_deref() == Some("before"));

    server.stop().expect("the server was running");
    watch.wait_stderr("reconnecting in");
    // Queued on both sides while the server is down.
    let (code, _, err) = ana.run(&["send", "mona", "queued by ana"], "");
    assert_eq!(code, 75, "{err}");
    let (code, _, err) = mona.run(&["send", "ana", "queued by mona"], "");
    assert_eq!(code, 75, "{err}");

    if !server.start_again_on_same_port() {
        eprintln!("the old port was taken; the watch cannot follow the server, skipping the rest");
        return;
    }
    // The watch reconnects by itself and sends mona's outbox.
    watch.wait_stderr("sent 1 queued message(s) from the outbox");
    assert!(watch.stderr().contains("connected"), "{}", watch.stderr());
    eventually(WAIT, "mona's queued message at ana's", || {
        bodies(&ana, "mona")
            .contains(&"queued by mona".to_string())
            .then_some(())
    });
    ana.ok(&["send", "mona", "after"], ""); // sends ana's queued one first
    lines.extend(watch.read_until("after", |l| body(l).as_deref() == Some("after")));
    let (code, rest, err) = watch.terminate();
    assert_eq!(code, 0, "{err}");
    lines.extend(rest);
    assert_increasing(&lines);
    assert_eq!(
        bodies_in(&lines),
        ["before", "queued by mona", "queued by ana", "after"],
        "every message exactly once, in order"
    );
}

#[test]
fn conversation_filter_and_exec() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let bob = User::register(&server, "bob", &[]);
    bob.ok(&["request", "mona", "hi, bob here"], "");
    mona.ok(&["accept", "bob"], "");
    let ana_conv = mona.json(&["inbox"], "")["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer"]["username"] == "ana")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let env_log = dir.path().join("env.txt");
    let exec = format!(
        "cat >> '{}'; echo \"$MCHAT_EVENT_TYPE $MCHAT_EVENT_SEQ\" >> '{}'; [ \"$MCHAT_EVENT_TYPE\" != message_new ]",
        events.display(),
        env_log.display()
    );
    let mut watch = Running::start(
        &mona,
        &["--json", "-v", "watch", "--conversation", "ana", "--exec", &exec],
        &[],
    );
    watch.wait_stderr("up to date");
    bob.ok(&["send", "mona", "from bob"], "");
    ana.ok(&["send", "mona", "from ana"], "");
    bob.ok(&["send", "mona", "bob again"], "");
    ana.ok(&["send", "mona", "ana again"], "");
    let mut lines = watch.read_until("ana again", |l| body(l).as_deref() == Some("ana again"));
    let seen = lines.len();
    // The line is printed before its --exec command runs: wait for that to
    // fail (as it does for messages) too.
    let last = seq(lines.last().unwrap()).unwrap();
    watch.wait_stderr(&format!("for event {last} (message_new)"));
    let (code, rest, err) = watch.terminate();
    assert_eq!(code, 0, "{err}");
    lines.extend(rest);
    assert_eq!(bodies_in(&lines), ["from ana", "ana again"]);
    for line in &lines {
        let (_, v) = frame(line);
        let data = &v["data"];
        let conv = data["conversation_id"]
            .as_i64()
            .or_else(|| data["message"]["conversation_id"].as_i64())
            .or_else(|| data["notification"]["conversation_id"].as_i64());
        assert_eq!(conv, Some(ana_conv), "only ana's conversation: {line}");
    }
    // --exec got every printed event, its JSON on stdin, type and seq in
    // the environment; its failures (exit 1 for messages) were reported
    // without stopping anything.
    let exec_lines: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // (A command still running when watch stopped was killed.)
    assert_eq!(exec_lines[..], lines[..exec_lines.len()]);
    assert!(exec_lines.len() >= seen);
    let env_lines: Vec<String> = std::fs::read_to_string(&env_log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = lines[..env_lines.len()]
        .iter()
        .map(|l| {
            let (_, v) = frame(l);
            format!("{} {}", v["type"].as_str().unwrap(), v["seq"])
        })
        .collect();
    assert_eq!(env_lines, expected);
    let failures = err
        .lines()
        .filter(|l| l.contains("--exec command failed"))
        .count();
    assert_eq!(failures, 2, "one per message: {err}");
    assert!(
        err.contains(&format!(
            "failed (exit status: 1) for event {} (message_new)",
            seq(&lines[0]).unwrap()
        )),
        "{err}"
    );

    // The filtered-out events moved the cursor too: bob's messages are not
    // shown again (read markers committed after the stop may be).
    let rest = mona.ok(&["--json", "watch", "--once"], "");
    let rest: Vec<String> = rest.lines().map(str::to_string).collect();
    assert!(bodies_in(&rest).is_empty(), "{rest:?}");
}

#[test]
fn human_lines_say_who_wrote_to_whom_and_what_changed() {
    let server = TestServer::start_open();
    let mona = User::register(&server, "mona", &["--role", "mentor"]);
    let ana = User::register(&server, "ana", &[]);
    ana.ok(&["request", "mona", "hello, may I ask you about Rust?"], "");
    let mut watch = Running::start(&ana, &["watch"], &[]);
    watch.wait_stderr("watching (Ctrl-C to stop)");
    mona.ok(&["accept", "ana"], "");
    mona.ok(&["send", "ana", "sure, go ahead"], "");
    ana.ok(&["send", "mona", "thanks!"], "");
    let mut lines = watch.read_until("my own message", |l| l.ends_with("you → mona  thanks!"));
    let (code, rest, err) = watch.terminate();
    assert_eq!(code, 0, "{err}");
    lines.extend(rest);
    let text: Vec<&str> = lines
        .iter()
        .map(|l| {
            // "HH:MM  rest": the clock, then the line.
            let (clock, rest) = l.split_once("  ").unwrap();
            assert!(clock.len() == 5 && clock.as_bytes()[2] == b':', "{l}");
            rest
        })
        .collect();
    assert_eq!(
        text,
        [
            "mona accepted your request",
            "mona → you  sure, go ahead",
            "you → mona  thanks!"
        ],
        "read markers, status changes and the duplicate system line only with -v"
    );
    assert!(err.contains("connected to"), "{err}");
}

/// A character a terminal could act on, or that hides or reorders text
/// (as in terminal_safety.rs).
fn dangerous(c: char) -> bool {
    let cp = c as u32;
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(cp, 0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C)
        || matches!(cp, 0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD)
        || matches!(cp, 0x2028 | 0x2029 | 0xE0000..=0xE007F | 0xFFF9..=0xFFFB)
}

#[test]
fn hostile_text_is_sanitised_in_human_lines_and_escaped_in_json_lines() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let accepted: Vec<&str> = mchat::sanitize::HOSTILE
        .iter()
        .copied()
        .filter(|h| !h.chars().any(|c| c.is_control() && c != '\n' && c != '\t'))
        .collect();
    assert!(accepted.len() >= 3, "the server takes some hostile bodies");
    let cursor_before = stored_cursor(&mona);
    for h in &accepted {
        ana.ok(&["send", "mona", "-"], h);
    }
    mona.ok(&["send", "ana", "plain\nsecond line"], "");

    let (code, out, err) = mona.run(&["watch", "--once", "--since", "0"], "");
    assert_eq!(code, 0, "{err}");
    for (what, text) in [("stdout", &out), ("stderr", &err)] {
        if let Some(c) = text.chars().find(|&c| dangerous(c)) {
            panic!("raw U+{:04X} on {what}:\n{text}", c as u32);
        }
    }
    for h in &accepted {
        let shown = mchat::sanitize::text(h);
        assert!(
            out.contains(&format!("ana → you  {}", shown.lines().next().unwrap_or(""))),
            "{h:?} in:\n{out}"
        );
    }
    assert!(out.contains("you → ana  plain\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start() == "second line" && l.starts_with("  ")),
        "continuation lines are indented:\n{out}"
    );
    assert!(stored_cursor(&mona) > cursor_before, "the replay was processed");

    // JSON Lines: nothing raw either, and the exact bodies.
    let (code, out, _) = mona.run(&["--json", "watch", "--once", "--since", "0"], "");
    assert_eq!(code, 0);
    assert!(!out.chars().any(dangerous), "{out}");
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let got = bodies_in(&lines);
    for h in &accepted {
        assert!(got.contains(&h.to_string()), "{h:?} byte for byte");
    }
}

#[test]
fn a_revoked_token_ends_watch_with_exit_3() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    let created = ana.json(&["tokens", "create", "watcher"], "");
    let token = created["token"].as_str().unwrap().to_string();
    let token_id = created["info"]["id"].as_i64().unwrap().to_string();
    let script = User::new("script", &server.url());
    let env = [("MCHAT_TOKEN", token.as_str())];

    // Revoked while watching: the server closes with 4401.
    let watch = Running::start(&script, &["watch"], &env);
    watch.wait_stderr("watching");
    ana.ok(&["tokens", "revoke", &token_id], "");
    let (code, rest, err) = watch.wait();
    assert_eq!(code, 3, "{err}");
    assert!(rest.is_empty(), "{rest:?}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("mchat: ") && last.contains("did not accept your token"),
        "{err}"
    );

    // Already revoked: refused at the upgrade (HTTP 401), same exit.
    let (code, out, err) = script.run_env(&["watch"], "", &env);
    assert_eq!(code, 3, "{out}{err}");
    assert_one_sentence(&err);
    let (code, out, _) = script.run_env(&["--json", "watch"], "", &env);
    assert_eq!(code, 3);
    let doc = assert_json_error(&out, 3);
    assert_eq!(doc["error"]["code"], "unauthorized");

    // Not logged in at all: exit 3 before connecting.
    let nobody = User::new("nobody", &server.url());
    let (code, _, err) = nobody.run(&["watch"], "");
    assert_eq!(code, 3, "{err}");
    assert_one_sentence(&err);
}

#[test]
fn unreachable_server_retries_until_timeout_but_once_fails() {
    let mut server = TestServer::start_open();
    let ana = User::register(&server, "ana", &[]);
    server.stop().expect("running");

    let started = Instant::now();
    let (code, out, err) = ana.run(&["watch", "--timeout", "2"], "");
    assert_eq!(code, 0, "--timeout ends a watch normally: {err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("cannot reach the server") && err.contains("reconnecting in"),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));

    let (code, out, err) = ana.run(&["watch", "--once"], "");
    assert_eq!(code, 1, "{out}{err}");
    assert_one_sentence(&err);
    assert!(err.contains("cannot reach the server"), "{err}");

    // Usage errors are exit 2.
    let (code, _, _) = ana.run(&["watch", "--since", "3", "--from-now"], "");
    assert_eq!(code, 2);
    let (code, _, _) = ana.run(&["watch", "--count", "0"], "");
    assert_eq!(code, 2);
}
