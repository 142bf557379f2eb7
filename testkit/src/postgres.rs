//! A database of its own for each PostgreSQL test, on the throwaway cluster
//! that `scripts/with-postgres.sh` (which `.ci/run` uses) starts and names in
//! `MCHAT_TEST_PG_URL`. Tests on PostgreSQL are `#[ignore]`d so the default
//! `cargo test --workspace` needs no PostgreSQL; run them with
//! `scripts/with-postgres.sh cargo test -p mchatd --lib --test postgres -- --ignored`.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the cluster: a superuser URL, to any database.
pub const PG_URL_VAR: &str = "MCHAT_TEST_PG_URL";

/// A fresh, empty database, dropped (with any sessions still on it) when
/// this is dropped. Tests stay parallel: each has its own.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates the database. Panics, saying how to run the test, when no
    /// cluster is named.
    pub fn create() -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{PG_URL_VAR} is not set: this test needs PostgreSQL; run it through \
                 scripts/with-postgres.sh, which starts a throwaway cluster"
            )
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "mchat_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut url = reqwest::Url::parse(&admin_url).expect("MCHAT_TEST_PG_URL is a postgres:// URL");
        url.set_path(&format!("/{name}"));
        admin(&admin_url, &format!("CREATE DATABASE {name}"));
        TestDatabase {
            admin_url,
            name,
            url: url.to_string(),
        }
    }

    /// A URL to this database, as `[storage] url` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the database away from its clients, as an outage would: no new
    /// connection is let in and every open one is ended.
    pub fn go_away(&self) {
        admin(
            &self.admin_url,
            &format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid();",
                name = self.name
            ),
        );
    }

    /// Lets clients connect again after [`TestDatabase::go_away`].
    pub fn come_back(&self) {
        admin(
            &self.admin_url,
            &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.name),
        );
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement on the cluster.
fn admin(url: &str, sql: &str) {
    connected(url, |client| async move {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// Runs `f` with a connection to `url`, on a thread of its own with its
/// own runtime, so it works from sync tests and from inside
/// `#[tokio::test]`s; the connection is closed before this returns. A
/// panic in `f` is the caller's, message and all.
pub(crate) fn connected<T, F, Fut>(url: &str, f: F) -> T
where
    T: Send,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send,
    Fut: std::future::Future<Output = T>,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for a test connection");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach the test cluster at {url}: {e}"));
                let conn = tokio::spawn(conn);
                let out = f(client).await;
                let _ = conn.await;
                out
            })
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
