//! Templates (saved replies): each user's own, by name. Nobody else can
//! see, change or even learn of another user's templates.
//!
//! The rules live here, written once over the storage traits
//! (`data/templates.rs`); each backend implements those with its own SQL
//! (`sqlite/templates.rs`). See docs/STORAGE.md.

use super::data::Tx;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::Template;
use mchat_shared::limits::TEMPLATES_MAX;
use mchat_shared::{ErrorCode, UserId};

/// Creates or replaces `me`'s template `name` (already validated). Returns
/// it and whether it is new. At most `TEMPLATES_MAX` per user.
fn put(tx: &mut dyn Tx, me: UserId, name: &str, body: &str) -> StoreResult<(Template, bool)> {
    let exists = tx.template(me, name)?.is_some();
    if exists {
        tx.update_template(me, name, body)?;
    } else {
        if tx.template_count(me)? >= TEMPLATES_MAX {
            return Err(StoreError::api(
                ErrorCode::ValidationFailed,
                format!("you already have {TEMPLATES_MAX} templates, the most allowed; delete one first"),
            ));
        }
        tx.insert_template(me, name, body)?;
    }
    let template = tx
        .template(me, name)?
        .ok_or_else(|| StoreError::Internal("template vanished after writing it".into()))?;
    Ok((template, !exists))
}

/// Deletes `me`'s template `name`; none of that name: not found.
fn delete(tx: &mut dyn Tx, me: UserId, name: &str) -> StoreResult<()> {
    if !tx.delete_template(me, name)? {
        return Err(StoreError::api(
            ErrorCode::NotFound,
            format!("you have no template named {name}"),
        ));
    }
    Ok(())
}

impl Store {
    /// My templates, by name.
    pub async fn templates(&self, me: UserId) -> StoreResult<Vec<Template>> {
        self.read_data(move |r| r.templates(me)).await
    }

    /// Creates or replaces my template `name` (already validated). Returns
    /// it and whether it is new.
    pub async fn put_template(
        &self,
        me: UserId,
        name: String,
        body: String,
    ) -> StoreResult<(Template, bool)> {
        self.write_data(move |tx| put(tx, me, &name, &body)).await
    }

    /// Deletes my template `name`; none of that name: not found.
    pub async fn delete_template(&self, me: UserId, name: String) -> StoreResult<()> {
        self.write_data(move |tx| delete(tx, me, &name)).await
    }
}
