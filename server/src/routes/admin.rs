//! Admin-only endpoints: approving mentors and announcements. The same
//! operations are available offline as `mchatd admin ...`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
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

pub async fn approve_mentor(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(username): Path<String>,
) -> ApiResult<Json<User>> {
    require_admin(me.role)?;
    let name = validate::username(&username)?;
    Ok(Json(state.store.approve_mentor(name).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    pub body: String,
}

#[derive(Debug, Serialize)]
pub struct Announced {
    pub recipients: u32,
}

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
