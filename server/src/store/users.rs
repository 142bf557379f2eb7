//! Users: accounts, profiles, the mentor directory, and admin operations on them.

use super::name_keys;
use super::notifications::notify;
use super::rows::{USER_COLUMNS, user_from_row};
use super::{Store, StoreError, StoreResult, WriteCtx};
use mchat_shared::api::{Availability, NotificationKind, Profile, Role, User};
use mchat_shared::events::EventKind;
use mchat_shared::{ErrorCode, UserId};
use rusqlite::{Connection, OptionalExtension, params};

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

/// A validated profile change. `Some(None)` clears a text field.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub availability: Option<Availability>,
    pub headline: Option<Option<String>>,
    pub experience: Option<Option<String>>,
    pub level: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub expertise: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
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

pub(super) fn load_user(conn: &Connection, id: UserId) -> StoreResult<UserRecord> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1");
    let (id, user) = conn
        .prepare_cached(&sql)?
        .query_row([id.0], |r| user_from_row(r, 0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("user"))?;
    Ok(UserRecord { id, user })
}

fn find_user(conn: &Connection, username: &str) -> StoreResult<Option<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([username], |r| user_from_row(r, 0))
        .optional()?
        .map(|(id, user)| UserRecord { id, user }))
}

/// Who may see what of another user. Unapproved mentors exist only for
/// admins and themselves (as a missing user for everyone else, like the
/// directory); `last_seen` is for people who share a conversation with them
/// (the audience of their presence), themselves and admins.
struct Viewer {
    id: UserId,
    admin: bool,
    contacts: std::collections::HashSet<UserId>,
}

impl Viewer {
    fn load(conn: &Connection, id: UserId) -> StoreResult<Viewer> {
        let role: Option<String> = conn
            .prepare_cached("SELECT role FROM users WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?;
        Ok(Viewer {
            id,
            admin: role.as_deref().and_then(Role::parse) == Some(Role::Admin),
            contacts: contacts(conn, id)?.into_iter().collect(),
        })
    }

    fn sees_user(&self, id: UserId, user: &User) -> bool {
        user.role != Role::Mentor || user.mentor_approved == Some(true) || self.admin || id == self.id
    }

    /// `user` with what this viewer may not see removed.
    fn redact(&self, id: UserId, mut user: User) -> User {
        if !(self.admin || id == self.id || self.contacts.contains(&id)) {
            user.last_seen = None;
        }
        user
    }
}

/// Everyone who shares a conversation with `user`.
pub(super) fn contacts(conn: &Connection, user: UserId) -> StoreResult<Vec<UserId>> {
    use super::data::MembershipRead;
    super::sqlite::SqliteRead(conn).contacts(user)
}

/// Tells `user` and their contacts that `user`'s profile changed.
fn emit_user_updated(ctx: &mut WriteCtx<'_>, user: UserId) -> StoreResult<User> {
    let record = load_user(ctx.conn, user)?;
    let mut audience = contacts(ctx.conn, user)?;
    audience.push(user);
    ctx.emit_all(
        &audience,
        EventKind::UserUpdated {
            user: record.user.clone(),
        },
    )?;
    Ok(record.user)
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Stores a new user; consumes one use of `invite` (a code hash) if given.
    pub async fn create_user(&self, new: NewUser, invite: Option<Vec<u8>>) -> StoreResult<UserRecord> {
        self.write(move |ctx| {
            if let Some(hash) = invite {
                let used = ctx.conn.execute(
                    "UPDATE invites SET uses_left = uses_left - 1 WHERE hash = ?1 AND uses_left > 0",
                    [&hash],
                )?;
                if used == 0 {
                    return Err(StoreError::api(
                        ErrorCode::RegistrationClosed,
                        "that invite code is not valid or has been used up",
                    ));
                }
            }
            let exists: bool = ctx.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)",
                [&new.username],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::api(
                    ErrorCode::UsernameTaken,
                    format!("the username {} is taken", new.username),
                ));
            }
            let username_key = name_keys::check_new_username(ctx.conn, &new.username)?;
            let display_key = name_keys::check_display_name(ctx.conn, &new.display_name, None)?;
            ctx.conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash, mentor_approved, headline, \
                 experience, level, bio, expertise, interests, created_at, username_key, display_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
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
                    ctx.now,
                    username_key,
                    display_key,
                ],
            )?;
            load_user(ctx.conn, UserId(ctx.conn.last_insert_rowid()))
        })
        .await
    }

    pub async fn user_by_username(&self, username: String) -> StoreResult<Option<UserRecord>> {
        self.read(move |conn| find_user(conn, &username)).await
    }

    /// `username` as `viewer` may see them (see [`Viewer`]); `None` when
    /// they do not exist for the viewer.
    pub async fn user_for(&self, viewer: UserId, username: String) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            let Some(rec) = find_user(conn, &username)? else {
                return Ok(None);
            };
            let viewer = Viewer::load(conn, viewer)?;
            Ok(viewer
                .sees_user(rec.id, &rec.user)
                .then(|| viewer.redact(rec.id, rec.user)))
        })
        .await
    }

    pub async fn user_by_id(&self, id: UserId) -> StoreResult<UserRecord> {
        self.read(move |conn| load_user(conn, id)).await
    }

    /// The stored password hash for a login attempt.
    pub async fn password_hash(&self, username: String) -> StoreResult<Option<(UserId, String)>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT id, password_hash FROM users WHERE username = ?1")?
                .query_row([username], |r| Ok((UserId(r.get(0)?), r.get(1)?)))
                .optional()?)
        })
        .await
    }

    pub async fn update_profile(&self, id: UserId, patch: ProfilePatch) -> StoreResult<User> {
        self.write(move |ctx| {
            let mut u = load_user(ctx.conn, id)?.user;
            if let Some(name) = patch.display_name {
                let key = name_keys::check_display_name(ctx.conn, &name, Some(id))?;
                ctx.conn.execute(
                    "UPDATE users SET display_key = ?2 WHERE id = ?1",
                    params![id.0, key],
                )?;
                u.display_name = name;
            }
            if patch.availability.is_some() {
                if u.role != Role::Mentor {
                    // Not a bad value but a thing this role may not do (exit 4).
                    return Err(StoreError::api(
                        ErrorCode::Forbidden,
                        "only mentors have an availability",
                    ));
                }
                u.availability = patch.availability;
            }
            let p = &mut u.profile;
            if let Some(v) = patch.headline {
                p.headline = v;
            }
            if let Some(v) = patch.experience {
                p.experience = v;
            }
            if let Some(v) = patch.level {
                p.level = v;
            }
            if let Some(v) = patch.bio {
                p.bio = v;
            }
            if let Some(v) = patch.expertise {
                p.expertise = v;
            }
            if let Some(v) = patch.interests {
                p.interests = v;
            }
            ctx.conn.execute(
                "UPDATE users SET display_name = ?2, availability = ?3, headline = ?4, experience = ?5, \
                 level = ?6, bio = ?7, expertise = ?8, interests = ?9 WHERE id = ?1",
                params![
                    id.0,
                    u.display_name,
                    u.availability.unwrap_or(Availability::Available).as_str(),
                    p.headline,
                    p.experience,
                    p.level,
                    p.bio,
                    serde_json::to_string(&p.expertise)?,
                    serde_json::to_string(&p.interests)?,
                ],
            )?;
            emit_user_updated(ctx, id)
        })
        .await
    }

    /// The directory: everyone except unapproved mentors, filtered, with
    /// `last_seen` only where `viewer` may see it (see [`Viewer`]).
    pub async fn directory(&self, viewer: UserId, f: DirectoryFilter) -> StoreResult<Vec<User>> {
        self.read(move |conn| {
            let viewer = Viewer::load(conn, viewer)?;
            let mut sql = format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE (u.role != 'mentor' OR u.mentor_approved = 1)"
            );
            let mut args: Vec<String> = Vec::new();
            if let Some(role) = f.role {
                args.push(role.as_str().to_string());
                sql.push_str(&format!(" AND u.role = ?{}", args.len()));
            }
            if f.available_only {
                sql.push_str(" AND u.role = 'mentor' AND u.availability = 'available'");
            }
            if let Some(tag) = f.expertise {
                args.push(tag);
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM json_each(u.expertise) WHERE value = ?{})",
                    args.len()
                ));
            }
            if let Some(q) = f.q {
                args.push(format!("%{}%", escape_like(&q)));
                let n = args.len();
                // Tags are matched one by one, never the stored JSON text
                // (whose brackets, quotes and commas would match everyone).
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
            let mut stmt = conn.prepare(&sql)?;
            let users = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| user_from_row(r, 0))?
                .map(|row| row.map(|(id, u)| viewer.redact(id, u)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(users)
        })
        .await
    }

    /// Admin: approves a mentor so they are listed and can be requested.
    pub async fn approve_mentor(&self, username: String) -> StoreResult<User> {
        self.write(move |ctx| {
            let rec = find_user(ctx.conn, &username)?
                .ok_or_else(|| StoreError::api(ErrorCode::NotFound, format!("no user named {username}")))?;
            if rec.user.role != Role::Mentor {
                return Err(StoreError::api(
                    ErrorCode::InvalidTransition,
                    format!("{username} is not a mentor"),
                ));
            }
            if rec.user.mentor_approved == Some(true) {
                return Ok(rec.user);
            }
            ctx.conn
                .execute("UPDATE users SET mentor_approved = 1 WHERE id = ?1", [rec.id.0])?;
            notify(
                ctx,
                rec.id,
                NotificationKind::MentorApproved,
                "you are approved as a mentor: mentees can now find you and ask for conversations".into(),
                None,
                None,
            )?;
            emit_user_updated(ctx, rec.id)
        })
        .await
    }

    /// Admin: sets a new password hash and revokes every token of the user.
    pub async fn set_password(&self, username: String, hash: String) -> StoreResult<()> {
        self.write(move |ctx| {
            let n = ctx.conn.execute(
                "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                params![username, hash],
            )?;
            if n == 0 {
                return Err(StoreError::api(
                    ErrorCode::NotFound,
                    format!("no user named {username}"),
                ));
            }
            ctx.conn.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND user_id = \
                 (SELECT id FROM users WHERE username = ?1)",
                params![username, ctx.now],
            )?;
            Ok(())
        })
        .await
    }

    /// Admin: stores an invite code (by hash) usable `uses` times.
    pub async fn create_invite(&self, hash: Vec<u8>, uses: u32) -> StoreResult<()> {
        self.write(move |ctx| {
            ctx.conn.execute(
                "INSERT INTO invites (hash, uses_left, created_at) VALUES (?1, ?2, ?3)",
                params![hash, uses, ctx.now],
            )?;
            Ok(())
        })
        .await
    }

    /// Admin: an announcement notification for every user. Returns how many got it.
    pub async fn announce(&self, body: String) -> StoreResult<u32> {
        self.write(move |ctx| {
            let ids: Vec<UserId> = ctx
                .conn
                .prepare("SELECT id FROM users")?
                .query_map([], |r| r.get(0).map(UserId))?
                .collect::<Result<_, _>>()?;
            for &id in &ids {
                notify(ctx, id, NotificationKind::Announcement, body.clone(), None, None)?;
            }
            Ok(ids.len() as u32)
        })
        .await
    }
}
