//! `mchat-bench search`: search and history-page latency on a big database
//! made by `mchat-bench seed` (issue 6: search p99 ≤ 20 ms over 1,000,000
//! messages; issue 7: history paging on that database).
//!
//! The plan is read from the database first (read-only): a few users, their
//! conversations and peers, the conversations long enough for paging. Then
//! the real `mchatd` starts on the data dir, each user logs in with the seed
//! password, and the bench runs sequential `GET /v1/search` requests of five
//! kinds in turn — a very common word, a rare word, a 3-letter prefix, a
//! two-word phrase taken from one of the user's messages, and a common word
//! narrowed `with=` a peer — then `GET .../messages` pages (newest and random
//! `before=`, on the longest thread and random long ones). Every hit is
//! checked to belong to one of the searching user's conversations (a leak
//! fails the run). Figures are client round trips and the server's own time
//! (`server-timing`), as p50/p90/p99/max.

use crate::api::{Api, server_timing_ms};
use crate::history::{self, PAGE, SplitMix};
use crate::report::{met, num};
use crate::seed::{DB_FILE, SEED_PASSWORD, vocabulary};
use crate::server::{self, Launch, Server};
use crate::stats::summarize_ms;
use anyhow::{Context, Result, bail};
use clap::Args;
use mchat_shared::api::{AuthResponse, LoginRequest, SearchResults};
use mchat_shared::{ConversationId, MessageId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The target for search latency (p99, ms).
const SEARCH_P99_TARGET_MS: f64 = 20.0;
/// Results asked for per search (the API's default page).
const SEARCH_LIMIT: u32 = 20;

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// A data dir made by `mchat-bench seed`.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// mchatd binary [default: mchatd next to this executable].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Recorded searches (spread over the five kinds and the users).
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Recorded history pages, for the newest page and again for random before= cursors.
    #[arg(long, default_value_t = 1000)]
    pub history_samples: usize,
    /// Users who search (picked at random among the seeded ones).
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Unrecorded searches first.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// RNG seed for users, terms and cursors.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Overall deadline, in seconds.
    #[arg(long, default_value_t = 900)]
    pub deadline_secs: u64,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// A user who searches: their conversations and peers.
#[derive(Debug, Clone)]
struct Searcher {
    username: String,
    conversations: Vec<(i64, String)>,
}

/// A conversation long enough to page, a participant, and its message ids.
#[derive(Debug, Clone)]
struct Thread {
    id: i64,
    reader: String,
    ids: Vec<MessageId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Common,
    Rare,
    Prefix,
    Phrase,
    With,
}

const KINDS: [Kind; 5] = [Kind::Common, Kind::Rare, Kind::Prefix, Kind::Phrase, Kind::With];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Common => "common",
            Kind::Rare => "rare",
            Kind::Prefix => "prefix",
            Kind::Phrase => "phrase",
            Kind::With => "with",
        }
    }
}

/// One planned search.
#[derive(Debug, Clone)]
struct Planned {
    user: usize,
    kind: Kind,
    q: String,
    with: Option<String>,
}

struct Plan {
    searchers: Vec<Searcher>,
    threads: Vec<Thread>,
    messages: i64,
    conversations: i64,
}

fn open_ro(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Reads users, conversations and long threads from the seeded database.
fn plan(db: &Path, args: &SearchArgs) -> Result<Plan> {
    let conn = open_ro(db)?;
    let messages: i64 = conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    let conversations: i64 = conn.query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0))?;
    let candidates: Vec<String> = conn
        .prepare(
            "SELECT u.username FROM users u WHERE EXISTS (SELECT 1 FROM participants p WHERE p.user_id = u.id) \
             ORDER BY u.id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if candidates.is_empty() {
        bail!(
            "{} has no conversations: seed it with `mchat-bench seed` first",
            db.display()
        );
    }
    let mut rng = SplitMix::new(args.seed);
    let mut chosen = HashSet::new();
    while chosen.len() < args.users.min(candidates.len()) {
        chosen.insert(candidates[rng.range(0, candidates.len())].clone());
    }
    let mut chosen: Vec<String> = chosen.into_iter().collect();
    chosen.sort();
    let mut convs = conn.prepare(
        "SELECT p.conversation_id, u.username FROM users me \
         JOIN participants p ON p.user_id = me.id \
         JOIN participants o ON o.conversation_id = p.conversation_id AND o.user_id != me.id \
         JOIN users u ON u.id = o.user_id WHERE me.username = ?1 ORDER BY p.conversation_id",
    )?;
    let searchers = chosen
        .into_iter()
        .map(|username| {
            let conversations = convs
                .query_map([&username], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(i64, String)>, _>>()?;
            Ok(Searcher {
                username,
                conversations,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Threads to page: up to 20 conversations with more than two pages.
    let long: Vec<i64> = conn
        .prepare(
            "SELECT conversation_id FROM messages GROUP BY conversation_id HAVING COUNT(*) > ?1 \
             ORDER BY conversation_id",
        )?
        .query_map([2 * PAGE], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // The longest thread first, then random long ones.
    let longest: Option<i64> = conn
        .query_row(
            "SELECT conversation_id FROM messages GROUP BY conversation_id ORDER BY COUNT(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .filter(|id| long.contains(id));
    let mut threads = Vec::new();
    for k in 0..20.min(long.len()) {
        let id = match longest {
            Some(id) if k == 0 => id,
            _ => long[rng.range(0, long.len())],
        };
        let reader: String = conn.query_row(
            "SELECT u.username FROM participants p JOIN users u ON u.id = p.user_id \
             WHERE p.conversation_id = ?1 ORDER BY u.id LIMIT 1",
            [id],
            |r| r.get(0),
        )?;
        let ids = conn
            .prepare("SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY id")?
            .query_map([id], |r| Ok(MessageId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        threads.push(Thread { id, reader, ids });
    }
    Ok(Plan {
        searchers,
        threads,
        messages,
        conversations,
    })
}

/// Two adjacent words of a text message in one of `s`'s conversations.
fn phrase(conn: &Connection, s: &Searcher, rng: &mut SplitMix) -> Result<Option<String>> {
    if s.conversations.is_empty() {
        return Ok(None);
    }
    let (conv, _) = &s.conversations[rng.range(0, s.conversations.len())];
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND kind = 'text'",
        [conv],
        |r| r.get(0),
    )?;
    if count == 0 {
        return Ok(None);
    }
    let body: String = conn.query_row(
        "SELECT body FROM messages WHERE conversation_id = ?1 AND kind = 'text' ORDER BY id LIMIT 1 OFFSET ?2",
        params![conv, rng.range(0, count as usize) as i64],
        |r| r.get(0),
    )?;
    let words: Vec<&str> = body
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect();
    if words.len() < 2 {
        return Ok(None);
    }
    let at = rng.range(0, words.len() - 1);
    Ok(Some(format!("\"{} {}\"", words[at], words[at + 1])))
}

/// `n` searches, the kinds in turn, the users in turn.
fn searches(db: &Path, searchers: &[Searcher], n: usize, seed: u64) -> Result<Vec<Planned>> {
    let conn = open_ro(db)?;
    let vocab = vocabulary(20_000);
    let mut rng = SplitMix::new(seed ^ 0x5EA2C4);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let user = i % searchers.len();
        let s = &searchers[user];
        let kind = KINDS[(i / searchers.len()) % KINDS.len()];
        let common = || vocab[0..40].to_vec();
        let (q, with) = match kind {
            Kind::Common => (common()[rng.range(0, 40)].clone(), None),
            Kind::Rare => (vocab[rng.range(10_000, vocab.len())].clone(), None),
            Kind::Prefix => {
                let w = &vocab[rng.range(40, 2_000)];
                (w.chars().take(3).collect(), None)
            }
            Kind::Phrase => match phrase(&conn, s, &mut rng)? {
                Some(p) => (p, None),
                None => (common()[0].clone(), None),
            },
            Kind::With => {
                let peer = s
                    .conversations
                    .get(rng.range(0, s.conversations.len().max(1)))
                    .map(|(_, p)| p.clone());
                (common()[rng.range(0, 40)].clone(), peer)
            }
        };
        out.push(Planned { user, kind, q, with });
    }
    Ok(out)
}

/// `POST /v1/auth/login` with the seed password; the token.
async fn login(http: &reqwest::Client, base: &str, username: &str) -> Result<String> {
    let req = LoginRequest {
        username: username.to_owned(),
        password: SEED_PASSWORD.to_owned(),
        token_name: Some("mchat-bench search".into()),
    };
    let resp = http
        .post(format!("{base}/v1/auth/login"))
        .json(&req)
        .send()
        .await
        .with_context(|| format!("login {username}: request failed"))?;
    if !resp.status().is_success() {
        bail!(
            "login {username}: {} {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    let auth: AuthResponse = resp.json().await.context("login: bad JSON")?;
    Ok(auth.token)
}

/// One timed search: client ms, server ms, the results.
async fn search_once(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    p: &Planned,
) -> Result<(f64, Option<f64>, SearchResults)> {
    let mut query = vec![("q", p.q.clone()), ("limit", SEARCH_LIMIT.to_string())];
    if let Some(w) = &p.with {
        query.push(("with", w.clone()));
    }
    let t0 = Instant::now();
    let resp = http
        .get(format!("{base}/v1/search"))
        .bearer_auth(token)
        .query(&query)
        .send()
        .await
        .context("search: request failed")?;
    let status = resp.status();
    let server_ms = server_timing_ms(resp.headers());
    let body = resp.bytes().await.context("search: reading the body failed")?;
    let client_ms = t0.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!(
            "search {:?}: {status} {}",
            p.q,
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    let results: SearchResults = serde_json::from_slice(&body).context("search: bad JSON")?;
    Ok((client_ms, server_ms, results))
}

fn summary(client: &[f64], server: &[f64]) -> Value {
    json!({"client_ms": summarize_ms(client), "server_ms": summarize_ms(server)})
}

async fn measure(srv: &Server, args: &SearchArgs, plan: &Plan, db: &Path) -> Result<Value> {
    let base = srv.base_url();
    let http = crate::api::http_client_builder()?
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(crate::api::REQUEST_TIMEOUT)
        .build()?;
    let mut tokens = Vec::with_capacity(plan.searchers.len());
    for s in &plan.searchers {
        tokens.push(login(&http, &base, &s.username).await?);
    }
    let planned = searches(db, &plan.searchers, args.warmup + args.samples, args.seed)?;
    let mut by_kind: Vec<(Vec<f64>, Vec<f64>, usize)> = vec![(Vec::new(), Vec::new(), 0); KINDS.len()];
    let (mut all_client, mut all_server) = (Vec::new(), Vec::new());
    for (i, p) in planned.iter().enumerate() {
        let (client_ms, server_ms, results) = search_once(&http, &base, &tokens[p.user], p).await?;
        let mine: HashSet<i64> = plan.searchers[p.user]
            .conversations
            .iter()
            .map(|(c, _)| *c)
            .collect();
        if let Some(leak) = results
            .hits
            .iter()
            .find(|h| !mine.contains(&h.message.conversation_id.0))
        {
            bail!(
                "search {:?} as {} returned message {} of conversation {}, which is not theirs",
                p.q,
                plan.searchers[p.user].username,
                leak.message.id,
                leak.message.conversation_id
            );
        }
        if i < args.warmup {
            continue;
        }
        let k = KINDS.iter().position(|&k| k == p.kind).unwrap_or(0);
        by_kind[k].0.push(client_ms);
        by_kind[k].1.extend(server_ms);
        by_kind[k].2 += results.hits.len();
        all_client.push(client_ms);
        all_server.extend(server_ms);
    }
    let mut kinds = serde_json::Map::new();
    for (k, (c, s, hits)) in KINDS.iter().zip(&by_kind) {
        let mut v = summary(c, s);
        v["mean_hits"] = json!(if c.is_empty() {
            0.0
        } else {
            *hits as f64 / c.len() as f64
        });
        kinds.insert(k.name().into(), v);
    }
    let search_all = summary(&all_client, &all_server);

    // History pages on long threads: newest, and random before= cursors.
    let mut history = json!(null);
    if !plan.threads.is_empty() && args.history_samples > 0 {
        let mut rng = SplitMix::new(args.seed ^ 0x415);
        let mut apis = Vec::new();
        for t in &plan.threads {
            let token = login(&http, &base, &t.reader).await?;
            apis.push(Api::with_token(&base, &token)?);
        }
        let per = args.history_samples.div_ceil(plan.threads.len());
        let (mut newest_c, mut newest_s, mut random_c, mut random_s) = (vec![], vec![], vec![], vec![]);
        for (t, api) in plan.threads.iter().zip(&apis) {
            let conv = ConversationId(t.id);
            let newest = history::sample(api, conv, &vec![None; per]).await?;
            newest_c.extend(newest.client_ms);
            newest_s.extend(newest.server_ms);
            let cursors: Vec<Option<MessageId>> = (0..per)
                .map(|_| Some(t.ids[rng.range(PAGE as usize + 1, t.ids.len())]))
                .collect();
            let random = history::sample(api, conv, &cursors).await?;
            random_c.extend(random.client_ms);
            random_s.extend(random.server_ms);
        }
        history = json!({
            "threads": plan.threads.len(),
            "thread_messages_min": plan.threads.iter().map(|t| t.ids.len()).min(),
            "thread_messages_max": plan.threads.iter().map(|t| t.ids.len()).max(),
            "page_limit": PAGE,
            "newest": summary(&newest_c, &newest_s),
            "random_before": summary(&random_c, &random_s),
        });
    }
    let p99 = search_all["client_ms"]["p99"].as_f64();
    let conv_counts: Vec<usize> = plan.searchers.iter().map(|s| s.conversations.len()).collect();
    Ok(json!({
        "bench": "search",
        "database": {
            "messages": plan.messages,
            "conversations": plan.conversations,
            "db_mb": srv.db_mb(),
        },
        "searchers": plan.searchers.len(),
        "searcher_conversations_min": conv_counts.iter().min(),
        "searcher_conversations_max": conv_counts.iter().max(),
        "startup_s": srv.startup_s,
        "search_limit": SEARCH_LIMIT,
        "search": {"all": search_all, "by_kind": kinds},
        "history": history,
        "targets": {
            "search_p99_ms": {
                "value": p99,
                "target": SEARCH_P99_TARGET_MS,
                "met": p99.map(|v| v <= SEARCH_P99_TARGET_MS),
            }
        }
    }))
}

/// Writes the human table for a `search` report.
pub fn table(w: &mut dyn Write, r: &Value) -> std::io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "mchatd search benchmark: {} messages, {} conversations, DB {} MB; {} users searching \
         (in {}-{} conversations each); server startup {} s",
        r["database"]["messages"],
        r["database"]["conversations"],
        num(&r["database"]["db_mb"], 1),
        r["searchers"],
        r["searcher_conversations_min"],
        r["searcher_conversations_max"],
        num(&r["startup_s"], 2),
    )?;
    writeln!(
        w,
        "{:<28} {:>8} {:>7} {:>7} {:>7} | {:>10} {:>7} | {:>6}",
        "search (limit 20)", "p50", "p90", "p99", "max", "server p50", "p99", "hits"
    )?;
    let mut rows = vec![("all".to_owned(), &r["search"]["all"], Value::Null)];
    for k in KINDS {
        let v = &r["search"]["by_kind"][k.name()];
        rows.push((k.name().to_owned(), v, v["mean_hits"].clone()));
    }
    for (name, v, hits) in rows {
        writeln!(
            w,
            "  {:<26} {:>8} {:>7} {:>7} {:>7} | {:>10} {:>7} | {:>6}",
            format!("{name} (n={})", v["client_ms"]["n"]),
            num(&v["client_ms"]["p50"], 3),
            num(&v["client_ms"]["p90"], 3),
            num(&v["client_ms"]["p99"], 3),
            num(&v["client_ms"]["max"], 2),
            num(&v["server_ms"]["p50"], 3),
            num(&v["server_ms"]["p99"], 3),
            num(&hits, 1),
        )?;
    }
    let h = &r["history"];
    if !h.is_null() {
        writeln!(
            w,
            "history: {} threads of {}-{} messages, limit {}",
            h["threads"], h["thread_messages_min"], h["thread_messages_max"], h["page_limit"]
        )?;
        for (name, v) in [
            ("newest page", &h["newest"]),
            ("random before=", &h["random_before"]),
        ] {
            writeln!(
                w,
                "  {:<26} {:>8} {:>7} {:>7} {:>7} | {:>10} {:>7}",
                format!("{name} (n={})", v["client_ms"]["n"]),
                num(&v["client_ms"]["p50"], 3),
                num(&v["client_ms"]["p90"], 3),
                num(&v["client_ms"]["p99"], 3),
                num(&v["client_ms"]["max"], 2),
                num(&v["server_ms"]["p50"], 3),
                num(&v["server_ms"]["p99"], 3),
            )?;
        }
    }
    let t = &r["targets"]["search_p99_ms"];
    writeln!(
        w,
        "(ms, client round trip; server = server-timing) target: search p99 <= 20 ms -> {} ({})",
        num(&t["value"], 3),
        met(&t["met"])
    )?;
    writeln!(w)?;
    Ok(())
}

/// `mchat-bench search`.
pub async fn main(args: SearchArgs) -> Result<()> {
    if args.samples == 0 || args.users == 0 {
        bail!("--samples and --users must be at least 1");
    }
    let db = args.data_dir.join(DB_FILE);
    if !db.is_file() {
        bail!(
            "{} not found: run `mchat-bench seed --data-dir {}` first",
            db.display(),
            args.data_dir.display()
        );
    }
    let plan = plan(&db, &args)?;
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = Launch {
        bin,
        extra_env: Vec::new(),
        ready_timeout: Duration::from_secs(60),
    };
    let srv = Server::start_on(&launch, &args.data_dir).await?;
    let outcome = crate::server::bounded(args.deadline_secs, measure(&srv, &args, &plan, &db)).await;
    if outcome.is_err() {
        eprintln!("bench: server log tail:\n{}", srv.log_tail(20));
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    let mut report = outcome?;
    report["server_stop"] = json!(stopped);
    if args.json {
        table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}
