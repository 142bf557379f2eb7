//! Versioned schema migrations for PostgreSQL: the files in `schema/`, in
//! order, each applied once and recorded in `mchat_schema_migrations`.
//!
//! Several nodes may start at the same moment against one database. Each
//! migration runs in its own transaction that first takes a transaction-level
//! advisory lock and then re-reads the recorded version, so concurrent starts
//! take turns and every migration runs exactly once; the lock ends with the
//! transaction, whatever happens to it. A database migrated by a newer build
//! is refused rather than served with the wrong schema.

use crate::store::{StoreError, StoreResult};
use tokio_postgres::Client;

/// One schema version: its number, a name for the log, and its SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Append; never edit a released one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("schema/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "nodes",
        sql: include_str!("schema/0002_nodes.sql"),
    },
    Migration {
        version: 3,
        name: "blob marks",
        sql: include_str!("schema/0003_blob_marks.sql"),
    },
];

/// The schema version this build brings a database to.
pub const LATEST: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The advisory lock key migrations serialise on ("mchatmig" in ASCII): a
/// fixed number no other application on the same database is likely to use.
const LOCK_KEY: i64 = 0x6d63_6861_746d_6967;

/// Brings the database to [`LATEST`]; returns the versions applied by this
/// call (empty when it was already there, or another node got there first).
pub async fn migrate(client: &mut Client) -> StoreResult<Vec<i32>> {
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let tx = client.transaction().await?;
        // A migration (an index on a large table) and the wait for another
        // node's may take longer than the statement timeout of requests.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS mchat_schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM mchat_schema_migrations",
                &[],
            )
            .await?
            .get(0);
        if current > LATEST {
            return Err(StoreError::SchemaTooNew {
                found: i64::from(current),
                known: i64::from(LATEST),
            });
        }
        if current >= m.version {
            continue;
        }
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO mchat_schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied a PostgreSQL migration"
        );
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_by_one_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "migration {} is out of order", m.name);
        }
        assert_eq!(LATEST, MIGRATIONS.len() as i32);
    }
}
