//! The `mchat` command line: clap definitions and dispatch. Each command
//! lives in `commands/`, returns `anyhow::Result<()>`, and prints through
//! [`output::Out`]; [`exit::describe`] turns failures into an exit code and
//! one sentence on stderr (and, with `--json`, an error document on stdout).

pub mod commands;
mod complete;
mod context;
pub mod exit;
pub mod output;

use clap::{Args, CommandFactory, Parser, Subcommand};
use context::{Ctx, Globals};
use output::Out;
use std::path::PathBuf;
use std::process::ExitCode;

/// `mchat --version`: the package version, the git commit and the build
/// date (recorded by `build.rs`), so a bug report names the exact build.
const VERSION: &str = env!("MCHAT_LONG_VERSION");

#[derive(Parser)]
#[command(
    name = "mchat",
    version = VERSION,
    about = "mentorchat: chat with your mentor or mentees from the terminal"
)]
#[command(
    after_help = "Exit codes: 0 ok, 2 usage, 3 authentication, 4 not found / not allowed, \
5 rejected input, 75 server unreachable (message queued in the outbox), 1 anything else."
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct GlobalArgs {
    /// Server URL (default: the one you logged in to, else http://127.0.0.1:7878).
    #[arg(long, global = true, env = "MCHAT_SERVER")]
    server: Option<String>,
    /// Account profile, for several accounts side by side.
    #[arg(long, global = true, env = "MCHAT_PROFILE")]
    profile: Option<String>,
    /// Machine-readable output: exactly one JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Config file (default: the platform config dir's mchat/config.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// A private CA (PEM) to trust for https:// besides the platform's roots.
    #[arg(long, global = true, env = "MCHAT_CA_FILE", value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// More detail on stderr.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Nothing on stderr but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and log in.
    Register(commands::account::RegisterArgs),
    /// Log in (the password is prompted without echo, or read with --password-stdin).
    Login(commands::account::LoginArgs),
    /// Log out: revoke this device's token and forget it.
    Logout,
    /// Who am I, on which server.
    Whoami,
    /// Show or edit your profile.
    Profile(commands::account::ProfileArgs),
    /// Set your availability (mentors): available, away or busy.
    Status {
        #[arg(add = complete::availabilities())]
        availability: String,
    },
    /// Login and script tokens: list (default), create, revoke.
    Tokens {
        #[command(subcommand)]
        command: Option<commands::account::TokensCommand>,
    },
    /// List mentors in the directory.
    Mentors(commands::directory::MentorsArgs),
    /// Ask a mentor for a conversation, with an intro message.
    Request {
        /// The mentor's username.
        #[arg(add = complete::peers())]
        user: String,
        /// The intro message ('-' or nothing with piped stdin: read stdin).
        message: Vec<String>,
    },
    /// Incoming and outgoing pending requests.
    Requests,
    /// Accept a request.
    Accept {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Decline a request.
    Decline {
        #[arg(add = complete::peers())]
        user: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Mark a conversation complete (read-only, history kept).
    Complete {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Reopen a completed conversation.
    Reopen {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Send a message: mchat send alice "hi" / mchat send alice - < notes.md
    Send(commands::messages::SendArgs),
    /// Conversations with unread badges; the ones awaiting your reply first.
    Inbox {
        /// List archived conversations instead.
        #[arg(long)]
        archived: bool,
    },
    /// Read a conversation (marks it read unless --no-mark).
    Read(commands::messages::ReadArgs),
    /// Edit one of your messages (the sender only; marked "edited").
    Edit(commands::message_actions::EditArgs),
    /// Delete one of your messages (leaves a "message deleted" tombstone).
    Delete(commands::message_actions::DeleteArgs),
    /// React to a message with an emoji (--remove takes it back).
    React(commands::message_actions::ReactArgs),
    /// Save the file attached to a message.
    Download(commands::files::DownloadArgs),
    /// Search your messages: mchat search "pull request" --with alice
    Search(commands::search::SearchArgs),
    /// Mute a conversation: no notifications, no bell.
    Mute {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Unmute a conversation.
    Unmute {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Archive a conversation: hidden from the inbox until new activity.
    Archive {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Bring an archived conversation back to the inbox.
    Unarchive {
        #[arg(add = complete::peers())]
        user: String,
    },
    /// Saved replies with {variables}: list (default), add, show, rm.
    /// mchat send alice --template welcome --var topic=rust
    Template {
        #[command(subcommand)]
        command: Option<commands::organise::TemplateCommand>,
    },
    /// Remind yourself later: mchat remind --in 1d "follow up with alice"
    Remind(commands::organise::RemindArgs),
    /// Scheduled messages and reminders: list (default) or cancel.
    Scheduled {
        #[command(subcommand)]
        command: Option<commands::organise::ScheduledCommand>,
    },
    /// Notifications.
    Notifications {
        /// Only unread ones.
        #[arg(long)]
        unread: bool,
        /// Mark them read after listing.
        #[arg(long)]
        mark_read: bool,
    },
    /// Live events as they happen (--json: JSON Lines, one frame per line).
    Watch(commands::watch::WatchArgs),
    /// Messages waiting to be sent.
    Outbox {
        #[command(subcommand)]
        command: Option<commands::outbox::OutboxCommand>,
    },
    /// Check the setup: server, version, account, token, outbox, cursor.
    Doctor,
    /// Open the terminal UI (what `mchat` alone does on a terminal).
    Tui,
    /// Try mentorchat with nothing to set up: a throwaway local server with seeded data.
    Demo(crate::demo::DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (mchat.1, mchat-SUBCOMMAND.1) into DIR.
    #[command(hide = true)]
    Man { dir: PathBuf },
}

/// Writes `mchat.1` and one page per (visible) subcommand into `dir`,
/// creating it: for packagers and `mchat man ~/.local/share/man/man1`.
fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    // A bug must end in one clear sentence, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "mchat: internal error{place}; please report it (nothing you typed was sent twice or lost)"
        );
    }));
    // `COMPLETE=bash mchat …` (what the completion script runs at TAB):
    // answer with candidates and exit; otherwise this returns at once.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let out = Out {
        json: cli.global.json,
        quiet: cli.global.quiet,
        verbose: cli.global.verbose,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mchat: cannot start: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<exit::Reported>().is_some() => {
            let (code, sentence, _) = exit::describe(&err);
            let sentence = crate::sanitize::line(&sentence).into_owned();
            anstream::eprintln!("{}: {sentence}", output::paint(output::RED, "mchat"));
            ExitCode::from(code)
        }
        Err(err) => {
            let (code, sentence, machine) = exit::describe(&err);
            // One line without control characters, whatever the error quoted.
            let sentence = crate::sanitize::line(&sentence).into_owned();
            if out.json {
                let body =
                    serde_json::json!({"error": {"code": machine, "message": sentence, "exit_code": code}});
                output::write_stdout(format_args!("{body}"));
            }
            anstream::eprintln!("{}: {sentence}", output::paint(output::RED, "mchat"));
            ExitCode::from(code)
        }
    }
}

/// A command line clap could not parse: clap's message and usage on stderr,
/// exit 2, and with `--json` the error document on stdout as for any other
/// failure. `--help` and `--version` print as usual and exit 0.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if json {
        let message = match e.kind() {
            // The "error" is the subcommand's help text: say what it means.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                "a subcommand or argument is missing (see --help)".to_string()
            }
            // clap's first paragraph ("error: ..." and, say, the missing
            // arguments), without the usage that follows.
            _ => e
                .render()
                .to_string()
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
        };
        let message = crate::sanitize::line(message.trim_start_matches("error: ")).into_owned();
        let body =
            serde_json::json!({"error": {"code": "usage", "message": message, "exit_code": exit::USAGE}});
        output::write_stdout(format_args!("{body}"));
    }
    let _ = e.print();
    ExitCode::from(exit::USAGE)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    use commands::*;
    let Cli { global, command } = cli;
    if let Some(Command::Completions { shell }) = &command {
        // Generated in memory: `mchat completions bash | head` must not panic
        // on the closed pipe.
        let script = complete::registration(*shell)?;
        output::write_stdout_bytes(&script);
        return Ok(());
    }
    if let Some(Command::Man { dir }) = &command {
        return write_man_pages(dir);
    }
    if let Some(Command::Demo(args)) = command {
        let out = Out {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
        };
        return crate::demo::run(out, args).await;
    }
    let mut ctx = Ctx::new(Globals {
        server: global.server,
        profile: global.profile,
        config: global.config,
        ca_file: global.ca_file,
        out: Out {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
        },
    })?;
    let Some(command) = command else {
        use std::io::IsTerminal;
        let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
        if terminal && !ctx.out.json {
            if !ctx.has_token() {
                return Err(exit::Exit::new(
                    exit::AUTH,
                    "you are not logged in: run 'mchat login USERNAME' or 'mchat register USERNAME --role \
                     mentee', or try everything locally with 'mchat demo'",
                )
                .into());
            }
            return open_tui(&ctx).await;
        }
        return account::no_command(&mut ctx).await;
    };
    match command {
        Command::Register(a) => account::register(&mut ctx, a).await,
        Command::Login(a) => account::login(&mut ctx, a).await,
        Command::Logout => account::logout(&mut ctx).await,
        Command::Whoami => account::whoami(&mut ctx).await,
        Command::Profile(a) => account::profile(&mut ctx, a).await,
        Command::Status { availability } => account::status(&mut ctx, &availability).await,
        Command::Tokens { command } => {
            account::tokens(&mut ctx, command.unwrap_or(account::TokensCommand::List)).await
        }
        Command::Mentors(a) => directory::mentors(&mut ctx, a).await,
        Command::Request { user, message } => conversations::request(&mut ctx, &user, message).await,
        Command::Requests => conversations::requests(&mut ctx).await,
        Command::Accept { user } => {
            conversations::change(&mut ctx, &user, conversations::Change::Accept).await
        }
        Command::Decline { user, reason } => {
            conversations::change(&mut ctx, &user, conversations::Change::Decline(reason)).await
        }
        Command::Complete { user } => {
            conversations::change(&mut ctx, &user, conversations::Change::Complete).await
        }
        Command::Reopen { user } => {
            conversations::change(&mut ctx, &user, conversations::Change::Reopen).await
        }
        Command::Send(a) => messages::send(&mut ctx, a).await,
        Command::Inbox { archived } => conversations::inbox(&mut ctx, archived).await,
        Command::Read(a) => messages::read(&mut ctx, a).await,
        Command::Edit(a) => message_actions::edit(&mut ctx, a).await,
        Command::Delete(a) => message_actions::delete(&mut ctx, a).await,
        Command::React(a) => message_actions::react(&mut ctx, a).await,
        Command::Download(a) => files::download(&mut ctx, a).await,
        Command::Search(a) => search::run(&mut ctx, a).await,
        Command::Mute { user } => organise::set(&mut ctx, &user, organise::Setting::Mute(true)).await,
        Command::Unmute { user } => organise::set(&mut ctx, &user, organise::Setting::Mute(false)).await,
        Command::Archive { user } => organise::set(&mut ctx, &user, organise::Setting::Archive(true)).await,
        Command::Unarchive { user } => {
            organise::set(&mut ctx, &user, organise::Setting::Archive(false)).await
        }
        Command::Template { command } => {
            organise::template(&mut ctx, command.unwrap_or(organise::TemplateCommand::List)).await
        }
        Command::Remind(a) => organise::remind(&mut ctx, a).await,
        Command::Scheduled { command } => organise::scheduled(&mut ctx, command).await,
        Command::Notifications { unread, mark_read } => {
            notifications::list(&mut ctx, unread, mark_read).await
        }
        Command::Watch(a) => watch::run(&mut ctx, a).await,
        Command::Outbox { command } => outbox::run(&mut ctx, command).await,
        Command::Doctor => doctor::run(&mut ctx).await,
        Command::Tui => open_tui(&ctx).await,
        Command::Completions { .. } | Command::Demo(_) | Command::Man { .. } => Ok(()),
    }
}

/// Opens the TUI for the current profile.
async fn open_tui(ctx: &Ctx) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        return Err(exit::Exit::new(
            exit::USAGE,
            "the TUI needs a terminal (stdin and stdout): run it in one, or use 'mchat inbox', \
             'mchat read USER' and 'mchat watch' from scripts",
        )
        .into());
    }
    let token = ctx
        .token()?
        .ok_or_else(|| exit::Exit::not_logged_in(&ctx.profile))?;
    let username = match ctx.username() {
        Some(u) => u.to_string(),
        None => ctx.client()?.me().await?.username,
    };
    let config = crate::config::ClientConfig::load(&ctx.paths.config_file)?;
    crate::tui::run(crate::tui::TuiOptions {
        server: ctx.server.clone(),
        token,
        username,
        store: ctx.paths.local_store(&ctx.profile),
        outbox_owner: ctx.outbox_owner(),
        config: config.tui,
        greeting: None,
        start_with: None,
    })
    .await
}
