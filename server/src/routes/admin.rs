//! Admin-only endpoints: approving mentors and announcements. The same
//! operations are available offline as `mchatd admin ...`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::openapi::responses::{Forbidden, Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{Role, User};
use mchat_shared::validate;
use serde::{Deserialize, Serialize};

fn require_admin(role: Role) -> ApiResult<()> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins can do that"))
    }
}

/// Approve a mentor, so they are listed and can be requested.
#[utoipa::path(put, path = "/admin/mentors/{username}/approve", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path, description = "The mentor's username", pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$")),
    responses(
        (status = 200, description = "The mentor after approval", body = User),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ))]
pub async fn approve_mentor(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(username): Path<String>,
) -> ApiResult<Json<User>> {
    require_admin(me.role)?;
    let name = validate::username(&username)?;
    Ok(Json(state.store.approve_mentor(name).await?))
}

/// `POST /v1/admin/announcements`: a notification to every user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    /// Same rules as a message body.
    pub body: String,
}

/// How many users the announcement reached.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Announced {
    pub recipients: u32,
}

/// Send an announcement notification to every user.
#[utoipa::path(post, path = "/admin/announcements", tag = "admin", security(("bearer" = [])),
    request_body = Announcement,
    responses(
        (status = 200, description = "How many users it reached", body = Announced),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn announce(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(req): Json<Announcement>,
) -> ApiResult<Json<Announced>> {
    require_admin(me.role)?;
    let body = validate::message_body(&req.body)?;
    Ok(Json(Announced {
        recipients: state.store.announce(body).await?,
    }))
}
