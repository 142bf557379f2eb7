//! End to end: the real `mchat` TUI in a detached tmux session, as a
//! mentor, against a real `mchatd`. A CLI mentee's request appears live,
//! the mentor accepts it with `a`, a live message arrives, the mentor
//! replies by typing + Enter, and `mchat read --json` as the mentee shows
//! the reply; the mentor then edits the reply (`e`) and reacts to the
//! question (`+`), which the mentee's `mchat read` shows too. Skips (with a
//! message) only when `tmux` is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::User;
use mchat_testkit::TestServer;
use std::process::Command;
use std::time::{Duration, Instant};

struct Session(String);

/// A private tmux server (`tmux -L`), so the test never touches the user's sessions.
fn tmux() -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", &format!("mchat-e2e-{}", std::process::id())]);
    c
}

impl Session {
    fn capture(&self) -> String {
        let out = tmux()
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.0.as_str()];
        args.extend_from_slice(keys);
        let ok = tmux().args(&args).status().expect("tmux send-keys");
        assert!(ok.success());
    }

    /// Waits (bounded) until the pane shows `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux().args(["kill-session", "-t", &self.0]).status();
    }
}

/// Stops the private tmux server at the end, whatever happened.
struct Server;

impl Drop for Server {
    fn drop(&mut self) {
        let _ = tmux().arg("kill-server").status();
    }
}

fn has_tmux() -> bool {
    Command::new("sh")
        .args(["-c", "command -v tmux"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn mentor_accepts_and_replies_in_the_tui() {
    if !has_tmux() {
        eprintln!("SKIPPED tui_tmux: tmux is not installed (CI installs it)");
        return;
    }
    let mut server = TestServer::start_open();
    let mona = User::register(&server, "mona", &["--role", "mentor", "--expertise", "rust"]);
    let ana = User::register(&server, "ana", &["--role", "mentee"]);

    // Where `s` saves attachments.
    let downloads = tempfile::tempdir().expect("tempdir");
    let config = mona.home.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[tui]\ndownload_dir = {:?}\n",
            downloads.path().display().to_string()
        ),
    )
    .expect("config.toml");

    let _tmux_server = Server;
    let name = format!("mchat-e2e-{}", std::process::id());
    let tmux_socket_env = format!(
        "MCHAT_HOME={} MCHAT_SERVER={} NO_COLOR=1 TERM=xterm-256color exec {}",
        mona.home.path().display(),
        server.url(),
        env!("CARGO_BIN_EXE_mchat")
    );
    let ok = tmux()
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "100",
            "-y",
            "30",
            &tmux_socket_env,
        ])
        .env_remove("MCHAT_TOKEN")
        .env_remove("MCHAT_PROFILE")
        .status()
        .expect("tmux new-session");
    assert!(ok.success(), "tmux new-session failed");
    let tui = Session(name);
    tui.wait_for("connected");

    // A request from the CLI mentee appears live.
    ana.ok(
        &[
            "request",
            "mona",
            "hello mona, could you mentor me on async Rust?",
        ],
        "",
    );
    tui.wait_for("hello mona, could you");
    tui.wait_for("request");

    // Accept it with a key.
    tui.keys(&["a"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let requests = ana.json(&["inbox"], "");
        if requests.to_string().contains("\"accepted\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the request was not accepted: {requests}\n{}",
            tui.capture()
        );
        std::thread::sleep(Duration::from_millis(150));
    }

    // A live message arrives.
    ana.ok(&["send", "mona", "first question: what is Pin?"], "");
    tui.wait_for("what is Pin?");

    // Open the conversation and reply.
    tui.keys(&["Enter"]);
    tui.wait_for(" message ");
    // A long line wraps in the composer (nothing scrolls out of sight).
    let long = "wrapstart Pin keeps a value from moving in memory, so self-references stay valid wrapend";
    tui.keys(&["-l", long]);
    let shown = tui.wait_for("wrapend");
    assert!(
        shown.contains("wrapstart"),
        "the start is still visible:\n{shown}"
    );
    tui.keys(&["C-u"]);
    let cleared = tui.capture();
    if cleared.contains("wrapend") {
        // ratatui-textarea's ctrl-u deletes to the line start: clear what is left.
        tui.keys(&["C-a", "C-k"]);
    }
    tui.keys(&["-l", "Pin keeps a value from moving"]);
    tui.keys(&["Enter"]);
    tui.wait_for("✓");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let read = ana.json(&["read", "mona"], "");
        if read.to_string().contains("Pin keeps a value from moving") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the mentee never got the reply: {read}\n{}",
            tui.capture()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Edit my reply (`e`) and react to ana's question (`+`, Enter: 👍) with
    // keys; the mentee sees both.
    tui.keys(&["Escape"]);
    // An ESC followed at once by a key reads as Alt+key: let it stand alone.
    std::thread::sleep(Duration::from_millis(400));
    tui.keys(&["e"]);
    tui.wait_for("editing your message");
    tui.keys(&["-l", " in memory"]);
    tui.keys(&["Enter"]);
    tui.wait_for("(edited)");
    tui.keys(&["k"]);
    tui.keys(&["+"]);
    tui.wait_for("React");
    tui.keys(&["Enter"]);
    tui.wait_for("👍 1");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let read = ana.json(&["read", "mona"], "").to_string();
        if read.contains("Pin keeps a value from moving in memory") && read.contains("👍") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the mentee never saw the edit and the reaction: {read}\n{}",
            tui.capture()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A file arrives; `G` selects it (the newest), `s` saves it.
    let notes = mona.home.path().join("notes.txt");
    std::fs::write(&notes, "pinning, in short").expect("notes.txt");
    ana.ok(
        &[
            "send",
            "mona",
            "--file",
            notes.to_str().expect("utf-8 path"),
            "my notes",
        ],
        "",
    );
    tui.wait_for("📎 notes.txt");
    tui.keys(&["G"]);
    tui.keys(&["s"]);
    tui.wait_for("saved notes.txt");
    assert_eq!(
        std::fs::read_to_string(downloads.path().join("notes.txt")).expect("the saved file"),
        "pinning, in short"
    );

    // Back to the composer for what follows.
    tui.keys(&["i"]);

    // The server goes away: the TUI says so and still takes a message,
    // into the outbox.
    server.stop();
    tui.wait_for("reconnecting");
    tui.keys(&["-l", "written while the server is down"]);
    tui.keys(&["Enter"]);
    tui.wait_for("1 queued");
    tui.wait_for("… sending");

    // Quit restores the terminal and ends the process; nothing typed is lost.
    tui.keys(&["C-c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux()
        .args(["has-session", "-t", &tui.0])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "q did not quit:\n{}", tui.capture());
        std::thread::sleep(Duration::from_millis(100));
    }
    let outbox = mona.json(&["outbox"], "");
    assert!(
        outbox.to_string().contains("written while the server is down"),
        "{outbox}"
    );

    // Offline start: the TUI paints from the local cache with the server down.
    let name = format!("mchat-e2e-offline-{}", std::process::id());
    let ok = tmux()
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "100",
            "-y",
            "30",
            &tmux_socket_env,
        ])
        .status()
        .expect("tmux new-session");
    assert!(ok.success());
    let offline = Session(name);
    offline.wait_for("my notes");
    offline.keys(&["Enter"]);
    offline.wait_for("first question: what is Pin?");
    offline.wait_for("Pin keeps a value from moving in memory");
    offline.wait_for("📎 notes.txt");
    offline.wait_for("written while the server is down");
    offline.wait_for("1 queued");
    offline.keys(&["C-c"]);
}
