//! The testkit against the real `mchatd`: start, restart, admin, failure
//! reports, and the response-dropping proxy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mchat_testkit::{DropResponseProxy, PASSWORD, TestServer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One raw HTTP/1.1 exchange on `stream`: returns the response head and body
/// (by Content-Length), or `None` if the connection closed without an answer.
fn exchange(stream: &mut TcpStream, request: &str) -> Option<(String, String)> {
    stream.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) | Err(_) => return None,
            Ok(_) => buf.push(byte[0]),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    stream.read_exact(&mut body).unwrap();
    Some((head, String::from_utf8(body).unwrap()))
}

fn connect(url: &str) -> TcpStream {
    let s = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n")
}

fn post(path: &str, json: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    )
}

#[test]
fn server_starts_stops_and_restarts_on_its_data() {
    let mut server = TestServer::start();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(server.config_path().exists());
    let (head, body) = exchange(&mut connect(&server.url()), &get("/healthz")).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("version"), "{body}");

    let out = server.admin(
        &["create-user", "adele", "--role", "admin", "--password-stdin"],
        PASSWORD,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "created admin adele");

    let port = server.addr().port();
    let status = server.stop().expect("it was running");
    assert!(status.success(), "graceful stop exits 0: {status}");
    assert!(server.stop().is_none(), "stopping twice is harmless");
    assert!(
        TcpStream::connect(server.addr()).is_err(),
        "nothing listens after stop"
    );

    // The user survives a restart on the same data directory.
    let same = server.start_again_on_same_port();
    if same {
        assert_eq!(server.addr().port(), port);
    }
    assert!(server.is_running());
    let login = format!(r#"{{"username":"adele","password":"{PASSWORD}"}}"#);
    let (head, _) = exchange(&mut connect(&server.url()), &post("/v1/auth/login", &login)).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    server.kill9().expect("it was running");
    server.start_again();
    let (head, _) = exchange(&mut connect(&server.url()), &post("/v1/auth/login", &login)).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "after kill -9 too: {head}");
    assert!(server.log().contains("listening"), "the log collects every start");
}

#[test]
fn backup_copies_the_data_and_a_server_starts_on_the_copy() {
    if mchat_testkit::sqlite_only("`mchatd backup` of the SQLite file") {
        return;
    }
    let server = TestServer::start();
    assert_eq!(server.database_path(), server.data_dir().join("mchatd.sqlite3"));
    assert!(server.database_path().is_file(), "the server made its database");
    assert!(server.data_dir().starts_with(server.dir()));
    let out = server.admin(
        &["create-user", "bea", "--role", "mentee", "--password-stdin"],
        PASSWORD,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // `mchatd backup` while the server runs; it will not overwrite.
    let dest = server.dir().join("backup.sqlite3");
    let out = server.backup(&dest);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dest.is_file());
    assert!(
        !server.backup(&dest).status.success(),
        "a second backup to the same path fails"
    );

    // A server on a data dir holding only the copy has the user.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&dest, restored_dir.path().join("mchatd.sqlite3")).unwrap();
    let mut restored = TestServer::start_on_data_dir(restored_dir.path(), "");
    assert_eq!(restored.data_dir(), restored_dir.path());
    assert_eq!(
        restored.database_path(),
        restored_dir.path().join("mchatd.sqlite3")
    );
    assert!(
        !restored.dir().starts_with(restored_dir.path()),
        "config and log live apart"
    );
    let login = format!(r#"{{"username":"bea","password":"{PASSWORD}"}}"#);
    let (head, _) = exchange(&mut connect(&restored.url()), &post("/v1/auth/login", &login)).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // Dropping the server leaves the caller's data directory in place.
    assert!(restored.stop().is_some_and(|s| s.success()));
    drop(restored);
    assert!(restored_dir.path().join("mchatd.sqlite3").is_file());
}

#[test]
fn extra_config_is_applied_and_bad_config_fails_with_the_log() {
    // A mentee registering is unaffected; the registration mode is.
    let server = TestServer::start_with("[registration]\nmode = \"closed\"\n");
    let req = format!(r#"{{"username":"zed","password":"{PASSWORD}","role":"mentee"}}"#);
    let (head, body) = exchange(&mut connect(&server.url()), &post("/v1/auth/register", &req)).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 403"),
        "closed registration: {head} {body}"
    );

    let failure = std::panic::catch_unwind(|| TestServer::start_with("[limits]\nno_such_key = 1\n"))
        .expect_err("an unknown config key must stop the server");
    let message = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("mchatd did not start"), "{message}");
    assert!(
        message.contains("no_such_key"),
        "the panic carries the server's stderr: {message}"
    );
}

#[test]
fn proxy_withholds_matching_responses_after_the_server_answered() {
    let server = TestServer::start();
    let proxy = DropResponseProxy::start(&server.url(), 1, |h| {
        h.method == "POST" && h.path == "/v1/auth/register"
    });
    // Non-matching requests pass, several on one keep-alive connection.
    let mut conn = connect(&proxy.url());
    for _ in 0..2 {
        let (head, _) = exchange(&mut conn, &get("/healthz")).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // The matching one reaches the server, which commits it, but the answer is lost.
    let req = format!(r#"{{"username":"lost","password":"{PASSWORD}","role":"mentee"}}"#);
    assert!(exchange(&mut conn, &post("/v1/auth/register", &req)).is_none());
    assert_eq!(proxy.dropped(), 1);
    assert_eq!(proxy.remaining(), 0);
    // Proof of the commit: the same registration now conflicts (budget spent, so it passes).
    let (head, body) = exchange(&mut connect(&proxy.url()), &post("/v1/auth/register", &req)).unwrap();
    assert!(head.starts_with("HTTP/1.1 409"), "{head} {body}");
    assert!(body.contains("username_taken"), "{body}");
    let seen = proxy.seen();
    assert_eq!(
        seen,
        [
            "GET /healthz",
            "GET /healthz",
            "POST /v1/auth/register [dropped]",
            "POST /v1/auth/register"
        ]
    );
    proxy.set_remaining(1);
    assert!(exchange(&mut connect(&proxy.url()), &post("/v1/auth/register", &req)).is_none());
    assert_eq!(proxy.dropped(), 2);
}

#[test]
fn binaries_are_found_or_built() {
    for (bin, name) in [
        (mchat_testkit::mchatd_bin(), "mchatd"),
        (mchat_testkit::mchat_bin(), "mchat"),
    ] {
        assert!(bin.is_file(), "{}", bin.display());
        assert_eq!(bin.file_stem().and_then(|s| s.to_str()), Some(name));
        let out = std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("{name} ")));
    }
    assert_eq!(
        mchat_testkit::mchatd_bin(),
        mchat_testkit::mchatd_bin(),
        "checked once, same answer"
    );
}
