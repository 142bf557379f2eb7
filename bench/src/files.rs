//! `mchat-bench files`: attachment throughput (issue 6) — upload then
//! download a large file (100 MiB by default) several times through a fresh
//! `mchatd`, and watch the server's memory while the bytes flow: both
//! directions stream, so its RSS must stay flat (target: growth ≤ 20 MiB
//! over the RSS just before each transfer).
//!
//! The uploader (a mentee) streams pseudo-random bytes generated on the fly
//! (a different seed each round, so nothing is deduplicated) with a
//! `Content-Length`, attaches the file to a message, and the peer (a mentor)
//! downloads it, counting bytes. `/proc/PID/status` of the server is sampled
//! every 10 ms during each transfer. Figures: MiB/s each way (client wall
//! time, request to last byte) and RSS before / peak / after.

use crate::api::Api;
use crate::meta;
use crate::procstat;
use crate::report::{met, num};
use crate::server::{self, Launch, Server};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use futures_util::StreamExt;
use mchat_shared::api::{FileInfo, Message, Role};
use mchat_shared::{ConversationId, FileId};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The target: server RSS growth during a transfer, in MiB.
const RSS_GROWTH_TARGET_MB: f64 = 20.0;
/// Size of the generated upload chunks.
const CHUNK: usize = 256 * 1024;
/// How often the server's memory is sampled during a transfer.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    /// mchatd binary [default: mchatd next to this executable].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// File size in MiB.
    #[arg(long, default_value_t = 100)]
    pub size_mib: u64,
    /// Upload + download rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Overall deadline, in seconds.
    #[arg(long, default_value_t = 600)]
    pub deadline_secs: u64,
    /// Print exactly one JSON document on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub async fn main(args: FilesArgs) -> Result<()> {
    if args.size_mib == 0 || args.rounds == 0 {
        bail!("--size-mib and --rounds must be at least 1");
    }
    let bytes = args.size_mib * 1024 * 1024;
    let launch = Launch {
        bin: match &args.server_bin {
            Some(p) => p.clone(),
            None => server::default_bin()?,
        },
        extra_env: vec![("MCHATD_FILES__MAX_BYTES".into(), bytes.to_string())],
        ready_timeout: Duration::from_secs(30),
    };
    eprintln!("bench: starting {}", launch.bin.display());
    let srv = Server::start(&launch).await?;
    eprintln!("bench: mchatd pid {} on {}", srv.pid(), srv.base_url());
    let outcome = crate::server::bounded(args.deadline_secs, run(&srv, &args, bytes)).await;
    if outcome.is_err() {
        eprintln!("bench: server log tail:\n{}", srv.log_tail(20));
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("bench: mchatd {stopped}");
    let mut report = outcome?;
    if let Some(o) = report.as_object_mut() {
        o.insert("server_stop".into(), stopped.into());
    }
    if args.json {
        table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}

/// Memory of the server over one transfer, in MiB.
#[derive(Debug, Clone, Copy)]
struct Rss {
    before: f64,
    peak: f64,
    after: f64,
}

impl Rss {
    fn json(&self) -> Value {
        json!({
            "before_mb": self.before,
            "peak_mb": self.peak,
            "after_mb": self.after,
            "growth_mb": ((self.peak - self.before) * 10.0).round() / 10.0,
        })
    }
}

/// Runs `transfer` while sampling the server's RSS.
async fn watched<T>(pid: u32, transfer: impl Future<Output = Result<T>>) -> Result<(T, Rss)> {
    let rss = move || procstat::mem(pid).rss_mb.unwrap_or(0.0);
    let before = rss();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = before;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss());
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            peak
        })
    };
    let result = transfer.await;
    done.store(true, Ordering::Relaxed);
    let after = rss();
    let peak = sampler.await.unwrap_or(before).max(after);
    Ok((result?, Rss { before, peak, after }))
}

/// `len` pseudo-random bytes (xorshift64 from `seed`), in chunks.
fn generated(len: u64, seed: u64) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    let state = (len, seed | 1);
    futures_util::stream::unfold(state, |(left, mut x)| async move {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let mut chunk = Vec::with_capacity(n + 8);
        while chunk.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.extend_from_slice(&x.to_le_bytes());
        }
        chunk.truncate(n);
        Some((Ok(chunk), (left - n as u64, x)))
    })
}

struct Peers {
    http: reqwest::Client,
    base: String,
    uploader: String,
    downloader: String,
    conversation: ConversationId,
}

async fn setup(srv: &Server) -> Result<Peers> {
    let base = srv.base_url();
    let mut mentor = Api::new(&base)?;
    mentor.register("bench-mentor", Role::Mentor).await?;
    let mut mentee = Api::new(&base)?;
    mentee.register("bench-mentee", Role::Mentee).await?;
    let conversation = mentee
        .request_conversation("bench-mentor", "files benchmark")
        .await?;
    mentor.accept(conversation).await?;
    let http = crate::api::http_client_builder()?
        .no_proxy()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("cannot build the HTTP client")?;
    let token = |a: &Api| a.token().map(str::to_owned).ok_or_else(|| anyhow!("no token"));
    Ok(Peers {
        http,
        uploader: token(&mentee)?,
        downloader: token(&mentor)?,
        base,
        conversation,
    })
}

async fn upload(p: &Peers, bytes: u64, seed: u64) -> Result<FileInfo> {
    let resp = p
        .http
        .post(format!("{}/v1/files", p.base))
        .query(&[("name", format!("bench-{seed}.bin"))])
        .bearer_auth(&p.uploader)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::CONTENT_LENGTH, bytes)
        .body(reqwest::Body::wrap_stream(generated(bytes, seed)))
        .send()
        .await
        .context("upload: request failed")?;
    let status = resp.status();
    let body = resp.bytes().await.context("upload: reading the answer")?;
    if status != reqwest::StatusCode::CREATED {
        bail!("upload: {status}: {}", String::from_utf8_lossy(&body));
    }
    let info: FileInfo = serde_json::from_slice(&body).context("upload: bad JSON")?;
    if info.size != bytes {
        bail!("upload: the server stored {} bytes of {bytes}", info.size);
    }
    Ok(info)
}

async fn attach(p: &Peers, file: FileId) -> Result<Message> {
    let resp = p
        .http
        .post(format!("{}/v1/conversations/{}/messages", p.base, p.conversation))
        .bearer_auth(&p.uploader)
        .json(&json!({"client_id": uuid::Uuid::new_v4().to_string(), "body": "", "file": file}))
        .send()
        .await
        .context("attach: request failed")?;
    let status = resp.status();
    let body = resp.bytes().await.context("attach: reading the answer")?;
    if status != reqwest::StatusCode::CREATED {
        bail!("attach: {status}: {}", String::from_utf8_lossy(&body));
    }
    serde_json::from_slice(&body).context("attach: bad JSON")
}

async fn download(p: &Peers, file: FileId) -> Result<u64> {
    let resp = p
        .http
        .get(format!("{}/v1/files/{file}", p.base))
        .bearer_auth(&p.downloader)
        .send()
        .await
        .context("download: request failed")?;
    if !resp.status().is_success() {
        bail!("download: {}", resp.status());
    }
    let mut got = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        got += chunk.context("download: the body was cut off")?.len() as u64;
    }
    Ok(got)
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    ((bytes as f64 / MIB / secs.max(1e-9)) * 10.0).round() / 10.0
}

async fn run(srv: &Server, args: &FilesArgs, bytes: u64) -> Result<Value> {
    let peers = setup(srv).await?;
    let pid = srv.pid();
    let startup = procstat::mem(pid);
    let mut rounds = Vec::new();
    let mut worst_growth: f64 = 0.0;
    for round in 0..args.rounds {
        let seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(round as u64 + 1);
        let t0 = Instant::now();
        let (info, up_rss) = watched(pid, upload(&peers, bytes, seed)).await?;
        let up_s = t0.elapsed().as_secs_f64();
        let message = attach(&peers, info.id).await?;
        if message.attachment.as_ref().map(|a| a.id) != Some(info.id) {
            bail!("attach: message {} does not carry file {}", message.id, info.id);
        }
        let t0 = Instant::now();
        let (got, down_rss) = watched(pid, download(&peers, info.id)).await?;
        let down_s = t0.elapsed().as_secs_f64();
        if got != bytes {
            bail!("download: {got} bytes of {bytes}");
        }
        worst_growth = worst_growth
            .max(up_rss.peak - up_rss.before)
            .max(down_rss.peak - down_rss.before);
        eprintln!(
            "bench: round {}: up {:.1} MiB/s, down {:.1} MiB/s",
            round + 1,
            mib_per_s(bytes, up_s),
            mib_per_s(bytes, down_s)
        );
        rounds.push(json!({
            "round": round + 1,
            "upload_s": (up_s * 1000.0).round() / 1000.0,
            "upload_mib_s": mib_per_s(bytes, up_s),
            "upload_rss": up_rss.json(),
            "download_s": (down_s * 1000.0).round() / 1000.0,
            "download_mib_s": mib_per_s(bytes, down_s),
            "download_rss": down_rss.json(),
            "sha256": info.sha256,
        }));
    }
    let machine = meta::machine();
    let end = procstat::mem(pid);
    Ok(json!({
        "benchmark": "files",
        "cpus": machine.cpus,
        "cpu_model": machine.cpu_model,
        "kernel": machine.kernel,
        "file_mib": args.size_mib,
        "rounds": rounds,
        "rss_startup_mb": startup.rss_mb,
        "rss_end_mb": end.rss_mb,
        "rss_hwm_mb": end.hwm_mb,
        "worst_rss_growth_mb": (worst_growth * 10.0).round() / 10.0,
        "rss_growth_target_mb": RSS_GROWTH_TARGET_MB,
        "rss_growth_target_met": worst_growth <= RSS_GROWTH_TARGET_MB,
    }))
}

/// The human table, rendered from the JSON report.
fn table(w: &mut dyn Write, r: &Value) -> std::io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "mchatd files benchmark: {} MiB file, {} CPUs ({}), kernel {}",
        r["file_mib"],
        r["cpus"],
        r["cpu_model"].as_str().unwrap_or("?"),
        r["kernel"].as_str().unwrap_or("?"),
    )?;
    writeln!(
        w,
        "server RSS: {} MB at start, {} MB at the end, lifetime peak (VmHWM) {} MB",
        num(&r["rss_startup_mb"], 1),
        num(&r["rss_end_mb"], 1),
        num(&r["rss_hwm_mb"], 1),
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<6} {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8}",
        "round", "up MiB/s", "rss pre", "peak", "after", "dn MiB/s", "rss pre", "peak", "after"
    )?;
    for row in r["rounds"].as_array().into_iter().flatten() {
        let up = &row["upload_rss"];
        let down = &row["download_rss"];
        writeln!(
            w,
            "{:<6} {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8}",
            row["round"],
            num(&row["upload_mib_s"], 1),
            num(&up["before_mb"], 1),
            num(&up["peak_mb"], 1),
            num(&up["after_mb"], 1),
            num(&row["download_mib_s"], 1),
            num(&down["before_mb"], 1),
            num(&down["peak_mb"], 1),
            num(&down["after_mb"], 1),
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "worst RSS growth during a transfer: {} MB (target <= {} MB): {}",
        num(&r["worst_rss_growth_mb"], 1),
        num(&r["rss_growth_target_mb"], 0),
        met(&r["rss_growth_target_met"]),
    )?;
    if let Some(stop) = r["server_stop"].as_str() {
        writeln!(w, "mchatd {stop}")?;
    }
    writeln!(w)?;
    Ok(())
}
