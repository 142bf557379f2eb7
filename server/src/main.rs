//! The `mchatd` binary: serve, admin commands, backup.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mchat_shared::api::Role;
use mchatd::metrics::Metrics;
use mchatd::{admin, config::Config, server};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// mimalloc returns freed memory to the OS: with the system allocator, the
/// ~19 MiB each argon2id hash uses stayed resident after registrations
/// (hundreds of MiB after a few dozen), because glibc raises its mmap
/// threshold and then keeps large freed blocks in its heap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "mchatd", version, about = "The mentorchat server")]
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("mchatd=info,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
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
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    if let Some(bind) = cli.bind {
        config.server.bind = bind;
    }
    if let Some(dir) = cli.data_dir {
        config.server.data_dir = Some(dir);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Backup { path } => admin::backup(&config, path).await,
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
    tracing::info!(%addr, data_dir = %data_dir.display(), "mchatd listening");
    // One machine-readable line on stdout: tests and scripts read the port from it.
    println!("mchatd listening on http://{addr}");
    let _ = std::io::stdout().flush();
    server::serve_with(state, listener, metrics_listener, server::shutdown_signal()).await
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
