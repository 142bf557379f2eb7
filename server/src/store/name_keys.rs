//! Look-alike names (issue 12, impersonation): no one may take a username or
//! display name that would be mistaken for another user's.
//!
//! Every user row stores the [`name_key`] of its username and display name
//! (indexed), so a check is two index lookups inside the writer's
//! transaction: two registrations racing for look-alike names cannot both
//! pass. Usernames and display names are checked against each other too
//! (`Mona` as a display name impersonates `@mona`). Rows written before the
//! keys existed, or by tools that insert users directly (`mchat-bench seed`),
//! are filled by [`backfill`] when the store opens.

use super::data::Read;
use super::{StoreError, StoreResult};
use mchat_shared::confusable::name_key;
use mchat_shared::validate::ValidationError;
use mchat_shared::{ErrorCode, UserId};
use rusqlite::{Connection, params};

/// Refuses (409 `username_taken`) a new username that looks like anyone's
/// username or display name. Returns its key, to store.
pub(super) fn check_new_username(r: &dyn Read, username: &str) -> StoreResult<String> {
    let key = name_key(username);
    if r.name_key_taken(&key, None)? {
        return Err(StoreError::api(
            ErrorCode::UsernameTaken,
            format!("the username {username} is too similar to an existing name; choose another"),
        ));
    }
    Ok(key)
}

/// Refuses (400 `validation_failed`, field `display_name`) a display name that
/// looks like another user's username or display name. `me` is the user
/// setting it (`None` at registration); keeping one's current display name
/// is always allowed, even if an older account already looked like it.
/// Returns its key, to store.
pub(super) fn check_display_name(
    r: &dyn Read,
    display_name: &str,
    me: Option<UserId>,
) -> StoreResult<String> {
    let key = name_key(display_name);
    if let Some(id) = me
        && r.display_key(id)?.as_deref() == Some(key.as_str())
    {
        return Ok(key);
    }
    if r.name_key_taken(&key, me)? {
        return Err(StoreError::Invalid(ValidationError::new(
            "display_name",
            "that display name is too similar to another user's name; choose another",
        )));
    }
    Ok(key)
}

/// Fills the keys of rows that have none. Run once at open, after the
/// migrations, on the writer's connection (before the writer thread starts).
pub(super) fn backfill(conn: &mut Connection) -> StoreResult<usize> {
    let tx = conn.transaction()?;
    let rows: Vec<(UserId, String, String)> = tx
        .prepare(
            "SELECT id, username, display_name FROM users WHERE username_key IS NULL OR display_key IS NULL",
        )?
        .query_map([], |r| Ok((UserId(r.get(0)?), r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    {
        let mut update = tx.prepare("UPDATE users SET username_key = ?2, display_key = ?3 WHERE id = ?1")?;
        for (id, username, display_name) in &rows {
            update.execute(params![id.0, name_key(username), name_key(display_name)])?;
        }
    }
    tx.commit()?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteRead;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        super::super::migrations::apply(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        conn
    }

    fn insert(conn: &Connection, username: &str, display_name: &str) -> UserId {
        conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash, created_at) \
             VALUES (?1, ?2, 'mentee', 'x', 0)",
            params![username, display_name],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        UserId(conn.last_insert_rowid())
    }

    /// Rows inserted without keys (an upgraded database, a seeded one) are
    /// keyed at open, and then count for the checks.
    #[test]
    fn backfill_keys_old_rows() {
        let mut conn = db();
        let mona = insert(&conn, "mona", "Mona Lisa");
        assert_eq!(backfill(&mut conn).unwrap_or_else(|e| panic!("{e}")), 1);
        assert_eq!(
            backfill(&mut conn).unwrap_or_else(|e| panic!("{e}")),
            0,
            "only rows without keys"
        );
        assert!(check_new_username(&SqliteRead(&conn), "rnona").is_err());
        assert!(check_display_name(&SqliteRead(&conn), "MONA LISA", None).is_err());
        assert!(
            check_display_name(&SqliteRead(&conn), "M0na", None).is_err(),
            "a display name like @mona"
        );
        assert!(
            check_display_name(&SqliteRead(&conn), "Mona Lisa", Some(mona)).is_ok(),
            "her own name"
        );
        assert!(check_new_username(&SqliteRead(&conn), "anna").is_ok());
    }

    /// Keeping one's display name works even when an older account already
    /// looked like it (collisions from before this check existed).
    #[test]
    fn keeping_a_legacy_collision_is_allowed() {
        let mut conn = db();
        insert(&conn, "mona", "Mona");
        let other = insert(&conn, "lisa", "M0NA");
        backfill(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            check_display_name(&SqliteRead(&conn), "m0na", Some(other)).is_ok(),
            "same key as now"
        );
        assert!(check_display_name(&SqliteRead(&conn), "Lisa", Some(other)).is_ok());
    }
}
