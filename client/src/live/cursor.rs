//! The library's own cursor: which frames are new, which are duplicates,
//! and where the next connection resumes.

use super::{LiveEvent, LiveFrame};
use mchat_shared::events::EventKind;
use mchat_shared::realtime::{ServerFrame, Signal};

/// Tracks the highest `seq` handed towards the consumer. Frames are
/// delivered in order through one channel, so a reconnect that resumes from
/// here loses nothing (everything up to it is already queued for the
/// consumer) and duplicates nothing (anything at or below it is dropped).
#[derive(Debug, Clone, Default)]
pub(super) struct Tracker {
    last: Option<i64>,
}

impl Tracker {
    /// Starts at the consumer's stored cursor (`None`: from "now").
    pub(super) fn new(cursor: Option<i64>) -> Tracker {
        Tracker { last: cursor }
    }

    /// The `since` of the next connection.
    pub(super) fn last(&self) -> Option<i64> {
        self.last
    }

    /// Decodes one text frame; `None` when it is a duplicate to drop.
    ///
    /// - a logged event moves the cursor; one at or below it is dropped;
    /// - `resync` sets the cursor to its `seq` even when that is lower (the
    ///   old cursor was beyond the server's log), and is always delivered;
    /// - `ready` moves the cursor up to its `seq` (with no cursor, that is
    ///   where "now" is, so a reconnect does not skip the gap);
    /// - signals pass untouched;
    /// - a frame this client does not understand (a newer server) is
    ///   delivered as [`LiveEvent::Unknown`], and its top-level `seq`, if
    ///   any, still counts.
    pub(super) fn admit(&mut self, text: &str) -> Option<LiveEvent> {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(_) => return self.admit_unknown(text),
        };
        match &frame {
            ServerFrame::Event(ev) if matches!(ev.kind, EventKind::Resync) => self.last = Some(ev.seq.0),
            ServerFrame::Event(ev) => {
                if self.last.is_some_and(|l| ev.seq.0 <= l) {
                    return None;
                }
                self.last = Some(ev.seq.0);
            }
            ServerFrame::Signal(Signal::Ready { seq }) => {
                self.last = Some(self.last.map_or(seq.0, |l| l.max(seq.0)));
            }
            ServerFrame::Signal(_) => {}
        }
        Some(LiveEvent::Frame(LiveFrame {
            frame,
            raw: text.to_string(),
        }))
    }

    fn admit_unknown(&mut self, text: &str) -> Option<LiveEvent> {
        let seq = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("seq")?.as_i64());
        if let Some(seq) = seq {
            if self.last.is_some_and(|l| seq <= l) {
                return None;
            }
            self.last = Some(seq);
        }
        Some(LiveEvent::Unknown {
            seq,
            raw: text.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str) -> String {
        let data = match kind {
            "resync" => String::new(),
            _ => r#","data":{"conversation_id":1,"markers":{"username":"ana","delivered_up_to":2,"read_up_to":1}}"#
                .to_string(),
        };
        format!(r#"{{"seq":{seq},"at":"2024-01-01T00:00:00Z","type":"{kind}"{data}}}"#)
    }

    fn seq_of(ev: &Option<LiveEvent>) -> Option<i64> {
        match ev {
            Some(LiveEvent::Frame(f)) => f.seq(),
            Some(LiveEvent::Unknown { seq, .. }) => *seq,
            _ => None,
        }
    }

    #[test]
    fn resync_frame_parses() {
        let mut t = Tracker::new(Some(10));
        let ev = t.admit(&event(4, "resync"));
        assert_eq!(seq_of(&ev), Some(4), "{ev:?}");
        assert_eq!(t.last(), Some(4), "a resync may move the cursor back");
        assert!(t.admit(&event(4, "resync")).is_some(), "resyncs always pass");
    }

    #[test]
    fn duplicates_are_dropped_and_the_cursor_moves() {
        let mut t = Tracker::new(Some(5));
        let ev = event(6, "markers_updated");
        let admitted = t.admit(&ev);
        assert!(
            matches!(&admitted, Some(LiveEvent::Frame(f)) if f.raw == ev && f.seq() == Some(6)),
            "{admitted:?}"
        );
        assert_eq!(t.last(), Some(6));
        assert!(t.admit(&ev).is_none(), "a replayed duplicate");
        assert!(t.admit(&event(3, "markers_updated")).is_none());
        assert_eq!(t.last(), Some(6));
    }

    #[test]
    fn ready_moves_the_cursor_forward_only() {
        let mut t = Tracker::new(None);
        assert!(t.admit(r#"{"type":"ready","data":{"seq":40}}"#).is_some());
        assert_eq!(t.last(), Some(40), "from now: resume after what was 'now'");
        assert!(t.admit(r#"{"type":"ready","data":{"seq":30}}"#).is_some());
        assert_eq!(t.last(), Some(40));
    }

    #[test]
    fn signals_do_not_touch_the_cursor() {
        let mut t = Tracker::new(Some(2));
        let typing = r#"{"type":"typing","data":{"conversation_id":3,"username":"ana","active":true}}"#;
        assert!(matches!(t.admit(typing), Some(LiveEvent::Frame(f)) if f.seq().is_none()));
        assert_eq!(t.last(), Some(2));
    }

    #[test]
    fn unknown_frames_pass_and_count() {
        let mut t = Tracker::new(Some(2));
        let newer = r#"{"seq":3,"at":"2024-01-01T00:00:00Z","type":"reaction_added","data":{}}"#;
        assert!(matches!(
            t.admit(newer),
            Some(LiveEvent::Unknown { seq: Some(3), .. })
        ));
        assert_eq!(t.last(), Some(3));
        assert!(t.admit(newer).is_none(), "a duplicate even if not understood");
        assert!(matches!(
            t.admit("not json"),
            Some(LiveEvent::Unknown { seq: None, .. })
        ));
    }
}
