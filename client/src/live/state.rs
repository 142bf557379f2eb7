//! The connection's state as a UI shows it.

use super::LiveError;
use std::time::Duration;

/// Where the live connection stands. Published on [`super::LiveHandle::state`]
/// (latest value) and, in order with the frames, as
/// [`super::LiveEvent::State`].
///
/// ```text
/// Connecting ──► Connected ──► Reconnecting{1} ──► Connected ...
///      │              │              │ (down longer than `offline_after`)
///      │              │              ▼
///      │              │         Offline(Unreachable) ──► Connected
///      └──────────────┴──► Offline(Unauthorized | Refused | Stopped)   (final)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// The first attempt is under way.
    Connecting,
    /// The socket is open: the replay, then live frames, are flowing. Sent on
    /// every (re)connect, so a consumer can flush its outbox.
    Connected,
    /// The connection failed or was lost; the next attempt starts in
    /// `retry_in`. `attempt` counts failures since the last stable connection.
    Reconnecting {
        attempt: u32,
        retry_in: Duration,
        /// Why the last attempt failed.
        error: LiveError,
    },
    /// Not connected, see the reason; only [`OfflineReason::Unreachable`]
    /// is still retrying, the others are final.
    Offline(OfflineReason),
}

/// Why the connection is offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineReason {
    /// Reconnecting has failed for longer than
    /// [`super::LiveConfig::offline_after`]. Still retrying: the next
    /// attempt starts in `retry_in`.
    Unreachable {
        attempt: u32,
        retry_in: Duration,
        error: LiveError,
    },
    /// The server rejected the token (HTTP 401, or close code 4401: revoked
    /// or expired). Final: log in again.
    Unauthorized { message: String },
    /// A configuration problem or an answer retrying will not fix (a bad
    /// URL, HTTP 404 from something that is not mchatd). Final.
    Refused { message: String },
    /// The consumer called [`super::LiveHandle::shutdown`] or dropped the
    /// handle. Final.
    Stopped,
}

impl ConnState {
    /// The connection task has ended; nothing more will come.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ConnState::Offline(
                OfflineReason::Unauthorized { .. } | OfflineReason::Refused { .. } | OfflineReason::Stopped
            )
        )
    }

    /// A short human description: "connected", "reconnecting in 2.1 s
    /// (cannot reach the server ...)", "offline: ...".
    pub fn describe(&self) -> String {
        match self {
            ConnState::Connecting => "connecting…".into(),
            ConnState::Connected => "connected".into(),
            ConnState::Reconnecting { retry_in, error, .. } => {
                format!("{error}; reconnecting in {}…", seconds(*retry_in))
            }
            ConnState::Offline(OfflineReason::Unreachable { retry_in, error, .. }) => {
                format!("offline: {error}; retrying in {}…", seconds(*retry_in))
            }
            ConnState::Offline(OfflineReason::Unauthorized { message }) => {
                format!("offline: the server did not accept the token ({message})")
            }
            ConnState::Offline(OfflineReason::Refused { message }) => format!("offline: {message}"),
            ConnState::Offline(OfflineReason::Stopped) => "stopped".into(),
        }
    }
}

/// `0.4 s`, `2.1 s`, `30 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{} s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states() {
        assert!(!ConnState::Connecting.is_final());
        assert!(!ConnState::Connected.is_final());
        let unreachable = OfflineReason::Unreachable {
            attempt: 9,
            retry_in: Duration::from_secs(30),
            error: LiveError::Unreachable("refused".into()),
        };
        assert!(!ConnState::Offline(unreachable).is_final());
        assert!(ConnState::Offline(OfflineReason::Stopped).is_final());
        assert!(ConnState::Offline(OfflineReason::Unauthorized { message: "m".into() }).is_final());
    }

    #[test]
    fn descriptions() {
        let s = ConnState::Reconnecting {
            attempt: 2,
            retry_in: Duration::from_millis(2100),
            error: LiveError::Lost("reset".into()),
        };
        assert_eq!(
            s.describe(),
            "the connection was lost (reset); reconnecting in 2.1 s…"
        );
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
    }
}
