//! The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.json`.
//!
//! The handlers in [`crate::routes`] stay free of documentation macros: every
//! route registered in `routes/mod.rs` is described here by a private stub
//! function carrying `#[utoipa::path]` (method, path, parameters, body and
//! every status it can answer), and [`ApiDoc`] collects them. The schemas are
//! the wire types of `mchat_shared` (derived behind its `openapi` feature), so
//! the document cannot drift from what is serialised. `server/tests/openapi.rs`
//! checks that no registered route is missing from the document.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

/// The whole document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mentorchat",
        description = "The mentorchat HTTP API. Every error answers the one shape \
            `{\"error\": {\"code\", \"message\", \"field\"?, \"retry_after_secs\"?}}` (`ErrorBody`). \
            Authenticated endpoints take `Authorization: Bearer <token>` (from register, login or \
            `POST /v1/tokens`). A resource you may not see answers 404, exactly like one that does \
            not exist.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        paths::register,
        paths::login,
        paths::logout,
        paths::get_me,
        paths::patch_me,
        paths::list_tokens,
        paths::create_token,
        paths::revoke_token,
        paths::directory,
        paths::get_user,
        paths::list_conversations,
        paths::create_conversation,
        paths::get_conversation,
        paths::accept,
        paths::decline,
        paths::complete,
        paths::reopen,
        paths::read,
        paths::delivered,
        paths::list_messages,
        paths::send_message,
        paths::typing,
        paths::put_settings,
        paths::get_message,
        paths::edit_message,
        paths::delete_message,
        paths::message_edits,
        paths::add_reaction,
        paths::remove_reaction,
        paths::upload_file,
        paths::download_file,
        paths::search,
        paths::list_templates,
        paths::put_template,
        paths::delete_template,
        paths::list_scheduled,
        paths::create_scheduled,
        paths::cancel_scheduled,
        paths::websocket,
        paths::sync,
        paths::list_notifications,
        paths::mark_notifications_read,
        paths::approve_mentor,
        paths::announce,
        paths::openapi_json,
        paths::server_info,
        paths::healthz,
        paths::metrics,
    ),
    components(schemas(
        mchat_shared::realtime::ClientFrame,
        mchat_shared::realtime::ServerFrame,
        mchat_shared::ErrorCode,
    )),
    modifiers(&BearerAuth, &Links),
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

/// Adds the `bearer` security scheme the paths refer to, and says what the
/// path attributes cannot: the decline body is optional.
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

/// The whole document as JSON.
pub fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

/// The document as JSON text, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| document().to_string())
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

/// Request and response bodies that exist only in the server (admin routes).
mod local {
    use serde::{Deserialize, Serialize};

    /// `POST /v1/admin/announcements`: a notification to every user.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Announcement {
        /// Same rules as a message body.
        pub body: String,
    }

    /// How many users the announcement reached.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct Announced {
        pub recipients: u32,
    }

    /// Raw bytes: a file's content.
    #[expect(dead_code, reason = "never built: only its schema is used")]
    #[derive(Debug, utoipa::ToSchema)]
    #[schema(value_type = String, format = Binary)]
    pub struct Binary(pub Vec<u8>);

    /// `GET /v1/ws` query.
    #[derive(Debug, Serialize, Deserialize, utoipa::IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct WsQuery {
        /// Replay every event after this `seq` before live ones; absent: start
        /// at the current end of the log.
        pub since: Option<i64>,
    }
}

/// One documentation stub per route. They are never called: they only
/// carry the `#[utoipa::path]` descriptions.
#[allow(dead_code)]
mod paths {
    use super::local::{Announced, Announcement, Binary, WsQuery};
    use mchat_shared::ErrorBody;
    use mchat_shared::api::*;
    use mchat_shared::realtime::{SyncQuery, SyncResponse};

    // ---------------------------------------------------------------- auth

    /// Register an account and get a token.
    ///
    /// Open or invite registration depending on the server's configuration.
    #[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
        request_body = RegisterRequest,
        responses(
            (status = 201, description = "Registered; the token is shown once", body = AuthResponse),
            (status = 400, description = "Invalid JSON or a field failed validation (also a display name too similar to another user's name)", body = ErrorBody),
            (status = 403, description = "Registration is closed, or the invite code is wrong", body = ErrorBody),
            (status = 409, description = "The username is taken, or too similar to an existing name", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
            (status = 429, description = "Too many attempts from this address", body = ErrorBody),
        ))]
    fn register() {}

    /// Log in and get a new token.
    #[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
        request_body = LoginRequest,
        responses(
            (status = 200, description = "Logged in; the token is shown once", body = AuthResponse),
            (status = 400, description = "Invalid JSON", body = ErrorBody),
            (status = 401, description = "Wrong username or password", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
            (status = 429, description = "Too many attempts from this address", body = ErrorBody),
        ))]
    fn login() {}

    /// Revoke the token this request was made with.
    #[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
        responses(
            (status = 200, description = "Token revoked", body = Ok),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn logout() {}

    // ------------------------------------------------------------- account

    /// Me: profile and availability.
    #[utoipa::path(get, path = "/v1/me", tag = "account", security(("bearer" = [])),
        responses(
            (status = 200, description = "My user", body = User),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn get_me() {}

    /// Change my profile; absent fields stay, an empty string clears a text field.
    #[utoipa::path(patch, path = "/v1/me", tag = "account", security(("bearer" = [])),
        request_body = UpdateMeRequest,
        responses(
            (status = 200, description = "My user after the change", body = User),
            (status = 400, description = "Invalid JSON or a field failed validation (also a display name too similar to another user's name)", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Only mentors have an availability", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn patch_me() {}

    /// My tokens (never their secrets).
    #[utoipa::path(get, path = "/v1/tokens", tag = "account", security(("bearer" = [])),
        responses(
            (status = 200, description = "My tokens", body = TokenList),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn list_tokens() {}

    /// Create a named token for scripts.
    #[utoipa::path(post, path = "/v1/tokens", tag = "account", security(("bearer" = [])),
        request_body = CreateTokenRequest,
        responses(
            (status = 201, description = "Created; the secret is shown once", body = CreatedToken),
            (status = 400, description = "Invalid JSON or a bad name", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn create_token() {}

    /// Revoke one of my tokens (its live connections close).
    #[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "account", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Token id")),
        responses(
            (status = 200, description = "Revoked", body = Ok),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such token of mine", body = ErrorBody),
        ))]
    fn revoke_token() {}

    // --------------------------------------------------------------- users

    /// The directory: approved mentors and other users, filtered.
    #[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])),
        params(DirectoryQuery),
        responses(
            (status = 200, description = "Matching users", body = UserList),
            (status = 400, description = "A malformed query parameter", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn directory() {}

    /// One user's public profile.
    #[utoipa::path(get, path = "/v1/users/{username}", tag = "users", security(("bearer" = [])),
        params(("username" = String, Path, description = "Username", pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$")),
        responses(
            (status = 200, description = "The user", body = User),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such user", body = ErrorBody),
        ))]
    fn get_user() {}

    // ------------------------------------------------------- conversations

    /// My conversations, most recent activity first.
    #[utoipa::path(get, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])),
        params(ConversationsQuery),
        responses(
            (status = 200, description = "My conversations", body = ConversationList),
            (status = 400, description = "A malformed query parameter", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn list_conversations() {}

    /// Request a conversation with an intro message (get-or-create per pair).
    #[utoipa::path(post, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])),
        request_body = CreateConversationRequest,
        responses(
            (status = 201, description = "A new (or renewed) request", body = ConversationCreated),
            (status = 200, description = "The conversation already existed", body = ConversationCreated),
            (status = 400, description = "Invalid JSON or a field failed validation", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Not allowed to start a conversation with this user", body = ErrorBody),
            (status = 404, description = "No such user", body = ErrorBody),
            (status = 409, description = "Declined earlier, or a client_id reused with another body", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
            (status = 429, description = "Sending too fast", body = ErrorBody),
        ))]
    fn create_conversation() {}

    /// One of my conversations.
    #[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        responses(
            (status = 200, description = "The conversation", body = Conversation),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
        ))]
    fn get_conversation() {}

    /// Accept a pending request (the recipient).
    #[utoipa::path(post, path = "/v1/conversations/{id}/accept", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        responses(
            (status = 200, description = "The conversation after the change", body = Conversation),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Only the recipient can accept", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 409, description = "Not allowed from the current status", body = ErrorBody),
        ))]
    fn accept() {}

    /// Decline a pending request, with an optional reason.
    #[utoipa::path(post, path = "/v1/conversations/{id}/decline", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        request_body(content = DeclineRequest, description = "Optional; an empty body declines without a reason"),
        responses(
            (status = 200, description = "The conversation after the change", body = Conversation),
            (status = 400, description = "Invalid JSON, a bad reason or id", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Only the recipient can decline", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 409, description = "Not allowed from the current status", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
        ))]
    fn decline() {}

    /// Mark an accepted conversation completed (read-only, history kept).
    #[utoipa::path(post, path = "/v1/conversations/{id}/complete", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        responses(
            (status = 200, description = "The conversation after the change", body = Conversation),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Not allowed for you", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 409, description = "Not allowed from the current status", body = ErrorBody),
        ))]
    fn complete() {}

    /// Reopen a completed conversation.
    #[utoipa::path(post, path = "/v1/conversations/{id}/reopen", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        responses(
            (status = 200, description = "The conversation after the change", body = Conversation),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Not allowed for you", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 409, description = "Not allowed from the current status", body = ErrorBody),
        ))]
    fn reopen() {}

    /// Move my read marker (and my delivered marker, if behind).
    #[utoipa::path(post, path = "/v1/conversations/{id}/read", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        request_body = ReadRequest,
        responses(
            (status = 200, description = "My markers and unread count", body = ReadResponse),
            (status = 400, description = "Invalid JSON or id", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn read() {}

    /// Move my delivered marker.
    #[utoipa::path(post, path = "/v1/conversations/{id}/delivered", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        request_body = ReadRequest,
        responses(
            (status = 200, description = "My markers and unread count", body = ReadResponse),
            (status = 400, description = "Invalid JSON or id", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn delivered() {}

    /// Tell the other participants I am typing (a live signal, never stored).
    #[utoipa::path(post, path = "/v1/conversations/{id}/typing", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        responses(
            (status = 200, description = "Signalled", body = Ok),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
        ))]
    fn typing() {}

    /// Change my own settings for a conversation (muted, archived).
    #[utoipa::path(put, path = "/v1/conversations/{id}/settings", tag = "conversations", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        request_body = ConversationSettings,
        responses(
            (status = 200, description = "The conversation with my settings", body = Conversation),
            (status = 400, description = "Invalid JSON or id", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn put_settings() {}

    // ------------------------------------------------------------ messages

    /// A page of history, oldest first (newest page without before/after).
    #[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id"), MessagesQuery),
        responses(
            (status = 200, description = "One page", body = MessagePage),
            (status = 400, description = "A malformed query parameter, or both before and after", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
        ))]
    fn list_messages() {}

    /// Send a message (idempotent by client_id).
    #[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Conversation id")),
        request_body = SendMessageRequest,
        responses(
            (status = 201, description = "Stored", body = Message),
            (status = 200, description = "Already stored with this client_id and body: the original", body = Message),
            (status = 400, description = "Invalid JSON or a field failed validation", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation, reply parent or file of mine", body = ErrorBody),
            (status = 409, description = "Conversation not open, or client_id reused with another body", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
            (status = 429, description = "Sending too fast", body = ErrorBody),
        ))]
    fn send_message() {}

    /// One message I can see.
    #[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Message id")),
        responses(
            (status = 200, description = "The message", body = Message),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such message I can see", body = ErrorBody),
        ))]
    fn get_message() {}

    /// Edit my message (the previous text is kept server-side).
    #[utoipa::path(patch, path = "/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Message id")),
        request_body = EditMessageRequest,
        responses(
            (status = 200, description = "The message after the edit", body = Message),
            (status = 400, description = "Invalid JSON or a bad body", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Not my message", body = ErrorBody),
            (status = 404, description = "No such message I can see", body = ErrorBody),
            (status = 409, description = "A system or deleted message, or the conversation is closed", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
            (status = 429, description = "Sending too fast", body = ErrorBody),
        ))]
    fn edit_message() {}

    /// Delete my message (an admin may delete any): leaves a tombstone.
    #[utoipa::path(delete, path = "/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Message id")),
        responses(
            (status = 200, description = "The tombstone", body = Message),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Not my message", body = ErrorBody),
            (status = 404, description = "No such message I can see", body = ErrorBody),
            (status = 409, description = "A system message cannot be deleted", body = ErrorBody),
        ))]
    fn delete_message() {}

    /// The earlier texts of a message, newest first: for its sender, and an admin who takes part.
    #[utoipa::path(get, path = "/v1/messages/{id}/edits", tag = "messages", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Message id")),
        responses(
            (status = 200, description = "The edit history (empty once deleted)", body = MessageEdits),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such message whose history I may read", body = ErrorBody),
        ))]
    fn message_edits() {}

    /// React to a message (idempotent).
    #[utoipa::path(put, path = "/v1/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
        params(
            ("id" = i64, Path, description = "Message id"),
            ("emoji" = String, Path, description = "The emoji, URL-encoded (no letters, digits or spaces)",
                pattern = "^[\u{2600}-\u{26FF}]{1,4}$"),
        ),
        responses(
            (status = 200, description = "The message with its reactions", body = Message),
            (status = 400, description = "Not an emoji, or too many reactions", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such message I can see", body = ErrorBody),
            (status = 409, description = "The message is deleted, or the conversation is closed", body = ErrorBody),
            (status = 429, description = "Sending too fast", body = ErrorBody),
        ))]
    fn add_reaction() {}

    /// Take my reaction back (idempotent).
    #[utoipa::path(delete, path = "/v1/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
        params(
            ("id" = i64, Path, description = "Message id"),
            ("emoji" = String, Path, description = "The emoji, URL-encoded (no letters, digits or spaces)",
                pattern = "^[\u{2600}-\u{26FF}]{1,4}$"),
        ),
        responses(
            (status = 200, description = "The message with its reactions", body = Message),
            (status = 400, description = "Not an emoji", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such message I can see", body = ErrorBody),
            (status = 409, description = "The message is deleted, or the conversation is closed", body = ErrorBody),
            (status = 429, description = "Sending too fast", body = ErrorBody),
        ))]
    fn remove_reaction() {}

    // --------------------------------------------------------------- files

    /// Upload a file: the raw bytes as the body, the type in Content-Type.
    #[utoipa::path(post, path = "/v1/files", tag = "files", security(("bearer" = [])),
        params(UploadQuery),
        request_body(content = inline(Binary), content_type = "application/octet-stream",
            description = "The bytes; Content-Type is the file's type (default application/octet-stream)"),
        responses(
            (status = 201, description = "Stored", body = FileInfo),
            (status = 400, description = "A bad file name", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 413, description = "Larger than the server's file limit", body = ErrorBody),
            (status = 415, description = "A type the server does not accept", body = ErrorBody),
        ))]
    fn upload_file() {}

    /// Download a file I may see (uploader, or a participant of a conversation carrying it).
    #[utoipa::path(get, path = "/v1/files/{id}", tag = "files", security(("bearer" = [])),
        params(("id" = i64, Path, description = "File id")),
        responses(
            (status = 200, description = "The bytes, with Content-Type, Content-Length and Content-Disposition: attachment",
                content_type = "*/*", body = inline(Binary)),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such file I may see", body = ErrorBody),
        ))]
    fn download_file() {}

    // -------------------------------------------------------------- search

    /// Full-text search over the messages I can see, best match first.
    #[utoipa::path(get, path = "/v1/search", tag = "search", security(("bearer" = [])),
        params(SearchQuery),
        responses(
            (status = 200, description = "Hits", body = SearchResults),
            (status = 400, description = "An empty, too long or malformed query", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such user or conversation of mine", body = ErrorBody),
        ))]
    fn search() {}

    // ----------------------------------------------------------- templates

    /// My saved replies, by name.
    #[utoipa::path(get, path = "/v1/templates", tag = "templates", security(("bearer" = [])),
        responses(
            (status = 200, description = "My templates", body = TemplateList),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn list_templates() {}

    /// Create or replace a template.
    #[utoipa::path(put, path = "/v1/templates/{name}", tag = "templates", security(("bearer" = [])),
        params(("name" = String, Path, description = "Letters, digits, '-' and '_'", pattern = r"^[A-Za-z0-9_-]{1,40}$")),
        request_body = PutTemplateRequest,
        responses(
            (status = 201, description = "Created", body = Template),
            (status = 200, description = "Replaced", body = Template),
            (status = 400, description = "Invalid JSON, a bad name or body, or too many templates", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn put_template() {}

    /// Delete a template.
    #[utoipa::path(delete, path = "/v1/templates/{name}", tag = "templates", security(("bearer" = [])),
        params(("name" = String, Path, description = "Template name", pattern = r"^[A-Za-z0-9_-]{1,40}$")),
        responses(
            (status = 204, description = "Deleted"),
            (status = 400, description = "Not a valid template name", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such template of mine", body = ErrorBody),
        ))]
    fn delete_template() {}

    // ----------------------------------------------------------- scheduled

    /// My scheduled messages and reminders, by due time.
    #[utoipa::path(get, path = "/v1/scheduled", tag = "scheduled", security(("bearer" = [])),
        params(ScheduledQuery),
        responses(
            (status = 200, description = "My items", body = ScheduledList),
            (status = 400, description = "A malformed query parameter", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn list_scheduled() {}

    /// Schedule a message or a reminder (idempotent by client_id).
    #[utoipa::path(post, path = "/v1/scheduled", tag = "scheduled", security(("bearer" = [])),
        request_body = CreateScheduledRequest,
        responses(
            (status = 201, description = "Scheduled", body = ScheduledItem),
            (status = 200, description = "Already scheduled with this client_id: the original", body = ScheduledItem),
            (status = 400, description = "Invalid JSON, a bad time or body, or too many items", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such conversation of mine", body = ErrorBody),
            (status = 409, description = "client_id reused with another body", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn create_scheduled() {}

    /// Cancel a pending item.
    #[utoipa::path(delete, path = "/v1/scheduled/{id}", tag = "scheduled", security(("bearer" = [])),
        params(("id" = i64, Path, description = "Scheduled item id")),
        responses(
            (status = 200, description = "The cancelled item", body = ScheduledItem),
            (status = 400, description = "The id is not a number", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "No such item of mine", body = ErrorBody),
            (status = 409, description = "Already sent or failed", body = ErrorBody),
        ))]
    fn cancel_scheduled() {}

    // ------------------------------------------------------------ realtime

    /// The live connection (WebSocket, not JSON over HTTP).
    ///
    /// Text frames from the server are `ServerFrame`s: every logged event after
    /// `since` (each with its `seq`), then `{"type":"ready"}`, then live events
    /// and signals (typing, presence). The client may send `ClientFrame`s: the
    /// token as a first `auth` frame when it cannot set headers, and `typing`.
    #[utoipa::path(get, path = "/v1/ws", tag = "realtime", security(("bearer" = []), ()),
        params(WsQuery),
        responses(
            (status = 101, description = "Switching Protocols: the WebSocket"),
            (status = 400, description = "Not a WebSocket upgrade, or a malformed query", body = ErrorBody),
            (status = 401, description = "A bad token, or a plain request without one", body = ErrorBody),
        ))]
    fn websocket() {}

    /// The same events as the WebSocket, by long-poll.
    #[utoipa::path(get, path = "/v1/sync", tag = "realtime", security(("bearer" = [])),
        params(SyncQuery),
        responses(
            (status = 200, description = "Events after since, and the cursor to ask with next", body = SyncResponse),
            (status = 400, description = "A malformed query parameter, or timeout over 60", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn sync() {}

    // ------------------------------------------------------- notifications

    /// My notifications, newest first.
    #[utoipa::path(get, path = "/v1/notifications", tag = "notifications", security(("bearer" = [])),
        params(NotificationsQuery),
        responses(
            (status = 200, description = "Notifications and the unread count", body = NotificationList),
            (status = 400, description = "A malformed query parameter", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
        ))]
    fn list_notifications() {}

    /// Mark notifications read: some ids, or all.
    #[utoipa::path(post, path = "/v1/notifications/read", tag = "notifications", security(("bearer" = [])),
        request_body = MarkNotificationsRead,
        responses(
            (status = 200, description = "How many were marked", body = MarkedRead),
            (status = 400, description = "Invalid JSON, or neither ids nor all", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 404, description = "One of the ids is not a notification of mine", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn mark_notifications_read() {}

    // --------------------------------------------------------------- admin

    /// Approve a mentor, so they are listed and can be requested.
    #[utoipa::path(put, path = "/v1/admin/mentors/{username}/approve", tag = "admin", security(("bearer" = [])),
        params(("username" = String, Path, description = "The mentor's username", pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$")),
        responses(
            (status = 200, description = "The mentor after approval", body = User),
            (status = 400, description = "Not a valid username", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Only admins can do that", body = ErrorBody),
            (status = 404, description = "No such mentor", body = ErrorBody),
        ))]
    fn approve_mentor() {}

    /// Send an announcement notification to every user.
    #[utoipa::path(post, path = "/v1/admin/announcements", tag = "admin", security(("bearer" = [])),
        request_body = Announcement,
        responses(
            (status = 200, description = "How many users it reached", body = Announced),
            (status = 400, description = "Invalid JSON or a bad body", body = ErrorBody),
            (status = 401, description = "No or bad token", body = ErrorBody),
            (status = 403, description = "Only admins can do that", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Body is not application/json", body = ErrorBody),
        ))]
    fn announce() {}

    // ---------------------------------------------------------------- meta

    /// This document.
    #[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
        responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
    fn openapi_json() {}

    /// The server's version and the limits requests are held to (no token needed).
    #[utoipa::path(get, path = "/v1/info", tag = "meta",
        responses((status = 200, description = "Version and limits", body = ServerInfo)))]
    fn server_info() {}

    /// Liveness and readiness: answers 200 when the database answers.
    #[utoipa::path(get, path = "/healthz", tag = "meta",
        responses(
            (status = 200, description = "Healthy", body = Health),
            (status = 503, description = "The database is not answering", body = ErrorBody),
        ))]
    fn healthz() {}

    /// Prometheus metrics (text exposition format; empty when metrics are off).
    #[utoipa::path(get, path = "/metrics", tag = "meta",
        responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
    fn metrics() {}
}
