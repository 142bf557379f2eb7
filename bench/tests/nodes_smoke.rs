//! Smoke test of `mchat-bench nodes` with tiny numbers against the debug
//! `mchatd` and a throwaway PostgreSQL: every setup reports figures, and the
//! node killed under load loses and duplicates nothing.
//!
//! Needs PostgreSQL: `scripts/with-postgres.sh cargo test -p mchat-bench
//! --test nodes_smoke -- --ignored` (as `.ci/run` does).

use serde_json::Value;
use std::process::Command;

#[test]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh with --ignored"]
fn nodes_smoke_run_reports_every_setup_and_loses_nothing() {
    let url = std::env::var(mchat_testkit::PG_URL_VAR).expect("run through scripts/with-postgres.sh");
    let out = Command::new(env!("CARGO_BIN_EXE_mchat-bench"))
        .args(["nodes", "--server-bin"])
        .arg(mchat_testkit::mchatd_bin())
        .args([
            "--postgres",
            &url,
            "--nodes",
            "2",
            "--sends",
            "64",
            "--rounds",
            "20",
        ])
        .args([
            "--idle",
            "20",
            "--history",
            "80",
            "--pages",
            "10",
            "--crash-sends",
            "200",
            "--json",
        ])
        .output()
        .expect("cannot run mchat-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mchat-bench nodes failed: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    for setup in ["sqlite_1", "postgres_1", "postgres_2"] {
        let s = &doc[setup];
        assert!(
            s["c1_msg_per_s"].as_f64().is_some_and(|x| x > 0.0),
            "{setup}: {s}"
        );
        assert!(
            s["c16_msg_per_s"].as_f64().is_some_and(|x| x > 0.0),
            "{setup}: {s}"
        );
        assert_eq!(s["send_receive_same_node_ms"]["n"], 20, "{setup}: {s}");
    }
    assert_eq!(doc["postgres_2"]["send_receive_cross_node_ms"]["n"], 20);
    let k = &doc["kill_one_node"];
    assert_eq!(k["acknowledged"], 200, "{k}");
    assert_eq!(
        (k["lost"].as_u64(), k["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{k}"
    );
}
