//! Runs [`Effect`]s as tasks: HTTP calls through [`Client`], the outbox and
//! the local cache (SQLite, always on `spawn_blocking`), and feeds the
//! results back as [`Action`]s.

use super::action::{Action, Effect};
use super::app::REFUSED;
use crate::api::Client;
use crate::cli::commands::outbox::{deliver, transient};
use crate::files::safe_file_name;
use crate::live::LiveHandle;
use crate::local::{LocalStore, OutboxItem, backoff_ms, now_ms};
use mchat_shared::api::{
    Attachment, ConversationSettings, CreateConversationRequest, DirectoryQuery, MessagesQuery, Role,
    SearchQuery, UpdateMeRequest,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// The kv key of the TUI's own live cursor (not `watch`'s).
pub const CURSOR_KEY: &str = "tui.cursor";
/// Messages per page.
pub const PAGE: u32 = 50;

/// What effects need.
#[derive(Clone)]
pub struct Runner {
    pub client: Client,
    pub store: Arc<Mutex<LocalStore>>,
    pub tx: UnboundedSender<Action>,
    pub flush_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Runs `f` on the store off the runtime's threads.
pub async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<LocalStore>>,
    f: impl FnOnce(&LocalStore) -> crate::local::LocalResult<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let guard = store
            .lock()
            .map_err(|_| anyhow::anyhow!("local store lock poisoned"))?;
        Ok(f(&guard)?)
    })
    .await?
}

impl Runner {
    fn send(&self, a: Action) {
        let _ = self.tx.send(a);
    }

    /// Starts one effect. `Bell`, `Typing` and `Quit` are done at once.
    pub fn run(&self, effect: Effect, live: Option<&LiveHandle>) {
        match effect {
            Effect::Bell => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(b"\x07");
                let _ = out.flush();
            }
            Effect::Reconnect => {
                if let Some(l) = live {
                    l.reconnect_now();
                }
            }
            Effect::Typing(id) => {
                if let Some(l) = live {
                    l.send_typing(id);
                }
            }
            Effect::Quit => {}
            other => {
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.exec(other).await {
                        let text = format!("{e:#}");
                        let offline = e
                            .downcast_ref::<crate::api::ClientError>()
                            .is_some_and(|c| matches!(c, crate::api::ClientError::Unreachable { .. }));
                        me.send(if offline {
                            Action::Unreachable(text)
                        } else {
                            Action::Error(text)
                        });
                    }
                });
            }
        }
    }

    async fn exec(&self, effect: Effect) -> anyhow::Result<()> {
        let c = &self.client;
        match effect {
            Effect::LoadConversations => {
                let list = c.conversations().await?.conversations;
                self.send(Action::Conversations { list, cached: false });
            }
            Effect::LoadMessages { conversation, before } => {
                if before.is_none() {
                    let cached = blocking(&self.store, move |s| {
                        s.cached_messages(conversation.0, None, PAGE)
                    })
                    .await?;
                    if !cached.is_empty() {
                        self.send(Action::CachedMessages {
                            conversation,
                            messages: cached,
                        });
                    }
                }
                let q = MessagesQuery {
                    before,
                    after: None,
                    limit: Some(PAGE),
                };
                let page = c.messages(conversation, &q).await?;
                self.send(Action::Messages {
                    conversation,
                    page,
                    older: before.is_some(),
                });
            }
            Effect::MarkRead { conversation, up_to } => {
                c.mark_read(conversation, up_to).await?;
            }
            Effect::Send {
                conversation,
                target,
                body,
                reply_to,
            } => {
                let client_id = uuid::Uuid::now_v7().to_string();
                blocking(&self.store, move |s| {
                    s.outbox_add(
                        &client_id,
                        &target,
                        Some(conversation.0),
                        &body,
                        reply_to.map(|r| r.0),
                    )
                })
                .await?;
                self.refresh_outbox().await?;
                self.flush(false).await?;
            }
            Effect::FlushOutbox { all } => self.flush(all).await?,
            Effect::RetryOutbox(id) => {
                blocking(&self.store, move |s| {
                    s.outbox_mark_failed(id, "retrying", now_ms())
                })
                .await?;
                self.flush(false).await?;
                // Say what came of it (a refusal says so from `flush`).
                let left = blocking(&self.store, |s| s.outbox_list()).await?;
                if let Some(item) = left.iter().find(|i| i.id == id && !i.is_refused()) {
                    self.send(Action::Unreachable(format!(
                        "not sent yet ({}); it is retried by itself",
                        item.last_error.as_deref().unwrap_or("the server did not answer")
                    )));
                } else if !left.iter().any(|i| i.id == id) {
                    self.send(Action::Note("sent".into()));
                }
            }
            Effect::DropOutbox(id) => {
                blocking(&self.store, move |s| s.outbox_drop(id)).await?;
                self.refresh_outbox().await?;
            }
            Effect::Accept(id) => {
                let conv = c.accept(id).await?;
                let who = crate::sanitize::line(&conv.peer.username).into_owned();
                self.send(Action::Conversation(Box::new(conv)));
                self.send(Action::Note(format!(
                    "accepted @{who}'s request: the chat is open"
                )));
            }
            Effect::Decline { conversation, reason } => {
                let conv = c.decline(conversation, reason).await?;
                let who = crate::sanitize::line(&conv.peer.username).into_owned();
                self.send(Action::Conversation(Box::new(conv)));
                self.send(Action::Note(format!("declined @{who}'s request")));
            }
            Effect::Request { username, intro } => {
                let req = CreateConversationRequest {
                    to: username,
                    message: intro,
                    client_id: Some(uuid::Uuid::now_v7().to_string()),
                };
                let created = c.request_conversation(&req).await?;
                self.send(Action::Note(format!(
                    "asked {} for a conversation",
                    created.conversation.peer.username
                )));
                self.send(Action::Conversation(Box::new(created.conversation)));
            }
            Effect::SetAvailability(a) => {
                let me = c
                    .update_me(&UpdateMeRequest {
                        availability: Some(a),
                        ..Default::default()
                    })
                    .await?;
                self.send(Action::Me(me));
            }
            Effect::LoadMentors {
                available_only,
                expertise,
            } => {
                let q = DirectoryQuery {
                    role: Some(Role::Mentor),
                    available: available_only.then_some(true),
                    expertise,
                    ..Default::default()
                };
                self.send(Action::Mentors(c.users(&q).await?.users));
            }
            Effect::LoadNotifications => {
                self.send(Action::Notifications(
                    c.notifications(false, Some(100)).await?.notifications,
                ));
            }
            Effect::MarkNotificationsRead => {
                c.mark_notifications_read(None).await?;
                self.send(Action::Notifications(
                    c.notifications(false, Some(100)).await?.notifications,
                ));
            }
            Effect::SaveCursor { seq, reset } => {
                blocking(&self.store, move |s| {
                    let current = s.kv_get(CURSOR_KEY)?.and_then(|v| v.parse::<i64>().ok());
                    if reset || current.is_none_or(|c| seq > c) {
                        s.kv_set(CURSOR_KEY, &seq.to_string())?;
                    }
                    Ok(())
                })
                .await?;
            }
            Effect::CacheMessages {
                conversation,
                messages,
            } => {
                blocking(&self.store, move |s| s.cache_messages(conversation.0, &messages)).await?;
            }
            Effect::CacheConversations(list) => {
                blocking(&self.store, move |s| s.cache_conversations(&list)).await?;
            }
            Effect::Edit { message, body } => {
                let m = c.edit_message(message, &body).await?;
                self.send(Action::Updated(m));
                self.send(Action::Note("edited".into()));
            }
            Effect::Delete(message) => {
                let m = c.delete_message(message).await?;
                self.send(Action::Updated(m));
                self.send(Action::Note("deleted".into()));
            }
            Effect::React { message, emoji, add } => {
                let m = c.react(message, &emoji, add).await?;
                self.send(Action::Updated(m));
            }
            Effect::Download { file, dir } => self.download(file, dir).await?,
            Effect::Search(q) => {
                let query = SearchQuery {
                    q: q.clone(),
                    limit: u32::try_from(super::app::SEARCH_SHOWN + 1).ok(),
                    ..Default::default()
                };
                let hits = c.search(&query).await?.hits;
                self.send(Action::SearchResults { query: q, hits });
            }
            Effect::LoadAround {
                conversation,
                message,
            } => {
                let older = c
                    .messages(
                        conversation,
                        &MessagesQuery {
                            before: Some(mchat_shared::MessageId(message.0 + 1)),
                            after: None,
                            limit: Some(PAGE),
                        },
                    )
                    .await?;
                let newer = c
                    .messages(
                        conversation,
                        &MessagesQuery {
                            before: None,
                            after: Some(message),
                            limit: Some(PAGE),
                        },
                    )
                    .await?;
                self.send(Action::Around {
                    conversation,
                    target: message,
                    older,
                    newer,
                });
            }
            Effect::LoadNewer { conversation, after } => {
                let q = MessagesQuery {
                    before: None,
                    after: Some(after),
                    limit: Some(PAGE),
                };
                let page = c.messages(conversation, &q).await?;
                self.send(Action::NewerMessages { conversation, page });
            }
            Effect::SetSettings {
                conversation,
                muted,
                archived,
            } => {
                let settings = ConversationSettings { muted, archived };
                let conv = c.set_conversation_settings(conversation, &settings).await?;
                self.send(Action::Settings {
                    conversation,
                    muted: conv.muted,
                    archived: conv.archived,
                });
                let name = conv.peer.display_name;
                self.send(Action::Note(match (muted, archived) {
                    (Some(true), _) => format!("muted {name}: no bell, not in the unread count"),
                    (Some(false), _) => format!("unmuted {name}"),
                    (_, Some(true)) => format!("archived {name} (A shows archived chats)"),
                    _ => format!("unarchived {name}"),
                }));
            }
            Effect::LoadArchived => {
                self.send(Action::Archived(c.conversations_archived().await?));
            }
            Effect::LoadTemplates => {
                self.send(Action::Templates(c.templates().await?));
            }
            Effect::LoadScheduled => {
                self.send(Action::Scheduled(c.scheduled(false).await?));
            }
            Effect::CancelScheduled(id) => {
                let item = c.cancel_scheduled(id).await?;
                self.send(Action::ScheduledItem(item));
                self.send(Action::Note("cancelled".into()));
            }
            Effect::Complete(id) => {
                let conv = c.complete(id).await?;
                let who = crate::sanitize::line(&conv.peer.username).into_owned();
                self.send(Action::Conversation(Box::new(conv)));
                self.send(Action::Note(format!(
                    "completed the conversation with @{who} (O reopens)"
                )));
            }
            Effect::Reopen(id) => {
                let conv = c.reopen(id).await?;
                let who = crate::sanitize::line(&conv.peer.username).into_owned();
                self.send(Action::Conversation(Box::new(conv)));
                self.send(Action::Note(format!("reopened the conversation with @{who}")));
            }
            Effect::Bell | Effect::Typing(_) | Effect::Reconnect | Effect::Quit => {}
        }
        Ok(())
    }

    /// Saves an attachment under a safe, unused name, with progress on the
    /// status line.
    async fn download(&self, file: Attachment, dir: Option<PathBuf>) -> anyhow::Result<()> {
        let dir = match dir {
            Some(d) => d,
            None => default_download_dir(),
        };
        let name = safe_file_name(&file.name);
        let dest = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || unused_path(&dir, &name)).await??
        };
        let tx = self.tx.clone();
        let shown = name.clone();
        let mut last_tenth = None;
        let size = file.size;
        let bytes = self
            .client
            .download_file(file.id, &dest, move |done, total| {
                let total = total.unwrap_or(size).max(1);
                let tenth = done.saturating_mul(10) / total;
                if last_tenth != Some(tenth) {
                    last_tenth = Some(tenth);
                    let _ = tx.send(Action::Note(format!(
                        "saving {}: {}%",
                        crate::sanitize::line(&shown),
                        tenth * 10
                    )));
                }
            })
            .await?;
        self.send(Action::Note(format!(
            "saved {} ({}) to {}",
            crate::sanitize::line(&name),
            human_size(bytes),
            crate::sanitize::line(&dest.display().to_string())
        )));
        Ok(())
    }

    async fn refresh_outbox(&self) -> anyhow::Result<()> {
        let items = blocking(&self.store, |s| s.outbox_list()).await?;
        self.send(Action::Outbox(items));
        Ok(())
    }

    /// Sends queued messages oldest first (all waiting ones, or the due
    /// ones); stops at the first transient failure so order is kept.
    async fn flush(&self, all: bool) -> anyhow::Result<()> {
        let _serial = self.flush_lock.lock().await;
        let items: Vec<OutboxItem> = blocking(&self.store, move |s| {
            if all {
                s.outbox_list()
            } else {
                s.outbox_due(now_ms())
            }
        })
        .await?
        .into_iter()
        .filter(|i| i.next_attempt_at != REFUSED)
        .collect();
        for item in items {
            match deliver(&self.client, &item).await {
                Ok((message, _)) => {
                    let cid = item.client_id.clone();
                    blocking(&self.store, move |s| s.outbox_remove_by_client_id(&cid)).await?;
                    self.send(Action::Sent(message));
                }
                Err(e) if transient(&e) => {
                    let next = now_ms() + backoff_ms(item.attempts + 1);
                    let msg = e.to_string();
                    blocking(&self.store, move |s| s.outbox_mark_failed(item.id, &msg, next)).await?;
                    break;
                }
                Err(e) => {
                    let (_, sentence, _) = crate::cli::exit::describe(&e);
                    self.send(Action::Error(format!("not sent: {sentence}")));
                    blocking(&self.store, move |s| {
                        s.outbox_mark_failed(item.id, &sentence, REFUSED)
                    })
                    .await?;
                }
            }
        }
        self.refresh_outbox().await
    }
}

/// `[tui] download_dir` unset: ~/Downloads when it exists, else the current directory.
pub fn default_download_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(Path::to_path_buf))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `dir/name`, or `dir/stem (2).ext`… when that exists already.
pub fn unused_path(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let first = dir.join(name);
    if !first.exists() {
        return Ok(first);
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    for n in 2..10_000 {
        let p = dir.join(format!("{stem} ({n}){ext}"));
        if !p.exists() {
            return Ok(p);
        }
    }
    Err(std::io::Error::other(format!(
        "too many files named {name} in {}",
        dir.display()
    )))
}

/// Sizes read the same in the TUI as in the CLI (one helper).
pub use crate::cli::output::human_size;
