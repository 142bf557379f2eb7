//! TLS in mchatd itself (`[server] tls_cert` / `tls_key`): a real server
//! with a certificate from a throwaway CA (rcgen), spoken to over `https://`
//! and `wss://` by clients that trust only that CA; and the sentence at
//! start when the files are missing, half configured or do not match.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use mchat_testkit::{PASSWORD, TestPki, TestServer};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

fn tls_config(cert: &Path, key: &Path) -> String {
    format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    )
}

#[tokio::test]
async fn https_and_wss_work_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let server = TestServer::start_with(&pki.server_toml());
    let base = format!("https://localhost:{}", server.addr().port());
    // Trusts only the test CA, not the platform's roots.
    let http = mchat_testkit::https_client(&pki.ca_pem);

    let health: Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let resp = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"username": "tess", "password": PASSWORD, "role": "mentee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
    let auth: Value = resp.json().await.unwrap();
    let token = auth["token"].as_str().unwrap().to_string();

    // wss:// through the same listener: the upgrade works over TLS too.
    let config = mchat_testkit::tls_config(&pki.ca_pem);
    let mut request = format!("wss://localhost:{}/v1/ws", server.addr().port())
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(config))),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
        .await
        .expect("a first frame over wss")
        .expect("the socket stays open")
        .unwrap();
    assert!(first.is_text(), "{first:?}");
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused_and_plain_http_gets_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let server = TestServer::start_with(&pki.server_toml());
    let port = server.addr().port();

    // Trusts no root at all.
    let untrusting = mchat_testkit::http_client();
    let err = untrusting
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect_err("a certificate from an unknown CA must not be accepted");
    assert!(err.is_connect(), "{err:?}");

    let plain = mchat_testkit::http_client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| !r.status().is_success()),
        "plain HTTP on the TLS port must not be served: {plain:?}"
    );
}

/// Runs `mchatd serve` with `config` and returns its stderr, asserting it failed.
fn start_fails(dir: &Path, config: &str) -> String {
    let config_path = dir.join("mchatd.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = std::process::Command::new(mchat_testkit::mchatd_bin());
    // The developer's MCHATD_* settings would override the file.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MCHATD_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--bind")
        .arg("127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success(), "mchatd started with {config}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("listening"),
        "it must fail before listening: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_tls_files_stop_the_start_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let missing = dir.path().join("nope.pem");

    let err = start_fails(dir.path(), &tls_config(&missing, &pki.key));
    assert!(
        err.contains("cannot read the TLS certificate") && err.contains("nope.pem"),
        "{err}"
    );

    let err = start_fails(dir.path(), &tls_config(&pki.cert, &missing));
    assert!(
        err.contains("cannot read the TLS private key") && err.contains("nope.pem"),
        "{err}"
    );

    let half = format!("[server]\ntls_cert = {:?}\n", pki.cert.display().to_string());
    let err = start_fails(dir.path(), &half);
    assert!(err.contains("go together"), "{err}");

    // A key from another pair: rustls refuses the combination.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = TestPki::generate(elsewhere.path()).key;
    let err = start_fails(dir.path(), &tls_config(&pki.cert, &other));
    assert!(err.contains("do not make a usable pair"), "{err}");

    // A certificate file that is not PEM at all.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let err = start_fails(dir.path(), &tls_config(&garbage, &pki.key));
    assert!(err.contains("garbage.pem"), "{err}");
}
