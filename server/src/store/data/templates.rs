//! What the template rules (`store/templates.rs`) need from storage, and nothing more: one user's
//! templates by name. Backends implement these; they decide nothing.

use crate::store::StoreResult;
use mchat_shared::UserId;
use mchat_shared::api::Template;

/// Reading templates.
pub trait TemplatesRead {
    /// `me`'s template `name`, if there is one.
    fn template(&self, me: UserId, name: &str) -> StoreResult<Option<Template>>;
    /// All of `me`'s templates, ordered by name.
    fn templates(&self, me: UserId) -> StoreResult<Vec<Template>>;
    /// How many templates `me` has.
    fn template_count(&self, me: UserId) -> StoreResult<usize>;
}

/// Changing templates, inside the request's transaction (timestamps are the
/// transaction's "now").
pub trait TemplatesWrite: TemplatesRead {
    fn insert_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()>;
    fn update_template(&mut self, me: UserId, name: &str, body: &str) -> StoreResult<()>;
    /// Whether there was such a template to delete.
    fn delete_template(&mut self, me: UserId, name: &str) -> StoreResult<bool>;
}
