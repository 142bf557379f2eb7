//! What `watch` prints for a frame: one sanitised human line (or a few, for
//! a multi-line message), or the frame's JSON on one line.

use super::super::super::output::{BOLD, CYAN, DIM, GREEN, YELLOW, clock, paint, safe, safe_text, width};
use mchat_shared::api::{Message, MessageKind, NotificationKind};
use mchat_shared::events::{Event, EventKind};
use mchat_shared::realtime::{PresenceState, ServerFrame, Signal};
use std::borrow::Cow;

/// The `type` of a frame, as in its JSON (`message_new`, `typing`, ...).
pub fn frame_type(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Event(ev) => ev.kind.name(),
        ServerFrame::Signal(Signal::Typing { .. }) => "typing",
        ServerFrame::Signal(Signal::Presence { .. }) => "presence",
        ServerFrame::Signal(Signal::Ready { .. }) => "ready",
    }
}

/// The `type` of a frame this client does not understand, if it has one
/// made of tame characters.
pub fn unknown_type(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_string))
        .filter(|t| {
            !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// A frame's JSON text as one line that is safe on a terminal, or `None`
/// when it is not JSON at all. The text is kept as the server sent it,
/// except that characters a terminal could act on (controls, bidi
/// overrides, invisible characters) are written as `\uXXXX` escapes, and
/// whitespace line breaks become spaces. In valid JSON such characters can
/// only stand inside strings, where the escape means the same character,
/// so the document is unchanged for any JSON reader.
pub fn json_line(raw: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<serde::de::IgnoredAny>(raw).ok()?;
    let risky = |c: char| c.is_control() || needs_escape(c);
    if !raw.chars().any(risky) {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            // Outside strings (raw ones are invalid JSON inside): whitespace.
            '\n' | '\r' | '\t' => out.push(' '),
            c if risky(c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    Some(Cow::Owned(out))
}

/// Would the terminal sanitiser change `c` on its own (bidi controls,
/// invisible and hidden-format characters, tags, ...)? In JSON an escape is
/// always harmless, so everything it would touch is escaped.
fn needs_escape(c: char) -> bool {
    let mut buf = [0u8; 4];
    matches!(crate::sanitize::line(c.encode_utf8(&mut buf)), Cow::Owned(_))
}

/// Who "you" are and who the peer of a message's conversation is, for
/// "ana → you" lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Names<'a> {
    pub me: Option<&'a str>,
    pub peer: Option<&'a str>,
}

/// The human line(s) for an event, or `None` when human mode leaves it out:
/// without `verbose`, read markers, conversation status changes (the
/// system message or notification says it) and profile updates, and
/// notifications about a message (the message itself is shown).
pub fn event_line(ev: &Event, names: Names<'_>, verbose: bool) -> Option<String> {
    let when = paint(DIM, clock(ev.at));
    match &ev.kind {
        EventKind::MessageNew { message } => {
            let system = message.kind == MessageKind::System;
            // Someone else's action reaches me as a notification too.
            let covered = system && message.sender.is_some() && message.sender.as_deref() != names.me;
            (verbose || !covered).then(|| message_line(message, names))
        }
        EventKind::MessageUpdated { message } => Some(updated_line(message, names, &when)),
        EventKind::NotificationNew { notification } => {
            (verbose || notification.kind != NotificationKind::MessageReceived).then(|| {
                format!(
                    "{}  {}",
                    paint(DIM, clock(notification.created_at)),
                    paint(YELLOW, safe(&notification.body))
                )
            })
        }
        EventKind::Resync => Some(format!(
            "{when}  {}",
            paint(
                YELLOW,
                "· some events were too old to replay; 'mchat inbox' shows where things stand"
            )
        )),
        EventKind::ConversationUpdated {
            conversation_id,
            status,
            actor,
        } if verbose => Some(format!(
            "{when}  {}",
            paint(
                DIM,
                format!(
                    "· conversation {conversation_id} is now {status}{}",
                    actor
                        .as_deref()
                        .map(|a| format!(" ({})", safe(a)))
                        .unwrap_or_default()
                )
            )
        )),
        EventKind::MarkersUpdated {
            conversation_id,
            markers,
        } if verbose => Some(format!(
            "{when}  {}",
            paint(
                DIM,
                format!(
                    "· {} has read up to #{} (delivered #{}) in conversation {conversation_id}",
                    safe(&markers.username),
                    markers.read_up_to,
                    markers.delivered_up_to
                )
            )
        )),
        EventKind::UserUpdated { user } if verbose => Some(format!(
            "{when}  {}",
            paint(DIM, format!("· {} updated their profile", safe(&user.username)))
        )),
        _ => None,
    }
}

/// Who wrote `m` and to whom, as shown: (mine, "you" or the sanitised
/// sender, the sanitised peer or "you").
fn direction(m: &Message, names: Names<'_>) -> (bool, String, String) {
    let sender = m.sender.as_deref().unwrap_or("?");
    let mine = match (names.me, names.peer) {
        (Some(me), _) => me == sender,
        (None, Some(peer)) => peer != sender,
        (None, None) => false,
    };
    if mine {
        let to = names.peer.map_or(Cow::Borrowed("?"), safe).into_owned();
        (true, "you".to_string(), to)
    } else {
        (false, safe(sender).into_owned(), "you".to_string())
    }
}

/// `13:04  ana → you  hello`; continuation lines of a multi-line body are
/// indented under the first; system messages are `13:04  · text`.
pub fn message_line(m: &Message, names: Names<'_>) -> String {
    let when = clock(m.created_at);
    if m.kind == MessageKind::System {
        return format!(
            "{}  {}",
            paint(DIM, &when),
            paint(DIM, format!("· {}", safe(&m.body)))
        );
    }
    let (mine, from, to) = direction(m, names);
    let body = if m.deleted_at.is_some() {
        paint(DIM, "(deleted)")
    } else {
        let plain = format!("{when}  {from} → {to}  ");
        let indent = format!("\n{}", " ".repeat(width(&plain)));
        let text = safe_text(&m.body).replace('\n', &indent);
        match m.kind {
            MessageKind::File => format!("{} {text}", paint(CYAN, "[file]")),
            _ => text,
        }
    };
    format!(
        "{}  {} → {}  {body}",
        paint(DIM, &when),
        paint(if mine { GREEN } else { BOLD }, from),
        to
    )
}

/// `13:05  · #12 ana → you (edited): new text · 👍 2 ana, mona` for an edit
/// or a reaction, `13:05  · #12 ana → you: message deleted` for a deletion.
/// One line: the body is flattened and shortened.
pub fn updated_line(m: &Message, names: Names<'_>, when: &str) -> String {
    let (_, from, to) = direction(m, names);
    let mut text = format!("· #{} {from} → {to}", m.id);
    if m.deleted_at.is_some() {
        text.push_str(": message deleted");
        return format!("{when}  {}", paint(DIM, text));
    }
    if m.edited_at.is_some() {
        text.push_str(" (edited)");
    }
    let flat = safe(&m.body.replace('\n', " ")).into_owned();
    text.push_str(&format!(": {}", super::super::super::output::truncate(&flat, 80)));
    for r in &m.reactions {
        let users: Vec<_> = r.users.iter().map(|u| safe(u)).collect();
        text.push_str(&format!(" · {} {} {}", safe(&r.emoji), r.count, users.join(", ")));
    }
    format!("{when}  {}", paint(CYAN, text))
}

/// The human line for a signal (`ready` has none; typing stops only with
/// `verbose`).
pub fn signal_line(signal: &Signal, verbose: bool) -> Option<String> {
    match signal {
        Signal::Typing {
            username,
            active: true,
            ..
        } => Some(paint(DIM, format!("{} is typing…", safe(username)))),
        Signal::Typing { username, .. } if verbose => {
            Some(paint(DIM, format!("{} stopped typing", safe(username))))
        }
        Signal::Presence { username, state, .. } => {
            let state = match state {
                PresenceState::Online => "online",
                PresenceState::Away => "away",
                PresenceState::Busy => "busy",
                PresenceState::Offline => "offline",
            };
            Some(paint(DIM, format!("{} is {state}", safe(username))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mchat_shared::Timestamp;
    use mchat_shared::{ConversationId, MessageId, Seq};

    fn message(sender: &str, body: &str, kind: MessageKind) -> Message {
        Message {
            id: MessageId(9),
            conversation_id: ConversationId(2),
            sender: Some(sender.into()),
            kind,
            body: body.into(),
            system: None,
            client_id: None,
            reply_to: None,
            created_at: Timestamp::now(),
            edited_at: None,
            deleted_at: None,
            reply: None,
            reactions: Vec::new(),
            attachment: None,
        }
    }

    const MONA: Names<'static> = Names {
        me: Some("mona"),
        peer: Some("ana"),
    };

    use crate::cli::output::unstyled as plain;

    fn after_clock(line: &str) -> String {
        let line = plain(line);
        line.split_once("  ")
            .map(|(_, rest)| rest.to_string())
            .unwrap_or(line)
    }

    #[test]
    fn message_lines_say_who_to_whom() {
        let line = message_line(&message("ana", "hello", MessageKind::Text), MONA);
        assert_eq!(after_clock(&line), "ana → you  hello");
        let line = message_line(&message("mona", "hi ana", MessageKind::Text), MONA);
        assert_eq!(after_clock(&line), "you → ana  hi ana");
        // Without knowing who I am, the peer decides.
        let names = Names {
            me: None,
            peer: Some("ana"),
        };
        let line = message_line(&message("mona", "x", MessageKind::Text), names);
        assert_eq!(after_clock(&line), "you → ana  x");
        let line = plain(&message_line(&message("ana", "a\nb", MessageKind::Text), MONA));
        let mut lines = line.lines();
        let (first, second) = (lines.next().unwrap(), lines.next().unwrap());
        assert!(first.ends_with("ana → you  a"), "{line:?}");
        assert_eq!(second.trim_start(), "b");
        assert_eq!(
            width(second),
            width(first),
            "continuation lines line up: {line:?}"
        );
    }

    #[test]
    fn hostile_text_is_sanitised() {
        let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}evil";
        let mut m = message("ana\u{1b}[31m", hostile, MessageKind::Text);
        m.sender = Some("ana\u{1b}[31m".into());
        let line = plain(&message_line(&m, MONA));
        assert!(!line.chars().any(|c| c.is_control() && c != '\n'), "{line:?}");
        assert!(!line.contains('\u{202e}'), "{line:?}");
        assert!(line.contains("␛]0;pwned"), "{line:?}");
        let sig = Signal::Typing {
            conversation_id: ConversationId(1),
            username: "x\u{1b}[2Jy".into(),
            active: true,
        };
        let line = plain(&signal_line(&sig, false).unwrap());
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(line, "x␛[2Jy is typing…");
    }

    #[test]
    fn json_lines_stay_json_and_terminal_safe() {
        let raw = "{\"type\":\"x\",\"data\":{\"body\":\"a\u{9b}2J\u{202e}b\u{7f}\"}}";
        let line = json_line(raw).unwrap();
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || mchat_shared::validate::is_bidi_control(c)),
            "{line}"
        );
        let a: serde_json::Value = serde_json::from_str(raw).unwrap();
        let b: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(a, b, "same document");
        let pretty = "{\n  \"seq\": 1\n}";
        assert_eq!(json_line(pretty).unwrap(), "{   \"seq\": 1 }");
        assert!(matches!(json_line("{\"a\":1}"), Some(Cow::Borrowed(_))));
        assert!(json_line("not json").is_none());
        let astral = "{\"t\":\"\u{e0041}\u{fff9}\"}";
        let line = json_line(astral).unwrap();
        assert!(line.is_ascii(), "{line}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap()["t"],
            "\u{e0041}\u{fff9}"
        );
    }

    #[test]
    fn quiet_kinds_need_verbose() {
        let ev = Event {
            seq: Seq(3),
            at: Timestamp::now(),
            kind: EventKind::MarkersUpdated {
                conversation_id: ConversationId(2),
                markers: mchat_shared::api::ReadMarker {
                    username: "ana".into(),
                    delivered_up_to: MessageId(5),
                    read_up_to: MessageId(4),
                },
            },
        };
        assert!(event_line(&ev, MONA, false).is_none());
        assert!(plain(&event_line(&ev, MONA, true).unwrap()).contains("ana has read up to #4"));
        let sys = Event {
            kind: EventKind::MessageNew {
                message: message("ana", "ana accepted the request", MessageKind::System),
            },
            ..ev.clone()
        };
        assert!(
            event_line(&sys, MONA, false).is_none(),
            "the notification says it"
        );
        let mine = Event {
            kind: EventKind::MessageNew {
                message: message("mona", "mona accepted the request", MessageKind::System),
            },
            ..ev
        };
        assert!(
            after_clock(&event_line(&mine, MONA, false).unwrap()).contains("· mona accepted the request")
        );
        assert_eq!(frame_type(&ServerFrame::Event(Box::new(sys))), "message_new");
    }

    #[test]
    fn updates_are_one_line() {
        let mut m = message("ana", "new\ntext", MessageKind::Text);
        m.edited_at = Some(Timestamp::now());
        m.reactions = vec![mchat_shared::api::Reaction {
            emoji: "👍".into(),
            count: 2,
            users: vec!["ana".into(), "mona\u{1b}[2J".into()],
        }];
        let ev = Event {
            seq: Seq(4),
            at: Timestamp::now(),
            kind: EventKind::MessageUpdated { message: m.clone() },
        };
        let line = after_clock(&event_line(&ev, MONA, false).unwrap());
        assert_eq!(line, "· #9 ana → you (edited): new text · 👍 2 ana, mona␛[2J");
        m.deleted_at = Some(Timestamp::now());
        m.sender = Some("mona".into());
        let line = after_clock(&updated_line(&m, MONA, "13:00"));
        assert_eq!(line, "· #9 you → ana: message deleted");
        assert_eq!(frame_type(&ServerFrame::Event(Box::new(ev))), "message_updated");
    }

    #[test]
    fn unknown_types_are_tame() {
        assert_eq!(unknown_type(r#"{"type":"reaction_added"}"#), "reaction_added");
        assert_eq!(unknown_type(r#"{"type":"a b"}"#), "unknown");
        assert_eq!(unknown_type("nope"), "unknown");
    }
}
