//! `/v1/templates`: saved replies, each user's own.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::openapi::responses::{Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{PutTemplateRequest, Template, TemplateList};
use mchat_shared::validate;

/// My saved replies, by name.
#[utoipa::path(get, path = "/templates", tag = "templates", operation_id = "list_templates", security(("bearer" = [])),
    responses(
        (status = 200, description = "My templates", body = TemplateList),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<TemplateList>> {
    Ok(Json(TemplateList {
        templates: state.store.templates(me.user_id).await?,
    }))
}

/// Create or replace a template.
///
/// 400 also when I have too many templates.
#[utoipa::path(put, path = "/templates/{name}", tag = "templates", operation_id = "put_template", security(("bearer" = [])),
    params(("name" = String, Path, description = "Letters, digits, '-' and '_'", pattern = r"^[A-Za-z0-9_-]{1,40}$")),
    request_body = PutTemplateRequest,
    responses(
        (status = 201, description = "Created", body = Template),
        (status = 200, description = "Replaced", body = Template),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
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

/// Delete a template.
#[utoipa::path(delete, path = "/templates/{name}", tag = "templates", operation_id = "delete_template", security(("bearer" = [])),
    params(("name" = String, Path, description = "Template name", pattern = r"^[A-Za-z0-9_-]{1,40}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = validate::template_name(&name)?;
    state.store.delete_template(me.user_id, name).await?;
    Ok(StatusCode::NO_CONTENT)
}
