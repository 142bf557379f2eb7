//! Edit (the original kept in message_edits), soft delete (a tombstone) and reactions.
