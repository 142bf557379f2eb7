//! Keybindings: every [`Command`] has default keys, and the `[tui.keys]`
//! table of the client config replaces them per command:
//!
//! ```toml
//! [tui.keys]
//! quit = ["q", "ctrl-c"]
//! next_unread = "n"
//! ```
//!
//! A key is `a`, `A`, `?`, `enter`, `esc`, `tab`, `backtab`, `backspace`,
//! `up`, `down`, `left`, `right`, `pageup`, `pagedown`, `home`, `end`,
//! `f1`…`f12`, `space`, with optional `ctrl-`, `alt-`, `shift-` prefixes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

macro_rules! commands {
    ($( $variant:ident $name:literal [$($key:literal),*] $help:literal ),* $(,)?) => {
        /// Something a key can do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command { $($variant),* }

        impl Command {
            /// Every command, in help order.
            pub const ALL: &'static [Command] = &[$(Command::$variant),*];
            /// The name used in `[tui.keys]`.
            pub fn name(self) -> &'static str {
                match self { $(Command::$variant => $name),* }
            }
            /// One line for the help overlay.
            pub fn help(self) -> &'static str {
                match self { $(Command::$variant => $help),* }
            }
            fn defaults(self) -> &'static [&'static str] {
                match self { $(Command::$variant => &[$($key),*]),* }
            }
        }
    };
}

commands! {
    Quit "quit" ["q", "ctrl-c"] "quit",
    Help "help" ["?", "f1"] "this help",
    NextPane "next_pane" ["tab"] "next pane",
    PrevPane "prev_pane" ["backtab"] "previous pane",
    Up "up" ["up", "k"] "up / scroll up",
    Down "down" ["down", "j"] "down / scroll down",
    PageUp "page_up" ["pageup", "ctrl-b"] "page up (older history)",
    PageDown "page_down" ["pagedown", "ctrl-f"] "page down",
    Top "top" ["home", "g"] "first / oldest",
    Bottom "bottom" ["end", "G"] "last / newest",
    Open "open" ["enter", "l", "right"] "open / act on the item",
    Back "back" ["esc", "h", "left"] "back to the list",
    Compose "compose" ["i", "c"] "write a message",
    Reply "reply" ["r"] "reply to the selected message",
    Edit "edit" ["e"] "edit my selected message",
    Delete "delete" ["d"] "delete my selected message",
    React "react" ["+"] "react to the selected message",
    SaveFile "save_file" ["s"] "save its attachment (thread)",
    Send "send" ["enter"] "send (composer)",
    Newline "newline" ["alt-enter", "shift-enter", "ctrl-j"] "new line (composer)",
    Search "search" ["/"] "search all conversations",
    Template "template" ["ctrl-t"] "insert a template (composer)",
    NextUnread "next_unread" ["n"] "next unread chat / search hit",
    PrevUnread "prev_unread" ["p"] "previous unread chat",
    Accept "accept" ["a"] "accept a request",
    Decline "decline" ["x"] "decline (with a reason)",
    CompleteChat "complete" ["C"] "complete the chat (read-only, history kept)",
    ReopenChat "reopen" ["O"] "reopen a completed chat",
    Reconnect "reconnect" ["ctrl-r"] "reconnect now (when the server is away)",
    Availability "availability" ["s"] "cycle my availability",
    Mute "mute" ["m"] "mute / unmute the chat",
    Archive "archive" ["z"] "archive / unarchive the chat",
    ShowArchived "show_archived" ["A"] "show / hide archived chats",
    Retry "retry" ["R"] "retry a failed message",
    DropQueued "drop" ["D"] "drop a failed message",
    ViewChats "view_chats" ["1"] "Chats view",
    ViewRequests "view_requests" ["2"] "Requests view",
    ViewMentors "view_mentors" ["3"] "Mentors (directory)",
    ViewNotifications "view_notifications" ["4"] "Notifications view",
    ViewScheduled "view_scheduled" ["5"] "Scheduled messages, reminders",
    CancelScheduled "cancel_scheduled" ["x"] "scheduled: cancel the item",
    FilterAvailable "filter_available" ["v"] "mentors: available only",
    FilterExpertise "filter_expertise" ["f"] "mentors: expertise tag",
    MarkAllRead "mark_all_read" ["m"] "mark notifications read",
}

/// Parses a key description (see the module docs).
pub fn parse_key(s: &str) -> Option<KeyEvent> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = s.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        if lower.len() > 1 && lower.starts_with("ctrl-") {
            mods |= KeyModifiers::CONTROL;
            rest = &rest[5..];
        } else if lower.len() > 1 && lower.starts_with("alt-") {
            mods |= KeyModifiers::ALT;
            rest = &rest[4..];
        } else if lower.len() > 1 && lower.starts_with("shift-") {
            mods |= KeyModifiers::SHIFT;
            rest = &rest[6..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" => KeyCode::Backspace,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "space" => KeyCode::Char(' '),
        f if f.len() > 1
            && f.starts_with('f')
            && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
        {
            KeyCode::F(f[1..].parse().ok()?)
        }
        _ => {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCode::Char(c)
        }
    };
    Some(normalize(KeyEvent::new(code, mods)))
}

/// Terminals disagree on whether `G` comes with SHIFT; ignore SHIFT on
/// characters so that `G` and `shift-g` are the same key.
pub fn normalize(key: KeyEvent) -> KeyEvent {
    match key.code {
        KeyCode::Char(c) => {
            let c = if key.modifiers.contains(KeyModifiers::SHIFT) {
                c.to_ascii_uppercase()
            } else {
                c
            };
            KeyEvent::new(KeyCode::Char(c), key.modifiers - KeyModifiers::SHIFT)
        }
        KeyCode::BackTab => KeyEvent::new(KeyCode::BackTab, key.modifiers - KeyModifiers::SHIFT),
        _ => KeyEvent::new(key.code, key.modifiers),
    }
}

/// Shows a key the way the config writes it.
pub fn describe(key: &KeyEvent) -> String {
    let mut s = String::new();
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        s.push_str("ctrl-");
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        s.push_str("alt-");
    }
    if key.modifiers.contains(KeyModifiers::SHIFT) {
        s.push_str("shift-");
    }
    match key.code {
        KeyCode::Char(' ') => s.push_str("space"),
        KeyCode::Char(c) => s.push(c),
        KeyCode::F(n) => s.push_str(&format!("f{n}")),
        KeyCode::PageUp => s.push_str("pageup"),
        KeyCode::PageDown => s.push_str("pagedown"),
        KeyCode::BackTab => s.push_str("backtab"),
        other => s.push_str(&format!("{other:?}").to_ascii_lowercase()),
    }
    s
}

/// Which command each key runs. Several commands may share a key (`enter`
/// opens in the list and sends in the composer); the context decides.
#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: HashMap<Command, Vec<KeyEvent>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let bindings = Command::ALL
            .iter()
            .map(|c| (*c, c.defaults().iter().filter_map(|k| parse_key(k)).collect()))
            .collect();
        KeyMap { bindings }
    }
}

impl KeyMap {
    /// The defaults with `[tui.keys]` applied. Unknown commands or keys are
    /// reported as errors, so a typo does not silently lose a binding.
    pub fn from_config(table: Option<&toml::Table>) -> Result<KeyMap, String> {
        let mut map = KeyMap::default();
        let Some(table) = table else { return Ok(map) };
        for (name, value) in table {
            let command = Command::ALL
                .iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| format!("[tui.keys]: unknown command '{name}'"))?;
            let keys: Vec<&str> = match value {
                toml::Value::String(s) => vec![s.as_str()],
                toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => return Err(format!("[tui.keys].{name}: a key or a list of keys")),
            };
            let parsed = keys
                .iter()
                .map(|k| parse_key(k).ok_or_else(|| format!("[tui.keys].{name}: cannot read the key '{k}'")))
                .collect::<Result<Vec<_>, _>>()?;
            map.bindings.insert(*command, parsed);
        }
        Ok(map)
    }

    /// Whether `key` runs `command`.
    pub fn is(&self, command: Command, key: &KeyEvent) -> bool {
        let key = normalize(*key);
        self.bindings.get(&command).is_some_and(|ks| ks.contains(&key))
    }

    /// The first of `candidates` that `key` runs.
    pub fn find(&self, key: &KeyEvent, candidates: &[Command]) -> Option<Command> {
        candidates.iter().copied().find(|c| self.is(*c, key))
    }

    /// The keys of a command, for the help overlay.
    pub fn keys_of(&self, command: Command) -> Vec<String> {
        self.bindings
            .get(&command)
            .map(|ks| ks.iter().map(describe).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_configures() {
        assert_eq!(
            parse_key("ctrl-c"),
            Some(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
        );
        assert_eq!(parse_key("G"), parse_key("shift-g"));
        assert_eq!(
            parse_key("f1"),
            Some(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE))
        );
        assert!(parse_key("nonsense").is_none());
        let table: toml::Table = toml::from_str("quit = ['ctrl-q']\nnext_unread = 'N'").unwrap_or_default();
        let map = KeyMap::from_config(Some(&table)).unwrap_or_default();
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert!(map.is(Command::Quit, &ctrl_q));
        assert!(!map.is(
            Command::Quit,
            &KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)
        ));
        let bad: toml::Table = toml::from_str("qiut = 'q'").unwrap_or_default();
        assert!(KeyMap::from_config(Some(&bad)).is_err());
    }
}
