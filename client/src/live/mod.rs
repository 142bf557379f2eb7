//! The live connection (`GET /v1/ws`), shared by `mchat watch` and the TUI.
//!
//! [`Live::spawn`] starts a task that connects with the bearer token,
//! receives the replay after the given cursor, then live frames, and
//! reconnects by itself:
//!
//! - **Resume.** The library tracks the highest `seq` it handed to the
//!   consumer and reconnects with `?since=` that value, dropping anything at
//!   or below it, so a reconnect neither loses nor repeats an event within
//!   one process. Across processes the *consumer* is the source of truth:
//!   it persists the `seq` of each event once it has processed it (a
//!   [`LiveEvent::Frame`] whose [`LiveFrame::seq`] is `Some`, a `ready`
//!   signal's `seq` too, and for `resync` it must *reset* its cursor to that
//!   value, which may be lower) and passes it as [`LiveConfig::cursor`] next
//!   time. The library never touches the local store, so it never blocks
//!   the runtime on SQLite; `mchat watch` persists with `spawn_blocking`.
//! - **Outbox.** On every (re)connect the consumer receives
//!   `LiveEvent::State(ConnState::Connected)`, in order with the frames;
//!   that is its cue to flush queued messages (the library has no HTTP
//!   client and no store, on purpose). `mchat watch` does exactly that.
//! - **Backoff.** Failed attempts wait with exponential backoff and full
//!   jitter ([`BackoffConfig`]: 0.5 s doubling to 30 s), reset once a
//!   connection stayed up for [`LiveConfig::stable_after`]. `Retry-After`
//!   on a 429/503 is honoured. A 401 on the upgrade or close code 4401
//!   (token revoked) ends the task: [`OfflineReason::Unauthorized`]. Close
//!   codes 1001 (server shutting down) and 4008 (too slow) reconnect.
//! - **Dead connections.** tungstenite answers the server's pings while the
//!   task reads. Any frame proves the connection alive; after half of
//!   [`LiveConfig::idle_timeout`] of silence the task pings the server
//!   itself, and after the whole timeout (default 60 s, twice the server's
//!   25 s ping interval plus margin) it gives the connection up and
//!   reconnects.
//! - **Back-pressure.** Frames wait in a bounded queue for the consumer; when
//!   it falls far behind, the socket is left unread, the server drops the
//!   connection (4008) and it resumes later from the cursor, as the design
//!   intends for slow consumers.
//!
//! ```no_run
//! # async fn demo() {
//! use mchat::live::{ConnState, Live, LiveConfig, LiveEvent};
//! let mut live = Live::spawn(LiveConfig::new("http://127.0.0.1:7878", "mct_...", Some(41)));
//! while let Some(ev) = live.events.recv().await {
//!     match ev {
//!         LiveEvent::Frame(f) => { /* process, then persist f.seq() */ }
//!         LiveEvent::State(ConnState::Connected) => { /* flush the outbox */ }
//!         LiveEvent::State(s) if s.is_final() => break,
//!         _ => {}
//!     }
//! }
//! live.shutdown().await;
//! # }
//! ```

mod backoff;
mod conn;
mod cursor;
mod error;
mod state;
mod task;
mod url;

pub use backoff::{Backoff, BackoffConfig, retry_delay};
pub use error::LiveError;
pub use state::{ConnState, OfflineReason};
pub use url::ws_url;

use mchat_shared::ConversationId;
use mchat_shared::realtime::{ClientFrame, ServerFrame};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What to connect to and how patiently.
#[derive(Clone)]
pub struct LiveConfig {
    /// The server's base URL, `http(s)://host[:port][/prefix]`.
    pub server: String,
    /// The bearer token.
    pub token: String,
    /// Resume after this `seq` (the consumer's stored cursor); `None` starts
    /// from now.
    pub cursor: Option<i64>,
    /// Give a connection up after this long without any frame (default 60 s).
    pub idle_timeout: Duration,
    /// Give an attempt up after this long without a handshake (default 10 s).
    pub connect_timeout: Duration,
    /// Report [`OfflineReason::Unreachable`] instead of
    /// [`ConnState::Reconnecting`] once the outage lasts this long
    /// (default 60 s). Retrying goes on either way.
    pub offline_after: Duration,
    /// A connection that stayed up this long resets the backoff (default 10 s).
    pub stable_after: Duration,
    /// Reconnect delays.
    pub backoff: BackoffConfig,
    /// Capacity of the events channel (default 256).
    pub channel: usize,
}

impl LiveConfig {
    /// The defaults for `server` and `token`, resuming after `cursor`.
    pub fn new(server: impl Into<String>, token: impl Into<String>, cursor: Option<i64>) -> LiveConfig {
        LiveConfig {
            server: server.into(),
            token: token.into(),
            cursor,
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            offline_after: Duration::from_secs(60),
            stable_after: Duration::from_secs(10),
            backoff: BackoffConfig::default(),
            channel: 256,
        }
    }
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("server", &self.server)
            .field("token", &"<secret>")
            .field("cursor", &self.cursor)
            .field("idle_timeout", &self.idle_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("offline_after", &self.offline_after)
            .field("stable_after", &self.stable_after)
            .field("backoff", &self.backoff)
            .field("channel", &self.channel)
            .finish()
    }
}

/// One frame from the server, decoded, with the exact text it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFrame {
    pub frame: ServerFrame,
    /// The frame as the server sent it (what `watch --json` prints).
    pub raw: String,
}

impl LiveFrame {
    /// The `seq` of a logged event (resync included); `None` for signals.
    pub fn seq(&self) -> Option<i64> {
        match &self.frame {
            ServerFrame::Event(ev) => Some(ev.seq.0),
            ServerFrame::Signal(_) => None,
        }
    }
}

/// What the consumer receives, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A logged event or a signal.
    Frame(LiveFrame),
    /// A frame this client does not understand (from a newer server). Its
    /// `seq`, if it has one, counts like any other.
    Unknown { seq: Option<i64>, raw: String },
    /// The connection state changed (also published on [`LiveHandle::state`]).
    State(ConnState),
}

/// Starts live connections.
#[derive(Debug)]
pub struct Live;

impl Live {
    /// Spawns the connection task on the current Tokio runtime (it must be
    /// called from inside one) and returns its handle. The task runs until
    /// a final state ([`ConnState::is_final`]) or until the handle is shut
    /// down or dropped.
    pub fn spawn(config: LiveConfig) -> LiveHandle {
        let (tx, events) = mpsc::channel(config.channel.max(1));
        let (command_tx, commands) = mpsc::channel(16);
        let (stop_tx, stop) = watch::channel(false);
        let (state_tx, state) = watch::channel(ConnState::Connecting);
        let retry_now = std::sync::Arc::new(tokio::sync::Notify::new());
        let link = conn::Link {
            retry_now: retry_now.clone(),
            tx,
            commands,
            commands_open: true,
            stop,
            pending: VecDeque::new(),
            tracker: cursor::Tracker::new(config.cursor),
        };
        let task = tokio::spawn(task::run(config, link, state_tx));
        LiveHandle {
            events,
            state,
            retry_now,
            commands: command_tx,
            stop: stop_tx,
            task: Some(task),
        }
    }
}

/// The consumer's side of a live connection.
#[derive(Debug)]
pub struct LiveHandle {
    /// Frames and state changes, in order. `None` once the task has ended.
    pub events: mpsc::Receiver<LiveEvent>,
    /// The latest connection state (for a status line that only needs "now").
    pub state: watch::Receiver<ConnState>,
    commands: mpsc::Sender<ClientFrame>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    retry_now: std::sync::Arc<tokio::sync::Notify>,
}

impl LiveHandle {
    /// Tells the peers of `conversation_id` that I am typing (renew about
    /// every 3 s while typing). Ephemeral: returns `false` and drops it
    /// when it cannot be queued right now.
    pub fn send_typing(&self, conversation_id: ConversationId) -> bool {
        self.commands
            .try_send(ClientFrame::Typing { conversation_id })
            .is_ok()
    }

    /// While waiting to reconnect, try now instead of at the end of the
    /// backoff (a person pressed a key; the wait starts again if it fails).
    pub fn reconnect_now(&self) {
        self.retry_now.notify_one();
    }

    /// Closes the connection politely (close code 1000) and waits for the
    /// task to end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        // The task sees the stop (or the sender going away) and ends.
        self.stop.send_replace(true);
    }
}
