//! `--conversation USER|CONV`: which frames belong to one conversation.

use mchat_shared::ConversationId;
use mchat_shared::events::EventKind;
use mchat_shared::realtime::{ServerFrame, Signal};

/// One conversation, and its peer (for profile and presence frames).
#[derive(Debug, Clone)]
pub struct Filter {
    pub conversation: ConversationId,
    pub peer: String,
}

impl Filter {
    /// Does `frame` concern this conversation? `resync` and `ready` concern
    /// every conversation.
    pub fn matches(&self, frame: &ServerFrame) -> bool {
        let id = self.conversation;
        match frame {
            ServerFrame::Event(ev) => match &ev.kind {
                EventKind::MessageNew { message } | EventKind::MessageUpdated { message } => {
                    message.conversation_id == id
                }
                EventKind::SettingsUpdated { conversation_id, .. } => *conversation_id == id,
                EventKind::ScheduledUpdated { item } => item.conversation_id == Some(id),
                EventKind::ConversationUpdated { conversation_id, .. }
                | EventKind::MarkersUpdated { conversation_id, .. } => *conversation_id == id,
                EventKind::NotificationNew { notification } => notification.conversation_id == Some(id),
                EventKind::UserUpdated { user } => user.username == self.peer,
                EventKind::NotificationsRead { .. } => false,
                EventKind::Resync => true,
            },
            ServerFrame::Signal(Signal::Typing { conversation_id, .. }) => *conversation_id == id,
            ServerFrame::Signal(Signal::Presence { username, .. }) => *username == self.peer,
            ServerFrame::Signal(Signal::Ready { .. }) => true,
        }
    }

    /// For a frame this client cannot decode: kept unless it names another
    /// conversation in `data.conversation_id` or `data.message.conversation_id`.
    pub fn matches_unknown(&self, raw: &str) -> bool {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
            return true;
        };
        let data = &v["data"];
        let named = data["conversation_id"]
            .as_i64()
            .or_else(|| data["message"]["conversation_id"].as_i64());
        named.is_none_or(|c| c == self.conversation.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> ServerFrame {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn frames_of_one_conversation() {
        let f = Filter {
            conversation: ConversationId(2),
            peer: "ana".into(),
        };
        let markers = |c: i64| {
            frame(&format!(
                r#"{{"seq":1,"at":"2024-01-01T00:00:00Z","type":"markers_updated","data":{{"conversation_id":{c},"markers":{{"username":"ana","delivered_up_to":1,"read_up_to":1}}}}}}"#
            ))
        };
        assert!(f.matches(&markers(2)));
        assert!(!f.matches(&markers(3)));
        assert!(f.matches(&frame(r#"{"seq":1,"at":"2024-01-01T00:00:00Z","type":"resync"}"#)));
        assert!(f.matches(&frame(
            r#"{"type":"typing","data":{"conversation_id":2,"username":"ana","active":true}}"#
        )));
        assert!(!f.matches(&frame(
            r#"{"type":"typing","data":{"conversation_id":5,"username":"bo","active":true}}"#
        )));
        assert!(f.matches(&frame(
            r#"{"type":"presence","data":{"username":"ana","state":"online"}}"#
        )));
        assert!(!f.matches(&frame(
            r#"{"type":"presence","data":{"username":"bo","state":"online"}}"#
        )));
        assert!(f.matches_unknown(r#"{"type":"new","data":{"conversation_id":2}}"#));
        assert!(!f.matches_unknown(r#"{"type":"new","data":{"message":{"conversation_id":3}}}"#));
        assert!(f.matches_unknown(r#"{"type":"new"}"#));
    }
}
