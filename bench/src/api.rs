//! A minimal typed HTTP client for the routes the benchmark uses, with
//! per-request timing: client round trip (until the body is read) and the
//! server's own handling time from `server-timing: app;dur=<ms>`.

use anyhow::{Context, Result, anyhow, bail};
use mchat_shared::api::{
    AuthResponse, ConversationCreated, CreateConversationRequest, Health, Message, MessagePage,
    RegisterRequest, Role, SendMessageRequest,
};
use mchat_shared::{ConversationId, MessageId};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::time::{Duration, Instant};

/// Per-request timeout; every call is bounded.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The builder of every HTTP client of the benchmark (it speaks `http://` to
/// loopback only). reqwest is built without a rustls crypto provider (its
/// default would be aws-lc-rs, kept out of this workspace), and would panic
/// at `build()` without one: each client is handed a ring config that
/// trusts no root, so any `https://` is refused.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// One keep-alive HTTP client (one per worker) bound to one user's token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// The timing of one request, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub client_ms: f64,
    pub server_ms: Option<f64>,
}

/// Any answer to a request: status, timing, `Retry-After` seconds and the
/// error code of an error body (the one JSON shape), if any.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub timing: Timing,
    pub retry_after: Option<u64>,
    pub error_code: Option<String>,
}

/// Parses `app;dur=1.234` (possibly among other metrics) into ms.
pub fn server_timing_ms(headers: &HeaderMap) -> Option<f64> {
    let v = headers.get("server-timing")?.to_str().ok()?;
    v.split(',')
        .filter(|m| m.trim().starts_with("app"))
        .flat_map(|m| m.split(';'))
        .find_map(|p| p.trim().strip_prefix("dur="))
        .and_then(|d| d.trim().parse().ok())
}

impl Api {
    /// A fresh client with its own connection pool; refuses non-loopback bases.
    pub fn new(base: &str) -> Result<Api> {
        let url = reqwest::Url::parse(base).with_context(|| format!("bad base URL {base}"))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            bail!("refusing: the benchmark targets loopback only, not {base}");
        }
        let http = http_client_builder()?
            .user_agent(concat!("mchat-bench/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// The same settings with a new connection pool and this token.
    pub fn with_token(base: &str, token: &str) -> Result<Api> {
        let mut api = Api::new(base)?;
        api.token = Some(token.to_owned());
        Ok(api)
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends, reads the whole body, checks the status; returns body and timing.
    async fn call(
        &self,
        rb: reqwest::RequestBuilder,
        expect: StatusCode,
        what: &str,
    ) -> Result<(Vec<u8>, Timing)> {
        let t0 = Instant::now();
        let resp = rb
            .send()
            .await
            .with_context(|| format!("{what}: request failed"))?;
        let status = resp.status();
        let server_ms = server_timing_ms(resp.headers());
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("{what}: reading the body failed"))?;
        let client_ms = t0.elapsed().as_secs_f64() * 1000.0;
        if status != expect {
            bail!(
                "{what}: expected {expect}, got {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        Ok((body.to_vec(), Timing { client_ms, server_ms }))
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<Health> {
        let (body, _) = self
            .call(
                self.req(reqwest::Method::GET, "/healthz"),
                StatusCode::OK,
                "healthz",
            )
            .await?;
        serde_json::from_slice(&body).context("healthz: bad JSON")
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> Result<String> {
        let (body, _) = self
            .call(
                self.req(reqwest::Method::GET, "/metrics"),
                StatusCode::OK,
                "metrics",
            )
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `POST /v1/auth/register`; keeps the returned token.
    pub async fn register(&mut self, username: &str, role: Role) -> Result<()> {
        let req = RegisterRequest {
            username: username.to_owned(),
            password: format!("bench-password-{username}"),
            display_name: None,
            role,
            invite_code: None,
            profile: None,
            token_name: Some("mchat-bench".into()),
        };
        let rb = self.req(reqwest::Method::POST, "/v1/auth/register").json(&req);
        let (body, _) = self.call(rb, StatusCode::CREATED, "register").await?;
        let auth: AuthResponse = serde_json::from_slice(&body).context("register: bad JSON")?;
        self.token = Some(auth.token);
        Ok(())
    }

    /// `POST /v1/conversations {to, message}` (a new request: 201).
    pub async fn request_conversation(&self, to: &str, message: &str) -> Result<ConversationId> {
        let req = CreateConversationRequest {
            to: to.to_owned(),
            message: message.to_owned(),
            client_id: None,
        };
        let rb = self.req(reqwest::Method::POST, "/v1/conversations").json(&req);
        let (body, _) = self.call(rb, StatusCode::CREATED, "request conversation").await?;
        let c: ConversationCreated = serde_json::from_slice(&body).context("request: bad JSON")?;
        Ok(c.conversation.id)
    }

    /// `POST /v1/conversations/{id}/accept`.
    pub async fn accept(&self, id: ConversationId) -> Result<()> {
        let rb = self.req(reqwest::Method::POST, &format!("/v1/conversations/{id}/accept"));
        self.call(rb, StatusCode::OK, "accept").await.map(|_| ())
    }

    /// `POST /v1/conversations/{id}/messages` with a fresh uuid v4 `client_id`; expects 201.
    /// Returns the new message id when `want_id` (parsing costs client CPU).
    pub async fn send(
        &self,
        conv: ConversationId,
        body: String,
        want_id: bool,
    ) -> Result<(Timing, Option<MessageId>)> {
        let req = SendMessageRequest {
            client_id: uuid::Uuid::new_v4().to_string(),
            body,
            reply_to: None,
            file: None,
        };
        let rb = self
            .req(
                reqwest::Method::POST,
                &format!("/v1/conversations/{conv}/messages"),
            )
            .json(&req);
        let (resp, timing) = self.call(rb, StatusCode::CREATED, "send").await?;
        let id = if want_id {
            let m: Message = serde_json::from_slice(&resp).context("send: bad JSON")?;
            Some(m.id)
        } else {
            None
        };
        Ok((timing, id))
    }

    /// `POST /v1/conversations/{id}/messages` with `client_id`, whatever the
    /// answer: its status, timing and `Retry-After` (for overload runs, where
    /// 503 is an expected answer rather than a failure).
    pub async fn try_send(&self, conv: ConversationId, client_id: String, body: String) -> Result<Answer> {
        let req = SendMessageRequest {
            client_id,
            body,
            reply_to: None,
            file: None,
        };
        let rb = self
            .req(
                reqwest::Method::POST,
                &format!("/v1/conversations/{conv}/messages"),
            )
            .json(&req);
        let t0 = Instant::now();
        let resp = rb.send().await.context("send: request failed")?;
        let status = resp.status();
        let server_ms = server_timing_ms(resp.headers());
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = resp.bytes().await.context("send: reading the body failed")?;
        let client_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Ok(Answer {
            status,
            timing: Timing { client_ms, server_ms },
            retry_after,
            error_code: (!status.is_success())
                .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                .flatten()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned)),
        })
    }

    /// `GET /v1/conversations/{id}/messages?limit=N[&before=ID]`.
    pub async fn page(
        &self,
        conv: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<(Timing, MessagePage)> {
        let path = match before {
            Some(b) => format!("/v1/conversations/{conv}/messages?limit={limit}&before={b}"),
            None => format!("/v1/conversations/{conv}/messages?limit={limit}"),
        };
        let (body, timing) = self
            .call(
                self.req(reqwest::Method::GET, &path),
                StatusCode::OK,
                "history page",
            )
            .await?;
        let page: MessagePage =
            serde_json::from_slice(&body).map_err(|e| anyhow!("history page: bad JSON: {e}"))?;
        Ok((timing, page))
    }
}
