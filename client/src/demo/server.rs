//! The demo's throwaway server, on a free loopback port with its data in the
//! demo's temp dir: `mchatd` embedded in this process (cargo feature
//! `embedded-server`, on by default, so `cargo run -p mchat -- demo` needs
//! nothing else), or the `mchatd` binary — next to `mchat`, on `PATH`, or
//! named by `MCHAT_DEMO_SERVER` — when a packager builds the client without
//! the server (`--no-default-features`) or the variable asks for it.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Names the `mchatd` binary the demo runs instead of the embedded server.
pub const SERVER_ENV: &str = "MCHAT_DEMO_SERVER";

/// How long the binary has to print its address line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The demo's settings, the same for both ways of running it: no approval
/// step for the seeded mentor, no login limit for the scripted users, and a
/// short grace so Ctrl-C ends the demo at once.
const DEMO_CONFIG: &str = "\
[server]
shutdown_grace_secs = 2

[registration]
require_mentor_approval = false

[limits]
auth_per_min = 0
";

/// A running demo server; [`DemoServer::stop`] ends it.
pub struct DemoServer {
    /// `http://127.0.0.1:PORT`.
    url: String,
    running: Running,
}

enum Running {
    /// In this process: the task serving, and the sender that starts its
    /// graceful shutdown.
    #[cfg(feature = "embedded-server")]
    Embedded {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
    /// A child `mchatd` (killed on drop, so a failed demo leaves no process).
    Process(tokio::process::Child),
}

impl DemoServer {
    /// Starts a server keeping its data under `data_dir`.
    pub async fn start(data_dir: &Path) -> anyhow::Result<DemoServer> {
        if let Some(bin) = std::env::var_os(SERVER_ENV).filter(|v| !v.is_empty()) {
            return start_process(&PathBuf::from(bin), data_dir).await;
        }
        #[cfg(feature = "embedded-server")]
        {
            start_embedded(data_dir).await
        }
        #[cfg(not(feature = "embedded-server"))]
        {
            match find_mchatd() {
                Some(bin) => start_process(&bin, data_dir).await,
                None => bail!(
                    "mchat demo needs mchatd: this mchat was built without the embedded server, and no \
                     mchatd was found next to it or on PATH (or set {SERVER_ENV})"
                ),
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How the server runs, for the demo's first lines.
    pub fn describe(&self) -> &'static str {
        match self.running {
            #[cfg(feature = "embedded-server")]
            Running::Embedded { .. } => "an embedded mchatd",
            Running::Process(_) => "a throwaway mchatd process",
        }
    }

    /// Stops the server; an error says how it ended if not cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self.running {
            #[cfg(feature = "embedded-server")]
            Running::Embedded { stop, task } => {
                let _ = stop.send(());
                task.await.context("the demo server's task failed")?
            }
            Running::Process(mut child) => {
                // Its data dir is deleted next: nothing to shut down gracefully.
                let _ = child.start_kill();
                child.wait().await.context("cannot wait for the demo's mchatd")?;
                Ok(())
            }
        }
    }
}

#[cfg(feature = "embedded-server")]
async fn start_embedded(data_dir: &Path) -> anyhow::Result<DemoServer> {
    let mut config: mchatd::config::Config =
        toml::from_str(DEMO_CONFIG).context("the demo's server config")?;
    config.server.data_dir = Some(data_dir.to_path_buf());
    let state = mchatd::server::build_state(config, None).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        mchatd::server::serve(state, listener, async {
            let _ = stop_rx.await;
        })
        .await
    });
    Ok(DemoServer {
        url,
        running: Running::Embedded { stop, task },
    })
}

/// `mchatd` beside the running `mchat` (a package, `cargo install`, or
/// `target/<profile>/`), else the first one on `PATH`.
#[cfg_attr(feature = "embedded-server", allow(dead_code))]
fn find_mchatd() -> Option<PathBuf> {
    let name = format!("mchatd{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(&name));
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}

/// Runs `bin --bind 127.0.0.1:0` on a config written beside the data and
/// waits for the `mchatd listening on http://ADDR` line it prints.
async fn start_process(bin: &Path, data_dir: &Path) -> anyhow::Result<DemoServer> {
    std::fs::create_dir_all(data_dir)?;
    let config = data_dir.join("demo.toml");
    std::fs::write(&config, DEMO_CONFIG)?;
    let log = std::fs::File::create(data_dir.join("mchatd.log"))?;
    let mut cmd = tokio::process::Command::new(bin);
    for (key, _) in std::env::vars_os() {
        // The operator's own server settings are not the demo's.
        if key.to_string_lossy().starts_with("MCHATD_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--bind", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let stdout = child.stdout.take().context("mchatd's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(addr) = line.strip_prefix("mchatd listening on ") {
                return Ok::<_, std::io::Error>(Some(addr.trim().to_string()));
            }
        }
        Ok(None)
    })
    .await;
    let url = match address {
        Ok(Ok(Some(url))) => url,
        Ok(Ok(None)) | Ok(Err(_)) => {
            let _ = child.wait().await;
            let log = std::fs::read_to_string(data_dir.join("mchatd.log")).unwrap_or_default();
            bail!(
                "{} exited before it listened: {}",
                bin.display(),
                log.lines().last().unwrap_or("no output")
            );
        }
        Err(_) => bail!("{} did not listen within {START_TIMEOUT:?}", bin.display()),
    };
    // Drain stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(DemoServer {
        url,
        running: Running::Process(child),
    })
}
