//! Server configuration: built-in defaults, then a TOML file, then `MCHATD_*`
//! environment variables (`MCHATD_LIMITS__SEND_PER_SEC=50`), then flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub registration: RegistrationConfig,
    pub auth: AuthConfig,
    pub requests: RequestsConfig,
    pub limits: LimitsConfig,
    pub storage: StorageConfig,
    pub realtime: RealtimeConfig,
    pub files: FilesConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
}

/// `[log]`: how the server writes its log on stderr.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (the default) for people, `json` for log collectors.
    /// `MCHATD_LOG_FORMAT=json` works too.
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human lines, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, with one access line per request (request
    /// id, method, route, status, latency) on by default.
    Json,
}

/// `/metrics`: where it is served.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate (private) address for `/metrics`; the public listener
    /// then answers it 404. Unset: served on the public listener.
    pub bind: Option<SocketAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    pub bind: SocketAddr,
    /// Where the database (and later attachments) live. Empty: the platform data dir.
    pub data_dir: Option<PathBuf>,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies (CIDRs) whose `Forwarded` / `X-Forwarded-For` name
    /// the client. Empty: trust nobody, the TCP peer is the client.
    #[serde(deserialize_with = "cidrs")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// TLS in mchatd itself (for deployments without a reverse proxy): the
    /// certificate chain and the private key, PEM files. Both or neither;
    /// unset: plain HTTP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    Open,
    Invite,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    pub mode: RegistrationMode,
    /// Mentors must be approved by an admin before they are listed or can be requested.
    pub require_mentor_approval: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of tokens made by login/register.
    pub token_ttl_days: u32,
    /// When set, the lifetime of login tokens in seconds instead (short-lived
    /// deployments, and tests of what happens at expiry).
    pub token_ttl_secs: Option<u64>,
    /// Upper bound for named tokens.
    pub max_token_ttl_days: u32,
    /// Password hashes computed at once (argon2id takes ~19 MiB each).
    pub max_concurrent_hashes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestsConfig {
    /// A request left pending this long expires.
    pub pending_ttl_secs: u64,
    /// How often the server looks for expired requests.
    pub sweep_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Login/register attempts per IP: sustained per minute, and burst. 0 disables.
    pub auth_per_min: u32,
    pub auth_burst: u32,
    /// Messages sent per user: sustained per second, and burst. 0 disables.
    pub send_per_sec: u32,
    pub send_burst: u32,
    /// Longest request URI (path and query), in bytes: 414 beyond it.
    pub max_uri_bytes: usize,
    /// Most request headers (431 beyond), and most bytes of them all
    /// (names and values, 431 beyond).
    pub max_headers: usize,
    pub max_header_bytes: usize,
    /// Short requests handled at once; beyond it, 503 with Retry-After at
    /// once (WebSocket, long-poll, file transfers and operations routes are
    /// not counted; 0: no limit). See `shed.rs`.
    pub max_in_flight: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync on every commit: an acknowledged message survives power loss.
    Full,
    /// fsync at checkpoints only: survives a process crash, may lose the last
    /// commits on power loss.
    Normal,
}

/// Which database the server keeps its data in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    /// One file in the data directory: nothing to set up, one node.
    #[default]
    Sqlite,
    /// A PostgreSQL database at `url`, which several nodes may share.
    Postgres,
}

/// `[storage]`. The first four keys choose and size the database; the rest
/// tune SQLite.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite` (the default) or `postgres`.
    pub backend: StorageBackend,
    /// For `postgres`: `postgres://user:password@host:5432/mchat` (or
    /// `MCHATD_STORAGE__URL`, which keeps the password out of the file).
    pub url: Option<String>,
    /// For `postgres`: connections this node keeps open at most.
    pub pool_size: usize,
    /// For `postgres`: milliseconds a statement may run before the
    /// database cancels it (0: no limit).
    pub statement_timeout_ms: u64,
    /// For `postgres`: milliseconds between this node's heartbeats. A node
    /// that misses three is taken for gone: its users who are connected
    /// nowhere else show offline.
    pub node_heartbeat_ms: u64,
    pub synchronous: Synchronous,
    /// Reader threads (each holds one read-only connection).
    pub readers: usize,
    /// Milliseconds a connection waits on a lock before failing.
    pub busy_timeout_ms: u64,
    /// Most write requests committed together in one transaction.
    pub max_batch: usize,
    /// Write requests waiting for the writer; beyond it, 503 with Retry-After
    /// (0: no bound — memory and latency grow with the burst; for comparison only).
    pub write_queue: usize,
    /// Read requests waiting for a reader thread; beyond it, 503 with Retry-After (0: no bound).
    pub read_queue: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Frames queued per live connection; a connection whose queue fills
    /// is dropped (it resumes from its cursor) so it never stalls others.
    pub ws_buffer: usize,
    /// Seconds between pings (keeps NAT mappings open; a peer that misses a
    /// whole interval is dropped).
    pub ping_interval_secs: u64,
    /// Largest frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Bytes a connection may have waiting to be written to its socket.
    pub max_write_buffer_bytes: usize,
    /// A typing indicator ends this long after its last renewal.
    pub typing_ttl_secs: u64,
    /// Events older than this are pruned; older cursors get a `resync`.
    pub event_retention_secs: u64,
}

/// Attachments: how large, and which types (`Content-Type` of the upload).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest accepted file, in bytes (413 beyond it).
    pub max_bytes: u64,
    /// Accepted media types; `type/*` matches a whole family and `*/*`
    /// everything. Anything else is refused with 415.
    pub allowed_types: Vec<String>,
    /// Where the bytes live: a directory (`dir`, the default) or an
    /// S3-compatible bucket (`s3`).
    pub store: FilesStore,
    /// For `dir`: the directory (default `<data_dir>/files`). Several nodes
    /// share one by mounting the same volume here.
    pub dir: Option<PathBuf>,
    /// For `s3`: the bucket.
    pub s3: S3Config,
}

/// Where attachments' bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilesStore {
    #[default]
    Dir,
    S3,
}

/// An S3-compatible bucket (AWS S3, MinIO, Garage, Ceph…). Unset keys fall
/// back to the standard `AWS_*` environment variables.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: Option<String>,
    /// `https://…` of an S3-compatible service other than AWS (path-style
    /// requests); unset: AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    /// Best given as `MCHATD_FILES__S3__SECRET_ACCESS_KEY`, out of the file.
    pub secret_access_key: Option<String>,
    /// Key prefix for the blobs (`files/ab/cdef…` by default).
    pub prefix: Option<String>,
    /// Allow a plain `http://` endpoint (a service on a private network).
    pub allow_http: bool,
}

/// Written by hand so that the secret key never reaches a log line.
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<set>"),
            )
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_bytes: 100 * 1024 * 1024,
            allowed_types: [
                "text/*",
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "application/zip",
                "application/gzip",
                "application/x-tar",
                "application/json",
                "application/toml",
                "application/yaml",
                "application/x-yaml",
                "application/octet-stream",
            ]
            .map(String::from)
            .to_vec(),
            store: FilesStore::Dir,
            dir: None,
            s3: S3Config::default(),
        }
    }
}

impl FilesConfig {
    /// Whether `content_type` (an essence such as `image/png`, lowercase) is accepted.
    /// The rule is shared with the client, which checks before uploading.
    pub fn allows(&self, content_type: &str) -> bool {
        mchat_shared::api::media_type_allowed(&self.allowed_types, content_type)
    }
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            ws_buffer: 256,
            ping_interval_secs: 25,
            max_frame_bytes: 16 * 1024,
            max_write_buffer_bytes: 1024 * 1024,
            typing_ttl_secs: 5,
            event_retention_secs: 30 * 24 * 3600,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: None,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            mode: RegistrationMode::Open,
            require_mentor_approval: true,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            token_ttl_days: 30,
            token_ttl_secs: None,
            max_token_ttl_days: 365,
            max_concurrent_hashes: 4,
        }
    }
}

impl Default for RequestsConfig {
    fn default() -> Self {
        Self {
            pending_ttl_secs: 14 * 24 * 3600,
            sweep_interval_secs: 60,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            auth_per_min: 10,
            auth_burst: 10,
            send_per_sec: 10,
            send_burst: 30,
            max_uri_bytes: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 16 * 1024,
            max_in_flight: 64,
        }
    }
}

/// Written by hand so that a password in the URL never reaches a log line.
impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("node_heartbeat_ms", &self.node_heartbeat_ms)
            .field("synchronous", &self.synchronous)
            .field("readers", &self.readers)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .field("max_batch", &self.max_batch)
            .field("write_queue", &self.write_queue)
            .field("read_queue", &self.read_queue)
            .finish()
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Sqlite,
            url: None,
            pool_size: 16,
            statement_timeout_ms: 5000,
            node_heartbeat_ms: 5000,
            synchronous: Synchronous::Full,
            readers: 4,
            busy_timeout_ms: 5000,
            max_batch: 256,
            write_queue: 256,
            read_queue: 1024,
        }
    }
}

/// Whether an `MCHATD_` variable (`key` without the prefix) is config:
/// only `SECTION__KEY` names are. Anything else with the prefix belongs to
/// someone else — `MCHATD_CONFIG` (the flag), a `MCHATD_LOG` habit, or the
/// `MCHATD_PORT=tcp://…` that Kubernetes injects for a Service named mchatd —
/// and must not abort start. An unknown key inside a real section still does.
fn is_section_key(key: &figment::value::UncasedStr) -> bool {
    let is_config = key
        .as_str()
        .split_once("__")
        .is_some_and(|(section, rest)| !section.is_empty() && !rest.is_empty());
    if !is_config {
        tracing::debug!(variable = %format_args!("MCHATD_{key}"), "not SECTION__KEY config; ignored");
    }
    is_config
}

/// CIDRs (`10.0.0.0/8`), or bare addresses meaning that one host.
fn cidrs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{s:?} is neither a CIDR (such as 10.0.0.0/8) nor an IP address"
                    ))
                })
        })
        .collect()
}

impl Config {
    /// Layers defaults → `path` (if given) → `MCHATD_*` environment.
    pub fn load(path: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            fig = fig.merge(Toml::file_exact(path));
        }
        // The name the issue and the docs give; not SECTION__KEY, so the
        // env layer below skips it. MCHATD_LOG__FORMAT, merged later, wins.
        if let Ok(format) = std::env::var("MCHATD_LOG_FORMAT") {
            fig = fig.merge(Serialized::default(
                "log.format",
                format.trim().to_ascii_lowercase(),
            ));
        }
        fig = fig.merge(Env::prefixed("MCHATD_").filter(is_section_key).split("__"));
        fig.extract().map_err(Box::new)
    }

    /// The data directory: configured, else `$STATE_DIRECTORY` (what systemd's
    /// `StateDirectory=` gives the service), else the platform's data dir.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.server.data_dir {
            return dir.clone();
        }
        state_directory(std::env::var_os("STATE_DIRECTORY")).unwrap_or_else(|| {
            directories::ProjectDirs::from("dev", "mentorchat", "mchatd")
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("mchatd-data"))
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir().join("mchatd.sqlite3")
    }

    /// Where attachments live with `[files] store = "dir"`: `ab/cdef…` by
    /// SHA-256, uploads in progress under `tmp/`; `[files] dir`, or
    /// `<data_dir>/files`.
    pub fn files_dir(&self) -> PathBuf {
        self.files
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("files"))
    }

    /// Where uploads are streamed before they are stored: in the files
    /// directory (so a rename puts them in place), or for a bucket in this
    /// node's own data directory.
    pub fn uploads_dir(&self) -> PathBuf {
        match self.files.store {
            FilesStore::Dir => self.files_dir().join("tmp"),
            FilesStore::S3 => self.data_dir().join("uploads"),
        }
    }
}

/// The first directory of a `$STATE_DIRECTORY` value: systemd joins several
/// `StateDirectory=` entries with ':', and the first is the service's own.
fn state_directory(value: Option<std::ffi::OsString>) -> Option<PathBuf> {
    let value = value?;
    let first = value.to_str().map_or_else(
        || PathBuf::from(&value),
        |s| PathBuf::from(s.split(':').next().unwrap_or(s)),
    );
    (!first.as_os_str().is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<Config, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_bare_addresses() {
        let cfg = from_toml("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\", \"127.0.0.1\"]\n");
        let nets: Vec<String> = cfg
            .map(|c| c.server.trusted_proxies.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        assert_eq!(nets, ["10.0.0.0/8", "::1/128", "127.0.0.1/32"]);
        let err = from_toml("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("neither a CIDR")),
            "a bad CIDR must fail with a clear sentence"
        );
    }

    #[test]
    fn only_section_key_variables_are_config() {
        let key = |s: &'static str| figment::value::UncasedStr::new(s);
        assert!(is_section_key(key("limits__send_per_sec")));
        for stray in [
            "log",
            "port",
            "port_7878_tcp_addr",
            "config",
            "server__",
            "__bind",
        ] {
            assert!(!is_section_key(key(stray)), "{stray}");
        }
    }

    #[test]
    fn state_directory_is_the_first_entry_and_never_empty() {
        let sd = |v: &str| state_directory(Some(v.into()));
        assert_eq!(sd("/var/lib/mchatd"), Some(PathBuf::from("/var/lib/mchatd")));
        assert_eq!(
            sd("/var/lib/mchatd:/var/lib/other"),
            Some(PathBuf::from("/var/lib/mchatd"))
        );
        assert_eq!(sd(""), None);
        assert_eq!(state_directory(None), None);
    }

    #[test]
    fn log_format_is_text_unless_json_is_asked_for() {
        assert_eq!(from_toml("").map(|c| c.log.format).ok(), Some(LogFormat::Text));
        let cfg = from_toml("[log]\nformat = \"json\"\n");
        assert_eq!(cfg.map(|c| c.log.format).ok(), Some(LogFormat::Json));
        assert!(from_toml("[log]\nformat = \"xml\"\n").is_err());
    }

    #[test]
    fn a_configured_data_dir_wins_over_state_directory() {
        let cfg = from_toml("[server]\ndata_dir = \"/srv/mchatd\"\n");
        assert_eq!(cfg.map(|c| c.data_dir()).ok(), Some(PathBuf::from("/srv/mchatd")));
    }

    #[test]
    fn tls_paths_are_server_keys() {
        let cfg =
            from_toml("[server]\ntls_cert = \"/etc/mchatd/cert.pem\"\ntls_key = \"/etc/mchatd/key.pem\"\n");
        let paths = cfg.map(|c| (c.server.tls_cert, c.server.tls_key)).ok();
        assert_eq!(
            paths,
            Some((
                Some(PathBuf::from("/etc/mchatd/cert.pem")),
                Some(PathBuf::from("/etc/mchatd/key.pem"))
            ))
        );
    }
}
