//! `mchat-bench burst`: overload becomes a queue, not an answer.
//!
//! Measures the sustainable send rate briefly (closed loop, 16 workers),
//! then offers `--factor` times that rate open-loop for `--burst-secs`,
//! spread over many client connections and conversations. With bounded
//! storage queues the server answers what it cannot take with 503 and
//! `Retry-After`; the report shows accepted/s, the 503s, p50/p99 of the
//! accepted requests, and the server's RSS before, at its peak and after.
//! Run it again with `--server-env MCHATD_STORAGE__WRITE_QUEUE=0` (no
//! bound) for the contrast. Loopback only; bounded in requests in flight
//! and in time.

use crate::api::{Answer, Api};
use crate::args::server_env_pairs;
use crate::procstat;
use crate::server::{self, Launch, Server};
use crate::stats::summarize_ms;
use anyhow::{Context, Result, bail};
use clap::Args;
use mchat_shared::ConversationId;
use mchat_shared::api::Role;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// Closed-loop workers of the sustainable-rate phase.
const MEASURE_WORKERS: usize = 16;
/// How often the pacer wakes to issue what is due, and RSS is sampled.
const PACER_TICK: Duration = Duration::from_millis(1);
const RSS_EVERY: Duration = Duration::from_millis(100);
/// The most requests the burst may issue in all (a hard bound on the run).
const MAX_REQUESTS: u64 = 2_000_000;

/// Options of `mchat-bench burst`.
#[derive(Debug, Clone, Args)]
pub struct BurstArgs {
    /// mchatd binary [default: mchatd next to this executable, i.e. target/release/mchatd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Seconds of closed-loop sends that measure the sustainable rate.
    #[arg(long, default_value_t = 3.0)]
    pub measure_secs: f64,
    /// Offered rate during the burst, as a multiple of the sustainable rate.
    #[arg(long, default_value_t = 10.0)]
    pub factor: f64,
    /// Seconds the burst lasts.
    #[arg(long, default_value_t = 10.0)]
    pub burst_secs: f64,
    /// Client connections (keep-alive pools) the burst is spread over.
    #[arg(long, default_value_t = 256)]
    pub clients: usize,
    /// Requests in flight at most; a request due while all are taken is skipped (and counted).
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Conversations (mentor/mentee pairs) the sends go to.
    #[arg(long, default_value_t = 16)]
    pub pairs: usize,
    /// Seconds to let the server settle before the RSS readings before and after.
    #[arg(long, default_value_t = 2.0)]
    pub settle_secs: f64,
    /// Overall deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 300)]
    pub deadline_secs: u64,
    /// Extra server environment, KEY=VALUE (repeatable), e.g. MCHATD_STORAGE__WRITE_QUEUE=0.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl BurstArgs {
    fn validate(&self) -> Result<()> {
        if !(0.5..=60.0).contains(&self.measure_secs) || !(0.5..=120.0).contains(&self.burst_secs) {
            bail!("--measure-secs must be 0.5 to 60 and --burst-secs 0.5 to 120");
        }
        if !(1.0..=100.0).contains(&self.factor) {
            bail!("--factor must be 1 to 100");
        }
        if !(1..=4096).contains(&self.clients) || !(1..=1024).contains(&self.pairs) {
            bail!("--clients must be 1 to 4096 and --pairs 1 to 1024");
        }
        if !(1..=20_000).contains(&self.max_in_flight) {
            bail!("--max-in-flight must be 1 to 20,000");
        }
        Ok(())
    }
}

/// Requests due by `elapsed` at `rate` per second, minus those `issued`.
fn due(elapsed: Duration, rate: f64, issued: u64) -> u64 {
    ((elapsed.as_secs_f64() * rate).floor() as u64).saturating_sub(issued)
}

/// What one burst request came to.
enum Outcome {
    Answered(Answer),
    Failed,
}

/// Tallies of the burst.
#[derive(Default)]
struct Tally {
    accepted_ms: Vec<f64>,
    accepted_server_ms: Vec<f64>,
    refused_ms: Vec<f64>,
    refused: u64,
    /// 503s with `Retry-After` and code `unavailable`, as the client expects.
    refused_well_formed: u64,
    other: BTreeMap<u16, u64>,
    transport_errors: u64,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Answered(a) if a.status.as_u16() == 201 => {
                self.accepted_ms.push(a.timing.client_ms);
                self.accepted_server_ms.extend(a.timing.server_ms);
            }
            Outcome::Answered(a) if a.status.as_u16() == 503 => {
                self.refused += 1;
                self.refused_ms.push(a.timing.client_ms);
                if a.retry_after.is_some() && a.error_code.as_deref() == Some("unavailable") {
                    self.refused_well_formed += 1;
                }
            }
            Outcome::Answered(a) => *self.other.entry(a.status.as_u16()).or_default() += 1,
            Outcome::Failed => self.transport_errors += 1,
        }
    }
}

/// One conversation and a mentee client who writes into it.
struct Pair {
    mentee_token: String,
    conv: ConversationId,
}

async fn make_pair(base: &str, i: usize) -> Result<Pair> {
    let mut mentor = Api::new(base)?;
    mentor.register(&format!("bm-{i}"), Role::Mentor).await?;
    let mut mentee = Api::new(base)?;
    mentee.register(&format!("be-{i}"), Role::Mentee).await?;
    let conv = mentee.request_conversation(&format!("bm-{i}"), "burst").await?;
    mentor.accept(conv).await?;
    let mentee_token = mentee.token().context("no token after register")?.to_owned();
    Ok(Pair { mentee_token, conv })
}

/// The sustainable rate: 201s per second of a closed loop of 16 workers.
async fn sustainable(base: &str, pairs: &[Pair], secs: f64) -> Result<(f64, u64)> {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..MEASURE_WORKERS {
        let p = &pairs[w % pairs.len()];
        let api = Api::with_token(base, &p.mentee_token)?;
        let conv = p.conv;
        set.spawn(async move {
            let mut ok = 0u64;
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let a = api
                    .try_send(conv, format!("m-{w}-{i}"), format!("measure {w} {i}"))
                    .await?;
                if a.status.as_u16() != 201 {
                    bail!("the measuring phase got {} (it must not overload)", a.status);
                }
                ok += 1;
            }
            Ok(ok)
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += r.context("a measuring worker failed")??;
    }
    Ok((ok as f64 / t0.elapsed().as_secs_f64().max(1e-9), ok))
}

/// The server's `mchatd_messages_stored_total`.
async fn stored_total(anon: &Api) -> Option<f64> {
    let text = anon.metrics().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("mchatd_messages_stored_total "))
        .and_then(|v| v.trim().parse().ok())
}

fn settle(secs: f64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64(secs))
}

async fn run(srv: &Server, args: &BurstArgs) -> Result<Value> {
    let base = srv.base_url();
    let anon = Api::new(&base)?;
    let version = anon.healthz().await?.version;
    eprintln!("bench: setting up {} conversations ...", args.pairs);
    let mut pairs = Vec::with_capacity(args.pairs);
    for i in 0..args.pairs {
        pairs.push(make_pair(&base, i).await?);
    }
    settle(args.settle_secs).await;
    let rss_before = procstat::mem(srv.pid()).rss_mb;

    eprintln!(
        "bench: measuring the sustainable rate for {} s ...",
        args.measure_secs
    );
    let (rate, measured) = sustainable(&base, &pairs, args.measure_secs).await?;
    let offered = rate * args.factor;
    eprintln!(
        "bench: sustainable {rate:.0}/s; offering {offered:.0}/s for {} s ...",
        args.burst_secs
    );
    let stored0 = stored_total(&anon).await;

    let clients: Vec<(Api, ConversationId)> = (0..args.clients)
        .map(|c| {
            let p = &pairs[c % pairs.len()];
            Ok((Api::with_token(&base, &p.mentee_token)?, p.conv))
        })
        .collect::<Result<_>>()?;
    let clients = Arc::new(clients);
    let permits = Arc::new(Semaphore::new(args.max_in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let collector = tokio::spawn(async move {
        let mut t = Tally::default();
        while let Some(o) = rx.recv().await {
            t.add(o);
        }
        t
    });
    let (peak, sampling) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
    let sampler = {
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), srv.pid());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RSS_EVERY);
            while sampling.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(mb) = procstat::mem(pid).rss_mb {
                    peak.fetch_max((mb * 10.0) as u64, Ordering::Relaxed);
                }
            }
        })
    };

    let burst = Duration::from_secs_f64(args.burst_secs);
    let t0 = Instant::now();
    let (mut issued, mut skipped) = (0u64, 0u64);
    let mut tick = tokio::time::interval(PACER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while t0.elapsed() < burst && issued + skipped < MAX_REQUESTS {
        tick.tick().await;
        for _ in 0..due(t0.elapsed(), offered, issued + skipped) {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                skipped += 1;
                continue;
            };
            let n = issued;
            issued += 1;
            let (clients, tx) = (clients.clone(), tx.clone());
            tokio::spawn(async move {
                let (api, conv) = &clients[(n as usize) % clients.len()];
                let o = match api.try_send(*conv, format!("b-{n}"), format!("burst {n}")).await {
                    Ok(a) => Outcome::Answered(a),
                    Err(_) => Outcome::Failed,
                };
                let _ = tx.send(o);
                drop(permit);
            });
        }
    }
    let burst_wall = t0.elapsed().as_secs_f64();
    drop(tx);
    // Every request is bounded by the client timeout; wait for the last ones.
    let tally = collector.await.context("the result collector failed")?;
    let drained_s = t0.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_peak = peak.load(Ordering::Relaxed) as f64 / 10.0;
    settle(args.settle_secs).await;
    let mem_after = procstat::mem(srv.pid());
    let healthy_after = anon.healthz().await.is_ok();
    let stored1 = stored_total(&anon).await;

    let accepted = tally.accepted_ms.len() as u64;
    let stored_delta = stored0.zip(stored1).map(|(a, b)| (b - a) as u64);
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "scenario": "burst",
        "mchatd_version": version,
        "server_env": args.server_env,
        "cpus": crate::meta::machine().cpus,
        "sustainable_msg_per_s": r1(rate),
        "measured_sends": measured,
        "factor": args.factor,
        "offered_per_s": r1(offered),
        "burst_secs": r1(burst_wall),
        "drained_secs": r1(drained_s),
        "issued": issued,
        "issued_per_s": r1(issued as f64 / burst_wall.max(1e-9)),
        "client_skipped": skipped,
        "accepted": accepted,
        "accepted_per_s": r1(accepted as f64 / drained_s.max(1e-9)),
        "refused_503": tally.refused,
        "refused_503_with_retry_after": tally.refused_well_formed,
        "other_statuses": tally.other,
        "transport_errors": tally.transport_errors,
        "accepted_ms": summarize_ms(&tally.accepted_ms),
        "accepted_server_ms": summarize_ms(&tally.accepted_server_ms),
        "refused_ms": summarize_ms(&tally.refused_ms),
        "rss_mb": {"before": rss_before, "peak": rss_peak, "after": mem_after.rss_mb, "hwm": mem_after.hwm_mb},
        "healthy_after": healthy_after,
        "stored_during_burst": stored_delta,
        "stored_matches_accepted": stored_delta.map(|d| d == accepted),
    }))
}

fn table(w: &mut dyn std::io::Write, r: &Value) -> std::io::Result<()> {
    let ms = |k: &str, p: &str| r[k][p].as_f64().map_or("-".into(), |v| format!("{v:.1}"));
    writeln!(
        w,
        "mchat-bench burst  (mchatd {}, env {})",
        r["mchatd_version"], r["server_env"]
    )?;
    writeln!(
        w,
        "  sustainable {} msg/s; offered {} /s ({}x) for {} s; issued {} /s, {} skipped client-side",
        r["sustainable_msg_per_s"],
        r["offered_per_s"],
        r["factor"],
        r["burst_secs"],
        r["issued_per_s"],
        r["client_skipped"]
    )?;
    writeln!(
        w,
        "  accepted {} ({} /s), 503 {} ({} with Retry-After), other {}, transport errors {}",
        r["accepted"],
        r["accepted_per_s"],
        r["refused_503"],
        r["refused_503_with_retry_after"],
        r["other_statuses"],
        r["transport_errors"]
    )?;
    writeln!(
        w,
        "  accepted ms p50 {} p99 {} max {} (server p99 {}); 503 ms p50 {} p99 {}",
        ms("accepted_ms", "p50"),
        ms("accepted_ms", "p99"),
        ms("accepted_ms", "max"),
        ms("accepted_server_ms", "p99"),
        ms("refused_ms", "p50"),
        ms("refused_ms", "p99")
    )?;
    writeln!(
        w,
        "  server RSS MB before {} peak {} after {}; healthy after {}; stored = accepted: {}",
        r["rss_mb"]["before"],
        r["rss_mb"]["peak"],
        r["rss_mb"]["after"],
        r["healthy_after"],
        r["stored_matches_accepted"]
    )
}

pub async fn main(args: BurstArgs) -> Result<()> {
    args.validate()?;
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = Launch {
        bin,
        extra_env: server_env_pairs(&args.server_env)?,
        ready_timeout: Duration::from_secs(30),
    };
    eprintln!("bench: starting {}", launch.bin.display());
    let srv = Server::start(&launch).await?;
    let outcome = server::bounded(args.deadline_secs, run(&srv, &args)).await;
    if outcome.is_err() {
        eprintln!("bench: server log tail:\n{}", srv.log_tail(20));
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("bench: mchatd {stopped}");
    let report = outcome?;
    if args.json {
        table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_issues_what_is_due() {
        assert_eq!(due(Duration::from_millis(0), 1000.0, 0), 0);
        assert_eq!(due(Duration::from_millis(10), 1000.0, 0), 10);
        assert_eq!(due(Duration::from_millis(10), 1000.0, 7), 3);
        assert_eq!(due(Duration::from_millis(10), 1000.0, 12), 0);
        assert_eq!(due(Duration::from_secs(2), 50_000.0, 0), 100_000);
    }
}
