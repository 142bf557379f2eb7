//! The `mchatd` binary: serve, admin commands, backup.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mchat_shared::api::Role;
use mchatd::config::{Config, LogConfig, LogFormat};
use mchatd::metrics::Metrics;
use mchatd::{admin, server};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// mimalloc returns freed memory to the OS: with the system allocator, the
/// ~19 MiB each argon2id hash uses stayed resident after registrations
/// (hundreds of MiB after a few dozen), because glibc raises its mmap
/// threshold and then keeps large freed blocks in its heap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mchatd --version`: the package version, the git commit and the build
/// date (recorded by `build.rs`).
const VERSION: &str = env!("MCHAT_LONG_VERSION");

#[derive(Parser)]
#[command(name = "mchatd", version = VERSION, about = "The mentorchat server")]
struct Cli {
    /// Config file (TOML); see config.example.toml.
    #[arg(long, global = true, env = "MCHATD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (port 0: any free port).
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Directory for the database.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Administer users and announcements.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write a consistent copy of the database to PATH (safe while serving).
    Backup { path: PathBuf },
    /// Write the man pages (mchatd.1, mchatd-SUBCOMMAND.1) into DIR.
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user (admins can only be made this way). Mentors made here are approved.
    CreateUser {
        username: String,
        #[arg(long, default_value = "mentee", value_parser = ["mentor", "mentee", "admin"])]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Approve a mentor so mentees can find and request them.
    ApproveMentor { username: String },
    /// Send an announcement notification to every user.
    Announce { message: String },
    /// Set a new password and revoke all of the user's tokens.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a new invite code (for registration mode "invite").
    Invite {
        #[arg(long, default_value_t = 1)]
        uses: u32,
    },
}

/// Logs on stderr: coloured only on a terminal (and without `NO_COLOR`),
/// so a journal or a file gets plain lines; `[log] format = "json"` writes
/// one object per line for collectors, access lines included (in text
/// they stay off unless `RUST_LOG` asks for `mchatd::access`).
fn init_tracing(log: &LogConfig) {
    use std::io::IsTerminal;
    let default = match log.format {
        LogFormat::Text => "mchatd=info,mchatd::access=off,tower_http=warn",
        LogFormat::Json => "mchatd=info,tower_http=warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color);
    match log.format {
        LogFormat::Text => builder.init(),
        // Event fields at the top level; the request span (request id,
        // method, route) beside them for events inside a request.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Writes `mchatd.1` and one page per (visible) subcommand into `dir`.
fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mchatd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Man { dir }) = &cli.command {
        return write_man_pages(dir);
    }
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    init_tracing(&config.log);
    if let Some(bind) = cli.bind {
        config.server.bind = bind;
    }
    if let Some(dir) = cli.data_dir {
        config.server.data_dir = Some(dir);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Backup { path } => admin::backup(&config, path).await,
        Command::Man { .. } => Ok(()),
        Command::Admin { command } => match command {
            AdminCommand::CreateUser {
                username,
                role,
                display_name,
                password_stdin,
            } => {
                let role = Role::parse(&role).unwrap_or(Role::Mentee);
                admin::create_user(&config, &username, role, display_name, password_stdin).await
            }
            AdminCommand::ApproveMentor { username } => admin::approve_mentor(&config, &username).await,
            AdminCommand::Announce { message } => admin::announce(&config, &message).await,
            AdminCommand::ResetPassword {
                username,
                password_stdin,
            } => admin::reset_password(&config, &username, password_stdin).await,
            AdminCommand::Invite { uses } => admin::invite(&config, uses).await,
        },
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = Metrics::install().context("cannot install the metrics recorder")?;
    metrics.spawn_upkeep();
    let bind = config.server.bind;
    let metrics_bind = config.metrics.bind;
    let data_dir = config.data_dir();
    // Read once, before anything listens: a missing or bad certificate is
    // one sentence at start, not a failure on every handshake.
    let tls = mchatd::listen::tls_acceptor(&config.server)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = server::build_state(config, Some(metrics)).await?;
    let listener = listen(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let metrics_listener = match metrics_bind {
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} for [metrics] bind"))?;
            let at = l.local_addr()?;
            tracing::info!(addr = %at, "metrics listening");
            // Before the line below: whoever reads that one has seen this.
            println!("mchatd metrics on http://{at}");
            Some(l)
        }
        None => None,
    };
    // Before the address goes out: from then on, SIGTERM is a clean stop.
    let shutdown = server::shutdown_signal();
    tracing::info!(%addr, data_dir = %data_dir.display(), scheme, "mchatd listening");
    // One machine-readable line on stdout: tests and scripts read the port from it.
    println!("mchatd listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    server::serve_with(state, listener, metrics_listener, tls, shutdown).await
}

/// Binds with a deep accept backlog: after a restart every client reconnects
/// at once, and tokio's default backlog (128) drops SYNs, which costs each
/// dropped client a one-second retransmit.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
