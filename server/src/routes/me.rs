//! `GET /v1/me`, `PATCH /v1/me`: my profile and availability.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;
use crate::store::ProfilePatch;
use axum::extract::State;
use mchat_shared::api::{UpdateMeRequest, User};
use mchat_shared::validate;

pub async fn get_me(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<User>> {
    Ok(Json(state.store.user_by_id(me.user_id).await?.user))
}

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
