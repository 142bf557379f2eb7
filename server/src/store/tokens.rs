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

#[cfg(test)]
mod tests {
    //! The token rules on both backends: one story through `Store` on
    //! SQLite and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::Store;
    use crate::store::both_backends::{on_both, outcome};
    use mchat_shared::{ErrorCode, UserId};

    /// A login's and a script's tokens, told as lines (ids and names, no
    /// timestamps).
    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let far = crate::store::now_ms() + 3_600_000;
        let mut story = Vec::new();
        let login = store
            .create_token(me, vec![1; 32], "login".into(), far)
            .await
            .unwrap();
        story.push(format!("login token {} current {}", login.id, login.current));
        let cron = store
            .create_named_token(me, vec![2; 32], "cron".into(), far)
            .await
            .unwrap();
        story.push(format!("named token {} current {}", cron.id, cron.current));
        let again = store
            .create_named_token(me, vec![3; 32], "cron".into(), far)
            .await;
        story.push(outcome(again.map(|t| format!("named token {}", t.id))));
        let expired = store
            .create_token(me, vec![4; 32], "old".into(), crate::store::now_ms() - 1)
            .await
            .unwrap();
        for (what, hash) in [
            ("login", vec![1; 32]),
            ("unknown", vec![9; 32]),
            ("expired", vec![4; 32]),
        ] {
            let who = store.authenticate(hash).await.unwrap();
            story.push(match who {
                Some(a) => format!(
                    "{what} is user {} {} {:?} token {}",
                    a.user_id, a.username, a.role, a.token_id
                ),
                None => format!("{what} authenticates nobody"),
            });
        }
        let list = |store: Store| async move {
            let tokens = store.list_tokens(me, login.id).await.unwrap();
            let names: Vec<String> = tokens
                .iter()
                .map(|t| {
                    format!(
                        "{}{}{}",
                        t.name,
                        if t.current { "*" } else { "" },
                        if t.last_used_at.is_some() { "+used" } else { "" }
                    )
                })
                .collect();
            format!("live: {}", names.join(", "))
        };
        story.push(list(store.clone()).await);
        story.push(format!("expired token {} is not listed", expired.id));
        let theirs = store.revoke_token(other, cron.id).await;
        story.push(outcome(theirs.map(|()| "another user revoked cron".into())));
        store.revoke_token(me, cron.id).await.unwrap();
        story.push(format!(
            "after revoking: {:?}",
            store.authenticate(vec![2; 32]).await.unwrap().map(|a| a.token_id)
        ));
        let reused = store
            .create_named_token(me, vec![5; 32], "cron".into(), far)
            .await;
        story.push(outcome(
            reused.map(|t| format!("the name is free again: token {}", t.id)),
        ));
        store.touch_token(login.id).await.unwrap();
        story.push(list(store.clone()).await);
        story
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn tokens_behave_the_same_on_sqlite_and_postgres() {
        let story = on_both(story).await;
        let expect = ["login token 1 current true", "named token 2 current false"];
        assert_eq!(story[..2], expect, "{story:?}");
        assert!(
            story[2].starts_with(&format!("refused {:?}", ErrorCode::NameTaken)),
            "{story:?}"
        );
        assert_eq!(story[3], "login is user 1 mona Mentor token 1");
        assert_eq!(story[4], "unknown authenticates nobody");
        assert_eq!(story[5], "expired authenticates nobody");
        assert_eq!(story[6], "live: cron, login*");
        assert!(
            story[8].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
            "{story:?}"
        );
        assert_eq!(story[9], "after revoking: None");
        assert_eq!(story[10], "the name is free again: token 4");
        assert_eq!(story[11], "live: cron, login*+used");
    }
}
