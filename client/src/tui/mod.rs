//! The terminal UI (`mchat`, `mchat tui`, `mchat demo`), in the style of
//! gitui/iamb: [`app::App`] holds the state and is the single place it
//! changes ([`app::App::update`]: [`action::Action`] in, [`action::Effect`]s
//! out); [`event_loop`] turns terminal input, live events and ticks into
//! actions and [`effects`] runs the effects; [`views`] only draw.
//!
//! Start-up is offline-first: the first frame paints from the local store's
//! cache (conversations, the outbox), then the server is asked in the
//! background and the live connection resumes from the TUI's own cursor.

pub mod action;
pub mod app;
pub mod compose;
pub mod effects;
pub mod event_loop;
pub mod input;
pub mod keys;
pub mod list_keys;
pub mod message_keys;
pub mod network;
pub mod picker;
pub mod prompt;
pub mod search;
pub mod terminal;
pub mod theme;
pub mod views;

use crate::api::Client;
use crate::live::{Live, LiveConfig};
use crate::local::LocalStore;
use action::{Action, Effect};
use app::App;
use effects::{CURSOR_KEY, Runner, blocking};
use mchat_shared::api::{Profile, Role, User};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The kv key of my own profile, for painting the header offline.
const ME_KEY: &str = "tui.me";

/// What the TUI needs to start.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub server: String,
    pub token: String,
    pub username: String,
    pub store: PathBuf,
    /// Whose outbox rows this session sends (the server and account of the token).
    pub outbox_owner: crate::local::OutboxOwner,
    /// The `[tui]` table of the client config.
    pub config: toml::Table,
    /// A first line for the status bar (the demo says how to join it).
    pub greeting: Option<String>,
    /// The conversation (by the peer's username) to select at start, once
    /// the list is known (the demo starts on a live chat, not a request).
    pub start_with: Option<String>,
}

/// `[tui]` settings.
#[derive(Debug, Clone)]
pub struct TuiSettings {
    pub bell: bool,
    pub color: bool,
    pub keys: keys::KeyMap,
    /// Where `s` saves attachments (default: ~/Downloads, else the cwd).
    pub download_dir: Option<PathBuf>,
}

impl TuiSettings {
    pub fn from_table(t: &toml::Table) -> anyhow::Result<TuiSettings> {
        for k in t.keys() {
            if !matches!(k.as_str(), "bell" | "color" | "keys" | "download_dir") {
                anyhow::bail!("unknown key '{k}' in [tui] (known: bell, color, download_dir, keys)");
            }
        }
        let flag = |name: &str| match t.get(name) {
            None => Ok(true),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(anyhow::anyhow!("[tui].{name} must be true or false")),
        };
        let keys = keys::KeyMap::from_config(t.get("keys").and_then(|v| v.as_table()))
            .map_err(anyhow::Error::msg)?;
        let download_dir = match t.get("download_dir") {
            None => None,
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(expand_home(s.trim())),
            Some(_) => anyhow::bail!("[tui].download_dir must be a directory path"),
        };
        Ok(TuiSettings {
            bell: flag("bell")?,
            color: flag("color")?,
            keys,
            download_dir,
        })
    }
}

/// `~/x` → the home directory's `x`.
fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new()
            .map(|b| b.home_dir().join(rest))
            .unwrap_or_else(|| PathBuf::from(path)),
        None => PathBuf::from(path),
    }
}

/// A stand-in for my profile until the server (or the cache) says more.
fn placeholder(username: &str) -> User {
    User {
        username: username.to_string(),
        display_name: username.to_string(),
        role: Role::Mentee,
        availability: None,
        mentor_approved: None,
        profile: Profile::default(),
        created_at: mchat_shared::Timestamp::UNIX_EPOCH,
        last_seen: None,
    }
}

/// Runs the TUI until the user quits.
pub async fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let settings = TuiSettings::from_table(&opts.config)?;
    let store_path = opts.store.clone();
    let owner = opts.outbox_owner.clone();
    let store = tokio::task::spawn_blocking(move || {
        LocalStore::open(&store_path).map(|mut s| {
            s.set_outbox_owner(owner);
            s
        })
    })
    .await??;
    let store = Arc::new(Mutex::new(store));
    let client = Client::new(&opts.server, Some(opts.token.clone()))?;
    // Paint from the cache first.
    let (cached, outbox, cursor, me_json) = blocking(&store, |s| {
        Ok((
            s.cached_conversations()?,
            s.outbox_list()?,
            s.kv_get(CURSOR_KEY)?.and_then(|v| v.parse::<i64>().ok()),
            s.kv_get(ME_KEY)?,
        ))
    })
    .await?;
    let me = me_json
        .and_then(|j| serde_json::from_str::<User>(&j).ok())
        .filter(|u| u.username == opts.username)
        .unwrap_or_else(|| placeholder(&opts.username));
    let theme = theme::Theme::from_env(settings.color);
    let mut app = App::new(me, settings.keys, theme, settings.bell);
    app.download_dir = settings.download_dir.clone();
    app.status = opts.greeting.clone();
    app.start_with = opts.start_with.clone();
    app.update(Action::Conversations {
        list: cached,
        cached: true,
    });
    app.update(Action::Outbox(outbox));

    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner {
        client: client.clone(),
        store: store.clone(),
        tx: tx.clone(),
        flush_lock: Default::default(),
    };
    // Who am I (and remember it for next time), the list, the notifications.
    {
        let client = client.clone();
        let store = store.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Ok(me) = client.me().await {
                if let Ok(json) = serde_json::to_string(&me) {
                    let _ = blocking(&store, move |s| s.kv_set(ME_KEY, &json)).await;
                }
                let _ = tx.send(Action::Me(me));
            }
        });
    }
    runner.run(Effect::LoadConversations, None);
    runner.run(Effect::LoadNotifications, None);

    let mut config = LiveConfig::new(opts.server.clone(), opts.token.clone(), cursor);
    config.offline_after = Duration::from_secs(10);
    // Someone is looking at the screen: never make them wait long for the
    // server to come back (ctrl-r tries at once).
    config.backoff.cap = Duration::from_secs(5);
    let live = Live::spawn(config);

    let mut term = terminal::setup()?;
    let _guard = terminal::Guard;
    let result = event_loop::run(&mut term, &mut app, &runner, rx, live).await;
    terminal::restore();
    // What was last seen is what the next start paints.
    let list = app.conversations.clone();
    let _ = blocking(&store, move |s| s.cache_conversations(&list)).await;
    match result {
        Ok(live) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), live.shutdown()).await;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
