//! [`TestServer::sql`]: read (and, for tests that plant old rows, write) a
//! test server's storage directly, on whichever backend it runs.
//!
//! Some guarantees can only be seen from below the API: that a deleted text
//! is in no table, that a retried send was stored once, that the event log
//! was pruned. The same query runs on SQLite and PostgreSQL when it is
//! written in their common SQL with `?1`, `?2`… placeholders (turned into
//! `$1`, `$2`… for PostgreSQL); where the two differ (full-text search, say),
//! the test picks its text by [`TestServer::backend`].

use crate::server::TestServer;
use std::fmt;

/// Which storage a test server runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The SQLite file in the server's data directory.
    Sqlite,
    /// The PostgreSQL database at this URL.
    Postgres(String),
}

/// A value bound to a placeholder or read from a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
        }
    }
}

impl Value {
    /// The integer in this cell; panics on any other value.
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => panic!("expected an integer, found {other}"),
        }
    }

    /// The text in this cell; panics on any other value.
    pub fn text(&self) -> &str {
        match self {
            Value::Text(v) => v,
            other => panic!("expected text, found {other}"),
        }
    }
}

/// Direct SQL on one server's storage ([`TestServer::sql`]). Each call opens
/// a connection of its own and closes it before returning.
pub struct Sql<'a> {
    server: &'a TestServer,
}

impl TestServer {
    /// Direct SQL on this server's database, SQLite or PostgreSQL.
    pub fn sql(&self) -> Sql<'_> {
        Sql { server: self }
    }
}

impl Sql<'_> {
    /// Every row `sql` returns, each as its columns' values.
    pub fn rows(&self, sql: &str, args: &[Value]) -> Vec<Vec<Value>> {
        match self.server.backend() {
            Backend::Sqlite => sqlite_rows(self.server, sql, args),
            Backend::Postgres(url) => postgres_rows(url, &numbered(sql), args, false).0,
        }
    }

    /// Runs a statement that returns no rows (an UPDATE planting old data);
    /// returns how many rows it changed.
    pub fn execute(&self, sql: &str, args: &[Value]) -> u64 {
        match self.server.backend() {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.server.database_path())
                    .expect("open the SQLite database");
                let n = conn
                    .execute(sql, rusqlite::params_from_iter(args.iter().map(to_sqlite)))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                n as u64
            }
            Backend::Postgres(url) => postgres_rows(url, &numbered(sql), args, true).1,
        }
    }

    /// The one integer a query such as `SELECT COUNT(*) …` returns.
    pub fn int(&self, sql: &str, args: &[Value]) -> i64 {
        self.one(sql, args).int()
    }

    /// The first column of every row, as integers.
    pub fn ints(&self, sql: &str, args: &[Value]) -> Vec<i64> {
        self.rows(sql, args).iter().map(|r| r[0].int()).collect()
    }

    /// The first column of every row, as texts.
    pub fn texts(&self, sql: &str, args: &[Value]) -> Vec<String> {
        self.rows(sql, args)
            .iter()
            .map(|r| r[0].text().to_owned())
            .collect()
    }

    fn one(&self, sql: &str, args: &[Value]) -> Value {
        let rows = self.rows(sql, args);
        match rows.as_slice() {
            [row] if row.len() == 1 => row[0].clone(),
            _ => panic!("{sql}: expected one row of one column, got {rows:?}"),
        }
    }
}

/// `?1`, `?2`… as PostgreSQL's `$1`, `$2`… (outside quoted strings).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}

fn sqlite_rows(server: &TestServer, sql: &str, args: &[Value]) -> Vec<Vec<Value>> {
    let conn = rusqlite::Connection::open_with_flags(
        server.database_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the SQLite database read-only");
    // A running server may hold the write lock for a moment.
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = stmt.column_count();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter().map(to_sqlite)), |r| {
            (0..columns)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Value::Null,
                        rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                        rusqlite::types::ValueRef::Text(t) => {
                            Value::Text(String::from_utf8_lossy(t).into_owned())
                        }
                        other => panic!("{sql}: column {i} is {:?}", other.data_type()),
                    })
                })
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.collect::<rusqlite::Result<_>>()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The rows of a query, or (`execute`) none and the count of rows changed.
fn postgres_rows(url: &str, sql: &str, args: &[Value], execute: bool) -> (Vec<Vec<Value>>, u64) {
    use tokio_postgres::types::{ToSql, Type};
    crate::postgres::connected(url, |client| async move {
        let stmt = client.prepare(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        // Each argument as the type PostgreSQL inferred for its
        // placeholder (an integer compared with an INT column, say).
        let owned: Vec<Box<dyn ToSql + Sync + Send>> = args
            .iter()
            .zip(stmt.params())
            .map(|(v, ty)| -> Box<dyn ToSql + Sync + Send> {
                match (v, ty) {
                    (Value::Null, _) => Box::new(None::<String>),
                    (Value::Int(i), &Type::INT4) => {
                        Box::new(i32::try_from(*i).unwrap_or_else(|_| panic!("{i} is no INT4")))
                    }
                    (Value::Int(i), &Type::INT2) => {
                        Box::new(i16::try_from(*i).unwrap_or_else(|_| panic!("{i} is no INT2")))
                    }
                    (Value::Int(i), _) => Box::new(*i),
                    (Value::Text(t), _) => Box::new(t.clone()),
                }
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
        if execute {
            let n = client
                .execute(&stmt, &params)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            (Vec::new(), n)
        } else {
            let rows = client
                .query(&stmt, &params)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            (rows.iter().map(|row| postgres_row(sql, row)).collect(), 0)
        }
    })
}

fn postgres_row(sql: &str, row: &tokio_postgres::Row) -> Vec<Value> {
    use tokio_postgres::types::Type;
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let ty = column.type_();
            let value = if *ty == Type::INT8 {
                row.get::<_, Option<i64>>(i).map(Value::Int)
            } else if *ty == Type::INT4 {
                row.get::<_, Option<i32>>(i).map(|v| Value::Int(v.into()))
            } else if *ty == Type::INT2 {
                row.get::<_, Option<i16>>(i).map(|v| Value::Int(v.into()))
            } else if *ty == Type::BOOL {
                row.get::<_, Option<bool>>(i).map(|v| Value::Int(v.into()))
            } else if [Type::TEXT, Type::VARCHAR, Type::NAME, Type::BPCHAR].contains(ty) {
                row.get::<_, Option<String>>(i).map(Value::Text)
            } else {
                panic!(
                    "{sql}: column {} is {ty}: cast it to TEXT or BIGINT",
                    column.name()
                )
            };
            value.unwrap_or(Value::Null)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT '?' FROM t WHERE a = ?1 AND b LIKE ?2"),
            "SELECT '?' FROM t WHERE a = $1 AND b LIKE $2"
        );
    }
}
