//! A typed client for the mchatd HTTP API: one method per endpoint, errors as
//! [`ClientError`]. The CLI, the TUI and the tests all use it.
//!
//! A 429 answer is retried after its `Retry-After` (a few times, for waits of
//! up to half a minute); everything else is returned to the caller.

mod error;
mod files;
mod info;
mod message_actions;
mod organise;
mod search;

pub use error::ClientError;
pub use info::{INFO_TTL, InfoCache};

use mchat_shared::api::*;
use mchat_shared::{ConversationId, MessageId, NotificationId, TokenId};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The longest `Retry-After` the client waits out by itself.
const MAX_RATE_LIMIT_WAIT_SECS: u64 = 30;
const RATE_LIMIT_RETRIES: u32 = 3;

/// An API client bound to one server and (optionally) one token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A successful answer that may be new (201) or a replay (200).
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub value: T,
    pub created: bool,
}

impl Client {
    /// `base` is the server's root URL, e.g. `http://127.0.0.1:7878`. An
    /// `https://` one is verified against [`crate::tls`]'s roots (the
    /// platform's, plus `--ca-file`).
    pub fn new(base: &str, token: Option<String>) -> Result<Client, ClientError> {
        // reqwest has no rustls crypto provider of its own here (its default
        // would be aws-lc-rs), so every client is handed a ring config.
        // Redirects stay within the origin, so an http:// client never needs
        // TLS, and never pays for reading the system's certificate store: it
        // gets a config that trusts no root at all.
        let tls = if reqwest::Url::parse(base).is_ok_and(|u| u.scheme() == "https") {
            crate::tls::trust().map(crate::tls::Trust::config)
        } else {
            crate::tls::no_roots()
        }
        .map_err(|e| ClientError::Unreachable {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .user_agent(concat!("mchat/", env!("CARGO_PKG_VERSION")))
            // The token is for this server only: follow a redirect only
            // within the same origin (scheme, host, port).
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<(StatusCode, bytes_body::Body), ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(token) = &self.token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: describe(&e),
            })?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: describe(&e),
            })?;
            if status == StatusCode::TOO_MANY_REQUESTS
                && attempt < RATE_LIMIT_RETRIES
                && retry_after.is_some_and(|s| s <= MAX_RATE_LIMIT_WAIT_SECS)
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).max(1))).await;
                continue;
            }
            if !status.is_success() {
                return Err(ClientError::from_response(status.as_u16(), &bytes, retry_after));
            }
            return Ok((status, bytes_body::Body(bytes.to_vec())));
        }
    }

    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Created<T>, ClientError> {
        let (status, body) = self.call(method, path, query, body).await?;
        let value = serde_json::from_slice(&body.0).map_err(|e| ClientError::Protocol {
            status: status.as_u16(),
            detail: format!("cannot decode the answer: {e}"),
        })?;
        Ok(Created {
            value,
            created: status == StatusCode::CREATED,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ClientError> {
        Ok(self.json::<T, ()>(Method::GET, path, query, None).await?.value)
    }

    async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        Ok(self.json(Method::POST, path, &[], Some(body)).await?.value)
    }

    // ---- health and accounts ----

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/healthz", &[]).await
    }

    pub async fn register(&self, req: &RegisterRequest) -> Result<AuthResponse, ClientError> {
        self.post("/v1/auth/register", req).await
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<AuthResponse, ClientError> {
        self.post("/v1/auth/login", req).await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.post::<Ok, _>("/v1/auth/logout", &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    pub async fn me(&self) -> Result<User, ClientError> {
        self.get("/v1/me", &[]).await
    }

    pub async fn update_me(&self, req: &UpdateMeRequest) -> Result<User, ClientError> {
        Ok(self.json(Method::PATCH, "/v1/me", &[], Some(req)).await?.value)
    }

    pub async fn tokens(&self) -> Result<TokenList, ClientError> {
        self.get("/v1/tokens", &[]).await
    }

    pub async fn create_token(&self, req: &CreateTokenRequest) -> Result<CreatedToken, ClientError> {
        self.post("/v1/tokens", req).await
    }

    pub async fn revoke_token(&self, id: TokenId) -> Result<(), ClientError> {
        self.json::<Ok, ()>(Method::DELETE, &format!("/v1/tokens/{id}"), &[], None)
            .await
            .map(|_| ())
    }

    // ---- directory ----

    pub async fn users(&self, q: &DirectoryQuery) -> Result<UserList, ClientError> {
        let mut query = Vec::new();
        if let Some(role) = q.role {
            query.push(("role", role.as_str().to_string()));
        }
        if let Some(a) = q.available {
            query.push(("available", a.to_string()));
        }
        if let Some(s) = &q.q {
            query.push(("q", s.clone()));
        }
        if let Some(t) = &q.expertise {
            query.push(("expertise", t.clone()));
        }
        if let Some(l) = q.limit {
            query.push(("limit", l.to_string()));
        }
        self.get("/v1/users", &query).await
    }

    pub async fn user(&self, username: &str) -> Result<User, ClientError> {
        self.get(&format!("/v1/users/{}", path_segment(username)), &[])
            .await
    }

    // ---- conversations ----

    pub async fn conversations(&self) -> Result<ConversationList, ClientError> {
        self.get("/v1/conversations", &[]).await
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation, ClientError> {
        self.get(&format!("/v1/conversations/{id}"), &[]).await
    }

    pub async fn request_conversation(
        &self,
        req: &CreateConversationRequest,
    ) -> Result<ConversationCreated, ClientError> {
        self.post("/v1/conversations", req).await
    }

    async fn transition(
        &self,
        id: ConversationId,
        verb: &str,
        body: &DeclineRequest,
    ) -> Result<Conversation, ClientError> {
        self.post(&format!("/v1/conversations/{id}/{verb}"), body).await
    }

    pub async fn accept(&self, id: ConversationId) -> Result<Conversation, ClientError> {
        self.transition(id, "accept", &DeclineRequest::default()).await
    }

    pub async fn decline(
        &self,
        id: ConversationId,
        reason: Option<String>,
    ) -> Result<Conversation, ClientError> {
        self.transition(id, "decline", &DeclineRequest { reason }).await
    }

    pub async fn complete(&self, id: ConversationId) -> Result<Conversation, ClientError> {
        self.transition(id, "complete", &DeclineRequest::default()).await
    }

    pub async fn reopen(&self, id: ConversationId) -> Result<Conversation, ClientError> {
        self.transition(id, "reopen", &DeclineRequest::default()).await
    }

    pub async fn messages(&self, id: ConversationId, q: &MessagesQuery) -> Result<MessagePage, ClientError> {
        let mut query = Vec::new();
        if let Some(b) = q.before {
            query.push(("before", b.to_string()));
        }
        if let Some(a) = q.after {
            query.push(("after", a.to_string()));
        }
        if let Some(l) = q.limit {
            query.push(("limit", l.to_string()));
        }
        self.get(&format!("/v1/conversations/{id}/messages"), &query)
            .await
    }

    /// Sends a message; `created` is false when the server already had this
    /// `client_id` (a retry), in which case the original message is returned.
    pub async fn send(
        &self,
        id: ConversationId,
        req: &SendMessageRequest,
    ) -> Result<Created<Message>, ClientError> {
        self.json(
            Method::POST,
            &format!("/v1/conversations/{id}/messages"),
            &[],
            Some(req),
        )
        .await
    }

    pub async fn mark_read(&self, id: ConversationId, up_to: MessageId) -> Result<ReadResponse, ClientError> {
        self.post(&format!("/v1/conversations/{id}/read"), &ReadRequest { up_to })
            .await
    }

    pub async fn mark_delivered(
        &self,
        id: ConversationId,
        up_to: MessageId,
    ) -> Result<ReadResponse, ClientError> {
        self.post(
            &format!("/v1/conversations/{id}/delivered"),
            &ReadRequest { up_to },
        )
        .await
    }

    // ---- notifications ----

    pub async fn notifications(
        &self,
        unread_only: bool,
        limit: Option<u32>,
    ) -> Result<NotificationList, ClientError> {
        let mut query = vec![("unread", unread_only.to_string())];
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        self.get("/v1/notifications", &query).await
    }

    pub async fn mark_notifications_read(
        &self,
        ids: Option<Vec<NotificationId>>,
    ) -> Result<MarkedRead, ClientError> {
        let req = match ids {
            Some(ids) => MarkNotificationsRead {
                ids: Some(ids),
                all: None,
            },
            None => MarkNotificationsRead {
                ids: None,
                all: Some(true),
            },
        };
        self.post("/v1/notifications/read", &req).await
    }
}

/// Percent-encodes one path segment (usernames are restricted, but the
/// client never trusts what a user typed).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A short reason for a transport failure, without reqwest's nested chain noise.
fn describe(e: &reqwest::Error) -> String {
    // Before is_connect(): a refused certificate is a connect error too, and
    // "unreachable" would send the user looking in the wrong place.
    if let Some(tls) = crate::tls::describe_failure(e) {
        tls
    } else if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg = s.to_string();
            source = s.source();
        }
        msg
    }
}

mod bytes_body {
    /// A response body already read into memory.
    #[derive(Debug)]
    pub struct Body(pub Vec<u8>);
}
