//! Starting and stopping a real `mchatd` child: fresh temp data dir, port 0
//! on 127.0.0.1, benchmark env (rate limits off), address read from its
//! `mchatd listening on http://ADDR` stdout line, stopped by PID. The crash
//! test starts it on an existing data dir ([`Server::start_on`]) and kills it
//! with SIGKILL ([`Server::kill9`]).

use anyhow::{Context, Result, anyhow, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Environment the benchmark gives the server (reported in the output).
pub const BENCH_ENV: [(&str, &str); 3] = [
    ("MCHATD_LIMITS__SEND_PER_SEC", "0"),
    ("MCHATD_LIMITS__AUTH_PER_MIN", "0"),
    ("MCHATD_REGISTRATION__REQUIRE_MENTOR_APPROVAL", "false"),
];

const READY_LINE: &str = "mchatd listening on http://";

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Launch {
    pub bin: PathBuf,
    /// Extra `KEY=VALUE` variables, applied after [`BENCH_ENV`].
    pub extra_env: Vec<(String, String)>,
    pub ready_timeout: Duration,
}

/// A running `mchatd`. Call [`Server::stop`]; dropping it kills the child (SIGKILL) as a backstop.
pub struct Server {
    child: Child,
    pid: u32,
    pub addr: SocketAddr,
    pub startup_s: f64,
    pub bin: PathBuf,
    /// The temp dir this server owns (removed on drop), if it made one.
    _temp: Option<TempDir>,
    data_dir: PathBuf,
    log_path: PathBuf,
}

/// `target/release/mchatd` next to this executable.
/// Runs one benchmark phase under the overall deadline, ending early (with
/// an error) on Ctrl-C, so the caller still stops the server it started.
pub async fn bounded<T>(deadline_secs: u64, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(deadline_secs), work) => match r {
            Ok(r) => r,
            Err(_) => Err(anyhow!("overall deadline of {deadline_secs} s exceeded")),
        },
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    }
}

pub fn default_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the benchmark's own executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?;
    Ok(dir.join(format!("mchatd{}", std::env::consts::EXE_SUFFIX)))
}

/// Parses the ready line's address and refuses anything but loopback.
pub fn parse_ready_line(line: &str) -> Option<Result<SocketAddr>> {
    let rest = line.trim().strip_prefix(READY_LINE)?;
    Some(
        rest.trim_end_matches('/')
            .parse::<SocketAddr>()
            .with_context(|| format!("cannot parse the address in {line:?}"))
            .and_then(|a| {
                if a.ip().is_loopback() {
                    Ok(a)
                } else {
                    Err(anyhow!(
                        "refusing: the server listens on {a}, which is not loopback"
                    ))
                }
            }),
    )
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Server {
    /// Starts on a fresh temporary data dir (removed when the server is dropped).
    pub async fn start(launch: &Launch) -> Result<Server> {
        let data_dir = tempfile::Builder::new()
            .prefix("mchat-bench-")
            .tempdir()
            .context("cannot create a temporary data dir")?;
        let dir = data_dir.path().to_path_buf();
        Server::spawn(launch, dir, Some(data_dir)).await
    }

    /// Starts on `data_dir`, which may hold a database from an earlier run
    /// (e.g. one killed with [`Server::kill9`]); the caller owns the dir.
    /// The stderr log is appended to `mchatd.stderr.log` in it.
    pub async fn start_on(launch: &Launch, data_dir: &Path) -> Result<Server> {
        Server::spawn(launch, data_dir.to_path_buf(), None).await
    }

    async fn spawn(launch: &Launch, dir: PathBuf, temp: Option<TempDir>) -> Result<Server> {
        if !launch.bin.is_file() {
            bail!(
                "mchatd binary not found at {}: build it first with `cargo build --release -p mchatd` \
                 (or pass --server-bin PATH)",
                launch.bin.display()
            );
        }
        let log_path = dir.join("mchatd.stderr.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .context("cannot open the server log file")?;
        let mut cmd = Command::new(&launch.bin);
        cmd.arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&dir)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        // Reproducible config: nothing inherited from the caller's MCHATD_* or RUST_LOG.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("MCHATD_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("RUST_LOG");
        cmd.env("NO_COLOR", "1"); // plain log file
        for (k, v) in BENCH_ENV {
            cmd.env(k, v);
        }
        for (k, v) in &launch.extra_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", launch.bin.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("mchatd exited immediately"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe to mchatd"))?;
        let mut lines = BufReader::new(stdout).lines();
        let wait_ready = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = parse_ready_line(&line) {
                    return addr;
                }
            }
            Err(anyhow!("mchatd closed its stdout without printing its address"))
        };
        let ready = tokio::time::timeout(launch.ready_timeout, wait_ready).await;
        let addr = match ready {
            Ok(Ok(addr)) => addr,
            failed => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                let why = match failed {
                    Ok(Err(e)) => e,
                    _ => anyhow!(
                        "mchatd did not report its address within {:?}",
                        launch.ready_timeout
                    ),
                };
                return Err(why.context(format!("server log tail:\n{}", tail(&log_path, 20))));
            }
        };
        let startup_s = started.elapsed().as_secs_f64();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            pid,
            addr,
            startup_s,
            bin: launch.bin.clone(),
            _temp: temp,
            data_dir: dir,
            log_path,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Size of the database and its WAL, in MB.
    pub fn db_mb(&self) -> f64 {
        let db = self.data_dir.join("mchatd.sqlite3");
        let wal = self.data_dir.join("mchatd.sqlite3-wal");
        let bytes: u64 = [db, wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        (bytes as f64 / 1048576.0 * 100.0).round() / 100.0
    }

    /// SIGKILL, as in a crash: no shutdown, no checkpoint. Waits (bounded)
    /// for the child to be reaped; returns a description of how it ended.
    pub async fn kill9(mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("had already exited ({status})");
        }
        if let Err(e) = self.child.start_kill() {
            return format!("SIGKILL failed: {e}");
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) => format!("killed ({status})"),
            Ok(Err(e)) => format!("killed; wait failed: {e}"),
            Err(_) => "killed; not reaped within 10 s".to_owned(),
        }
    }

    /// The last lines of the server's stderr log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// SIGTERM (via `kill`), wait up to `grace`, then SIGKILL. Returns a description of how it ended.
    pub async fn stop(mut self, grace: Duration) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("had already exited ({status})");
        }
        let term = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if let Err(e) = term {
            eprintln!("bench: cannot run `kill -TERM {}`: {e}", self.pid);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => format!("sent SIGTERM; exited with {status}"),
            _ => {
                let _ = self.child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
                format!("did not stop within {grace:?} of SIGTERM; killed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_is_loopback_only() {
        let ok = parse_ready_line("mchatd listening on http://127.0.0.1:4321");
        assert_eq!(
            ok.map(|r| r.ok()),
            Some(Some(SocketAddr::from(([127, 0, 0, 1], 4321))))
        );
        assert!(parse_ready_line("mchatd listening on http://[::1]:80").is_some_and(|r| r.is_ok()));
        assert!(parse_ready_line("mchatd listening on http://10.0.0.1:80").is_some_and(|r| r.is_err()));
        assert!(parse_ready_line("something else").is_none());
    }
}
