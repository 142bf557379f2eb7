//! Command-line options of `mchat-bench core`, and their checks.

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
        self.server_env
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
}
