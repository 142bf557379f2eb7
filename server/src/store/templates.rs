//! Saved replies (templates), per user.
