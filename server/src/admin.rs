//! `mchatd admin ...` and `mchatd backup`: operations run against the
//! configured database directly (safe while the server runs: on SQLite, WAL
//! and a busy timeout serialise the writers; PostgreSQL takes writers from
//! many processes anyway).

use crate::auth::{hash_password_blocking, new_secret};
use crate::config::{Config, StorageBackend};
use crate::store::{NewUser, Store};
use anyhow::{Context, bail};
use mchat_shared::api::{Profile, Role};
use mchat_shared::validate;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

/// The configured store (the same database the server uses).
async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open_configured(config, None)
        .await
        .context("cannot open the database")
}

/// Reads a password from stdin (`--password-stdin`) or prompts without echo.
pub fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let pw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the passwords do not match");
        }
        first
    };
    validate::password(&pw)?;
    Ok(pw)
}

pub async fn create_user(
    config: &Config,
    username: &str,
    role: Role,
    display_name: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let username = validate::username(username)?;
    let display_name = validate::display_name(display_name.as_deref().unwrap_or(&username))?;
    let password = read_password(password_stdin)?;
    let hash = tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let store = open(config).await?;
    let rec = store
        .create_user(
            NewUser {
                username,
                display_name,
                role,
                password_hash: hash,
                profile: Profile::default(),
                // An admin creating a mentor vouches for them.
                mentor_approved: role == Role::Mentor,
            },
            None,
        )
        .await?;
    store.close().await;
    println!("created {} {}", rec.user.role, rec.user.username);
    Ok(())
}

pub async fn approve_mentor(config: &Config, username: &str) -> anyhow::Result<()> {
    let store = open(config).await?;
    let user = store.approve_mentor(validate::username(username)?).await;
    store.close().await;
    let user = user?;
    println!("{} is an approved mentor", user.username);
    Ok(())
}

pub async fn announce(config: &Config, message: &str) -> anyhow::Result<()> {
    let body = validate::message_body(message)?;
    let store = open(config).await?;
    let n = store.announce(body).await;
    store.close().await;
    println!("announced to {} users", n?);
    // A running server picks up the events this process wrote and pushes
    // them to live connections within about a second (store/writer.rs).
    Ok(())
}

pub async fn reset_password(config: &Config, username: &str, password_stdin: bool) -> anyhow::Result<()> {
    let username = validate::username(username)?;
    let password = read_password(password_stdin)?;
    let hash = tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let store = open(config).await?;
    let r = store.set_password(username.clone(), hash).await;
    store.close().await;
    r?;
    println!("password of {username} reset; their tokens are revoked");
    Ok(())
}

pub async fn invite(config: &Config, uses: u32) -> anyhow::Result<()> {
    let (code, hash) = new_secret("inv_")?;
    let store = open(config).await?;
    let r = store.create_invite(hash, uses.max(1)).await;
    store.close().await;
    r?;
    println!("{code}");
    Ok(())
}

pub async fn backup(config: &Config, dest: PathBuf) -> anyhow::Result<()> {
    if config.storage.backend == StorageBackend::Postgres {
        bail!("mchatd backup copies the SQLite database; back a PostgreSQL database up with pg_dump");
    }
    let src = config.database_path();
    if !src.exists() {
        bail!("no database at {}", src.display());
    }
    let to = dest.clone();
    tokio::task::spawn_blocking(move || Store::backup_file(&src, &to)).await??;
    println!("backup written to {}", dest.display());
    Ok(())
}
