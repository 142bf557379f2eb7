//! Templates (saved replies): each user's own, by name. Nobody else can
//! see, change or even learn of another user's templates.

use super::rows::ts;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::Template;
use mchat_shared::limits::TEMPLATES_MAX;
use mchat_shared::{ErrorCode, UserId};
use rusqlite::{Connection, OptionalExtension, params};

const SELECT: &str = "SELECT name, body, created_at, updated_at FROM templates";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        name: r.get(0)?,
        body: r.get(1)?,
        created_at: ts(r.get(2)?),
        updated_at: ts(r.get(3)?),
    })
}

fn load(conn: &Connection, me: UserId, name: &str) -> StoreResult<Option<Template>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE user_id = ?1 AND name = ?2"))?
        .query_row(params![me.0, name], from_row)
        .optional()?)
}

impl Store {
    /// My templates, by name.
    pub async fn templates(&self, me: UserId) -> StoreResult<Vec<Template>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!("{SELECT} WHERE user_id = ?1 ORDER BY name"))?
                .query_map([me.0], from_row)?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Creates or replaces my template `name` (already validated). Returns
    /// it and whether it is new. At most `TEMPLATES_MAX` per user.
    pub async fn put_template(
        &self,
        me: UserId,
        name: String,
        body: String,
    ) -> StoreResult<(Template, bool)> {
        self.write(move |ctx| {
            let exists = load(ctx.conn, me, &name)?.is_some();
            if exists {
                ctx.conn.execute(
                    "UPDATE templates SET body = ?3, updated_at = ?4 WHERE user_id = ?1 AND name = ?2",
                    params![me.0, name, body, ctx.now],
                )?;
            } else {
                let count: i64 = ctx
                    .conn
                    .prepare_cached("SELECT COUNT(*) FROM templates WHERE user_id = ?1")?
                    .query_row([me.0], |r| r.get(0))?;
                if count >= TEMPLATES_MAX as i64 {
                    return Err(StoreError::api(
                        ErrorCode::ValidationFailed,
                        format!("you already have {TEMPLATES_MAX} templates, the most allowed; delete one first"),
                    ));
                }
                ctx.conn.execute(
                    "INSERT INTO templates (user_id, name, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![me.0, name, body, ctx.now],
                )?;
            }
            let template = load(ctx.conn, me, &name)?
                .ok_or_else(|| StoreError::Internal("template vanished after writing it".into()))?;
            Ok((template, !exists))
        })
        .await
    }

    /// Deletes my template `name`; none of that name: not found.
    pub async fn delete_template(&self, me: UserId, name: String) -> StoreResult<()> {
        self.write(move |ctx| {
            let n = ctx.conn.execute(
                "DELETE FROM templates WHERE user_id = ?1 AND name = ?2",
                params![me.0, name],
            )?;
            if n == 0 {
                return Err(StoreError::api(
                    ErrorCode::NotFound,
                    format!("you have no template named {name}"),
                ));
            }
            Ok(())
        })
        .await
    }
}
