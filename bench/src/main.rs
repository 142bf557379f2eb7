//! `mchat-bench`: benchmarks for `mchatd` that drive a real server over HTTP.
//!
//! `mchat-bench core` starts a fresh `mchatd` on loopback, measures send
//! throughput and history paging, and reports figures next to the server's
//! CPU and memory (see `core` for the scenario). `mchat-bench live` measures
//! WebSocket delivery latency and idle sockets held (see `live`), and
//! `mchat-bench cli` the wall time of whole `mchat` processes (see `cli`).
//! `mchat-bench load` and `mchat-bench crash` are reliability tests rather
//! than benchmarks: no message lost or duplicated under load (see
//! `load_test`), and none lost or duplicated across kill -9 (see `crash`).
//! `mchat-bench burst` offers 10x the sustainable rate: bounded queues
//! answer 503 instead of growing (see `burst`).

mod api;
mod args;
mod burst;
mod cli;
mod core;
mod crash;
mod crash_check;
mod files;
mod history;
mod live;
mod live_report;
mod live_ws;
mod load;
mod load_test;
mod load_test_burst;
mod load_test_check;
mod load_test_client;
mod load_test_ws;
mod meta;
mod nodes;
mod procstat;
mod report;
mod scrape;
mod search;
mod seed;
mod server;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "mchat-bench",
    version,
    about = "Benchmarks for mchatd (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send throughput (c1, c16, c16_multi) and history paging against a fresh mchatd.
    Core(args::CoreArgs),
    /// WebSocket send->receive latency (one pair, then with idle sockets) and idle sockets held with RSS per socket.
    Live(args::LiveArgs),
    /// Wall time of whole `mchat` processes: send, and inbox with 500 conversations.
    Cli(cli::CliArgs),
    /// Load test: N users x M messages, half online (WebSocket), half catching up by sync: nothing lost,
    /// duplicated or reordered, unread counts right, no 5xx; then a burst above the rate limit gets 429s.
    Load(load_test::LoadArgs),
    /// Crash test: kill -9 the server at random moments during sends, restart on the same data dir,
    /// resend the outbox: every acknowledged message present, integrity_check ok, no duplicates.
    Crash(crash::CrashArgs),
    /// Fill a data dir fast: 1,000,000 messages across 10,000 conversations (see `seed`).
    Seed(seed::SeedArgs),
    /// Search and history-page latency on a seeded data dir (see `search`).
    Search(search::SearchArgs),
    /// Attachments: upload and download throughput of a 100 MiB file, with the server's RSS (see `files`).
    Files(files::FilesArgs),
    /// Several nodes on PostgreSQL beside SQLite on one: sends/s, same- and cross-node latency, history,
    /// idle sockets spread over the nodes; then kill -9 of one node under load (see `nodes`).
    Nodes(nodes::NodesArgs),
    /// Overload: 10x the sustainable send rate for a while: accepted/s, 503s, p99 of the accepted, RSS (see `burst`).
    Burst(burst::BurstArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Core(args) => run_core(args).await,
        Command::Live(args) => live::main(args).await,
        Command::Cli(args) => run_cli(args).await,
        Command::Load(args) => load_test::main(args).await,
        Command::Crash(args) => crash::main(args).await,
        Command::Seed(args) => seed::main(args).await,
        Command::Search(args) => search::main(args).await,
        Command::Files(args) => files::main(args).await,
        Command::Burst(args) => burst::main(args).await,
        Command::Nodes(args) => nodes::main(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mchat-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_core(args: args::CoreArgs) -> Result<()> {
    let started = Instant::now();
    args.validate()?;
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => server::default_bin()?,
    };
    let launch = server::Launch {
        bin,
        extra_env: args.extra_env()?,
        ready_timeout: Duration::from_secs(30),
    };
    eprintln!("bench: starting {}", launch.bin.display());
    let srv = server::Server::start(&launch).await?;
    eprintln!(
        "bench: mchatd pid {} on http://{} (ready after {:.2} s)",
        srv.pid(),
        srv.addr,
        srv.startup_s
    );
    let outcome = server::bounded(args.deadline_secs, core::run(&srv, &args)).await;
    if outcome.is_err() {
        eprintln!("bench: server log tail:\n{}", srv.log_tail(20));
    }
    let stopped = srv.stop(Duration::from_secs(20)).await;
    eprintln!("bench: mchatd {stopped}");
    let mut report = outcome?;
    if let Some(o) = report.as_object_mut() {
        o.insert("server_stop".into(), stopped.into());
        let wall = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        o.insert("bench_wall_s".into(), wall.into());
    }
    if args.json {
        report::table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report::table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}

async fn run_cli(args: cli::CliArgs) -> Result<()> {
    let json = args.json;
    let report = cli::run(args).await?;
    if json {
        cli::table(&mut std::io::stderr(), &report)?;
        println!("{}", serde_json::to_string(&report)?);
    } else {
        cli::table(&mut std::io::stdout(), &report)?;
    }
    Ok(())
}
