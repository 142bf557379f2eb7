//! What can happen to the TUI ([`Action`]: input, network results, live
//! events, ticks) and what the TUI asks the outside world to do ([`Effect`]).
//! [`super::app::App::update`] turns the first into state changes and the
//! second; the event loop runs the effects and feeds their results back.

use crate::live::ConnState;
use crate::local::OutboxItem;
use crossterm::event::KeyEvent;
use mchat_shared::api::{
    Attachment, Availability, Conversation, Message, MessagePage, Notification, ScheduledItem, SearchHit,
    Template, User,
};
use mchat_shared::realtime::ServerFrame;
use mchat_shared::{ConversationId, MessageId, ScheduledId};
use std::path::PathBuf;

/// An input to [`super::app::App::update`].
#[derive(Debug, Clone)]
pub enum Action {
    /// A key press.
    Key(KeyEvent),
    /// About once a second: expire typing lines, retry the outbox.
    Tick,
    /// A frame from the live connection.
    Frame(ServerFrame),
    /// The live connection's state changed.
    Conn(ConnState),
    /// Who I am (from the server).
    Me(User),
    /// The conversation list (from the server or the local cache).
    Conversations { list: Vec<Conversation>, cached: bool },
    /// A page of a thread; `older` when it was asked with `before`.
    Messages {
        conversation: ConversationId,
        page: MessagePage,
        older: bool,
    },
    /// Cached messages of a thread, shown until the server answers.
    CachedMessages {
        conversation: ConversationId,
        messages: Vec<Message>,
    },
    /// The outbox as it is now in the local store.
    Outbox(Vec<OutboxItem>),
    /// The server stored a message I sent (from the outbox).
    Sent(Message),
    /// A conversation changed by my own action (accept, decline, request).
    Conversation(Box<Conversation>),
    /// The mentor directory.
    Mentors(Vec<User>),
    /// My notifications.
    Notifications(Vec<Notification>),
    /// A page around a message I jumped to (search): `older` ends with it,
    /// `newer` follows it.
    Around {
        conversation: ConversationId,
        target: MessageId,
        older: MessagePage,
        newer: MessagePage,
    },
    /// A page newer than the newest loaded (after a jump).
    NewerMessages {
        conversation: ConversationId,
        page: MessagePage,
    },
    /// A message as it is after my edit, delete or reaction.
    Updated(Message),
    /// My settings of a conversation (from the server).
    Settings {
        conversation: ConversationId,
        muted: bool,
        archived: bool,
    },
    /// The archived conversations (shown with `A`).
    Archived(Vec<Conversation>),
    /// Search results for `query`.
    SearchResults { query: String, hits: Vec<SearchHit> },
    /// My templates, for the picker.
    Templates(Vec<Template>),
    /// My pending scheduled items.
    Scheduled(Vec<ScheduledItem>),
    /// One scheduled item changed (cancelled by me).
    ScheduledItem(ScheduledItem),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// Something failed: shown on the status line.
    Error(String),
    /// A request failed because the server could not be reached: shown on
    /// the status line until the live connection is back.
    Unreachable(String),
    /// An informative note for the status line.
    Note(String),
}

/// A side effect asked for by the update logic.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Refetch the conversation list (and cache it).
    LoadConversations,
    /// Fetch a page of a thread (the newest, or older than `before`).
    LoadMessages {
        conversation: ConversationId,
        before: Option<MessageId>,
    },
    /// Move my read marker.
    MarkRead {
        conversation: ConversationId,
        up_to: MessageId,
    },
    /// Queue a message in the outbox, then flush.
    Send {
        conversation: ConversationId,
        target: String,
        body: String,
        reply_to: Option<MessageId>,
    },
    /// Send what the outbox holds: `all` waiting items (on connect) or only due ones.
    FlushOutbox {
        all: bool,
    },
    /// Retry a refused/failed outbox item now.
    RetryOutbox(i64),
    /// Forget an outbox item.
    DropOutbox(i64),
    /// Tell the peer I am typing.
    Typing(ConversationId),
    Accept(ConversationId),
    /// Complete (read-only, history kept) or reopen a conversation.
    Complete(ConversationId),
    Reopen(ConversationId),
    /// Reconnect the live connection now (skip the backoff wait).
    Reconnect,
    Decline {
        conversation: ConversationId,
        reason: Option<String>,
    },
    /// Ask a mentor for a conversation with an intro.
    Request {
        username: String,
        intro: String,
    },
    SetAvailability(Availability),
    LoadMentors {
        available_only: bool,
        expertise: Option<String>,
    },
    LoadNotifications,
    MarkNotificationsRead,
    /// Persist the live cursor (`reset`: may go back, after a resync).
    SaveCursor {
        seq: i64,
        reset: bool,
    },
    /// Keep messages in the local cache.
    CacheMessages {
        conversation: ConversationId,
        messages: Vec<Message>,
    },
    /// Keep the conversation list in the local cache.
    CacheConversations(Vec<Conversation>),
    /// Replace the body of my message.
    Edit {
        message: MessageId,
        body: String,
    },
    /// Delete my message (a tombstone stays).
    Delete(MessageId),
    /// Add or remove my reaction.
    React {
        message: MessageId,
        emoji: String,
        add: bool,
    },
    /// Save an attachment into `dir` (None: ~/Downloads, else the cwd).
    Download {
        file: Attachment,
        dir: Option<PathBuf>,
    },
    /// Search every conversation.
    Search(String),
    /// Load the page around a message (before `id + 1`, then after it).
    LoadAround {
        conversation: ConversationId,
        message: MessageId,
    },
    /// Load the page after the newest loaded message.
    LoadNewer {
        conversation: ConversationId,
        after: MessageId,
    },
    /// Mute/unmute, archive/unarchive.
    SetSettings {
        conversation: ConversationId,
        muted: Option<bool>,
        archived: Option<bool>,
    },
    LoadArchived,
    LoadTemplates,
    LoadScheduled,
    CancelScheduled(ScheduledId),
    /// Ring the terminal bell.
    Bell,
    /// Leave the TUI.
    Quit,
}
