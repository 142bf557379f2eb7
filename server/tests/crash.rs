//! Crash safety, short version of `mchat-bench crash`: four senders send in
//! a loop while the server is killed with SIGKILL three times and started
//! again on the same data directory. Each sender keeps an outbox of sends
//! not yet answered with 2xx and resends them (same `client_id`) after every
//! restart. Afterwards: every acknowledged message is stored with the id it
//! was acknowledged with, every `client_id` ever sent is stored exactly
//! once, and (on SQLite) `PRAGMA integrity_check` is ok after every kill.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, TestServer};
use mchat_shared::ConversationId;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
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

/// SQLite's `PRAGMA integrity_check` of the server's file says "ok". On
/// PostgreSQL the server keeps no file, and the database's own durability
/// is not this test's subject: the rows checked below are.
fn assert_file_sound(server: &TestServer, when: &str) {
    if !server.on_postgres() {
        let check = server.sql().texts("PRAGMA integrity_check", &[]).concat();
        assert_eq!(check, "ok", "{when}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_kill9_and_resends_never_duplicate() {
    let mut server = TestServer::start();
    let (m1, e1, c1) = server.accepted_pair("mira", "tom").await;
    let (m2, e2, c2) = server.accepted_pair("max", "eve").await;
    let senders = [(m1, c1), (e1, c1), (m2, c2), (e2, c2)];
    let books: Vec<Arc<Mutex<Book>>> = senders.iter().map(|_| Arc::default()).collect();

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
        assert_file_sound(&server, &format!("after kill {}", round + 1));
        server.start_again();
    }

    let mut acked_total = 0;
    let mut stored: BTreeMap<String, i64> = BTreeMap::new();
    {
        let sql = server.sql();
        let dups = sql.int(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE client_id LIKE 'crash-%' \
             GROUP BY sender_id, client_id HAVING COUNT(*) > 1) AS twice",
            &[],
        );
        assert_eq!(dups, 0, "no (sender, client_id) is stored twice");
        let rows = sql.rows(
            "SELECT client_id, id FROM messages WHERE client_id LIKE 'crash-%'",
            &[],
        );
        for row in rows {
            let (cid, id) = (row[0].text().to_owned(), row[1].int());
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
    assert_file_sound(&server, "after the final clean stop");
}
