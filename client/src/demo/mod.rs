//! `mchat demo`: the product working with nothing to set up. Starts a
//! throwaway `mchatd` ([`server`]: embedded, or the binary) on a free
//! loopback port with a temporary data dir,
//! seeds a mentor, three mentees and some history over the real API, and
//! shows the mentor's inbox while a scripted mentee keeps writing. Ctrl-C
//! (or `--duration`) stops the server and removes every file.
//!
//! On a terminal the mentor's view is the TUI; with `--no-tui`, or when
//! stdout is not a terminal (tests, CI), it is a live console stream.

mod seed;
mod server;

use server::DemoServer;

use crate::api::Client;
use crate::cli::commands::conversations::{inbox_order, print_inbox};
use crate::cli::output::{BOLD, CYAN, DIM, GREEN, Out, clock, paint, safe, safe_text};
use crate::config::{Credentials, Paths};
use clap::Args;
use mchat_shared::ConversationId;
use mchat_shared::api::{MessageKind, MessagesQuery};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

#[derive(Args)]
pub struct DemoArgs {
    /// Stop by itself after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Seconds between the scripted mentee's messages.
    #[arg(long, default_value_t = 4)]
    pub every: u64,
    /// Print a console stream instead of opening the TUI.
    #[arg(long)]
    pub no_tui: bool,
}

/// Saves a seeded user's credentials in `home` (the `MCHAT_HOME` layout), so
/// a second terminal can use the account without logging in.
fn save_credentials(home: &Path, server: &str, s: &seed::Seeded) -> anyhow::Result<()> {
    let paths = Paths::in_home(home);
    Credentials {
        server: server.to_string(),
        username: s.auth.user.username.clone(),
        token: s.auth.token.clone(),
        token_id: s.auth.token_id.0,
        expires_at: s.auth.expires_at,
    }
    .save(&paths.credentials_file(crate::config::DEFAULT_PROFILE))
}

pub async fn run(out: Out, args: DemoArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("mchat-demo-").tempdir()?;
    let server = DemoServer::start(&dir.path().join("server")).await?;

    let result = show(&out, &args, &server, dir.path()).await;

    if let Err(e) = server.stop().await {
        out.note(format!("demo server stopped with an error: {e:#}"));
    }
    drop(dir);
    out.note("demo stopped; its server and files are gone");
    result
}

/// Ends a background task when the demo leaves the scope that started it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The scripted mentee stays connected while the demo runs, so she shows
/// online (●) to the mentor; her frames are read and dropped.
fn keep_online(url: &str, who: &seed::Seeded) -> tokio::task::JoinHandle<()> {
    let mut live = crate::live::Live::spawn(crate::live::LiveConfig::new(
        url.to_string(),
        who.auth.token.clone(),
        None,
    ));
    tokio::spawn(async move { while live.events.recv().await.is_some() {} })
}

async fn show(out: &Out, args: &DemoArgs, server: &DemoServer, dir: &Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let url = server.url();
    if !args.no_tui && !out.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return show_tui(out, args, server, dir).await;
    }
    out.line(paint(BOLD, "mentorchat demo"));
    out.line(paint(
        DIM,
        format!("{} on {url}, data in {}", server.describe(), dir.display()),
    ));
    let world = seed::seed(url).await?;
    let _online = AbortOnDrop(keep_online(url, &world.ana));
    for s in [&world.mentor, &world.ana, &world.ben, &world.chris] {
        save_credentials(&dir.join(&s.auth.user.username), url, s)?;
    }
    out.line("seeded: mentor mona; mentees ana, ben and chris (password for all: demo-password)\n");
    out.line(paint(BOLD, "mona's inbox (mchat inbox):"));
    let mut list = world.mentor.client.conversations().await?.conversations;
    inbox_order(&mut list);
    print_inbox(out, &list);
    out.line("");
    out.line(paint(BOLD, "Try it from another terminal while this runs:"));
    for (who, what) in [
        ("mona", "inbox"),
        ("mona", "read ana"),
        ("mona", "accept ben"),
        ("ana", "send mona \"hello from ana\""),
    ] {
        out.line(format!("  MCHAT_HOME={} mchat {what}", dir.join(who).display()));
    }
    out.line(paint(
        DIM,
        "  (mchat is target/release/mchat after `cargo build --release -p mchat`)",
    ));
    out.line("");
    out.line(format!(
        "{} ana writes every {} s; new messages to mona appear below. Ctrl-C stops the demo.",
        paint(GREEN, "live:"),
        args.every
    ));
    live(out, args, &world).await
}

/// The TUI as the mentor while ana writes every few seconds; on exit, how
/// a second `mchat` could have joined.
async fn show_tui(out: &Out, args: &DemoArgs, server: &DemoServer, dir: &Path) -> anyhow::Result<()> {
    let url = server.url();
    out.line(format!("mentorchat demo: {} on {url}…", server.describe()));
    let world = seed::seed(url).await?;
    let _online = AbortOnDrop(keep_online(url, &world.ana));
    for s in [&world.mentor, &world.ana, &world.ben, &world.chris] {
        save_credentials(&dir.join(&s.auth.user.username), url, s)?;
    }
    let home = Paths::in_home(&dir.join("mona"));
    let opts = crate::tui::TuiOptions {
        server: url.to_string(),
        token: world.mentor.auth.token.clone(),
        username: world.mentor.auth.user.username.clone(),
        store: home.local_store(crate::config::DEFAULT_PROFILE),
        outbox_owner: crate::local::OutboxOwner {
            server: url.to_string(),
            account: world.mentor.auth.user.username.clone(),
        },
        config: toml::Table::new(),
        // The first frame says what to press, then how a second terminal joins.
        greeting: Some(format!(
            "demo: Enter opens the chat · ? help · q quits — from another terminal, MCHAT_HOME={} \
             mchat send mona hi joins as ana",
            dir.join("ana").display()
        )),
        // A live conversation, not a request.
        start_with: Some(world.ana.auth.user.username.clone()),
    };
    let mentee = async {
        let every = Duration::from_secs(args.every.max(1));
        for line in seed::SCRIPT.iter().cycle() {
            tokio::time::sleep(every).await;
            let _ = seed::say(&world.ana, world.live, line).await;
        }
    };
    let deadline = async {
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        r = crate::tui::run(opts) => r,
        () = mentee => Ok(()),
        () = deadline => Ok(()),
    };
    crate::tui::terminal::restore();
    out.line(paint(
        BOLD,
        "Next time, while the demo runs, a second mchat can join it from another terminal:",
    ));
    for (who, what) in [
        ("ana", "send mona \"hello from ana\""),
        ("ben", "inbox"),
        ("mona", "tui"),
    ] {
        out.line(format!("  MCHAT_HOME={} mchat {what}", dir.join(who).display()));
    }
    result
}

/// The scripted mentee writes; the mentor's side watches for new messages
/// in every conversation and prints them.
async fn live(out: &Out, args: &DemoArgs, world: &seed::World) -> anyhow::Result<()> {
    let mentor = &world.mentor.client;
    let mut seen: HashMap<ConversationId, i64> = HashMap::new();
    for c in mentor.conversations().await?.conversations {
        seen.insert(c.id, c.last_message.map_or(0, |m| m.id.0));
    }
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut script = seed::SCRIPT.iter().cycle();
    let mut next_say = tokio::time::Instant::now() + Duration::from_secs(args.every.max(1));
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            () = until_deadline => return Ok(()),
            () = tokio::time::sleep_until(next_say) => {
                next_say += Duration::from_secs(args.every.max(1));
                if let Some(line) = script.next() {
                    seed::say(&world.ana, world.live, line).await?;
                }
            }
            _ = poll.tick() => print_new(out, mentor, &mut seen).await?,
        }
    }
}

async fn print_new(
    out: &Out,
    mentor: &Client,
    seen: &mut HashMap<ConversationId, i64>,
) -> anyhow::Result<()> {
    for c in mentor.conversations().await?.conversations {
        let last = c.last_message.as_ref().map_or(0, |m| m.id.0);
        let known = seen.get(&c.id).copied().unwrap_or(0);
        if last <= known {
            continue;
        }
        let page = mentor
            .messages(
                c.id,
                &MessagesQuery {
                    after: Some(mchat_shared::MessageId(known)),
                    before: None,
                    limit: Some(100),
                },
            )
            .await?;
        for m in &page.messages {
            let who = m.sender.as_deref().unwrap_or("system");
            let to = if who == c.peer.username {
                c.my_markers.username.as_str()
            } else {
                c.peer.username.as_str()
            };
            if m.kind == MessageKind::System {
                out.line(paint(
                    DIM,
                    format!("{}  · {}", clock(m.created_at), safe(&m.body)),
                ));
            } else {
                out.line(format!(
                    "{}  {} → {}  {}",
                    paint(DIM, clock(m.created_at)),
                    paint(CYAN, safe(who)),
                    safe(to),
                    safe_text(&m.body)
                ));
            }
        }
        seen.insert(c.id, last);
    }
    Ok(())
}
