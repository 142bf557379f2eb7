//! Templates on PostgreSQL: the `templates` table, keyed by (user, name).

use super::tx::PgTx;
use crate::store::StoreResult;
use crate::store::data::{TemplatesRead, TemplatesWrite};
use crate::store::rows::ts;
use mchat_shared::UserId;
use mchat_shared::api::Template;
use tokio_postgres::Row;

const SELECT: &str = "SELECT name, body, created_at, updated_at FROM templates";

fn from_row(r: &Row) -> StoreResult<Template> {
    Ok(Template {
        name: r.try_get(0)?,
        body: r.try_get(1)?,
        created_at: ts(r.try_get(2)?),
        updated_at: ts(r.try_get(3)?),
    })
}

impl TemplatesRead for PgTx<'_> {
    fn template(&self, me: UserId, name: &str) -> StoreResult<Option<Template>> {
        let sql = format!("{SELECT} WHERE user_id = $1 AND name = $2");
        self.wait(self.tx().query_opt(&sql, &[&me.0, &name]))?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    fn templates(&self, me: UserId) -> StoreResult<Vec<Template>> {
        let sql = format!("{SELECT} WHERE user_id = $1 ORDER BY name");
        self.wait(self.tx().query(&sql, &[&me.0]))?
            .iter()
            .map(from_row)
            .collect()
    }

    fn template_count(&self, me: UserId) -> StoreResult<usize> {
        let row = self.wait(
            self.tx()
                .query_one("SELECT COUNT(*) FROM templates WHERE user_id = $1", &[&me.0]),
        )?;
        let n: i64 = row.try_get(0)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl TemplatesWrite for PgTx<'_> {
    fn insert_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "INSERT INTO templates (user_id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            &[&me.0, &name, &body, &self.now],
        ))?;
        Ok(())
    }

    fn update_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()> {
        self.wait(self.tx().execute(
            "UPDATE templates SET body = $3, updated_at = $4 WHERE user_id = $1 AND name = $2",
            &[&me.0, &name, &body, &self.now],
        ))?;
        Ok(())
    }

    fn delete_template(&mut self, me: UserId, name: &str) -> StoreResult<bool> {
        let n = self.wait(self.tx().execute(
            "DELETE FROM templates WHERE user_id = $1 AND name = $2",
            &[&me.0, &name],
        ))?;
        Ok(n > 0)
    }
}
