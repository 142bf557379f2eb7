//! The connection task: connect, run a session, and on failure wait with
//! backoff and reconnect from the tracker's cursor, publishing the state.

use super::backoff::Backoff;
use super::conn::{self, End, Link, stopped};
use super::{ConnState, LiveConfig, LiveError, LiveEvent, OfflineReason};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Why waiting was cut short.
enum Interrupted {
    Stopped,
    ConsumerGone,
}

/// Runs until a final state: token rejected, refused, or stopped.
pub(super) async fn run(cfg: LiveConfig, mut link: Link, state: watch::Sender<ConnState>) {
    let mut backoff = Backoff::new(cfg.backoff);
    // When the current outage began (the task's start counts as one).
    let mut down_since = Instant::now();
    publish(&state, &mut link, ConnState::Connecting);
    loop {
        if *link.stop.borrow() {
            return finish(&state, &mut link, OfflineReason::Stopped).await;
        }
        let since = link.tracker.last();
        let attempt = tokio::select! {
            biased;
            () = stopped(&mut link.stop) => None,
            r = conn::connect(&cfg, since) => Some(r),
        };
        let Some(attempt) = attempt else {
            return finish(&state, &mut link, OfflineReason::Stopped).await;
        };
        let error = match attempt {
            Ok(ws) => {
                publish(&state, &mut link, ConnState::Connected);
                let opened = Instant::now();
                match conn::session(ws, &cfg, &mut link).await {
                    End::Stopped => return finish(&state, &mut link, OfflineReason::Stopped).await,
                    End::ConsumerGone => return,
                    End::Failed(e) => {
                        if opened.elapsed() >= cfg.stable_after {
                            backoff.reset();
                        }
                        down_since = Instant::now();
                        e
                    }
                }
            }
            Err(e) => e,
        };
        if error.is_final() {
            let reason = match error {
                LiveError::Unauthorized(message) => OfflineReason::Unauthorized { message },
                other => OfflineReason::Refused {
                    message: other.to_string(),
                },
            };
            return finish(&state, &mut link, reason).await;
        }
        let mut retry_in = backoff.next_delay();
        if let Some(min) = error.retry_after() {
            retry_in = retry_in.max(min.min(cfg.backoff.cap));
        }
        let attempt = backoff.attempt();
        let next = if down_since.elapsed() >= cfg.offline_after {
            ConnState::Offline(OfflineReason::Unreachable {
                attempt,
                retry_in,
                error,
            })
        } else {
            ConnState::Reconnecting {
                attempt,
                retry_in,
                error,
            }
        };
        publish(&state, &mut link, next);
        match wait(&mut link, Instant::now() + retry_in).await {
            Ok(()) => {}
            Err(Interrupted::Stopped) => return finish(&state, &mut link, OfflineReason::Stopped).await,
            Err(Interrupted::ConsumerGone) => return,
        }
    }
}

/// Sets the state and queues it for the consumer, in order with the frames.
fn publish(state: &watch::Sender<ConnState>, link: &mut Link, next: ConnState) {
    state.send_replace(next.clone());
    link.pending.push_back(LiveEvent::State(next));
}

/// Publishes a final state and hands everything still queued to the
/// consumer (unless it is gone). After a stop nothing waits for the
/// consumer (it may not be reading any more): what fits in the channel is
/// delivered, the rest comes again from the stored cursor next time.
async fn finish(state: &watch::Sender<ConnState>, link: &mut Link, reason: OfflineReason) {
    let after_stop = reason == OfflineReason::Stopped;
    publish(state, link, ConnState::Offline(reason));
    while let Some(ev) = link.pending.pop_front() {
        let delivered = if after_stop {
            link.tx.try_send(ev).is_ok()
        } else {
            link.tx.send(ev).await.is_ok()
        };
        if !delivered {
            return;
        }
    }
}

/// Waits until `until` has passed and everything queued was handed over.
async fn wait(link: &mut Link, mut until: Instant) -> Result<(), Interrupted> {
    let retry_now = link.retry_now.clone();
    loop {
        let waited = Instant::now() >= until;
        if waited && link.pending.is_empty() {
            return Ok(());
        }
        tokio::select! {
            biased;
            _ = stopped(&mut link.stop) => return Err(Interrupted::Stopped),
            permit = link.tx.reserve(), if !link.pending.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(ev) = link.pending.pop_front() {
                        permit.send(ev);
                    }
                }
                Err(_) => return Err(Interrupted::ConsumerGone),
            },
            _ = sleep_until(until), if !waited => {}
            () = retry_now.notified(), if !waited => until = Instant::now(),
        }
    }
}
