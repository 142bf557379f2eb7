//! What the real-time layer asks of storage: who shares conversations with
//! whom, who is in a conversation, `last_seen`, and whether a token still
//! stands.

use super::conversations::participants;
use super::rows::ts;
use super::users::contacts;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{Availability, Role};
use mchat_shared::{ConversationId, Timestamp, TokenId, UserId};
use rusqlite::{OptionalExtension, params};

/// A participant of a conversation, as the hub needs it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: UserId,
    pub username: String,
}

/// What presence shows of a user.
#[derive(Debug, Clone)]
pub struct PresenceInfo {
    pub username: String,
    /// Mentors only.
    pub availability: Option<Availability>,
    pub last_seen: Option<Timestamp>,
}

impl Store {
    /// Everyone who shares a conversation with `user`.
    pub async fn contacts(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| contacts(conn, user)).await
    }

    /// The members of `conv`, if `me` is one of them; otherwise not found.
    pub async fn members(&self, me: UserId, conv: ConversationId) -> StoreResult<Vec<Member>> {
        self.read(move |conn| {
            let ids = participants(conn, conv)?;
            if !ids.contains(&me) {
                return Err(StoreError::not_found("conversation"));
            }
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let username = conn
                    .prepare_cached("SELECT username FROM users WHERE id = ?1")?
                    .query_row([id.0], |r| r.get(0))?;
                out.push(Member { id, username });
            }
            Ok(out)
        })
        .await
    }

    pub async fn presence_info(&self, user: UserId) -> StoreResult<PresenceInfo> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT username, role, availability, last_seen FROM users WHERE id = ?1")?
                .query_row([user.0], |r| {
                    let role = Role::parse(&r.get::<_, String>(1)?);
                    Ok(PresenceInfo {
                        username: r.get(0)?,
                        availability: if role == Some(Role::Mentor) {
                            Availability::parse(&r.get::<_, String>(2)?)
                        } else {
                            None
                        },
                        last_seen: r.get::<_, Option<i64>>(3)?.map(ts),
                    })
                })?)
        })
        .await
    }

    /// Records that `user` was seen now (their last live connection closed).
    pub async fn touch_last_seen(&self, user: UserId) -> StoreResult<Timestamp> {
        self.write(move |ctx| {
            ctx.conn.execute(
                "UPDATE users SET last_seen = ?2 WHERE id = ?1",
                params![user.0, ctx.now],
            )?;
            Ok(ts(ctx.now))
        })
        .await
    }

    /// Whether a token is still live (not revoked, not expired).
    pub async fn token_live(&self, token: TokenId) -> StoreResult<bool> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM tokens WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
                )?
                .query_row(params![token.0, super::now_ms()], |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }
}
