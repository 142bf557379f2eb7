//! The PostgreSQL backend's schema on a real cluster: migrations bring a
//! fresh database to the latest version once, also when three nodes start at
//! the same moment, and a database from a newer build is refused; search
//! finds words whatever their diacritics, only in the conversations asked
//! for and only in searchable rows; a database that cannot be reached is one
//! sentence. (The resources behind the storage seam are tested on both
//! backends by the lib's unit tests, `store::*::tests`.)
//!
//! Each test has a database of its own on the throwaway cluster that
//! `scripts/with-postgres.sh` starts (CI runs these through it):
//! `scripts/with-postgres.sh cargo test -p mchatd --lib --test postgres -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mchat_testkit::TestDatabase;
use mchatd::config::StorageConfig;
use mchatd::store::postgres::{LATEST, migrate};
use mchatd::store::{Store, StoreError};
use tokio_postgres::{Client, NoTls};

async fn connect(db: &TestDatabase) -> Client {
    let (client, conn) = tokio_postgres::connect(db.url(), NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

async fn recorded_versions(client: &Client) -> Vec<i32> {
    client
        .query(
            "SELECT version FROM mchat_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn migrations_bring_a_fresh_database_to_the_latest_version_once() {
    let db = TestDatabase::create();
    let mut client = connect(&db).await;
    let applied = migrate(&mut client).await.expect("migrate");
    assert_eq!(applied, (1..=LATEST).collect::<Vec<_>>());
    assert_eq!(recorded_versions(&client).await, (1..=LATEST).collect::<Vec<_>>());

    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in [
        "conversations",
        "event_heads",
        "events",
        "files",
        "invites",
        "message_edits",
        "messages",
        "meta",
        "notifications",
        "participants",
        "reactions",
        "scheduled",
        "templates",
        "tokens",
        "users",
    ] {
        assert!(tables.iter().any(|have| have == t), "no table {t} in {tables:?}");
    }

    // A second start finds nothing to do.
    assert_eq!(
        migrate(&mut client).await.expect("migrate again"),
        Vec::<i32>::new()
    );
    assert_eq!(recorded_versions(&client).await, (1..=LATEST).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn three_nodes_starting_at_once_apply_each_migration_once() {
    let db = TestDatabase::create();
    // As after any earlier start: the version table exists, so nothing but
    // the advisory lock makes the nodes take turns over what is pending.
    connect(&db)
        .await
        .batch_execute(
            "CREATE TABLE mchat_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&db).await);
    }
    let runs: Vec<_> = clients
        .into_iter()
        .map(|mut c| tokio::spawn(async move { migrate(&mut c).await.map_err(|e| e.to_string()) }))
        .collect();
    let mut all = Vec::new();
    for run in runs {
        all.extend(run.await.unwrap().expect("every node's migration succeeds"));
    }
    all.sort();
    assert_eq!(
        all,
        (1..=LATEST).collect::<Vec<_>>(),
        "each version applied by exactly one node"
    );
    assert_eq!(
        recorded_versions(&connect(&db).await).await,
        (1..=LATEST).collect::<Vec<_>>()
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn a_database_from_a_newer_build_is_refused_with_a_sentence() {
    let db = TestDatabase::create();
    let mut client = connect(&db).await;
    migrate(&mut client).await.expect("migrate");
    client
        .execute(
            "INSERT INTO mchat_schema_migrations (version, name) VALUES ($1, 'from the future')",
            &[&(LATEST + 1)],
        )
        .await
        .unwrap();
    let err = migrate(&mut client).await.expect_err("a newer schema is refused");
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
    let sentence = err.to_string();
    assert!(
        sentence.contains(&format!("version {}", LATEST + 1)) && sentence.contains("newer"),
        "{sentence}"
    );
}

/// Needs no cluster, so it runs in the default suite too.
#[tokio::test]
async fn an_unreachable_database_is_one_sentence() {
    // A port nothing listens on: bind one and let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = match Store::open_postgres(
        &format!("postgres://mchat@127.0.0.1:{port}/nowhere"),
        &StorageConfig::default(),
        None,
    )
    .await
    {
        Ok(_) => panic!("opened a store on a closed port"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let sentence = err.to_string();
    assert!(sentence.starts_with("cannot reach the database"), "{sentence}");
    assert!(!sentence.contains('\n'), "{sentence}");
    let err = match Store::open_postgres("mysql://nope", &StorageConfig::default(), None).await {
        Ok(_) => panic!("opened a store from a non-PostgreSQL URL"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("not a PostgreSQL URL"), "{err}");
}

/// `mchatd` with `[storage]` pointing at `url` (or at no URL), run to its
/// exit: what it printed on stderr.
fn start_fails_with(storage: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mchatd.toml");
    std::fs::write(
        &config,
        format!("[server]\nbind = \"127.0.0.1:0\"\n[storage]\n{storage}"),
    )
    .unwrap();
    let out = std::process::Command::new(mchat_testkit::mchatd_bin())
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("serve")
        .env_remove("MCHATD_STORAGE__URL")
        .output()
        .unwrap();
    assert!(!out.status.success(), "mchatd started on {storage}");
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Needs no cluster, so it runs in the default suite too.
#[test]
fn a_wrong_or_unreachable_database_stops_the_start_with_one_sentence() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (storage, says) in [
        (
            format!("backend = \"postgres\"\nurl = \"postgres://mchat:secret@127.0.0.1:{port}/mchat\"\n"),
            "cannot reach the database",
        ),
        ("backend = \"postgres\"\n".to_owned(), "needs url"),
        (
            "backend = \"postgres\"\nurl = \"mysql://x\"\n".to_owned(),
            "not a PostgreSQL URL",
        ),
    ] {
        let said = start_fails_with(&storage);
        let last = said.lines().last().unwrap_or_default();
        assert!(last.starts_with("mchatd: ") && last.contains(says), "{said}");
        assert!(
            !said.contains("secret"),
            "the password stays out of the log: {said}"
        );
        assert!(!said.contains("panicked"), "{said}");
    }
}
