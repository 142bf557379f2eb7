//! Crash safety, short version of `mchat-bench crash`: four senders send in
//! a loop while the server is killed with SIGKILL three times and started
//! again on the same data directory. Each sender keeps an outbox of sends
//! not yet answered with 2xx and resends them (same `client_id`) after every
//! restart. Afterwards: every acknowledged message is stored with the id it
//! was acknowledged with, every `client_id` ever sent is stored exactly
//! once, and `PRAGMA integrity_check` is ok after every kill.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, TestServer};
use mchat_shared::ConversationId;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

const ROUNDS: usize = 3;
/// New sends per sender per round, at most (the kill usually comes first).
const MAX_SENDS: usize = 400;

/// One sender's state, kept across kills (the client's local outbox).
#[derive(Default)]
struct Book {
    /// client_id -> body, sent but not yet answered with 2xx.
    outbox: BTreeMap<String, String>,
    /// client_id -> message id from the 2xx answer.
    acked: BTreeMap<String, i64>,
    /// Every client_id ever sent.
    sent: BTreeSet<String>,
}

/// Sends `client_id`; the message id on 2xx, `None` when the server is
/// unreachable or gone. Any other answer fails the test.
async fn send_once(api: &Api, conv: ConversationId, client_id: &str, body: &str) -> Option<i64> {
    let rb = api
        .builder(
            reqwest::Method::POST,
            &format!("/v1/conversations/{conv}/messages"),
        )
        .timeout(Duration::from_secs(10))
        .json(&json!({"client_id": client_id, "body": body}));
    let resp = rb.send().await.ok()?;
    let status = resp.status();
    let text = resp.text().await.ok()?;
    assert!(
        status.is_success(),
        "send {client_id}: unexpected {status}: {text}"
    );
    let v: Value = serde_json::from_str(&text).expect("send answer is JSON");
    assert_eq!(v["client_id"], client_id, "{v}");
    Some(v["id"].as_i64().expect("message id"))
}

/// Resends the outbox, then sends new messages until the server goes away.
async fn sender(api: Api, conv: ConversationId, who: String, round: usize, book: Arc<Mutex<Book>>) {
    let pending: Vec<(String, String)> = book
        .lock()
        .unwrap()
        .outbox
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (client_id, body) in pending {
        match send_once(&api, conv, &client_id, &body).await {
            Some(id) => {
                let mut b = book.lock().unwrap();
                b.outbox.remove(&client_id);
                b.acked.insert(client_id, id);
            }
            None => return,
        }
    }
    for k in 0..MAX_SENDS {
        let client_id = format!("crash-{who}-r{round}-{k}");
        let body = format!("message {k} of round {round} from {who}");
        {
            let mut b = book.lock().unwrap();
            b.outbox.insert(client_id.clone(), body.clone());
            b.sent.insert(client_id.clone());
        }
        match send_once(&api, conv, &client_id, &body).await {
            Some(id) => {
                let mut b = book.lock().unwrap();
                b.outbox.remove(&client_id);
                b.acked.insert(client_id, id);
            }
            None => return,
        }
    }
}

fn integrity_check(db: &Path) -> String {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity_check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_kill9_and_resends_never_duplicate() {
    let mut server = TestServer::start();
    let (m1, e1, c1) = server.accepted_pair("mira", "tom").await;
    let (m2, e2, c2) = server.accepted_pair("max", "eve").await;
    let senders = [(m1, c1), (e1, c1), (m2, c2), (e2, c2)];
    let books: Vec<Arc<Mutex<Book>>> = senders.iter().map(|_| Arc::default()).collect();
    let db = server.database_path();

    for round in 0..=ROUNDS {
        let mut tasks = JoinSet::new();
        for ((s, conv), book) in senders.iter().zip(&books) {
            tasks.spawn(sender(
                s.api.clone(),
                *conv,
                s.username.clone(),
                round,
                book.clone(),
            ));
        }
        if round == ROUNDS {
            // Final round: no kill; every sender runs to the end.
            let all = async {
                while let Some(r) = tasks.join_next().await {
                    r.expect("a sender failed");
                }
            };
            tokio::time::timeout(Duration::from_secs(60), all)
                .await
                .expect("the final round finished in time");
            break;
        }
        // Kill at a different moment each round, while sends are in flight.
        tokio::time::sleep(Duration::from_millis(120 + 90 * round as u64)).await;
        assert!(server.crash().is_some(), "the server was running");
        let all = async {
            while let Some(r) = tasks.join_next().await {
                r.expect("a sender failed");
            }
        };
        tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("senders noticed the kill in time");
        assert_eq!(integrity_check(&db), "ok", "after kill {}", round + 1);
        server.start_again();
    }

    let mut acked_total = 0;
    let mut stored: BTreeMap<String, i64> = BTreeMap::new();
    {
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let dups: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE client_id LIKE 'crash-%' \
                 GROUP BY sender_id, client_id HAVING COUNT(*) > 1)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dups, 0, "no (sender, client_id) is stored twice");
        let mut q = conn
            .prepare("SELECT client_id, id FROM messages WHERE client_id LIKE 'crash-%'")
            .unwrap();
        let rows = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .unwrap();
        for row in rows {
            let (cid, id) = row.unwrap();
            assert!(stored.insert(cid.clone(), id).is_none(), "{cid} stored twice");
        }
    }
    let mut sent_total = 0;
    for book in &books {
        let b = book.lock().unwrap();
        assert!(b.outbox.is_empty(), "the final round emptied every outbox");
        for (cid, id) in &b.acked {
            assert_eq!(stored.get(cid), Some(id), "acknowledged {cid} is stored as {id}");
        }
        acked_total += b.acked.len();
        sent_total += b.sent.len();
        assert_eq!(b.acked.len(), b.sent.len());
    }
    assert_eq!(
        stored.len(),
        sent_total,
        "every client_id sent is stored once, no more"
    );
    assert!(
        acked_total > 4 * MAX_SENDS,
        "the senders got work done: {acked_total}"
    );

    // The API agrees with the file: each conversation's history holds every
    // acknowledged message once.
    for (s, conv) in &senders {
        let history = s.history(*conv).await;
        let ids: BTreeSet<i64> = history.iter().map(|m| m.id.0).collect();
        assert_eq!(ids.len(), history.len(), "no message twice in the history");
    }
    server.stop();
    assert_eq!(integrity_check(&db), "ok", "after the final clean stop");
}
