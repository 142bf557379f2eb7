//! Running the real `mchat` binary as a user: one temporary `MCHAT_HOME`
//! per user (config and data), the server URL in `MCHAT_SERVER`, and no
//! inherited `MCHAT_TOKEN`/`MCHAT_PROFILE`/`NO_COLOR`. Servers come from
//! `mchat-testkit`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mchat_testkit::{PASSWORD, TestServer};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The longest one `mchat` run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A user of the command line: a home directory and a server URL.
pub struct User {
    pub home: TempDir,
    pub name: String,
    /// `MCHAT_SERVER` for every run (change it when the server moves).
    pub server: String,
}

/// One run: exit code, stdout, stderr.
pub type Run = (i32, String, String);

impl User {
    /// The token `mchat login`/`register` saved for this user's default profile.
    pub fn token(&self) -> String {
        let path = self.home.path().join("data/profiles/default/credentials.json");
        let creds: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        creds["token"].as_str().unwrap().to_string()
    }

    /// A user with an empty home, not registered.
    pub fn new(name: &str, server: &str) -> User {
        User {
            home: tempfile::Builder::new().prefix("mchat-home-").tempdir().unwrap(),
            name: name.to_string(),
            server: server.to_string(),
        }
    }

    /// Registers `name` (extra flags like `--role mentor`) and logs in.
    pub fn register(server: &TestServer, name: &str, extra: &[&str]) -> User {
        let user = User::new(name, &server.url());
        let mut args = vec!["register", name, "--password-stdin"];
        args.extend_from_slice(extra);
        user.ok(&args, &format!("{PASSWORD}\n"));
        user
    }

    /// Runs `mchat ARGS` with `stdin` piped in.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        self.run_env(args, stdin, &[])
    }

    /// Runs `mchat ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        run_mchat(self.home.path(), &self.server, args, stdin.as_bytes(), env)
    }

    /// Runs and insists on exit 0; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let (code, out, err) = self.run(args, stdin);
        assert_eq!(code, 0, "mchat {args:?} failed\nstdout: {out}\nstderr: {err}");
        out
    }

    /// Runs with `--json`, insists on exit 0, and parses stdout as exactly
    /// one JSON document.
    pub fn json(&self, args: &[&str], stdin: &str) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (code, out, err) = self.run(&all, stdin);
        assert_eq!(code, 0, "mchat {all:?} failed\nstdout: {out}\nstderr: {err}");
        one_json(&out)
    }
}

/// Runs the binary under test. Bounded: a hung run fails the test.
pub fn run_mchat(home: &Path, server: &str, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mchat"));
    for var in [
        "MCHAT_TOKEN",
        "MCHAT_PROFILE",
        "MCHAT_SERVER",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("MCHAT_HOME", home).env("MCHAT_SERVER", server);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot run mchat");
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // A command that does not read stdin may exit first: ignore EPIPE.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let started = Instant::now();
    let output = match rx.recv_timeout(RUN_TIMEOUT) {
        Ok(out) => out.expect("cannot wait for mchat"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("mchat {args:?} did not finish within {:?}", started.elapsed());
        }
    };
    // Signals have no exit code: report them as -1.
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    )
}

/// Parses `text` as exactly one JSON document (nothing but whitespace around it).
pub fn one_json(text: &str) -> Value {
    let mut docs = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let first = match docs.next() {
        Some(Ok(v)) => v,
        other => panic!("stdout is not a JSON document ({other:?}):\n{text}"),
    };
    assert!(
        docs.next().is_none(),
        "stdout holds more than one JSON document:\n{text}"
    );
    first
}

/// Asserts `err` is one clear sentence: one line, prefixed `mchat: `, no
/// JSON, no backtrace, no panic.
pub fn assert_one_sentence(err: &str) {
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "stderr must be one line:\n{err}");
    let line = lines[0];
    assert!(
        line.starts_with("mchat: "),
        "stderr must start with 'mchat: ': {line}"
    );
    assert!(
        line.len() > "mchat: ".len() + 10,
        "a sentence, not a code: {line}"
    );
    for bad in [
        "{",
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
        "internal error",
        "Error {",
        "Os {",
    ] {
        assert!(!line.contains(bad), "stderr contains {bad:?}: {line}");
    }
}

/// Asserts stdout is one `--json` error document with this exit code, and
/// returns it.
pub fn assert_json_error(out: &str, exit_code: i32) -> Value {
    let doc = one_json(out);
    let error = &doc["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "error.code: {doc}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error.message: {doc}"
    );
    assert_eq!(error["exit_code"], exit_code, "error.exit_code: {doc}");
    assert_eq!(
        doc.as_object().map(|o| o.len()),
        Some(1),
        "only the error key: {doc}"
    );
    doc
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A mentor `mona` and a mentee `ana` with an accepted conversation, on an
/// open server (no mentor approval).
pub fn accepted_pair(server: &TestServer) -> (User, User) {
    let mona = User::register(server, "mona", &["--role", "mentor"]);
    let ana = User::register(server, "ana", &[]);
    ana.ok(&["request", "mona", "hello, may I ask you about Rust?"], "");
    mona.ok(&["accept", "ana"], "");
    (mona, ana)
}

/// The bodies of a conversation, oldest first, as `who` sees it (`read --json`,
/// which also marks it read).
pub fn bodies(who: &User, peer: &str) -> Vec<String> {
    let doc = who.json(&["read", peer, "--limit", "100"], "");
    doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

/// A multi-threaded runtime for tests that drive the API client directly
/// next to `mchat` processes.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}
