//! The rate-limit part of `mchat-bench load`: a second server with the
//! default send limit (`MCHATD_LIMITS__SEND_PER_SEC=10`, burst 30) gets a
//! burst of sends from one user, 16 at once. Every answer must be 201 or
//! 429, and every 429 must carry `Retry-After` (whole seconds ≥ 1) and the
//! `rate_limited` code. The refused sends are then resent with the same
//! `client_id` after the wait, until all are stored (bounded); the history
//! must then hold each exactly once.

use crate::load_test_client::{Http, StatusCounts};
use crate::server;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Sends in flight at once during the burst.
const WIDTH: usize = 16;
/// Resend rounds after the burst before giving up.
const MAX_RESEND_ROUNDS: usize = 60;

pub async fn run(bin: &Path, burst: usize) -> Result<Value> {
    let launch = server::Launch {
        bin: bin.to_path_buf(),
        extra_env: vec![("MCHATD_LIMITS__SEND_PER_SEC".into(), "10".into())],
        ready_timeout: Duration::from_secs(30),
    };
    let srv = server::Server::start(&launch).await?;
    let out = measure(&srv, burst).await;
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("load: burst mchatd {stopped}");
    out
}

async fn measure(srv: &server::Server, burst: usize) -> Result<Value> {
    let counts = Arc::new(StatusCounts::default());
    let http = Http::new(srv.addr, counts.clone())?;
    let mentor = http.register("burst-mentor", "mentor").await?;
    let mentee = http.register("burst-mentee", "mentee").await?;
    let conv = http
        .accepted_conversation(&mentee, "burst-mentor", &mentor)
        .await?;
    let token: Arc<str> = mentee.into();

    // The burst: `burst` sends, WIDTH at once, as fast as answers come.
    let t0 = Instant::now();
    let mut created = 0u64;
    let mut limited: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    let mut bad_retry_after = 0u64;
    let mut max_retry_after = 0u64;
    let mut pending: Vec<String> = (0..burst).map(|k| format!("burst-{k}")).collect();
    pending.reverse();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < WIDTH {
            let Some(cid) = pending.pop() else { break };
            let (http, token) = (http.clone(), token.clone());
            tasks.spawn(async move {
                let r = http.send(&token, conv, &cid, &format!("burst {cid}")).await;
                (cid, r)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (cid, r) = joined.context("a burst task panicked")?;
        match r {
            Ok(r) if r.status == 201 => created += 1,
            Ok(r) if r.status == 429 => {
                let secs = r.retry_after.as_deref().and_then(|s| s.parse::<u64>().ok());
                let code_ok = r.body["error"]["code"] == "rate_limited";
                match secs {
                    Some(s) if s >= 1 && code_ok => max_retry_after = max_retry_after.max(s),
                    _ => bad_retry_after += 1,
                }
                limited.push(cid);
            }
            Ok(r) => other.push(format!("{cid}: {} {}", r.status, r.body)),
            Err(e) => other.push(format!("{cid}: {e:#}")),
        }
    }
    let burst_s = t0.elapsed().as_secs_f64();

    // Resend what was refused, one at a time, honouring Retry-After.
    let t0 = Instant::now();
    let mut queue = limited.clone();
    let mut resend_rounds = 0;
    while !queue.is_empty() && resend_rounds < MAX_RESEND_ROUNDS {
        resend_rounds += 1;
        let mut still = Vec::new();
        let mut wait = 0u64;
        for cid in queue {
            match http.send(&token, conv, &cid, &format!("burst {cid}")).await {
                Ok(r) if matches!(r.status, 200 | 201) => {}
                Ok(r) if r.status == 429 => {
                    wait = wait.max(r.retry_after.and_then(|s| s.parse().ok()).unwrap_or(1));
                    still.push(cid);
                }
                Ok(r) => other.push(format!("resend {cid}: {} {}", r.status, r.body)),
                Err(e) => other.push(format!("resend {cid}: {e:#}")),
            }
        }
        queue = still;
        if !queue.is_empty() {
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
        }
    }
    let resend_s = t0.elapsed().as_secs_f64();

    // Every burst message is stored exactly once.
    let page = http
        .get(
            &format!("/v1/conversations/{conv}/messages?limit=100&after=0"),
            &token,
        )
        .await?;
    let mut stored: Vec<String> = Vec::new();
    let mut after = 0i64;
    let mut body = page.body;
    for _ in 0..1000 {
        let Some(msgs) = body["messages"].as_array() else {
            bail!("history: bad answer {body}");
        };
        for m in msgs {
            if let Some(c) = m["client_id"].as_str().filter(|c| c.starts_with("burst-")) {
                stored.push(c.to_owned());
            }
            after = after.max(m["id"].as_i64().unwrap_or(after));
        }
        if body["has_more"] != true {
            break;
        }
        body = http
            .get(
                &format!("/v1/conversations/{conv}/messages?limit=100&after={after}"),
                &token,
            )
            .await?
            .body;
    }
    let distinct: BTreeSet<&String> = stored.iter().collect();
    let ok = limited.len() as u64 > 0
        && bad_retry_after == 0
        && other.is_empty()
        && counts.server_errors() == 0
        && queue.is_empty()
        && stored.len() == burst
        && distinct.len() == burst;
    Ok(json!({
        "server_env": {"MCHATD_LIMITS__SEND_PER_SEC": "10", "send_burst": "default (30)"},
        "sends": burst, "concurrency": WIDTH, "secs": (burst_s * 100.0).round() / 100.0,
        "created_201": created, "limited_429": limited.len(),
        "bad_retry_after": bad_retry_after, "max_retry_after_s": max_retry_after,
        "other_answers": other.len(), "first_other": other.first(),
        "5xx": counts.server_errors(),
        "resend_rounds": resend_rounds, "resend_secs": (resend_s * 10.0).round() / 10.0,
        "stored_after_resend": stored.len(), "stored_distinct": distinct.len(),
        "ok": ok,
    }))
}
