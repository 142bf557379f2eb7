//! `/v1/scheduled`: scheduled messages and reminders, each user's own.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
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

/// `GET /v1/scheduled?all=`: my pending items (with `all=true`, also recent finished ones).
pub async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<ScheduledQuery>,
) -> ApiResult<Json<ScheduledList>> {
    Ok(Json(ScheduledList {
        items: state.store.scheduled(me.user_id, q.all.unwrap_or(false)).await?,
    }))
}

/// `POST /v1/scheduled`: 201 new, 200 a replay of the same `client_id`.
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

/// `DELETE /v1/scheduled/{id}`: the cancelled item (409 once it was sent).
pub async fn cancel(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<ScheduledId>,
) -> ApiResult<Json<ScheduledItem>> {
    Ok(Json(state.store.cancel_scheduled(me.user_id, id).await?))
}
