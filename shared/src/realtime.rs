//! Frames of the live connection (`GET /v1/ws`) and the long-poll answer
//! (`GET /v1/sync`).
//!
//! Logged events carry a `seq`: a client stores the last one it processed
//! and resumes from it. Ephemeral signals (typing, presence) and control
//! frames carry none and are never replayed.

use crate::events::Event;
use crate::{ConversationId, Seq, Timestamp};
use serde::{Deserialize, Serialize};

/// Someone's presence as their contacts see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// At least one live connection open.
    Online,
    /// Online, but a mentor who set "away".
    Away,
    /// Online, but a mentor who set "busy" (do not disturb).
    Busy,
    /// No live connection.
    Offline,
}

/// Signals that go only to live connections and are never logged.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Signal {
    /// A participant is typing (`active: true`, renewed by the typist about
    /// every 3 s) or stopped (`active: false`, sent when ~5 s pass without
    /// renewal or when their message arrives).
    Typing {
        conversation_id: ConversationId,
        username: String,
        active: bool,
    },
    /// A contact came online, went offline, or changed availability.
    Presence {
        username: String,
        state: PresenceState,
        #[serde(default)]
        last_seen: Option<Timestamp>,
    },
    /// Replay is done: everything up to `seq` has been sent; live events follow.
    Ready { seq: Seq },
}

/// One frame from the server: a logged event or a signal.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerFrame {
    Event(Box<Event>),
    Signal(Signal),
}

/// Frames a client may send on the socket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// For clients that cannot set headers: the token, as the first frame.
    Auth { token: String },
    /// I am typing in this conversation.
    Typing { conversation_id: ConversationId },
}

/// `GET /v1/sync?since=SEQ&timeout=SECS`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    #[serde(default)]
    pub since: Option<Seq>,
    /// Seconds to wait for something new (0 answers at once; at most 60).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(maximum = 60))]
    pub timeout: Option<u64>,
}

/// `GET /v1/sync` answer: events after `since` (oldest first, at most a
/// page), and the cursor to ask with next.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResponse {
    pub events: Vec<Event>,
    pub next: Seq,
    /// More events are waiting: ask again at once.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn frames_round_trip() {
        let ev = ServerFrame::Event(Box::new(Event {
            seq: Seq(7),
            at: crate::Timestamp::UNIX_EPOCH,
            kind: EventKind::Resync,
        }));
        let text = serde_json::to_string(&ev).unwrap_or_default();
        assert!(
            text.contains("\"seq\":7") && text.contains("\"type\":\"resync\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).ok(), Some(ev));
        let sig = ServerFrame::Signal(Signal::Typing {
            conversation_id: ConversationId(3),
            username: "ana".into(),
            active: true,
        });
        let text = serde_json::to_string(&sig).unwrap_or_default();
        assert!(!text.contains("seq"), "{text}");
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).ok(), Some(sig));
        let c: Result<ClientFrame, _> = serde_json::from_str(r#"{"type":"typing","conversation_id":4}"#);
        assert_eq!(
            c.ok(),
            Some(ClientFrame::Typing {
                conversation_id: ConversationId(4)
            })
        );
    }
}
