//! `/metrics`: histograms with buckets, a `# HELP` for every metric,
//! Prometheus names, build info and process metrics; counts that stay right
//! while the exporter's upkeep folds samples without a scraper; and
//! `[metrics] bind`, which moves `/metrics` to a private listener (404 on
//! the public one).

// Test helpers outside #[test] functions may panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, TestServer, assert_error};
use reqwest::{Method, StatusCode};
use std::collections::BTreeSet;
use std::time::Duration;

/// `GET {base}/metrics` as text, asserting 200 and the exposition content type.
async fn scrape(base: &str) -> String {
    let resp = mchat_testkit::http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/plain"), "content type {ctype}");
    resp.text().await.unwrap()
}

/// The value of the sample line that starts with `series ` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Metric names with a `# TYPE` line, and with a `# HELP` line.
fn typed_and_helped(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = |prefix: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
    };
    (names("# TYPE "), names("# HELP "))
}

#[tokio::test]
async fn metrics_are_described_histograms_with_build_and_process_info() {
    let server = TestServer::start();
    let (_mentor, mentee, conv) = server.accepted_pair("mona", "ana").await;
    mentee.say(conv, "m-1", "hello").await;
    let text = scrape(&server.base()).await;

    for histogram in [
        "mchatd_http_request_duration_seconds",
        "mchatd_db_duration_seconds",
        "mchatd_db_write_batch_jobs",
    ] {
        assert!(
            text.contains(&format!("# TYPE {histogram} histogram\n")),
            "{histogram} is not a histogram:\n{text}"
        );
        assert!(
            text.contains(&format!("{histogram}_bucket{{")),
            "{histogram} has no buckets:\n{text}"
        );
    }
    assert!(!text.contains(" summary\n"), "a summary is left:\n{text}");
    assert!(
        text.contains("mchatd_db_write_batch_jobs_bucket{le=\"+Inf\"}"),
        "{text}"
    );
    assert_eq!(sample(&text, "mchatd_messages_stored_total"), Some(2.0), "{text}");

    // Build info and process metrics.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&text, &format!("mchatd_build_info{{version=\"{version}\"}}")),
        Some(1.0),
        "{text}"
    );
    for process in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_threads",
    ] {
        let v = sample(&text, process).unwrap_or_else(|| panic!("no {process}:\n{text}"));
        assert!(v >= 0.0, "{process} = {v}");
    }
    assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 1e6);

    // Every exported metric has a HELP line; old names are gone.
    let (typed, helped) = typed_and_helped(&text);
    let missing: Vec<_> = typed.difference(&helped).collect();
    assert!(missing.is_empty(), "no # HELP for {missing:?}:\n{text}");
    for old in [
        "mchatd_db_seconds",
        "mchatd_db_batch_size",
        "mchatd_file_bytes_uploaded_total",
    ] {
        assert!(!typed.contains(old), "old name {old} still exported");
    }
}

#[tokio::test]
async fn counts_stay_exact_across_upkeep_without_a_scraper() {
    let server = TestServer::start();
    let api = server.anon();
    const N: usize = 300;
    for _ in 0..N {
        let r = Api::send(api.builder(Method::GET, "/healthz")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Nobody scraped: the timer's upkeep folded the samples meanwhile.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for _ in 0..N {
        let r = Api::send(api.builder(Method::GET, "/healthz")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let text = scrape(&server.base()).await;
    let want = Some((2 * N) as f64);
    assert_eq!(
        sample(
            &text,
            "mchatd_http_request_duration_seconds_count{route=\"/healthz\"}"
        ),
        want,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mchatd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"
        ),
        want,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mchatd_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        want,
        "{text}"
    );
}

#[tokio::test]
async fn metrics_bind_serves_metrics_privately_and_404s_publicly() {
    let server = TestServer::start_with("[metrics]\nbind = \"127.0.0.1:0\"\n");
    let private = server
        .metrics_url()
        .expect("the server printed no metrics address");
    assert_ne!(private, server.base(), "the metrics listener is the public one");

    let r = Api::send(server.anon().builder(Method::GET, "/healthz")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = scrape(&private).await;
    assert!(
        text.contains("# TYPE mchatd_http_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"), "{text}");

    // The public listener no longer serves it, in the one error shape.
    let r = Api::send(server.anon().builder(Method::GET, "/metrics")).await;
    assert_error(r.status, &r.body, 404, "not_found");
    // The private one serves nothing else.
    let r = mchat_testkit::http_client()
        .get(format!("{private}/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    common::assert_error_shape(&body);
}

#[tokio::test]
async fn without_metrics_bind_metrics_stay_on_the_public_listener() {
    let server = TestServer::start();
    assert_eq!(server.metrics_url(), None);
    let text = scrape(&server.base()).await;
    assert!(text.contains("# HELP mchatd_build_info"), "{text}");
}
