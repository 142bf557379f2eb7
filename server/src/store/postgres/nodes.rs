//! Presence across nodes on PostgreSQL (docs/STORAGE.md): how many live
//! connections of each user every node holds (`node_sockets`), each node's
//! heartbeat (`nodes`), and the ephemeral signals (presence, typing) that
//! every node relays to its own connections (NOTIFY [`SIGNALS`]).
//!
//! A user is online while live nodes hold at least one connection of
//! theirs. A change to a user's count runs in a transaction that first
//! locks the user's row, so one user's changes take turns; the transition
//! (offline → online, online → offline) is decided on the counts as they
//! commit, and its presence signal is NOTIFYed in the same transaction, so
//! every node delivers it at COMMIT, in commit order: the last word anyone
//! hears is the true one.
//!
//! A node renews its row with every heartbeat and, at the same time, sets
//! its counts to what its hub holds (healing whatever a failed write left).
//! A node that stops renewing (killed, cut off) is past `expires_at` after
//! three heartbeats; the first node to notice deletes it, and its users who
//! are connected nowhere else go offline.

use super::tx::{self, Mode, PgTx};
use crate::store::data::{MembershipRead, PresenceRead, PresenceWrite};
use crate::store::presence::presence_state;
use crate::store::rows::ts;
use crate::store::{StoreError, StoreResult};
use deadpool_postgres::Pool;
use mchat_shared::UserId;
use mchat_shared::realtime::{PresenceState, Signal};
use std::collections::HashMap;

/// The channel every node listens on for signals: `ids json`, the
/// recipients' ids comma-separated, a space, and the frame to send them.
pub const SIGNALS: &str = "mchat_signals";

/// How many heartbeats a node may miss before it counts as gone.
const MISSED_HEARTBEATS: i64 = 3;

/// This process as one of the nodes serving the database: a cheap handle.
#[derive(Clone)]
pub struct Node {
    pool: Pool,
    /// The node's row in `nodes`: random, so a restarted process is a new
    /// node and never inherits the counts of the one it replaces.
    id: i64,
    /// Milliseconds between heartbeats.
    heartbeat_ms: i64,
}

impl Node {
    /// Records this process as a live node.
    pub(super) async fn join(pool: Pool, heartbeat_ms: u64) -> StoreResult<Node> {
        let node = Node {
            pool,
            id: rand::random::<i64>() & i64::MAX,
            heartbeat_ms: i64::try_from(heartbeat_ms.max(1)).unwrap_or(i64::MAX / 8),
        };
        let (id, life) = (node.id, node.life());
        tx::run(&node.pool, Mode::Write, move |tx| renew(tx, id, life).map(|_| ())).await?;
        Ok(node)
    }

    /// How long a heartbeat keeps the node alive.
    fn life(&self) -> i64 {
        self.heartbeat_ms.saturating_mul(MISSED_HEARTBEATS)
    }

    /// Milliseconds between heartbeats.
    pub fn heartbeat_ms(&self) -> u64 {
        u64::try_from(self.heartbeat_ms).unwrap_or(1)
    }

    /// Whether other nodes are alive now (a starting node then leaves what
    /// they may be using alone).
    pub async fn others_alive(&self) -> StoreResult<bool> {
        let node = self.id;
        tx::run(&self.pool, Mode::Read, move |tx| {
            let row = tx.wait(tx.tx().query_one(
                "SELECT EXISTS (SELECT 1 FROM nodes WHERE id <> $1 AND expires_at > $2)",
                &[&node, &tx.now],
            ))?;
            Ok(row.try_get(0)?)
        })
        .await
    }

    /// One more (`delta` = 1) or one fewer (-1) live connection of `user`
    /// here; tells their contacts when that changes whether they are online.
    pub async fn sockets_changed(&self, user: UserId, delta: i32) -> StoreResult<()> {
        self.recount(
            user,
            "INSERT INTO node_sockets (user_id, node_id, sockets) VALUES ($1, $2, GREATEST($3, 0)) \
             ON CONFLICT (user_id, node_id) \
             DO UPDATE SET sockets = GREATEST(node_sockets.sockets + $3, 0)",
            delta,
        )
        .await
    }

    /// Tells `user`'s contacts their presence again if they are online (a
    /// mentor changed availability, or someone new became a contact).
    pub async fn announce(&self, user: UserId) -> StoreResult<()> {
        self.write(move |tx| {
            if lock_user(tx, user)? && live_sockets(tx, user)? > 0 {
                tell_contacts(tx, user, true)?;
            }
            Ok(())
        })
        .await
    }

    /// The presence of each of `users` who is online on some node.
    pub async fn online_presence(&self, users: Vec<UserId>) -> StoreResult<Vec<Signal>> {
        tx::run(&self.pool, Mode::Read, move |tx| {
            let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
            let rows = tx.wait(tx.tx().query(
                "SELECT DISTINCT s.user_id FROM node_sockets s JOIN nodes n ON n.id = s.node_id \
                 WHERE s.user_id = ANY($1) AND s.sockets > 0 AND n.expires_at > $2",
                &[&ids, &tx.now],
            ))?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let info = tx.presence_info(UserId(row.try_get(0)?))?;
                out.push(Signal::Presence {
                    username: info.username,
                    state: presence_state(info.availability),
                    last_seen: None,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Sends `frame` to the live connections of `users` on every node.
    pub async fn signal(&self, users: Vec<UserId>, frame: std::sync::Arc<str>) -> StoreResult<()> {
        self.write(move |tx| notify(tx, &users, &frame)).await
    }

    /// Renews this node's row and sets its counts to `local` (what its hub
    /// holds), then clears nodes that stopped renewing theirs. A node whose
    /// row was cleared (it could not renew in time) joins again.
    pub async fn heartbeat(&self, local: HashMap<UserId, i64>) -> StoreResult<()> {
        let (node, life) = (self.id, self.life());
        let recorded: HashMap<UserId, i64> = self
            .write(move |tx| {
                if renew(tx, node, life)? {
                    tracing::warn!("this node's heartbeat had lapsed; it joined again");
                }
                let rows = tx.wait(tx.tx().query(
                    "SELECT user_id, sockets FROM node_sockets WHERE node_id = $1",
                    &[&node],
                ))?;
                rows.iter()
                    .map(|r| Ok((UserId(r.try_get(0)?), i64::from(r.try_get::<_, i32>(1)?))))
                    .collect()
            })
            .await?;
        let mut users: Vec<UserId> = recorded.keys().chain(local.keys()).copied().collect();
        users.sort();
        users.dedup();
        for user in users {
            let want = local.get(&user).copied().unwrap_or(0);
            if recorded.get(&user).copied().unwrap_or(0) != want {
                self.set_sockets(user, want).await?;
            }
        }
        let now = crate::store::now_ms();
        let gone: Vec<i64> = tx::run(&self.pool, Mode::Read, move |tx| {
            let rows = tx.wait(tx.tx().query(
                "SELECT id FROM nodes WHERE expires_at <= $1 AND id <> $2",
                &[&now, &node],
            ))?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
        .await?;
        for id in gone {
            self.write(move |tx| clear_node(tx, id, Some(now))).await?;
        }
        Ok(())
    }

    /// Leaves the cluster (a clean shutdown): this node's users who are
    /// connected nowhere else go offline at once, not a few heartbeats later.
    pub async fn leave(&self) -> StoreResult<()> {
        let node = self.id;
        self.write(move |tx| clear_node(tx, node, None)).await
    }

    async fn set_sockets(&self, user: UserId, count: i64) -> StoreResult<()> {
        self.recount(
            user,
            "INSERT INTO node_sockets (user_id, node_id, sockets) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, node_id) DO UPDATE SET sockets = $3",
            i32::try_from(count).unwrap_or(i32::MAX),
        )
        .await
    }

    /// Changes this node's count of `user` with `upsert` (`$1` the user,
    /// `$2` the node, `$3` the value), under the user's lock, and tells
    /// their contacts when that took them online or offline.
    async fn recount(&self, user: UserId, upsert: &'static str, value: i32) -> StoreResult<()> {
        let node = self.id;
        self.write(move |tx| {
            if !lock_user(tx, user)? {
                return Ok(());
            }
            let before = live_sockets(tx, user)?;
            tx.wait(tx.tx().execute(upsert, &[&user.0, &node, &value]))?;
            let after = live_sockets(tx, user)?;
            transition(tx, user, before, after)
        })
        .await
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut PgTx<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        tx::run(&self.pool, Mode::Write, f).await
    }
}

/// Renews (or recreates) the node's row; true when it had to be recreated.
fn renew(tx: &mut PgTx<'_>, node: i64, life: i64) -> StoreResult<bool> {
    let until = tx.now.saturating_add(life);
    let renewed = tx.wait(
        tx.tx()
            .execute("UPDATE nodes SET expires_at = $2 WHERE id = $1", &[&node, &until]),
    )?;
    if renewed == 0 {
        tx.wait(tx.tx().execute(
            "INSERT INTO nodes (id, started_at, expires_at) VALUES ($1, $2, $3)",
            &[&node, &tx.now, &until],
        ))?;
    }
    Ok(renewed == 0)
}

/// Locks `user`'s row, so changes to their presence take turns; false when
/// the user no longer exists.
fn lock_user(tx: &mut PgTx<'_>, user: UserId) -> StoreResult<bool> {
    let row = tx.wait(
        tx.tx()
            .query_opt("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&user.0]),
    )?;
    Ok(row.is_some())
}

/// `user`'s live connections on the nodes that are alive.
fn live_sockets(tx: &mut PgTx<'_>, user: UserId) -> StoreResult<i64> {
    let row = tx.wait(tx.tx().query_one(
        "SELECT COALESCE(SUM(s.sockets), 0)::BIGINT FROM node_sockets s \
         JOIN nodes n ON n.id = s.node_id WHERE s.user_id = $1 AND n.expires_at > $2",
        &[&user.0, &tx.now],
    ))?;
    Ok(row.try_get(0)?)
}

/// Tells `user`'s contacts when the count going from `before` to `after`
/// took them online or offline.
fn transition(tx: &mut PgTx<'_>, user: UserId, before: i64, after: i64) -> StoreResult<()> {
    match (before > 0, after > 0) {
        (false, true) => tell_contacts(tx, user, true),
        (true, false) => tell_contacts(tx, user, false),
        _ => Ok(()),
    }
}

/// `user`'s presence, NOTIFYed to their contacts; going offline records
/// `last_seen`.
fn tell_contacts(tx: &mut PgTx<'_>, user: UserId, online: bool) -> StoreResult<()> {
    let last_seen = if online {
        None
    } else {
        tx.touch_last_seen(user)?;
        Some(ts(tx.now))
    };
    let info = tx.presence_info(user)?;
    let contacts = tx.contacts(user)?;
    let signal = Signal::Presence {
        username: info.username,
        state: if online {
            presence_state(info.availability)
        } else {
            PresenceState::Offline
        },
        last_seen,
    };
    let frame = serde_json::to_string(&signal)
        .map_err(|e| StoreError::Internal(format!("a presence signal does not serialise: {e}")))?;
    notify(tx, &contacts, &frame)
}

/// NOTIFYs `frame` for `users`, in as many payloads as the ids need.
fn notify(tx: &mut PgTx<'_>, users: &[UserId], frame: &str) -> StoreResult<()> {
    let room = super::fanout::PAYLOAD_MAX.saturating_sub(frame.len() + 1).max(32);
    for ids in super::fanout::chunks_within(users.iter().map(|u| u.0.to_string()), room) {
        let payload = format!("{ids} {frame}");
        tx.wait(tx.tx().execute("SELECT pg_notify($1, $2)", &[&SIGNALS, &payload]))?;
    }
    Ok(())
}

/// Deletes node `id` and its counts (only if still past its expiry at
/// `expired_at`, when given: another node may have cleared it already, or
/// it renewed meanwhile); its users connected nowhere else go offline.
fn clear_node(tx: &mut PgTx<'_>, id: i64, expired_at: Option<i64>) -> StoreResult<()> {
    let still = match expired_at {
        Some(at) => tx.wait(tx.tx().query_opt(
            "SELECT 1 FROM nodes WHERE id = $1 AND expires_at <= $2 FOR UPDATE",
            &[&id, &at],
        ))?,
        None => tx.wait(
            tx.tx()
                .query_opt("SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", &[&id]),
        )?,
    };
    if still.is_none() {
        return Ok(());
    }
    let rows = tx.wait(tx.tx().query(
        "DELETE FROM node_sockets WHERE node_id = $1 AND sockets > 0 RETURNING user_id, sockets",
        &[&id],
    ))?;
    tx.wait(tx.tx().execute("DELETE FROM nodes WHERE id = $1", &[&id]))?;
    let mut held: Vec<(UserId, i64)> = rows
        .iter()
        .map(|r| Ok((UserId(r.try_get(0)?), i64::from(r.try_get::<_, i32>(1)?))))
        .collect::<StoreResult<_>>()?;
    // Always the same order, so two nodes clearing at once never deadlock.
    held.sort();
    for (user, sockets) in held {
        if !lock_user(tx, user)? {
            continue;
        }
        let after = live_sockets(tx, user)?;
        transition(tx, user, after + sockets, after)?;
    }
    Ok(())
}

/// The recipients and the frame of a [`SIGNALS`] payload.
pub(super) fn parse_signal(payload: &str) -> Option<(Vec<UserId>, &str)> {
    let (ids, frame) = payload.split_once(' ')?;
    let users = ids
        .split(',')
        .filter_map(|id| id.parse().ok().map(UserId))
        .collect();
    Some((users, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_payload_parses_back() {
        let (users, frame) = parse_signal(r#"3,4,x {"type":"typing"}"#).unwrap_or_default();
        assert_eq!(users, [UserId(3), UserId(4)]);
        assert_eq!(frame, r#"{"type":"typing"}"#);
        assert!(parse_signal("no-frame").is_none());
    }
}
