//! Per-user conversation settings: muted and archived.
//!
//! Both live on the caller's own `participants` row, so they are private to
//! them. Muted: no "message received" notification (and no bell in the
//! clients). Archived: out of the default conversation list until new
//! activity, which unarchives it (see [`on_new_message`]). The rules live
//! here, over the storage traits (`data/conversations.rs`).

use super::conversations::{load, status_of};
use super::data::Tx;
use super::{Store, StoreError, StoreResult};
use mchat_shared::api::{Conversation, ConversationSettings};
use mchat_shared::events::EventKind;
use mchat_shared::{ConversationId, ErrorCode, UserId};

/// Called for every stored message, inside its transaction: unarchives the
/// conversation for the participants who archived it (the sender included:
/// writing in a conversation brings it back for them too) and tells them.
pub(super) fn on_new_message(tx: &mut dyn Tx, conversation: ConversationId) -> StoreResult<()> {
    let archived = tx.archived_by(conversation)?;
    if archived.is_empty() {
        return Ok(());
    }
    tx.unarchive(conversation)?;
    for (user, muted) in archived {
        tx.emit(
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

/// Changes `me`'s settings for `conv` (see [`Store::set_conversation_settings`]).
fn set(
    tx: &mut dyn Tx,
    me: UserId,
    conv: ConversationId,
    settings: ConversationSettings,
) -> StoreResult<Conversation> {
    status_of(tx, me, conv)?;
    if settings.muted.is_none() && settings.archived.is_none() {
        return Err(StoreError::api(
            ErrorCode::ValidationFailed,
            "nothing to change: give muted and/or archived",
        ));
    }
    tx.lock_conversation(conv)?;
    let row = tx
        .participant(conv, me)?
        .ok_or_else(|| StoreError::not_found("conversation"))?;
    let new_muted = settings.muted.unwrap_or(row.muted);
    let new_archived = settings.archived.unwrap_or(row.archived);
    if (new_muted, new_archived) != (row.muted, row.archived) {
        tx.set_settings(conv, me, new_muted, new_archived)?;
        tx.emit(
            me,
            EventKind::SettingsUpdated {
                conversation_id: conv,
                muted: new_muted,
                archived: new_archived,
            },
        )?;
    }
    load(tx, me, conv)
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
        self.write_data(move |tx| set(tx, me, conv, settings)).await
    }
}
