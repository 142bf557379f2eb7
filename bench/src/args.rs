//! Command-line options of `mchat-bench core` and `live`, and their checks.

use crate::history::PAGE;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct CoreArgs {
    /// mchatd binary [default: mchatd next to this executable, i.e. target/release/mchatd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Sends per throughput phase (c1, c16, c16_multi).
    #[arg(long, default_value_t = 5000)]
    pub sends: usize,
    /// Messages seeded into the history conversation.
    #[arg(long, default_value_t = 100_000)]
    pub history_messages: usize,
    /// Page fetches for the newest page, and again for random before= cursors.
    #[arg(long, default_value_t = 2000)]
    pub history_samples: usize,
    /// Unrecorded sends (concurrency 1) before the c1 phase.
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Seconds to let the server settle before mem_startup and before mem_after.
    #[arg(long, default_value_t = 2.0)]
    pub settle_secs: f64,
    /// Overall deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 900)]
    pub deadline_secs: u64,
    /// Seed for the random before= cursors.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Extra server environment, KEY=VALUE (repeatable), e.g. MCHATD_STORAGE__SYNCHRONOUS=normal.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl CoreArgs {
    pub fn validate(&self) -> Result<()> {
        if self.sends == 0 || self.history_samples == 0 {
            bail!("--sends and --history-samples must be at least 1");
        }
        if self.history_messages <= PAGE as usize {
            bail!("--history-messages must be more than {PAGE} (a full page before every cursor)");
        }
        if !(self.settle_secs.is_finite() && (0.0..=60.0).contains(&self.settle_secs)) {
            bail!("--settle-secs must be 0 to 60");
        }
        Ok(())
    }

    /// `--server-env` as pairs; keys must be `MCHATD_*` or `RUST_LOG`.
    pub fn extra_env(&self) -> Result<Vec<(String, String)>> {
        server_env_pairs(&self.server_env)
    }
}

/// `--server-env KEY=VALUE` options as pairs; keys must be `MCHATD_*` or `RUST_LOG`.
pub fn server_env_pairs(server_env: &[String]) -> Result<Vec<(String, String)>> {
    server_env
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--server-env {kv:?}: expected KEY=VALUE"))?;
            if !(k.starts_with("MCHATD_") || k == "RUST_LOG") {
                bail!("--server-env {k}: only MCHATD_* and RUST_LOG are passed to the server");
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Options of `mchat-bench live` (WebSocket latency and idle sockets).
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// mchatd binary [default: mchatd next to this executable, i.e. target/release/mchatd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Recorded send->receive rounds per latency phase.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Unrecorded latency rounds before the first phase.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Idle sockets (other users) connected during the second latency phase.
    #[arg(long, default_value_t = 1000)]
    pub idle: usize,
    /// Idle sockets to ramp up to for the sockets/RSS measurement (0: no ramp).
    #[arg(long, default_value_t = 10_000)]
    pub max_sockets: usize,
    /// Sockets added per ramp step.
    #[arg(long, default_value_t = 1000)]
    pub step: usize,
    /// Idle sockets per idle user (several devices per user).
    #[arg(long, default_value_t = 20)]
    pub sockets_per_user: usize,
    /// Connects in flight at once while opening idle sockets.
    #[arg(long, default_value_t = 200)]
    pub connect_batch: usize,
    /// Seconds to let the server settle before each RSS reading.
    #[arg(long, default_value_t = 1.0)]
    pub settle_secs: f64,
    /// Seconds to hold every idle socket open with no traffic, measuring the server's CPU.
    #[arg(long, default_value_t = 5.0)]
    pub hold_secs: f64,
    /// Times to close every idle socket and open them all again after the ramp
    /// (does RSS come back, grow, or stay?).
    #[arg(long, default_value_t = 1)]
    pub reopen_cycles: usize,
    /// Also measure latency again with all --max-sockets idle sockets open.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub latency_at_max: bool,
    /// Overall deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 900)]
    pub deadline_secs: u64,
    /// Extra server environment, KEY=VALUE (repeatable), e.g. MCHATD_REALTIME__WS_BUFFER=64.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl LiveArgs {
    pub fn validate(&self) -> Result<()> {
        if self.samples == 0 {
            bail!("--samples must be at least 1");
        }
        if self.max_sockets > 0 && self.max_sockets < self.idle {
            bail!(
                "--max-sockets ({}) must be at least --idle ({}), or 0 for no ramp",
                self.max_sockets,
                self.idle
            );
        }
        if self.max_sockets > 1_000_000 {
            bail!("--max-sockets above 1,000,000 is not supported");
        }
        if self.step == 0 || self.sockets_per_user == 0 || self.connect_batch == 0 {
            bail!("--step, --sockets-per-user and --connect-batch must be at least 1");
        }
        if !(self.settle_secs.is_finite() && (0.0..=60.0).contains(&self.settle_secs)) {
            bail!("--settle-secs must be 0 to 60");
        }
        if !(self.hold_secs.is_finite() && (0.0..=600.0).contains(&self.hold_secs)) {
            bail!("--hold-secs must be 0 to 600");
        }
        if self.reopen_cycles > 10 {
            bail!("--reopen-cycles must be 0 to 10");
        }
        Ok(())
    }

    pub fn extra_env(&self) -> Result<Vec<(String, String)>> {
        server_env_pairs(&self.server_env)
    }

    /// The most idle sockets the run opens.
    pub fn most_sockets(&self) -> usize {
        self.idle.max(self.max_sockets)
    }
}
