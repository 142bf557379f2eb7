//! `/metrics`: the Prometheus recorder, its upkeep, and what it exports.
//!
//! Every histogram is exported with buckets (a summary cannot be aggregated
//! across instances or turned into an SLO), every metric has a `# HELP`
//! line, and names follow the Prometheus conventions (base unit as a suffix,
//! before `_total`). The recorder keeps raw histogram samples until they are
//! folded into buckets; that used to happen only on a scrape, so a server
//! nobody scraped grew without bound. [`spawn_upkeep`] folds them on a timer.
//! Process metrics (`process_*`, as the official Go client names them) come
//! from `metrics-process`, collected at each scrape.

use crate::error::ApiError;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mchat_shared::ErrorCode;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_process::Collector;
use std::sync::Arc;
use std::time::Duration;

/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How often raw histogram samples are folded into buckets when nobody scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets (seconds): sub-millisecond commits up to slow requests.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Jobs per group commit: 1 up to `max_batch` (256 by default) and beyond.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// The installed recorder's handle plus the process collector.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: Arc<Collector>,
}

impl Metrics {
    /// Installs the global recorder and describes every metric. Once per
    /// process (a second call fails: the recorder is global).
    pub fn install() -> Result<Metrics, BuildError> {
        let handle = PrometheusBuilder::new()
            .set_buckets(SECONDS_BUCKETS)?
            .set_buckets_for_metric(Matcher::Full("mchatd_db_write_batch_jobs".into()), BATCH_BUCKETS)?
            .install_recorder()?;
        describe();
        let process = Collector::default();
        process.describe();
        Ok(Metrics {
            handle,
            process: Arc::new(process),
        })
    }

    /// The Prometheus text. Reads /proc, so call it off the async workers.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    /// Folds raw histogram samples into buckets every [`UPKEEP_EVERY`], so
    /// memory stays flat without a scraper.
    pub fn spawn_upkeep(&self) {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let handle = handle.clone();
                // Takes the registry's locks briefly; keep it off the workers.
                if tokio::task::spawn_blocking(move || handle.run_upkeep())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

/// `# HELP` (and units) for every metric mchatd records.
fn describe() {
    describe_counter!(
        "mchatd_http_requests_total",
        "HTTP requests answered, by method, route and status."
    );
    describe_histogram!(
        "mchatd_http_request_duration_seconds",
        Unit::Seconds,
        "Time from request to response head, by route."
    );
    describe_gauge!(
        "mchatd_http_requests_in_flight",
        "HTTP requests being handled now."
    );
    describe_histogram!(
        "mchatd_db_duration_seconds",
        Unit::Seconds,
        "Time on a storage thread: op=read per read, op=write_batch per group commit (incl. fsync)."
    );
    describe_histogram!(
        "mchatd_db_write_batch_jobs",
        Unit::Count,
        "Write requests committed together in one transaction (group commit)."
    );
    describe_counter!(
        "mchatd_http_shed_total",
        "Short requests refused with 503 because [limits] max_in_flight were being handled."
    );
    describe_counter!(
        "mchatd_store_queue_rejected_total",
        "Requests refused with 503 because a storage queue (queue=write|read) was full."
    );
    describe_counter!(
        "mchatd_messages_stored_total",
        "Messages (and conversation requests) newly stored."
    );
    describe_counter!(
        "mchatd_file_uploaded_bytes_total",
        Unit::Bytes,
        "Bytes of attachments stored."
    );
    describe_counter!(
        "mchatd_rate_limited_total",
        "Requests refused with 429 by a rate limit."
    );
    describe_gauge!("mchatd_ws_connections", "Live WebSocket connections.");
    describe_counter!(
        "mchatd_ws_dropped_slow_total",
        "WebSocket connections dropped because their queue filled (they resume from their cursor)."
    );
    describe_gauge!(
        "mchatd_build_info",
        "Always 1; the labels name the running build."
    );
    metrics::gauge!("mchatd_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Answers a scrape with the Prometheus text (rendered on a blocking thread).
pub async fn serve(metrics: Metrics) -> Response {
    match tokio::task::spawn_blocking(move || metrics.render()).await {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            ApiError::internal().into_response()
        }
    }
}

/// A scrape where no recorder is installed: an empty exposition.
pub fn serve_empty() -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], String::new()).into_response()
}

/// The router of the private `[metrics] bind` listener: `/metrics` only,
/// anything else 404 in the one error shape.
pub fn private_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(move || serve(metrics.clone())))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
}
