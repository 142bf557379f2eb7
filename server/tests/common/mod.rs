//! Shared helpers for the integration tests: a real `mchatd` process on a
//! temporary data directory, and a small HTTP client for its API.
//!
//! Every test starts its own server (`TestServer::start`), so tests run in
//! parallel without sharing state. The server picks a free port (`--bind
//! 127.0.0.1:0`) and the helper reads it from the one line the binary prints
//! on stdout. Server logs go to `<tempdir>/mchatd.log` and are printed when a
//! test fails.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mchat_shared::api::{
    AuthResponse, Conversation, ConversationCreated, ConversationList, Message, MessagePage, NotificationList,
};
use mchat_shared::{ConversationId, TokenId};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, RwLock, mpsc};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// The config every test server gets before the test's own lines: rate
/// limits off (tests that need them turn them on), mentor approval left on.
const BASE_CONFIG: &str = "[limits]\nauth_per_min = 0\nsend_per_sec = 0\n";

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `mchatd` on its own temporary data directory.
pub struct TestServer {
    dir: TempDir,
    config_path: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, shared with every [`Api`] so they follow restarts.
    base: Arc<RwLock<String>>,
    http: reqwest::Client,
    admin: tokio::sync::OnceCell<Session>,
}

/// Merges `extra` TOML into the base config. A table the base config also
/// has (`[limits]`) is merged key by key, the extra keys winning.
fn config_text(extra: &str) -> String {
    let mut base: toml_lite::Doc = toml_lite::parse(BASE_CONFIG);
    base.merge(toml_lite::parse(extra));
    base.render()
}

/// A tiny `[table] key = value` merger, enough for flat server configs.
/// (The server crate's own `toml` is not a dependency we can reach here.)
mod toml_lite {
    #[derive(Default)]
    pub struct Doc {
        tables: Vec<(String, Vec<(String, String)>)>,
    }

    pub fn parse(text: &str) -> Doc {
        let mut doc = Doc::default();
        let mut current = String::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.trim().to_string();
                doc.table(&current);
            } else if let Some((k, v)) = line.split_once('=') {
                doc.set(&current, k.trim(), v.trim());
            } else {
                panic!("test config line not understood: {line}");
            }
        }
        doc
    }

    impl Doc {
        fn table(&mut self, name: &str) -> &mut Vec<(String, String)> {
            if let Some(i) = self.tables.iter().position(|(n, _)| n == name) {
                return &mut self.tables[i].1;
            }
            self.tables.push((name.to_string(), Vec::new()));
            &mut self.tables.last_mut().unwrap().1
        }

        fn set(&mut self, table: &str, key: &str, value: &str) {
            let t = self.table(table);
            match t.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.to_string(),
                None => t.push((key.to_string(), value.to_string())),
            }
        }

        pub fn merge(&mut self, other: Doc) {
            for (table, entries) in other.tables {
                self.table(&table);
                for (k, v) in entries {
                    self.set(&table, &k, &v);
                }
            }
        }

        pub fn render(&self) -> String {
            let mut out = String::new();
            for (name, entries) in &self.tables {
                if !name.is_empty() {
                    out.push_str(&format!("[{name}]\n"));
                }
                for (k, v) in entries {
                    out.push_str(&format!("{k} = {v}\n"));
                }
            }
            out
        }
    }
}

/// The mchatd binary Cargo built for these tests.
pub fn mchatd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mchatd")
}

/// A `Command` for the binary without any `MCHATD_*` settings leaking in
/// from the environment the tests run in.
fn mchatd_command() -> Command {
    let mut cmd = Command::new(mchatd_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MCHATD_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl TestServer {
    /// A server with the default test config.
    pub fn start() -> TestServer {
        TestServer::start_with("")
    }

    /// A server whose config file also holds `config_toml_extra` (merged
    /// over the test defaults, e.g. `"[limits]\nmax_body_bytes = 4096"`).
    pub fn start_with(config_toml_extra: &str) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        TestServer::start_in(dir, data_dir, config_toml_extra)
    }

    /// A server on an existing data directory (e.g. one holding only a
    /// backup copied to `mchatd.sqlite3`). The config lives next to it.
    pub fn start_on_data_dir(data_dir: &Path, config_toml_extra: &str) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        TestServer::start_in(dir, data_dir.to_path_buf(), config_toml_extra)
    }

    fn start_in(dir: TempDir, data_dir: PathBuf, config_toml_extra: &str) -> TestServer {
        let config_path = dir.path().join("mchatd.toml");
        std::fs::write(&config_path, config_text(config_toml_extra)).expect("write config");
        let log_path = dir.path().join("mchatd.log");
        let mut server = TestServer {
            dir,
            config_path,
            data_dir,
            log_path,
            child: None,
            base: Arc::new(RwLock::new(String::new())),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            admin: tokio::sync::OnceCell::new(),
        };
        server.spawn();
        server
    }

    /// Starts the process and waits for its `mchatd listening on` line.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut child = mchatd_command()
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config_path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn mchatd");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the address, then keeps draining stdout so the child never blocks on it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("mchatd listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.trim().to_string());
                    }
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => *self.base.write().unwrap() = url,
            Err(_) => panic!(
                "mchatd did not print its address within {START_TIMEOUT:?}; log:\n{}",
                self.log()
            ),
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit. Returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is not running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for mchatd") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mchatd did not stop within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server gracefully (asserting a clean exit) and starts it
    /// again on the same data directory and config. Existing [`Api`]s and
    /// [`Session`]s keep working (the port may change; they follow it).
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "mchatd exited with {status} on SIGTERM; log:\n{}",
            self.log()
        );
        self.spawn();
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base.read().unwrap().clone()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("mchatd.sqlite3")
    }

    /// A scratch directory that lives as long as the server.
    pub fn temp_path(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs `mchatd ARGS --data-dir DIR --config FILE` with `stdin`, and
    /// returns its output (whatever the exit status).
    pub fn run_cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut child = mchatd_command()
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mchatd cli");
        child
            .stdin
            .take()
            .expect("cli stdin")
            .write_all(stdin.as_bytes())
            .expect("write cli stdin");
        child.wait_with_output().expect("wait for mchatd cli")
    }

    /// `mchatd admin create-user NAME --role ROLE --password-stdin`, asserting success.
    pub fn create_user_cli(&self, username: &str, role: &str, password: &str) {
        let out = self.run_cli(
            &[
                "admin",
                "create-user",
                username,
                "--role",
                role,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "mchatd admin create-user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An unauthenticated client.
    pub fn anon(&self) -> Api {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            token: None,
        }
    }

    /// A client that sends `Authorization: Bearer TOKEN`.
    pub fn api(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_string()),
            ..self.anon()
        }
    }

    /// Registers `username` with `role` (`"mentor"` or `"mentee"`) and the
    /// test password; panics unless the answer is 201.
    pub async fn register(&self, username: &str, role: &str) -> Session {
        self.register_with(json!({"username": username, "password": PASSWORD, "role": role}))
            .await
    }

    /// Registers with a full request body; panics unless the answer is 201.
    pub async fn register_with(&self, body: Value) -> Session {
        let (status, v) = self.anon().post("/v1/auth/register", &body).await;
        assert_eq!(status, StatusCode::CREATED, "register {body}: {v}");
        self.session_from(v)
    }

    /// Logs in with the test password; panics unless the answer is 200.
    pub async fn login(&self, username: &str) -> Session {
        let (status, v) = self
            .anon()
            .post(
                "/v1/auth/login",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {v}");
        self.session_from(v)
    }

    fn session_from(&self, v: Value) -> Session {
        let auth: AuthResponse = serde_json::from_value(v).expect("auth response");
        Session {
            username: auth.user.username.clone(),
            token: auth.token.clone(),
            token_id: auth.token_id,
            api: self.api(&auth.token),
            auth,
        }
    }

    /// The same user and token, talking to this server (e.g. one restored from a backup).
    pub fn adopt(&self, session: &Session) -> Session {
        Session {
            username: session.username.clone(),
            token: session.token.clone(),
            token_id: session.token_id,
            auth: session.auth.clone(),
            api: self.api(&session.token),
        }
    }

    /// The server's admin (made once with `mchatd admin create-user`, then logged in).
    pub async fn admin(&self) -> &Session {
        self.admin
            .get_or_init(|| async {
                self.create_user_cli("admin", "admin", PASSWORD);
                self.login("admin").await
            })
            .await
    }

    /// Approves a mentor as the admin, over `PUT /v1/admin/mentors/{username}/approve`.
    pub async fn approve(&self, username: &str) {
        let admin = self.admin().await;
        let (status, v) = admin
            .put(&format!("/v1/admin/mentors/{username}/approve"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "approve {username}: {v}");
        assert_eq!(v["mentor_approved"], true, "{v}");
    }

    /// Registers a mentor with `profile` (a JSON object, may be `{}`) and approves them.
    pub async fn mentor(&self, username: &str, profile: Value) -> Session {
        let s = self
            .register_with(json!({
                "username": username, "password": PASSWORD, "role": "mentor", "profile": profile
            }))
            .await;
        self.approve(username).await;
        s
    }

    pub async fn mentee(&self, username: &str) -> Session {
        self.register(username, "mentee").await
    }

    /// A mentor and a mentee with an accepted conversation between them.
    pub async fn accepted_pair(&self, mentor: &str, mentee: &str) -> (Session, Session, ConversationId) {
        let m = self.mentor(mentor, json!({})).await;
        let e = self.mentee(mentee).await;
        let (status, created) = e.request(mentor, "hello, may we talk?").await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created.conversation.id;
        let (status, v) = m
            .post(&format!("/v1/conversations/{id}/accept"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "accept: {v}");
        (m, e, id)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- mchatd log ({}) ----\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

/// A response: status, headers, and the body as JSON (`Value::String` with
/// the raw text when the body is not JSON, `Value::Null` when empty).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// A small HTTP client for one server, with or without a token.
#[derive(Clone)]
pub struct Api {
    base: Arc<RwLock<String>>,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.read().unwrap())
    }

    /// The same client with another token (or none).
    pub fn with_token(&self, token: Option<&str>) -> Api {
        Api {
            token: token.map(str::to_string),
            ..self.clone()
        }
    }

    /// A request builder with the token (if any) already set.
    pub fn builder(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends `rb` and reads the whole answer.
    pub async fn send(rb: reqwest::RequestBuilder) -> Response {
        let resp = rb.send().await.expect("HTTP request failed");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("read body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    /// Any method and path with an optional raw body and content type.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Response {
        let mut rb = self.builder(method, path);
        if let Some(ct) = content_type {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        Api::send(rb).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut rb = self.builder(method, path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = Api::send(rb).await;
        (r.status, r.body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// GET, asserting 200 and decoding the answer as `T`.
    pub async fn get_ok<T: DeserializeOwned>(&self, path: &str) -> T {
        let (status, v) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
        decode(v)
    }

    // ---- typed helpers ----

    /// `POST /v1/conversations {to, message}`.
    pub async fn request(&self, to: &str, message: &str) -> (StatusCode, ConversationCreated) {
        let (status, v) = self
            .post("/v1/conversations", &json!({"to": to, "message": message}))
            .await;
        assert!(status.is_success(), "request {to}: {status} {v}");
        (status, decode(v))
    }

    /// `POST /v1/conversations/{id}/messages {client_id, body}`, raw answer.
    pub async fn send_raw(&self, conv: ConversationId, client_id: &str, body: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({"client_id": client_id, "body": body}),
        )
        .await
    }

    /// Sends a new message, asserting 201.
    pub async fn say(&self, conv: ConversationId, client_id: &str, body: &str) -> Message {
        let (status, v) = self.send_raw(conv, client_id, body).await;
        assert_eq!(status, StatusCode::CREATED, "send {client_id}: {v}");
        decode(v)
    }

    pub async fn conversations(&self) -> Vec<Conversation> {
        self.get_ok::<ConversationList>("/v1/conversations")
            .await
            .conversations
    }

    pub async fn conversation(&self, id: ConversationId) -> Conversation {
        self.get_ok(&format!("/v1/conversations/{id}")).await
    }

    /// `GET /v1/conversations/{id}/messages?QUERY` (`query` without the `?`).
    pub async fn page(&self, id: ConversationId, query: &str) -> MessagePage {
        self.get_ok(&format!("/v1/conversations/{id}/messages?{query}"))
            .await
    }

    /// The whole history, oldest first (pages of 100 backwards).
    pub async fn history(&self, id: ConversationId) -> Vec<Message> {
        let mut all = Vec::new();
        let mut query = "limit=100".to_string();
        loop {
            let page = self.page(id, &query).await;
            let first = page.messages.first().map(|m| m.id);
            let mut messages = page.messages;
            messages.extend(all);
            all = messages;
            match (page.has_more, first) {
                (true, Some(first)) => query = format!("limit=100&before={first}"),
                _ => return all,
            }
        }
    }

    pub async fn notifications(&self, unread_only: bool) -> NotificationList {
        self.get_ok(&format!("/v1/notifications?unread={unread_only}"))
            .await
    }
}

/// A logged-in user: their token and an [`Api`] that uses it.
pub struct Session {
    pub username: String,
    pub token: String,
    pub token_id: TokenId,
    pub auth: AuthResponse,
    pub api: Api,
}

impl std::ops::Deref for Session {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Decodes a JSON answer into `T`, with the body in the panic message.
pub fn decode<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("cannot decode {v}: {e}"))
}

/// Asserts that an answer is the one error shape:
/// `{"error": {"code", "message", optional "field", optional "retry_after_secs"}}`
/// with nothing else, the expected status and the expected code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "status of {body}");
    assert_error_shape(body);
    assert_eq!(body["error"]["code"], want_code, "code of {body}");
}

/// Asserts only the error shape (any code).
pub fn assert_error_shape(body: &Value) {
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {body}"));
    assert_eq!(top.len(), 1, "error body has extra top-level keys: {body}");
    let err = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("error body has no \"error\" object: {body}"));
    for key in err.keys() {
        assert!(
            ["code", "message", "field", "retry_after_secs"].contains(&key.as_str()),
            "unexpected key {key:?} in {body}"
        );
    }
    assert!(
        err.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty()),
        "error code missing: {body}"
    );
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
    if let Some(field) = err.get("field") {
        assert!(field.is_string(), "field is not a string: {body}");
    }
    if let Some(secs) = err.get("retry_after_secs") {
        assert!(secs.is_u64(), "retry_after_secs is not an integer: {body}");
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`.
pub async fn poll<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
