//! `GET /v1/info` (no token): the server's version and the limits it holds
//! requests to, so a client can refuse an oversized or unaccepted upload
//! before sending a byte of it (a server that stops reading a body it
//! refused can otherwise only answer a client that is still sending with a
//! reset). Everything here is in the config or the protocol; nothing is
//! secret.

use crate::extract::Json;
use crate::state::AppState;
use axum::extract::State;
use mchat_shared::api::{ServerInfo, ServerLimits};
use mchat_shared::limits;

/// The server's version and the limits requests are held to (no token needed).
#[utoipa::path(get, path = "/info", tag = "meta", operation_id = "server_info",
    responses((status = 200, description = "Version and limits", body = ServerInfo)))]
pub async fn info(State(state): State<AppState>) -> Json<ServerInfo> {
    let files = &state.config.files;
    Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        limits: ServerLimits {
            message_max_chars: limits::MESSAGE_MAX_CHARS as u64,
            file_max_bytes: files.max_bytes,
            file_allowed_types: files.allowed_types.clone(),
            file_name_max_chars: limits::FILE_NAME_MAX_CHARS as u64,
            body_max_bytes: state.config.limits.max_body_bytes as u64,
        },
    })
}
