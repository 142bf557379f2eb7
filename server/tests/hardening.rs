//! Abuse and operations: every refusal of the HTTP layer in the one JSON
//! error shape (414, 431, bad header bytes, sent over raw TCP because
//! reqwest will not send them), per-client login limits behind a trusted
//! reverse proxy, retried sends that cost no token, and an environment
//! layer that ignores `MCHATD_*` variables that are not `SECTION__KEY`.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawAnswer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not a JSON body ({e}): {}\n{:?}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `head` (a request line and headers, without the blank line) and
/// `Connection: close`, then reads the whole answer. A server that stops
/// reading early may reset the write; the answer is read regardless.
async fn raw(addr: SocketAddr, head: &[u8]) -> RawAnswer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = head.to_vec();
    request.extend_from_slice(b"Host: localhost\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 20 s");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head (connection dropped?): {answer:?}"));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    RawAnswer {
        status,
        head,
        body: answer[split + 4..].to_vec(),
    }
}

fn assert_raw_error(a: &RawAnswer, status: u16, code: &str) {
    let body = a.json();
    assert_error(StatusCode::from_u16(a.status).unwrap(), &body, status, code);
    assert!(
        a.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{}",
        a.head
    );
}

#[tokio::test]
async fn a_20_kb_uri_is_414_in_json() {
    let server = TestServer::start();
    let long = "a".repeat(20 * 1024);
    for path in [format!("/v1/users?q={long}"), format!("/nowhere/{long}")] {
        let a = raw(server.addr(), format!("GET {path} HTTP/1.1\r\n").as_bytes()).await;
        assert_raw_error(&a, 414, "uri_too_long");
    }
}

#[tokio::test]
async fn two_hundred_headers_are_431_in_json() {
    let server = TestServer::start();
    let mut head = b"GET /healthz HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        head.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
    }
    let a = raw(server.addr(), &head).await;
    assert_raw_error(&a, 431, "headers_too_large");
}

#[tokio::test]
async fn a_100_kb_header_is_431_in_json() {
    let server = TestServer::start();
    let head = format!("GET /healthz HTTP/1.1\r\nX-Big: {}\r\n", "b".repeat(100 * 1024));
    let a = raw(server.addr(), head.as_bytes()).await;
    assert_raw_error(&a, 431, "headers_too_large");
}

#[tokio::test]
async fn heads_within_the_limits_are_served() {
    let server = TestServer::start();
    let mut head = format!("GET /healthz?pad={} HTTP/1.1\r\n", "p".repeat(7 * 1024)).into_bytes();
    for i in 0..90 {
        head.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
    }
    let a = raw(server.addr(), &head).await;
    assert_eq!(a.status, 200, "{}", a.head);
}

#[tokio::test]
async fn the_head_limits_are_configurable() {
    let server = TestServer::start_with("[limits]\nmax_uri_bytes = 64\nmax_headers = 5\n");
    let a = raw(
        server.addr(),
        format!("GET /healthz?pad={} HTTP/1.1\r\n", "p".repeat(80)).as_bytes(),
    )
    .await;
    assert_raw_error(&a, 414, "uri_too_long");
    let a = raw(
        server.addr(),
        b"GET /healthz HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n",
    )
    .await;
    assert_raw_error(&a, 431, "headers_too_large");
}

/// Bytes 0x80–0xFF are legal on the wire (obs-text) but no valid token or
/// media type: the extractors refuse them in JSON, never with a 5xx.
#[tokio::test]
async fn high_bytes_in_headers_are_refused_in_json() {
    let server = TestServer::start();
    let a = raw(
        server.addr(),
        b"GET /v1/me HTTP/1.1\r\nAuthorization: Bearer mct_\xff\xfe\r\n",
    )
    .await;
    assert_raw_error(&a, 401, "unauthorized");
    let body = br#"{"username":"tom","password":"x"}"#;
    let mut head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    head.extend_from_slice(b"Content-Type: application/\xff\xfejson\r\n");
    // With a body, so by hand rather than through `raw`.
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    head.extend_from_slice(b"Host: localhost\r\nConnection: close\r\n\r\n");
    head.extend_from_slice(body);
    stream.write_all(&head).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 415"), "{text}");
    assert!(text.contains(r#""code":"unsupported_media_type""#), "{text}");
    // An unknown header with such bytes is just carried along.
    let a = raw(server.addr(), b"GET /healthz HTTP/1.1\r\nX-Junk: \xff\xfe\r\n").await;
    assert_eq!(a.status, 200, "{}", a.head);
}

/// A control byte in a header is not HTTP: hyper's parser refuses it with
/// its own 400 before the application runs (an empty body; documented in
/// `listen.rs`). What matters here: an answer, not a 5xx or a dropped
/// connection, and the server keeps serving.
#[tokio::test]
async fn a_control_byte_in_a_header_is_answered_400() {
    let server = TestServer::start();
    let a = raw(server.addr(), b"GET /healthz HTTP/1.1\r\nX-Junk: a\x01b\r\n").await;
    assert_eq!(a.status, 400, "{}", a.head);
    let a = raw(server.addr(), b"GET /healthz HTTP/1.1\r\n").await;
    assert_eq!(a.status, 200, "{}", a.head);
}

/// A login with a wrong password from `forwarded` (as `X-Forwarded-For`, or
/// as the whole `Forwarded` header when it starts with `for=`).
async fn login_from(server: &TestServer, forwarded: &str) -> (StatusCode, Value) {
    let name = if forwarded.starts_with("for=") {
        "forwarded"
    } else {
        "x-forwarded-for"
    };
    let rb = server
        .anon()
        .builder(reqwest::Method::POST, "/v1/auth/login")
        .header(name, forwarded)
        .json(&json!({"username": "nobody", "password": "wrong password"}));
    let r = common::Api::send(rb).await;
    (r.status, r.body)
}

const TIGHT_AUTH: &str = "[limits]\nauth_per_min = 1\nauth_burst = 2\n";

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_login_bucket() {
    let server = TestServer::start_with(&format!(
        "{TIGHT_AUTH}[server]\ntrusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]\n"
    ));
    // Ten clients, two attempts each: nobody is limited by the others.
    for i in 0..10 {
        for _ in 0..2 {
            let (status, v) = login_from(&server, &format!("198.51.100.{i}")).await;
            assert_error(status, &v, 401, "invalid_credentials");
        }
    }
    // The same client a third time is.
    let (status, v) = login_from(&server, "198.51.100.3").await;
    assert_error(status, &v, 429, "rate_limited");
    // The right-most untrusted entry counts: forging the left-most one (and
    // a trusted hop after it) does not buy a new bucket.
    for forged in ["1.1.1.1, 198.51.100.3", "2.2.2.2, 198.51.100.3, 10.9.9.9"] {
        let (status, v) = login_from(&server, forged).await;
        assert_error(status, &v, 429, "rate_limited");
    }
    // RFC 7239 `Forwarded` too.
    let (status, v) = login_from(&server, "for=\"[2001:db8::7]:4711\";proto=https").await;
    assert_error(status, &v, 401, "invalid_credentials");
}

#[tokio::test]
async fn without_trusted_proxies_forwarded_headers_are_ignored() {
    let server = TestServer::start_with(TIGHT_AUTH);
    for (i, want) in [(1, 401), (2, 401), (3, 429)] {
        let (status, v) = login_from(&server, &format!("198.51.100.{i}")).await;
        let code = if want == 429 {
            "rate_limited"
        } else {
            "invalid_credentials"
        };
        assert_error(status, &v, want, code);
    }
}

/// Sends: 1 a second, a burst of 2; the sender has no other sends.
const TIGHT_SENDS: &str = "[limits]\nsend_per_sec = 1\nsend_burst = 2\n";

#[tokio::test]
async fn retried_sends_are_answered_even_when_the_bucket_is_empty() {
    let server = TestServer::start_with(TIGHT_SENDS);
    let (mira, _tom, id) = server.accepted_pair("mira", "tom").await;
    let (status, first) = mira.api.send_raw(id, "cid-a", "first").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, v) = mira.api.send_raw(id, "cid-b", "second").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = mira.api.send_raw(id, "cid-c", "third").await;
    assert_error(status, &v, 429, "rate_limited");
    // The bucket refills one token a second: ten quick retries would need
    // ten tokens if retries paid.
    for _ in 0..10 {
        let (status, v) = mira.api.send_raw(id, "cid-a", "first").await;
        assert_eq!(status, StatusCode::OK, "a retry of a stored message: {v}");
        assert_eq!(v["id"], first["id"], "{v}");
    }
    // A reused id with another body is still a conflict, not a free pass.
    let (status, v) = mira.api.send_raw(id, "cid-a", "something else").await;
    assert_error(status, &v, 409, "idempotency_conflict");
}

#[tokio::test]
async fn retried_requests_are_answered_even_when_the_bucket_is_empty() {
    let server = TestServer::start_with(TIGHT_SENDS);
    server.mentor("mira", json!({})).await;
    server.mentor("mona", json!({})).await;
    server.mentor("maya", json!({})).await;
    let tom = server.mentee("tom").await;
    let ask = |to: &str, cid: &str| json!({"to": to, "message": format!("hello {to}"), "client_id": cid});
    let (status, first) = tom.api.post("/v1/conversations", &ask("mira", "req-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, v) = tom.api.post("/v1/conversations", &ask("mona", "req-2")).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = tom.api.post("/v1/conversations", &ask("maya", "req-3")).await;
    assert_error(status, &v, 429, "rate_limited");
    for _ in 0..10 {
        let (status, v) = tom.api.post("/v1/conversations", &ask("mira", "req-1")).await;
        assert_eq!(status, StatusCode::OK, "a retried request: {v}");
        assert_eq!(v["conversation"]["id"], first["conversation"]["id"], "{v}");
    }
}

/// A bare `mchatd` with `env` (and none of the developer's `MCHATD_*`).
fn spawn_mchatd(dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(mchat_testkit::mchatd_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MCHATD_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn mchatd")
}

/// Kills the server when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn stray_mchatd_variables_do_not_abort_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Killed(spawn_mchatd(
        dir.path(),
        &[
            ("MCHATD_LOG", "debug"),
            ("MCHATD_PORT", "tcp://10.0.0.1:7878"),
            ("MCHATD_PORT_7878_TCP_ADDR", "10.0.0.1"),
            ("MCHATD_SERVICE_HOST", "10.0.0.1"),
            // A real section key still applies.
            ("MCHATD_LIMITS__MAX_URI_BYTES", "64"),
        ],
    ));
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("mchatd listening on http://").map(str::to_owned))
    })
    .await
    .unwrap();
    let Some(addr) = line else {
        let status = child.0.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = child.0.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("mchatd did not start ({status}):\n{err}");
    };
    let addr: SocketAddr = addr.trim().parse().unwrap();
    let a = raw(
        addr,
        format!("GET /healthz?pad={} HTTP/1.1\r\n", "p".repeat(80)).as_bytes(),
    )
    .await;
    assert_raw_error(&a, 414, "uri_too_long");
}

#[tokio::test]
async fn an_unknown_key_in_a_known_section_still_aborts_start() {
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_mchatd(dir.path(), &[("MCHATD_SERVER__NOPE", "1")]);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success(), "started with MCHATD_SERVER__NOPE");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid configuration") && err.contains("nope"),
        "the error should name the key: {err}"
    );
}

/// Past the parser's own limits (4x the configured ones, at least 512
/// headers and a 1 MiB head; a URI over 64 KiB) hyper answers by itself,
/// with an empty body: still an answer with the right status, not a drop.
#[tokio::test]
async fn beyond_the_parser_limits_hyper_still_answers() {
    let server = TestServer::start();
    let mut head = b"GET /healthz HTTP/1.1\r\n".to_vec();
    for i in 0..600 {
        head.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
    }
    let a = raw(server.addr(), &head).await;
    assert_eq!(a.status, 431, "{}", a.head);
    let a = raw(
        server.addr(),
        format!("GET /healthz?pad={} HTTP/1.1\r\n", "p".repeat(70 * 1024)).as_bytes(),
    )
    .await;
    assert_eq!(a.status, 414, "{}", a.head);
    let a = raw(server.addr(), b"GET /healthz HTTP/1.1\r\n").await;
    assert_eq!(a.status, 200, "{}", a.head);
}
