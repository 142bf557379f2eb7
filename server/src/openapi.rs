//! The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.json`.
//!
//! Each handler carries its own `#[utoipa::path]` (method, path, parameters,
//! body and every status it can answer), and `routes/mod.rs` registers it
//! through `utoipa_axum`'s `OpenApiRouter` with `routes!(handler)`, which takes
//! the route from that attribute: a handler without one does not compile
//! there, so a route cannot exist undocumented. What no single handler owns is
//! here: [`ApiDoc`] (info, tags, the `bearer` scheme, the WebSocket frames, and
//! the error answers shared by many operations, declared once in
//! [`responses`] and referred to by `$ref`), and [`finish`], which adds what
//! needs the whole set of paths (links, the 503 that load shedding may answer
//! anywhere). [`serve`] answers the document the router collected. The schemas
//! are the wire types of `mchat_shared` (derived behind its `openapi` feature),
//! so the document cannot drift from what is serialised;
//! `server/tests/openapi.rs` checks it against a real server.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

/// The part of the document no handler owns; the router adds the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mentorchat",
        description = "The mentorchat HTTP API. Every error answers the one shape \
            `{\"error\": {\"code\", \"message\", \"field\"?, \"retry_after_secs\"?}}` (`ErrorBody`). \
            Authenticated endpoints take `Authorization: Bearer <token>` (from register, login or \
            `POST /v1/tokens`). A resource you may not see answers 404, exactly like one that does \
            not exist. 429 and 503 answers carry `Retry-After`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(
        schemas(
            mchat_shared::realtime::ClientFrame,
            mchat_shared::realtime::ServerFrame,
            mchat_shared::ErrorCode,
            mchat_shared::ErrorBody,
        ),
        responses(
            responses::Invalid,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::Conflict,
            responses::TooLarge,
            responses::UnsupportedType,
            responses::RateLimited,
            responses::Busy,
        ),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, logout"),
        (name = "account", description = "My profile and my tokens"),
        (name = "users", description = "The directory"),
        (name = "conversations", description = "Requests, status changes, read markers, settings"),
        (name = "messages", description = "History, sending, editing, deleting, reactions"),
        (name = "files", description = "Attachments"),
        (name = "search", description = "Full-text search over my messages"),
        (name = "templates", description = "Saved replies"),
        (name = "scheduled", description = "Scheduled messages and reminders"),
        (name = "realtime", description = "The event stream: WebSocket and long-poll"),
        (name = "notifications", description = "Notifications"),
        (name = "admin", description = "Admin-only operations"),
        (name = "meta", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The error answers shared by many operations, each declared once as an
/// entry of `components.responses` and referred to from the paths by `$ref`
/// (`(status = 404, response = NotFound)`). Every body is an `ErrorBody`; the
/// `code` values each answer can carry are listed in its description.
pub mod responses {
    #![allow(dead_code, reason = "never built: only their documentation is used")]

    use mchat_shared::ErrorBody;
    use utoipa::ToResponse;

    /// A malformed request: a body that is not valid JSON or has the wrong
    /// fields (`invalid_json`), a bad query string or path parameter
    /// (`invalid_query`), or a value that failed validation
    /// (`validation_failed`, with `field` naming it). The message says what
    /// to change.
    #[derive(ToResponse)]
    #[response(example = json!({"error": {"code": "validation_failed",
        "message": "a username is 3 to 32 characters: lowercase letters, digits, '_', '.', '-'",
        "field": "username"}}))]
    pub struct Invalid(ErrorBody);

    /// No token, or one that is malformed, unknown, revoked or expired
    /// (`unauthorized`); at login, a wrong username or password
    /// (`invalid_credentials`, the same answer for both).
    #[derive(ToResponse)]
    pub struct Unauthorized(ErrorBody);

    /// Not allowed for you (`forbidden`), or, at registration, registration
    /// closed or a wrong invite code (`registration_closed`).
    #[derive(ToResponse)]
    pub struct Forbidden(ErrorBody);

    /// No such thing, or one you may not see (`not_found`): the two answers
    /// are the same on purpose.
    #[derive(ToResponse)]
    pub struct NotFound(ErrorBody);

    /// The current state does not allow it: a username taken or too similar
    /// to an existing name (`username_taken`), a token name in use
    /// (`name_taken`), a `client_id` reused with another body
    /// (`idempotency_conflict`), a conversation not open for posting
    /// (`conversation_not_open`), a status change not allowed from the
    /// current status (`invalid_transition`), or a request the other side
    /// declined (`request_declined`).
    #[derive(ToResponse)]
    pub struct Conflict(ErrorBody);

    /// The body is larger than the server accepts (`payload_too_large`);
    /// `GET /v1/info` gives the limits.
    #[derive(ToResponse)]
    pub struct TooLarge(ErrorBody);

    /// The body's type is not accepted (`unsupported_media_type`): not
    /// `application/json` where JSON is expected, or an upload type outside
    /// the server's list (`GET /v1/info`).
    #[derive(ToResponse)]
    pub struct UnsupportedType(ErrorBody);

    /// Too many requests (`rate_limited`): logins and registrations per
    /// client address, sends, edits and reactions per user. Nothing was done;
    /// try again after `Retry-After` seconds.
    #[derive(ToResponse)]
    #[response(
        headers(("Retry-After" = u64, description = "Seconds to wait before trying again (also `retry_after_secs` in the body)")),
        example = json!({"error": {"code": "rate_limited",
            "message": "too many requests; try again in 3 s", "retry_after_secs": 3}}),
    )]
    pub struct RateLimited(ErrorBody);

    /// The server is busy (`unavailable`): too many requests in flight, or a
    /// storage queue is full. The request did not run; try again after
    /// `Retry-After` seconds. Any operation but `/healthz` and `/metrics` may
    /// answer it.
    #[derive(ToResponse)]
    #[response(
        headers(("Retry-After" = u64, description = "Seconds to wait before trying again (also `retry_after_secs` in the body)")),
        example = json!({"error": {"code": "unavailable",
            "message": "the server is busy; try again in 1 s", "retry_after_secs": 1}}),
    )]
    pub struct Busy(ErrorBody);
}

/// Adds the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from register, login or POST /v1/tokens (`mct_...`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Says what the path attributes cannot: the decline body is optional (an
/// `Option<..>` body would also make its schema nullable).
struct OptionalDecline;

impl Modify for OptionalDecline {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let decline = openapi
            .paths
            .paths
            .get_mut("/v1/conversations/{id}/decline")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(RefOr::T(body)) = decline {
            body.required = Some(Required::False);
        }
    }
}

/// The operations of one path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Paths that load shedding does not count and that never wait on a storage
/// queue: they cannot answer [`responses::Busy`] (`/healthz` documents its
/// own 503, without `Retry-After`).
const NEVER_BUSY: &[&str] = &["/healthz", "/metrics"];

/// Adds [`responses::Busy`] to every operation outside [`NEVER_BUSY`]: the
/// in-flight limit (`shed.rs`) sits in front of every route and a full
/// storage queue can refuse any request that reaches the store, so it is
/// declared here once, as the layer is, rather than in each attribute.
struct BusyEverywhere;

impl Modify for BusyEverywhere {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if NEVER_BUSY.contains(&path.as_str()) {
                continue;
            }
            for op in operations(item) {
                op.responses
                    .responses
                    .entry("503".to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Busy")));
            }
        }
    }
}

/// Links from the operations that create things to the ones that use them
/// (`$response.body` → path parameter), so stateful API tests such as
/// schemathesis reach real rows instead of guessing ids.
const LINKS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "/v1/conversations",
        "id",
        "$response.body#/conversation/id",
        "conversation",
        &[
            "get_conversation",
            "accept",
            "decline",
            "complete",
            "reopen",
            "read",
            "delivered",
            "list_messages",
            "send_message",
            "typing",
            "put_settings",
        ],
    ),
    (
        "/v1/conversations/{id}/messages",
        "id",
        "$response.body#/id",
        "message",
        &[
            "get_message",
            "edit_message",
            "delete_message",
            "message_edits",
            "add_reaction",
            "remove_reaction",
        ],
    ),
    (
        "/v1/scheduled",
        "id",
        "$response.body#/id",
        "item",
        &["cancel_scheduled"],
    ),
    (
        "/v1/files",
        "id",
        "$response.body#/id",
        "file",
        &["download_file"],
    ),
    (
        "/v1/templates/{name}",
        "name",
        "$response.body#/name",
        "template",
        &["delete_template"],
    ),
];

/// Adds [`LINKS`] to the 2xx responses of the creating operations (POST, or
/// PUT for templates).
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, param, expression, what, targets) in LINKS {
            let Some(item) = openapi.paths.paths.get_mut(*path) else {
                continue;
            };
            let Some(op) = item.post.as_mut().or(item.put.as_mut()) else {
                continue;
            };
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if !status.starts_with('2') {
                    continue;
                }
                for target in *targets {
                    let link = LinkBuilder::new()
                        .operation_id(*target)
                        .parameter(*param, *expression)
                        .description(format!("the {what} just returned"))
                        .build();
                    response.links.insert((*target).to_string(), RefOr::T(link));
                }
            }
        }
    }
}

/// Completes the document the router collected with what needs every path:
/// the optional decline body, the links, and the shared 503.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let modifiers: [&dyn Modify; 3] = [&OptionalDecline, &Links, &BusyEverywhere];
    for m in modifiers {
        m.modify(&mut doc);
    }
    doc
}

/// The whole document, as [`crate::routes::api`] collects it.
pub fn document() -> utoipa::openapi::OpenApi {
    finish(crate::routes::api().into_openapi())
}

/// The served JSON text, rendered once.
static DOC: OnceLock<String> = OnceLock::new();

fn render(doc: &utoipa::openapi::OpenApi) -> String {
    serde_json::to_value(doc).unwrap_or_default().to_string()
}

/// Keeps the document of the router being built, for [`serve`]. Every build
/// collects the same document, so the first one is kept.
pub(crate) fn publish(doc: &utoipa::openapi::OpenApi) {
    DOC.get_or_init(|| render(doc));
}

/// The document as JSON text, built once.
pub fn json() -> &'static str {
    DOC.get_or_init(|| render(&document()))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", operation_id = "openapi_json",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

/// Bodies that exist only in the documentation.
pub(crate) mod local {
    use serde::{Deserialize, Serialize};

    /// Raw bytes: a file's content.
    #[expect(dead_code, reason = "never built: only its schema is used")]
    #[derive(Debug, utoipa::ToSchema)]
    #[schema(value_type = String, format = Binary)]
    pub struct Binary(pub Vec<u8>);

    /// `GET /v1/ws` query (the handler's own `WsQuery` lives in `realtime/ws.rs`).
    #[derive(Debug, Serialize, Deserialize, utoipa::IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct WsQuery {
        /// Replay every event after this `seq` before live ones; absent: start
        /// at the current end of the log.
        pub since: Option<i64>,
    }
}
