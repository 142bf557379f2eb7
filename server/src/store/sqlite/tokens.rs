//! Tokens on SQLite: the `tokens` table (hash unique), joined to `users`
//! to resolve a request.

use super::SqliteConn;
use crate::store::data::{AuthContext, TokensRead, TokensWrite};
use crate::store::rows::{ts, ts_opt};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{Role, TokenInfo};
use mchat_shared::{TokenId, UserId};
use rusqlite::{OptionalExtension, params};

const INFO: &str = "SELECT id, name, created_at, last_used_at, expires_at FROM tokens";

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

impl<C: SqliteConn> TokensRead for C {
    fn token_by_hash(&self, hash: &[u8], now: i64) -> StoreResult<Option<AuthContext>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT t.user_id, u.username, u.role, t.id, t.last_used_at, t.expires_at FROM tokens t \
                 JOIN users u ON u.id = t.user_id \
                 WHERE t.hash = ?1 AND t.revoked_at IS NULL AND t.expires_at > ?2",
            )?
            .query_row(params![hash, now], |r| {
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
    }

    fn live_token_named(&self, user: UserId, name: &str, now: i64) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE user_id = ?1 AND name = ?2 \
             AND revoked_at IS NULL AND expires_at > ?3)",
            )?
            .query_row(params![user.0, name, now], |r| r.get(0))?)
    }

    fn token_info(&self, id: TokenId, current: bool) -> StoreResult<TokenInfo> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{INFO} WHERE id = ?1"))?
            .query_row([id.0], |r| info(r, current.then_some(id)))?)
    }

    fn token_live(&self, id: TokenId, now: i64) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM tokens WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2")?
            .query_row(params![id.0, now], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn live_tokens(&self, user: UserId, current: TokenId, now: i64) -> StoreResult<Vec<TokenInfo>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "{INFO} WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id DESC"
            ))?
            .query_map(params![user.0, now], |r| info(r, Some(current)))?
            .collect::<Result<Vec<_>, _>>()?)
    }
}

impl TokensWrite for WriteCtx<'_> {
    fn insert_token(
        &mut self,
        user: UserId,
        hash: &[u8],
        name: &str,
        expires_at: i64,
    ) -> StoreResult<TokenId> {
        self.conn
            .prepare_cached(
                "INSERT INTO tokens (user_id, hash, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![user.0, hash, name, self.now, expires_at])?;
        Ok(TokenId(self.conn.last_insert_rowid()))
    }

    fn touch_token(&mut self, id: TokenId) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?
            .execute(params![id.0, self.now])?;
        Ok(())
    }

    fn revoke_token(&mut self, user: UserId, id: TokenId) -> StoreResult<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE tokens SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![id.0, user.0, self.now])?;
        Ok(n > 0)
    }
}
