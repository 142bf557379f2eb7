//! `mchat-bench crash`: kill -9 the server at random moments while clients
//! send, R times, restarting on the same data dir each time. Each client
//! keeps an outbox of sends not yet acknowledged with 2xx and, after every
//! restart, resends them with the same `client_id` before sending new ones
//! (a send that was committed but whose answer was lost comes back as a 200
//! replay). After every kill `PRAGMA integrity_check` must be ok on the
//! crashed files; at the end every acknowledged message must be stored with
//! the id it was acknowledged with, and every `client_id` ever sent stored
//! exactly once.

use crate::crash_check::{integrity_check, stored_messages};
use crate::load_test_client::{Http, StatusCounts};
use crate::{args, server};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const PREFIX: &str = "crash-";

/// Options of `mchat-bench crash`.
#[derive(Debug, Clone, Args)]
pub struct CrashArgs {
    /// mchatd binary [default: mchatd next to this executable, i.e. target/release/mchatd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// kill -9 rounds.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Mentor/mentee pairs; both send, so 2x this many concurrent senders.
    #[arg(long, default_value_t = 8)]
    pub pairs: usize,
    /// Earliest kill after a restart, in ms.
    #[arg(long, default_value_t = 200)]
    pub min_kill_ms: u64,
    /// Latest kill after a restart, in ms.
    #[arg(long, default_value_t = 2000)]
    pub max_kill_ms: u64,
    /// Seed for the kill moments.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Overall deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 900)]
    pub deadline_secs: u64,
    /// Extra server environment, KEY=VALUE (repeatable), e.g. MCHATD_STORAGE__SYNCHRONOUS=normal.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// Print exactly one JSON document on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl CrashArgs {
    fn validate(&self) -> Result<()> {
        if self.rounds == 0 || self.rounds > 1000 {
            bail!("--rounds must be 1 to 1000");
        }
        if self.pairs == 0 || self.pairs > 500 {
            bail!("--pairs must be 1 to 500");
        }
        if self.min_kill_ms > self.max_kill_ms || self.max_kill_ms > 60_000 {
            bail!("need --min-kill-ms <= --max-kill-ms <= 60000");
        }
        Ok(())
    }
}

/// xorshift64*: reproducible kill moments without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One client's local state, kept across kills.
#[derive(Debug, Default)]
struct Book {
    /// client_id -> body: sent, not yet answered with 2xx.
    outbox: BTreeMap<String, String>,
    /// client_id -> message id from the 2xx answer.
    acked: BTreeMap<String, i64>,
    sent: BTreeSet<String>,
    /// Outbox resends answered 200 (already committed before the kill) / 201.
    resent_200: u64,
    resent_201: u64,
    /// Answers that were neither 2xx nor a failure to connect.
    unexpected: Vec<String>,
    next_k: usize,
}

/// One sender.
struct Sender {
    name: String,
    token: String,
    conv: i64,
    book: Mutex<Book>,
}

/// Sends `cid`; `Ok(Some(status, id))` on 2xx, `Ok(None)` on any other
/// answer (recorded), `Err` when the server is gone.
async fn send_one(http: &Http, s: &Sender, cid: &str, body: &str) -> Result<Option<(u16, i64)>> {
    let r = http.send(&s.token, s.conv, cid, body).await?;
    if matches!(r.status, 200 | 201)
        && let Some(id) = r.id()
    {
        return Ok(Some((r.status, id)));
    }
    if let Ok(mut b) = s.book.lock() {
        b.unexpected.push(format!("{cid}: {} {}", r.status, r.body));
    }
    Ok(None)
}

/// Resends the outbox, then (if `new`) sends new messages until the server goes away.
async fn run_sender(http: Http, s: Arc<Sender>, round: usize, new: usize) {
    let pending: Vec<(String, String)> = match s.book.lock() {
        Ok(b) => b.outbox.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Err(_) => return,
    };
    for (cid, body) in pending {
        match send_one(&http, &s, &cid, &body).await {
            Ok(Some((status, id))) => {
                if let Ok(mut b) = s.book.lock() {
                    b.outbox.remove(&cid);
                    b.acked.insert(cid, id);
                    if status == 200 {
                        b.resent_200 += 1;
                    } else {
                        b.resent_201 += 1;
                    }
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
    for _ in 0..new {
        let (cid, body) = match s.book.lock() {
            Ok(mut b) => {
                let k = b.next_k;
                b.next_k += 1;
                let cid = format!("{PREFIX}{}-{k}", s.name);
                let body = format!("{} message {k} (round {round})", s.name);
                b.outbox.insert(cid.clone(), body.clone());
                b.sent.insert(cid.clone());
                (cid, body)
            }
            Err(_) => return,
        };
        match send_one(&http, &s, &cid, &body).await {
            Ok(Some((_, id))) => {
                if let Ok(mut b) = s.book.lock() {
                    b.outbox.remove(&cid);
                    b.acked.insert(cid, id);
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fn acked_total(senders: &[Arc<Sender>]) -> usize {
    senders
        .iter()
        .filter_map(|s| s.book.lock().ok().map(|b| b.acked.len()))
        .sum()
}

fn outbox_total(senders: &[Arc<Sender>]) -> usize {
    senders
        .iter()
        .filter_map(|s| s.book.lock().ok().map(|b| b.outbox.len()))
        .sum()
}

/// Runs every sender against `http`; returns when all have stopped (bounded).
async fn spawn_senders(http: &Http, senders: &[Arc<Sender>], round: usize, new: usize) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for s in senders {
        tasks.spawn(run_sender(http.clone(), s.clone(), round, new));
    }
    tasks
}

async fn join_all(mut tasks: JoinSet<()>, limit: Duration) -> Result<()> {
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limit, all).await.is_err() {
        tasks.abort_all();
        bail!("senders did not stop within {limit:?}");
    }
    Ok(())
}

pub async fn main(args: CrashArgs) -> Result<()> {
    args.validate()?;
    let report = crate::server::bounded(args.deadline_secs, run(&args)).await?;
    let ok = report["ok"] == true;
    crate::report::emit_json_report(&report, args.json)?;
    if !ok {
        bail!("crash test FAILED (see the report)");
    }
    Ok(())
}

async fn run(args: &CrashArgs) -> Result<Value> {
    let started = Instant::now();
    let launch = server::Launch {
        bin: match &args.server_bin {
            Some(p) => p.clone(),
            None => server::default_bin()?,
        },
        extra_env: args::server_env_pairs(&args.server_env)?,
        ready_timeout: Duration::from_secs(30),
    };
    let dir = tempfile::Builder::new()
        .prefix("mchat-crash-")
        .tempdir()
        .context("cannot create a temporary data dir")?;
    let db = dir.path().join("mchatd.sqlite3");
    let counts = Arc::new(StatusCounts::default());
    let mut srv = server::Server::start_on(&launch, dir.path()).await?;
    eprintln!("crash: mchatd pid {} on http://{}", srv.pid(), srv.addr);

    let senders: Vec<Arc<Sender>> = {
        let http = Http::new(srv.addr, counts.clone())?;
        let mut v = Vec::new();
        for p in 0..args.pairs {
            let (mentor, mentee) = (format!("cm{p}"), format!("ce{p}"));
            let mt = http.register(&mentor, "mentor").await?;
            let et = http.register(&mentee, "mentee").await?;
            let conv = http.accepted_conversation(&et, &mentor, &mt).await?;
            for (name, token) in [(mentor, mt), (mentee, et)] {
                v.push(Arc::new(Sender {
                    name,
                    token,
                    conv,
                    book: Mutex::new(Book::default()),
                }));
            }
        }
        v
    };

    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut rounds = Vec::new();
    let mut integrity_failures = 0u64;
    for round in 0..args.rounds {
        let http = Http::new(srv.addr, counts.clone())?;
        let outbox_at_start = outbox_total(&senders);
        let tasks = spawn_senders(&http, &senders, round, usize::MAX).await;
        let delay = rng.between(args.min_kill_ms, args.max_kill_ms);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let acked_before = acked_total(&senders);
        let how = srv.kill9().await;
        join_all(tasks, Duration::from_secs(40)).await?;
        let integrity = integrity_check(&db)?;
        if integrity != "ok" {
            integrity_failures += 1;
        }
        let in_outbox = outbox_total(&senders);
        eprintln!(
            "crash: round {}: killed after {delay} ms ({how}); acknowledged so far {acked_before}, \
             outbox {in_outbox}, integrity {integrity}",
            round + 1
        );
        rounds.push(json!({
            "round": round + 1, "kill_after_ms": delay, "outbox_resent": outbox_at_start,
            "acknowledged_total": acked_total(&senders), "unacknowledged_at_kill": in_outbox,
            "integrity_check": integrity,
        }));
        srv = server::Server::start_on(&launch, dir.path())
            .await
            .map_err(|e| anyhow!("restart after kill {} failed: {e:#}", round + 1))?;
    }

    // Final: resend every outbox to the end, then a clean stop.
    let http = Http::new(srv.addr, counts.clone())?;
    for _ in 0..10 {
        if outbox_total(&senders) == 0 {
            break;
        }
        join_all(
            spawn_senders(&http, &senders, args.rounds, 0).await,
            Duration::from_secs(60),
        )
        .await?;
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("crash: final mchatd {stopped}");

    let final_integrity = integrity_check(&db)?;
    let stored = stored_messages(&db, PREFIX)?;
    let (mut acked, mut sent, mut missing, mut wrong_id, mut left_in_outbox) = (0, 0, 0, 0, 0);
    let (mut resent_200, mut resent_201) = (0, 0);
    let mut unexpected: Vec<String> = Vec::new();
    let mut first_missing = None;
    for s in &senders {
        let b = s
            .book
            .lock()
            .map_err(|_| anyhow!("a sender's book is poisoned"))?;
        acked += b.acked.len();
        sent += b.sent.len();
        left_in_outbox += b.outbox.len();
        resent_200 += b.resent_200;
        resent_201 += b.resent_201;
        unexpected.extend(b.unexpected.iter().cloned());
        for (cid, id) in &b.acked {
            match stored.by_client_id.get(cid).map(Vec::as_slice) {
                Some([one]) if one == id => {}
                Some([_]) => wrong_id += 1,
                _ => {
                    missing += 1;
                    first_missing.get_or_insert_with(|| cid.clone());
                }
            }
        }
        // Sent but never acknowledged (still in the outbox at the end).
        missing += b
            .sent
            .iter()
            .filter(|c| !b.acked.contains_key(*c) && !stored.by_client_id.contains_key(*c))
            .count();
    }
    let rows: usize = stored.by_client_id.values().map(Vec::len).sum();
    let all_sent: BTreeSet<String> = senders
        .iter()
        .filter_map(|s| s.book.lock().ok().map(|b| b.sent.clone()))
        .flatten()
        .collect();
    let never_sent = stored
        .by_client_id
        .keys()
        .filter(|c| !all_sent.contains(*c))
        .count();
    let ok = integrity_failures == 0
        && final_integrity == "ok"
        && stored.duplicate_groups == 0
        && rows == sent
        && stored.by_client_id.len() == sent
        && missing == 0
        && wrong_id == 0
        && left_in_outbox == 0
        && never_sent == 0
        && counts.server_errors() == 0;
    Ok(json!({
        "config": {"rounds": args.rounds, "senders": senders.len(), "kill_ms": [args.min_kill_ms, args.max_kill_ms],
                   "seed": args.seed, "server_env": args.server_env},
        "kills": args.rounds,
        "acknowledged": acked,
        "sent_client_ids": sent,
        "stored_rows": rows,
        "missing_acknowledged_or_sent": missing,
        "stored_but_never_sent": never_sent,
        "stored_with_other_id": wrong_id,
        "duplicate_groups": stored.duplicate_groups,
        "left_in_outbox": left_in_outbox,
        "outbox_resends": {"answered_200_replay": resent_200, "answered_201_new": resent_201},
        "integrity_failures_after_kill": integrity_failures,
        "integrity_final": final_integrity,
        "http_by_status": counts.snapshot().into_iter().map(|(c, k)| (c.to_string(), k)).collect::<BTreeMap<_, _>>(),
        "http_5xx": counts.server_errors(),
        "unexpected_answers": unexpected.len(),
        "first_unexpected": unexpected.first(),
        "first_missing": first_missing,
        "rounds": rounds,
        "wall_s": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "ok": ok,
    }))
}
