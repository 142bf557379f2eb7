//! `mchat watch`: live events as they happen, over the WebSocket
//! ([`crate::live`]), resuming from the profile's stored cursor.
//!
//! - Output: sanitised human lines, or with `--json` **JSON Lines** — one
//!   frame per line, as the server sent it (unlike every other command,
//!   where `--json` means exactly one document). Typing and presence signals
//!   (and, in JSON, `ready`) only with `--signals`.
//! - Cursor: the `seq` of each event is saved in the profile's local store
//!   once the event is printed and its `--exec` command has finished, so a
//!   new `watch` continues after the last event handled. Events that
//!   `--conversation` filters out or human mode leaves out still move it.
//!   `--since SEQ` starts elsewhere once, `--from-now` skips the backlog.
//! - Outbox: every time the connection is (re)established, queued messages
//!   are sent.
//! - Connection state changes go to stderr (human mode; with `--json` only
//!   with `-v`). The server being unreachable is not an error: watch keeps
//!   retrying, unless `--once`. A rejected token ends it with exit 3.
//! - `--exec CMD` gets every event that passes `--conversation` (and, with
//!   `--signals`, every signal), whether human mode prints it or not.
//! - Stops on Ctrl-C or SIGTERM (exit 0), after `--count N` events (events
//!   printed or handed to `--exec`; signals do not count), or after
//!   `--timeout SECS` (exit 0).

mod cursor;
mod exec;
mod filter;
mod render;

use super::super::context::Ctx;
use super::super::exit::{self, Exit};
use super::super::output::safe;
use super::conversations::find;
use super::outbox;
use crate::api::{Client, ClientError};
use crate::live::{ConnState, Live, LiveConfig, LiveError, LiveEvent, LiveFrame, LiveHandle, OfflineReason};
use anyhow::Context as _;
use clap::Args;
use cursor::CursorStore;
use filter::Filter;
use mchat_shared::ConversationId;
use mchat_shared::events::EventKind;
use mchat_shared::realtime::{ServerFrame, Signal};
use render::Names;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

#[derive(Args, Debug)]
#[command(after_help = "\
With --json the output is JSON Lines (one frame per line, as the server sent it), not one document.
Human mode leaves out read markers, status changes and profile updates unless -v.
The event cursor is saved after each event; the next watch continues after it.
--exec runs `sh -c CMD` per event, one at a time, with its JSON on stdin and
MCHAT_EVENT_TYPE, MCHAT_EVENT_SEQ in the environment.")]
pub struct WatchArgs {
    /// Start after this event seq instead of the stored cursor.
    #[arg(long, value_name = "SEQ", conflicts_with = "from_now")]
    since: Option<i64>,
    /// Ignore the stored cursor: only what happens from now on.
    #[arg(long)]
    from_now: bool,
    /// Only events of your conversation with USER (or conversation id).
    #[arg(long, value_name = "USER|CONV")]
    conversation: Option<String>,
    /// Also show typing and presence signals.
    #[arg(long)]
    signals: bool,
    /// Run `sh -c CMD` for each event (and signal, with --signals), printed or not; waits for it.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// Seconds an --exec command may run before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    exec_timeout: u64,
    /// Exit after N events (signals do not count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Print what happened since the cursor, then exit (no waiting, no retrying).
    #[arg(long)]
    once: bool,
}

/// Go on, or stop watching (successfully).
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Done,
}

pub async fn run(ctx: &mut Ctx, args: WatchArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let token = ctx.token()?.ok_or_else(|| Exit::not_logged_in(&ctx.profile))?;
    let filter = match &args.conversation {
        Some(target) => {
            let c = find(&client, target).await?;
            Some(Filter {
                conversation: c.id,
                peer: c.peer.username,
            })
        }
        None => None,
    };
    let path = ctx.paths.local_store(&ctx.profile);
    let cursors = CursorStore::open(&path)
        .with_context(|| format!("cannot open the local store {}", path.display()))?;
    let start = if args.from_now {
        None
    } else {
        match args.since {
            Some(seq) => Some(seq),
            None => cursors.get().await?,
        }
    };
    // A token from the environment may not be the profile's user.
    let me = if ctx.env_token.is_some() {
        None
    } else {
        ctx.username().map(str::to_string)
    };
    let stop = stop_on_signal();
    let mut live = Live::spawn(LiveConfig::new(ctx.server.clone(), token, start));
    let mut watcher = Watcher {
        args,
        filter,
        cursors,
        me,
        peers: HashMap::new(),
        delivered: 0,
        connected_once: false,
        stop,
    };
    let result = watcher.run(ctx, &client, &mut live).await;
    live.shutdown().await;
    result
}

/// A `watcher`'s state between frames.
struct Watcher {
    args: WatchArgs,
    filter: Option<Filter>,
    cursors: CursorStore,
    /// My username, once known.
    me: Option<String>,
    /// Conversation id → peer username, for "you → ana".
    peers: HashMap<ConversationId, String>,
    /// Events printed or handed to `--exec` (what `--count` counts).
    delivered: u64,
    connected_once: bool,
    /// Set on Ctrl-C / SIGTERM.
    stop: watch::Receiver<bool>,
}

impl Watcher {
    async fn run(&mut self, ctx: &mut Ctx, client: &Client, live: &mut LiveHandle) -> anyhow::Result<()> {
        let deadline = self.args.timeout.map(|s| Instant::now() + Duration::from_secs(s));
        loop {
            let ev = tokio::select! {
                biased;
                () = stopped(self.stop.clone()) => return Ok(()),
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => return Ok(()),
                ev = live.events.recv() => ev,
            };
            let Some(ev) = ev else { return Ok(()) };
            let flow = match ev {
                LiveEvent::State(state) => self.on_state(ctx, client, state).await?,
                LiveEvent::Frame(frame) => self.on_frame(ctx, client, frame).await,
                LiveEvent::Unknown { seq, raw } => self.on_unknown(ctx, seq, &raw).await,
            };
            if flow == Flow::Done {
                return Ok(());
            }
        }
    }

    /// A side remark on stderr: in human mode unless `-q`, with `--json` only with `-v`.
    fn note(&self, ctx: &Ctx, text: &str) {
        if !ctx.out.json || ctx.out.verbose {
            ctx.out.note(text);
        }
    }

    /// A change of the connection's state, on stderr unless `-q`, with or
    /// without `--json` (stdout keeps only the events).
    fn state_note(&self, ctx: &Ctx, text: &str) {
        ctx.out.note(text);
    }

    async fn on_state(&mut self, ctx: &mut Ctx, client: &Client, state: ConnState) -> anyhow::Result<Flow> {
        match &state {
            ConnState::Connecting => {
                if ctx.out.verbose {
                    self.note(ctx, &format!("connecting to {}…", ctx.server));
                }
            }
            ConnState::Connected => {
                let first = !std::mem::replace(&mut self.connected_once, true);
                if first && !self.args.once {
                    self.state_note(
                        ctx,
                        &format!("connected to {}; watching (Ctrl-C to stop)", ctx.server),
                    );
                } else if !first {
                    self.state_note(ctx, "connected");
                }
                if self.me.is_none() && !ctx.out.json {
                    self.me = client.me().await.ok().map(|u| u.username);
                }
                if let Err(e) = outbox::flush_waiting(ctx, client).await {
                    self.note(ctx, &format!("cannot flush the outbox: {e:#}"));
                }
            }
            ConnState::Reconnecting { error, .. }
            | ConnState::Offline(OfflineReason::Unreachable { error, .. }) => {
                if self.args.once {
                    return Err(match error {
                        LiveError::Unreachable(reason) => ClientError::Unreachable {
                            url: ctx.server.clone(),
                            reason: reason.clone(),
                        }
                        .into(),
                        other => Exit::new(
                            exit::FAILURE,
                            format!(
                                "the connection ended before the replay was complete: {}",
                                safe(&other.to_string())
                            ),
                        )
                        .into(),
                    });
                }
                self.state_note(ctx, &safe(&state.describe()));
            }
            ConnState::Offline(OfflineReason::Unauthorized { .. }) => {
                return Err(Exit {
                    code: exit::AUTH,
                    message: "the server did not accept your token (expired or revoked?): log in again"
                        .into(),
                    machine: "unauthorized",
                }
                .into());
            }
            ConnState::Offline(OfflineReason::Refused { message }) => {
                return Err(anyhow::anyhow!("{}", safe(message)));
            }
            ConnState::Offline(OfflineReason::Stopped) => return Ok(Flow::Done),
        }
        Ok(Flow::Continue)
    }

    async fn on_frame(&mut self, ctx: &mut Ctx, client: &Client, f: LiveFrame) -> Flow {
        let wanted = self.filter.as_ref().is_none_or(|flt| flt.matches(&f.frame));
        match &f.frame {
            ServerFrame::Signal(Signal::Ready { seq }) => {
                self.save(seq.0, false).await;
                if ctx.out.verbose {
                    self.note(ctx, &format!("up to date (event {seq})"));
                }
                if self.args.signals && ctx.out.json {
                    print_json(&f.raw);
                }
                if self.args.once {
                    return Flow::Done;
                }
            }
            ServerFrame::Signal(signal) => {
                if !(self.args.signals && wanted) {
                    return Flow::Continue;
                }
                if ctx.out.json {
                    print_json(&f.raw);
                } else if let Some(line) = render::signal_line(signal, ctx.out.verbose) {
                    ctx.out.line(line);
                }
                self.exec(&f.raw, render::frame_type(&f.frame), None).await;
            }
            ServerFrame::Event(ev) => {
                if wanted {
                    let printed = if ctx.out.json {
                        print_json(&f.raw)
                    } else {
                        let peer = match &ev.kind {
                            EventKind::MessageNew { message } => {
                                self.peer_of(client, message.conversation_id).await
                            }
                            _ => None,
                        };
                        let names = Names {
                            me: self.me.as_deref(),
                            peer: peer.as_deref(),
                        };
                        match render::event_line(ev, names, ctx.out.verbose) {
                            Some(line) => {
                                ctx.out.line(line);
                                true
                            }
                            None => false,
                        }
                    };
                    let ran = self.exec(&f.raw, ev.kind.name(), Some(ev.seq.0)).await;
                    if printed || ran {
                        self.delivered += 1;
                    }
                }
                self.save(ev.seq.0, matches!(ev.kind, EventKind::Resync)).await;
                if self.args.count.is_some_and(|n| self.delivered >= n) {
                    return Flow::Done;
                }
            }
        }
        Flow::Continue
    }

    async fn on_unknown(&mut self, ctx: &mut Ctx, seq: Option<i64>, raw: &str) -> Flow {
        let wanted = self.filter.as_ref().is_none_or(|flt| flt.matches_unknown(raw));
        if wanted && (seq.is_some() || self.args.signals) {
            let kind = render::unknown_type(raw);
            let printed = if ctx.out.json {
                print_json(raw)
            } else {
                if ctx.out.verbose {
                    self.note(
                        ctx,
                        &format!("skipped an event this mchat does not know ({kind})"),
                    );
                }
                false
            };
            let ran = self.exec(raw, &kind, seq).await;
            if seq.is_some() && (printed || ran) {
                self.delivered += 1;
            }
        }
        if let Some(seq) = seq {
            self.save(seq, false).await;
        }
        if self.args.count.is_some_and(|n| self.delivered >= n) {
            return Flow::Done;
        }
        Flow::Continue
    }

    /// Runs `--exec` for one frame, if given; whether it ran.
    async fn exec(&self, raw: &str, kind: &str, seq: Option<i64>) -> bool {
        let Some(cmd) = &self.args.exec else { return false };
        let Some(json) = render::json_line(raw) else {
            return false;
        };
        let timeout = Duration::from_secs(self.args.exec_timeout);
        if let Err(failure) = exec::run(cmd, &json, kind, seq, timeout, stopped(self.stop.clone())).await {
            let which = seq.map_or_else(|| format!("a {kind} signal"), |s| format!("event {s} ({kind})"));
            // A failure is an error: shown even with -q.
            anstream::eprintln!("mchat: the --exec command {failure} for {which}");
        }
        true
    }

    /// Saves the cursor; a failure is reported, not fatal (the worst case is
    /// seeing some events again next time).
    async fn save(&self, seq: i64, reset: bool) {
        let saved = if reset {
            self.cursors.reset(seq).await
        } else {
            self.cursors.advance(seq).await
        };
        if let Err(e) = saved {
            anstream::eprintln!("mchat: cannot save the event cursor ({e:#}); events may be shown again");
        }
    }

    /// The peer of a conversation, asked once per conversation.
    async fn peer_of(&mut self, client: &Client, id: ConversationId) -> Option<String> {
        if let Some(name) = self.peers.get(&id) {
            return Some(name.clone());
        }
        let name = client.conversation(id).await.ok()?.peer.username;
        self.peers.insert(id, name.clone());
        Some(name)
    }
}

/// Prints one JSON line (made terminal-safe); whether it was JSON at all.
fn print_json(raw: &str) -> bool {
    match render::json_line(raw) {
        Some(line) => {
            super::super::output::write_stdout(format_args!("{line}"));
            true
        }
        None => false,
    }
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A flag set on Ctrl-C (SIGINT) or SIGTERM.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        signal().await;
        tx.send_replace(true);
        // Keep the sender: receivers read the flag, not a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    ctrl_c.await;
}
