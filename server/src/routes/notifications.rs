//! `GET /v1/notifications`, `POST /v1/notifications/read`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::openapi::responses::{Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{MarkNotificationsRead, MarkedRead, NotificationList, NotificationsQuery};

/// My notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", operation_id = "list_notifications", security(("bearer" = [])),
    params(NotificationsQuery),
    responses(
        (status = 200, description = "Notifications and the unread count", body = NotificationList),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    Query(q): Query<NotificationsQuery>,
) -> ApiResult<Json<NotificationList>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let (notifications, unread_count) = state
        .store
        .notifications(me.user_id, q.unread.unwrap_or(false), limit)
        .await?;
    Ok(Json(NotificationList {
        notifications,
        unread_count,
    }))
}

/// Mark notifications read: some ids, or all.
///
/// 404 when one of the ids is not a notification of mine.
#[utoipa::path(post, path = "/notifications/read", tag = "notifications", operation_id = "mark_notifications_read", security(("bearer" = [])),
    request_body = MarkNotificationsRead,
    responses(
        (status = 200, description = "How many were marked", body = MarkedRead),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn mark_read(
    State(state): State<AppState>,
    Auth(me): Auth,
    Json(req): Json<MarkNotificationsRead>,
) -> ApiResult<Json<MarkedRead>> {
    let ids = match (req.ids, req.all) {
        (Some(ids), None | Some(false)) if !ids.is_empty() && ids.len() <= 500 => Some(ids),
        (None, Some(true)) => None,
        _ => {
            return Err(ApiError::new(
                mchat_shared::ErrorCode::ValidationFailed,
                "give either \"ids\" (1 to 500 notification ids) or \"all\": true",
            ));
        }
    };
    let (marked, unread_count) = state.store.mark_notifications_read(me.user_id, ids).await?;
    Ok(Json(MarkedRead { marked, unread_count }))
}
