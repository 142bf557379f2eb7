//! Users on SQLite: the `users` and `invites` tables (and revoking a
//! user's `tokens`).

use super::SqliteConn;
use crate::store::data::{DirectoryFilter, NewUser, UserRecord, UsersRead, UsersWrite, escape_like};
use crate::store::rows::{USER_COLUMNS, user_at};
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::UserId;
use mchat_shared::api::{Availability, Role, User};
use rusqlite::{OptionalExtension, params};

/// Whether a user other than `?2` has a username or display name with the
/// key `?1`: two single-column lookups rather than one `OR`, so each uses
/// its index.
const TAKEN_SQL: &str = "SELECT EXISTS(SELECT 1 FROM users WHERE username_key = ?1 AND id IS NOT ?2) \
     OR EXISTS(SELECT 1 FROM users WHERE display_key = ?1 AND id IS NOT ?2)";

impl<C: SqliteConn> UsersRead for C {
    fn user(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([id.0], |r| user_at(r, 0))
            .optional()?)
    }

    fn user_named(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([username], |r| user_at(r, 0))
            .optional()?)
    }

    fn password_hash(&self, username: &str) -> StoreResult<Option<(UserId, String)>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id, password_hash FROM users WHERE username = ?1")?
            .query_row([username], |r| Ok((UserId(r.get(0)?), r.get(1)?)))
            .optional()?)
    }

    fn username_exists(&self, username: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)")?
            .query_row([username], |r| r.get(0))?)
    }

    fn name_key_taken(&self, key: &str, except: Option<UserId>) -> StoreResult<bool> {
        Ok(self
            .conn()
            .prepare_cached(TAKEN_SQL)?
            .query_row(params![key, except.map(|u| u.0)], |r| r.get(0))?)
    }

    fn display_key(&self, user: UserId) -> StoreResult<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT display_key FROM users WHERE id = ?1")?
            .query_row([user.0], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn role_of(&self, user: UserId) -> StoreResult<Option<Role>> {
        let role: Option<String> = self
            .conn()
            .prepare_cached("SELECT role FROM users WHERE id = ?1")?
            .query_row([user.0], |r| r.get(0))
            .optional()?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    fn directory(&self, f: &DirectoryFilter) -> StoreResult<Vec<UserRecord>> {
        let mut sql =
            format!("SELECT {USER_COLUMNS} FROM users u WHERE (u.role != 'mentor' OR u.mentor_approved = 1)");
        let mut args: Vec<String> = Vec::new();
        if let Some(role) = f.role {
            args.push(role.as_str().to_string());
            sql.push_str(&format!(" AND u.role = ?{}", args.len()));
        }
        if f.available_only {
            sql.push_str(" AND u.role = 'mentor' AND u.availability = 'available'");
        }
        if let Some(tag) = &f.expertise {
            args.push(tag.clone());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM json_each(u.expertise) WHERE value = ?{})",
                args.len()
            ));
        }
        if let Some(q) = &f.q {
            args.push(format!("%{}%", escape_like(q)));
            let n = args.len();
            // Tags are matched one by one, never the stored JSON text (whose
            // brackets, quotes and commas would match everyone). SQLite's
            // LIKE folds ASCII letters only.
            sql.push_str(&format!(
                " AND (u.username LIKE ?{n} ESCAPE '\\' OR u.display_name LIKE ?{n} ESCAPE '\\' \
                 OR u.headline LIKE ?{n} ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM json_each(u.expertise) WHERE value LIKE ?{n} ESCAPE '\\'))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY (u.availability = 'available') DESC, u.display_name COLLATE NOCASE, u.id LIMIT {}",
            f.limit
        ));
        let mut stmt = self.conn().prepare(&sql)?;
        let users = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| user_at(r, 0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(users)
    }

    fn user_ids(&self) -> StoreResult<Vec<UserId>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id FROM users")?
            .query_map([], |r| r.get(0).map(UserId))?
            .collect::<Result<_, _>>()?)
    }
}

impl UsersWrite for WriteCtx<'_> {
    fn use_invite(&mut self, hash: &[u8]) -> StoreResult<bool> {
        let used = self
            .conn
            .prepare_cached("UPDATE invites SET uses_left = uses_left - 1 WHERE hash = ?1 AND uses_left > 0")?
            .execute([hash])?;
        Ok(used > 0)
    }

    fn insert_invite(&mut self, hash: &[u8], uses: u32) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT INTO invites (hash, uses_left, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![hash, uses, self.now])?;
        Ok(())
    }

    fn insert_user(&mut self, new: &NewUser, username_key: &str, display_key: &str) -> StoreResult<UserId> {
        self.conn
            .prepare_cached(
                "INSERT INTO users (username, display_name, role, password_hash, mentor_approved, headline, \
                 experience, level, bio, expertise, interests, created_at, username_key, display_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                new.username,
                new.display_name,
                new.role.as_str(),
                new.password_hash,
                new.mentor_approved,
                new.profile.headline,
                new.profile.experience,
                new.profile.level,
                new.profile.bio,
                serde_json::to_string(&new.profile.expertise)?,
                serde_json::to_string(&new.profile.interests)?,
                self.now,
                username_key,
                display_key,
            ])?;
        Ok(UserId(self.conn.last_insert_rowid()))
    }

    fn set_display_key(&mut self, user: UserId, key: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE users SET display_key = ?2 WHERE id = ?1")?
            .execute(params![user.0, key])?;
        Ok(())
    }

    fn save_profile(&mut self, id: UserId, u: &User) -> StoreResult<()> {
        let p = &u.profile;
        self.conn
            .prepare_cached(
                "UPDATE users SET display_name = ?2, availability = ?3, headline = ?4, experience = ?5, \
                 level = ?6, bio = ?7, expertise = ?8, interests = ?9 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                u.display_name,
                u.availability.unwrap_or(Availability::Available).as_str(),
                p.headline,
                p.experience,
                p.level,
                p.bio,
                serde_json::to_string(&p.expertise)?,
                serde_json::to_string(&p.interests)?,
            ])?;
        Ok(())
    }

    fn approve_mentor(&mut self, id: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE users SET mentor_approved = 1 WHERE id = ?1")?
            .execute([id.0])?;
        Ok(())
    }

    fn set_password_hash(&mut self, username: &str, hash: &str) -> StoreResult<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE users SET password_hash = ?2 WHERE username = ?1")?
            .execute(params![username, hash])?;
        Ok(n > 0)
    }

    fn revoke_all_tokens(&mut self, user: UserId) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND user_id = ?1")?
            .execute(params![user.0, self.now])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::TAKEN_SQL;
    use rusqlite::{Connection, params};

    /// Registration stays fast with many users: both lookups use an index.
    #[test]
    fn lookups_use_the_indexes() {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        crate::store::migrations::apply(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {TAKEN_SQL}"))
            .and_then(|mut stmt| {
                stmt.query_map(params!["k", 1], |r| r.get::<_, String>(3))?
                    .collect::<Result<_, _>>()
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let plan = plan.join("\n");
        assert!(plan.contains("INDEX users_username_key"), "{plan}");
        assert!(plan.contains("INDEX users_display_key"), "{plan}");
        assert!(!plan.contains("SCAN users"), "{plan}");
    }
}
