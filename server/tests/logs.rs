//! The server's log and its self-description, through the real binary:
//! `[log] format = "json"` (or `MCHATD_LOG_FORMAT=json`) writes one JSON
//! object per line with an access line per request; text logs carry no
//! colour when stderr is not a terminal; `--version` names the build and
//! `mchatd man DIR` writes the man pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every stderr line parsed as a JSON object (panics on any other line).
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

#[tokio::test]
async fn json_logs_have_an_access_line_per_request() {
    let server = TestServer::start_with("[log]\nformat = \"json\"\n");
    let r = server
        .anon()
        .raw(
            reqwest::Method::GET,
            "/v1/conversations/12345/messages",
            None,
            None,
        )
        .await;
    let request_id = r.headers["x-request-id"].to_str().unwrap().to_string();
    let (status, _) = server.anon().get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    let access = loop {
        let lines = json_lines(&server.log());
        let found = lines
            .iter()
            .find(|v| v["request_id"] == request_id.as_str())
            .cloned();
        if let Some(v) = found {
            assert!(
                lines.iter().any(|v| v["message"] == "mchatd listening"),
                "start-up lines are JSON too: {lines:?}"
            );
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no access line for {request_id}:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(access["target"], "mchatd::access", "{access}");
    assert_eq!(access["method"], "GET", "{access}");
    assert_eq!(
        access["route"], "/v1/conversations/{id}/messages",
        "the route, not the path: {access}"
    );
    assert_eq!(access["status"], r.status.as_u16(), "{access}");
    assert!(
        access["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{access}"
    );
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
}

/// Runs `mchatd` on a free port with `env`, waits for its address line,
/// makes one request, stops it and returns its stderr.
fn run_briefly(env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mchatd"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("MCHATD_") || key == "NO_COLOR" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(a) = line.trim().strip_prefix("mchatd listening on http://") {
            addr = Some(a.to_string());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("mchatd printed its address");
    let url = format!("http://{addr}/healthz");
    let status = get_status(&url);
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status, Some(200), "{err}");
    err
}

/// The status of a GET, from a sync test.
fn get_status(url: &str) -> Option<u16> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let http = mchat_testkit::http_client();
    rt.block_on(async { http.get(url).send().await.ok().map(|r| r.status().as_u16()) })
}

#[test]
fn the_env_variable_asks_for_json_too() {
    let err = run_briefly(&[("MCHATD_LOG_FORMAT", "json")]);
    let lines = json_lines(&err);
    assert!(lines.iter().any(|v| v["message"] == "mchatd listening"), "{err}");
    assert!(
        lines
            .iter()
            .any(|v| v["route"] == "/healthz" && v["status"] == 200),
        "{err}"
    );
}

#[test]
fn text_logs_have_no_colour_off_a_terminal() {
    let err = run_briefly(&[]);
    assert!(err.contains("mchatd listening"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "escape sequences in a piped log: {err:?}"
    );
    // Access lines are for collectors: not in the text log by default.
    assert!(!err.contains("mchatd::access"), "{err}");
}

#[test]
fn version_and_man_pages() {
    let out = Command::new(env!("CARGO_BIN_EXE_mchatd"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("mchatd {} (", env!("CARGO_PKG_VERSION"));
    assert!(
        text.starts_with(&prefix) && text.trim().ends_with(')'),
        "{text:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mchatd"))
        .arg("man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for page in [
        "mchatd.1",
        "mchatd-admin.1",
        "mchatd-admin-create-user.1",
        "mchatd-backup.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
    assert!(!dir.path().join("mchatd-man.1").exists());
}
