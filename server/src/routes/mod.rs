//! The HTTP API under `/v1`, one module per resource, plus `/healthz` and `/metrics`.

mod admin;
mod auth;
mod conversations;
mod files;
mod health;
mod info;
mod me;
mod message_actions;
mod messages;
mod notifications;
mod scheduled;
mod search;
mod settings;
mod templates;
mod tokens;
mod users;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post, put};
use mchat_shared::ErrorCode;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(me::get_me).patch(me::patch_me))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/users", get(users::directory))
        .route("/users/{username}", get(users::get_user))
        .route(
            "/conversations",
            get(conversations::list).post(conversations::create),
        )
        .route("/conversations/{id}", get(conversations::get_one))
        .route("/conversations/{id}/accept", post(conversations::accept))
        .route("/conversations/{id}/decline", post(conversations::decline))
        .route("/conversations/{id}/complete", post(conversations::complete))
        .route("/conversations/{id}/reopen", post(conversations::reopen))
        .route("/conversations/{id}/read", post(conversations::read))
        .route("/conversations/{id}/delivered", post(conversations::delivered))
        .route(
            "/conversations/{id}/messages",
            get(messages::list).post(messages::send),
        )
        .route("/conversations/{id}/typing", post(conversations::typing))
        .route("/conversations/{id}/settings", put(settings::put_settings))
        .route(
            "/messages/{id}",
            get(message_actions::get_one)
                .patch(message_actions::edit)
                .delete(message_actions::delete),
        )
        .route("/messages/{id}/edits", get(message_actions::edits))
        .route(
            "/messages/{id}/reactions/{emoji}",
            put(message_actions::react_add).delete(message_actions::react_remove),
        )
        .route("/files", post(files::upload))
        .route("/files/{id}", get(files::download))
        .route("/search", get(search::search))
        .route("/templates", get(templates::list))
        .route("/templates/{name}", put(templates::put).delete(templates::delete))
        .route("/scheduled", get(scheduled::list).post(scheduled::create))
        .route("/scheduled/{id}", axum::routing::delete(scheduled::cancel))
        .route("/ws", get(crate::realtime::ws::upgrade))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/info", get(info::info))
        .route("/sync", get(crate::realtime::sync::sync))
        .route("/notifications", get(notifications::list))
        .route("/notifications/read", post(notifications::mark_read))
        .route("/admin/mentors/{username}/approve", put(admin::approve_mentor))
        .route("/admin/announcements", post(admin::announce));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not support that method",
    )
}
