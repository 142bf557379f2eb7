//! Bearer tokens: stored as SHA-256 hashes, expiring, revocable, listed per user.

use super::rows::{ts, ts_opt};
use super::{Store, StoreError, StoreResult, WriteCtx, now_ms};
use mchat_shared::api::{Role, TokenInfo};
use mchat_shared::{ErrorCode, TokenId, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// Who a request is from, resolved from its token.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub token_id: TokenId,
    /// When the token was last marked as used (to throttle that write).
    pub last_used_at: Option<i64>,
    /// When the token expires (ms since the epoch): long-lived requests and
    /// sockets end at this instant rather than at their next check.
    pub expires_at: i64,
}

fn info(row: &rusqlite::Row<'_>, current: Option<TokenId>) -> rusqlite::Result<TokenInfo> {
    let id = TokenId(row.get(0)?);
    Ok(TokenInfo {
        id,
        name: row.get(1)?,
        created_at: ts(row.get(2)?),
        last_used_at: ts_opt(row.get(3)?),
        expires_at: ts(row.get(4)?),
        current: current == Some(id),
    })
}

/// Stores a new token; returns its id.
fn insert(
    ctx: &WriteCtx<'_>,
    user_id: UserId,
    hash: &[u8],
    name: &str,
    expires_at: i64,
) -> StoreResult<TokenId> {
    ctx.conn.execute(
        "INSERT INTO tokens (user_id, hash, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id.0, hash, name, ctx.now, expires_at],
    )?;
    Ok(TokenId(ctx.conn.last_insert_rowid()))
}

/// The token just stored, as its owner sees it; `current` says whether it
/// is the token the caller will use (a login) or another one (a script's).
fn stored(conn: &Connection, id: TokenId, current: bool) -> StoreResult<TokenInfo> {
    Ok(conn.query_row(
        "SELECT id, name, created_at, last_used_at, expires_at FROM tokens WHERE id = ?1",
        [id.0],
        |r| info(r, current.then_some(id)),
    )?)
}

impl Store {
    /// A named token made with `POST /v1/tokens`: its name is unique among
    /// the user's live tokens (a script's token is found by name), and it
    /// is not the token of the request that made it (`current: false`).
    pub async fn create_named_token(
        &self,
        user_id: UserId,
        hash: Vec<u8>,
        name: String,
        expires_at: i64,
    ) -> StoreResult<TokenInfo> {
        self.write(move |ctx| {
            let taken: bool = ctx.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE user_id = ?1 AND name = ?2 \
                 AND revoked_at IS NULL AND expires_at > ?3)",
                params![user_id.0, name, ctx.now],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::api(
                    ErrorCode::NameTaken,
                    format!("you already have a token named {name:?}: revoke it first, or pick another name"),
                ));
            }
            let id = insert(ctx, user_id, &hash, &name, expires_at)?;
            stored(ctx.conn, id, false)
        })
        .await
    }

    pub async fn create_token(
        &self,
        user_id: UserId,
        hash: Vec<u8>,
        name: String,
        expires_at: i64,
    ) -> StoreResult<TokenInfo> {
        self.write(move |ctx| {
            let id = insert(ctx, user_id, &hash, &name, expires_at)?;
            stored(ctx.conn, id, true)
        })
        .await
    }

    /// Resolves a token hash to its user, if the token is live.
    pub async fn authenticate(&self, hash: Vec<u8>) -> StoreResult<Option<AuthContext>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT t.user_id, u.username, u.role, t.id, t.last_used_at, t.expires_at FROM tokens t \
                     JOIN users u ON u.id = t.user_id \
                     WHERE t.hash = ?1 AND t.revoked_at IS NULL AND t.expires_at > ?2",
                )?
                .query_row(params![hash, now_ms()], |r| {
                    Ok(AuthContext {
                        user_id: UserId(r.get(0)?),
                        username: r.get(1)?,
                        role: Role::parse(&r.get::<_, String>(2)?).unwrap_or(Role::Mentee),
                        token_id: TokenId(r.get(3)?),
                        last_used_at: r.get(4)?,
                        expires_at: r.get(5)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    /// Records that a token was used (called at most once a minute per token).
    pub async fn touch_token(&self, token: TokenId) -> StoreResult<()> {
        self.write(move |ctx| {
            ctx.conn.execute(
                "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
                params![token.0, ctx.now],
            )?;
            Ok(())
        })
        .await
    }

    /// The live tokens of a user, newest first.
    pub async fn list_tokens(&self, user_id: UserId, current: TokenId) -> StoreResult<Vec<TokenInfo>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, created_at, last_used_at, expires_at FROM tokens \
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id DESC",
            )?;
            let list = stmt
                .query_map(params![user_id.0, now_ms()], |r| info(r, Some(current)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(list)
        })
        .await
    }

    /// Revokes one of the user's own tokens; another user's token is "not found".
    pub async fn revoke_token(&self, user_id: UserId, token: TokenId) -> StoreResult<()> {
        self.write(move |ctx| {
            let n = ctx.conn.execute(
                "UPDATE tokens SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                params![token.0, user_id.0, ctx.now],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("token"));
            }
            Ok(())
        })
        .await
    }
}
