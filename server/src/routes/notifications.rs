//! `GET /v1/notifications`, `POST /v1/notifications/read`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{MarkNotificationsRead, MarkedRead, NotificationList, NotificationsQuery};

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
