//! `mchat demo --no-tui`, the README's first command: it starts its own
//! server, seeds it, streams the scripted mentee, and the data it seeds shows
//! every feature (reply quote, reactions, template, reminder) to a second
//! `mchat` pointed at its home; Ctrl-C removes everything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::run_mchat;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn demo_seeds_every_feature_streams_the_mentee_and_cleans_up() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mchat"))
        .args(["demo", "--no-tui"])
        .env_remove("MCHAT_HOME")
        .env_remove("MCHAT_SERVER")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run mchat demo");
    let pid = child.id().to_string();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Read until the first live line from ana (the script writes every 4 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut live_line = false;
    while !live_line && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            live_line = seen.iter().any(|l: &String| l.starts_with("live:")) && line.contains("ana → mona");
            seen.push(line);
        }
    }
    let text = seen.join("\n");
    let stop = |child: &mut std::process::Child| {
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = child.wait();
    };
    if !live_line {
        stop(&mut child);
        panic!("no live line from the demo within 60 s:\n{text}");
    }
    assert!(text.contains("mona's inbox"), "{text}");
    let home = text
        .split_whitespace()
        .find(|w| w.starts_with("MCHAT_HOME="))
        .map(|w| PathBuf::from(w.trim_start_matches("MCHAT_HOME=")))
        .and_then(|p| p.parent().map(PathBuf::from))
        .expect("the demo prints MCHAT_HOME for a second terminal");
    let server = text
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the demo prints its server URL")
        .trim_end_matches(',')
        .to_string();

    // A second mchat as the mentor sees what the seed made.
    let mona = home.join("mona");
    let (code, read, err) = run_mchat(&mona, &server, &["read", "ana", "--no-mark"], b"", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(read.contains("↳ mona: Happy to, Ana."), "reply quote:\n{read}");
    assert!(read.contains("👍 1 mona"), "reaction:\n{read}");
    assert!(read.contains("🙏 1 ana"), "reaction:\n{read}");
    let (_, templates, _) = run_mchat(&mona, &server, &["template", "list"], b"", &[]);
    assert!(templates.contains("welcome"), "{templates}");
    let (_, scheduled, _) = run_mchat(&mona, &server, &["scheduled"], b"", &[]);
    assert!(scheduled.contains("Check in with Ben"), "{scheduled}");
    // The scripted mentee is connected: the mentor sees her online.
    let (_, frames, err) = run_mchat(
        &mona,
        &server,
        &["--json", "watch", "--signals", "--from-now", "--timeout", "3"],
        b"",
        &[],
    );
    assert!(
        frames
            .lines()
            .any(|l| l.contains("presence") && l.contains("\"ana\"") && l.contains("online")),
        "ana online:\n{frames}\n{err}"
    );

    // Ctrl-C: the demo stops its server and removes its files.
    stop(&mut child);
    let gone = Instant::now() + Duration::from_secs(20);
    while home.exists() && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!home.exists(), "{} left behind", home.display());
}

/// A client built without the embedded server runs the `mchatd` binary
/// instead; `MCHAT_DEMO_SERVER` takes that path in this (default) build too.
/// The demo works the same, and its server process ends with it.
#[test]
fn demo_runs_the_mchatd_binary_when_asked() {
    let out = Command::new(env!("CARGO_BIN_EXE_mchat"))
        .args(["demo", "--no-tui", "--duration", "8", "--every", "1"])
        .env_remove("MCHAT_HOME")
        .env_remove("MCHAT_SERVER")
        .env("MCHAT_DEMO_SERVER", mchat_testkit::mchatd_bin())
        .env("NO_COLOR", "1")
        .output()
        .expect("cannot run mchat demo");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(
        text.contains("a throwaway mchatd process on http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("seeded: mentor mona"), "{text}");
    assert!(
        text.contains("ana → mona"),
        "a live line from the scripted mentee:\n{text}"
    );
    let addr = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://127.0.0.1:"))
        .map(|port| format!("127.0.0.1:{}", port.trim_end_matches(',')))
        .expect("the demo prints its server URL");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the demo's mchatd still listens on {addr} after the demo ended"
    );
}

/// A server binary that cannot run is one clear sentence, not a panic.
#[test]
fn demo_says_when_its_server_binary_cannot_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_mchat"))
        .args(["demo", "--no-tui", "--duration", "1"])
        .env("MCHAT_DEMO_SERVER", "/nonexistent/mchatd")
        .env("NO_COLOR", "1")
        .output()
        .expect("cannot run mchat demo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot run /nonexistent/mchatd"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence:\n{err}");
}
