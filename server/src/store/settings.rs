//! Per-user conversation settings: muted and archived.
//!
//! Both live on the caller's own `participants` row, so they are private to
//! them. Muted: no "message received" notification (and no bell in the
//! clients). Archived: out of the default conversation list until new
//! activity, which unarchives it (see [`on_new_message`]).

use super::conversations::{load, status_of};
use super::{Store, StoreResult, WriteCtx};
use mchat_shared::api::{Conversation, ConversationSettings};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, UserId};
use rusqlite::{Connection, OptionalExtension, params};

/// Called for every stored message, inside its transaction: unarchives the
/// conversation for the participants who archived it (the sender included:
/// writing in a conversation brings it back for them too) and tells them.
pub(super) fn on_new_message(
    ctx: &mut WriteCtx<'_>,
    conversation: ConversationId,
    _sender: Option<UserId>,
) -> StoreResult<()> {
    let archived: Vec<(UserId, bool)> = ctx
        .conn
        .prepare_cached(
            "SELECT user_id, muted FROM participants WHERE conversation_id = ?1 AND archived != 0",
        )?
        .query_map([conversation.0], |r| Ok((UserId(r.get(0)?), r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if archived.is_empty() {
        return Ok(());
    }
    ctx.conn
        .prepare_cached("UPDATE participants SET archived = 0 WHERE conversation_id = ?1 AND archived != 0")?
        .execute([conversation.0])?;
    for (user, muted) in archived {
        ctx.emit(
            user,
            EventKind::SettingsUpdated {
                conversation_id: conversation,
                muted,
                archived: false,
            },
        )?;
    }
    Ok(())
}

/// Whether `user` muted `conversation`.
pub(super) fn is_muted(conn: &Connection, user: UserId, conversation: ConversationId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT muted FROM participants WHERE conversation_id = ?1 AND user_id = ?2")?
        .query_row(params![conversation.0, user.0], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

impl Store {
    /// Changes my settings for a conversation I am in (not a participant:
    /// not found). Absent fields stay; `settings_updated` goes to my own
    /// devices when something changed.
    pub async fn set_conversation_settings(
        &self,
        me: UserId,
        conv: ConversationId,
        settings: ConversationSettings,
    ) -> StoreResult<Conversation> {
        self.write(move |ctx| {
            status_of(ctx.conn, me, conv)?;
            if settings.muted.is_none() && settings.archived.is_none() {
                return Err(super::StoreError::api(
                    ErrorCode::ValidationFailed,
                    "nothing to change: give muted and/or archived",
                ));
            }
            let (muted, archived): (bool, bool) = ctx
                .conn
                .prepare_cached(
                    "SELECT muted, archived FROM participants WHERE conversation_id = ?1 AND user_id = ?2",
                )?
                .query_row(params![conv.0, me.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let new_muted = settings.muted.unwrap_or(muted);
            let new_archived = settings.archived.unwrap_or(archived);
            if (new_muted, new_archived) != (muted, archived) {
                ctx.conn.execute(
                    "UPDATE participants SET muted = ?3, archived = ?4 WHERE conversation_id = ?1 AND user_id = ?2",
                    params![conv.0, me.0, new_muted, new_archived],
                )?;
                ctx.emit(
                    me,
                    EventKind::SettingsUpdated {
                        conversation_id: conv,
                        muted: new_muted,
                        archived: new_archived,
                    },
                )?;
            }
            load(ctx.conn, me, conv)
        })
        .await
    }
}
