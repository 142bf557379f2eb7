//! `/v1/scheduled`: scheduled messages and reminders, each user's own.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::openapi::responses::{Conflict, Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::SignedDuration;
use mchat_shared::api::{
    CreateScheduledRequest, ScheduledItem, ScheduledKind, ScheduledList, ScheduledQuery,
};
use mchat_shared::limits::SCHEDULE_MAX_DAYS;
use mchat_shared::{ErrorCode, ScheduledId, Timestamp, validate};

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(ErrorCode::ValidationFailed, message);
    e.field = Some(field.to_string());
    e
}

/// Checks the request's shape and due time against `now`.
fn check(req: &CreateScheduledRequest, now: Timestamp) -> ApiResult<()> {
    match (req.kind, req.conversation_id) {
        (ScheduledKind::Message, None) => {
            return Err(invalid(
                "conversation_id",
                "a scheduled message needs a conversation_id",
            ));
        }
        (ScheduledKind::Reminder, Some(_)) => {
            return Err(invalid(
                "conversation_id",
                "a reminder is for yourself; it takes no conversation_id",
            ));
        }
        _ => {}
    }
    if req.due_at <= now {
        return Err(invalid(
            "due_at",
            "the time is in the past; pick a time in the future",
        ));
    }
    if req.due_at > now + SignedDuration::from_hours(SCHEDULE_MAX_DAYS * 24) {
        return Err(invalid(
            "due_at",
            format!("the time is too far ahead; at most {SCHEDULE_MAX_DAYS} days from now"),
        ));
    }
    Ok(())
}

/// My scheduled messages and reminders, by due time.
///
/// Pending ones; with `all=true`, also recent finished ones.
#[utoipa::path(get, path = "/scheduled", tag = "scheduled", operation_id = "list_scheduled", security(("bearer" = [])),
    params(ScheduledQuery),
    responses(
        (status = 200, description = "My items", body = ScheduledList),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<ScheduledQuery>,
) -> ApiResult<Json<ScheduledList>> {
    Ok(Json(ScheduledList {
        items: state.store.scheduled(me.user_id, q.all.unwrap_or(false)).await?,
    }))
}

/// Schedule a message or a reminder (idempotent by client_id).
///
/// A message needs a `conversation_id` of mine (404 otherwise), a reminder
/// has none; `due_at` is in the future, within the server's horizon. 409
/// when the `client_id` was used with another body.
#[utoipa::path(post, path = "/scheduled", tag = "scheduled", operation_id = "create_scheduled", security(("bearer" = [])),
    request_body(content = CreateScheduledRequest, example = json!({
        "kind": "message", "conversation_id": 42, "body": "standup in 5",
        "due_at": "2030-01-15T09:55:00Z", "client_id": "standup-2030-01-15"
    })),
    responses(
        (status = 201, description = "Scheduled", body = ScheduledItem),
        (status = 200, description = "Already scheduled with this client_id: the original", body = ScheduledItem),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(mut req): Json<CreateScheduledRequest>,
) -> ApiResult<(StatusCode, Json<ScheduledItem>)> {
    validate::client_id(&req.client_id)?;
    req.body = validate::message_body(&req.body)?;
    let now = Timestamp::now();
    // A retry that arrives after the item's time has passed still gets the
    // item it created; only new items must be in the future.
    if let Err(e) = check(&req, now) {
        if e.field.as_deref() != Some("due_at") {
            return Err(e);
        }
        return match state.store.find_scheduled_replay(me.user_id, req).await? {
            Some(item) => Ok((StatusCode::OK, Json(item))),
            None => Err(e),
        };
    }
    let (item, created) = state.store.create_scheduled(me.user_id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(item)))
}

/// Cancel a pending item.
///
/// 409 once it was sent or failed.
#[utoipa::path(delete, path = "/scheduled/{id}", tag = "scheduled", operation_id = "cancel_scheduled", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Scheduled item id")),
    responses(
        (status = 200, description = "The cancelled item", body = ScheduledItem),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ScheduledId>,
) -> ApiResult<Json<ScheduledItem>> {
    Ok(Json(state.store.cancel_scheduled(me.user_id, id).await?))
}
