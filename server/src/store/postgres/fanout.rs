//! Live delivery on PostgreSQL, across nodes (docs/STORAGE.md). A
//! transaction that appended events NOTIFYs [`CHANNEL`] with each affected
//! user and the lowest seq it gave them (in as many notifications of at
//! most [`PAYLOAD_MAX`] bytes as it takes). PostgreSQL delivers them at
//! COMMIT, in commit order, to every node, where [`run`] listens on a
//! connection of its own. For each notified user with a live connection
//! here, it reads that user's events from the lower of that seq and the
//! one after the last it pushed, and hands them to the sink in seq order.
//!
//! Nothing is skipped: a user's events become visible in seq order (the
//! `event_heads` lock), so every read is a prefix of the user's log, and
//! reading from the last pushed seq re-covers anything a notification
//! did not name. When the listening connection is lost, notifications in
//! between are gone: the sink is told ([`EventSink::missed`]) so its
//! connections resume from their cursors, and the listener reconnects.
//!
//! Revoked tokens travel the same way, on [`REVOKED`]: whichever node (or
//! `mchatd admin` process) revokes one, every node closes its connections.
//! So do ephemeral signals (presence, typing; `nodes.rs`), on
//! [`SIGNALS`](super::nodes::SIGNALS): each node hands them to its own
//! connections of the recipients named.

use super::nodes::{SIGNALS, parse_signal};
use crate::store::events::{EventSink, UserEvent};
use crate::store::rows::ts;
use futures_util::StreamExt;
use mchat_shared::events::{Event, EventKind};
use mchat_shared::{Seq, TokenId, UserId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel every node listens on for events.
pub const CHANNEL: &str = "mchat_events";

/// The channel every node listens on for revoked tokens (their ids,
/// comma-separated): their connections close on every node at once.
pub const REVOKED: &str = "mchat_revoked";

/// Bytes of one notification's payload at most (PostgreSQL's limit is 8000).
pub(super) const PAYLOAD_MAX: usize = 7900;

/// Events read for one round of notifications at most; the rest follow on
/// the next round (the last pushed seq moves on).
const READ_MAX: i64 = 10_000;

/// `user:seq` pairs, comma-separated, cut into payloads that fit.
pub fn payloads(users: &[i64], lows: &[i64]) -> Vec<String> {
    chunks(users.iter().zip(lows).map(|(u, lo)| format!("{u}:{lo}")))
}

/// Items, comma-separated, cut into payloads that fit.
pub fn chunks(items: impl Iterator<Item = String>) -> Vec<String> {
    chunks_within(items, PAYLOAD_MAX)
}

/// Items, comma-separated, cut into strings of at most `max` bytes.
pub fn chunks_within(items: impl Iterator<Item = String>, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for pair in items {
        if !current.is_empty() && current.len() + 1 + pair.len() > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&pair);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The pairs of a payload; anything malformed is left out.
fn parse(payload: &str) -> impl Iterator<Item = (UserId, i64)> + '_ {
    payload.split(',').filter_map(|pair| {
        let (u, lo) = pair.split_once(':')?;
        Some((UserId(u.parse().ok()?), lo.parse().ok()?))
    })
}

/// Listens for committed events and pushes them to `sink`, reconnecting
/// when the connection is lost, until the task is aborted.
pub async fn run(config: tokio_postgres::Config, sink: Arc<dyn EventSink>) {
    let mut pushed: HashMap<UserId, i64> = HashMap::new();
    loop {
        match listen(&config, &sink, &mut pushed).await {
            Ok(()) => tracing::warn!("the live fan-out's connection ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "the live fan-out lost its connection; reconnecting"),
        }
        // Whatever was committed meanwhile was not pushed: connections
        // resume from their cursors.
        pushed.clear();
        sink.missed();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    sink: &Arc<dyn EventSink>,
    pushed: &mut HashMap<UserId, i64>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(bool, String)>();
    let signals = sink.clone();
    // Drives the connection (queries too) and forwards its notifications.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.channel() == SIGNALS => {
                    // Ephemeral: handed on at once, never behind a round
                    // of event reads.
                    if let Some((users, frame)) = parse_signal(n.payload()) {
                        signals.signal(&users, Arc::from(frame));
                    }
                }
                Ok(AsyncMessage::Notification(n)) => {
                    let revoked = n.channel() == REVOKED;
                    if tx.send((revoked, n.payload().to_owned())).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the live fan-out's connection failed");
                    break;
                }
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {REVOKED}; LISTEN {SIGNALS}"))
            .await?;
        while let Some(first) = rx.recv().await {
            // Everything that arrived meanwhile is handled in one round.
            let mut from: HashMap<UserId, i64> = HashMap::new();
            let mut take = |(revoked, payload): (bool, String)| {
                if revoked {
                    for id in payload.split(',').filter_map(|id| id.parse().ok()) {
                        sink.revoked(TokenId(id));
                    }
                    return;
                }
                for (user, lo) in parse(&payload) {
                    let e = from.entry(user).or_insert(lo);
                    *e = (*e).min(lo);
                }
            };
            take(first);
            while let Ok(more) = rx.try_recv() {
                take(more);
            }
            push_round(&client, sink.as_ref(), pushed, from).await?;
        }
        Ok(())
    }
    .await;
    driver.abort();
    result
}

/// Reads and pushes the events of the notified users that someone here
/// watches.
async fn push_round(
    client: &tokio_postgres::Client,
    sink: &dyn EventSink,
    pushed: &mut HashMap<UserId, i64>,
    from: HashMap<UserId, i64>,
) -> Result<(), tokio_postgres::Error> {
    let mut users = Vec::new();
    let mut starts = Vec::new();
    for (user, lo) in from {
        if !sink.watches(user) {
            // Nobody here: when they connect, their replay covers it.
            pushed.remove(&user);
            continue;
        }
        let start = match pushed.get(&user) {
            Some(&last) => lo.min(last + 1),
            None => lo,
        };
        users.push(user.0);
        starts.push(start);
    }
    if users.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT e.seq, e.user_id, e.created_at, e.payload FROM events e \
             JOIN unnest($1::BIGINT[], $2::BIGINT[]) AS w(user_id, start) \
               ON e.user_id = w.user_id AND e.seq >= w.start \
             ORDER BY e.seq LIMIT $3",
            &[&users, &starts, &READ_MAX],
        )
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let seq: i64 = row.try_get(0)?;
        let user = UserId(row.try_get(1)?);
        let kind: EventKind = match serde_json::from_str(row.try_get::<_, &str>(3)?) {
            Ok(kind) => kind,
            Err(e) => {
                tracing::error!(seq, error = %e, "an event in the log does not parse; not pushed");
                continue;
            }
        };
        let last = pushed.entry(user).or_insert(seq);
        *last = (*last).max(seq);
        events.push(UserEvent {
            user_id: user,
            event: Event {
                seq: Seq(seq),
                at: ts(row.try_get(2)?),
                kind,
            },
        });
    }
    if !events.is_empty() {
        sink.publish(events);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_fit_and_parse_back() {
        let users: Vec<i64> = (1..=2000).collect();
        let lows: Vec<i64> = users.iter().map(|u| u * 1000).collect();
        let out = payloads(&users, &lows);
        assert!(out.len() > 1 && out.iter().all(|p| p.len() <= PAYLOAD_MAX));
        let back: Vec<(UserId, i64)> = out.iter().flat_map(|p| parse(p).collect::<Vec<_>>()).collect();
        assert_eq!(back.len(), 2000);
        assert_eq!(back[1999], (UserId(2000), 2_000_000));
        assert_eq!(parse("1:2,x:3,4").collect::<Vec<_>>(), [(UserId(1), 2)]);
        assert!(payloads(&[], &[]).is_empty());
    }
}
