//! Users on PostgreSQL: the `users` and `invites` tables (and revoking a
//! user's `tokens`).

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{DirectoryFilter, NewUser, UserRecord, UsersRead, UsersWrite, escape_like};
use crate::store::rows::{USER_COLUMNS, user_at};
use mchat_shared::UserId;
use mchat_shared::api::{Availability, Role, User};
use tokio_postgres::Row;

/// A user from the [`USER_COLUMNS`] layout, from the first column.
fn user_from_row(row: &Row) -> StoreResult<UserRecord> {
    Ok(user_at(row, 0)?)
}

/// `expr` with ASCII letters (only) lower-cased, as SQLite's NOCASE and
/// LIKE fold them, so the directory matches and sorts alike on both
/// backends (PostgreSQL's lower() and ILIKE would fold every script).
fn fold(expr: &str) -> String {
    format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

impl UsersRead for PgTx<'_> {
    fn user(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        self.wait(self.tx().query_opt(&sql, &[&id.0]))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    fn user_named(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        self.wait(self.tx().query_opt(&sql, &[&username]))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    fn password_hash(&self, username: &str) -> StoreResult<Option<(UserId, String)>> {
        let row = self.wait(self.tx().query_opt(
            "SELECT id, password_hash FROM users WHERE username = $1",
            &[&username],
        ))?;
        row.map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?)))
            .transpose()
    }

    fn username_exists(&self, username: &str) -> StoreResult<bool> {
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM users WHERE username = $1)",
            &[&username],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn name_key_taken(&self, key: &str, except: Option<UserId>) -> StoreResult<bool> {
        // Two single-column lookups rather than one OR, so each uses its index.
        let row = self.wait(self.tx().query_one(
            "SELECT EXISTS(SELECT 1 FROM users WHERE username_key = $1 AND id IS DISTINCT FROM $2) \
             OR EXISTS(SELECT 1 FROM users WHERE display_key = $1 AND id IS DISTINCT FROM $2)",
            &[&key, &except.map(|u| u.0)],
        ))?;
        Ok(row.try_get(0)?)
    }

    fn display_key(&self, user: UserId) -> StoreResult<Option<String>> {
        let row = self.wait(
            self.tx()
                .query_opt("SELECT display_key FROM users WHERE id = $1", &[&user.0]),
        )?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    fn role_of(&self, user: UserId) -> StoreResult<Option<Role>> {
        let row = self.wait(
            self.tx()
                .query_opt("SELECT role FROM users WHERE id = $1", &[&user.0]),
        )?;
        Ok(match row {
            Some(r) => Role::parse(r.try_get::<_, &str>(0)?),
            None => None,
        })
    }

    fn directory(&self, f: &DirectoryFilter) -> StoreResult<Vec<UserRecord>> {
        let mut sql =
            format!("SELECT {USER_COLUMNS} FROM users u WHERE (u.role <> 'mentor' OR u.mentor_approved)");
        let mut args: Vec<String> = Vec::new();
        if let Some(role) = f.role {
            args.push(role.as_str().to_string());
            sql.push_str(&format!(" AND u.role = ${}", args.len()));
        }
        if f.available_only {
            sql.push_str(" AND u.role = 'mentor' AND u.availability = 'available'");
        }
        if let Some(tag) = &f.expertise {
            args.push(tag.clone());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(u.expertise::jsonb) t(value) WHERE t.value = ${})",
                args.len()
            ));
        }
        if let Some(q) = &f.q {
            args.push(format!("%{}%", escape_like(q)));
            let n = args.len();
            let p = fold(&format!("${n}"));
            // Tags one by one, never the stored JSON text; backslash is
            // LIKE's escape character here by default.
            sql.push_str(&format!(
                " AND ({} LIKE {p} OR {} LIKE {p} OR {} LIKE {p} \
                 OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(u.expertise::jsonb) t(value) WHERE {} LIKE {p}))",
                fold("u.username"),
                fold("u.display_name"),
                fold("u.headline"),
                fold("t.value"),
            ));
        }
        sql.push_str(&format!(
            " ORDER BY (u.availability = 'available') DESC, {} COLLATE \"C\", u.id LIMIT {}",
            fold("u.display_name"),
            f.limit
        ));
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = self.wait(self.tx().query(&sql, &params))?;
        rows.iter().map(user_from_row).collect()
    }

    fn user_ids(&self) -> StoreResult<Vec<UserId>> {
        let rows = self.wait(self.tx().query("SELECT id FROM users", &[]))?;
        rows.iter().map(|r| Ok(UserId(r.try_get(0)?))).collect()
    }
}

impl UsersWrite for PgTx<'_> {
    fn use_invite(&mut self, hash: &[u8]) -> StoreResult<bool> {
        let n = self.wait(self.tx().execute(
            "UPDATE invites SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0",
            &[&hash],
        ))?;
        Ok(n > 0)
    }

    fn insert_invite(&mut self, hash: &[u8], uses: u32) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO invites (hash, uses_left, created_at) VALUES ($1, $2, $3)",
            &[&hash, &i64::from(uses), &self.now],
        ))?;
        Ok(())
    }

    fn insert_user(&mut self, new: &NewUser, username_key: &str, display_key: &str) -> StoreResult<UserId> {
        let expertise = serde_json::to_string(&new.profile.expertise)?;
        let interests = serde_json::to_string(&new.profile.interests)?;
        let row = self.wait(self.tx().query_one(
            "INSERT INTO users (username, display_name, role, password_hash, mentor_approved, headline, \
             experience, level, bio, expertise, interests, created_at, username_key, display_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            &[
                &new.username,
                &new.display_name,
                &new.role.as_str(),
                &new.password_hash,
                &new.mentor_approved,
                &new.profile.headline,
                &new.profile.experience,
                &new.profile.level,
                &new.profile.bio,
                &expertise,
                &interests,
                &self.now,
                &username_key,
                &display_key,
            ],
        ))?;
        Ok(UserId(row.try_get(0)?))
    }

    fn set_display_key(&mut self, user: UserId, key: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE users SET display_key = $2 WHERE id = $1",
            &[&user.0, &key],
        ))?;
        Ok(())
    }

    fn save_profile(&mut self, id: UserId, u: &User) -> StoreResult<()> {
        let p = &u.profile;
        let expertise = serde_json::to_string(&p.expertise)?;
        let interests = serde_json::to_string(&p.interests)?;
        self.wait(self.tx().execute(
            "UPDATE users SET display_name = $2, availability = $3, headline = $4, experience = $5, \
             level = $6, bio = $7, expertise = $8, interests = $9 WHERE id = $1",
            &[
                &id.0,
                &u.display_name,
                &u.availability.unwrap_or(Availability::Available).as_str(),
                &p.headline,
                &p.experience,
                &p.level,
                &p.bio,
                &expertise,
                &interests,
            ],
        ))?;
        Ok(())
    }

    fn approve_mentor(&mut self, id: UserId) -> StoreResult<()> {
        self.wait(
            self.tx()
                .execute("UPDATE users SET mentor_approved = TRUE WHERE id = $1", &[&id.0]),
        )?;
        Ok(())
    }

    fn set_password_hash(&mut self, username: &str, hash: &str) -> StoreResult<bool> {
        let n = self.wait(self.tx().execute(
            "UPDATE users SET password_hash = $2 WHERE username = $1",
            &[&username, &hash],
        ))?;
        Ok(n > 0)
    }

    fn revoke_all_tokens(&mut self, user: UserId) -> StoreResult<()> {
        let ids: Vec<i64> = self
            .wait(self.tx().query(
                "UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND user_id = $1 RETURNING id",
                &[&user.0, &self.now],
            ))?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.announce_revoked(&ids)
    }
}

/// Fills the look-alike keys (`name_keys.rs`) of rows that have none, as the
/// SQLite store does when it opens: users inserted by tools that write the
/// table directly. Run at start, after the migrations; idempotent, so nodes
/// starting together may both run it.
pub(super) async fn backfill_name_keys(client: &mut tokio_postgres::Client) -> StoreResult<u64> {
    use mchat_shared::confusable::name_key;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT id, username, display_name FROM users \
             WHERE username_key IS NULL OR display_key IS NULL FOR UPDATE",
            &[],
        )
        .await?;
    for row in &rows {
        let (id, username, display_name): (i64, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        tx.execute(
            "UPDATE users SET username_key = $2, display_key = $3 WHERE id = $1",
            &[&id, &name_key(&username), &name_key(&display_name)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}
