//! What the token rules (`store/tokens.rs`) need from storage: tokens by
//! hash, id, name and owner. Backends implement these; they decide nothing.

use crate::store::StoreResult;
use mchat_shared::api::{Role, TokenInfo};
use mchat_shared::{TokenId, UserId};

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

/// Reading tokens. `now` (ms since the epoch) decides what is still live.
pub trait TokensRead {
    /// The live token with this hash, and whose it is.
    fn token_by_hash(&self, hash: &[u8], now: i64) -> StoreResult<Option<AuthContext>>;
    /// Whether `user` has a live token named `name`.
    fn live_token_named(&self, user: UserId, name: &str, now: i64) -> StoreResult<bool>;
    /// One token as its owner sees it, `current` marking it as the caller's.
    fn token_info(&self, id: TokenId, current: bool) -> StoreResult<TokenInfo>;
    /// Whether token `id` is live (not revoked, not expired).
    fn token_live(&self, id: TokenId, now: i64) -> StoreResult<bool>;
    /// `user`'s live tokens, newest first; `current` is marked.
    fn live_tokens(&self, user: UserId, current: TokenId, now: i64) -> StoreResult<Vec<TokenInfo>>;
}

/// Changing tokens, inside the request's transaction.
pub trait TokensWrite: TokensRead {
    fn insert_token(
        &mut self,
        user: UserId,
        hash: &[u8],
        name: &str,
        expires_at: i64,
    ) -> StoreResult<TokenId>;
    /// Marks the token as used now.
    fn touch_token(&mut self, id: TokenId) -> StoreResult<()>;
    /// Revokes `user`'s live token `id`; whether there was one.
    fn revoke_token(&mut self, user: UserId, id: TokenId) -> StoreResult<bool>;
}
