//! Membership and presence on SQLite: `participants` and `users`.

use super::SqliteConn;
use crate::store::data::{MembershipRead, PresenceInfo, PresenceRead, PresenceWrite};
use crate::store::rows::ts;
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::api::{Availability, Role};
use mchat_shared::{ConversationId, UserId};
use rusqlite::params;

impl<C: SqliteConn> MembershipRead for C {
    fn participants(&self, conv: ConversationId) -> StoreResult<Vec<UserId>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT user_id FROM participants WHERE conversation_id = ?1 ORDER BY user_id")?
            .query_map([conv.0], |r| r.get(0).map(UserId))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn contacts(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT p2.user_id FROM participants p1 \
                 JOIN participants p2 ON p2.conversation_id = p1.conversation_id AND p2.user_id != p1.user_id \
                 WHERE p1.user_id = ?1",
            )?
            .query_map([user.0], |r| r.get(0).map(UserId))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn username(&self, user: UserId) -> StoreResult<String> {
        Ok(self
            .conn()
            .prepare_cached("SELECT username FROM users WHERE id = ?1")?
            .query_row([user.0], |r| r.get(0))?)
    }
}

impl<C: SqliteConn> PresenceRead for C {
    fn online_on_a_node(&self, _user: UserId) -> StoreResult<bool> {
        Ok(false)
    }

    fn presence_info(&self, user: UserId) -> StoreResult<PresenceInfo> {
        Ok(self
            .conn()
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
    }
}

impl PresenceWrite for WriteCtx<'_> {
    fn touch_last_seen(&mut self, user: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE users SET last_seen = ?2 WHERE id = ?1")?
            .execute(params![user.0, self.now])?;
        Ok(())
    }
}
