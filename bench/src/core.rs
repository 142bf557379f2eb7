//! The `core` scenario: setup over HTTP, send throughput (c1, c16 into one
//! conversation, c16_multi into 16), then history paging over a large seeded
//! conversation. Produces one JSON document (field names follow the Synapse
//! peer bench where the figure is the same).

use crate::api::Api;
use crate::args::CoreArgs;
use crate::history::{self, PAGE};
use crate::load::{self, Target};
use crate::procstat::{self, Meter, PhaseCost};
use crate::scrape::{self, DbCounters, DbPhase};
use crate::server::Server;
use crate::stats::{mean_by_tenth, summarize_ms};
use anyhow::{Context, Result};
use mchat_shared::ConversationId;
use mchat_shared::api::Role;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::task::JoinSet;

/// Targets printed beside the figures (not asserted).
pub const TARGET_C16_MSG_PER_S: f64 = 5000.0;
pub const TARGET_HISTORY_P99_MS: f64 = 2.0;
/// Concurrency of c16, c16_multi and history seeding.
pub const WIDE: usize = 16;
/// Body sizes in bytes: short like the peer bench for throughput, a chat line for history.
pub const TP_BODY: usize = 24;
pub const HISTORY_BODY: usize = 100;

/// A mentee/mentor pair with an accepted conversation.
pub struct Pair {
    pub mentee: Api,
    pub mentor: Api,
    pub conv: ConversationId,
}

/// Registers `mr-NAME` and `me-NAME` and opens their conversation.
pub async fn make_pair(base: &str, name: &str) -> Result<Pair> {
    let mut mentor = Api::new(base)?;
    mentor.register(&format!("mr-{name}"), Role::Mentor).await?;
    let mut mentee = Api::new(base)?;
    mentee.register(&format!("me-{name}"), Role::Mentee).await?;
    let conv = mentee
        .request_conversation(&format!("mr-{name}"), "hello, benchmark here")
        .await?;
    mentor.accept(conv).await?;
    Ok(Pair { mentee, mentor, conv })
}

/// A fresh client (own connection) for the same user.
fn clone_client(base: &str, api: &Api) -> Result<Api> {
    let token = api.token().context("client has no token")?;
    Api::with_token(base, token)
}

/// Phase bookkeeping: /proc cost plus the server's /metrics deltas.
struct Phases {
    meter: Meter,
    anon: Api,
    db: BTreeMap<String, DbPhase>,
}

struct Open {
    phase: procstat::Phase,
    name: String,
    db0: Option<DbCounters>,
}

impl Phases {
    async fn scrape(&self) -> Option<DbCounters> {
        self.anon.metrics().await.ok().map(|t| scrape::parse(&t))
    }
    async fn begin(&self, name: &str) -> Open {
        eprintln!("bench: {name} ...");
        let db0 = self.scrape().await;
        Open {
            phase: self.meter.begin(name),
            name: name.to_owned(),
            db0,
        }
    }
    async fn end(&mut self, open: Open) -> PhaseCost {
        let cost = self.meter.end(open.phase);
        if let (Some(a), Some(b)) = (open.db0, self.scrape().await) {
            self.db.insert(open.name, scrape::delta(&a, &b));
        }
        cost
    }
}

fn throughput_json(out: &load::Outcome, concurrency: usize, conversations: usize, cost: &PhaseCost) -> Value {
    let client: Vec<f64> = out.samples.iter().map(|s| s.client_ms).collect();
    let server: Vec<f64> = out.samples.iter().filter_map(|s| s.server_ms).collect();
    let n = out.samples.len();
    let per_msg = cost
        .server_cpu_s
        .map(|c| (c * 1000.0 / n.max(1) as f64 * 1000.0).round() / 1000.0);
    json!({
        "concurrency": concurrency,
        "conversations": conversations,
        "messages": n,
        "secs": (out.secs * 1000.0).round() / 1000.0,
        "msg_per_s": (out.msg_per_s() * 10.0).round() / 10.0,
        "send_ms": summarize_ms(&client),
        "server_ms": summarize_ms(&server),
        "send_ms_mean_by_tenth": mean_by_tenth(&client),
        "server_cpu_s": cost.server_cpu_s,
        "server_sys_s": cost.server_sys_s,
        "server_cpu_ms_per_msg": per_msg,
        "client_cpu_s": cost.client_cpu_s,
        "host_busy_pct": cost.host_busy_pct,
        "host_other_cpu_s": cost.host_other_cpu_s,
    })
}

fn pages_json(p: &history::Pages) -> Value {
    json!({
        "client_ms": summarize_ms(&p.client_ms),
        "server_ms": summarize_ms(&p.server_ms),
        "events_per_page": p.events_per_page,
    })
}

/// Runs the scenario against a started server; returns the report (without
/// the fields only known after the server stops).
pub async fn run(srv: &Server, args: &CoreArgs) -> Result<Value> {
    let base = srv.base_url();
    let mut ph = Phases {
        meter: Meter::new(srv.pid()),
        anon: Api::new(&base)?,
        db: BTreeMap::new(),
    };
    let health = ph.anon.healthz().await.context("GET /healthz failed")?;
    tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
    let mem_startup = procstat::mem(ph.meter.pid());
    let cpu_ref_before = tokio::task::spawn_blocking(procstat::cpu_ref_ms).await?;
    let sfx = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut result = serde_json::Map::new();

    // Setup: one pair, one accepted conversation.
    let p = ph.begin("setup").await;
    let main = make_pair(&base, &format!("{sfx}-0")).await.context("setup")?;
    ph.end(p).await;

    if args.warmup > 0 {
        eprintln!("bench: warmup ({} sends, unrecorded) ...", args.warmup);
        let t = vec![Target {
            api: clone_client(&base, &main.mentee)?,
            conv: main.conv,
        }];
        load::run(t, args.warmup, &format!("wu-{sfx}"), TP_BODY, false, "warmup").await?;
    }

    // Throughput into the one conversation: c1 then c16 (one client per worker).
    let mut tp = serde_json::Map::new();
    for conc in [1, WIDE] {
        let name = format!("c{conc}");
        let targets = (0..conc)
            .map(|_| {
                Ok(Target {
                    api: clone_client(&base, &main.mentee)?,
                    conv: main.conv,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let p = ph.begin(&format!("throughput_{name}")).await;
        let out = load::run(
            targets,
            args.sends,
            &format!("tp-{name}-{sfx}"),
            TP_BODY,
            false,
            &name,
        )
        .await?;
        let cost = ph.end(p).await;
        eprintln!("bench: {name}: {:.0} msg/s", out.msg_per_s());
        tp.insert(name, throughput_json(&out, conc, 1, &cost));
    }

    // c16_multi: 16 pairs, each worker in its own conversation.
    let p = ph.begin("setup_multi").await;
    let mut set = JoinSet::new();
    for k in 0..WIDE {
        let (base, name) = (base.clone(), format!("{sfx}-m{k}"));
        set.spawn(async move { make_pair(&base, &name).await });
    }
    let mut pairs = Vec::with_capacity(WIDE);
    while let Some(r) = set.join_next().await {
        pairs.push(r.context("setup task failed")?.context("setup_multi")?);
    }
    ph.end(p).await;
    let targets = pairs
        .iter()
        .map(|pr| {
            Ok(Target {
                api: clone_client(&base, &pr.mentee)?,
                conv: pr.conv,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let p = ph.begin("throughput_c16_multi").await;
    let out = load::run(
        targets,
        args.sends,
        &format!("tp-multi-{sfx}"),
        TP_BODY,
        false,
        "c16_multi",
    )
    .await?;
    let cost = ph.end(p).await;
    eprintln!("bench: c16_multi: {:.0} msg/s", out.msg_per_s());
    tp.insert("c16_multi".into(), throughput_json(&out, WIDE, WIDE, &cost));
    result.insert("throughput".into(), Value::Object(tp));

    // History: seed a separate conversation, both participants writing.
    let hist = make_pair(&base, &format!("{sfx}-h"))
        .await
        .context("history setup")?;
    let setup_page = hist.mentee.page(hist.conv, None, 100).await?.1;
    let targets = (0..WIDE)
        .map(|w| {
            let who = if w % 2 == 0 { &hist.mentee } else { &hist.mentor };
            Ok(Target {
                api: clone_client(&base, who)?,
                conv: hist.conv,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let p = ph.begin("history_seed").await;
    let seed = load::run(
        targets,
        args.history_messages,
        &format!("hist-{sfx}"),
        HISTORY_BODY,
        true,
        "history seed",
    )
    .await?;
    let cost = ph.end(p).await;
    eprintln!("bench: history seed: {:.0} msg/s", seed.msg_per_s());
    let mut seed_json = throughput_json(&seed, WIDE, 1, &cost);
    if let Some(o) = seed_json.as_object_mut() {
        o.insert("body_bytes".into(), json!(HISTORY_BODY));
    }
    let mut ids = seed.ids;
    ids.sort();

    let reader = clone_client(&base, &hist.mentee)?;
    let newest: Vec<_> = vec![None; args.history_samples];
    let p = ph.begin("history_newest").await;
    let pages_newest = history::sample(&reader, hist.conv, &newest).await?;
    ph.end(p).await;
    let random: Vec<_> = history::cursors(&ids, args.history_samples, args.seed)?
        .into_iter()
        .map(Some)
        .collect();
    let p = ph.begin("history_random").await;
    let pages_random = history::sample(&reader, hist.conv, &random).await?;
    ph.end(p).await;

    let newest_json = pages_json(&pages_newest);
    let random_json = pages_json(&pages_random);
    let mut history_ms = json!(summarize_ms(&pages_newest.client_ms));
    if let Some(o) = history_ms.as_object_mut() {
        o.insert("events_per_page".into(), json!(pages_newest.events_per_page));
    }
    result.insert("history_seed".into(), seed_json);
    result.insert("history_ms".into(), history_ms);
    result.insert(
        "history".into(),
        json!({
            "conversation_messages": ids.len() + setup_page.messages.len(),
            "page_limit": PAGE,
            "cursor_seed": args.seed,
            "newest": newest_json,
            "random_before": random_json,
        }),
    );

    tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
    let mem_after = procstat::mem(ph.meter.pid());
    let cpu_ref_after = tokio::task::spawn_blocking(procstat::cpu_ref_ms).await?;

    let c16 = result
        .get("throughput")
        .and_then(|t| t["c16"]["msg_per_s"].as_f64());
    let p99 = |which: &Value, side: &str| which[side]["p99"].as_f64();
    let newest_p99 = p99(&result["history"]["newest"], "client_ms");
    let random_p99 = p99(&result["history"]["random_before"], "client_ms");
    let targets = json!({
        "c16_msg_per_s": {"target": format!(">= {TARGET_C16_MSG_PER_S}"), "value": c16,
            "met": c16.map(|v| v >= TARGET_C16_MSG_PER_S)},
        "history_newest_p99_ms": {"target": format!("<= {TARGET_HISTORY_P99_MS}"), "value": newest_p99,
            "server_value": p99(&result["history"]["newest"], "server_ms"),
            "met": newest_p99.map(|v| v <= TARGET_HISTORY_P99_MS)},
        "history_random_p99_ms": {"target": format!("<= {TARGET_HISTORY_P99_MS}"), "value": random_p99,
            "server_value": p99(&result["history"]["random_before"], "server_ms"),
            "met": random_p99.map(|v| v <= TARGET_HISTORY_P99_MS)},
        "note": "targets are reported, not asserted; 'value' is the client round trip",
    });

    let mut doc = crate::meta::meta(srv, args, &health.version)?;
    doc.insert("mem_startup".into(), json!(mem_startup));
    doc.insert("cpu_ref_ms_before".into(), json!(cpu_ref_before));
    doc.extend(result);
    doc.insert("targets".into(), targets);
    doc.insert("mem_after".into(), json!(mem_after));
    doc.insert("cpu_ref_ms_after".into(), json!(cpu_ref_after));
    doc.insert("server_cpu".into(), json!(ph.meter.phases));
    doc.insert("server_db".into(), json!(ph.db));
    doc.insert("db_mb".into(), json!(srv.db_mb()));
    Ok(Value::Object(doc))
}
