//! `GET /v1/users` (the directory) and `GET /v1/users/{username}`.
//!
//! What a caller may see of others (unapproved mentors, `last_seen`) is
//! decided in the store (store/users.rs, `Viewer`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::openapi::responses::{Invalid, NotFound, Unauthorized};
use crate::state::AppState;
use crate::store::DirectoryFilter;
use axum::extract::State;
use mchat_shared::api::{DirectoryQuery, Role, User, UserList};
use mchat_shared::limits::DIRECTORY_MAX;
use mchat_shared::{ErrorCode, validate};

/// The directory: approved mentors and other users, filtered.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])),
    params(DirectoryQuery),
    responses(
        (status = 200, description = "Matching users", body = UserList),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
    ))]
pub async fn directory(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<DirectoryQuery>,
) -> ApiResult<Json<UserList>> {
    let q_text = q.q.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if q_text.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::invalid_query("q is limited to 100 characters"));
    }
    let available_only = q.available.unwrap_or(false);
    let filter = DirectoryFilter {
        role: if available_only {
            Some(Role::Mentor)
        } else {
            q.role
        },
        available_only,
        q: q_text,
        expertise: q
            .expertise
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty()),
        limit: q.limit.unwrap_or(DIRECTORY_MAX).clamp(1, DIRECTORY_MAX),
    };
    Ok(Json(UserList {
        users: state.store.directory(me.user_id, filter).await?,
    }))
}

/// One user's public profile.
#[utoipa::path(get, path = "/users/{username}", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path, description = "Username", pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(username): Path<String>,
) -> ApiResult<Json<User>> {
    let no_such = || ApiError::new(ErrorCode::NotFound, format!("no user named {username}"));
    let name = validate::username(&username).map_err(|_| no_such())?;
    let user = state
        .store
        .user_for(me.user_id, name)
        .await?
        .ok_or_else(no_such)?;
    Ok(Json(user))
}
