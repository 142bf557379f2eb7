//! `AppState`: what every handler can reach.

use crate::auth::Passwords;
use crate::config::Config;
use crate::ratelimit::RateLimits;
use crate::realtime::Hub;
use crate::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub passwords: Arc<Passwords>,
    pub limits: Arc<RateLimits>,
    pub hub: Arc<Hub>,
    /// Where attachments' bytes live (a directory or a bucket).
    pub blobs: Arc<crate::attachments::Blobs>,
    /// This node among the others on a shared database (PostgreSQL), which
    /// then keeps presence for all of them; `None` on SQLite.
    pub node: Option<crate::store::postgres::Node>,
    /// `None` where no recorder is installed (the in-process demo server).
    pub metrics: Option<crate::metrics::Metrics>,
}

impl AppState {
    /// Asks the hub whether a user has a live connection (for "message
    /// received" notifications, which only offline users get).
    pub fn is_online(&self) -> crate::store::IsOnline {
        let hub = self.hub.clone();
        Arc::new(move |user| hub.is_online(user))
    }
}
