//! What every command needs: global options resolved into a profile, a
//! server URL, credentials, an API client, the local store and output mode.
//!
//! Precedence for the server: `--server` > `MCHAT_SERVER` > the server the
//! profile logged in to > the profile's config > the default. For the
//! token: `MCHAT_TOKEN` > the profile's credentials file.
//!
//! A token is only ever sent to the server that issued it: the saved one
//! goes only to the server recorded beside it in the credentials file (any
//! other `--server` is an authentication error that says where you are
//! logged in), and `MCHAT_TOKEN` goes to whichever server the caller names,
//! because the caller holds both. The outbox is scoped the same way: what
//! was queued for one server and account is only ever flushed there.

use super::exit::Exit;
use super::output::Out;
use crate::api::Client;
use crate::config::{self, ClientConfig, Credentials, Paths};
use crate::local::{LocalStore, OutboxOwner};
use anyhow::Context as _;
use sha2::{Digest, Sha256};

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
    /// `--ca-file`: wins over the profile's `ca_file`.
    pub ca_file: Option<std::path::PathBuf>,
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
        // A relative `ca_file` in the config is relative to the config file,
        // so the file means the same from any working directory.
        let ca_file = g.ca_file.or_else(|| {
            let path = config.profiles.get(&profile).and_then(|p| p.ca_file.clone())?;
            let base = paths.config_file.parent().unwrap_or(std::path::Path::new(""));
            Some(base.join(path))
        });
        if let Some(path) = &ca_file {
            // Checked now: a bad path is a usage error before anything connects.
            crate::tls::configure(Some(path)).map_err(|e| Exit::new(super::exit::USAGE, e.to_string()))?;
        }
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

    /// Whether there is a token at all (from `MCHAT_TOKEN` or a login),
    /// whichever server it belongs to.
    pub fn has_token(&self) -> bool {
        self.env_token.is_some() || self.credentials.is_some()
    }

    /// The token to send to [`Ctx::server`], if any: `MCHAT_TOKEN`, or the
    /// saved one when this is the server that issued it. A saved token for
    /// another server is never sent: that is an authentication error (exit 3)
    /// naming both servers.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.env_token {
            return Ok(Some(t.clone()));
        }
        let Some(creds) = &self.credentials else {
            return Ok(None);
        };
        if same_server(&creds.server, &self.server) {
            return Ok(Some(creds.token.clone()));
        }
        Err(Exit::new(
            super::exit::AUTH,
            format!(
                "you are logged in to {}, not {} — log in there first: mchat --server {} login USERNAME",
                creds.server, self.server, self.server
            ),
        )
        .into())
    }

    /// Whose outbox this is: the server and the account the token belongs
    /// to (the username of a login, or a fingerprint of `MCHAT_TOKEN`, whose
    /// username is not known locally).
    pub fn outbox_owner(&self) -> OutboxOwner {
        let account = match (&self.env_token, &self.credentials) {
            (Some(t), _) => token_fingerprint(t),
            (None, Some(c)) => c.username.clone(),
            (None, None) => String::new(),
        };
        OutboxOwner {
            server: self.server.clone(),
            account,
        }
    }

    /// A client without a token (register, login, health).
    pub fn anonymous(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.server, None)?)
    }

    /// A client with this profile's token; not logged in → exit 3.
    pub fn client(&self) -> anyhow::Result<Client> {
        let token = self.token()?.ok_or_else(|| Exit::not_logged_in(&self.profile))?;
        Ok(Client::new(&self.server, Some(token))?)
    }

    /// The profile's local store (outbox, cursor, cache), opened on first use.
    pub fn local(&mut self) -> anyhow::Result<&mut LocalStore> {
        if self.local.is_none() {
            let path = self.paths.local_store(&self.profile);
            let mut store = LocalStore::open(&path)
                .with_context(|| format!("cannot open the local store {}", path.display()))?;
            // Rows queued before outboxes were scoped belong to the account
            // this profile logged in with.
            if let Some(c) = &self.credentials {
                store.outbox_adopt_unowned(&OutboxOwner {
                    server: normalize_server(&c.server).unwrap_or_else(|_| c.server.clone()),
                    account: c.username.clone(),
                })?;
            }
            store.set_outbox_owner(self.outbox_owner());
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

/// Whether two server addresses are the same origin, once normalised.
fn same_server(a: &str, b: &str) -> bool {
    match (normalize_server(a), normalize_server(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A short, stable name for a token that is not stored locally: the first
/// 16 hex digits of its SHA-256 (the token itself never goes to disk).
fn token_fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("token:{hex}")
}

/// Accepts an `http(s)://host[:port][/path]` URL or `host:port`, and
/// returns it in one canonical spelling (lower-case host, no default port,
/// no trailing slash) so that two spellings of one server compare equal.
/// Anything else is a usage error (exit 2): a mistyped address must not
/// quietly become a server that a message is queued for.
pub fn normalize_server(s: &str) -> anyhow::Result<String> {
    let s = s.trim();
    let usage = |why: &str| -> anyhow::Error {
        Exit::new(
            super::exit::USAGE,
            format!("{s:?} is not a server address ({why}): give a URL like http://host:7878 or host:port"),
        )
        .into()
    };
    let candidate = if s.contains("://") {
        s.to_string()
    } else {
        // Without a scheme only `host:port` is an address; a bare word is
        // far more likely a typo (or a username) than a host name.
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => format!("http://{s}"),
            _ => return Err(usage("no scheme and no port")),
        }
    };
    let url = reqwest::Url::parse(&candidate).map_err(|e| usage(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage("only http(s) is supported"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(usage("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(usage("credentials do not belong in the server address"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(usage("a server address has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_normalised_or_refused() {
        for (given, want) in [
            ("127.0.0.1:7878", "http://127.0.0.1:7878"),
            ("http://127.0.0.1:7878/", "http://127.0.0.1:7878"),
            ("HTTP://Chat.Example.ORG", "http://chat.example.org"),
            ("https://chat.example.org:443/", "https://chat.example.org"),
            ("http://chat.example.org:80", "http://chat.example.org"),
            ("https://example.org/mchat/", "https://example.org/mchat"),
            ("localhost:1", "http://localhost:1"),
        ] {
            assert_eq!(normalize_server(given).unwrap(), want, "{given}");
        }
        for bad in [
            "notaurl",
            "",
            "ftp://example.org",
            "http://",
            "http://user:pw@example.org",
            "http://example.org/?x=1",
            "example.org:notaport",
            "example.org:99999",
            "http://exa mple.org",
        ] {
            let err = normalize_server(bad).unwrap_err();
            let exit = err.downcast_ref::<Exit>().unwrap();
            assert_eq!(exit.code, super::super::exit::USAGE, "{bad}");
        }
        assert!(same_server("127.0.0.1:7878", "http://127.0.0.1:7878/"));
        assert!(!same_server("http://127.0.0.1:7878", "http://localhost:7878"));
        assert!(!same_server("http://127.0.0.1:7878", "https://127.0.0.1:7878"));
    }

    #[test]
    fn token_fingerprints_are_stable_and_short() {
        assert_eq!(token_fingerprint("mct_abc"), token_fingerprint("mct_abc"));
        assert_ne!(token_fingerprint("mct_abc"), token_fingerprint("mct_abd"));
        assert_eq!(token_fingerprint("x").len(), "token:".len() + 16);
    }
}
