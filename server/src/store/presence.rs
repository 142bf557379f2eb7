//! What the real-time layer asks of storage: who shares conversations with
//! whom, who is in a conversation, `last_seen`, and whether a token still
//! stands. Rules over the storage traits (`data/membership.rs`,
//! `data/presence.rs`); each backend has the SQL.

use super::rows::ts;
use super::{Backend, Store, StoreError, StoreResult, now_ms};
use mchat_shared::api::Availability;
use mchat_shared::realtime::PresenceState;
use mchat_shared::{ConversationId, Timestamp, TokenId, UserId};

pub use super::data::{Member, PresenceInfo};

/// What an online user shows: a mentor's availability, or plain online.
pub fn presence_state(availability: Option<Availability>) -> PresenceState {
    match availability {
        Some(Availability::Away) => PresenceState::Away,
        Some(Availability::Busy) => PresenceState::Busy,
        _ => PresenceState::Online,
    }
}

impl Store {
    /// Everyone who shares a conversation with `user`.
    pub async fn contacts(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        self.read_data(move |r| r.contacts(user)).await
    }

    /// The members of `conv`, if `me` is one of them; otherwise not found.
    pub async fn members(&self, me: UserId, conv: ConversationId) -> StoreResult<Vec<Member>> {
        self.read_data(move |r| {
            let ids = r.participants(conv)?;
            if !ids.contains(&me) {
                return Err(StoreError::not_found("conversation"));
            }
            ids.into_iter()
                .map(|id| {
                    Ok(Member {
                        id,
                        username: r.username(id)?,
                    })
                })
                .collect()
        })
        .await
    }

    pub async fn presence_info(&self, user: UserId) -> StoreResult<PresenceInfo> {
        self.read_data(move |r| r.presence_info(user)).await
    }

    /// Records that `user` was seen now (their last live connection closed).
    pub async fn touch_last_seen(&self, user: UserId) -> StoreResult<Timestamp> {
        self.write_data(move |tx| {
            tx.touch_last_seen(user)?;
            Ok(ts(tx.now()))
        })
        .await
    }

    /// This process as one of several nodes sharing the database, which
    /// then keeps presence for all of them (`postgres/nodes.rs`); `None`
    /// on SQLite, whose one node's hub knows presence alone.
    pub async fn join_nodes(&self, heartbeat_ms: u64) -> StoreResult<Option<super::postgres::Node>> {
        match &self.inner.backend {
            Backend::Sqlite { .. } => Ok(None),
            Backend::Postgres(pg) => pg.join(heartbeat_ms).await.map(Some),
        }
    }

    /// Whether a token is still live (not revoked, not expired).
    pub async fn token_live(&self, token: TokenId) -> StoreResult<bool> {
        self.read_data(move |r| r.token_live(token, now_ms())).await
    }
}

#[cfg(test)]
mod tests {
    //! Membership and presence on both backends: the same story through
    //! `Store` on SQLite and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::Store;
    use crate::store::both_backends::{CONVERSATION, on_both, outcome};
    use mchat_shared::{ConversationId, TokenId, UserId};

    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        lines.push(format!(
            "contacts {:?} {:?}",
            store.contacts(me).await.unwrap(),
            store.contacts(other).await.unwrap()
        ));
        let members = store.members(me, CONVERSATION).await.unwrap();
        let members: Vec<String> = members
            .iter()
            .map(|m| format!("{} {}", m.id, m.username))
            .collect();
        lines.push(format!("members {members:?}"));
        let nowhere = store
            .members(me, ConversationId(99))
            .await
            .map(|m| format!("{} members", m.len()));
        lines.push(outcome(nowhere));
        for user in [me, other] {
            let p = store.presence_info(user).await.unwrap();
            lines.push(format!(
                "{} {:?} seen {}",
                p.username,
                p.availability,
                p.last_seen.is_some()
            ));
        }
        let seen = store.touch_last_seen(other).await.unwrap();
        let p = store.presence_info(other).await.unwrap();
        lines.push(format!("seen as stored {}", p.last_seen == Some(seen)));
        let far = crate::store::now_ms() + 60_000;
        let token = store
            .create_token(me, vec![7; 32], "login".into(), far)
            .await
            .unwrap();
        lines.push(format!("live {}", store.token_live(token.id).await.unwrap()));
        store.revoke_token(me, token.id).await.unwrap();
        lines.push(format!(
            "after revoking {}",
            store.token_live(token.id).await.unwrap()
        ));
        lines.push(format!(
            "unknown {}",
            store.token_live(TokenId(999)).await.unwrap()
        ));
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn membership_and_presence_behave_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        assert_eq!(s[0], "contacts [UserId(2)] [UserId(1)]");
        assert_eq!(s[1], r#"members ["1 mona", "2 ana"]"#);
        assert!(s[2].starts_with("refused NotFound"), "{s:?}");
        assert_eq!(
            s[3..],
            [
                "mona Some(Available) seen false",
                "ana None seen false",
                "seen as stored true",
                "live true",
                "after revoking false",
                "unknown false",
            ]
        );
    }
}
