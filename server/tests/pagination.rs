//! Cursor pages of history (`before`/`after`/`limit`, `has_more`) across a
//! 120-message conversation whose ids interleave with another
//! conversation's: pages never overlap, never skip, never leak.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestServer};
use mchat_shared::api::MessagePage;
use mchat_shared::{ConversationId, MessageId};
use std::collections::BTreeSet;
use tokio::task::JoinSet;

/// Sends `n` messages as `who` in `conv`, 8 at a time; returns their ids.
async fn send_many(who: &Session, conv: ConversationId, prefix: &str, n: usize) -> Vec<MessageId> {
    let mut ids = Vec::with_capacity(n);
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let api = who.api.clone();
        let key = format!("{prefix}-{i}");
        tasks.spawn(async move { api.say(conv, &key, &format!("message {key}")).await.id });
        if tasks.len() == 8 {
            ids.push(tasks.join_next().await.expect("task").expect("send"));
        }
    }
    while let Some(id) = tasks.join_next().await {
        ids.push(id.expect("send"));
    }
    ids
}

/// Walks the history backwards from the newest page; returns the pages.
async fn backwards(who: &Session, conv: ConversationId, limit: u32) -> Vec<MessagePage> {
    let mut pages = Vec::new();
    let mut query = format!("limit={limit}");
    loop {
        let page = who.page(conv, &query).await;
        let first = page.messages.first().map(|m| m.id);
        let more = page.has_more;
        pages.push(page);
        match (more, first) {
            (true, Some(first)) => query = format!("limit={limit}&before={first}"),
            (true, None) => panic!("has_more on an empty page"),
            (false, _) => return pages,
        }
    }
}

/// Walks the history forwards from the start; returns the pages.
async fn forwards(who: &Session, conv: ConversationId, limit: u32) -> Vec<MessagePage> {
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = who.page(conv, &format!("limit={limit}&after={after}")).await;
        let last = page.messages.last().map(|m| m.id.0);
        let more = page.has_more;
        pages.push(page);
        match (more, last) {
            (true, Some(last)) => after = last,
            (true, None) => panic!("has_more on an empty page"),
            (false, _) => return pages,
        }
    }
}

fn sizes(pages: &[MessagePage]) -> Vec<usize> {
    pages.iter().map(|p| p.messages.len()).collect()
}

fn more(pages: &[MessagePage]) -> Vec<bool> {
    pages.iter().map(|p| p.has_more).collect()
}

/// The ids of the pages in order, checking each page is ascending and in `conv`.
fn ids(pages: &[MessagePage], conv: ConversationId) -> Vec<MessageId> {
    let mut all = Vec::new();
    for p in pages {
        assert!(
            p.messages.windows(2).all(|w| w[0].id < w[1].id),
            "a page is oldest first"
        );
        for m in &p.messages {
            assert_eq!(
                m.conversation_id, conv,
                "a message of another conversation leaked in"
            );
            all.push(m.id);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cover_the_history_exactly_once() {
    let server = TestServer::start();
    let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
    let ann = server.mentee("ann").await;
    let (_, c) = ann.request("mira", "hello from ann").await;
    let other = c.conversation.id;
    let (status, _) = mira
        .post(
            &format!("/v1/conversations/{other}/accept"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    // The two system/intro messages, then 120 sent while another conversation
    // gets messages too, so ids are not contiguous.
    let mut expected: BTreeSet<MessageId> = tom
        .page(conv, "limit=10")
        .await
        .messages
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(expected.len(), 2);
    let (mine, theirs) = tokio::join!(send_many(&tom, conv, "t", 120), send_many(&ann, other, "a", 30));
    assert_eq!(theirs.len(), 30);
    expected.extend(mine);
    let expected: Vec<MessageId> = expected.into_iter().collect();
    assert_eq!(expected.len(), 122);

    // Newest page first, then older pages.
    let pages = backwards(&tom, conv, 50).await;
    assert_eq!(sizes(&pages), [50, 50, 22]);
    assert_eq!(more(&pages), [true, true, false]);
    let mut walked: Vec<MessageId> = pages
        .iter()
        .rev()
        .flat_map(|p| p.messages.iter().map(|m| m.id))
        .collect();
    let _ = ids(&pages, conv);
    assert_eq!(walked, expected, "backwards: no overlap, no gap");
    assert_eq!(pages[0].messages.last().map(|m| m.id), expected.last().copied());

    // Forwards from the start.
    let pages = forwards(&tom, conv, 50).await;
    assert_eq!(sizes(&pages), [50, 50, 22]);
    assert_eq!(more(&pages), [true, true, false]);
    walked = ids(&pages, conv);
    assert_eq!(walked, expected, "forwards: no overlap, no gap");

    // A limit that divides the history exactly: the last page is full and
    // says there is nothing more (no empty trailing page).
    for (limit, want) in [
        (61, vec![61, 61]),
        (2, vec![2; 61]),
        (100, vec![100, 22]),
        (1, vec![1; 122]),
    ] {
        let pages = backwards(&tom, conv, limit).await;
        assert_eq!(sizes(&pages), want, "backwards limit {limit}");
        assert_eq!(pages.last().map(|p| p.has_more), Some(false));
        let mut w: Vec<MessageId> = pages
            .iter()
            .rev()
            .flat_map(|p| p.messages.iter().map(|m| m.id))
            .collect();
        assert_eq!(w, expected, "backwards limit {limit}");
        let pages = forwards(&tom, conv, limit).await;
        assert_eq!(sizes(&pages), want, "forwards limit {limit}");
        w = ids(&pages, conv);
        assert_eq!(w, expected, "forwards limit {limit}");
    }

    // Defaults and edges.
    let page = tom.page(conv, "").await;
    assert_eq!(page.messages.len(), 50, "the default page size");
    assert!(page.has_more);
    let first = expected[0];
    let last = *expected.last().expect("messages");
    let page = tom.page(conv, &format!("before={first}")).await;
    assert!(page.messages.is_empty() && !page.has_more);
    let page = tom.page(conv, &format!("after={last}")).await;
    assert!(page.messages.is_empty() && !page.has_more);
    let page = tom.page(conv, &format!("after={}&limit=100", first.0 - 1)).await;
    assert_eq!(page.messages.first().map(|m| m.id), Some(first));
    assert!(page.has_more);
    // A cursor from between two of this conversation's ids (another
    // conversation's message) works like any other.
    let page = tom
        .page(conv, &format!("before={}&limit=3", expected[61].0))
        .await;
    assert_eq!(ids(&[page], conv), expected[58..61]);
    // The other side sees the same history.
    assert_eq!(
        mira.history(conv).await.iter().map(|m| m.id).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(ann.history(other).await.len(), 32);
}
