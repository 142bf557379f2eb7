//! The report's description of the run: machine, server binary and
//! version, the configuration the server was given, and the parameters.

use crate::args::CoreArgs;
use crate::core::{HISTORY_BODY, TP_BODY, WIDE};
use crate::server::{self, Server};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// CPUs, CPU model and kernel of this machine.
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
}

pub fn machine() -> Machine {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines().find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_owned());
    Machine {
        cpus,
        cpu_model,
        kernel,
    }
}

/// Machine, server and configuration description.
pub fn meta(srv: &Server, args: &CoreArgs, version: &str) -> Result<serde_json::Map<String, Value>> {
    let Machine {
        cpus,
        cpu_model,
        kernel,
    } = machine();
    let extra = args.extra_env()?;
    let mut env: BTreeMap<String, String> = server::BENCH_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(extra.iter().cloned());
    let sync = env
        .get("MCHATD_STORAGE__SYNCHRONOUS")
        .cloned()
        .unwrap_or_else(|| "full (server default)".into());
    let notes = vec![
        format!(
            "client and server share this machine's {cpus} CPUs over loopback; \
             host_busy_pct includes the client"
        ),
        "rate limits off (send_per_sec=0, auth_per_min=0), as in the Synapse peer bench".to_owned(),
        "fresh data dir and database per run; inherited MCHATD_* and RUST_LOG are not passed on".to_owned(),
        format!(
            "c1/c16: one user sends into one conversation, one keep-alive client per worker; \
             c16_multi: {WIDE} pairs, {WIDE} conversations"
        ),
        format!(
            "history: seeded at concurrency {WIDE} by both participants; pages fetched sequentially; \
             before= cursors uniform over the seeded messages"
        ),
        "percentiles are nearest-rank, in ms; server_ms is the server-timing header (app;dur)".to_owned(),
    ];
    let v = json!({
        "label": "mchatd",
        "api": "mchatd",
        "server": "mchatd",
        "mchatd_version": version,
        "bench": "mchat-bench core",
        "bench_version": env!("CARGO_PKG_VERSION"),
        "kernel": kernel,
        "cpus": cpus,
        "cpu_model": cpu_model,
        "ratelimits": "off",
        "server_bin": srv.bin.display().to_string(),
        "server_addr": srv.addr.to_string(),
        "server_pid": srv.pid(),
        "startup_s": (srv.startup_s * 1000.0).round() / 1000.0,
        "config": {
            "bind": "127.0.0.1:0",
            "env": env,
            "storage_synchronous": sync,
            "notes": notes,
        },
        "params": {
            "sends": args.sends,
            "warmup_sends": args.warmup,
            "history_messages": args.history_messages,
            "history_samples": args.history_samples,
            "concurrency_wide": WIDE,
            "throughput_body_bytes": TP_BODY,
            "history_body_bytes": HISTORY_BODY,
            "settle_s": (args.settle_secs * 10.0).round() / 10.0,
            "deadline_s": args.deadline_secs,
        },
    });
    match v {
        Value::Object(m) => Ok(m),
        _ => bail!("internal: metadata is not an object"),
    }
}
