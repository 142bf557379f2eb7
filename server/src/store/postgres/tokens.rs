//! Tokens on PostgreSQL: the `tokens` table (hash unique), joined to
//! `users` to resolve a request.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{AuthContext, TokensRead, TokensWrite};
use crate::store::rows::{ts, ts_opt};
use mchat_shared::api::{Role, TokenInfo};
use mchat_shared::{TokenId, UserId};
use tokio_postgres::Row;

const INFO: &str = "SELECT id, name, created_at, last_used_at, expires_at FROM tokens";

fn info(row: &Row, current: Option<TokenId>) -> StoreResult<TokenInfo> {
    let id = TokenId(row.try_get(0)?);
    Ok(TokenInfo {
        id,
        name: row.try_get(1)?,
        created_at: ts(row.try_get(2)?),
        last_used_at: ts_opt(row.try_get(3)?),
        expires_at: ts(row.try_get(4)?),
        current: current == Some(id),
    })
}

impl TokensRead for PgTx<'_> {
    fn token_by_hash(&self, hash: &[u8], now: i64) -> StoreResult<Option<AuthContext>> {
        let row = self.wait(self.tx().query_opt(
            "SELECT t.user_id, u.username, u.role, t.id, t.last_used_at, t.expires_at FROM tokens t \
             JOIN users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2",
            &[&hash, &now],
        ))?;
        row.map(|r| {
            Ok(AuthContext {
                user_id: UserId(r.try_get(0)?),
                username: r.try_get(1)?,
                role: Role::parse(r.try_get::<_, &str>(2)?).unwrap_or(Role::Mentee),
                token_id: TokenId(r.try_get(3)?),
                last_used_at: r.try_get(4)?,
                expires_at: r.try_get(5)?,
            })
        })
        .transpose()
    }

    fn live_token_named(&self, user: UserId, name: &str, now: i64) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM tokens WHERE user_id = $1 AND name = $2 \
             AND revoked_at IS NULL AND expires_at > $3)",
            &[&user.0, &name, &now],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn token_info(&self, id: TokenId, current: bool) -> StoreResult<TokenInfo> {
        let row = self.wait(self.tx().query_one(&format!("{INFO} WHERE id = $1"), &[&id.0]))?;
        info(&row, current.then_some(id))
    }

    fn token_live(&self, id: TokenId, now: i64) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_opt(
            "SELECT 1 FROM tokens WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
            &[&id.0, &now],
        ))?;
        Ok(row.is_some())
    }

    fn live_tokens(&self, user: UserId, current: TokenId, now: i64) -> StoreResult<Vec<TokenInfo>> {
        let sql =
            format!("{INFO} WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC");
        self.wait(self.tx().query(&sql, &[&user.0, &now]))?
            .iter()
            .map(|r| info(r, Some(current)))
            .collect()
    }
}

impl TokensWrite for PgTx<'_> {
    fn insert_token(
        &mut self,
        user: UserId,
        hash: &[u8],
        name: &str,
        expires_at: i64,
    ) -> StoreResult<TokenId> {
        let row = self.wait(self.tx().query_one(
            "INSERT INTO tokens (user_id, hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
            &[&user.0, &hash, &name, &self.now, &expires_at],
        ))?;
        Ok(TokenId(row.try_get(0)?))
    }

    fn touch_token(&mut self, id: TokenId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE tokens SET last_used_at = $2 WHERE id = $1",
            &[&id.0, &self.now],
        ))?;
        Ok(())
    }

    fn revoke_token(&mut self, user: UserId, id: TokenId) -> StoreResult<bool> {
        let n = self.wait(self.tx().execute(
            "UPDATE tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            &[&id.0, &user.0, &self.now],
        ))?;
        if n > 0 {
            self.announce_revoked(&[id.0])?;
        }
        Ok(n > 0)
    }
}

impl PgTx<'_> {
    /// Tells every node, at COMMIT, that these tokens were revoked.
    pub(super) fn announce_revoked(&self, ids: &[i64]) -> StoreResult<()> {
        for payload in super::fanout::chunks(ids.iter().map(i64::to_string)) {
            self.wait(
                self.tx()
                    .execute("SELECT pg_notify($1, $2)", &[&super::fanout::REVOKED, &payload]),
            )?;
        }
        Ok(())
    }
}
