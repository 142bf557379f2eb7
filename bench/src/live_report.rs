//! The human-readable table of a `live` report, rendered from its JSON.

use serde_json::Value;
use std::io::Write;

use crate::report::{met, num};

/// A JSON value as a table cell: numbers and strings without quotes.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn mib(kib: &Value) -> String {
    kib.as_f64()
        .map(|k| format!("{:.1}", k / 1024.0))
        .unwrap_or_else(|| "-".into())
}

/// Writes the table for a `live` report.
pub fn table(w: &mut dyn Write, r: &Value) -> std::io::Result<()> {
    let rt = &r["config"]["realtime"];
    let nofile = &r["config"]["nofile"];
    writeln!(w)?;
    writeln!(
        w,
        "mchatd {} live benchmark: {} CPUs ({}), kernel {}",
        r["mchatd_version"].as_str().unwrap_or("?"),
        r["cpus"],
        r["cpu_model"].as_str().unwrap_or("?"),
        r["kernel"].as_str().unwrap_or("?"),
    )?;
    writeln!(
        w,
        "config: rate limits off; [realtime] ws_buffer = {} frames, max_write_buffer_bytes = {}, \
         ping_interval_secs = {} (overridden: {}); ws read buffer {} B",
        rt["ws_buffer"],
        rt["max_write_buffer_bytes"],
        rt["ping_interval_secs"],
        rt["overridden"],
        rt["ws_read_buffer_bytes"],
    )?;
    writeln!(
        w,
        "nofile: bench {} (was {}), server {}; {} idle users x {} sockets; registration {} /s",
        nofile["bench"],
        nofile["bench_before"],
        nofile["server"],
        r["setup"]["idle_users"],
        r["params"]["sockets_per_user"],
        num(&r["setup"]["register_per_s"], 1),
    )?;
    writeln!(
        w,
        "server: startup {} s; RSS {} MB at start -> {} MB after (peak {} MB)",
        num(&r["startup_s"], 2),
        num(&r["mem_startup"]["rss_mb"], 1),
        num(&r["mem_after"]["rss_mb"], 1),
        num(&r["mem_after"]["hwm_mb"], 1),
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<24} {:>6} {:>6} {:>6} {:>6} {:>7} | {:>8} {:>8} | {:>7} {:>7} {:>7} {:>5} {:>6}",
        "send -> receive (ms)",
        "rounds",
        "p50",
        "p90",
        "p99",
        "max",
        "rtt p50",
        "rtt p99",
        "skipped",
        "srv cpu",
        "cli cpu",
        "busy%",
        "other"
    )?;
    let lat = &r["latency"];
    for (key, name) in [
        ("one_pair", "one pair".to_owned()),
        ("idle", String::new()),
        ("at_max", String::new()),
    ] {
        let l = &lat[key];
        if l.is_null() {
            continue;
        }
        let name = if name.is_empty() {
            format!("with {} idle sockets", l["idle_sockets"])
        } else {
            name
        };
        writeln!(
            w,
            "{:<24} {:>6} {:>6} {:>6} {:>6} {:>7} | {:>8} {:>8} | {:>7} {:>7} {:>7} {:>5} {:>6}",
            name,
            cell(&l["rounds"]),
            num(&l["latency_ms"]["p50"], 3),
            num(&l["latency_ms"]["p90"], 3),
            num(&l["latency_ms"]["p99"], 3),
            num(&l["latency_ms"]["max"], 2),
            num(&l["send_rtt_ms"]["p50"], 3),
            num(&l["send_rtt_ms"]["p99"], 3),
            cell(&l["skipped_frames"]),
            num(&l["server_cpu_s"], 2),
            num(&l["client_cpu_s"], 2),
            num(&l["host_busy_pct"], 0),
            num(&l["host_other_cpu_s"], 2),
        )?;
    }
    writeln!(
        w,
        "(latency: start of A's POST until B's socket yields the message; rtt = A's POST round trip; \
         skipped = other frames B read;\n cpu in s over the phase; busy% = whole machine; \
         other = CPU s of other processes: high means a noisy run)"
    )?;
    let tg = &r["targets"];
    writeln!(
        w,
        "target with {} idle sockets: p50 <= 2 ms -> {} ({}); p99 <= 10 ms -> {} ({})",
        tg["idle_p50_ms"]["idle_sockets"],
        num(&tg["idle_p50_ms"]["value"], 3),
        met(&tg["idle_p50_ms"]["met"]),
        num(&tg["idle_p99_ms"]["value"], 3),
        met(&tg["idle_p99_ms"]["met"]),
    )?;
    writeln!(w)?;
    let s = &r["sockets"];
    writeln!(
        w,
        "{:<14} {:>7} {:>7} {:>7} {:>5} {:>9} {:>8} {:>9} {:>9} {:>8} {:>9}",
        "idle sockets",
        "target",
        "open",
        "server",
        "ok",
        "connect s",
        "overflow",
        "RSS MiB",
        "anon MiB",
        "srv fds",
        "KiB/sock"
    )?;
    let mut prev: Option<(f64, f64)> = None;
    if let Some(points) = s["points"].as_array() {
        for p in points.iter().chain(std::iter::once(&s["final"])) {
            let (t, k) = (p["target"].as_f64(), p["rss_kib"].as_f64());
            let delta = match (prev, t, k) {
                (Some((t0, k0)), Some(t), Some(k)) if t > t0 => format!("{:.1}", (k - k0) / (t - t0)),
                _ => "-".into(),
            };
            if let (Some(t), Some(k)) = (t, k) {
                prev = Some((t, k));
            }
            writeln!(
                w,
                "{:<14} {:>7} {:>7} {:>7} {:>5} {:>9} {:>8} {:>9} {:>9} {:>8} {:>9}",
                cell(&p["label"]),
                cell(&p["target"]),
                cell(&p["client_open"]),
                num(&p["server_ws_connections"], 0),
                if p["all_open"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "NO"
                },
                num(&p["connect_s"], 2),
                cell(&p["host_listen_overflows"]),
                mib(&p["rss_kib"]),
                mib(&p["rss_anon_kib"]),
                cell(&p["server_fds"]),
                delta,
            )?;
        }
    }
    writeln!(
        w,
        "(server = the server's mchatd_ws_connections gauge, which also counts B's socket; overflow = host \
         ListenOverflows during the connects (SYN dropped, 1 s retry);\n KiB/sock = RSS change / socket change \
         since the previous row; registered = after the registrations, baseline = after priming (opening and \
         closing {} sockets))",
        s["prime_sockets"]
    )?;
    writeln!(
        w,
        "held: {} idle sockets all open; RSS per socket {} KiB (linear fit over {} readings from the first \
         step's end, R² {}; RssAnon {} KiB)",
        s["max_idle_held"],
        num(&s["rss_kib_per_socket"], 2),
        s["rss_fit_points"],
        num(&s["rss_fit_r2"], 3),
        num(&s["rss_anon_kib_per_socket"], 2),
    )?;
    if let Some(why) = s["stopped_early"].as_str() {
        writeln!(w, "ramp stopped early: {why}")?;
    }
    writeln!(
        w,
        "idle sockets dropped: {} (first: {}); slow-consumer drops on the server: {}; bench RSS at max {} MiB",
        s["idle_dropped"],
        s["first_drop"].as_str().unwrap_or("none"),
        num(&s["dropped_slow_total"], 0),
        mib(&s["client_rss_kib_at_max"]),
    )?;
    writeln!(
        w,
        "target: {} sockets -> {} ({}); <= 64 KiB per socket -> {} ({})",
        tg["sockets_held"]["target"].as_str().unwrap_or("?"),
        tg["sockets_held"]["value"],
        met(&tg["sockets_held"]["met"]),
        num(&tg["rss_kib_per_socket"]["value"], 2),
        met(&tg["rss_kib_per_socket"]["met"]),
    )?;
    let h = &s["hold"];
    if !h.is_null() {
        writeln!(
            w,
            "holding {} idle sockets for {} s: server CPU {} s ({}% of one core); {} frames reached idle sockets",
            cell(&h["idle_sockets"]),
            num(&h["secs"], 1),
            num(&h["server_cpu_s"], 2),
            num(&h["server_cpu_pct"], 1),
            cell(&h["frames_to_idle_sockets"]),
        )?;
    }
    if let Some(cycles) = s["reopen_cycles"].as_array().filter(|c| !c.is_empty()) {
        for c in cycles {
            writeln!(
                w,
                "cycle {}: all closed -> server gauge {}, RSS {} MiB; all reopened ({} s, {} open) -> RSS {} MiB",
                cell(&c["cycle"]),
                num(&c["closed"]["server_ws_connections"], 0),
                mib(&c["closed"]["rss_kib"]),
                num(&c["reopened"]["connect_s"], 2),
                cell(&c["reopened"]["client_open"]),
                mib(&c["reopened"]["rss_kib"]),
            )?;
        }
        writeln!(
            w,
            "RSS growth from reopening, vs the first time at the top: {} KiB/socket (about 0: memory is reused, not leaked)",
            num(&s["reopen_growth_kib_per_socket"], 2),
        )?;
    }
    let ac = &r["after_close"];
    if !ac.is_null() {
        writeln!(
            w,
            "after closing: {} closed cleanly in {} s ({} aborted); server gauge {}, RSS {} MiB, fds {}",
            ac["closed_clean"],
            num(&ac["close_s"], 2),
            ac["aborted"],
            num(&ac["server_ws_connections"], 0),
            mib(&ac["rss_kib"]),
            ac["server_fds"],
        )?;
    }
    writeln!(
        w,
        "cpu_ref_ms {} -> {} (machine speed drift); bench wall {} s; server {}",
        num(&r["cpu_ref_ms_before"], 1),
        num(&r["cpu_ref_ms_after"], 1),
        num(&r["bench_wall_s"], 1),
        r["server_stop"].as_str().unwrap_or("?"),
    )?;
    writeln!(w)?;
    Ok(())
}
