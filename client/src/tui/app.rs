//! The TUI's state and the single place it changes: [`App::update`] takes
//! an [`Action`] and returns the [`Effect`]s to run. Views only read it.
//! Key handling lives in [`super::input`], network and live events in
//! [`super::network`].

use super::action::{Action, Effect};
use super::keys::KeyMap;
use super::theme::Theme;
use crate::cli::commands::conversations::inbox_order;
use crate::local::OutboxItem;
use mchat_shared::Timestamp;
use mchat_shared::api::{
    Availability, Conversation, ConversationStatus, Message, MessageKind, Notification, NotificationKind,
    ScheduledItem, ScheduledStatus, SearchHit, Template, User,
};
use mchat_shared::realtime::PresenceState;
use mchat_shared::{ConversationId, MessageId};
use ratatui_textarea::TextArea;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a typing line stays without renewal.
pub const TYPING_TTL: Duration = Duration::from_secs(6);
/// The list keeps its order this long after a move in it, so rows do not
/// jump under the cursor while messages arrive; then it settles.
pub const LIST_SETTLE: Duration = Duration::from_secs(3);
/// How often I tell the peer I am still typing.
pub const TYPING_RENEW: Duration = Duration::from_secs(3);

/// The five tabs, and the search results (entered with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Chats,
    Requests,
    Mentors,
    Notifications,
    Scheduled,
    Search,
}

/// Which pane of the Chats view has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Thread,
    Composer,
}

/// The header's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Connected,
    Reconnecting,
    Offline,
}

/// A one-line question at the bottom (decline reason, intro, search, filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    DeclineReason(ConversationId),
    Intro(String),
    Search,
    Expertise,
    /// "delete this message? y/n" (answered by one key).
    ConfirmDelete(MessageId),
}

impl PromptKind {
    pub fn label(&self) -> String {
        match self {
            PromptKind::DeclineReason(_) => "decline, reason (optional): ".into(),
            PromptKind::Intro(who) => format!("intro for {}: ", crate::sanitize::line(who)),
            PromptKind::Search => "search all conversations: ".into(),
            PromptKind::Expertise => "expertise tag (empty: all): ".into(),
            PromptKind::ConfirmDelete(_) => "delete this message for everyone? y/n ".into(),
        }
    }
}

/// A small popup list over the current view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picker {
    /// `+`: a reaction for a message; `custom` is an emoji being typed.
    React {
        message: MessageId,
        selected: usize,
        custom: String,
    },
    /// Ctrl-T in the composer: a saved reply to insert.
    Template {
        templates: Vec<Template>,
        selected: usize,
    },
}

/// The reactions the `+` picker offers (anything else can be typed).
pub const QUICK_REACTIONS: &[&str] = &["👍", "❤️", "😂", "🎉", "🙏", "👀", "✅"];

/// The server-side search (`/`): the results and which one is highlighted.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub query: String,
    pub hits: Vec<SearchHit>,
    pub selected: usize,
    /// The query is on its way.
    pub loading: bool,
    /// The view to go back to on Esc.
    pub back: Option<View>,
    /// The hit last jumped to (so `n` can go to the next one).
    pub jumped: Option<usize>,
    /// The server has more hits than are shown (refine the words).
    pub more: bool,
}

/// How many hits the search list shows (one more is asked for, to know
/// whether there are more).
pub const SEARCH_SHOWN: usize = 50;

/// One thread as loaded so far.
#[derive(Debug, Clone, Default)]
pub struct Thread {
    /// Oldest first, unique ids.
    pub messages: Vec<Message>,
    /// Older messages exist on the server.
    pub has_more: bool,
    /// An older page is on its way.
    pub loading_older: bool,
    /// Messages hidden below the view (0: pinned to the newest). The
    /// bottom message of the view is the selected one (the message cursor).
    pub scroll: usize,
    /// Newer messages exist on the server than the newest loaded (after a
    /// jump into the middle of history); live messages wait until then.
    pub has_newer: bool,
    /// A newer page is on its way.
    pub loading_newer: bool,
}

impl Thread {
    /// Adds or replaces messages, keeping id order.
    pub fn merge(&mut self, messages: impl IntoIterator<Item = Message>) {
        for m in messages {
            match self.messages.binary_search_by(|x| x.id.cmp(&m.id)) {
                Ok(i) => self.messages[i] = m,
                Err(i) => {
                    // A new message below the view keeps what I am reading in place.
                    let hidden_from = self.messages.len().saturating_sub(self.scroll);
                    if self.scroll > 0 && i >= hidden_from {
                        self.scroll += 1;
                    }
                    self.messages.insert(i, m);
                }
            }
        }
    }

    pub fn last_id(&self) -> Option<MessageId> {
        self.messages.last().map(|m| m.id)
    }

    /// The message under the cursor: the bottom one of the view.
    pub fn selected(&self) -> Option<&Message> {
        let end = self.messages.len().checked_sub(self.scroll + 1)?;
        self.messages.get(end)
    }

    /// Puts the cursor (the bottom of the view) on message `id`, if loaded.
    pub fn select(&mut self, id: MessageId) -> bool {
        match self.messages.binary_search_by(|x| x.id.cmp(&id)) {
            Ok(i) => {
                self.scroll = self.messages.len() - 1 - i;
                true
            }
            Err(_) => false,
        }
    }
}

/// Everything the TUI shows.
#[derive(Debug)]
pub struct App {
    pub me: User,
    pub conversations: Vec<Conversation>,
    /// Index into [`App::conversations`] of the highlighted one.
    pub selected: usize,
    /// The conversation shown in the thread pane.
    pub open: Option<ConversationId>,
    pub threads: HashMap<ConversationId, Thread>,
    pub outbox: Vec<OutboxItem>,
    pub conn: Conn,
    /// Live replay in progress (no bell while catching up).
    pub replaying: bool,
    pub typing: HashMap<ConversationId, (String, Instant)>,
    pub presence: HashMap<String, PresenceState>,
    pub view: View,
    pub focus: Focus,
    pub composer: TextArea<'static>,
    /// The message the composer replies to.
    pub reply_to: Option<MessageId>,
    /// My message the composer is editing (Enter saves the edit).
    pub editing: Option<MessageId>,
    pub prompt: Option<Prompt>,
    /// A popup picker (reactions, templates).
    pub picker: Option<Picker>,
    /// The last server search and its results.
    pub search: Option<Search>,
    /// Archived conversations are listed too (`A`).
    pub show_archived: bool,
    /// My pending scheduled messages and reminders, by due time.
    pub scheduled: Vec<ScheduledItem>,
    pub scheduled_selected: usize,
    /// Where `s` saves attachments (`[tui] download_dir`; else ~/Downloads or the cwd).
    pub download_dir: Option<PathBuf>,
    pub help: bool,
    /// First line of the help overlay shown (it scrolls when it does not fit).
    pub help_scroll: u16,
    /// The terminal's size, as last reported (what scrolling bounds itself by).
    pub size: ratatui::layout::Rect,
    pub status: Option<String>,
    /// `status` says the server could not be reached: cleared when the
    /// live connection is back (a mentor may leave the TUI open for hours).
    pub status_offline: bool,
    pub mentors: Vec<User>,
    pub mentors_available_only: bool,
    pub mentors_expertise: Option<String>,
    pub mentor_selected: usize,
    pub requests_selected: usize,
    pub notifications: Vec<Notification>,
    pub notification_selected: usize,
    pub keys: KeyMap,
    pub theme: Theme,
    pub bell: bool,
    /// "Now" for relative times (set on every tick; fixed in tests).
    pub now: Timestamp,
    pub last_typing_sent: Option<Instant>,
    pub flushing: bool,
    /// The conversation list changed since it was last cached.
    pub cache_dirty: bool,
    /// When the list was last moved in (see [`LIST_SETTLE`]).
    pub list_touched: Option<Instant>,
    /// A re-sort waits for the list to settle.
    pub resort_pending: bool,
    /// Select this peer's conversation when the list first has it.
    pub start_with: Option<String>,
    pub quit: bool,
}

impl App {
    pub fn new(me: User, keys: KeyMap, theme: Theme, bell: bool) -> App {
        App {
            me,
            conversations: Vec::new(),
            selected: 0,
            open: None,
            threads: HashMap::new(),
            outbox: Vec::new(),
            conn: Conn::Connecting,
            replaying: false,
            typing: HashMap::new(),
            presence: HashMap::new(),
            view: View::Chats,
            focus: Focus::List,
            composer: new_composer(),
            reply_to: None,
            editing: None,
            prompt: None,
            picker: None,
            search: None,
            show_archived: false,
            scheduled: Vec::new(),
            scheduled_selected: 0,
            download_dir: None,
            help: false,
            help_scroll: 0,
            size: ratatui::layout::Rect::new(0, 0, 80, 24),
            status: None,
            status_offline: false,
            mentors: Vec::new(),
            mentors_available_only: false,
            mentors_expertise: None,
            mentor_selected: 0,
            requests_selected: 0,
            notifications: Vec::new(),
            notification_selected: 0,
            keys,
            theme,
            bell,
            now: Timestamp::now(),
            last_typing_sent: None,
            flushing: false,
            cache_dirty: false,
            list_touched: None,
            resort_pending: false,
            start_with: None,
            quit: false,
        }
    }

    /// The one entry point for changes.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => {
                let effects = super::input::key(self, key);
                // Leaving the list (or opening from it) lets a waiting re-sort happen.
                if self.resort_pending && !self.list_frozen() {
                    self.resort();
                }
                effects
            }
            Action::Tick => self.tick(),
            other => super::network::apply(self, other),
        }
    }

    fn tick(&mut self) -> Vec<Effect> {
        self.now = Timestamp::now();
        let now = Instant::now();
        self.typing.retain(|_, (_, until)| *until > now);
        let due = self
            .outbox
            .iter()
            .any(|i| i.next_attempt_at != REFUSED && i.next_attempt_at <= crate::local::now_ms());
        let mut effects = Vec::new();
        if due && !self.flushing && self.conn != Conn::Offline {
            self.flushing = true;
            effects.push(Effect::FlushOutbox { all: false });
        }
        if self.resort_pending && !self.list_frozen() {
            self.resort();
        }
        if self.cache_dirty {
            self.cache_dirty = false;
            effects.push(Effect::CacheConversations(self.conversations.clone()));
        }
        effects
    }

    pub fn my_name(&self) -> &str {
        &self.me.username
    }

    pub fn is_mentor(&self) -> bool {
        self.me.role == mchat_shared::api::Role::Mentor
    }

    pub fn availability(&self) -> Option<Availability> {
        self.me.availability
    }

    pub fn total_unread(&self) -> u32 {
        self.conversations
            .iter()
            .filter(|c| !c.muted)
            .map(|c| c.unread)
            .sum()
    }

    pub fn conversation(&self, id: ConversationId) -> Option<&Conversation> {
        self.conversations.iter().find(|c| c.id == id)
    }

    pub fn conversation_mut(&mut self, id: ConversationId) -> Option<&mut Conversation> {
        self.conversations.iter_mut().find(|c| c.id == id)
    }

    pub fn selected_conversation(&self) -> Option<&Conversation> {
        self.conversations.get(self.selected)
    }

    pub fn open_conversation(&self) -> Option<&Conversation> {
        self.open.and_then(|id| self.conversation(id))
    }

    /// Archived conversations stay hidden until they have something unread
    /// (or until `A` shows them).
    pub fn visible(&self, c: &Conversation) -> bool {
        self.show_archived || !c.archived || c.unread > 0
    }

    /// The open thread's message under the cursor.
    pub fn selected_message(&self) -> Option<&Message> {
        self.threads.get(&self.open?)?.selected()
    }

    /// Whether I may edit or delete `m`: my own, not a system message, not deleted.
    pub fn can_change(&self, m: &Message) -> bool {
        m.sender.as_deref() == Some(self.my_name()) && m.kind != MessageKind::System && m.deleted_at.is_none()
    }

    /// The newest unread announcement, for the banner.
    pub fn unread_announcement(&self) -> Option<&Notification> {
        self.notifications
            .iter()
            .find(|n| n.kind == NotificationKind::Announcement && n.read_at.is_none())
    }

    /// Adds, replaces or (once no longer pending) removes a scheduled item.
    pub fn upsert_scheduled(&mut self, item: ScheduledItem) {
        self.scheduled.retain(|i| i.id != item.id);
        if item.status == ScheduledStatus::Pending {
            let at = self
                .scheduled
                .partition_point(|i| (i.due_at, i.id) < (item.due_at, item.id));
            self.scheduled.insert(at, item);
        }
        self.scheduled_selected = self
            .scheduled_selected
            .min(self.scheduled.len().saturating_sub(1));
    }

    /// Incoming pending requests, oldest first (the Requests view).
    pub fn incoming_requests(&self) -> Vec<&Conversation> {
        let me = self.my_name();
        let mut v: Vec<&Conversation> = self
            .conversations
            .iter()
            .filter(|c| c.status == ConversationStatus::Pending && c.requested_by != me)
            .collect();
        v.sort_by_key(|c| c.created_at);
        v
    }

    /// Requests I made that are still pending.
    pub fn outgoing_requests(&self) -> Vec<&Conversation> {
        let me = self.my_name();
        self.conversations
            .iter()
            .filter(|c| c.status == ConversationStatus::Pending && c.requested_by == me)
            .collect()
    }

    /// Queued messages of a conversation.
    pub fn queued_for(&self, id: ConversationId) -> impl Iterator<Item = &OutboxItem> {
        self.outbox
            .iter()
            .filter(move |i| i.conversation_id == Some(id.0))
    }

    /// Re-sorts the list like `mchat inbox`, keeping the highlighted conversation.
    pub fn resort(&mut self) {
        self.cache_dirty = true;
        if self.list_frozen() {
            self.resort_pending = true;
            return;
        }
        self.resort_pending = false;
        let keep = self.selected_conversation().map(|c| c.id);
        inbox_order(&mut self.conversations);
        self.selected = 0;
        if let Some(id) = keep
            && let Some(i) = self.conversations.iter().position(|c| c.id == id)
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.conversations.len().saturating_sub(1));
    }

    /// Someone is moving in the list right now: keep its order.
    pub fn list_frozen(&self) -> bool {
        self.view == View::Chats
            && self.focus == Focus::List
            && self.list_touched.is_some_and(|t| t.elapsed() < LIST_SETTLE)
    }

    /// The thread pane is showing `id` right now (so new messages are read).
    pub fn is_reading(&self, id: ConversationId) -> bool {
        self.view == View::Chats && self.open == Some(id)
    }
}

/// `next_attempt_at` of an outbox item the server refused for good (the
/// CLI's convention): it stays until retried or dropped.
pub const REFUSED: i64 = crate::local::OUTBOX_REFUSED;

/// A fresh composer.
pub fn new_composer() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(ratatui::style::Style::default());
    t.set_placeholder_text("write a message — enter sends, alt-enter new line");
    t.set_placeholder_style(ratatui::style::Style::default().add_modifier(ratatui::style::Modifier::DIM));
    t
}
