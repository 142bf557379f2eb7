//! Client configuration and credentials.
//!
//! Config (`config.toml`) lives in the platform config dir, credentials and
//! the local store in the platform data dir, one folder per profile:
//!
//! ```text
//! <config>/config.toml
//! <data>/profiles/<name>/credentials.json   (mode 0600)
//! <data>/profiles/<name>/local.sqlite3      (outbox, cursor, cache)
//! ```
//!
//! On macOS the dirs are `~/.config/mchat` and `~/.local/share/mchat` (see
//! `macos_dirs`). `MCHAT_HOME=DIR` puts both under `DIR` (handy for tests and
//! portable installs).

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7878";
pub const DEFAULT_PROFILE: &str = "default";

/// `config.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// The profile used when neither `--profile` nor `MCHAT_PROFILE` is given.
    pub default_profile: Option<String>,
    /// Per-profile settings.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Terminal UI settings (read by the TUI).
    pub tui: toml::Table,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// Server URL for this profile.
    pub server: Option<String>,
    /// A private CA (PEM) trusted besides the platform's roots, for a server
    /// whose certificate no public CA signed. Relative: to the config file.
    pub ca_file: Option<PathBuf>,
}

/// What `login`/`register` store: where, who, and the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub username: String,
    pub token: String,
    pub token_id: i64,
    /// RFC 3339, as on the wire (`mchat_shared::Timestamp`).
    pub expires_at: mchat_shared::Timestamp,
}

/// Where this client keeps its files.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// `--config` overrides the config file; `MCHAT_HOME` both dirs.
    pub fn discover(config_override: Option<&Path>) -> anyhow::Result<Paths> {
        let (config_dir, data_dir) = if let Some(home) = std::env::var_os("MCHAT_HOME") {
            let home = Paths::in_home(Path::new(&home));
            let config_dir = home
                .config_file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            (config_dir, home.data_dir)
        } else {
            let dirs = directories::ProjectDirs::from("dev", "mentorchat", "mchat")
                .context("cannot find a home directory for mchat's files; set MCHAT_HOME")?;
            let platform = (dirs.config_dir().to_path_buf(), dirs.data_dir().to_path_buf());
            match directories::BaseDirs::new() {
                Some(base) if cfg!(target_os = "macos") => {
                    macos_dirs(base.home_dir(), &|name| std::env::var_os(name), platform, &|p| {
                        p.exists()
                    })
                }
                _ => platform,
            }
        };
        Ok(Paths {
            config_file: config_override
                .map(Path::to_path_buf)
                .unwrap_or_else(|| config_dir.join("config.toml")),
            data_dir,
        })
    }

    /// The `MCHAT_HOME` layout under `home`: `home/config`, `home/data`.
    pub fn in_home(home: &Path) -> Paths {
        Paths {
            config_file: home.join("config").join("config.toml"),
            data_dir: home.join("data"),
        }
    }

    pub fn profile_dir(&self, profile: &str) -> PathBuf {
        self.data_dir.join("profiles").join(profile)
    }

    pub fn credentials_file(&self, profile: &str) -> PathBuf {
        self.profile_dir(profile).join("credentials.json")
    }

    pub fn local_store(&self, profile: &str) -> PathBuf {
        self.profile_dir(profile).join("local.sqlite3")
    }
}

/// The macOS choice: `~/.config/mchat` and `~/.local/share/mchat` (or
/// under `XDG_CONFIG_HOME` / `XDG_DATA_HOME`), where command-line users look
/// and keep dotfiles (atuin and iamb do the same), unless the platform dir
/// (`~/Library/Application Support/dev.mentorchat.mchat`, what earlier
/// versions used) already exists and the XDG one does not: an existing
/// login and outbox are never left behind. `env` and `exists` are
/// parameters so the choice is tested on any OS.
fn macos_dirs(
    home: &Path,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    platform: (PathBuf, PathBuf),
    exists: &dyn Fn(&Path) -> bool,
) -> (PathBuf, PathBuf) {
    // The XDG spec ignores relative values.
    let root = |var: &str, default: PathBuf| {
        env(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or(default)
            .join("mchat")
    };
    let xdg_config = root("XDG_CONFIG_HOME", home.join(".config"));
    let xdg_data = root("XDG_DATA_HOME", home.join(".local").join("share"));
    let pick = |xdg: PathBuf, platform: PathBuf| {
        if exists(&platform) && !exists(&xdg) {
            platform
        } else {
            xdg
        }
    };
    (pick(xdg_config, platform.0), pick(xdg_data, platform.1))
}

/// Profile names become directory names: keep them tame.
pub fn check_profile_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !ok {
        bail!("a profile name is 1 to 32 letters, digits, '-' or '_'");
    }
    Ok(())
}

impl ClientConfig {
    /// Reads the config file; a missing file is the default config.
    pub fn load(path: &Path) -> anyhow::Result<ClientConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "invalid config file {}: {}",
                    path.display(),
                    toml_error(&text, &e)
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// A TOML error on one line: the message and where. (toml's own rendering
/// spans several lines with a source excerpt; errors are one sentence.)
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{message} at line {line}, column {column}")
        }
        None => message,
    }
}

impl Credentials {
    pub fn load(path: &Path) -> anyhow::Result<Option<Credentials>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("corrupt credentials file {}", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file with mode 0600 (created that way, never world-readable
    /// even for an instant), replacing any previous one atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().context("credentials path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(self)?;
        write_private(&tmp, &json)?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    pub fn remove(path: &Path) -> anyhow::Result<bool> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod paths_tests {
    use super::*;
    use std::collections::HashSet;

    const HOME: &str = "/Users/ana";
    const PLATFORM: &str = "/Users/ana/Library/Application Support/dev.mentorchat.mchat";

    fn choose(existing: &[&str], env: &[(&str, &str)]) -> (PathBuf, PathBuf) {
        let existing: HashSet<PathBuf> = existing.iter().map(PathBuf::from).collect();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        macos_dirs(
            Path::new(HOME),
            &|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.into()),
            (PathBuf::from(PLATFORM), PathBuf::from(PLATFORM)),
            &|p| existing.contains(p),
        )
    }

    #[test]
    fn macos_prefers_xdg_dirs_on_a_fresh_machine() {
        let (config, data) = choose(&[], &[]);
        assert_eq!(config, Path::new("/Users/ana/.config/mchat"));
        assert_eq!(data, Path::new("/Users/ana/.local/share/mchat"));
    }

    #[test]
    fn macos_keeps_an_existing_platform_dir() {
        let (config, data) = choose(&[PLATFORM], &[]);
        assert_eq!(config, Path::new(PLATFORM));
        assert_eq!(data, Path::new(PLATFORM));
        // Once the XDG dirs exist (the user moved), they win.
        let (config, data) = choose(
            &[
                PLATFORM,
                "/Users/ana/.config/mchat",
                "/Users/ana/.local/share/mchat",
            ],
            &[],
        );
        assert_eq!(config, Path::new("/Users/ana/.config/mchat"));
        assert_eq!(data, Path::new("/Users/ana/.local/share/mchat"));
    }

    #[test]
    fn macos_honours_absolute_xdg_variables_only() {
        let (config, data) = choose(&[], &[("XDG_CONFIG_HOME", "/cfg"), ("XDG_DATA_HOME", "rel")]);
        assert_eq!(config, Path::new("/cfg/mchat"));
        assert_eq!(data, Path::new("/Users/ana/.local/share/mchat"));
    }
}

#[cfg(test)]
mod credentials_tests {
    use super::*;

    /// A credentials file exactly as the client wrote it while timestamps were
    /// `time::OffsetDateTime` (`time::serde::rfc3339`, pretty JSON).
    const WRITTEN_BEFORE: &str = r#"{
  "server": "http://127.0.0.1:8080",
  "username": "ada",
  "token": "mct_secret",
  "token_id": 7,
  "expires_at": "2026-12-02T16:22:00.123Z"
}"#;

    #[test]
    fn files_written_by_earlier_clients_read_and_write_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.json");
        std::fs::write(&old, WRITTEN_BEFORE).unwrap();
        let creds = Credentials::load(&old).unwrap().unwrap();
        assert_eq!(creds.username, "ada");
        assert_eq!(creds.token_id, 7);
        assert_eq!(creds.expires_at.as_millisecond(), 1_796_228_520_123);
        let new = dir.path().join("new.json");
        creds.save(&new).unwrap();
        assert_eq!(std::fs::read_to_string(&new).unwrap(), WRITTEN_BEFORE);
    }

    #[test]
    fn any_rfc3339_offset_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let text = WRITTEN_BEFORE.replace("2026-12-02T16:22:00.123Z", "2026-12-03T01:22:00.123+09:00");
        std::fs::write(&path, text).unwrap();
        let creds = Credentials::load(&path).unwrap().unwrap();
        assert_eq!(creds.expires_at.as_millisecond(), 1_796_228_520_123);
        let bad = WRITTEN_BEFORE.replace("2026-12-02T16:22:00.123Z", "2026-12-02");
        std::fs::write(&path, bad).unwrap();
        let err = Credentials::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt credentials file"), "{err:#}");
    }
}
