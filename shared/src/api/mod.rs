//! Request and response bodies of the HTTP API, one module per resource.
//!
//! Request types deny unknown fields, so a typo in a script is an error rather
//! than a silently ignored option.

pub mod auth;
pub mod conversations;
pub mod files;
pub mod info;
pub mod messages;
pub mod notifications;
pub mod scheduled;
pub mod search;
pub mod templates;
pub mod users;

pub use auth::*;
pub use conversations::*;
pub use files::*;
pub use info::*;
pub use messages::*;
pub use notifications::*;
pub use scheduled::*;
pub use search::*;
pub use templates::*;
pub use users::*;

use serde::{Deserialize, Serialize};

/// `GET /healthz`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// A plain acknowledgement for actions that have nothing else to say.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ok {
    pub ok: bool,
}
