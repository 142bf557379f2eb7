//! Test support: one story told through [`Store`] on SQLite and on
//! PostgreSQL (the throwaway cluster of `scripts/with-postgres.sh`), with
//! the users mona (mentor) and ana (mentee) under the same ids on both. The
//! rules are written once over the storage traits; this checks the two
//! backends answer alike. Each test still checks the answers are right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{NewUser, Store, StoreError};
use crate::config::StorageConfig;
use mchat_shared::UserId;
use mchat_shared::api::{Profile, Role};
use mchat_testkit::TestDatabase;
use std::future::Future;

/// Tells `story(store, mona, ana)` on both backends; asserts the two tellings
/// are identical and returns it.
pub async fn on_both<F, Fut>(story: F) -> Vec<String>
where
    F: Fn(Store, UserId, UserId) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("mchatd.sqlite3"), &StorageConfig::default()).unwrap();
    let mut ids = Vec::new();
    for (name, role) in [("mona", Role::Mentor), ("ana", Role::Mentee)] {
        let new = NewUser {
            username: name.into(),
            display_name: name.into(),
            role,
            password_hash: "x".into(),
            profile: Profile::default(),
            mentor_approved: true,
        };
        ids.push(sqlite.create_user(new, None).await.unwrap().id);
    }
    let on_sqlite = story(sqlite.clone(), ids[0], ids[1]).await;
    sqlite.close().await;

    let db = TestDatabase::create();
    let pg = Store::open_postgres(db.url(), 4).await.unwrap();
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "INSERT INTO users (id, username, display_name, role, password_hash, mentor_approved, created_at)
                 VALUES ($1, 'mona', 'mona', 'mentor', 'x', TRUE, 0), ($2, 'ana', 'ana', 'mentee', 'x', TRUE, 0)",
            &[&ids[0].0, &ids[1].0],
        )
        .await
        .unwrap();
    let on_postgres = story(pg.clone(), ids[0], ids[1]).await;
    pg.close().await;

    assert_eq!(on_postgres, on_sqlite, "the same rules, the same answers");
    on_sqlite
}

/// A refusal or failure as a line of a story.
pub fn outcome(r: Result<String, StoreError>) -> String {
    match r {
        Ok(line) => line,
        Err(StoreError::Api(code, message)) => format!("refused {code:?}: {message}"),
        Err(e) => format!("failed: {e}"),
    }
}
