//! Users: accounts, profiles, the mentor directory, and admin operations on
//! them. The rules live here, over the storage traits (`data/users.rs`);
//! each backend has the SQL.

use super::data::{Read, Tx};
use super::name_keys;
use super::notifications::notify;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{Availability, NotificationKind, Role, User};
use mchat_shared::events::EventKind;
use mchat_shared::{ErrorCode, UserId};

pub use super::data::{DirectoryFilter, NewUser, UserRecord};

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

/// `id`'s record; not found when there is none.
fn load(r: &dyn Read, id: UserId) -> StoreResult<UserRecord> {
    r.user(id)?.ok_or_else(|| StoreError::not_found("user"))
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
    fn load(r: &dyn Read, id: UserId) -> StoreResult<Viewer> {
        Ok(Viewer {
            id,
            admin: r.role_of(id)? == Some(Role::Admin),
            contacts: r.contacts(id)?.into_iter().collect(),
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

/// Tells `user` and their contacts that `user`'s profile changed.
fn emit_user_updated(tx: &mut dyn Tx, user: UserId) -> StoreResult<User> {
    let record = load(tx, user)?;
    let mut audience = tx.contacts(user)?;
    audience.push(user);
    for u in audience {
        tx.emit(
            u,
            EventKind::UserUpdated {
                user: record.user.clone(),
            },
        )?;
    }
    Ok(record.user)
}

impl Store {
    /// Stores a new user; consumes one use of `invite` (a code hash) if given.
    pub async fn create_user(&self, new: NewUser, invite: Option<Vec<u8>>) -> StoreResult<UserRecord> {
        self.write_data(move |tx| {
            if let Some(hash) = invite
                && !tx.use_invite(&hash)?
            {
                return Err(StoreError::api(
                    ErrorCode::RegistrationClosed,
                    "that invite code is not valid or has been used up",
                ));
            }
            if tx.username_exists(&new.username)? {
                return Err(StoreError::api(
                    ErrorCode::UsernameTaken,
                    format!("the username {} is taken", new.username),
                ));
            }
            let username_key = name_keys::check_new_username(tx, &new.username)?;
            let display_key = name_keys::check_display_name(tx, &new.display_name, None)?;
            let id = tx.insert_user(&new, &username_key, &display_key)?;
            load(tx, id)
        })
        .await
    }

    pub async fn user_by_username(&self, username: String) -> StoreResult<Option<UserRecord>> {
        self.read_data(move |r| r.user_named(&username)).await
    }

    /// `username` as `viewer` may see them (see [`Viewer`]); `None` when
    /// they do not exist for the viewer.
    pub async fn user_for(&self, viewer: UserId, username: String) -> StoreResult<Option<User>> {
        self.read_data(move |r| {
            let Some(rec) = r.user_named(&username)? else {
                return Ok(None);
            };
            let viewer = Viewer::load(r, viewer)?;
            Ok(viewer
                .sees_user(rec.id, &rec.user)
                .then(|| viewer.redact(rec.id, rec.user)))
        })
        .await
    }

    pub async fn user_by_id(&self, id: UserId) -> StoreResult<UserRecord> {
        self.read_data(move |r| load(r, id)).await
    }

    /// The stored password hash for a login attempt.
    pub async fn password_hash(&self, username: String) -> StoreResult<Option<(UserId, String)>> {
        self.read_data(move |r| r.password_hash(&username)).await
    }

    pub async fn update_profile(&self, id: UserId, patch: ProfilePatch) -> StoreResult<User> {
        self.write_data(move |tx| {
            let mut u = load(tx, id)?.user;
            if let Some(name) = patch.display_name {
                let key = name_keys::check_display_name(tx, &name, Some(id))?;
                tx.set_display_key(id, &key)?;
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
            tx.save_profile(id, &u)?;
            emit_user_updated(tx, id)
        })
        .await
    }

    /// The directory: everyone except unapproved mentors, filtered, with
    /// `last_seen` only where `viewer` may see it (see [`Viewer`]).
    pub async fn directory(&self, viewer: UserId, f: DirectoryFilter) -> StoreResult<Vec<User>> {
        self.read_data(move |r| {
            let viewer = Viewer::load(r, viewer)?;
            Ok(r.directory(&f)?
                .into_iter()
                .map(|rec| viewer.redact(rec.id, rec.user))
                .collect())
        })
        .await
    }

    /// Admin: approves a mentor so they are listed and can be requested.
    pub async fn approve_mentor(&self, username: String) -> StoreResult<User> {
        self.write_data(move |tx| {
            let rec = tx
                .user_named(&username)?
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
            tx.approve_mentor(rec.id)?;
            notify(
                tx,
                rec.id,
                NotificationKind::MentorApproved,
                "you are approved as a mentor: mentees can now find you and ask for conversations".into(),
                None,
                None,
            )?;
            emit_user_updated(tx, rec.id)
        })
        .await
    }

    /// Admin: sets a new password hash and revokes every token of the user.
    pub async fn set_password(&self, username: String, hash: String) -> StoreResult<()> {
        self.write_data(move |tx| {
            let Some(rec) = tx.user_named(&username)? else {
                return Err(StoreError::api(
                    ErrorCode::NotFound,
                    format!("no user named {username}"),
                ));
            };
            tx.set_password_hash(&username, &hash)?;
            tx.revoke_all_tokens(rec.id)
        })
        .await
    }

    /// Admin: stores an invite code (by hash) usable `uses` times.
    pub async fn create_invite(&self, hash: Vec<u8>, uses: u32) -> StoreResult<()> {
        self.write_data(move |tx| tx.insert_invite(&hash, uses)).await
    }

    /// Admin: an announcement notification for every user. Returns how many got it.
    pub async fn announce(&self, body: String) -> StoreResult<u32> {
        self.write_data(move |tx| {
            let ids = tx.user_ids()?;
            for &id in &ids {
                notify(tx, id, NotificationKind::Announcement, body.clone(), None, None)?;
            }
            Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    //! The user rules on both backends: one story through `Store` on SQLite
    //! and on PostgreSQL, identical and right.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{NewUser, ProfilePatch};
    use crate::store::Store;
    use crate::store::both_backends::{on_both, outcome};
    use mchat_shared::api::{Availability, Profile, Role};
    use mchat_shared::{Seq, UserId};

    fn new_user(name: &str, display: &str, role: Role) -> NewUser {
        NewUser {
            username: name.into(),
            display_name: display.into(),
            role,
            password_hash: "x".into(),
            profile: Profile {
                bio: Some(format!("{name}'s bio")),
                expertise: vec!["rust".into(), "sql".into()],
                ..Profile::default()
            },
            mentor_approved: false,
        }
    }

    async fn story(store: Store, me: UserId, other: UserId) -> Vec<String> {
        let mut lines = Vec::new();
        let created = |r: Result<super::UserRecord, crate::store::StoreError>| {
            outcome(r.map(|rec| {
                format!(
                    "created {} {} {:?}",
                    rec.id, rec.user.username, rec.user.profile.expertise
                )
            }))
        };
        let tess = store
            .create_user(new_user("tess", "Tess", Role::Mentee), None)
            .await;
        let tess_id = tess.as_ref().map(|r| r.id).unwrap();
        lines.push(created(tess));
        lines.push(created(
            store
                .create_user(new_user("tess", "Other Tess", Role::Mentee), None)
                .await,
        ));
        lines.push(created(
            store
                .create_user(new_user("rnona", "R", Role::Mentee), None)
                .await,
        ));
        lines.push(created(
            store
                .create_user(new_user("lisa", "M0NA", Role::Mentee), None)
                .await,
        ));
        store.create_invite(vec![5; 32], 1).await.unwrap();
        lines.push(created(
            store
                .create_user(new_user("ivy", "Ivy", Role::Mentee), Some(vec![5; 32]))
                .await,
        ));
        lines.push(created(
            store
                .create_user(new_user("ian", "Ian", Role::Mentee), Some(vec![5; 32]))
                .await,
        ));
        let seen = |u: Option<mchat_shared::api::User>| match u {
            Some(u) => format!(
                "sees {} ({}) seen {}",
                u.username,
                u.display_name,
                u.last_seen.is_some()
            ),
            None => "sees nobody".into(),
        };
        store.touch_last_seen(me).await.unwrap();
        lines.push(seen(store.user_for(other, "mona".into()).await.unwrap()));
        lines.push(seen(store.user_for(tess_id, "mona".into()).await.unwrap()));
        lines.push(seen(store.user_for(other, "nobody".into()).await.unwrap()));
        lines.push(format!("{:?}", store.password_hash("tess".into()).await.unwrap()));
        let patch = ProfilePatch {
            display_name: Some("Tess T".into()),
            bio: Some(None),
            ..ProfilePatch::default()
        };
        let updated = store.update_profile(tess_id, patch).await;
        lines.push(outcome(
            updated.map(|u| format!("now {} bio {:?}", u.display_name, u.profile.bio)),
        ));
        let busy = ProfilePatch {
            availability: Some(Availability::Busy),
            ..ProfilePatch::default()
        };
        lines.push(outcome(
            store.update_profile(tess_id, busy).await.map(|u| u.display_name),
        ));
        let mona_like = ProfilePatch {
            display_name: Some("MONA".into()),
            ..ProfilePatch::default()
        };
        lines.push(outcome(
            store
                .update_profile(tess_id, mona_like)
                .await
                .map(|u| u.display_name),
        ));
        let max = store
            .create_user(new_user("max", "Max", Role::Mentor), None)
            .await
            .unwrap();
        lines.push(seen(store.user_for(tess_id, "max".into()).await.unwrap()));
        for name in ["ana", "nobody", "max", "max"] {
            let approved = store.approve_mentor(name.into()).await;
            lines.push(outcome(
                approved.map(|u| format!("{} approved {:?}", u.username, u.mentor_approved)),
            ));
        }
        lines.push(seen(store.user_for(tess_id, "max".into()).await.unwrap()));
        let far = crate::store::now_ms() + 60_000;
        let token = store
            .create_token(tess_id, vec![8; 32], "login".into(), far)
            .await
            .unwrap();
        lines.push(outcome(
            store
                .set_password("nobody".into(), "y".into())
                .await
                .map(|()| "set".into()),
        ));
        store.set_password("tess".into(), "y".into()).await.unwrap();
        lines.push(format!(
            "{:?} token live {}",
            store.password_hash("tess".into()).await.unwrap(),
            store.token_live(token.id).await.unwrap()
        ));
        lines.push(format!(
            "announced to {}",
            store.announce("Office hours".into()).await.unwrap()
        ));
        let log = store.events_after(max.id, Seq(0), 100).await.unwrap();
        let kinds: Vec<&str> = log.events.iter().map(|e| e.kind.name()).collect();
        lines.push(format!("max's log {kinds:?}"));
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn users_behave_the_same_on_sqlite_and_postgres() {
        let s = on_both(story).await;
        let expect = [
            r#"created 3 tess ["rust", "sql"]"#,
            "refused UsernameTaken: the username tess is taken",
            "refused UsernameTaken: the username rnona is too similar to an existing name; choose another",
        ];
        assert_eq!(s[..3], expect, "{s:?}");
        assert!(
            s[3].starts_with("failed: that display name is too similar"),
            "{s:?}"
        );
        assert_eq!(s[4], r#"created 4 ivy ["rust", "sql"]"#);
        assert!(s[5].starts_with("refused RegistrationClosed"), "{s:?}");
        assert_eq!(
            s[6..9],
            [
                "sees mona (mona) seen true",
                "sees mona (mona) seen false",
                "sees nobody"
            ]
        );
        assert_eq!(s[9], r#"Some((UserId(3), "x"))"#);
        assert_eq!(s[10], "now Tess T bio None");
        assert!(s[11].starts_with("refused Forbidden"), "{s:?}");
        assert!(
            s[12].starts_with("failed: that display name is too similar"),
            "{s:?}"
        );
        assert_eq!(
            s[13], "sees nobody",
            "an unapproved mentor does not exist for a mentee"
        );
        assert!(s[14].starts_with("refused InvalidTransition"), "{s:?}");
        assert!(s[15].starts_with("refused NotFound"), "{s:?}");
        assert_eq!(s[16..18], ["max approved Some(true)", "max approved Some(true)"]);
        assert_eq!(s[18], "sees max (Max) seen false");
        assert!(s[19].starts_with("refused NotFound"), "{s:?}");
        assert_eq!(s[20], r#"Some((UserId(3), "y")) token live false"#);
        assert_eq!(s[21], "announced to 5");
        assert_eq!(
            s[22],
            r#"max's log ["notification_new", "user_updated", "notification_new"]"#
        );
    }

    async fn directory_story(store: Store, _me: UserId, ana: UserId) -> Vec<String> {
        let people = [
            ("adam", "adam", Role::Mentee, vec!["go"], false),
            ("emile", "Émile", Role::Mentor, vec!["Rust", "sql"], true),
            ("eve", "Eve", Role::Mentor, vec!["rust"], false),
            ("zed", "Zed", Role::Mentor, vec!["rust"], true),
            ("pct", "100% sure", Role::Mentee, vec![], false),
        ];
        for (name, display, role, tags, approve) in people {
            let mut new = new_user(name, display, role);
            new.profile.expertise = tags.into_iter().map(String::from).collect();
            store.create_user(new, None).await.unwrap();
            if approve {
                store.approve_mentor(name.into()).await.unwrap();
            }
        }
        let zed = store.user_by_username("zed".into()).await.unwrap().unwrap().id;
        let busy = ProfilePatch {
            availability: Some(Availability::Busy),
            ..ProfilePatch::default()
        };
        store.update_profile(zed, busy).await.unwrap();
        let mut lines = Vec::new();
        let filters = [
            ("everyone", super::DirectoryFilter::default()),
            (
                "mentors",
                super::DirectoryFilter {
                    role: Some(Role::Mentor),
                    ..Default::default()
                },
            ),
            (
                "available",
                super::DirectoryFilter {
                    available_only: true,
                    ..Default::default()
                },
            ),
            (
                "tag Rust",
                super::DirectoryFilter {
                    expertise: Some("Rust".into()),
                    ..Default::default()
                },
            ),
            (
                "q RUST",
                super::DirectoryFilter {
                    q: Some("RUST".into()),
                    ..Default::default()
                },
            ),
            (
                "q émile",
                super::DirectoryFilter {
                    q: Some("émile".into()),
                    ..Default::default()
                },
            ),
            (
                "q Émile",
                super::DirectoryFilter {
                    q: Some("Émile".into()),
                    ..Default::default()
                },
            ),
            (
                "q %",
                super::DirectoryFilter {
                    q: Some("%".into()),
                    ..Default::default()
                },
            ),
            (
                "q _",
                super::DirectoryFilter {
                    q: Some("_".into()),
                    ..Default::default()
                },
            ),
            (
                "q ADA",
                super::DirectoryFilter {
                    q: Some("ADA".into()),
                    ..Default::default()
                },
            ),
        ];
        for (what, mut f) in filters {
            f.limit = 50;
            let names: Vec<String> = store
                .directory(ana, f)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.username)
                .collect();
            lines.push(format!("{what}: {}", names.join(" ")));
        }
        let first_two = super::DirectoryFilter {
            limit: 2,
            ..Default::default()
        };
        let names: Vec<String> = store
            .directory(ana, first_two)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        lines.push(format!("limit 2: {}", names.join(" ")));
        lines
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
    async fn the_directory_matches_and_sorts_the_same_on_sqlite_and_postgres() {
        let s = on_both(directory_story).await;
        assert_eq!(
            s,
            [
                "everyone: pct adam ana mona emile zed",
                "mentors: mona emile zed",
                "available: mona emile",
                "tag Rust: emile",
                "q RUST: emile zed",
                "q émile: ",
                "q Émile: emile",
                "q %: pct",
                "q _: ",
                "q ADA: adam",
                "limit 2: pct adam",
            ]
        );
    }
}
