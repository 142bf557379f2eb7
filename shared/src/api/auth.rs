//! Registration, login and tokens.

use super::users::{Profile, Role, User};
use crate::{Timestamp, TokenId};
use serde::{Deserialize, Serialize};

/// `POST /v1/auth/register`. `role` is `mentor` or `mentee` (admins are made
/// with `mchatd admin create-user`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9][a-z0-9_.-]{2,31}$"))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub password: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub display_name: Option<String>,
    pub role: Role,
    /// Required when the server's registration mode is `invite`.
    #[serde(default)]
    pub invite_code: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
    /// A name for the token this registration returns (e.g. the device).
    #[serde(default)]
    pub token_name: Option<String>,
}

/// `POST /v1/auth/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub token_name: Option<String>,
}

/// Answer to register and login: the secret token (shown once) and who you are.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    pub token: String,
    pub token_id: TokenId,
    pub expires_at: Timestamp,
    pub user: User,
}

/// `POST /v1/tokens`: a named token for scripts and cron jobs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// Lifetime in days; the server's maximum applies.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A token as listed: never the secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    /// True for the token this request was made with.
    pub current: bool,
}

/// `GET /v1/tokens`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// `POST /v1/tokens` answer: the secret, shown once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenInfo,
}
