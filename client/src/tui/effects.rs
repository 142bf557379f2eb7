//! Runs [`Effect`]s as tasks: HTTP calls through [`Client`], the outbox and
//! the local cache (SQLite, always on `spawn_blocking`), and feeds the
//! results back as [`Action`]s.

use super::action::{Action, Effect};
use super::app::REFUSED;
use crate::api::Client;
use crate::cli::commands::outbox::{deliver, transient};
use crate::live::LiveHandle;
use crate::local::{LocalStore, OutboxItem, backoff_ms, now_ms};
use mchat_shared::api::{CreateConversationRequest, DirectoryQuery, MessagesQuery, Role, UpdateMeRequest};
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
                        me.send(Action::Error(format!("{e:#}")));
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
            }
            Effect::DropOutbox(id) => {
                blocking(&self.store, move |s| s.outbox_drop(id)).await?;
                self.refresh_outbox().await?;
            }
            Effect::Accept(id) => {
                let conv = c.accept(id).await?;
                self.send(Action::Conversation(conv));
            }
            Effect::Decline { conversation, reason } => {
                let conv = c.decline(conversation, reason).await?;
                self.send(Action::Conversation(conv));
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
                self.send(Action::Conversation(created.conversation));
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
            Effect::Bell | Effect::Typing(_) | Effect::Quit => {}
        }
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
