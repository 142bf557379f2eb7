//! Property test for cursor pages of history (`before`/`after`/`limit`,
//! `has_more`): one real server, one conversation of a few hundred messages
//! whose ids interleave with another conversation's, and random walks from a
//! random start (the newest page, or `before=`/`after=` any id: its own, the
//! other conversation's, 0, past either end, `i64::MAX`) with random limits,
//! following `before` (oldest id of each page) or `after` (newest id of each
//! page) until `has_more` is false.
//!
//! Every page must be exactly what a model over the true ids (read straight
//! from the database) says: ascending, within the limit, only this
//! conversation's messages, the right `has_more`; and a whole walk must cover
//! every id past its start exactly once (pages never overlap, never skip).
//! Mixing `before` and `after`, and limits outside 1..=100, are 400s.

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestServer, assert_error};
use mchat_shared::ConversationId;
use mchat_shared::api::MessagePage;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use std::time::Instant;
use tokio::task::JoinSet;

/// Messages in the conversation under test, and in the other one.
const OWN: usize = 300;
const OTHER: usize = 100;

/// Sends the seed messages, 8 at a time, mixing the two conversations so
/// their ids interleave (every fourth message goes to the other one).
async fn seed(own: &Session, own_conv: ConversationId, other: &Session, other_conv: ConversationId) {
    let mut tasks = JoinSet::new();
    let (mut sent_own, mut sent_other) = (0, 0);
    for i in 0..OWN + OTHER {
        let (api, conv, key) = if i % 4 == 3 && sent_other < OTHER {
            sent_other += 1;
            (other.api.clone(), other_conv, format!("other-{i}"))
        } else {
            sent_own += 1;
            (own.api.clone(), own_conv, format!("own-{i}"))
        };
        tasks.spawn(async move { api.say(conv, &key, &format!("message {key}")).await.id });
        if tasks.len() == 8 {
            tasks.join_next().await.expect("task").expect("send");
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("send");
    }
    assert_eq!((sent_own, sent_other), (OWN, OTHER));
}

/// The ids of a conversation's messages, ascending, straight from the database.
fn ids_in_db(server: &TestServer, conv: ConversationId) -> Vec<i64> {
    server.sql().ints(
        "SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY id",
        &[conv.0.into()],
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Newest page or `before=start`, then `before=` the oldest id of each page.
    Backwards,
    /// `after=start`, then `after=` the newest id of each page.
    Forwards,
}

#[derive(Debug, Clone)]
struct Walk {
    direction: Direction,
    /// The first cursor; `None` (backwards only) is the newest page.
    start: Option<i64>,
    /// The limit of page `i` is `limits[i % limits.len()]`.
    limits: Vec<u32>,
    /// Read as the mentor (`true`) or the mentee.
    as_mentor: bool,
}

/// The page the model expects for a cursor: `(ids, has_more)`.
fn expected_page(own: &[i64], direction: Direction, cursor: Option<i64>, limit: usize) -> (Vec<i64>, bool) {
    match direction {
        Direction::Backwards => {
            let end = cursor.map_or(own.len(), |c| own.partition_point(|&id| id < c));
            let start = end.saturating_sub(limit);
            (own[start..end].to_vec(), start > 0)
        }
        Direction::Forwards => {
            let c = cursor.expect("forward walks start from a cursor");
            let start = own.partition_point(|&id| id <= c);
            let end = (start + limit).min(own.len());
            (own[start..end].to_vec(), end < own.len())
        }
    }
}

/// Runs one walk against the server and checks every page and the whole walk.
async fn check_walk(
    who: &Session,
    conv: ConversationId,
    own: &[i64],
    walk: &Walk,
) -> Result<(), TestCaseError> {
    let mut cursor = walk.start;
    let mut pages: Vec<Vec<i64>> = Vec::new();
    for step in 0.. {
        prop_assert!(step <= own.len() + 1, "the walk does not end: {pages:?}");
        let limit = walk.limits[step % walk.limits.len()];
        let query = match (walk.direction, cursor) {
            (Direction::Backwards, None) => format!("limit={limit}"),
            (Direction::Backwards, Some(c)) => format!("limit={limit}&before={c}"),
            (Direction::Forwards, c) => format!("limit={limit}&after={}", c.expect("cursor")),
        };
        let page: MessagePage = who.page(conv, &query).await;
        let got: Vec<i64> = page.messages.iter().map(|m| m.id.0).collect();

        // Each page on its own: ascending, within the limit, only this conversation.
        prop_assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "{query}: not ascending: {got:?}"
        );
        prop_assert!(got.len() <= limit as usize, "{query}: {} > limit", got.len());
        for m in &page.messages {
            prop_assert_eq!(
                m.conversation_id,
                conv,
                "{}: message {} of another conversation",
                &query,
                m.id
            );
        }
        prop_assert!(
            got.iter().all(|id| own.binary_search(id).is_ok()),
            "{query}: foreign ids in {got:?}"
        );

        // Exactly the model's page and has_more.
        let (want, want_more) = expected_page(own, walk.direction, cursor, limit as usize);
        prop_assert_eq!(&got, &want, "{}: wrong page", &query);
        prop_assert_eq!(page.has_more, want_more, "{}: wrong has_more", &query);
        prop_assert!(
            !(page.has_more && got.is_empty()),
            "{query}: has_more on an empty page"
        );

        // No overlap with, and no gap after, the previous page.
        if let Some(prev) = pages.last() {
            match walk.direction {
                Direction::Backwards => {
                    let (Some(&newest), Some(&prev_oldest)) = (got.last(), prev.first()) else {
                        return Err(TestCaseError::fail(format!("{query}: empty page mid-walk")));
                    };
                    prop_assert!(newest < prev_oldest, "{query}: overlaps the previous page");
                    let gap = own.iter().filter(|&&id| newest < id && id < prev_oldest).count();
                    prop_assert_eq!(gap, 0, "{}: skipped {} messages", &query, gap);
                }
                Direction::Forwards => {
                    let (Some(&oldest), Some(&prev_newest)) = (got.first(), prev.last()) else {
                        return Err(TestCaseError::fail(format!("{query}: empty page mid-walk")));
                    };
                    prop_assert!(prev_newest < oldest, "{query}: overlaps the previous page");
                    let gap = own.iter().filter(|&&id| prev_newest < id && id < oldest).count();
                    prop_assert_eq!(gap, 0, "{}: skipped {} messages", &query, gap);
                }
            }
        }

        pages.push(got);
        if !page.has_more {
            break;
        }
        let last = pages.last().expect("a page");
        cursor = Some(match walk.direction {
            Direction::Backwards => last[0],
            Direction::Forwards => last[last.len() - 1],
        });
    }

    // The whole walk: exactly every id past the start, in order, each once;
    // has_more went false exactly at the end.
    let seen: Vec<i64> = match walk.direction {
        Direction::Backwards => pages.iter().rev().flatten().copied().collect(),
        Direction::Forwards => pages.iter().flatten().copied().collect(),
    };
    let all: Vec<i64> = match walk.direction {
        Direction::Backwards => own
            .iter()
            .copied()
            .filter(|&id| walk.start.is_none_or(|c| id < c))
            .collect(),
        Direction::Forwards => own
            .iter()
            .copied()
            .filter(|&id| walk.start.is_some_and(|c| id > c))
            .collect(),
    };
    prop_assert_eq!(&seen, &all, "the walk {:?} did not cover exactly its range", walk);
    let (end, last_page) = (
        match walk.direction {
            Direction::Backwards => all.first(),
            Direction::Forwards => all.last(),
        },
        pages.last().expect("a page"),
    );
    if let Some(end) = end {
        prop_assert!(
            last_page.contains(end),
            "has_more false before the end was reached"
        );
    }
    Ok(())
}

/// Mixed cursors and out-of-range limits are 400 `invalid_query`.
async fn check_rejected(who: &Session, conv: ConversationId, before: i64, after: i64, limit: u32) {
    let path = format!("/v1/conversations/{conv}/messages");
    let (status, body) = who.get(&format!("{path}?before={before}&after={after}")).await;
    assert_error(status, &body, 400, "invalid_query");
    let (status, body) = who
        .get(&format!("{path}?before={before}&after={after}&limit=10"))
        .await;
    assert_error(status, &body, 400, "invalid_query");
    for bad in [0, 101, limit] {
        for query in [
            format!("limit={bad}"),
            format!("limit={bad}&before={before}"),
            format!("limit={bad}&after={after}"),
        ] {
            let (status, body) = who.get(&format!("{path}?{query}")).await;
            assert_error(status, &body, 400, "invalid_query");
        }
    }
}

#[test]
fn cursor_pages_never_overlap_or_skip() {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = TestServer::start();
    let (mira, tom, conv, other_conv) = rt.block_on(async {
        let (mira, tom, conv) = server.accepted_pair("mira", "tom").await;
        let (olga, _ann, other_conv) = server.accepted_pair("olga", "ann").await;
        seed(&tom, conv, &olga, other_conv).await;
        (mira, tom, conv, other_conv)
    });

    let own = ids_in_db(&server, conv);
    let other = ids_in_db(&server, other_conv);
    assert!(
        own.len() > OWN && other.len() > OTHER,
        "{} own, {} other",
        own.len(),
        other.len()
    );
    let (first, last) = (own[0], own[own.len() - 1]);
    assert!(
        other.iter().any(|&id| first < id && id < last),
        "the two conversations' ids do not interleave"
    );

    // Cursors: any own id, any other conversation's id, 0, just past either
    // end, far past the newest, i64::MAX; and their neighbours (id ± 1).
    let cursor = prop_oneof![
        4 => prop::sample::select(own.clone()),
        2 => prop::sample::select(other.clone()),
        2 => prop::sample::select(own.clone()).prop_flat_map(|id| prop_oneof![Just(id - 1), Just(id + 1)]),
        1 => Just(0i64),
        1 => (1..first.max(2)).boxed(),
        1 => Just(last + 1),
        1 => last + 1..last + 1_000_000,
        1 => Just(i64::MAX),
    ];
    let limit = prop_oneof![
        1 => Just(1u32),
        1 => 2u32..=5,
        4 => 1u32..=100,
        1 => Just(100u32),
    ];
    let walk = (
        prop_oneof![
            1 => Just(None),
            2 => cursor.clone().prop_map(Some),
        ],
        any::<bool>(),
        prop::collection::vec(limit, 1..4),
        any::<bool>(),
    )
        .prop_map(|(start, forwards, limits, as_mentor)| {
            // A forward walk needs a start; "newest" forwards is after=0.
            let direction = if forwards {
                Direction::Forwards
            } else {
                Direction::Backwards
            };
            let start = match (direction, start) {
                (Direction::Forwards, None) => Some(0),
                (_, s) => s,
            };
            Walk {
                direction,
                start,
                limits,
                as_mentor,
            }
        });
    let bad_limit = prop_oneof![Just(0u32), Just(101u32), 101u32..=10_000, Just(u32::MAX)];
    let case = (walk, cursor.clone(), cursor, bad_limit);

    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&case, |(walk, before, after, bad_limit)| {
        rt.block_on(async {
            let who = if walk.as_mentor { &mira } else { &tom };
            check_walk(who, conv, &own, &walk).await?;
            check_rejected(who, conv, before, after, bad_limit).await;
            Ok(())
        })
    });

    if let Err(e) = result {
        panic!("{e}\nserver log:\n{}", server.log());
    }

    // The full walks, every time (not left to chance): newest page backwards
    // and after=0 forwards, both at a few limits.
    rt.block_on(async {
        for limit in [1, 7, 50, 100] {
            for (direction, start) in [(Direction::Backwards, None), (Direction::Forwards, Some(0))] {
                let walk = Walk {
                    direction,
                    start,
                    limits: vec![limit],
                    as_mentor: false,
                };
                if let Err(e) = check_walk(&tom, conv, &own, &walk).await {
                    panic!("{walk:?}: {e}\nserver log:\n{}", server.log());
                }
            }
        }
    });

    eprintln!("pagination properties: {:?}", started.elapsed());
}
