//! Issue 13's conventions, through the real `mchat` binary: times a person
//! reads are in the local zone (`TZ`) while `--json` stays UTC, `--version`
//! names the build, and `mchat man DIR` writes the man pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use mchat_testkit::TestServer;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A zone nine hours from UTC all year: its clock never equals UTC's.
const ZONE: &str = "Asia/Tokyo";

/// `TZ` set, `MCHAT_TZ` empty (so a developer's own does not win).
const TOKYO_ENV: [(&str, &str); 2] = [("TZ", ZONE), ("MCHAT_TZ", "")];

/// What `mchat` should print for a wire time: `HH:MM` on today's local date,
/// else with the date, computed here with jiff independently of the client.
fn local_clock(rfc3339: &str) -> String {
    let tz = TimeZone::get(ZONE).unwrap();
    let t = rfc3339.parse::<Timestamp>().unwrap().to_zoned(tz.clone());
    let today = Timestamp::now().to_zoned(tz).date();
    if t.date() == today {
        t.strftime("%H:%M").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

fn utc_clock(rfc3339: &str) -> String {
    let t = rfc3339.parse::<Timestamp>().unwrap().to_zoned(TimeZone::UTC);
    t.strftime("%H:%M").to_string()
}

#[test]
fn read_shows_local_times_and_json_stays_utc() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    mona.ok(&["send", "ana", "what time is it there?"], "");
    let doc = ana.json(&["read", "mona", "--no-mark"], "");
    let last = doc["messages"].as_array().unwrap().last().unwrap().clone();
    let created = last["created_at"].as_str().unwrap().to_string();
    assert!(
        created.ends_with('Z') || created.ends_with("+00:00"),
        "--json keeps UTC RFC 3339: {created}"
    );
    let (code, out, err) = ana.run_env(&["read", "mona", "--no-mark"], "", &TOKYO_ENV);
    assert_eq!(code, 0, "{err}");
    let head = out
        .lines()
        .find(|l| l.contains(&format!("#{}", last["id"])))
        .unwrap_or_else(|| panic!("no line for the message:\n{out}"));
    let want = local_clock(&created);
    assert!(head.starts_with(&want), "want {want} (Tokyo) in {head:?}");
    assert!(
        !head.contains(&format!("{}  ", utc_clock(&created))),
        "UTC clock in {head:?}"
    );
}

#[test]
fn watch_shows_local_times() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mchat"));
    for var in ["MCHAT_TOKEN", "MCHAT_PROFILE", "NO_COLOR"] {
        child.env_remove(var);
    }
    let mut child = child
        .env("MCHAT_HOME", ana.home.path())
        .env("MCHAT_SERVER", &ana.server)
        .envs(TOKYO_ENV)
        .arg("watch")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Sent until watch prints it: the first may beat its connection.
    let mut seen = None;
    for _ in 0..20 {
        mona.ok(&["send", "ana", "ping from mona"], "");
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(2))
            && line.contains("ping from mona")
        {
            seen = Some(line);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = seen.expect("watch printed the message");
    let doc = ana.json(&["read", "mona", "--no-mark"], "");
    let created = doc["messages"].as_array().unwrap().last().unwrap()["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let want = local_clock(&created);
    assert!(
        line.starts_with(&format!("{want}  ")),
        "want {want} (Tokyo) in {line:?}"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let user = User::new("nobody", "http://127.0.0.1:9");
    let (code, out, err) = user.run(&["--version"], "");
    assert_eq!(code, 0, "{err}");
    // "mchat 0.1.0 (abc1234 2026-12-02)" or "(unknown 2026-12-02)" outside git.
    let rest = out
        .trim()
        .strip_prefix(&format!("mchat {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{out:?}"));
    let (commit, date) = rest.split_once(' ').unwrap();
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{out:?}"
    );
    assert!(date.parse::<jiff::civil::Date>().is_ok(), "{out:?}");
}

#[test]
fn man_writes_one_page_per_subcommand() {
    let user = User::new("nobody", "http://127.0.0.1:9");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let (code, _, err) = user.run(&["man", out_dir.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    for page in ["mchat.1", "mchat-send.1", "mchat-read.1", "mchat-tokens-create.1"] {
        assert!(out_dir.join(page).is_file(), "{page} missing");
    }
    let send = std::fs::read_to_string(out_dir.join("mchat-send.1")).unwrap();
    // roff escapes the dashes of options.
    assert!(send.contains("reply\\-to"), "{send}");
    assert!(
        !out_dir.join("mchat-man.1").exists(),
        "the hidden man command has no page"
    );
    let top = std::fs::read_to_string(out_dir.join("mchat.1")).unwrap();
    assert!(
        top.contains("mchat\\-send(1)") || top.contains("mchat-send"),
        "{top}"
    );
}
