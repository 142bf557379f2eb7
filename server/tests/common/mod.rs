//! Shared helpers for the HTTP integration tests: a small client for the
//! API ([`Api`], [`Session`]), the users and conversations most tests start
//! from, and the error-shape checks.
//!
//! The server itself is a [`mchat_testkit::TestServer`] (a real `mchatd` on
//! `127.0.0.1:0` with a temporary data directory; its log is printed when a
//! test fails); [`TestServer`] here wraps it with the HTTP client and derefs
//! to it for everything else (`data_dir`, `database_path`, `dir`, `log`,
//! `admin`, `backup`, ...). Every test starts its own server, so tests run in
//! parallel without sharing state. [`ws`] is a WebSocket client for
//! `GET /v1/ws`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod ws;

use mchat_shared::api::{
    AuthResponse, Conversation, ConversationCreated, ConversationList, FileInfo, Message, MessagePage,
    NotificationList,
};
use mchat_shared::{ConversationId, TokenId};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use mchat_testkit::PASSWORD;

/// A testkit server (rate limits off, mentor approval on, plus the test's
/// extra config) with an HTTP client for it.
pub struct TestServer {
    server: mchat_testkit::TestServer,
    /// `http://127.0.0.1:PORT`, shared with every [`Api`] so they follow restarts.
    base: Arc<RwLock<String>>,
    http: reqwest::Client,
    admin: tokio::sync::OnceCell<Session>,
}

impl std::ops::Deref for TestServer {
    type Target = mchat_testkit::TestServer;
    fn deref(&self) -> &mchat_testkit::TestServer {
        &self.server
    }
}

impl TestServer {
    /// A server with the default test config.
    pub fn start() -> TestServer {
        TestServer::wrap(mchat_testkit::TestServer::start())
    }

    /// A server whose config also holds `config_toml_extra` (merged over the
    /// test defaults, e.g. `"[limits]\nmax_body_bytes = 4096"`).
    pub fn start_with(config_toml_extra: &str) -> TestServer {
        TestServer::wrap(mchat_testkit::TestServer::start_with(config_toml_extra))
    }

    /// A server on an existing data directory (e.g. one holding only a
    /// backup copied to `mchatd.sqlite3`).
    pub fn start_on_data_dir(data_dir: &Path, config_toml_extra: &str) -> TestServer {
        TestServer::wrap(mchat_testkit::TestServer::start_on_data_dir(
            data_dir,
            config_toml_extra,
        ))
    }

    /// A node on the PostgreSQL database at `url`, which other nodes share.
    pub fn start_on_postgres(url: &str, config_toml_extra: &str) -> TestServer {
        TestServer::wrap(mchat_testkit::TestServer::start_on_postgres(
            url,
            config_toml_extra,
        ))
    }

    fn wrap(server: mchat_testkit::TestServer) -> TestServer {
        TestServer {
            base: Arc::new(RwLock::new(server.url())),
            server,
            http: mchat_testkit::http_client_builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            admin: tokio::sync::OnceCell::new(),
        }
    }

    /// `http://127.0.0.1:PORT` of the running server (follows restarts).
    pub fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }

    /// Stops the server with SIGTERM (see [`mchat_testkit::TestServer::stop`]).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.server.stop()
    }

    /// Stops the server gracefully (asserting a clean exit) and starts it
    /// again on the same data directory and config. Existing [`Api`]s and
    /// [`Session`]s keep working (the port may change; they follow it).
    pub fn restart(&mut self) {
        let status = self.server.stop().expect("the server is not running");
        assert!(
            status.success(),
            "mchatd exited with {status} on SIGTERM; log:\n{}",
            self.log()
        );
        self.server.start_again();
        *self.base.write().unwrap() = self.server.url();
    }

    /// SIGKILL, as in a crash: no shutdown, no checkpoint. Returns how it
    /// ended (`None` if it was not running). Start it with [`TestServer::start_again`].
    pub fn crash(&mut self) -> Option<ExitStatus> {
        self.server.kill9()
    }

    /// Starts the server again on the same data directory and config after
    /// [`TestServer::crash`] or [`TestServer::stop`]; existing [`Api`]s and
    /// [`Session`]s follow the new port.
    pub fn start_again(&mut self) {
        self.server.start_again();
        *self.base.write().unwrap() = self.server.url();
    }

    /// `mchatd admin create-user NAME --role ROLE --password-stdin`, asserting success.
    pub fn create_user_cli(&self, username: &str, role: &str, password: &str) {
        let out = self.server.admin(
            &["create-user", username, "--role", role, "--password-stdin"],
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
    pub async fn admin_session(&self) -> &Session {
        self.admin
            .get_or_init(|| async {
                self.create_user_cli("admin", "admin", PASSWORD);
                self.login("admin").await
            })
            .await
    }

    /// Approves a mentor as the admin, over `PUT /v1/admin/mentors/{username}/approve`.
    pub async fn approve(&self, username: &str) {
        let admin = self.admin_session().await;
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

    /// `POST /v1/files?name=NAME` with `bytes` as `content_type`, asserting 201.
    pub async fn upload(&self, name: &str, content_type: &str, bytes: &[u8]) -> FileInfo {
        let r = self
            .raw(
                reqwest::Method::POST,
                &format!("/v1/files?name={}", query_escape(name)),
                Some(content_type),
                Some(bytes.to_vec()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "upload {name}: {}", r.text);
        decode(r.body)
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
/// `s` percent-encoded for a query string (unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every regular file under `dir`, recursively (none when it is missing).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

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
