//! `AppState`: what every handler can reach.

use crate::auth::Passwords;
use crate::config::Config;
use crate::ratelimit::RateLimits;
use crate::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub passwords: Arc<Passwords>,
    pub limits: Arc<RateLimits>,
    pub metrics: Option<PrometheusHandle>,
}
