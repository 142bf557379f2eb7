//! `mchat-bench cli`: what a person or a cron job waits for — the wall time
//! of whole `mchat` processes against a live server on loopback.
//!
//! Scenario: one mentor with `--conversations` accepted conversations (500
//! by default), one mentee in one of them. Measured, `--runs` times each
//! after a warm-up: `mchat send` by a mentee (the common script case),
//! `mchat send` by the mentor (who must find one peer among all the
//! conversations), `mchat send` by conversation id, and `mchat inbox` for
//! the mentor. Every run is a fresh process: start-up, config and
//! credentials, local store, TLS-less HTTP, output. Medians are the figure.

use crate::api::Api;
use crate::server::{Launch, Server};
use crate::stats::{Summary, summarize_ms};
use anyhow::{Context, Result, anyhow, bail};
use mchat_shared::api::Role;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct CliArgs {
    /// The mchat binary (default: target/release/mchat next to this one).
    #[arg(long)]
    pub client_bin: Option<PathBuf>,
    /// The mchatd binary (default: target/release/mchatd next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Conversations the mentor has (the inbox size).
    #[arg(long, default_value_t = 500)]
    pub conversations: usize,
    /// Timed runs of each command.
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// One JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the benchmark's own executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", exe.display()))?;
    Ok(dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// One `mchat` invocation as a user would run it.
struct Mchat<'a> {
    bin: &'a Path,
    home: &'a Path,
    server: &'a str,
}

impl Mchat<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .env("MCHAT_HOME", self.home)
            .env("MCHAT_SERVER", self.server)
            .env_remove("MCHAT_TOKEN")
            .env_remove("MCHAT_PROFILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs to completion; returns the wall time in ms, or the failure.
    fn timed(&self, args: &[&str]) -> Result<f64> {
        let started = Instant::now();
        let out = self.command(args).output().context("cannot run mchat")?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            bail!(
                "mchat {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(ms)
    }

    fn login(&self, username: &str) -> Result<()> {
        let mut child = self
            .command(&["login", username, "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .context("cannot run mchat login")?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            writeln!(stdin, "bench-password-{username}")?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "mchat login {username} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

fn measure(m: &Mchat<'_>, args: &[&str], runs: usize) -> Result<Summary> {
    for _ in 0..3 {
        m.timed(args)?; // warm the page cache and the server's statement cache
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(m.timed(args)?);
    }
    Ok(summarize_ms(&samples))
}

/// Registers the mentor and `n` mentees with accepted conversations.
async fn seed(base: &str, n: usize) -> Result<()> {
    let mut mentor = Api::new(base)?;
    mentor.register("mona", Role::Mentor).await?;
    let mut next = 0usize;
    while next < n {
        let batch: Vec<usize> = (next..n.min(next + 8)).collect();
        next += batch.len();
        let mut tasks = Vec::new();
        for i in batch {
            let base = base.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut mentee = Api::new(&base)?;
                let name = if i == 0 {
                    "ana".to_string()
                } else {
                    format!("mentee{i:04}")
                };
                mentee.register(&name, Role::Mentee).await?;
                mentee
                    .request_conversation("mona", "Hello Mona, may I ask you about my career?")
                    .await
            }));
        }
        for t in tasks {
            let conv = t.await.map_err(|e| anyhow!("seed task failed: {e}"))??;
            mentor.accept(conv).await?;
        }
    }
    Ok(())
}

pub async fn run(args: CliArgs) -> Result<Value> {
    if args.runs == 0 || args.conversations == 0 {
        bail!("--runs and --conversations must be at least 1");
    }
    let client_bin = match &args.client_bin {
        Some(p) => p.clone(),
        None => sibling("mchat")?,
    };
    if !client_bin.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p mchat`",
            client_bin.display()
        );
    }
    let launch = Launch {
        bin: match &args.server_bin {
            Some(p) => p.clone(),
            None => crate::server::default_bin()?,
        },
        extra_env: Vec::new(),
        ready_timeout: Duration::from_secs(30),
    };
    let srv = Server::start(&launch).await?;
    let base = srv.base_url();
    let result = scenario(&args, &client_bin, &base).await;
    let stopped = srv.stop(Duration::from_secs(20)).await;
    let mut report = result?;
    if let Some(o) = report.as_object_mut() {
        o.insert("server_stop".into(), stopped.into());
    }
    Ok(report)
}

async fn scenario(args: &CliArgs, client_bin: &Path, base: &str) -> Result<Value> {
    eprintln!(
        "bench: seeding a mentor with {} conversations",
        args.conversations
    );
    let t = Instant::now();
    seed(base, args.conversations).await?;
    eprintln!("bench: seeded in {:.1} s", t.elapsed().as_secs_f64());
    let homes = tempfile::Builder::new().prefix("mchat-bench-cli-").tempdir()?;
    let mona_home = homes.path().join("mona");
    let ana_home = homes.path().join("ana");
    let mona = Mchat {
        bin: client_bin,
        home: &mona_home,
        server: base,
    };
    let ana = Mchat {
        bin: client_bin,
        home: &ana_home,
        server: base,
    };
    mona.login("mona")?;
    ana.login("ana")?;
    let conv_id = {
        let out = ana
            .command(&["--json", "inbox"])
            .stdout(Stdio::piped())
            .output()
            .context("mchat inbox")?;
        let doc: Value = serde_json::from_slice(&out.stdout).context("inbox --json")?;
        doc["conversations"][0]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("ana has no conversation"))?
            .to_string()
    };
    let runs = args.runs;
    eprintln!("bench: timing {runs} runs of each command");
    let send_mentee = measure(&ana, &["send", "mona", "a message from a script"], runs)?;
    let send_by_id = measure(&ana, &["send", &conv_id, "a message by conversation id"], runs)?;
    let send_mentor = measure(&mona, &["send", "ana", "a reply from the mentor"], runs)?;
    let inbox = measure(&mona, &["inbox"], runs)?;
    let inbox_json = measure(&mona, &["--json", "inbox"], runs)?;
    let version = Command::new(client_bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let met = |s: &Summary, limit: f64| s.p50.is_some_and(|v| v <= limit);
    Ok(json!({
        "bench": "cli",
        "mchat_version": version,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "conversations": args.conversations,
        "runs": runs,
        "wall_ms": {
            "send_mentee_by_name": send_mentee,
            "send_by_conversation_id": send_by_id,
            "send_mentor_by_name": send_mentor,
            "inbox_mentor": inbox,
            "inbox_mentor_json": inbox_json,
        },
        "targets": {
            "send_p50_le_30ms": met(&send_mentee, 30.0),
            "inbox_500_p50_le_50ms": met(&inbox, 50.0),
        },
        "notes": "wall time of whole mchat processes (spawn to exit), server and client on the same 2-core machine, loopback, synchronous=full",
    }))
}

/// The human table.
pub fn table(w: &mut dyn std::io::Write, r: &Value) -> std::io::Result<()> {
    writeln!(
        w,
        "mchat CLI wall time ({} runs each, mentor with {} conversations), ms",
        r["runs"], r["conversations"]
    )?;
    writeln!(
        w,
        "{:<28} {:>8} {:>8} {:>8} {:>8}",
        "command", "p50", "p90", "p99", "max"
    )?;
    if let Some(rows) = r["wall_ms"].as_object() {
        for (name, s) in rows {
            let f = |k: &str| s[k].as_f64().map(|v| format!("{v:.1}")).unwrap_or_default();
            writeln!(
                w,
                "{:<28} {:>8} {:>8} {:>8} {:>8}",
                name,
                f("p50"),
                f("p90"),
                f("p99"),
                f("max")
            )?;
        }
    }
    writeln!(
        w,
        "targets: send p50 ≤ 30 ms: {}; inbox (500) p50 ≤ 50 ms: {}",
        r["targets"]["send_p50_le_30ms"], r["targets"]["inbox_500_p50_le_50ms"]
    )
}
