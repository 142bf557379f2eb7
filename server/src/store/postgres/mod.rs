//! The PostgreSQL backend, for programs that run several mchatd nodes on one
//! database (issue 11). It is being built in steps behind the same [`Store`]
//! surface the SQLite backend serves; this step holds its schema, versioned
//! in `schema/`, and the migration runner every node runs at start.
//!
//! [`Store`]: super::Store

mod migrate;

pub use migrate::{LATEST, migrate};
