//! Membership and presence on PostgreSQL: `participants` and `users`.

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{MembershipRead, PresenceInfo, PresenceRead, PresenceWrite};
use crate::store::rows::ts;
use mchat_shared::api::{Availability, Role};
use mchat_shared::{ConversationId, UserId};

fn ids(rows: &[tokio_postgres::Row]) -> StoreResult<Vec<UserId>> {
    rows.iter().map(|r| Ok(UserId(r.try_get(0)?))).collect()
}

impl MembershipRead for PgTx<'_> {
    fn participants(&self, conv: ConversationId) -> StoreResult<Vec<UserId>> {
        let rows = self.wait(self.tx().query(
            "SELECT user_id FROM participants WHERE conversation_id = $1 ORDER BY user_id",
            &[&conv.0],
        ))?;
        ids(&rows)
    }

    fn contacts(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        let rows = self.wait(self.tx().query(
            "SELECT DISTINCT p2.user_id FROM participants p1 \
             JOIN participants p2 ON p2.conversation_id = p1.conversation_id AND p2.user_id != p1.user_id \
             WHERE p1.user_id = $1",
            &[&user.0],
        ))?;
        ids(&rows)
    }

    fn username(&self, user: UserId) -> StoreResult<String> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT username FROM users WHERE id = $1", &[&user.0]),
        )?;
        Ok(row.try_get(0)?)
    }
}

impl PresenceRead for PgTx<'_> {
    fn online_on_a_node(&self, user: UserId) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS (SELECT 1 FROM node_sockets s JOIN nodes n ON n.id = s.node_id \
             WHERE s.user_id = $1 AND s.sockets > 0 AND n.expires_at > $2)",
            &[&user.0, &self.now],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn presence_info(&self, user: UserId) -> StoreResult<PresenceInfo> {
        let r = self.wait(self.tx().query_one(
            "SELECT username, role, availability, last_seen FROM users WHERE id = $1",
            &[&user.0],
        ))?;
        let role = Role::parse(r.try_get::<_, &str>(1)?);
        Ok(PresenceInfo {
            username: r.try_get(0)?,
            availability: if role == Some(Role::Mentor) {
                Availability::parse(r.try_get::<_, &str>(2)?)
            } else {
                None
            },
            last_seen: r.try_get::<_, Option<i64>>(3)?.map(ts),
        })
    }
}

impl PresenceWrite for PgTx<'_> {
    fn touch_last_seen(&mut self, user: UserId) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE users SET last_seen = $2 WHERE id = $1",
            &[&user.0, &self.now],
        ))?;
        Ok(())
    }
}
