//! `GET /v1/me`, `PATCH /v1/me`: my profile and availability.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::responses::{Forbidden, Invalid, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use crate::store::ProfilePatch;
use axum::extract::State;
use mchat_shared::api::{UpdateMeRequest, User};
use mchat_shared::validate;

/// Me: profile and availability.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, description = "My user", body = User),
        (status = 401, response = Unauthorized),
    ))]
pub async fn get_me(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<User>> {
    Ok(Json(state.store.user_by_id(me.user_id).await?.user))
}

/// Change my profile; absent fields stay, an empty string clears a text field.
///
/// Only mentors have an availability (403 otherwise); a display name too
/// similar to another user's name is a 400 on `display_name`.
#[utoipa::path(patch, path = "/me", tag = "account", security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "My user after the change", body = User),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn patch_me(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(req): Json<UpdateMeRequest>,
) -> ApiResult<Json<User>> {
    let line =
        |field: &'static str, v: Option<String>| v.map(|s| validate::profile_line(field, &s)).transpose();
    let patch = ProfilePatch {
        display_name: req.display_name.map(|n| validate::display_name(&n)).transpose()?,
        availability: req.availability,
        headline: line("headline", req.headline)?,
        experience: line("experience", req.experience)?,
        level: line("level", req.level)?,
        bio: req
            .bio
            .map(|b| validate::free_text("bio", &b, mchat_shared::limits::BIO_MAX))
            .transpose()?,
        expertise: req
            .expertise
            .map(|t| validate::tags("expertise", &t))
            .transpose()?,
        interests: req
            .interests
            .map(|t| validate::tags("interests", &t))
            .transpose()?,
    };
    let availability_changed = patch.availability.is_some();
    let user = state.store.update_profile(me.user_id, patch).await?;
    if availability_changed {
        crate::realtime::presence::availability_changed(&state, me.user_id);
    }
    Ok(Json(user))
}
