//! Smoke test: `mchat-bench seed` with small numbers into a temp data dir,
//! then `mchat-bench search` on it against the debug `mchatd` (the testkit
//! builds it if it is missing or stale); checks both JSON reports.

#![allow(clippy::expect_used)]

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("missing number at {pointer} in {v}"))
}

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args(args)
        .output()
        .expect("run mchat-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench {args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    serde_json::from_str(stdout.trim()).expect("exactly one JSON document on stdout")
}

#[test]
fn seed_then_search_reports_sane_json() {
    let server = mchat_testkit::mchatd_bin();
    let server = server.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let started = Instant::now();

    let seeded = bench(&[
        "seed",
        "--data-dir",
        data,
        "--server-bin",
        server,
        "--messages",
        "20000",
        "--conversations",
        "200",
        "--users",
        "60",
        "--json",
    ]);
    assert_eq!(num(&seeded, "/messages"), 20000.0);
    assert_eq!(num(&seeded, "/conversations"), 200.0);
    assert_eq!(num(&seeded, "/users"), 60.0);
    assert!(num(&seeded, "/seconds/total") > 0.0);
    // Seeding twice into the same dir is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args([
            "seed",
            "--data-dir",
            data,
            "--server-bin",
            server,
            "--messages",
            "10",
            "--conversations",
            "1",
        ])
        .output()
        .expect("run mchat-bench");
    assert!(!again.status.success());

    let report = bench(&[
        "search",
        "--data-dir",
        data,
        "--server-bin",
        server,
        "--samples",
        "100",
        "--warmup",
        "5",
        "--users",
        "5",
        "--history-samples",
        "40",
        "--json",
    ]);
    assert_eq!(num(&report, "/database/messages"), 20000.0);
    assert_eq!(num(&report, "/search/all/client_ms/n"), 100.0);
    assert_eq!(
        num(&report, "/search/all/server_ms/n"),
        100.0,
        "server-timing on every search"
    );
    for kind in ["common", "rare", "prefix", "phrase", "with"] {
        let p = format!("/search/by_kind/{kind}");
        assert_eq!(num(&report, &format!("{p}/client_ms/n")), 20.0, "{kind}");
        let (p50, max) = (
            num(&report, &format!("{p}/client_ms/p50")),
            num(&report, &format!("{p}/client_ms/max")),
        );
        assert!(0.0 < p50 && p50 <= max, "{kind}: {p50} {max}");
    }
    // A common word in your own conversations finds something; so does a
    // phrase taken from one of your messages.
    assert!(num(&report, "/search/by_kind/common/mean_hits") > 1.0, "{report}");
    assert!(
        num(&report, "/search/by_kind/phrase/mean_hits") >= 1.0,
        "{report}"
    );
    for which in ["newest", "random_before"] {
        assert!(
            num(&report, &format!("/history/{which}/client_ms/n")) >= 40.0,
            "{which}"
        );
    }
    assert!(report["targets"]["search_p99_ms"]["met"].is_boolean());
    assert!(started.elapsed() < Duration::from_secs(60), "took too long");
}
