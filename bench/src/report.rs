//! The human-readable table, rendered from the JSON report (one source of truth).

use serde_json::Value;
use std::io::Write;

/// A number cell with `decimals` places, or `-`.
pub(crate) fn num(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

/// A target cell: met / NOT met / n/a.
pub(crate) fn met(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "n/a",
    }
}

/// Writes the table for a `core` report.
pub fn table(w: &mut dyn Write, r: &Value) -> std::io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "mchatd {} core benchmark: {} CPUs ({}), kernel {}",
        r["mchatd_version"].as_str().unwrap_or("?"),
        r["cpus"],
        r["cpu_model"].as_str().unwrap_or("?"),
        r["kernel"].as_str().unwrap_or("?"),
    )?;
    writeln!(
        w,
        "config: rate limits off, storage.synchronous = {}, fresh DB; client and server share the CPUs",
        r["config"]["storage_synchronous"].as_str().unwrap_or("?")
    )?;
    writeln!(
        w,
        "server: startup {} s; RSS {} MB at start -> {} MB after (peak {} MB); DB+WAL {} MB",
        num(&r["startup_s"], 2),
        num(&r["mem_startup"]["rss_mb"], 1),
        num(&r["mem_after"]["rss_mb"], 1),
        num(&r["mem_after"]["hwm_mb"], 1),
        num(&r["db_mb"], 1),
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<13} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} {:>6} {:>6}",
        "sends",
        "msg/s",
        "p50",
        "p90",
        "p99",
        "max",
        "srv p50",
        "srv p99",
        "srv cpu",
        "cli cpu",
        "ms/msg",
        "busy%",
        "batch",
        "writer",
        "other"
    )?;
    let rows = [
        ("c1", &r["throughput"]["c1"], "throughput_c1"),
        ("c16", &r["throughput"]["c16"], "throughput_c16"),
        ("c16_multi", &r["throughput"]["c16_multi"], "throughput_c16_multi"),
        ("history seed", &r["history_seed"], "history_seed"),
    ];
    for (name, t, phase) in rows {
        let db = &r["server_db"][phase];
        let writer = match (
            db["writer_busy_s"].as_f64(),
            r["server_cpu"][phase]["wall_s"].as_f64(),
        ) {
            (Some(b), Some(w)) if w > 0.0 => format!("{:.0}%", 100.0 * b / w),
            _ => "-".into(),
        };
        writeln!(
            w,
            "{:<13} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} {:>6} {:>6}",
            name,
            num(&t["msg_per_s"], 0),
            num(&t["send_ms"]["p50"], 2),
            num(&t["send_ms"]["p90"], 2),
            num(&t["send_ms"]["p99"], 2),
            num(&t["send_ms"]["max"], 1),
            num(&t["server_ms"]["p50"], 2),
            num(&t["server_ms"]["p99"], 2),
            num(&t["server_cpu_s"], 2),
            num(&t["client_cpu_s"], 2),
            num(&t["server_cpu_ms_per_msg"], 3),
            num(&t["host_busy_pct"], 0),
            num(&db["mean_batch_size"], 1),
            writer,
            num(&t["host_other_cpu_s"], 2),
        )?;
    }
    writeln!(
        w,
        "(ms; srv = server-timing header; cpu in s; busy% = whole machine; batch = mean group commit; \
         writer = writer-thread busy share of wall time;\n \
         other = CPU s used by other processes: high means a noisy run)"
    )?;
    let tg = &r["targets"];
    writeln!(
        w,
        "target: c16 >= 5000 msg/s -> {} ({})",
        num(&tg["c16_msg_per_s"]["value"], 0),
        met(&tg["c16_msg_per_s"]["met"])
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "history: {} messages, limit {}   client p50    p90    p99    max | server p50    p99",
        r["history"]["conversation_messages"], r["history"]["page_limit"]
    )?;
    for (name, h) in [
        ("newest page", &r["history"]["newest"]),
        ("random before=", &r["history"]["random_before"]),
    ] {
        writeln!(
            w,
            "  {:<30} {:>8} {:>6} {:>6} {:>6} | {:>10} {:>6}",
            format!("{name} (n={})", h["client_ms"]["n"]),
            num(&h["client_ms"]["p50"], 3),
            num(&h["client_ms"]["p90"], 3),
            num(&h["client_ms"]["p99"], 3),
            num(&h["client_ms"]["max"], 2),
            num(&h["server_ms"]["p50"], 3),
            num(&h["server_ms"]["p99"], 3),
        )?;
    }
    writeln!(
        w,
        "target: history p99 <= 2 ms -> newest {} ({}), random {} ({})",
        num(&tg["history_newest_p99_ms"]["value"], 3),
        met(&tg["history_newest_p99_ms"]["met"]),
        num(&tg["history_random_p99_ms"]["value"], 3),
        met(&tg["history_random_p99_ms"]["met"]),
    )?;
    writeln!(
        w,
        "cpu_ref_ms {} -> {} (machine speed drift); bench wall {} s",
        num(&r["cpu_ref_ms_before"], 1),
        num(&r["cpu_ref_ms_after"], 1),
        num(&r["bench_wall_s"], 1)
    )?;
    writeln!(w)?;
    Ok(())
}

/// Prints a pass/fail report (`load`, `crash`): pretty JSON for people, and
/// with `--json` also one compact document on stdout (the pretty copy then
/// goes to stderr).
pub fn emit_json_report(report: &Value, json: bool) -> serde_json::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    if json {
        eprintln!("{text}");
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{text}");
    }
    Ok(())
}
