//! `POST /v1/auth/register | login | logout`.

use crate::auth::{Auth, TOKEN_PREFIX, new_secret, secret_hash};
use crate::client_ip::ClientIp;
use crate::config::RegistrationMode;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::openapi::responses::{
    Conflict, Forbidden, Invalid, RateLimited, TooLarge, Unauthorized, UnsupportedType,
};
use crate::state::AppState;
use crate::store::{NewUser, UserRecord};
use axum::extract::State;
use axum::http::StatusCode;
use mchat_shared::api::{self, AuthResponse, LoginRequest, Profile, RegisterRequest, Role};
use mchat_shared::{ErrorCode, validate};

/// Validates a profile as given at registration.
pub(super) fn validate_profile(p: Profile) -> Result<Profile, ApiError> {
    Ok(Profile {
        headline: p
            .headline
            .map(|h| validate::profile_line("headline", &h))
            .transpose()?
            .flatten(),
        experience: p
            .experience
            .map(|h| validate::profile_line("experience", &h))
            .transpose()?
            .flatten(),
        level: p
            .level
            .map(|h| validate::profile_line("level", &h))
            .transpose()?
            .flatten(),
        bio: p
            .bio
            .map(|b| validate::free_text("bio", &b, mchat_shared::limits::BIO_MAX))
            .transpose()?
            .flatten(),
        expertise: validate::tags("expertise", &p.expertise)?,
        interests: validate::tags("interests", &p.interests)?,
    })
}

/// Makes a login token for `user` and builds the answer.
pub(super) async fn issue_token(
    state: &AppState,
    user: UserRecord,
    name: Option<String>,
) -> ApiResult<AuthResponse> {
    let name = match name {
        Some(n) => validate::token_name(&n)?,
        None => "login".to_string(),
    };
    let (token, hash) = new_secret(TOKEN_PREFIX)?;
    let auth = &state.config.auth;
    let ttl_ms = auth
        .token_ttl_secs
        .map_or(i64::from(auth.token_ttl_days) * 86_400_000, |s| {
            i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
        });
    let info = state
        .store
        .create_token(user.id, hash, name, crate::store::now_ms().saturating_add(ttl_ms))
        .await?;
    Ok(AuthResponse {
        token,
        token_id: info.id,
        expires_at: info.expires_at,
        user: user.user,
    })
}

/// Register an account and get a token.
///
/// Open or invite registration depending on the server's configuration. 403
/// when registration is closed, the invite code is wrong, or the role is
/// `admin`; 409 when the username is taken or too similar to an existing
/// name (a display name too similar to another user's name is a 400 on
/// `display_name`).
#[utoipa::path(post, path = "/auth/register", tag = "auth",
    request_body(content = RegisterRequest, example = json!({
        "username": "ana", "password": "correct horse battery", "display_name": "Ana Lima",
        "role": "mentee", "profile": {"level": "2nd year CS", "interests": ["rust", "databases"]},
        "token_name": "laptop"
    })),
    responses(
        (status = 201, description = "Registered; the token is shown once", body = AuthResponse),
        (status = 400, response = Invalid),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
        (status = 429, response = RateLimited),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(req): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    state.limits.check_auth(client)?;
    let invite = match state.config.registration.mode {
        RegistrationMode::Closed => {
            return Err(ApiError::new(
                ErrorCode::RegistrationClosed,
                "registration is closed on this server; ask an admin for an account",
            ));
        }
        RegistrationMode::Invite => {
            let code = req
                .invite_code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::RegistrationClosed,
                        "this server needs an invite code to register",
                    )
                })?;
            Some(secret_hash(code))
        }
        RegistrationMode::Open => None,
    };
    let username = validate::username(&req.username)?;
    validate::password(&req.password)?;
    let display_name = validate::display_name(req.display_name.as_deref().unwrap_or(&username))?;
    if req.role == Role::Admin {
        return Err(ApiError::forbidden(
            "admin accounts are made with 'mchatd admin create-user'",
        ));
    }
    let profile = validate_profile(req.profile.unwrap_or_default())?;
    let password_hash = state.passwords.hash(req.password).await?;
    let user = state
        .store
        .create_user(
            NewUser {
                username,
                display_name,
                role: req.role,
                password_hash,
                profile,
                mentor_approved: req.role == Role::Mentor
                    && !state.config.registration.require_mentor_approval,
            },
            invite,
        )
        .await?;
    let resp = issue_token(&state, user, req.token_name).await?;
    Ok((StatusCode::CREATED, Json(resp)))
}

/// Log in and get a new token.
///
/// A wrong username and a wrong password get the same 401
/// (`invalid_credentials`).
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content = LoginRequest, example = json!({
        "username": "ana", "password": "correct horse battery", "token_name": "laptop"
    })),
    responses(
        (status = 200, description = "Logged in; the token is shown once", body = AuthResponse),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
        (status = 429, response = RateLimited),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    state.limits.check_auth(client)?;
    let username = validate::username(&req.username).unwrap_or_default();
    let found = if username.is_empty() {
        None
    } else {
        state.store.password_hash(username).await?
    };
    let (id, hash) = match found {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(req.password, hash).await?;
    let Some(id) = id.filter(|_| ok) else {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    let user = state.store.user_by_id(id).await?;
    Ok(Json(issue_token(&state, user, req.token_name).await?))
}

/// Revoke the token this request was made with.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Token revoked", body = api::Ok),
        (status = 401, response = Unauthorized),
    ))]
pub async fn logout(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<Json<api::Ok>> {
    state.store.revoke_token(me.user_id, me.token_id).await?;
    state.hub.close_token(me.token_id);
    Ok(Json(api::Ok { ok: true }))
}
