//! Smoke test: runs `mchat-bench core` with tiny numbers against the debug
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
fn core_smoke_run_reports_sane_json() {
    // The debug server, built by the testkit if it is missing or stale.
    let server = mchat_testkit::mchatd_bin();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args(["core", "--server-bin"])
        .arg(&server)
        .args([
            "--sends",
            "50",
            "--warmup",
            "10",
            "--history-messages",
            "200",
            "--history-samples",
            "20",
            "--settle-secs",
            "0",
            "--deadline-secs",
            "60",
            "--json",
        ])
        .output()
        .expect("run mchat-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench failed: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "took too long");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let doc: Value = serde_json::from_str(stdout.trim()).expect("exactly one JSON document on stdout");

    assert_eq!(doc["ratelimits"], "off");
    assert!(doc["mchatd_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(num(&doc, "/cpus") >= 1.0);
    assert!(doc["config"]["env"]["MCHATD_LIMITS__SEND_PER_SEC"] == "0");
    assert!(num(&doc, "/mem_startup/rss_mb") > 0.0);
    assert!(num(&doc, "/mem_after/hwm_mb") >= num(&doc, "/mem_after/rss_mb"));
    for (name, conc) in [("c1", 1.0), ("c16", 16.0), ("c16_multi", 16.0)] {
        let t = format!("/throughput/{name}");
        assert_eq!(num(&doc, &format!("{t}/messages")), 50.0, "{name}");
        assert_eq!(num(&doc, &format!("{t}/concurrency")), conc, "{name}");
        assert!(num(&doc, &format!("{t}/msg_per_s")) > 0.0, "{name}");
        let (p50, p99, max) = (
            num(&doc, &format!("{t}/send_ms/p50")),
            num(&doc, &format!("{t}/send_ms/p99")),
            num(&doc, &format!("{t}/send_ms/max")),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{name}: {p50} {p99} {max}");
        assert_eq!(
            num(&doc, &format!("{t}/server_ms/n")),
            50.0,
            "{name}: server-timing on every send"
        );
        assert!(num(&doc, &format!("{t}/server_ms/p50")) <= max, "{name}");
    }
    assert_eq!(num(&doc, "/history_seed/messages"), 200.0);
    assert!(num(&doc, "/history/conversation_messages") >= 200.0);
    for which in ["newest", "random_before"] {
        let h = format!("/history/{which}");
        assert_eq!(num(&doc, &format!("{h}/events_per_page")), 50.0);
        assert_eq!(num(&doc, &format!("{h}/client_ms/n")), 20.0);
        assert_eq!(num(&doc, &format!("{h}/server_ms/n")), 20.0);
        let client_p50 = num(&doc, &format!("{h}/client_ms/p50"));
        let server_p50 = num(&doc, &format!("{h}/server_ms/p50"));
        assert!(
            0.0 < server_p50 && server_p50 <= client_p50,
            "{which}: {server_p50} > {client_p50}"
        );
    }
    assert_eq!(num(&doc, "/history_ms/events_per_page"), 50.0);
    for phase in [
        "setup",
        "throughput_c1",
        "throughput_c16",
        "throughput_c16_multi",
        "history_seed",
    ] {
        assert!(
            num(&doc, &format!("/server_cpu/{phase}/wall_s")) >= 0.0,
            "{phase}"
        );
        assert!(
            num(&doc, &format!("/server_cpu/{phase}/server_cpu_s")) >= 0.0,
            "{phase}"
        );
    }
    assert!(num(&doc, "/server_db/throughput_c1/write_batches") >= 1.0);
    assert!(doc["targets"]["c16_msg_per_s"]["met"].is_boolean());
    assert!(num(&doc, "/db_mb") > 0.0);
    assert!(doc["server_stop"].as_str().is_some_and(|s| s.contains("SIGTERM")));
}
