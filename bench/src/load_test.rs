//! `mchat-bench load`: correctness under load. N users (mentor/mentee
//! pairs, one conversation per pair) each send M messages at once; a share
//! of them is online over WebSocket, the others catch up afterwards with
//! `GET /v1/sync?since=` paging. Every user must receive exactly the
//! messages acknowledged with 201 in their conversation (none lost, none
//! twice, ids increasing), every unread count must match what was sent and
//! read, and no answer may be a 5xx. Then a burst above the per-user send
//! limit against a second server with the default limits must get 429s
//! with `Retry-After` (never an error), and resending them after the wait
//! must store every message. Server RSS and open fds are read before and after.

use crate::load_test_check::{Delivery, check_delivery, expected_unread};
use crate::load_test_client::{Http, StatusCounts};
use crate::load_test_ws::{Progress, Received, listen};
use crate::{args, procstat, server};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// `client_id` prefix of the run's messages (setup messages have none).
const PREFIX: &str = "load-";

/// Options of `mchat-bench load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// mchatd binary [default: mchatd next to this executable, i.e. target/release/mchatd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Users (an even number: half mentors, half mentees; one conversation per pair).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Messages each user sends.
    #[arg(long, default_value_t = 100)]
    pub messages: usize,
    /// Percent of users online over WebSocket during the sends (the rest catch up by sync).
    #[arg(long, default_value_t = 50)]
    pub online_percent: usize,
    /// Sends in flight at once (each user's own sends stay sequential).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Registrations in flight at once (argon2 on the server).
    #[arg(long, default_value_t = 8)]
    pub register_concurrency: usize,
    /// Sends in the rate-limit burst (0: skip the burst).
    #[arg(long, default_value_t = 100)]
    pub burst: usize,
    /// Overall deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 1200)]
    pub deadline_secs: u64,
    /// Extra server environment for the main server, KEY=VALUE (repeatable).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Print exactly one JSON document on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    fn validate(&self) -> Result<()> {
        if self.users < 2 || !self.users.is_multiple_of(2) || self.users > 100_000 {
            bail!("--users must be an even number from 2 to 100,000");
        }
        if self.messages < 2 || self.messages > 100_000 {
            bail!("--messages must be 2 to 100,000");
        }
        if self.online_percent > 100 {
            bail!("--online-percent must be 0 to 100");
        }
        if self.concurrency == 0 || self.register_concurrency == 0 {
            bail!("--concurrency and --register-concurrency must be at least 1");
        }
        if self.burst > 10_000 {
            bail!("--burst must be at most 10,000");
        }
        Ok(())
    }
}

/// One simulated user.
struct User {
    name: String,
    token: Arc<str>,
    conv: i64,
    /// Index of the other participant in the user list.
    peer: usize,
    online: bool,
}

/// Is user `u` online? A fixed pseudo-random mix, so that conversations
/// are both-online, both-offline and mixed.
fn is_online(u: usize, percent: usize) -> bool {
    (u.wrapping_mul(7919) + 13) % 100 < percent
}

/// RSS (MB) and open fds of the server, after `settle`.
async fn footprint(pid: u32, settle: Duration) -> Value {
    tokio::time::sleep(settle).await;
    let mem = procstat::mem(pid);
    json!({"rss_mb": mem.rss_mb, "peak_rss_mb": mem.hwm_mb, "fds": procstat::fd_count(pid)})
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Runs `f(i)` for every `i` in `0..n`, at most `width` at once; all must succeed.
async fn for_all<F, Fut, T>(n: usize, width: usize, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let sem = Arc::new(Semaphore::new(width));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await?;
        let fut = f(i);
        tasks.spawn(async move {
            let r = fut.await;
            drop(permit);
            (i, r)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, r) = joined.context("a task panicked")?;
        out[i] = Some(r?);
    }
    out.into_iter()
        .map(|o| o.ok_or_else(|| anyhow!("a task did not report")))
        .collect()
}

pub async fn main(args: LoadArgs) -> Result<()> {
    args.validate()?;
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = server::Launch {
        bin: bin.clone(),
        extra_env: args::server_env_pairs(&args.server_env)?,
        ready_timeout: Duration::from_secs(30),
    };
    let srv = server::Server::start(&launch).await?;
    eprintln!("load: mchatd pid {} on http://{}", srv.pid(), srv.addr);
    let outcome = crate::server::bounded(args.deadline_secs, run(&srv, &args)).await;
    if outcome.is_err() {
        eprintln!("load: server log tail:\n{}", srv.log_tail(20));
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("load: mchatd {stopped}");
    let mut report = outcome?;
    if args.burst > 0 {
        let burst = crate::load_test_burst::run(&bin, args.burst).await?;
        report["burst"] = burst;
    }
    let ok = verdict(&report);
    report["ok"] = ok.into();
    crate::report::emit_json_report(&report, args.json)?;
    if !ok {
        bail!("load test FAILED (see the report)");
    }
    Ok(())
}

/// Whether every check of the report passed.
fn verdict(r: &Value) -> bool {
    let zero = |v: &Value| v.as_u64() == Some(0);
    let d = &r["delivery"];
    zero(&d["lost"])
        && zero(&d["duplicated"])
        && zero(&d["out_of_order"])
        && zero(&d["unexpected"])
        && zero(&r["unread"]["wrong"])
        && zero(&r["http"]["5xx"])
        && zero(&r["http"]["transport_errors"])
        && zero(&r["sends"]["failed"])
        && zero(&r["websocket"]["errors"])
        && zero(&r["websocket"]["seq_regressions"])
        && (r["burst"].is_null() || r["burst"]["ok"] == true)
}

async fn run(srv: &server::Server, args: &LoadArgs) -> Result<Value> {
    let started = Instant::now();
    let pid = srv.pid();
    let counts = Arc::new(StatusCounts::default());
    let http = Http::new(srv.addr, counts.clone())?;
    let before = footprint(pid, Duration::from_secs(1)).await;

    // Registration (argon2: reported on its own).
    let t0 = Instant::now();
    let n = args.users;
    let tokens: Vec<String> = {
        let http = http.clone();
        for_all(n, args.register_concurrency, move |u| {
            let http = http.clone();
            async move {
                let role = if u % 2 == 0 { "mentor" } else { "mentee" };
                http.register(&format!("user{u}"), role).await
            }
        })
        .await?
    };
    let register_s = t0.elapsed().as_secs_f64();
    eprintln!("load: registered {n} users in {register_s:.1} s");

    // One accepted conversation per pair, everything so far read.
    let t0 = Instant::now();
    let convs: Vec<i64> = {
        let http = http.clone();
        let tokens = Arc::new(tokens.clone());
        for_all(n / 2, 16, move |p| {
            let (http, tokens) = (http.clone(), tokens.clone());
            async move {
                let (mentor, mentee) = (2 * p, 2 * p + 1);
                http.accepted_conversation(&tokens[mentee], &format!("user{mentor}"), &tokens[mentor])
                    .await
            }
        })
        .await?
    };
    let setup_s = t0.elapsed().as_secs_f64();
    let users: Vec<User> = tokens
        .into_iter()
        .enumerate()
        .map(|(u, token)| User {
            name: format!("user{u}"),
            token: token.into(),
            conv: convs[u / 2],
            peer: u ^ 1,
            online: is_online(u, args.online_percent),
        })
        .collect();
    let online: Vec<usize> = (0..n).filter(|&u| users[u].online).collect();
    let offline: Vec<usize> = (0..n).filter(|&u| !users[u].online).collect();

    // Offline users' cursors: the end of their log now.
    let cursors: BTreeMap<usize, i64> = {
        let mut m = BTreeMap::new();
        for &u in &offline {
            let (_, next) = http.sync_messages(&users[u].token, 0, PREFIX, 10_000).await?;
            m.insert(u, next);
        }
        m
    };

    // Online users: one socket each, ready before anyone sends.
    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut listeners = JoinSet::new();
    let prefix: Arc<str> = PREFIX.into();
    for &u in &online {
        let (addr, token, prefix, progress, stop) = (
            srv.addr,
            users[u].token.clone(),
            prefix.clone(),
            progress.clone(),
            stop_rx.clone(),
        );
        let expected = 2 * args.messages;
        listeners.spawn(async move { (u, listen(addr, token, prefix, expected, progress, stop).await) });
    }
    let ready_by = Instant::now() + Duration::from_secs(60);
    while progress.ready.load(Ordering::SeqCst) < online.len() {
        if Instant::now() > ready_by {
            let _ = stop_tx.send(true);
            bail!(
                "only {} of {} sockets were ready within 60 s",
                progress.ready.load(Ordering::SeqCst),
                online.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let with_sockets = footprint(pid, Duration::from_millis(500)).await;
    eprintln!(
        "load: {} online, {} offline; sending {} x {}",
        online.len(),
        offline.len(),
        n,
        args.messages
    );

    // The sends: every user at once, each user's own sends in order.
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let mut senders = JoinSet::new();
    for (u, user) in users.iter().enumerate() {
        let (http, sem, token, conv, name, m) = (
            http.clone(),
            sem.clone(),
            user.token.clone(),
            user.conv,
            user.name.clone(),
            args.messages,
        );
        senders.spawn(async move {
            let mut acked = Vec::with_capacity(m);
            let mut failed = 0u64;
            for k in 0..m {
                let Ok(_permit) = sem.acquire().await else { break };
                let cid = format!("{PREFIX}{name}-{k}");
                let body = format!("{name} says {k}");
                // A lost answer is retried with the same client_id (safe: idempotent).
                let mut got = None;
                for _ in 0..3 {
                    match http.send(&token, conv, &cid, &body).await {
                        Ok(r) if matches!(r.status, 200 | 201) => {
                            got = r.id();
                            break;
                        }
                        Ok(_) => break,
                        Err(_) => continue,
                    }
                }
                match got {
                    Some(id) => acked.push(id),
                    None => failed += 1,
                }
            }
            (u, acked, failed)
        });
    }
    let mut acked: Vec<Vec<i64>> = vec![Vec::new(); n];
    let mut send_failed = 0u64;
    while let Some(joined) = senders.join_next().await {
        let (u, ids, failed) = joined.context("a sender panicked")?;
        acked[u] = ids;
        send_failed += failed;
    }
    let send_s = t0.elapsed().as_secs_f64();
    let sent: usize = acked.iter().map(Vec::len).sum();
    eprintln!(
        "load: {sent} sends acknowledged in {send_s:.1} s ({:.0}/s)",
        sent as f64 / send_s
    );

    // Live delivery: wait (bounded) until every online user has everything.
    let t0 = Instant::now();
    let live_by = Instant::now() + Duration::from_secs(60);
    while progress.complete.load(Ordering::SeqCst) < online.len() && Instant::now() < live_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live_drain_s = t0.elapsed().as_secs_f64();
    // A little longer, so that a duplicate would still arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = footprint(pid, Duration::ZERO).await;
    let _ = stop_tx.send(true);
    let mut received: BTreeMap<usize, Received> = BTreeMap::new();
    while let Some(joined) = listeners.join_next().await {
        let (u, r) = joined.context("a listener panicked")?;
        received.insert(u, r);
    }

    let conv_acked =
        |u: usize| -> BTreeSet<i64> { acked[u].iter().chain(&acked[users[u].peer]).copied().collect() };
    let mut live = Delivery::default();
    let (mut ws_errors, mut reconnects, mut seq_regressions) = (0u64, 0u64, 0u64);
    let mut first_ws_error = None;
    for (&u, r) in &received {
        let ids: Vec<i64> = r
            .messages
            .iter()
            .filter(|(c, _)| *c == users[u].conv)
            .map(|(_, id)| *id)
            .collect();
        let mut d = check_delivery(&ids, &conv_acked(u));
        d.unexpected += (r.messages.len() - ids.len()) as u64;
        live.add(d);
        reconnects += u64::from(r.reconnects);
        seq_regressions += r.seq_regressions;
        if let Some(e) = &r.error {
            ws_errors += 1;
            first_ws_error.get_or_insert_with(|| e.clone());
        }
    }

    // Offline users catch up by sync.
    let t0 = Instant::now();
    let caught: Vec<(usize, Vec<(i64, i64)>)> = {
        let http = http.clone();
        let jobs: Arc<Vec<(usize, Arc<str>, i64)>> = Arc::new(
            offline
                .iter()
                .map(|&u| (u, users[u].token.clone(), cursors[&u]))
                .collect(),
        );
        for_all(jobs.len(), 16, move |j| {
            let (http, jobs) = (http.clone(), jobs.clone());
            async move {
                let (u, token, since) = &jobs[j];
                let (msgs, _) = http.sync_messages(token, *since, PREFIX, 100_000).await?;
                Ok((*u, msgs.iter().map(|m| (m.conversation_id.0, m.id.0)).collect()))
            }
        })
        .await?
    };
    let sync_s = t0.elapsed().as_secs_f64();
    let mut synced = Delivery::default();
    for (u, msgs) in &caught {
        let ids: Vec<i64> = msgs
            .iter()
            .filter(|(c, _)| *c == users[*u].conv)
            .map(|(_, id)| *id)
            .collect();
        let mut d = check_delivery(&ids, &conv_acked(*u));
        d.unexpected += (msgs.len() - ids.len()) as u64;
        synced.add(d);
    }
    let mut delivery = live;
    delivery.add(synced);

    // Unread counts. Sending moves the sender's own read marker to their
    // message, so after the concurrent sends most counts are small. To make
    // them telling, one side of each pair sends EXTRA more (the mentor in
    // even pairs, the mentee in odd ones); online users whose peer did read
    // up to the second of those, offline users read nothing. Then every
    // user's unread count against the expectation.
    const EXTRA: usize = 5;
    for p in 0..n / 2 {
        let u = if p % 2 == 0 { 2 * p } else { 2 * p + 1 };
        for k in 0..EXTRA {
            let cid = format!("extra-{}-{k}", users[u].name);
            let r = http
                .send(&users[u].token, users[u].conv, &cid, "one more")
                .await?;
            match (r.status, r.id()) {
                (201, Some(id)) => acked[u].push(id),
                _ => bail!("extra send {cid}: {} {}", r.status, r.body),
            }
        }
    }
    let mut read_up_to = vec![0i64; n];
    for &u in &online {
        let peer = &acked[users[u].peer];
        if peer.len() > args.messages + 1 {
            let second_extra = peer[args.messages + 1];
            http.read(&users[u].token, users[u].conv, second_extra).await?;
            read_up_to[u] = second_extra;
        }
    }
    let (mut unread_wrong, mut unread_expected_total, mut unread_seen_total) = (0u64, 0u64, 0u64);
    let mut first_wrong = None;
    for (u, user) in users.iter().enumerate() {
        let want = expected_unread(&acked[u], &acked[user.peer], read_up_to[u]);
        let seen = http.unread_counts(&user.token).await?;
        let got = seen.get(&user.conv).copied();
        unread_expected_total += want;
        unread_seen_total += got.unwrap_or(0);
        if got != Some(want) {
            unread_wrong += 1;
            first_wrong.get_or_insert_with(|| format!("{}: expected {want}, got {got:?}", user.name));
        }
    }

    let after = footprint(pid, Duration::from_secs(1)).await;
    // And once the client's keep-alive pool is gone too.
    drop(http);
    let after_closed = footprint(pid, Duration::from_secs(2)).await;
    let codes: BTreeMap<String, u64> = counts
        .snapshot()
        .into_iter()
        .map(|(c, k)| (c.to_string(), k))
        .collect();
    Ok(json!({
        "config": {
            "users": n, "messages_per_user": args.messages, "conversations": n / 2,
            "online_users": online.len(), "offline_users": offline.len(),
            "send_concurrency": args.concurrency, "server_env": args.server_env,
        },
        "registration": {
            "users": n, "secs": round1(register_s),
            "per_s": round1(n as f64 / register_s.max(1e-9)),
            "conversation_setup_secs": round1(setup_s),
        },
        "sends": {
            "acknowledged": sent, "failed": send_failed, "secs": round1(send_s),
            "per_s": round1(sent as f64 / send_s.max(1e-9)),
        },
        "delivery": delivery,
        "delivery_live": live,
        "delivery_sync": synced,
        "websocket": {
            "sockets": online.len(), "reconnects": reconnects, "errors": ws_errors,
            "first_error": first_ws_error, "seq_regressions": seq_regressions,
            "drain_after_sends_secs": round1(live_drain_s),
        },
        "sync_catch_up_secs": round1(sync_s),
        "wall_s": round1(started.elapsed().as_secs_f64()),
        "unread": {
            "users": n, "wrong": unread_wrong, "first_wrong": first_wrong,
            "expected_total": unread_expected_total, "seen_total": unread_seen_total,
        },
        "http": {
            "by_status": codes, "5xx": counts.server_errors(),
            "transport_errors": counts.transport_errors(),
        },
        "server": {
            "before": before, "with_sockets": with_sockets,
            "end_of_delivery": during, "after": after,
            "after_clients_closed": after_closed, "db_mb": srv.db_mb(),
        },
    }))
}
