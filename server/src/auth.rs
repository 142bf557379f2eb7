//! Authentication: argon2id password hashing (off the async workers, with a
//! cap on concurrent hashes), bearer tokens, and the [`Auth`] extractor.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuthContext, now_ms};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// The prefix of every token, so secrets are recognisable in logs and by scanners.
pub const TOKEN_PREFIX: &str = "mct_";

/// Password hashing with explicit argon2id parameters (m = 19456 KiB, t = 2, p = 1).
pub struct Passwords {
    permits: Semaphore,
    /// Verified against when the username does not exist, so both cases take as long.
    dummy_hash: String,
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants known to be valid; fall back to the
    // library defaults (which are these same values) rather than panic.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, ApiError> {
    // A fresh 16-byte salt from the OS random source.
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> Result<Passwords, ApiError> {
        Ok(Passwords {
            permits: Semaphore::new(max_concurrent.max(1)),
            dummy_hash: hash_now("dummy password for timing")?,
        })
    }

    /// Hashes on the blocking pool, at most `max_concurrent` at once.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(|_| ApiError::internal())?
    }

    /// Verifies on the blocking pool. `hash: None` (unknown user) still costs a verification.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| ApiError::internal())?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = tokio::task::spawn_blocking(move || {
            // A hash that does not parse verifies nothing.
            argon2()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|_| ApiError::internal())?;
        Ok(ok && known)
    }
}

/// Hashes a password synchronously (admin commands, outside the server runtime).
pub fn hash_password_blocking(password: &str) -> Result<String, ApiError> {
    hash_now(password)
}

/// A new random secret (256 bits) and the hash to store for it. A failing OS
/// random source is an internal error, never a weaker secret or a panic.
pub fn new_secret(prefix: &str) -> Result<(String, Vec<u8>), ApiError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "the OS random source failed");
        ApiError::internal()
    })?;
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = secret_hash(&secret);
    Ok((secret, hash))
}

pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The authenticated caller. Missing, malformed, unknown, revoked or expired
/// tokens are all answered with 401.
#[derive(Debug, Clone)]
pub struct Auth(pub AuthContext);

/// Authenticates the `Authorization: Bearer` header, if there is one:
/// `Ok(None)` without a header; 401 for a malformed, unknown, revoked or
/// expired token. Records the token's use (at most once a minute, without
/// making the request wait).
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<AuthContext>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be 'Bearer <token>'"))?;
    let ctx = state
        .store
        .authenticate(secret_hash(token))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("the token is not valid (unknown, revoked or expired); log in again")
        })?;
    if ctx.last_used_at.is_none_or(|t| now_ms() - t > 60_000) {
        let store = state.store.clone();
        let id = ctx.token_id;
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(id).await {
                tracing::debug!(error = %e, "could not record token use");
            }
        });
    }
    Ok(Some(ctx))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        from_headers(state, &parts.headers)
            .await?
            .map(Auth)
            .ok_or_else(|| ApiError::unauthorized("log in first: this request needs a token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PHC string from another argon2id implementation (argon2-cffi) with our
    /// parameters: hashes stored by earlier mchatd builds (argon2 0.5) look the same.
    const STORED: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$F+GWO6IllJXNJPvRPf5vfA$EyXNmlOpl+nTW/6bZESj0bEp0gxkDsjxrSHT734zpn0";

    #[tokio::test]
    async fn stored_hashes_still_verify_and_new_ones_use_our_parameters() {
        let p = Passwords::new(1).unwrap();
        let right = "correct horse battery staple".to_string();
        assert!(p.verify(right.clone(), Some(STORED.into())).await.unwrap());
        assert!(!p.verify("wrong".into(), Some(STORED.into())).await.unwrap());
        assert!(!p.verify(right.clone(), Some("not a hash".into())).await.unwrap());
        assert!(
            !p.verify(right.clone(), None).await.unwrap(),
            "an unknown user never verifies"
        );

        let fresh = p.hash(right.clone()).await.unwrap();
        assert!(fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{fresh}");
        assert_ne!(
            fresh,
            p.hash(right.clone()).await.unwrap(),
            "every hash has its own salt"
        );
        assert!(p.verify(right, Some(fresh)).await.unwrap());
    }

    #[test]
    fn secrets_are_fresh_and_hashed_as_stored() {
        let (a, hash) = new_secret(TOKEN_PREFIX).unwrap();
        let (b, _) = new_secret(TOKEN_PREFIX).unwrap();
        assert!(
            a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(hash, secret_hash(&a));
        // SHA-256 of "abc" (FIPS 180-2): the digest stored for tokens did not change.
        let abc = secret_hash("abc");
        assert_eq!(abc[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(abc.len(), 32);
    }
}
