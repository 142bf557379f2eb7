//! The HTTP client of `mchat-bench load` and `crash`: one shared keep-alive
//! pool, a bearer token per call, and every answer's status counted (so the
//! report can say "no 5xx") instead of treated as an error. Also the setup
//! steps both tests share: register, request + accept, read markers, sync.

use anyhow::{Context, Result, anyhow, bail};
use mchat_shared::api::Message;
use mchat_shared::events::EventKind;
use mchat_shared::realtime::SyncResponse;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per-request timeout; every call is bounded.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers by status code, plus requests that got no answer at all.
#[derive(Debug, Default)]
pub struct StatusCounts {
    by_code: Mutex<BTreeMap<u16, u64>>,
    transport_errors: AtomicU64,
}

impl StatusCounts {
    fn record(&self, status: u16) {
        if let Ok(mut m) = self.by_code.lock() {
            *m.entry(status).or_default() += 1;
        }
    }

    /// Status code -> count, so far.
    pub fn snapshot(&self) -> BTreeMap<u16, u64> {
        self.by_code.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Answers with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(c, _)| **c >= 500)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn transport_errors(&self) -> u64 {
        self.transport_errors.load(Ordering::Relaxed)
    }
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Reply {
    /// `body["id"]` as an integer (a message's or conversation's id).
    pub fn id(&self) -> Option<i64> {
        self.body["id"].as_i64()
    }

    fn expect(self, want: u16, what: &str) -> Result<Value> {
        if self.status != want {
            bail!("{what}: expected {want}, got {}: {}", self.status, self.body);
        }
        Ok(self.body)
    }
}

/// A shared client for one server address.
#[derive(Clone)]
pub struct Http {
    http: reqwest::Client,
    base: String,
    pub counts: Arc<StatusCounts>,
}

impl Http {
    /// A client for `http://ADDR` (loopback only), counting into `counts`.
    pub fn new(addr: std::net::SocketAddr, counts: Arc<StatusCounts>) -> Result<Http> {
        if !addr.ip().is_loopback() {
            bail!("refusing: the benchmark targets loopback only, not {addr}");
        }
        let http = crate::api::http_client_builder()?
            .user_agent(concat!("mchat-bench/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(512)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Http {
            http,
            base: format!("http://{addr}"),
            counts,
        })
    }

    /// One request; any status is an `Ok` reply (and counted), no answer is an error.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply> {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                self.counts.transport_errors.fetch_add(1, Ordering::Relaxed);
                return Err(anyhow!(e).context(format!("{path}: no answer")));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                self.counts.transport_errors.fetch_add(1, Ordering::Relaxed);
                return Err(anyhow!(e).context(format!("{path}: reading the answer")));
            }
        };
        self.counts.record(status);
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> Result<Reply> {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Reply> {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// `POST /v1/auth/register`; returns the token.
    pub async fn register(&self, username: &str, role: &str) -> Result<String> {
        let body = json!({
            "username": username,
            "password": format!("bench-password-{username}"),
            "role": role,
            "token_name": "mchat-bench",
        });
        let v = self
            .post("/v1/auth/register", None, &body)
            .await?
            .expect(201, "register")?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("register: no token in {v}"))
    }

    /// The mentee requests a conversation with the mentor, who accepts;
    /// then both mark everything so far read. Returns the conversation id.
    pub async fn accepted_conversation(
        &self,
        mentee_token: &str,
        mentor_name: &str,
        mentor_token: &str,
    ) -> Result<i64> {
        let v = self
            .post(
                "/v1/conversations",
                Some(mentee_token),
                &json!({"to": mentor_name, "message": "hello, may we talk?"}),
            )
            .await?
            .expect(201, "request conversation")?;
        let conv = v["conversation"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("request: no conversation id in {v}"))?;
        self.post(
            &format!("/v1/conversations/{conv}/accept"),
            Some(mentor_token),
            &json!({}),
        )
        .await?
        .expect(200, "accept")?;
        let page = self
            .get(
                &format!("/v1/conversations/{conv}/messages?limit=1"),
                mentor_token,
            )
            .await?
            .expect(200, "newest page")?;
        let last = page["messages"][0]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no message in {conv}: {page}"))?;
        for token in [mentee_token, mentor_token] {
            self.read(token, conv, last).await?;
        }
        Ok(conv)
    }

    /// `POST /v1/conversations/{conv}/read {up_to}`.
    pub async fn read(&self, token: &str, conv: i64, up_to: i64) -> Result<()> {
        self.post(
            &format!("/v1/conversations/{conv}/read"),
            Some(token),
            &json!({ "up_to": up_to }),
        )
        .await?
        .expect(200, "read")
        .map(|_| ())
    }

    /// `POST /v1/conversations/{conv}/messages {client_id, body}`.
    pub async fn send(&self, token: &str, conv: i64, client_id: &str, body: &str) -> Result<Reply> {
        self.post(
            &format!("/v1/conversations/{conv}/messages"),
            Some(token),
            &json!({"client_id": client_id, "body": body}),
        )
        .await
    }

    /// Pages `GET /v1/sync?since=` (timeout 0) to the end: the messages
    /// whose `client_id` starts with `prefix`, in log order, and the last seq.
    pub async fn sync_messages(
        &self,
        token: &str,
        since: i64,
        prefix: &str,
        max_pages: usize,
    ) -> Result<(Vec<Message>, i64)> {
        let mut cursor = since;
        let mut got = Vec::new();
        for _ in 0..max_pages {
            let v = self
                .get(&format!("/v1/sync?since={cursor}&timeout=0"), token)
                .await?
                .expect(200, "sync")?;
            let page: SyncResponse = serde_json::from_value(v).context("sync: bad JSON")?;
            for ev in page.events {
                if ev.seq.0 <= cursor {
                    bail!("sync went backwards: {} after {cursor}", ev.seq.0);
                }
                if let EventKind::MessageNew { message } = ev.kind
                    && message
                        .client_id
                        .as_deref()
                        .is_some_and(|c| c.starts_with(prefix))
                {
                    got.push(message);
                }
            }
            cursor = cursor.max(page.next.0);
            if !page.has_more {
                return Ok((got, cursor));
            }
        }
        bail!("sync did not end within {max_pages} pages")
    }

    /// `GET /v1/conversations`: conversation id -> unread.
    pub async fn unread_counts(&self, token: &str) -> Result<BTreeMap<i64, u64>> {
        let v = self
            .get("/v1/conversations", token)
            .await?
            .expect(200, "conversations")?;
        let list = v["conversations"]
            .as_array()
            .ok_or_else(|| anyhow!("conversations: no list in {v}"))?;
        Ok(list
            .iter()
            .filter_map(|c| Some((c["id"].as_i64()?, c["unread"].as_u64()?)))
            .collect())
    }
}
