//! What every command needs: global options resolved into a profile, a
//! server URL, credentials, an API client, the local store and output mode.
//!
//! Precedence for the server: `--server` > `MCHAT_SERVER` > the server the
//! profile logged in to > the profile's config > the default. For the
//! token: `MCHAT_TOKEN` > the profile's credentials file.

use super::exit::Exit;
use super::output::Out;
use crate::api::Client;
use crate::config::{self, ClientConfig, Credentials, Paths};
use crate::local::LocalStore;
use anyhow::Context as _;

pub struct Ctx {
    pub out: Out,
    pub paths: Paths,
    pub profile: String,
    pub server: String,
    pub credentials: Option<Credentials>,
    /// A token from `MCHAT_TOKEN` (scripts), which wins over the credentials file.
    pub env_token: Option<String>,
    local: Option<LocalStore>,
}

/// The global options, as parsed.
pub struct Globals {
    pub server: Option<String>,
    pub profile: Option<String>,
    pub config: Option<std::path::PathBuf>,
    pub out: Out,
}

impl Ctx {
    pub fn new(g: Globals) -> anyhow::Result<Ctx> {
        let paths = Paths::discover(g.config.as_deref())?;
        let config = ClientConfig::load(&paths.config_file)?;
        let profile = g
            .profile
            .or_else(|| config.default_profile.clone())
            .unwrap_or_else(|| config::DEFAULT_PROFILE.to_string());
        config::check_profile_name(&profile)?;
        let credentials = Credentials::load(&paths.credentials_file(&profile))?;
        let env_token = std::env::var("MCHAT_TOKEN").ok().filter(|t| !t.trim().is_empty());
        let server = g
            .server
            .or_else(|| credentials.as_ref().map(|c| c.server.clone()))
            .or_else(|| config.profiles.get(&profile).and_then(|p| p.server.clone()))
            .unwrap_or_else(|| config::DEFAULT_SERVER.to_string());
        let server = normalize_server(&server)?;
        Ok(Ctx {
            out: g.out,
            paths,
            profile,
            server,
            credentials,
            env_token,
            local: None,
        })
    }

    /// The token to use, if any.
    pub fn token(&self) -> Option<String> {
        self.env_token
            .clone()
            .or_else(|| self.credentials.as_ref().map(|c| c.token.clone()))
    }

    /// A client without a token (register, login, health).
    pub fn anonymous(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.server, None)?)
    }

    /// A client with this profile's token; not logged in → exit 3.
    pub fn client(&self) -> anyhow::Result<Client> {
        let token = self.token().ok_or_else(|| Exit::not_logged_in(&self.profile))?;
        Ok(Client::new(&self.server, Some(token))?)
    }

    /// The profile's local store (outbox, cursor, cache), opened on first use.
    pub fn local(&mut self) -> anyhow::Result<&mut LocalStore> {
        if self.local.is_none() {
            let path = self.paths.local_store(&self.profile);
            let store = LocalStore::open(&path)
                .with_context(|| format!("cannot open the local store {}", path.display()))?;
            self.local = Some(store);
        }
        self.local
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("local store unavailable"))
    }

    /// The username we are logged in as, when known locally.
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.username.as_str())
    }
}

/// Accepts `host:port` or a URL; refuses anything but http(s).
fn normalize_server(s: &str) -> anyhow::Result<String> {
    let s = s.trim().trim_end_matches('/');
    let url = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Exit::new(
            super::exit::USAGE,
            format!("the server must be an http(s) URL, not {s}"),
        )
        .into());
    }
    Ok(url)
}
