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

#[cfg(test)]
mod tests {
    //! The template rules on both backends: one story through `Store` on
    //! SQLite and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::Store;
    use crate::store::both_backends::{on_both, outcome};
    use mchat_shared::limits::TEMPLATES_MAX;
    use mchat_shared::{ErrorCode, UserId};

    /// A template's life, told as lines (no timestamps): what both backends
    /// must tell alike. `me` and `other` are two users of `store`.
    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let mut story = Vec::new();
        story.push(format!("listed {}", store.templates(me).await.unwrap().len()));
        for body in ["Welcome, {first_name}!", "Welcome aboard, {first_name}."] {
            let put = store.put_template(me, "welcome".into(), body.into()).await;
            story.push(outcome(
                put.map(|(t, new)| format!("put {} = {:?}, new: {new}", t.name, t.body)),
            ));
        }
        story.push(format!(
            "the other user lists {}",
            store.templates(other).await.unwrap().len()
        ));
        for i in 1..TEMPLATES_MAX {
            store
                .put_template(me, format!("t{i:03}"), "x".into())
                .await
                .unwrap();
        }
        let over = store.put_template(me, "one-too-many".into(), "x".into()).await;
        story.push(outcome(over.map(|(t, _)| format!("put {}", t.name))));
        let names: Vec<String> = store
            .templates(me)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        story.push(format!(
            "listed {}, first {:?}, last {:?}",
            names.len(),
            names[0],
            names[names.len() - 1]
        ));
        for who in [other, me, me] {
            let deleted = store.delete_template(who, "welcome".into()).await;
            story.push(outcome(deleted.map(|()| format!("user {who} deleted welcome"))));
        }
        story
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn templates_behave_the_same_on_sqlite_and_postgres() {
        let story = on_both(story).await;
        // The answers are the right ones, not merely equal.
        assert_eq!(story[0], "listed 0");
        assert!(
            story[1].ends_with("new: true") && story[2].ends_with("new: false"),
            "{story:?}"
        );
        assert!(story[2].contains("Welcome aboard"), "{story:?}");
        assert_eq!(story[3], "the other user lists 0");
        assert!(
            story[4].starts_with(&format!("refused {:?}", ErrorCode::ValidationFailed)),
            "{story:?}"
        );
        assert_eq!(
            story[5],
            format!("listed {TEMPLATES_MAX}, first \"t001\", last \"welcome\"")
        );
        assert!(
            story[6].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
            "{story:?}"
        );
        assert!(story[7].ends_with("deleted welcome"), "{story:?}");
        assert!(
            story[8].starts_with(&format!("refused {:?}", ErrorCode::NotFound)),
            "{story:?}"
        );
    }
}
