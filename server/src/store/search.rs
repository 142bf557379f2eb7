//! Full-text search (FTS5) over the messages a user can see.
