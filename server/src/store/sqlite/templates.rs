//! Templates on SQLite: the `templates` table, keyed by (user, name).

use super::SqliteConn;
use crate::store::data::{TemplatesRead, TemplatesWrite};
use crate::store::rows::ts;
use crate::store::{StoreResult, WriteCtx};
use mchat_shared::UserId;
use mchat_shared::api::Template;
use rusqlite::{OptionalExtension, params};

const SELECT: &str = "SELECT name, body, created_at, updated_at FROM templates";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        name: r.get(0)?,
        body: r.get(1)?,
        created_at: ts(r.get(2)?),
        updated_at: ts(r.get(3)?),
    })
}

impl<C: SqliteConn> TemplatesRead for C {
    fn template(&self, me: UserId, name: &str) -> StoreResult<Option<Template>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{SELECT} WHERE user_id = ?1 AND name = ?2"))?
            .query_row(params![me.0, name], from_row)
            .optional()?)
    }

    fn templates(&self, me: UserId) -> StoreResult<Vec<Template>> {
        Ok(self
            .conn()
            .prepare_cached(&format!("{SELECT} WHERE user_id = ?1 ORDER BY name"))?
            .query_map([me.0], from_row)?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn template_count(&self, me: UserId) -> StoreResult<usize> {
        let n: i64 = self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM templates WHERE user_id = ?1")?
            .query_row([me.0], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl TemplatesWrite for WriteCtx<'_> {
    fn insert_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO templates (user_id, name, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![me.0, name, body, self.now])?;
        Ok(())
    }
    fn update_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE templates SET body = ?3, updated_at = ?4 WHERE user_id = ?1 AND name = ?2",
            )?
            .execute(params![me.0, name, body, self.now])?;
        Ok(())
    }
    fn delete_template(&mut self, me: UserId, name: &str) -> StoreResult<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM templates WHERE user_id = ?1 AND name = ?2")?
            .execute(params![me.0, name])?;
        Ok(n > 0)
    }
}
