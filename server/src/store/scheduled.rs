//! Scheduled messages and reminders: stored, listed, cancelled, and delivered when due by the scheduler.
