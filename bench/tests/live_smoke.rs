//! Smoke test: runs `mchat-bench live` with tiny numbers against the debug
//! `mchatd` (the testkit builds it if it is missing or stale) and checks the JSON.

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("missing number at {pointer} in {v}"))
}

#[test]
fn live_smoke_run_reports_sane_json() {
    // The debug server, built by the testkit if it is missing or stale.
    let server = mchat_testkit::mchatd_bin();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args(["live", "--server-bin"])
        .arg(&server)
        .args([
            "--samples",
            "20",
            "--warmup",
            "2",
            "--idle",
            "20",
            "--max-sockets",
            "200",
            "--step",
            "90",
            "--settle-secs",
            "0.2",
            "--hold-secs",
            "0.3",
            "--reopen-cycles",
            "1",
            "--deadline-secs",
            "60",
            "--server-env",
            "MCHATD_REALTIME__WS_BUFFER=64",
            "--json",
        ])
        .output()
        .expect("run mchat-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench failed: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "took too long");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let doc: Value = serde_json::from_str(stdout.trim()).expect("exactly one JSON document on stdout");

    assert_eq!(doc["bench"], "mchat-bench live");
    assert!(doc["mchatd_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(
        num(&doc, "/config/realtime/ws_buffer"),
        64.0,
        "the override is reported"
    );
    assert_eq!(doc["config"]["realtime"]["overridden"][0], "ws_buffer");
    assert!(num(&doc, "/config/nofile/bench/0") >= 200.0);
    assert!(doc["config"]["nofile"]["server"].is_array());

    // Latency: one pair, with 20 idle, and with all 200 open.
    for (phase, idle) in [("one_pair", 0.0), ("idle", 20.0), ("at_max", 200.0)] {
        let l = format!("/latency/{phase}");
        assert_eq!(num(&doc, &format!("{l}/rounds")), 20.0, "{phase}");
        assert_eq!(num(&doc, &format!("{l}/idle_sockets")), idle, "{phase}");
        assert_eq!(
            num(&doc, &format!("{l}/server_ws_connections")),
            idle + 1.0,
            "{phase}"
        );
        let (p50, p99, max) = (
            num(&doc, &format!("{l}/latency_ms/p50")),
            num(&doc, &format!("{l}/latency_ms/p99")),
            num(&doc, &format!("{l}/latency_ms/max")),
        );
        assert!(
            0.0 < p50 && p50 <= p99 && p99 <= max,
            "{phase}: {p50} {p99} {max}"
        );
        assert!(num(&doc, &format!("{l}/send_rtt_ms/p50")) > 0.0, "{phase}");
    }

    // Sockets: registered, baseline (after priming with 20), 20 idle, then steps of 90 up to 200,
    // all open on both sides.
    let s = &doc["sockets"];
    let points = s["points"].as_array().expect("points");
    let targets: Vec<f64> = points.iter().filter_map(|p| p["target"].as_f64()).collect();
    assert_eq!(targets, vec![0.0, 0.0, 20.0, 20.0, 110.0, 200.0]);
    assert_eq!(num(&doc, "/sockets/prime_sockets"), 20.0);
    assert!(points.iter().all(|p| p["all_open"] == true), "{points:?}");
    assert!(
        points
            .iter()
            .all(|p| p["rss_kib"].as_f64().is_some_and(|r| r > 0.0))
    );
    assert_eq!(num(&doc, "/sockets/max_idle_held"), 200.0);
    assert_eq!(num(&doc, "/sockets/final/server_ws_connections"), 201.0);
    assert_eq!(num(&doc, "/sockets/rss_fit_points"), 3.0);
    assert!(num(&doc, "/sockets/rss_kib_per_socket").is_finite());
    assert_eq!(num(&doc, "/sockets/idle_dropped"), 0.0);
    assert_eq!(num(&doc, "/sockets/dropped_slow_total"), 0.0);
    assert!(num(&doc, "/sockets/hold/server_cpu_s") >= 0.0);
    assert_eq!(
        num(&doc, "/sockets/reopen_cycles/0/closed/server_ws_connections"),
        1.0
    );
    assert_eq!(num(&doc, "/sockets/reopen_cycles/0/reopened/client_open"), 200.0);
    assert!(s["stopped_early"].is_null());

    // Targets are reported; 200 sockets do not try the 10k target.
    assert!(doc["targets"]["idle_p50_ms"]["met"].is_boolean());
    assert!(doc["targets"]["rss_kib_per_socket"]["met"].is_boolean());
    assert!(doc["targets"]["sockets_held"]["met"].is_null());

    // Clean shutdown: every socket closed with a close frame, the server saw them go.
    assert_eq!(num(&doc, "/after_close/server_ws_connections"), 0.0);
    assert_eq!(num(&doc, "/after_close/closed_clean"), 20.0 + 200.0 + 200.0);
    assert_eq!(num(&doc, "/after_close/aborted"), 0.0);
    assert!(doc["server_stop"].as_str().is_some_and(|s| s.contains("SIGTERM")));
}
