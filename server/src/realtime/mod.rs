//! Real time: committed events and ephemeral signals reach live connections.
//!
//! The writer thread hands every committed event to the [`Hub`] right after
//! COMMIT; the hub serialises it once and `try_send`s it to each live
//! connection of its user (a full buffer drops that connection, which then
//! resumes from its cursor — a slow consumer never stalls anyone). A new
//! connection registers with the hub *before* replaying the log after its
//! cursor, then skips live frames it already replayed: nothing is lost and
//! nothing duplicated. Long-poll `sync` waits on the same hub.

pub mod hub;
pub mod presence;
pub mod sync;
pub mod ws;

pub use hub::Hub;
