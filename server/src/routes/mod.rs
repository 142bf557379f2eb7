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
use crate::openapi::{self, ApiDoc};
use crate::realtime::{sync, ws};
use crate::state::AppState;
use axum::Router;
use mchat_shared::ErrorCode;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route the server answers, each registered with `routes!` from its
/// handler's `#[utoipa::path]` (method and path come from the attribute, so
/// the route and its documentation cannot disagree, and a handler without
/// one does not compile here). Handlers sharing a path share one `routes!`.
/// Nothing is added with plain `route`: `server/tests/openapi.rs` fails if
/// anything is.
pub fn api() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::default()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(me::get_me, me::patch_me))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(users::directory))
        .routes(routes!(users::get_user))
        .routes(routes!(conversations::list, conversations::create))
        .routes(routes!(conversations::get_one))
        .routes(routes!(conversations::accept))
        .routes(routes!(conversations::decline))
        .routes(routes!(conversations::complete))
        .routes(routes!(conversations::reopen))
        .routes(routes!(conversations::read))
        .routes(routes!(conversations::delivered))
        .routes(routes!(messages::list, messages::send))
        .routes(routes!(conversations::typing))
        .routes(routes!(settings::put_settings))
        .routes(routes!(
            message_actions::get_one,
            message_actions::edit,
            message_actions::delete
        ))
        .routes(routes!(message_actions::edits))
        .routes(routes!(message_actions::react_add, message_actions::react_remove))
        .routes(routes!(files::upload))
        .routes(routes!(files::download))
        .routes(routes!(search::search))
        .routes(routes!(templates::list))
        .routes(routes!(templates::put, templates::delete))
        .routes(routes!(scheduled::list, scheduled::create))
        .routes(routes!(scheduled::cancel))
        .routes(routes!(ws::upgrade))
        .routes(routes!(openapi::serve))
        .routes(routes!(info::info))
        .routes(routes!(sync::sync))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(admin::approve_mentor))
        .routes(routes!(admin::announce));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/v1", v1)
        .routes(routes!(health::healthz))
        .routes(routes!(health::metrics))
}

/// The router the server runs: [`api`] with the JSON 404 and 405 answers.
/// The document it collected is what `GET /v1/openapi.json` serves.
pub fn router(state: AppState) -> Router {
    let (router, doc) = api().split_for_parts();
    openapi::publish(&openapi::finish(doc));
    router
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
