//! Smoke tests of `mchat-bench load` and `mchat-bench crash` with tiny
//! numbers against the debug `mchatd` (the testkit builds it if it is
//! missing or stale): both must pass their own checks and report them in JSON.

use serde_json::Value;
use std::process::Command;

fn run_bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .arg(args[0])
        .arg("--server-bin")
        .arg(mchat_testkit::mchatd_bin())
        .args(&args[1..])
        .arg("--json")
        .output();
    let Ok(out) = out else {
        panic!("cannot run mchat-bench");
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench {} failed: {stderr}", args[0]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}"))
}

#[test]
fn load_smoke_run_loses_nothing() {
    let doc = run_bench(&[
        "load",
        "--users",
        "10",
        "--messages",
        "5",
        "--burst",
        "40",
        "--deadline-secs",
        "120",
    ]);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["sends"]["acknowledged"], 50);
    assert_eq!(
        doc["delivery"]["received"], 100,
        "each message reaches both participants"
    );
    assert_eq!(doc["delivery"]["lost"], 0);
    assert_eq!(doc["http"]["5xx"], 0);
    assert!(
        doc["burst"]["limited_429"].as_u64().is_some_and(|n| n > 0),
        "{doc}"
    );
    assert!(doc["server"]["before"]["fds"].as_u64().is_some());
}

#[test]
fn crash_smoke_run_keeps_every_acknowledged_message() {
    let doc = run_bench(&[
        "crash",
        "--rounds",
        "2",
        "--pairs",
        "2",
        "--min-kill-ms",
        "100",
        "--max-kill-ms",
        "400",
        "--deadline-secs",
        "120",
    ]);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["kills"], 2);
    assert_eq!(doc["integrity_final"], "ok");
    assert_eq!(doc["duplicate_groups"], 0);
    assert_eq!(doc["missing_acknowledged_or_sent"], 0);
    assert!(doc["acknowledged"].as_u64().is_some_and(|n| n > 0));
}
