//! The hub: who is connected, fan-out of events and signals, typing state,
//! long-poll waiters, and closing connections (slow, revoked).
//!
//! Revocation goes through the hub too ([`Hub::close_token`]): it closes the
//! token's sockets and wakes every long-lived HTTP request holding a
//! [`TokenWatch`] for it (long-poll, file transfers), so nothing that uses a
//! revoked token outlives the revocation. A [`TokenWatch`] also ends at the
//! token's expiry instant. Another node's revocations would arrive here the
//! same way (a call to `close_token`), which is why no caller polls the
//! database for them.

use crate::store::{EventSink, Member, UserEvent};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::Signal;
use mchat_shared::{ConversationId, MessageId, Seq, TokenId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// One frame queued for a connection, already serialised.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A logged event. `message`: set for new messages, so the connection
    /// can move its user's delivered marker once the frame is written.
    Event {
        seq: Seq,
        text: Arc<str>,
        message: Option<MessageRef>,
    },
    Signal(Arc<str>),
}

/// Which message a frame carries.
#[derive(Debug, Clone)]
pub struct MessageRef {
    pub conversation: ConversationId,
    pub id: MessageId,
    /// The sender's username (none for expiry notices).
    pub sender: Option<Arc<str>>,
}

/// Why the hub closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its buffer filled: it reads too slowly. It may reconnect and resume.
    TooSlow,
    /// Its token was revoked or expired.
    Revoked,
    /// The server is shutting down.
    Shutdown,
}

struct Conn {
    id: u64,
    token: TokenId,
    tx: mpsc::Sender<Outbound>,
    kill: watch::Sender<Option<CloseReason>>,
}

struct Typing {
    deadline: Instant,
    username: String,
    others: Vec<UserId>,
}

/// What the hub knows of one token that long-lived requests watch.
struct TokenState {
    revoked: watch::Sender<bool>,
    /// Set by `close_token`. A revoked token is remembered for
    /// [`REVOKED_MEMORY`] even with nobody watching, so a request that
    /// authenticated just before the revocation and subscribes just after it
    /// still learns of it.
    revoked_at: Option<Instant>,
}

/// How long a revocation is remembered for late subscribers (far longer than
/// the gap between authenticating a request and subscribing).
const REVOKED_MEMORY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Inner {
    conns: HashMap<UserId, Vec<Conn>>,
    waiters: HashMap<UserId, Arc<Notify>>,
    typing: HashMap<(ConversationId, UserId), Typing>,
    tokens: HashMap<TokenId, TokenState>,
}

/// Why a token stopped being good for the request that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEnd {
    Revoked,
    Expired,
}

impl TokenEnd {
    /// The 401 a long-lived request answers with when its token ends.
    pub fn error(self) -> crate::error::ApiError {
        crate::error::ApiError::unauthorized(match self {
            TokenEnd::Revoked => "the token was revoked while this request was waiting; log in again",
            TokenEnd::Expired => "the token expired while this request was waiting; log in again",
        })
    }
}

/// A long-lived request's view of its token: [`TokenWatch::ended`]
/// resolves the moment the token is revoked or reaches its expiry.
pub struct TokenWatch {
    revoked: watch::Receiver<bool>,
    expires: tokio::time::Instant,
}

impl TokenWatch {
    /// Resolves when the token is revoked or expires, whichever comes first.
    pub async fn ended(&mut self) -> TokenEnd {
        let revoked = async {
            if self.revoked.wait_for(|r| *r).await.is_err() {
                // The hub is gone (shutdown): only the expiry is left.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            () = revoked => TokenEnd::Revoked,
            () = tokio::time::sleep_until(self.expires) => TokenEnd::Expired,
        }
    }

    /// Whether the token has already ended (without waiting).
    pub fn ended_now(&self) -> Option<TokenEnd> {
        if *self.revoked.borrow() {
            Some(TokenEnd::Revoked)
        } else if tokio::time::Instant::now() >= self.expires {
            Some(TokenEnd::Expired)
        } else {
            None
        }
    }
}

/// The runtime instant of `expires_at_ms` (a wall-clock time in ms since the
/// epoch); a time already past is now.
pub fn deadline(expires_at_ms: i64) -> tokio::time::Instant {
    let left = expires_at_ms.saturating_sub(crate::store::now_ms()).max(0);
    tokio::time::Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(0))
}

/// What `register` hands the connection task.
pub struct Registration {
    pub id: u64,
    pub rx: mpsc::Receiver<Outbound>,
    pub kill: watch::Receiver<Option<CloseReason>>,
    /// This is the user's first live connection: they just came online.
    pub first: bool,
}

/// Where the hub's signals go when other nodes share the database: to
/// every node, which hands them to its own connections (`EventSink::signal`).
pub type Relay = mpsc::UnboundedSender<(Vec<UserId>, Arc<str>)>;

pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    buffer: usize,
    typing_ttl: Duration,
    /// Set when several nodes share the database (PostgreSQL): typing
    /// signals then travel through it, to the recipients' connections on
    /// every node, this one included.
    relay: std::sync::OnceLock<Relay>,
}

impl Hub {
    /// `buffer`: frames queued per connection before it counts as too slow.
    pub fn new(buffer: usize, typing_ttl: Duration) -> Hub {
        Hub {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
            buffer: buffer.max(8),
            typing_ttl,
            relay: std::sync::OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave it inconsistent in a
        // way that matters more than losing every live connection would.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&self, user: UserId, token: TokenId) -> Registration {
        let (tx, rx) = mpsc::channel(self.buffer);
        let (kill, kill_rx) = watch::channel(None);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        if Self::revoked(&inner, token) {
            let _ = kill.send(Some(CloseReason::Revoked));
        }
        let list = inner.conns.entry(user).or_default();
        let first = list.is_empty();
        list.push(Conn { id, token, tx, kill });
        metrics::gauge!("mchatd_ws_connections").increment(1.0);
        Registration {
            id,
            rx,
            kill: kill_rx,
            first,
        }
    }

    /// Removes a connection; true when it was the user's last one.
    pub fn unregister(&self, user: UserId, id: u64) -> bool {
        let mut inner = self.lock();
        let Some(list) = inner.conns.get_mut(&user) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.id != id);
        if list.len() < before {
            metrics::gauge!("mchatd_ws_connections").decrement(1.0);
        }
        if list.is_empty() {
            inner.conns.remove(&user);
            return true;
        }
        false
    }

    pub fn is_online(&self, user: UserId) -> bool {
        self.lock().conns.contains_key(&user)
    }

    pub fn connections(&self) -> usize {
        self.lock().conns.values().map(Vec::len).sum()
    }

    /// Queues `frame` on every connection of `user`; a full buffer closes
    /// that connection (it resumes from its cursor when it reconnects).
    fn deliver(inner: &mut Inner, user: UserId, frame: &Outbound) {
        if let Some(list) = inner.conns.get(&user) {
            for c in list {
                if c.tx.try_send(frame.clone()).is_err() {
                    if c.kill.borrow().is_none() {
                        metrics::counter!("mchatd_ws_dropped_slow_total").increment(1);
                    }
                    let _ = c.kill.send(Some(CloseReason::TooSlow));
                }
            }
        }
    }

    /// From now on, signals go out through `relay` (to every node) instead
    /// of straight to this node's connections.
    pub fn relay_signals(&self, relay: Relay) {
        let _ = self.relay.set(relay);
    }

    /// Sends an ephemeral signal to every live connection of `users`: here,
    /// or on every node when signals are relayed.
    pub fn signal(&self, users: &[UserId], signal: &Signal) {
        let Ok(text) = serde_json::to_string(signal) else {
            return;
        };
        match self.relay.get() {
            Some(relay) => {
                let _ = relay.send((users.to_vec(), text.into()));
            }
            None => self.deliver_signal(users, text.into()),
        }
    }

    /// Queues an already serialised signal on this node's connections of `users`.
    pub fn deliver_signal(&self, users: &[UserId], text: Arc<str>) {
        let frame = Outbound::Signal(text);
        let mut inner = self.lock();
        for &u in users {
            Self::deliver(&mut inner, u, &frame);
        }
    }

    /// How many live connections each connected user has here.
    pub fn socket_counts(&self) -> HashMap<UserId, i64> {
        self.lock()
            .conns
            .iter()
            .map(|(u, list)| (*u, i64::try_from(list.len()).unwrap_or(i64::MAX)))
            .collect()
    }

    /// The long-poll waiter of `user` (woken by each event for them).
    pub fn waiter(&self, user: UserId) -> Arc<Notify> {
        self.lock().waiters.entry(user).or_default().clone()
    }

    /// `user` is typing in `conv` (whose members are `members`). The others
    /// hear `active: true` once; renewals only extend the deadline.
    pub fn typing(&self, conv: ConversationId, user: UserId, members: &[Member]) {
        let Some(me) = members.iter().find(|m| m.id == user) else {
            return;
        };
        let others: Vec<UserId> = members.iter().filter(|m| m.id != user).map(|m| m.id).collect();
        let deadline = Instant::now() + self.typing_ttl;
        let fresh = {
            let mut inner = self.lock();
            match inner.typing.get_mut(&(conv, user)) {
                Some(t) => {
                    t.deadline = deadline;
                    false
                }
                None => {
                    inner.typing.insert(
                        (conv, user),
                        Typing {
                            deadline,
                            username: me.username.clone(),
                            others: others.clone(),
                        },
                    );
                    true
                }
            }
        };
        if fresh {
            self.signal(
                &others,
                &Signal::Typing {
                    conversation_id: conv,
                    username: me.username.clone(),
                    active: true,
                },
            );
        }
    }

    /// Ends typing indicators whose deadline passed; forgets idle waiters
    /// and unwatched tokens (revoked ones after [`REVOKED_MEMORY`]).
    pub fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<((ConversationId, UserId), Typing)> = {
            let mut inner = self.lock();
            inner.waiters.retain(|_, w| Arc::strong_count(w) > 1);
            inner.tokens.retain(|_, t| {
                t.revoked.receiver_count() > 0
                    || t.revoked_at
                        .is_some_and(|at| now.duration_since(at) < REVOKED_MEMORY)
            });
            let keys: Vec<(ConversationId, UserId)> = inner
                .typing
                .iter()
                .filter(|(_, t)| t.deadline <= now)
                .map(|(k, _)| *k)
                .collect();
            keys.into_iter()
                .filter_map(|k| inner.typing.remove(&k).map(|t| (k, t)))
                .collect()
        };
        for ((conv, _), t) in expired {
            self.signal(
                &t.others,
                &Signal::Typing {
                    conversation_id: conv,
                    username: t.username,
                    active: false,
                },
            );
        }
    }

    /// Watches `token` (which expires at `expires_at_ms`) for a long-lived
    /// request. Already ended if the token was revoked a moment ago.
    pub fn watch_token(&self, token: TokenId, expires_at_ms: i64) -> TokenWatch {
        let mut inner = self.lock();
        let state = inner.tokens.entry(token).or_insert_with(|| TokenState {
            revoked: watch::channel(false).0,
            revoked_at: None,
        });
        TokenWatch {
            revoked: state.revoked.subscribe(),
            expires: deadline(expires_at_ms),
        }
    }

    /// Ends everything authenticated with `token`, at once: its sockets
    /// close (4401) and the long-lived requests watching it answer 401.
    pub fn close_token(&self, token: TokenId) {
        let mut inner = self.lock();
        for c in inner.conns.values().flatten().filter(|c| c.token == token) {
            let _ = c.kill.send(Some(CloseReason::Revoked));
        }
        let state = inner.tokens.entry(token).or_insert_with(|| TokenState {
            revoked: watch::channel(false).0,
            revoked_at: None,
        });
        state.revoked_at = Some(Instant::now());
        state.revoked.send_replace(true);
    }

    /// Whether `token` was revoked through the hub (a socket registering
    /// right after a revocation closes at once).
    fn revoked(inner: &Inner, token: TokenId) -> bool {
        inner.tokens.get(&token).is_some_and(|t| t.revoked_at.is_some())
    }

    /// Closes every connection (server shutdown).
    pub fn close_all(&self) {
        let inner = self.lock();
        for c in inner.conns.values().flatten() {
            let _ = c.kill.send(Some(CloseReason::Shutdown));
        }
    }
}

impl EventSink for Hub {
    /// A live connection or a waiting long-poll.
    fn watches(&self, user: UserId) -> bool {
        let inner = self.lock();
        inner.conns.contains_key(&user) || inner.waiters.contains_key(&user)
    }

    /// The connections cannot know what they missed: they close as at a
    /// shutdown, and their clients reconnect and resume from their cursors.
    fn missed(&self) {
        self.close_all();
    }

    fn revoked(&self, token: TokenId) {
        self.close_token(token);
    }

    fn signal(&self, users: &[UserId], frame: Arc<str>) {
        self.deliver_signal(users, frame);
    }

    fn publish(&self, events: Vec<UserEvent>) {
        let mut stopped_typing: Vec<(ConversationId, UserId)> = Vec::new();
        {
            let mut inner = self.lock();
            for ev in events {
                let user = ev.user_id;
                let message = match &ev.event.kind {
                    EventKind::MessageNew { message } => {
                        let from_other = message.sender.is_some();
                        if from_other {
                            // A message ends its author's typing indicator.
                            if let Some(sender) = inner
                                .typing
                                .iter()
                                .find(|((c, _), t)| {
                                    *c == message.conversation_id
                                        && Some(&t.username) == message.sender.as_ref()
                                })
                                .map(|(k, _)| *k)
                            {
                                stopped_typing.push(sender);
                            }
                        }
                        Some(MessageRef {
                            conversation: message.conversation_id,
                            id: message.id,
                            sender: message.sender.as_deref().map(Arc::from),
                        })
                    }
                    _ => None,
                };
                let waiting = inner.waiters.get(&user).cloned();
                if !inner.conns.contains_key(&user) && waiting.is_none() {
                    continue;
                }
                let Ok(text) = serde_json::to_string(&ev.event) else {
                    continue;
                };
                let frame = Outbound::Event {
                    seq: ev.event.seq,
                    text: text.into(),
                    message,
                };
                Self::deliver(&mut inner, user, &frame);
                if let Some(w) = waiting {
                    w.notify_waiters();
                }
            }
        }
        for key in stopped_typing {
            let t = self.lock().typing.remove(&key);
            if let Some(t) = t {
                self.signal(
                    &t.others,
                    &Signal::Typing {
                        conversation_id: key.0,
                        username: t.username,
                        active: false,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_an_hour() -> i64 {
        crate::store::now_ms() + 3_600_000
    }

    #[tokio::test]
    async fn a_revocation_ends_watchers_before_and_just_after_it() {
        let hub = Hub::new(8, Duration::from_secs(5));
        let mut before = hub.watch_token(TokenId(1), in_an_hour());
        let mut other = hub.watch_token(TokenId(2), in_an_hour());
        assert_eq!(before.ended_now(), None);
        hub.close_token(TokenId(1));
        assert_eq!(before.ended().await, TokenEnd::Revoked);
        // Subscribing after the revocation (authenticated just before it).
        let mut late = hub.watch_token(TokenId(1), in_an_hour());
        assert_eq!(late.ended_now(), Some(TokenEnd::Revoked));
        assert_eq!(late.ended().await, TokenEnd::Revoked);
        let reg = hub.register(UserId(7), TokenId(1));
        assert_eq!(*reg.kill.borrow(), Some(CloseReason::Revoked));
        // Other tokens are untouched.
        let quiet = tokio::time::timeout(Duration::from_millis(50), other.ended()).await;
        assert!(quiet.is_err());
    }

    #[tokio::test]
    async fn a_watch_ends_at_the_expiry_and_unwatched_tokens_are_forgotten() {
        let hub = Hub::new(8, Duration::from_secs(5));
        let mut soon = hub.watch_token(TokenId(3), crate::store::now_ms() + 50);
        let started = Instant::now();
        assert_eq!(soon.ended().await, TokenEnd::Expired);
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(soon);
        hub.sweep();
        assert!(
            hub.lock().tokens.is_empty(),
            "an unwatched, unrevoked token is forgotten"
        );
        hub.close_token(TokenId(4));
        hub.sweep();
        assert!(
            hub.lock().tokens.contains_key(&TokenId(4)),
            "a revocation is remembered a while"
        );
    }
}
