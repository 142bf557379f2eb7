//! The `live` scenario: real-time delivery over `GET /v1/ws`.
//!
//! 1. Setup: mentor A and mentee B with an accepted conversation, one such
//!    pair per latency phase (so each phase starts from the same conversation
//!    size); B holds a WebSocket. Idle users are registered up front (their
//!    argon2 hashing must not land in the RSS readings).
//! 2. Latency, one pair: A sends `POST /v1/conversations/{id}/messages` over
//!    keep-alive HTTP; the figure is from just before A's request until B's
//!    socket yields the `message_new` frame with that body (a unique marker),
//!    like `bench_latency` in the Synapse peer bench. Also A's send round trip.
//! 3. The same with `--idle` other sockets open and idle (other users,
//!    `--sockets-per-user` devices each, every one read by a small task).
//! 4. Ramp the idle sockets to `--max-sockets` in `--step`s, reading the
//!    server's VmRSS and its `mchatd_ws_connections` gauge after each step;
//!    RSS per socket is the slope of a linear fit over the steps after the
//!    first (which carries one-time costs). Optionally latency again at the top.
//!
//! Sockets are closed with a close frame and the server gets SIGTERM, also
//! when the run fails or the deadline passes.

use crate::api::Api;
use crate::args::LiveArgs;
use crate::live_ws::{self, Fleet, Ws};
use crate::procstat::{self, Meter, PhaseCost};
use crate::server::{self, Launch, Server};
use crate::stats::{mean_by_tenth, summarize_ms};
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use mchat_shared::ConversationId;
use mchat_shared::api::Role;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Targets printed beside the figures (not asserted).
pub const TARGET_IDLE_P50_MS: f64 = 2.0;
pub const TARGET_IDLE_P99_MS: f64 = 10.0;
pub const TARGET_SOCKETS: usize = 10_000;
pub const TARGET_KIB_PER_SOCKET: f64 = 64.0;
/// One latency round (send + receive) must finish within this.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// Registrations in flight at once (the server hashes 4 passwords at a time by default).
const REGISTER_CONCURRENCY: usize = 4;
/// File descriptors beyond the sockets (HTTP clients, server DB files, logs).
const FD_MARGIN: u64 = 512;

/// `[realtime]` settings the socket figures depend on: (key, env var, server default).
const REALTIME: [(&str, &str, &str); 4] = [
    ("ws_buffer", "MCHATD_REALTIME__WS_BUFFER", "256"),
    (
        "max_write_buffer_bytes",
        "MCHATD_REALTIME__MAX_WRITE_BUFFER_BYTES",
        "1048576",
    ),
    ("ping_interval_secs", "MCHATD_REALTIME__PING_INTERVAL_SECS", "25"),
    ("max_frame_bytes", "MCHATD_REALTIME__MAX_FRAME_BYTES", "16384"),
];

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ---------------------------------------------------------------- fd limits

/// RLIMIT_NOFILE as it was, as it is now, and the server's.
#[derive(Debug, Clone)]
struct FdLimits {
    needed: u64,
    before: (u64, u64),
    after: (u64, u64),
}

/// Raises this process's soft RLIMIT_NOFILE to `needed` (and the hard limit
/// too if it is lower and we may); the server inherits it when spawned.
fn raise_nofile(needed: u64) -> Result<FdLimits> {
    use rlimit::Resource;
    let before = Resource::NOFILE.get().context("getrlimit(NOFILE)")?;
    let (soft, hard) = before;
    if soft < needed {
        if hard >= needed {
            Resource::NOFILE.set(needed, hard).context("setrlimit(NOFILE)")?;
        } else if let Err(e) = Resource::NOFILE.set(needed, needed) {
            bail!(
                "this run needs {needed} file descriptors, but the hard limit is {hard} and raising it \
                 failed ({e}); raise it (ulimit -Hn) or use a smaller --max-sockets"
            );
        }
    }
    let after = Resource::NOFILE.get().context("getrlimit(NOFILE)")?;
    Ok(FdLimits {
        needed,
        before,
        after,
    })
}

/// "Max open files" (soft, hard) of a process from `/proc/PID/limits`.
fn proc_nofile(pid: u32) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut f = line["Max open files".len()..].split_whitespace();
    Some((f.next()?.to_owned(), f.next()?.to_owned()))
}

// ---------------------------------------------------------------- server readings

/// VmRSS and RssAnon of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    rss_kib: Option<u64>,
    anon_kib: Option<u64>,
}

fn rss(pid: u32) -> Rss {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
    };
    Rss {
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
    }
}

/// Open file descriptors of a process (`/proc/PID/fd`).
fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// The host's `TcpExt: ListenOverflows` (accept queues that were full: the
/// SYN is dropped and the client retries after 1 s). Host-wide, so other
/// processes' listeners count too.
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names.split_whitespace().position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// The value of an unlabelled series in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(name)?;
            rest.starts_with(' ')
                .then(|| rest.split_whitespace().next())
                .flatten()
        })
        .and_then(|v| v.parse().ok())
}

/// `mchatd_ws_connections` and `mchatd_ws_dropped_slow_total` from `/metrics`.
async fn ws_gauges(anon: &Api) -> (Option<f64>, Option<f64>) {
    match anon.metrics().await {
        Ok(t) => (
            metric(&t, "mchatd_ws_connections"),
            Some(metric(&t, "mchatd_ws_dropped_slow_total").unwrap_or(0.0)),
        ),
        Err(_) => (None, None),
    }
}

// ---------------------------------------------------------------- setup

/// A → B: the mentor sends, the mentee's socket receives.
struct Pair {
    mentor: Api,
    mentee_token: String,
    conv: ConversationId,
}

async fn make_pair(base: &str, sfx: &str) -> Result<Pair> {
    let mut mentor = Api::new(base)?;
    mentor.register(&format!("lmr-{sfx}"), Role::Mentor).await?;
    let mut mentee = Api::new(base)?;
    mentee.register(&format!("lme-{sfx}"), Role::Mentee).await?;
    let conv = mentee
        .request_conversation(&format!("lmr-{sfx}"), "hello, live benchmark here")
        .await?;
    mentor.accept(conv).await?;
    let mentee_token = mentee.token().context("mentee has no token")?.to_owned();
    Ok(Pair {
        mentor,
        mentee_token,
        conv,
    })
}

/// Registers `n` idle users (mentees with no conversations); returns their tokens.
async fn register_idle_users(base: &str, sfx: &str, n: usize) -> Result<Vec<Arc<str>>> {
    let results: Vec<Result<Arc<str>>> = futures_util::stream::iter(0..n)
        .map(|k| {
            let base = base.to_owned();
            let name = format!("idle-{sfx}-{k}");
            async move {
                let mut api = Api::new(&base)?;
                api.register(&name, Role::Mentee)
                    .await
                    .with_context(|| format!("register {name}"))?;
                Ok(Arc::from(api.token().context("no token")?))
            }
        })
        .buffer_unordered(REGISTER_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

// ---------------------------------------------------------------- latency

struct LatencyRun {
    lat_ms: Vec<f64>,
    rtt_ms: Vec<f64>,
    server_ms: Vec<f64>,
    skipped: usize,
    secs: f64,
}

/// `n` sequential rounds: A sends a marked message, B's socket must yield it.
async fn latency_rounds(
    a: &Api,
    conv: ConversationId,
    ws: &mut Ws,
    n: usize,
    tag: &str,
) -> Result<LatencyRun> {
    let mut run = LatencyRun {
        lat_ms: Vec::with_capacity(n),
        rtt_ms: Vec::with_capacity(n),
        server_ms: Vec::with_capacity(n),
        skipped: 0,
        secs: 0.0,
    };
    let started = Instant::now();
    for i in 0..n {
        let marker = format!("[{tag}-{i}]");
        let body = format!("{marker} the quick brown fox");
        let t0 = Instant::now();
        let send = async {
            let r = a.send(conv, body.clone(), false).await;
            (r, Instant::now())
        };
        let recv = live_ws::wait_for_body(ws, &marker, &body, ROUND_TIMEOUT);
        let ((sent, t_sent), seen) = tokio::join!(send, recv);
        let (timing, _) = sent.with_context(|| format!("{tag}: send #{i}"))?;
        let (t_seen, skipped) = seen.with_context(|| format!("{tag}: receive #{i}"))?;
        run.lat_ms.push(t_seen.duration_since(t0).as_secs_f64() * 1000.0);
        run.rtt_ms.push(t_sent.duration_since(t0).as_secs_f64() * 1000.0);
        run.server_ms.extend(timing.server_ms);
        run.skipped += skipped;
    }
    run.secs = started.elapsed().as_secs_f64();
    Ok(run)
}

fn latency_json(run: &LatencyRun, idle: usize, gauge: Option<f64>, cost: &PhaseCost) -> Value {
    json!({
        "idle_sockets": idle,
        "server_ws_connections": gauge,
        "rounds": run.lat_ms.len(),
        "secs": round3(run.secs),
        "latency_ms": summarize_ms(&run.lat_ms),
        "latency_ms_mean_by_tenth": mean_by_tenth(&run.lat_ms),
        "server_cpu_ms_per_round": cost
            .server_cpu_s
            .map(|c| round3(c * 1000.0 / run.lat_ms.len().max(1) as f64)),
        "send_rtt_ms": summarize_ms(&run.rtt_ms),
        "send_server_ms": summarize_ms(&run.server_ms),
        "skipped_frames": run.skipped,
        "server_cpu_s": cost.server_cpu_s,
        "server_sys_s": cost.server_sys_s,
        "client_cpu_s": cost.client_cpu_s,
        "host_busy_pct": cost.host_busy_pct,
        "host_steal_pct": cost.host_steal_pct,
        "host_other_cpu_s": cost.host_other_cpu_s,
    })
}

/// What every latency phase shares.
struct Phase<'a> {
    srv: &'a Server,
    args: &'a LiveArgs,
    anon: &'a Api,
    sfx: &'a str,
}

impl Phase<'_> {
    /// One latency phase with its own pair: B's socket replaces the previous
    /// B's (so the server holds idle + 1), unrecorded warmup rounds, then the
    /// recorded rounds.
    async fn run(
        &self,
        name: &str,
        pair: &Pair,
        idle: usize,
        held: &mut Held,
        meter: &mut Meter,
    ) -> Result<Value> {
        if let Some(mut old) = held.receiver.take() {
            live_ws::close_politely(&mut old, Duration::from_secs(3)).await;
        }
        let (ws, _) = live_ws::connect(self.srv.addr, &pair.mentee_token, None)
            .await
            .context("B's WebSocket")?;
        let ws = held.receiver.insert(ws);
        let tag = format!("{name}-{}", self.sfx);
        if self.args.warmup > 0 {
            latency_rounds(
                &pair.mentor,
                pair.conv,
                ws,
                self.args.warmup,
                &format!("wu-{tag}"),
            )
            .await?;
        }
        eprintln!(
            "bench: latency {name}, {idle} idle sockets ({} rounds) ...",
            self.args.samples
        );
        let ph = meter.begin(&format!("latency_{name}"));
        let run = latency_rounds(&pair.mentor, pair.conv, ws, self.args.samples, &tag).await?;
        let cost = meter.end(ph);
        let (gauge, _) = ws_gauges(self.anon).await;
        let s = summarize_ms(&run.lat_ms);
        eprintln!("bench: {name}: p50 {:?} p99 {:?} ms", s.p50, s.p99);
        Ok(latency_json(&run, idle, gauge, &cost))
    }
}

// ---------------------------------------------------------------- sockets / RSS

/// One reading of the ramp.
#[derive(Debug, Clone)]
struct Point {
    label: &'static str,
    /// Idle sockets the bench meant to have open.
    target: usize,
    client_open: usize,
    server_ws: Option<f64>,
    rss: Rss,
    connect_s: Option<f64>,
    connect_failed: usize,
    listen_overflows: Option<u64>,
    server_fds: Option<usize>,
}

impl Point {
    /// Every socket the bench opened (idle + B's) is open on both sides.
    fn all_open(&self) -> bool {
        self.client_open == self.target && self.server_ws == Some((self.target + 1) as f64)
    }

    fn to_json(&self) -> Value {
        json!({
            "label": self.label,
            "target": self.target,
            "client_open": self.client_open,
            "server_ws_connections": self.server_ws,
            "all_open": self.all_open(),
            "rss_kib": self.rss.rss_kib,
            "rss_anon_kib": self.rss.anon_kib,
            "connect_s": self.connect_s.map(round3),
            "connect_failed": self.connect_failed,
            "host_listen_overflows": self.listen_overflows,
            "server_fds": self.server_fds,
        })
    }
}

/// Least-squares slope and R² of y over x.
pub fn linear_fit(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 { sxy * sxy / (sxx * syy) } else { 1.0 };
    Some((slope, r2))
}

/// Settles, then reads the server's gauge and RSS.
async fn reading(
    label: &'static str,
    target: usize,
    fleet: &Fleet,
    anon: &Api,
    pid: u32,
    settle: Duration,
) -> Point {
    tokio::time::sleep(settle).await;
    let (server_ws, _) = ws_gauges(anon).await;
    Point {
        label,
        target,
        client_open: fleet.open(),
        server_ws,
        rss: rss(pid),
        connect_s: None,
        connect_failed: 0,
        listen_overflows: None,
        server_fds: open_fds(pid),
    }
}

/// Opens `n` more idle sockets; a step reading with its connect time.
#[allow(clippy::too_many_arguments)]
async fn step(
    label: &'static str,
    target: usize,
    n: usize,
    fleet: &mut Fleet,
    tokens: &[Arc<str>],
    anon: &Api,
    pid: u32,
    settle: Duration,
) -> Result<Point> {
    let limit = Duration::from_secs(60) + Duration::from_millis(20 * n as u64);
    let overflows0 = listen_overflows();
    let opened = fleet.open_more(n, tokens, limit).await?;
    let overflows = match (overflows0, listen_overflows()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    if let Some(e) = &opened.first_error {
        eprintln!(
            "bench: {} of {n} connects failed ({} ok); first: {e}",
            opened.failed, opened.ok
        );
    }
    let mut p = reading(label, target, fleet, anon, pid, settle).await;
    p.connect_s = Some(opened.secs);
    p.connect_failed = opened.failed;
    p.listen_overflows = overflows;
    eprintln!(
        "bench: {label} {target}: {} open (server gauge {}), connect {:.2} s, RSS {:.1} MiB",
        p.client_open,
        p.server_ws.map_or("?".into(), |g| format!("{g}")),
        opened.secs,
        p.rss.rss_kib.unwrap_or(0) as f64 / 1024.0
    );
    Ok(p)
}

// ---------------------------------------------------------------- the run

/// What must outlive the scenario future so it can be closed cleanly.
struct Held {
    fleet: Fleet,
    receiver: Option<Ws>,
    /// Shutdowns of earlier fleets (reopen cycles).
    closes: Vec<live_ws::Closed>,
}

fn machine() -> serde_json::Map<String, Value> {
    let m = crate::meta::machine();
    let mut out = serde_json::Map::new();
    out.insert("kernel".into(), json!(m.kernel));
    out.insert("cpus".into(), json!(m.cpus));
    out.insert("cpu_model".into(), json!(m.cpu_model));
    out
}

fn config_json(args: &LiveArgs, srv: &Server, fds: &FdLimits) -> Result<Value> {
    let extra = args.extra_env()?;
    let mut env: BTreeMap<String, String> = server::BENCH_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(extra.iter().cloned());
    let mut realtime = serde_json::Map::new();
    let mut overridden = Vec::new();
    for (key, var, default) in REALTIME {
        let v = match env.get(var) {
            Some(v) => {
                overridden.push(key);
                v.clone()
            }
            None => default.to_owned(),
        };
        realtime.insert(
            key.into(),
            json!(v.parse::<u64>().map(Value::from).unwrap_or(json!(v))),
        );
    }
    realtime.insert("overridden".into(), json!(overridden));
    realtime.insert(
        "source".into(),
        json!("server defaults (server/src/config.rs) unless overridden by --server-env"),
    );
    // Fixed in server/src/realtime/ws.rs, not configurable.
    realtime.insert("ws_read_buffer_bytes".into(), json!(4096));
    realtime.insert("ws_write_buffer_bytes".into(), json!(0));
    let server_fds = proc_nofile(srv.pid());
    // The server inherits these from the bench's environment (they change its allocator).
    let allocator_env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("MIMALLOC_"))
        .collect();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    Ok(json!({
        "bind": "127.0.0.1:0",
        "env": env,
        "realtime": realtime,
        "allocator_env_inherited": allocator_env,
        "nofile": {
            "needed": fds.needed,
            "bench_before": [fds.before.0, fds.before.1],
            "bench": [fds.after.0, fds.after.1],
            "server": server_fds.map(|(s, h)| json!([s, h])),
        },
        "notes": [
            format!("client and server share this machine's {cpus} CPUs over loopback; host_busy_pct includes the client"),
            "rate limits off (send_per_sec=0, auth_per_min=0); fresh data dir and database per run",
            "latency: from just before A's POST until B's socket yields the message_new frame with that body; \
             sequential rounds; send_rtt is A's own POST round trip in the same rounds; each phase has its \
             own fresh pair (warmup + samples messages, B never marks read), so phases differ only in the \
             idle sockets open",
            "idle sockets: other users (no conversations), several sockets per user, no cursor (start from now), \
             each read by one task; the server pings them every ping_interval_secs",
            "RSS per socket: slope of a least-squares fit of server VmRSS over the idle socket count, \
             from the reading after the first step on (the first step carries one-time costs); \
             settle_s before each reading; the baseline is read after opening and closing one step's \
             worth of sockets (priming)",
            "percentiles are nearest-rank, in ms",
        ],
    }))
}

/// Runs the scenario; sockets it opens are left in `held` for the caller to close.
async fn run(srv: &Server, args: &LiveArgs, held: &mut Held, fds: &FdLimits) -> Result<Value> {
    let base = srv.base_url();
    let pid = srv.pid();
    let anon = Api::new(&base)?;
    let mut meter = Meter::new(pid);
    let settle = Duration::from_secs_f64(args.settle_secs);
    let health = anon.healthz().await.context("GET /healthz failed")?;
    tokio::time::sleep(settle).await;
    let mem_startup = procstat::mem(pid);
    let cpu_ref_before = tokio::task::spawn_blocking(procstat::cpu_ref_ms).await?;
    let sfx = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    // 1. Setup.
    eprintln!("bench: setup ...");
    let ph = meter.begin("setup");
    // A fresh pair per latency phase: each starts from the same conversation size
    // (the server's per-delivery cost grows with the recipient's unread messages).
    let mut pairs = Vec::new();
    for k in 0..3 {
        pairs.push(make_pair(&base, &format!("{sfx}-{k}")).await.context("setup")?);
    }
    let users = args.most_sockets().div_ceil(args.sockets_per_user);
    let t_reg = Instant::now();
    let tokens = register_idle_users(&base, &sfx, users)
        .await
        .context("registering idle users")?;
    let register_s = t_reg.elapsed().as_secs_f64();
    meter.end(ph);
    eprintln!(
        "bench: registered {users} idle users in {register_s:.1} s ({:.0}/s)",
        users as f64 / register_s.max(1e-9)
    );
    let mut latency = serde_json::Map::new();

    // 2. One pair.
    let phase = Phase {
        srv,
        args,
        anon: &anon,
        sfx: &sfx,
    };
    let one = phase.run("one_pair", &pairs[0], 0, held, &mut meter).await?;
    latency.insert("one_pair".into(), one);

    // Prime: open and close one step's worth of sockets, so that one-time costs
    // (runtime, hub, allocator segments) are paid and the registrations' argon2
    // memory, which mimalloc returns only on later allocator activity, is gone
    // before the baseline.
    let mut points = vec![reading("registered", 0, &held.fleet, &anon, pid, settle).await];
    // At most the first step: its memory is reused within the first step, which the fit leaves out.
    let prime = if args.idle > 0 {
        args.idle.min(args.step)
    } else {
        args.step.min(args.max_sockets)
    };
    if prime > 0 {
        eprintln!("bench: priming: opening and closing {prime} sockets ...");
        let mut primer = Fleet::new(srv.addr, args.connect_batch);
        let limit = Duration::from_secs(60) + Duration::from_millis(20 * prime as u64);
        let opened = primer.open_more(prime, &tokens, limit).await?;
        held.closes.push(primer.shutdown(Duration::from_secs(30)).await);
        if opened.failed > 0 {
            bail!(
                "priming: {} of {prime} connects failed; first: {}",
                opened.failed,
                opened.first_error.unwrap_or_default()
            );
        }
    }

    // 3. With idle sockets.
    points.push(reading("baseline", 0, &held.fleet, &anon, pid, settle).await);
    let mut ws_ok = true;
    if args.idle > 0 {
        eprintln!("bench: opening {} idle sockets ...", args.idle);
        let p = step(
            "idle_open",
            args.idle,
            args.idle,
            &mut held.fleet,
            &tokens,
            &anon,
            pid,
            settle,
        )
        .await?;
        ws_ok = p.all_open();
        points.push(p);
        if !ws_ok {
            eprintln!(
                "bench: not every idle socket is open: {} of {} (first drop: {:?})",
                held.fleet.open(),
                args.idle,
                held.fleet.first_drop()
            );
        }
        let with_idle = phase.run("idle", &pairs[1], args.idle, held, &mut meter).await?;
        latency.insert("idle".into(), with_idle);
        points.push(reading("after_latency", args.idle, &held.fleet, &anon, pid, settle).await);
    }

    // 4. Ramp.
    let mut stopped_early = None;
    if args.max_sockets > args.idle && ws_ok {
        let ph = meter.begin("ramp");
        let mut open = args.idle;
        while open < args.max_sockets {
            let n = args.step.min(args.max_sockets - open);
            let p = step("step", open + n, n, &mut held.fleet, &tokens, &anon, pid, settle).await?;
            open += n;
            let ok = p.all_open();
            points.push(p);
            if !ok {
                let why = format!(
                    "at {open}: {} idle sockets open on the client, server gauge {:?}; first drop: {:?}",
                    held.fleet.open(),
                    points.last().and_then(|p| p.server_ws),
                    held.fleet.first_drop()
                );
                eprintln!("bench: ramp stopped {why}");
                stopped_early = Some(why);
                break;
            }
        }
        meter.end(ph);
    }
    let client_rss_at_max = rss(std::process::id());

    let top = points.last().map(|p| p.target).unwrap_or(0);

    // Idle cost: every socket open, no traffic but the server's pings.
    let mut hold = Value::Null;
    if args.hold_secs > 0.0 && top > 0 {
        eprintln!("bench: holding {top} idle sockets for {} s ...", args.hold_secs);
        let ph = meter.begin("hold_idle");
        tokio::time::sleep(Duration::from_secs_f64(args.hold_secs)).await;
        let cost = meter.end(ph);
        hold = json!({
            "idle_sockets": top,
            "secs": cost.wall_s,
            "server_cpu_s": cost.server_cpu_s,
            "server_cpu_pct": cost.server_cpu_s.map(|c| round2(100.0 * c / cost.wall_s.max(1e-9))),
            "client_cpu_s": cost.client_cpu_s,
            "frames_to_idle_sockets": held.fleet.frames(),
        });
    }

    // Optional: latency with every socket open.
    if args.latency_at_max && stopped_early.is_none() && top > args.idle {
        let at_max = phase.run("at_max", &pairs[2], top, held, &mut meter).await?;
        latency.insert("at_max".into(), at_max);
    }
    // The sockets must still be open after the latency phases.
    let final_point = reading("final", top, &held.fleet, &anon, pid, settle).await;
    let (_, dropped_slow) = ws_gauges(&anon).await;
    let (idle_frames, idle_dropped, first_drop) =
        (held.fleet.frames(), held.fleet.dropped(), held.fleet.first_drop());

    // Close them all and open them again: is the memory reused, or does it grow?
    let mut cycles = Vec::new();
    if stopped_early.is_none() && top > 0 {
        for cycle in 1..=args.reopen_cycles {
            eprintln!("bench: cycle {cycle}: closing {top} idle sockets, then opening them again ...");
            held.closes
                .push(held.fleet.shutdown(Duration::from_secs(30)).await);
            let closed = reading("closed", 0, &held.fleet, &anon, pid, settle).await;
            held.fleet = Fleet::new(srv.addr, args.connect_batch);
            let reopened = step("reopened", top, top, &mut held.fleet, &tokens, &anon, pid, settle).await?;
            let ok = reopened.all_open();
            cycles.push(json!({"cycle": cycle, "closed": closed.to_json(), "reopened": reopened.to_json()}));
            if !ok {
                break;
            }
        }
    }
    let rss_of = |v: &Value| v["rss_kib"].as_f64();
    let reopen_growth = cycles.last().and_then(|c| {
        let (a, b) = (final_point.rss.rss_kib? as f64, rss_of(&c["reopened"])?);
        Some(round2((b - a) / top.max(1) as f64))
    });

    // Figures.
    let held_max = points
        .iter()
        .filter(|p| p.all_open())
        .map(|p| p.target)
        .max()
        .unwrap_or(0);
    let fit_pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| matches!(p.label, "after_latency" | "step") && p.target > 0)
        .filter(|p| p.all_open())
        .filter_map(|p| p.rss.rss_kib.map(|r| (p.target as f64, r as f64)))
        .collect();
    let fit_anon: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| matches!(p.label, "after_latency" | "step") && p.target > 0)
        .filter(|p| p.all_open())
        .filter_map(|p| p.rss.anon_kib.map(|r| (p.target as f64, r as f64)))
        .collect();
    let fit = linear_fit(&fit_pts);
    let fit_anon = linear_fit(&fit_anon);
    let kib_per_socket = fit.map(|(s, _)| round2(s));
    let sockets = json!({
        "points": points.iter().map(Point::to_json).collect::<Vec<_>>(),
        "final": final_point.to_json(),
        "max_idle_held": held_max,
        "server_ws_connections_at_max": points.iter().filter(|p| p.all_open()).filter_map(|p| p.server_ws).fold(None, |a: Option<f64>, g| Some(a.map_or(g, |a| a.max(g)))),
        "stopped_early": stopped_early,
        "rss_kib_per_socket": kib_per_socket,
        "rss_fit_r2": fit.map(|(_, r2)| round3(r2)),
        "rss_fit_points": fit_pts.len(),
        "rss_anon_kib_per_socket": fit_anon.map(|(s, _)| round2(s)),
        "prime_sockets": prime,
        "baseline_note": "'registered' still holds the argon2 memory of the registrations (mimalloc returns \
            freed memory only on later allocator activity); 'baseline' is read after opening and closing \
            prime_sockets sockets (at most the first step), which also pays one-time costs; the first step \
            reuses the primed memory, so it is left out of the fit",
        "client_rss_kib_at_max": client_rss_at_max.rss_kib,
        "idle_frames_received": idle_frames,
        "idle_dropped": idle_dropped,
        "first_drop": first_drop,
        "hold": hold,
        "reopen_cycles": cycles,
        "reopen_growth_kib_per_socket": reopen_growth,
        "dropped_slow_total": dropped_slow,
    });

    let idle_lat = &latency.get("idle").cloned().unwrap_or(Value::Null)["latency_ms"];
    let (p50, p99) = (idle_lat["p50"].as_f64(), idle_lat["p99"].as_f64());
    let tried_target = args.max_sockets >= TARGET_SOCKETS;
    let targets = json!({
        "idle_p50_ms": {"target": format!("<= {TARGET_IDLE_P50_MS}"), "idle_sockets": args.idle, "value": p50,
            "met": p50.map(|v| v <= TARGET_IDLE_P50_MS)},
        "idle_p99_ms": {"target": format!("<= {TARGET_IDLE_P99_MS}"), "idle_sockets": args.idle, "value": p99,
            "met": p99.map(|v| v <= TARGET_IDLE_P99_MS)},
        "sockets_held": {"target": format!(">= {TARGET_SOCKETS}"), "value": held_max,
            "met": tried_target.then_some(held_max >= TARGET_SOCKETS)},
        "rss_kib_per_socket": {"target": format!("<= {TARGET_KIB_PER_SOCKET}"), "value": kib_per_socket,
            "met": kib_per_socket.map(|v| v <= TARGET_KIB_PER_SOCKET)},
        "note": "targets are reported, not asserted; sockets_held is n/a (null) when --max-sockets is below the target",
    });

    tokio::time::sleep(settle).await;
    let mem_after = procstat::mem(pid);
    let cpu_ref_after = tokio::task::spawn_blocking(procstat::cpu_ref_ms).await?;

    let mut doc = serde_json::Map::new();
    doc.insert("label".into(), json!("mchatd"));
    doc.insert("bench".into(), json!("mchat-bench live"));
    doc.insert("bench_version".into(), json!(env!("CARGO_PKG_VERSION")));
    doc.insert("mchatd_version".into(), json!(health.version));
    doc.extend(machine());
    doc.insert("ratelimits".into(), json!("off"));
    doc.insert("server_bin".into(), json!(srv.bin.display().to_string()));
    doc.insert("server_addr".into(), json!(srv.addr.to_string()));
    doc.insert("server_pid".into(), json!(pid));
    doc.insert("startup_s".into(), json!(round3(srv.startup_s)));
    doc.insert("config".into(), config_json(args, srv, fds)?);
    doc.insert(
        "params".into(),
        json!({
            "samples": args.samples,
            "warmup_rounds": args.warmup,
            "idle": args.idle,
            "max_sockets": args.max_sockets,
            "step": args.step,
            "sockets_per_user": args.sockets_per_user,
            "connect_batch": args.connect_batch,
            "settle_s": args.settle_secs,
            "deadline_s": args.deadline_secs,
        }),
    );
    doc.insert(
        "setup".into(),
        json!({
            "idle_users": users,
            "register_s": round2(register_s),
            "register_per_s": round2(users as f64 / register_s.max(1e-9)),
        }),
    );
    doc.insert("mem_startup".into(), json!(mem_startup));
    doc.insert("cpu_ref_ms_before".into(), json!(cpu_ref_before));
    doc.insert("latency".into(), Value::Object(latency));
    doc.insert("sockets".into(), sockets);
    doc.insert("targets".into(), targets);
    doc.insert("mem_after".into(), json!(mem_after));
    doc.insert("cpu_ref_ms_after".into(), json!(cpu_ref_after));
    doc.insert("server_cpu".into(), json!(meter.phases));
    Ok(Value::Object(doc))
}

/// `mchat-bench live`: start the server, run, close everything, report.
pub async fn main(args: LiveArgs) -> Result<()> {
    let started = Instant::now();
    args.validate()?;
    let needed = args.most_sockets() as u64 + FD_MARGIN;
    let fds = raise_nofile(needed)?;
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = Launch {
        bin,
        extra_env: args.extra_env()?,
        ready_timeout: Duration::from_secs(30),
    };
    eprintln!(
        "bench: starting {} (RLIMIT_NOFILE {} / {}, inherited)",
        launch.bin.display(),
        fds.after.0,
        fds.after.1
    );
    let srv = Server::start(&launch).await?;
    eprintln!(
        "bench: mchatd pid {} on http://{} (ready after {:.2} s)",
        srv.pid(),
        srv.addr,
        srv.startup_s
    );
    let mut held = Held {
        fleet: Fleet::new(srv.addr, args.connect_batch),
        receiver: None,
        closes: Vec::new(),
    };
    let outcome = crate::server::bounded(args.deadline_secs, run(&srv, &args, &mut held, &fds)).await;

    // Close every socket with a close frame, then look at what the server kept.
    eprintln!("bench: closing {} idle sockets ...", held.fleet.open());
    held.closes
        .push(held.fleet.shutdown(Duration::from_secs(30)).await);
    let clean: usize = held.closes.iter().map(|c| c.clean).sum();
    let aborted: usize = held.closes.iter().map(|c| c.aborted).sum();
    let close_s = held.closes.last().map_or(0.0, |c| c.secs);
    if let Some(ws) = held.receiver.as_mut() {
        live_ws::close_politely(ws, Duration::from_secs(3)).await;
    }
    held.receiver = None;
    let after_close = if outcome.is_ok() {
        tokio::time::sleep(Duration::from_secs_f64(args.settle_secs.max(1.0))).await;
        let anon = Api::new(&srv.base_url())?;
        let (gauge, _) = ws_gauges(&anon).await;
        let r = rss(srv.pid());
        Some(json!({
            "server_ws_connections": gauge,
            "rss_kib": r.rss_kib,
            "rss_anon_kib": r.anon_kib,
            "server_fds": open_fds(srv.pid()),
            "closed_clean": clean,
            "aborted": aborted,
            "close_s": round3(close_s),
        }))
    } else {
        eprintln!("bench: server log tail:\n{}", srv.log_tail(20));
        None
    };
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("bench: mchatd {stopped}");
    let mut report = outcome?;
    if let Some(o) = report.as_object_mut() {
        o.insert("after_close".into(), json!(after_close));
        o.insert("server_stop".into(), stopped.into());
        o.insert(
            "bench_wall_s".into(),
            json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0),
        );
    }
    if args.json {
        crate::live_report::table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        crate::live_report::table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_line() {
        let pts: Vec<(f64, f64)> = (1..=10)
            .map(|k| (1000.0 * k as f64, 50_000.0 + 12.5 * 1000.0 * k as f64))
            .collect();
        let (slope, r2) = linear_fit(&pts).unwrap_or_default();
        assert!((slope - 12.5).abs() < 1e-9, "{slope}");
        assert!((r2 - 1.0).abs() < 1e-9);
        assert!(linear_fit(&pts[..1]).is_none());
        assert!(linear_fit(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn reads_unlabelled_metrics() {
        let t = "# TYPE mchatd_ws_connections gauge\nmchatd_ws_connections 1001\n\
                 mchatd_ws_connections_total 5\nmchatd_ws_dropped_slow_total 0\n";
        assert_eq!(metric(t, "mchatd_ws_connections"), Some(1001.0));
        assert_eq!(metric(t, "mchatd_ws_dropped_slow_total"), Some(0.0));
        assert_eq!(metric(t, "mchatd_missing"), None);
    }

    #[test]
    fn reads_own_limits() {
        let me = std::process::id();
        assert!(proc_nofile(me).is_some());
        assert!(rss(me).rss_kib.is_some_and(|k| k > 0));
        assert!(open_fds(me).is_some_and(|n| n > 0));
    }
}
