//! What the user rules (`store/users.rs`, `store/name_keys.rs`) need from
//! storage: accounts by id and name, their look-alike keys, profiles,
//! passwords and invites.

use crate::store::StoreResult;
use mchat_shared::UserId;
use mchat_shared::api::{Profile, Role, User};

/// A validated registration, ready to store.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub profile: Profile,
    pub mentor_approved: bool,
}

/// A user with their row id.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub user: User,
}

/// Directory filters, validated.
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter {
    pub role: Option<Role>,
    pub available_only: bool,
    pub q: Option<String>,
    pub expertise: Option<String>,
    pub limit: u32,
}

/// `s` with LIKE's wildcards (and the escape character) escaped by `\`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reading users.
pub trait UsersRead {
    fn user(&self, id: UserId) -> StoreResult<Option<UserRecord>>;
    fn user_named(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// The stored password hash for a login attempt.
    fn password_hash(&self, username: &str) -> StoreResult<Option<(UserId, String)>>;
    fn username_exists(&self, username: &str) -> StoreResult<bool>;
    /// Whether a user other than `except` has a username or display name
    /// with this look-alike key.
    fn name_key_taken(&self, key: &str, except: Option<UserId>) -> StoreResult<bool>;
    /// The stored look-alike key of `user`'s display name.
    fn display_key(&self, user: UserId) -> StoreResult<Option<String>>;
    fn role_of(&self, user: UserId) -> StoreResult<Option<Role>>;
    /// Every user's id.
    fn user_ids(&self) -> StoreResult<Vec<UserId>>;
    /// The directory's rows: everyone but unapproved mentors, filtered,
    /// available mentors first, then by display name (ASCII letters folded,
    /// as SQLite's NOCASE does) and id.
    fn directory(&self, f: &DirectoryFilter) -> StoreResult<Vec<UserRecord>>;
}

/// Changing users, inside the request's transaction.
pub trait UsersWrite: UsersRead {
    /// Spends one use of the invite with this code hash; whether one was left.
    fn use_invite(&mut self, hash: &[u8]) -> StoreResult<bool>;
    fn insert_invite(&mut self, hash: &[u8], uses: u32) -> StoreResult<()>;
    fn insert_user(&mut self, new: &NewUser, username_key: &str, display_key: &str) -> StoreResult<UserId>;
    fn set_display_key(&mut self, user: UserId, key: &str) -> StoreResult<()>;
    /// Stores `user`'s display name, availability and profile as given.
    fn save_profile(&mut self, id: UserId, user: &User) -> StoreResult<()>;
    fn approve_mentor(&mut self, id: UserId) -> StoreResult<()>;
    /// Sets the password hash of `username`; whether there is such a user.
    fn set_password_hash(&mut self, username: &str, hash: &str) -> StoreResult<bool>;
    /// Revokes every live token of `user`.
    fn revoke_all_tokens(&mut self, user: UserId) -> StoreResult<()>;
}
