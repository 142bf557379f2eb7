//! Bearer tokens: stored as SHA-256 hashes, expiring, revocable, listed per
//! user. The rules live here, over the storage traits (`data/tokens.rs`);
//! each backend has the SQL (`sqlite/tokens.rs`, `postgres/tokens.rs`).

use super::data::AuthContext;
use super::{Store, StoreError, StoreResult, now_ms};
use mchat_shared::api::TokenInfo;
use mchat_shared::{ErrorCode, TokenId, UserId};

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
        self.write_data(move |tx| {
            if tx.live_token_named(user_id, &name, tx.now())? {
                return Err(StoreError::api(
                    ErrorCode::NameTaken,
                    format!("you already have a token named {name:?}: revoke it first, or pick another name"),
                ));
            }
            let id = tx.insert_token(user_id, &hash, &name, expires_at)?;
            tx.token_info(id, false)
        })
        .await
    }

    /// A login's token: the caller's own (`current: true`).
    pub async fn create_token(
        &self,
        user_id: UserId,
        hash: Vec<u8>,
        name: String,
        expires_at: i64,
    ) -> StoreResult<TokenInfo> {
        self.write_data(move |tx| {
            let id = tx.insert_token(user_id, &hash, &name, expires_at)?;
            tx.token_info(id, true)
        })
        .await
    }

    /// Resolves a token hash to its user, if the token is live.
    pub async fn authenticate(&self, hash: Vec<u8>) -> StoreResult<Option<AuthContext>> {
        self.read_data(move |r| r.token_by_hash(&hash, now_ms())).await
    }

    /// Records that a token was used (called at most once a minute per token).
    pub async fn touch_token(&self, token: TokenId) -> StoreResult<()> {
        self.write_data(move |tx| tx.touch_token(token)).await
    }

    /// The live tokens of a user, newest first.
    pub async fn list_tokens(&self, user_id: UserId, current: TokenId) -> StoreResult<Vec<TokenInfo>> {
        self.read_data(move |r| r.live_tokens(user_id, current, now_ms()))
            .await
    }

    /// Revokes one of the user's own tokens; another user's token is "not found".
    pub async fn revoke_token(&self, user_id: UserId, token: TokenId) -> StoreResult<()> {
        self.write_data(move |tx| {
            if !tx.revoke_token(user_id, token)? {
                return Err(StoreError::not_found("token"));
            }
            Ok(())
        })
        .await
    }
}
