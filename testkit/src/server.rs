//! [`TestServer`]: a real `mchatd` process on a loopback port.
//!
//! Each server gets its own temporary directory holding the data directory,
//! the config file and the server's stderr log (`mchatd.log`); a server can
//! also start on an existing data directory ([`TestServer::start_on_data_dir`],
//! e.g. one holding only a backup). The address comes from the one line the
//! server prints on stdout (`mchatd listening on http://ADDR`).
//!
//! Ports are picked at random *below* the kernel's ephemeral range
//! (`ip_local_port_range`), retried when taken: the kernel never hands those
//! to outgoing connections, so while a test has its server stopped, the
//! hundreds of connections the other tests open cannot take its port, and
//! [`TestServer::start_again_on_same_port`] gets it back (a port from
//! `127.0.0.1:0` is an ephemeral one, which any `connect` may grab).
//!
//! The base config turns the rate limits off (`auth_per_min = 0`,
//! `send_per_sec = 0`: tests register and send fast) and leaves mentor
//! approval on, as in production; [`TestServer::start_open`] turns it off.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::sql::Backend;

/// Config every test server starts from; a test's extra TOML is merged over it.
const BASE_CONFIG: &str = "\
[registration]
require_mentor_approval = true

[limits]
auth_per_min = 0
send_per_sec = 0
";

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Random ports tried before giving up (each taken one costs a process start).
const PORT_TRIES: usize = 20;
/// The lowest port handed out: above the well-known and most registered services.
const LOWEST_PORT: u16 = 10_000;
/// How long [`TestServer::start_again_on_same_port`] keeps trying the old port.
const SAME_PORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running (or stopped) `mchatd` with its own temporary data directory.
/// Dropping it kills the process; the temporary directory goes with it (an
/// existing data directory given to [`TestServer::start_on_data_dir`] stays).
pub struct TestServer {
    dir: TempDir,
    data_dir: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    addr: SocketAddr,
    /// The private `/metrics` address (`[metrics] bind`), when configured.
    metrics_addr: Option<SocketAddr>,
    /// The PostgreSQL database a server started with
    /// `MCHAT_TEST_BACKEND=postgres` keeps its data in (dropped with it).
    _database: Option<crate::TestDatabase>,
    /// Where the data is, for [`TestServer::sql`].
    backend: Backend,
}

/// The variable that runs every test server on PostgreSQL (`postgres`) or
/// SQLite (unset, or `sqlite`), for the suites to run on both backends.
pub const BACKEND_VAR: &str = "MCHAT_TEST_BACKEND";

/// Whether test servers run on PostgreSQL ([`BACKEND_VAR`]).
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VAR).is_ok_and(|v| v == "postgres")
}

/// For a test of something only the SQLite backend has (its file's bytes,
/// its online backup, its writer's queue): true when the suites run on
/// PostgreSQL, after a line on stderr naming what is skipped. The test
/// returns at once; `--nocapture` shows the line.
pub fn sqlite_only(what: &str) -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("skipped on PostgreSQL: {what} is the SQLite backend's own");
    }
    skip
}

/// The `[storage]` table that puts a server on the database at `url`.
pub fn postgres_config(url: &str) -> String {
    format!("[storage]\nbackend = \"postgres\"\nurl = \"{url}\"\n")
}

impl TestServer {
    /// A server with the base config (rate limits off, mentor approval on).
    pub fn start() -> TestServer {
        TestServer::start_with("")
    }

    /// A server where new mentors need no approval (for tests that do not care).
    pub fn start_open() -> TestServer {
        TestServer::start_with("[registration]\nrequire_mentor_approval = false\n")
    }

    /// A server with `extra_toml` merged over the base config, table by table
    /// and key by key (`"[limits]\nsend_per_sec = 5"` keeps `auth_per_min = 0`).
    pub fn start_with(extra_toml: &str) -> TestServer {
        let dir = temp_dir();
        let data_dir = dir.path().join("data");
        TestServer::start_in(dir, data_dir, extra_toml)
    }

    /// A server on an existing data directory (e.g. a fresh one holding only
    /// a backup copied to `mchatd.sqlite3`), with `extra_toml` merged over the
    /// base config as in [`TestServer::start_with`]. Config and log live in
    /// the server's own temporary directory; `data_dir` is left in place.
    pub fn start_on_data_dir(data_dir: &Path, extra_toml: &str) -> TestServer {
        TestServer::start_in(temp_dir(), data_dir.to_path_buf(), extra_toml)
    }

    /// A server on the PostgreSQL database at `url`, which other servers
    /// may share (several nodes), with `extra_toml` merged over the base config.
    pub fn start_on_postgres(url: &str, extra_toml: &str) -> TestServer {
        let dir = temp_dir();
        let data_dir = dir.path().join("data");
        // One `[storage]` table: the test's own keys join the database's.
        let storage = postgres_config(url);
        let config = match extra_toml.split_once("[storage]\n") {
            Some((before, after)) => format!("{before}{storage}{after}"),
            None => format!("{storage}{extra_toml}"),
        };
        TestServer::start_in(dir, data_dir, &config)
    }

    fn start_in(dir: TempDir, data_dir: PathBuf, extra_toml: &str) -> TestServer {
        let config_path = dir.path().join("mchatd.toml");
        let log_path = dir.path().join("mchatd.log");
        // The suites' PostgreSQL run: a database of this server's own,
        // unless the test chose its storage itself.
        let database = (on_postgres() && !extra_toml.contains("[storage]")).then(crate::TestDatabase::create);
        let mut config = config_text(extra_toml);
        if let Some(db) = &database {
            config = config_text(&format!("{}{extra_toml}", postgres_config(db.url())));
        }
        let backend = storage_of(&config);
        std::fs::write(&config_path, config).expect("cannot write the test server config");
        let mut server = TestServer {
            dir,
            data_dir,
            config_path,
            log_path,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: None,
            _database: database,
            backend,
        };
        if let Err(why) = server.spawn_on_a_free_port() {
            panic!("mchatd did not start: {why}");
        }
        server
    }

    /// `http://127.0.0.1:PORT` (of the latest start).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens (or last listened) on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` of the private metrics listener, when the config sets
    /// `[metrics] bind` (the server prints it before its main address line).
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_addr.map(|a| format!("http://{a}"))
    }

    /// The server's data directory (kept across restarts).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Which storage the server runs on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether the server keeps its data in PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The SQLite database file in the data directory (`mchatd.sqlite3`).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("mchatd.sqlite3")
    }

    /// The config file the server was started with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The temporary directory holding config, log and (unless started on an
    /// existing data directory) the data; scratch space that lives as long as
    /// the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server wrote to stderr so far (all starts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Is the process still alive?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Graceful stop: SIGTERM (with the `kill` command), then wait for the
    /// exit, SIGKILL after 20 s. Returns the exit status, or `None` if the
    /// server was not running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if sent {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(status);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Abrupt stop: SIGKILL, as in a crash or power cut of the process.
    pub fn kill9(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }

    /// Starts the server again on the same data directory and config (stops
    /// it first if it still runs). The port is new: use [`TestServer::url`].
    pub fn start_again(&mut self) {
        self.stop();
        if let Err(why) = self.spawn_on_a_free_port() {
            panic!("mchatd did not start again: {why}");
        }
    }

    /// Like [`TestServer::start_again`], but on the previous port, retried for
    /// a few seconds while it is still taken. Returns `true` on the same
    /// port; if the port stayed taken (another process grabbed it), starts on
    /// a fresh port and returns `false` — the server runs either way, at
    /// [`TestServer::url`].
    pub fn start_again_on_same_port(&mut self) -> bool {
        self.stop();
        let bind = self.addr.to_string();
        let deadline = Instant::now() + SAME_PORT_TIMEOUT;
        loop {
            match self.spawn(&bind) {
                Ok(()) => return true,
                Err(why) if Instant::now() >= deadline => {
                    eprintln!("testkit: port {bind} stayed taken ({why}); starting on a fresh port");
                    self.start_again();
                    return false;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs `mchatd --config C --data-dir D admin ARGS...` with `stdin` piped
    /// in, and returns its output (works whether or not the server runs).
    pub fn admin(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = vec![OsStr::new("admin")];
        all.extend(args.iter().map(OsStr::new));
        self.cli(&all, stdin)
    }

    /// Runs `mchatd --config C --data-dir D backup DEST` and returns its
    /// output (a consistent copy, also while the server runs; the command
    /// refuses to overwrite an existing `dest`).
    pub fn backup(&self, dest: &Path) -> Output {
        self.cli(&[OsStr::new("backup"), dest.as_os_str()], "")
    }

    /// Runs `mchatd --config C --data-dir D ARGS...` with `stdin` piped in.
    fn cli(&self, args: &[&OsStr], stdin: &str) -> Output {
        let mut cmd = Command::new(crate::mchatd_bin());
        clean_env(&mut cmd);
        cmd.arg("--config")
            .arg(&self.config_path)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot run the mchatd command");
        if let Some(mut input) = child.stdin.take() {
            // The command may exit without reading; that is its answer, not ours.
            let _ = input.write_all(stdin.as_bytes());
        }
        child
            .wait_with_output()
            .expect("cannot wait for the mchatd command")
    }

    /// Spawns the server on a random port below the ephemeral range, trying
    /// another one when that one is taken (by another test's server).
    fn spawn_on_a_free_port(&mut self) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let bind = format!("127.0.0.1:{}", random_stable_port());
            match self.spawn(&bind) {
                Ok(()) => return Ok(()),
                Err(why) if why.contains("cannot listen on") => last = why,
                Err(why) => return Err(why),
            }
        }
        Err(format!("no free port in {PORT_TRIES} tries; the last: {last}"))
    }

    /// Spawns the server bound to `bind` and waits for its address line.
    /// On failure the process is gone and the error carries its log.
    fn spawn(&mut self, bind: &str) -> Result<(), String> {
        assert!(self.child.is_none(), "the test server is already running");
        std::fs::create_dir_all(&self.data_dir).map_err(|e| format!("cannot create the data dir: {e}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("cannot open {}: {e}", self.log_path.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(crate::mchatd_bin());
        clean_env(&mut cmd);
        cmd.arg("--bind")
            .arg(bind)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config_path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().map_err(|e| format!("cannot spawn mchatd: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the address line (and the metrics one printed before it),
        // then drains stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut tx = Some(tx);
            let mut metrics = None;
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("mchatd metrics on http://") {
                    metrics = Some(addr.trim().to_string());
                }
                let listening = line.strip_prefix("mchatd listening on ");
                // `https://` when the test configures `[server] tls_cert`.
                if let Some(addr) =
                    listening.and_then(|l| l.strip_prefix("http://").or_else(|| l.strip_prefix("https://")))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((addr.trim().to_string(), metrics.take()));
                }
            }
        });
        let fail = |child: &mut Child, what: String| {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            let log = log.get(log_start as usize..).unwrap_or(&log);
            format!("{what} (exit: {status}); its stderr:\n{log}")
        };
        let (addr, metrics_addr) = match rx.recv_timeout(START_TIMEOUT) {
            Ok(found) => found,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(fail(
                    &mut child,
                    format!("no address line within {START_TIMEOUT:?}"),
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(fail(&mut child, "it exited before printing its address".into()));
            }
        };
        match addr.parse() {
            Ok(a) => self.addr = a,
            Err(e) => return Err(fail(&mut child, format!("unreadable address {addr:?}: {e}"))),
        }
        self.metrics_addr = match metrics_addr.map(|m| m.parse::<SocketAddr>()) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(e)) => return Err(fail(&mut child, format!("unreadable metrics address: {e}"))),
        };
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = log.get(log.len().saturating_sub(8000)..).unwrap_or(&log);
            eprintln!(
                "---- mchatd log ({}) ----\n{tail}\n---- end of mchatd log ----",
                self.url()
            );
        }
        self.kill9();
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url())
            .field("dir", &self.dir.path())
            .field("pid", &self.pid())
            .finish()
    }
}

/// A fresh `mchatd-test-*` temporary directory.
fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("mchatd-test-")
        .tempdir()
        .expect("cannot create a temp dir for the test server")
}

/// The developer's `MCHATD_*` variables would override the test config.
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MCHATD_") {
            cmd.env_remove(key);
        }
    }
}

/// A random port in `LOWEST_PORT..` the start of the ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`; 32768 where it cannot be read).
fn random_stable_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&p| p > LOWEST_PORT + 1000)
        .unwrap_or(32_768);
    // RandomState is seeded per instance: a random number without a dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let span = u64::from(ephemeral_start - LOWEST_PORT);
    LOWEST_PORT + (h.finish() % span) as u16
}

/// The base config with `extra` merged over it.
fn config_text(extra: &str) -> String {
    let mut base: toml::Table = BASE_CONFIG.parse().expect("the base test config is valid TOML");
    let extra: toml::Table = extra
        .parse()
        .unwrap_or_else(|e| panic!("the test's extra server config is not valid TOML: {e}\n{extra}"));
    merge(&mut base, extra);
    toml::to_string(&base).expect("a TOML table serialises")
}

/// The storage a full config names: `[storage] backend = "postgres"` with
/// its `url`, else the SQLite file.
fn storage_of(config: &str) -> Backend {
    let table: toml::Table = config.parse().expect("the test server config is valid TOML");
    let storage = table.get("storage").and_then(toml::Value::as_table);
    match storage
        .and_then(|s| s.get("backend"))
        .and_then(toml::Value::as_str)
    {
        Some("postgres") => Backend::Postgres(
            storage
                .and_then(|s| s.get("url"))
                .and_then(toml::Value::as_str)
                .expect("a postgres [storage] has a url")
                .to_owned(),
        ),
        _ => Backend::Sqlite,
    }
}

fn merge(base: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(e)) => merge(b, e),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_config_merges_key_by_key() {
        let text = config_text("[limits]\nsend_per_sec = 5\n[storage]\nreaders = 2\n");
        let t: toml::Table = text.parse().unwrap();
        assert_eq!(t["limits"]["send_per_sec"].as_integer(), Some(5));
        assert_eq!(t["limits"]["auth_per_min"].as_integer(), Some(0));
        assert_eq!(t["registration"]["require_mentor_approval"].as_bool(), Some(true));
        assert_eq!(t["storage"]["readers"].as_integer(), Some(2));
    }
}

#[cfg(test)]
mod port_tests {
    use super::{LOWEST_PORT, random_stable_port};

    #[test]
    fn ports_stay_below_the_ephemeral_range_and_vary() {
        let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
            .unwrap_or(32_768);
        let ports: std::collections::HashSet<u16> = (0..200).map(|_| random_stable_port()).collect();
        assert!(
            ports.iter().all(|&p| (LOWEST_PORT..ephemeral_start).contains(&p)),
            "{ports:?}"
        );
        assert!(
            ports.len() > 150,
            "only {} distinct ports in 200 draws",
            ports.len()
        );
    }
}
