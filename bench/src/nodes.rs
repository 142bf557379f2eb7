//! The `nodes` scenario (issue 11's figures): SQLite on one node beside
//! PostgreSQL on one node and on N nodes, in one run on one machine, each
//! setup fresh: sends/s at 1 and 16 senders (the 16 spread over the nodes,
//! each in its own conversation), send → receive latency with the receiver
//! on the sender's node and on another one, a history page, all with idle
//! sockets spread over the nodes. Then, on N nodes, one node is killed
//! (`kill -9`) under load: its receivers reconnect to another node with
//! their cursor, and every acknowledged message must arrive once.
//!
//! `--postgres` is a URL whose user may create databases (the bench makes
//! one per setup); PostgreSQL keeps its defaults (`synchronous_commit = on`).

use crate::api::Api;
use crate::core::{Pair, make_pair as pair};
use crate::history::{self, PAGE};
use crate::live_ws::{self, Fleet};
use crate::load::{self, Target};
use crate::server::{Launch, Server};
use crate::stats::summarize_ms;
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use mchat_shared::api::Role;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Options of `mchat-bench nodes`.
#[derive(clap::Args, Debug, Clone)]
pub struct NodesArgs {
    /// mchatd binary [default: mchatd next to this executable].
    #[arg(long)]
    pub server_bin: Option<std::path::PathBuf>,
    /// PostgreSQL URL of a user that may create databases.
    #[arg(long)]
    pub postgres: String,
    /// Nodes of the multi-node setup.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Sends per throughput phase.
    #[arg(long, default_value_t = 4000)]
    pub sends: usize,
    /// Recorded send → receive rounds per latency phase.
    #[arg(long, default_value_t = 1000)]
    pub rounds: usize,
    /// Idle sockets held during the latency phases, spread over the nodes.
    #[arg(long, default_value_t = 1000)]
    pub idle: usize,
    /// Messages seeded for the history pages.
    #[arg(long, default_value_t = 3000)]
    pub history: usize,
    /// Pages fetched (random cursors).
    #[arg(long, default_value_t = 500)]
    pub pages: usize,
    /// Sends in flight while a node is killed.
    #[arg(long, default_value_t = 3000)]
    pub crash_sends: usize,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// Senders of the wide phase.
const WIDE: usize = 16;
const BODY: usize = 24;

/// One setup's servers (and its database, when on PostgreSQL).
struct Setup {
    name: String,
    servers: Vec<Server>,
}

impl Setup {
    fn base(&self, i: usize) -> String {
        self.servers[i % self.servers.len()].base_url()
    }
    fn addr(&self, i: usize) -> std::net::SocketAddr {
        self.servers[i % self.servers.len()].addr
    }
}

fn token(api: &Api) -> Result<String> {
    api.token().map(str::to_owned).context("a client without a token")
}

/// A fresh database named after the setup, and its URL.
async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    let (client, conn) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to --postgres")?;
    let driver = tokio::spawn(conn);
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .with_context(|| format!("cannot create the database {name}"))?;
    }
    drop(client);
    let _ = driver.await;
    let mut url = reqwest::Url::parse(admin_url).context("--postgres is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn start(args: &NodesArgs, name: &str, nodes: usize, postgres: Option<String>) -> Result<Setup> {
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => crate::server::default_bin()?,
    };
    let mut extra_env = Vec::new();
    if let Some(url) = postgres {
        extra_env.push(("MCHATD_STORAGE__BACKEND".to_string(), "postgres".to_string()));
        extra_env.push(("MCHATD_STORAGE__URL".to_string(), url));
    }
    let launch = Launch {
        bin,
        extra_env,
        ready_timeout: Duration::from_secs(30),
    };
    let mut servers = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        servers.push(Server::start(&launch).await?);
    }
    eprintln!("bench: {name}: {nodes} node(s) up");
    Ok(Setup {
        name: name.to_string(),
        servers,
    })
}

/// Send → receive over `rounds`: the sender posts through node 0, the
/// receiver's socket is on node `on`.
async fn latency(setup: &Setup, p: &Pair, on: usize, rounds: usize, tag: &str) -> Result<Value> {
    let (mut ws, _) = live_ws::connect(setup.addr(on), &token(&p.mentor)?, None).await?;
    let sender = Api::with_token(&setup.base(0), &token(&p.mentee)?)?;
    let mut ms = Vec::with_capacity(rounds);
    for i in 0..rounds + rounds / 10 {
        let marker = format!("{tag}-{i}-x");
        // Never padded: the server trims a trailing space, and the body is
        // compared exactly.
        let body = format!("{marker} ping");
        let t0 = Instant::now();
        sender.send(p.conv, body.clone(), false).await?;
        let (seen, _) = match live_ws::wait_for_body(&mut ws, &marker, &body, Duration::from_secs(10)).await {
            Ok(got) => got,
            Err(e) => {
                let log = setup.servers[on % setup.servers.len()].log_tail(20);
                return Err(e.context(format!("the receiving node's log:\n{log}")));
            }
        };
        // The first tenth warms up.
        if i >= rounds / 10 {
            ms.push(seen.duration_since(t0).as_secs_f64() * 1000.0);
        }
    }
    live_ws::close_politely(&mut ws, Duration::from_secs(1)).await;
    Ok(json!(summarize_ms(&ms)))
}

async fn measure(args: &NodesArgs, setup: &Setup) -> Result<Value> {
    let n = setup.servers.len();
    let sfx = &setup.name;
    let mut pairs = Vec::with_capacity(WIDE + 1);
    for k in 0..=WIDE {
        pairs.push(pair(&setup.base(k), &format!("{sfx}{k}")).await?);
    }
    // Idle sockets: users of their own (20 devices each, as `live` opens),
    // who receive nothing, spread over the nodes.
    let mut idle_tokens = Vec::new();
    for k in 0..args.idle.div_ceil(20).max(1) {
        let mut idle = Api::new(&setup.base(0))?;
        idle.register(&format!("idle-{sfx}{k}"), Role::Mentee).await?;
        idle_tokens.push(Arc::<str>::from(token(&idle)?));
    }
    let tokens: Vec<Vec<Arc<str>>> = (0..n)
        .map(|node| {
            idle_tokens
                .iter()
                .enumerate()
                .filter(|(k, _)| k % n == node)
                .map(|(_, t)| t.clone())
                .collect()
        })
        .collect();
    let mut fleets = Vec::new();
    for (node, tokens) in tokens.iter().enumerate() {
        let mut fleet = Fleet::new(setup.addr(node), 100);
        if !tokens.is_empty() {
            fleet
                .open_more(args.idle / n, tokens, Duration::from_secs(60))
                .await?;
        }
        fleets.push(fleet);
    }
    eprintln!(
        "bench: {sfx}: {} idle sockets open",
        fleets.iter().map(Fleet::open).sum::<usize>()
    );

    let c1 = load::run(
        vec![Target {
            api: Api::with_token(&setup.base(0), &token(&pairs[0].mentee)?)?,
            conv: pairs[0].conv,
        }],
        args.sends / 4,
        &format!("c1-{sfx}"),
        BODY,
        false,
        "c1",
    )
    .await?;
    eprintln!("bench: {sfx}: c1 {:.0} msg/s", c1.msg_per_s());
    let targets = pairs[1..]
        .iter()
        .enumerate()
        .map(|(k, p)| {
            Ok(Target {
                api: Api::with_token(&setup.base(k), &token(&p.mentee)?)?,
                conv: p.conv,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let c16 = load::run(targets, args.sends, &format!("c16-{sfx}"), BODY, false, "c16").await?;
    eprintln!("bench: {sfx}: c16 {:.0} msg/s", c16.msg_per_s());

    let same = latency(setup, &pairs[0], 0, args.rounds, &format!("same-{sfx}")).await?;
    let cross = if n > 1 {
        latency(setup, &pairs[0], 1, args.rounds, &format!("cross-{sfx}")).await?
    } else {
        Value::Null
    };

    // History: seeded by the pair itself, read through the last node.
    let seed = load::run(
        vec![Target {
            api: Api::with_token(&setup.base(0), &token(&pairs[0].mentor)?)?,
            conv: pairs[0].conv,
        }],
        args.history,
        &format!("h-{sfx}"),
        100,
        true,
        "history seed",
    )
    .await?;
    let mut ids = seed.ids;
    ids.sort();
    let reader = Api::with_token(&setup.base(n - 1), &token(&pairs[0].mentee)?)?;
    let cursors: Vec<_> = history::cursors(&ids, args.pages, 1)?
        .into_iter()
        .map(Some)
        .collect();
    let pages = history::sample(&reader, pairs[0].conv, &cursors).await?;
    for fleet in &mut fleets {
        fleet.shutdown(Duration::from_secs(10)).await;
    }
    Ok(json!({
        "nodes": n,
        "c1_msg_per_s": (c1.msg_per_s() * 10.0).round() / 10.0,
        "c16_msg_per_s": (c16.msg_per_s() * 10.0).round() / 10.0,
        "send_receive_same_node_ms": same,
        "send_receive_cross_node_ms": cross,
        "history_page_ms": summarize_ms(&pages.client_ms),
        "history_page_size": PAGE,
        "idle_sockets": args.idle,
    }))
}

/// Kills one node under load. Receivers on it reconnect to the next node
/// with their cursor; every acknowledged message must reach its receiver
/// exactly once.
async fn crash(args: &NodesArgs, setup: &mut Setup) -> Result<Value> {
    let n = setup.servers.len();
    if n < 2 {
        bail!("the crash phase needs two nodes at least");
    }
    let sfx = format!("{}k", setup.name);
    let mut pairs = Vec::with_capacity(WIDE);
    for k in 0..WIDE {
        pairs.push(pair(&setup.base(0), &format!("{sfx}{k}")).await?);
    }
    // Each receiver reads on node 1 (the one to die) and counts bodies.
    let mut readers = tokio::task::JoinSet::new();
    let (victim, rescue) = (setup.addr(1), setup.addr(2 % n));
    for (k, p) in pairs.iter().enumerate() {
        let tok = token(&p.mentor)?;
        readers.spawn(async move { read_all(k, victim, rescue, tok).await });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let targets = pairs
        .iter()
        .map(|p| {
            Ok(Target {
                api: Api::with_token(&setup.base(0), &token(&p.mentee)?)?,
                conv: p.conv,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let tag = format!("crash-{sfx}");
    let sending = tokio::spawn({
        let tag = tag.clone();
        let sends = args.crash_sends;
        async move { load::run(targets, sends, &tag, BODY, false, "crash load").await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = setup.servers.remove(1).kill9().await;
    eprintln!("bench: killed node 1 under load ({killed})");
    let sent = sending.await.context("the load task failed")??;
    // Everything acknowledged was committed: a last marker per receiver ends its read.
    for (k, p) in pairs.iter().enumerate() {
        Api::with_token(&setup.base(0), &token(&p.mentee)?)?
            .send(p.conv, format!("{tag}-end-{k}"), false)
            .await?;
    }
    let mut received: HashMap<String, usize> = HashMap::new();
    while let Some(r) = readers.join_next().await {
        for body in r.context("a reader failed")?? {
            *received.entry(body).or_default() += 1;
        }
    }
    let ok_bodies: Vec<&String> = received
        .keys()
        .filter(|b| b.starts_with(&tag) && !b.contains("-end-"))
        .collect();
    let duplicated = received.values().filter(|&&c| c > 1).count();
    let lost = sent.samples.len().saturating_sub(ok_bodies.len());
    Ok(json!({
        "acknowledged": sent.samples.len(),
        "received": ok_bodies.len(),
        "lost": lost,
        "duplicated": duplicated,
    }))
}

/// Reads message bodies on `first` until it is cut off, then on `then`
/// from the last seq seen, until the `-end-{k}` marker arrives.
async fn read_all(
    k: usize,
    first: std::net::SocketAddr,
    then: std::net::SocketAddr,
    token: String,
) -> Result<Vec<String>> {
    let mut bodies = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut addr = first;
    let end = format!("-end-{k}");
    loop {
        // Every frame counts, the replay before `ready` included.
        let mut ws = match live_ws::upgrade(addr, &token, cursor).await {
            Ok(ws) => ws,
            Err(_) if addr == first => {
                addr = then;
                continue;
            }
            Err(e) => return Err(e),
        };
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if let Some(seq) = v["seq"].as_i64() {
                        cursor = Some(seq);
                    }
                    if cursor.is_none() {
                        cursor = live_ws::ready_seq(t.as_str());
                    }
                    if v["type"] == "message_new"
                        && let Some(body) = v["data"]["message"]["body"].as_str()
                    {
                        if body.ends_with(&end) {
                            return Ok(bodies);
                        }
                        bodies.push(body.to_string());
                    }
                }
                Ok(Some(Ok(_))) => {}
                // Cut off (the node died): resume elsewhere from the cursor.
                Ok(Some(Err(_)) | None) => {
                    addr = then;
                    break;
                }
                Err(_) => bail!("reader {k}: nothing for 30 s"),
            }
        }
    }
}

pub async fn main(args: NodesArgs) -> Result<()> {
    if args.nodes < 2 {
        bail!("--nodes must be 2 or more (one node is measured anyway)");
    }
    let pid = std::process::id();
    let mut report = serde_json::Map::new();
    let sqlite = start(&args, "sqlite1", 1, None).await?;
    report.insert("sqlite_1".into(), measure(&args, &sqlite).await?);
    drop(sqlite);
    let url = create_database(&args.postgres, &format!("mchat_bench_{pid}_1")).await?;
    let pg1 = start(&args, "pg1", 1, Some(url)).await?;
    report.insert("postgres_1".into(), measure(&args, &pg1).await?);
    drop(pg1);
    let url = create_database(&args.postgres, &format!("mchat_bench_{pid}_n")).await?;
    let mut pgn = start(&args, "pgn", args.nodes, Some(url)).await?;
    report.insert(format!("postgres_{}", args.nodes), measure(&args, &pgn).await?);
    report.insert("kill_one_node".into(), crash(&args, &mut pgn).await?);
    let report = Value::Object(report);
    let table = table(&report);
    if args.json {
        eprintln!("{table}");
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{table}");
    }
    Ok(())
}

fn table(r: &Value) -> String {
    let cell = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_f64)
            .map_or("-".into(), |x| format!("{x:.2}"))
    };
    let mut out = String::from(
        "setup         c1 msg/s  c16 msg/s  same p50/p99 ms  cross p50/p99 ms  history p50/p99 ms\n",
    );
    for (name, v) in r.as_object().into_iter().flatten() {
        if name == "kill_one_node" {
            continue;
        }
        let pair = |k: &str| format!("{} / {}", cell(&v[k], "p50"), cell(&v[k], "p99"));
        out.push_str(&format!(
            "{name:<13} {:>8}  {:>9}  {:>15}  {:>16}  {:>18}\n",
            cell(v, "c1_msg_per_s"),
            cell(v, "c16_msg_per_s"),
            pair("send_receive_same_node_ms"),
            pair("send_receive_cross_node_ms"),
            pair("history_page_ms"),
        ));
    }
    if let Some(k) = r.get("kill_one_node") {
        out.push_str(&format!("kill -9 of one node under load: {k}\n"));
    }
    out
}
