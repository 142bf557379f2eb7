//! Smoke test: `mchat-bench cli` with tiny numbers against the debug
//! binaries (the testkit builds them if they are missing or stale).

use serde_json::Value;
use std::process::Command;

#[test]
fn cli_smoke_run_reports_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args([
            "cli",
            "--conversations",
            "3",
            "--runs",
            "3",
            "--json",
            "--client-bin",
        ])
        .arg(mchat_testkit::mchat_bin())
        .arg("--server-bin")
        .arg(mchat_testkit::mchatd_bin())
        .output()
        .expect("run mchat-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench cli failed: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("exactly one JSON document on stdout");
    assert_eq!(doc["conversations"], 3);
    for cmd in [
        "send_mentee_by_name",
        "send_by_conversation_id",
        "send_mentor_by_name",
        "inbox_mentor",
        "inbox_mentor_json",
    ] {
        let s = &doc["wall_ms"][cmd];
        assert_eq!(s["n"], 3, "{cmd}: {s}");
        let p50 = s["p50"].as_f64().unwrap_or(-1.0);
        assert!(p50 > 0.0 && p50 < 10_000.0, "{cmd}: {s}");
    }
    assert!(doc["targets"]["send_p50_le_30ms"].is_boolean());
}
