//! The PostgreSQL backend's schema on a real cluster: migrations bring a
//! fresh database to the latest version once, also when three nodes start at
//! the same moment, and a database from a newer build is refused; search
//! finds words whatever their diacritics, only in the conversations asked
//! for and only in searchable rows. The resources already behind the
//! storage seam (docs/STORAGE.md) behave the same through `Store` on both
//! backends.
//!
//! Each test has a database of its own on the throwaway cluster that
//! `scripts/with-postgres.sh` starts (CI runs these through it):
//! `scripts/with-postgres.sh cargo test -p mchatd --lib --test postgres -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mchat_shared::api::{Profile, Role};
use mchat_shared::limits::TEMPLATES_MAX;
use mchat_shared::{ErrorCode, UserId};
use mchat_testkit::TestDatabase;
use mchatd::config::StorageConfig;
use mchatd::store::postgres::{LATEST, migrate};
use mchatd::store::{NewUser, Store, StoreError};
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

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn search_ignores_diacritics_and_keeps_to_the_conversations_asked_for() {
    let db = TestDatabase::create();
    let mut client = connect(&db).await;
    migrate(&mut client).await.expect("migrate");
    client
        .batch_execute(
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                 VALUES (1, 'mona', 'Mona', 'mentor', 'x', 0), (2, 'ana', 'Ana', 'mentee', 'x', 0);
             INSERT INTO conversations (id, status, requested_by, created_at, status_changed_at, last_activity_at)
                 VALUES (10, 'accepted', 2, 0, 0, 0), (20, 'accepted', 2, 0, 0, 0);
             INSERT INTO messages (id, conversation_id, sender_id, kind, body, created_at, deleted_at) VALUES
                 (1, 10, 1, 'text', 'Un café avant la revue ?', 0, NULL),
                 (2, 20, 1, 'text', 'cafe in the other conversation', 0, NULL),
                 (3, 10, NULL, 'system', 'cafe as a system line', 0, NULL),
                 (4, 10, 1, 'text', 'cafe, but deleted', 0, 5),
                 (5, 10, 2, 'file', 'CAFÉ menu attached', 0, NULL);",
        )
        .await
        .unwrap();
    let hits = |convs: Vec<i64>, query: &'static str| {
        let client = &client;
        async move {
            client
                .query(
                    "SELECT id FROM messages
                     WHERE conversation_id = ANY($1) AND mchat_search_vector(body) @@ to_tsquery('pg_catalog.simple', unaccent('unaccent', $2))
                       AND kind IN ('text', 'file') AND deleted_at IS NULL AND body <> ''
                     ORDER BY id",
                    &[&convs, &query],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hits(vec![10], "cafe").await,
        vec![1, 5],
        "diacritics and case fold"
    );
    assert_eq!(hits(vec![10], "café").await, vec![1, 5], "on the query side too");
    assert_eq!(hits(vec![10, 20], "cafe").await, vec![1, 2, 5]);
    assert_eq!(
        hits(vec![10], "rev:*").await,
        vec![1],
        "a prefix on the last word"
    );
    assert_eq!(hits(vec![], "cafe").await, Vec::<i64>::new());
}

/// A template's life, told as lines (no timestamps): what both backends
/// must tell alike. `me` and `other` are two users of `store`.
async fn template_story(store: &Store, me: UserId, other: UserId) -> Vec<String> {
    let mut story = Vec::new();
    story.push(format!("listed {}", store.templates(me).await.unwrap().len()));
    for body in ["Welcome, {first_name}!", "Welcome aboard, {first_name}."] {
        let put = store.put_template(me, "welcome".into(), body.into()).await;
        story.push(outcome(
            put.map(|(t, new)| format!("put {} = {:?}, new: {new}", t.name, t.body)),
        ));
    }
    story.push(format!(
        "the other user lists {}",
        store.templates(other).await.unwrap().len()
    ));
    for i in 1..TEMPLATES_MAX {
        store
            .put_template(me, format!("t{i:03}"), "x".into())
            .await
            .unwrap();
    }
    let over = store.put_template(me, "one-too-many".into(), "x".into()).await;
    story.push(outcome(over.map(|(t, _)| format!("put {}", t.name))));
    let names: Vec<String> = store
        .templates(me)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    story.push(format!(
        "listed {}, first {:?}, last {:?}",
        names.len(),
        names[0],
        names[names.len() - 1]
    ));
    for who in [other, me, me] {
        let deleted = store.delete_template(who, "welcome".into()).await;
        story.push(outcome(deleted.map(|()| format!("user {who} deleted welcome"))));
    }
    story
}

/// A fresh store on each backend, each with the users mona (mentor) and
/// ana (mentee) under the same ids; `story` runs on both. Returns what it
/// told on SQLite, after checking PostgreSQL told exactly the same.
async fn on_both_backends<F, Fut>(story: F) -> Vec<String>
where
    F: Fn(Store, UserId, UserId) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("mchatd.sqlite3"), &StorageConfig::default()).unwrap();
    let mut ids = Vec::new();
    for (name, role) in [("mona", Role::Mentor), ("ana", Role::Mentee)] {
        let user = NewUser {
            username: name.into(),
            display_name: name.into(),
            role,
            password_hash: "x".into(),
            profile: Profile::default(),
            mentor_approved: true,
        };
        ids.push(sqlite.create_user(user, None).await.unwrap().id);
    }
    let on_sqlite = story(sqlite.clone(), ids[0], ids[1]).await;
    sqlite.close().await;

    let db = TestDatabase::create();
    let pg = Store::open_postgres(db.url(), 4)
        .await
        .expect("open on PostgreSQL");
    connect(&db)
        .await
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
fn outcome(r: Result<String, StoreError>) -> String {
    match r {
        Ok(line) => line,
        Err(StoreError::Api(code, message)) => format!("refused {code:?}: {message}"),
        Err(e) => format!("failed: {e}"),
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn templates_behave_the_same_on_sqlite_and_postgres() {
    let story =
        on_both_backends(|store, me, other| async move { template_story(&store, me, other).await }).await;
    // The answers are the right ones, not merely equal.
    assert_eq!(story[0], "listed 0");
    assert!(
        story[1].ends_with("new: true") && story[2].ends_with("new: false"),
        "{story:?}"
    );
    assert!(story[2].contains("Welcome aboard"), "{story:?}");
    assert_eq!(story[3], "the other user lists 0");
    assert!(
        story[4].starts_with(&format!("refused {:?}", ErrorCode::ValidationFailed)),
        "{story:?}"
    );
    assert_eq!(
        story[5],
        format!("listed {TEMPLATES_MAX}, first \"t001\", last \"welcome\"")
    );
    assert!(
        story[6].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
        "{story:?}"
    );
    assert!(story[7].ends_with("deleted welcome"), "{story:?}");
    assert!(
        story[8].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
        "{story:?}"
    );
}

/// A login's and a script's tokens, told as lines (ids and names, no
/// timestamps).
async fn token_story(store: &Store, me: UserId, other: UserId) -> Vec<String> {
    let far = mchatd::store::now_ms() + 3_600_000;
    let mut story = Vec::new();
    let login = store
        .create_token(me, vec![1; 32], "login".into(), far)
        .await
        .unwrap();
    story.push(format!("login token {} current {}", login.id, login.current));
    let cron = store
        .create_named_token(me, vec![2; 32], "cron".into(), far)
        .await
        .unwrap();
    story.push(format!("named token {} current {}", cron.id, cron.current));
    let again = store
        .create_named_token(me, vec![3; 32], "cron".into(), far)
        .await;
    story.push(outcome(again.map(|t| format!("named token {}", t.id))));
    let expired = store
        .create_token(me, vec![4; 32], "old".into(), mchatd::store::now_ms() - 1)
        .await
        .unwrap();
    for (what, hash) in [
        ("login", vec![1; 32]),
        ("unknown", vec![9; 32]),
        ("expired", vec![4; 32]),
    ] {
        let who = store.authenticate(hash).await.unwrap();
        story.push(match who {
            Some(a) => format!(
                "{what} is user {} {} {:?} token {}",
                a.user_id, a.username, a.role, a.token_id
            ),
            None => format!("{what} authenticates nobody"),
        });
    }
    let list = |store: Store| async move {
        let tokens = store.list_tokens(me, login.id).await.unwrap();
        let names: Vec<String> = tokens
            .iter()
            .map(|t| {
                format!(
                    "{}{}{}",
                    t.name,
                    if t.current { "*" } else { "" },
                    if t.last_used_at.is_some() { "+used" } else { "" }
                )
            })
            .collect();
        format!("live: {}", names.join(", "))
    };
    story.push(list(store.clone()).await);
    story.push(format!("expired token {} is not listed", expired.id));
    let theirs = store.revoke_token(other, cron.id).await;
    story.push(outcome(theirs.map(|()| "another user revoked cron".into())));
    store.revoke_token(me, cron.id).await.unwrap();
    story.push(format!(
        "after revoking: {:?}",
        store.authenticate(vec![2; 32]).await.unwrap().map(|a| a.token_id)
    ));
    let reused = store
        .create_named_token(me, vec![5; 32], "cron".into(), far)
        .await;
    story.push(outcome(
        reused.map(|t| format!("the name is free again: token {}", t.id)),
    ));
    store.touch_token(login.id).await.unwrap();
    story.push(list(store.clone()).await);
    story
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
async fn tokens_behave_the_same_on_sqlite_and_postgres() {
    let story =
        on_both_backends(|store, me, other| async move { token_story(&store, me, other).await }).await;
    let expect = ["login token 1 current true", "named token 2 current false"];
    assert_eq!(story[..2], expect, "{story:?}");
    assert!(
        story[2].starts_with(&format!("refused {:?}", ErrorCode::NameTaken)),
        "{story:?}"
    );
    assert_eq!(story[3], "login is user 1 mona Mentor token 1");
    assert_eq!(story[4], "unknown authenticates nobody");
    assert_eq!(story[5], "expired authenticates nobody");
    assert_eq!(story[6], "live: cron, login*");
    assert!(
        story[8].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
        "{story:?}"
    );
    assert_eq!(story[9], "after revoking: None");
    assert_eq!(story[10], "the name is free again: token 4");
    assert_eq!(story[11], "live: cron, login*+used");
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
    let err = match Store::open_postgres(&format!("postgres://mchat@127.0.0.1:{port}/nowhere"), 2).await {
        Ok(_) => panic!("opened a store on a closed port"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let sentence = err.to_string();
    assert!(sentence.starts_with("cannot reach the database"), "{sentence}");
    assert!(!sentence.contains('\n'), "{sentence}");
    let err = match Store::open_postgres("mysql://nope", 2).await {
        Ok(_) => panic!("opened a store from a non-PostgreSQL URL"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("not a PostgreSQL URL"), "{err}");
}
