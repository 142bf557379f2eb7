//! `/v1/templates`: saved replies, each user's own.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{PutTemplateRequest, Template, TemplateList};
use mchat_shared::validate;

pub async fn list(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<TemplateList>> {
    Ok(Json(TemplateList {
        templates: state.store.templates(me.user_id).await?,
    }))
}

/// `PUT /v1/templates/{name}`: 201 when new, 200 when replaced.
pub async fn put(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(name): Path<String>,
    Json(req): Json<PutTemplateRequest>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let name = validate::template_name(&name)?;
    let body = validate::message_body(&req.body)?;
    let (template, created) = state.store.put_template(me.user_id, name, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(template)))
}

/// `DELETE /v1/templates/{name}`: 204, or 404 when I have none of that name.
pub async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = validate::template_name(&name)?;
    state.store.delete_template(me.user_id, name).await?;
    Ok(StatusCode::NO_CONTENT)
}
