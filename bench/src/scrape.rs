//! The server's own view of a phase, from `/metrics` deltas: how many write
//! batches (group commits) ran, their mean size, and how long the single
//! writer thread and the reader threads were busy.

use serde::Serialize;

/// The counters of one `/metrics` scrape that the benchmark uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbCounters {
    write_batches: f64,
    write_s: f64,
    batch_items: f64,
    reads: f64,
    read_s: f64,
}

/// One phase's database work.
#[derive(Debug, Clone, Serialize)]
pub struct DbPhase {
    pub write_batches: u64,
    pub mean_batch_size: Option<f64>,
    /// Seconds the writer thread spent in transactions (incl. fsync).
    pub writer_busy_s: f64,
    pub reads: u64,
    pub reader_busy_s: f64,
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|v| v.parse::<f64>().ok())
        .next()
        .unwrap_or(0.0)
}

/// Parses the Prometheus text; missing series count as 0.
pub fn parse(text: &str) -> DbCounters {
    DbCounters {
        write_batches: value(text, "mchatd_db_duration_seconds_count{op=\"write_batch\"} "),
        write_s: value(text, "mchatd_db_duration_seconds_sum{op=\"write_batch\"} "),
        batch_items: value(text, "mchatd_db_write_batch_jobs_sum "),
        reads: value(text, "mchatd_db_duration_seconds_count{op=\"read\"} "),
        read_s: value(text, "mchatd_db_duration_seconds_sum{op=\"read\"} "),
    }
}

/// The work between two scrapes.
pub fn delta(a: &DbCounters, b: &DbCounters) -> DbPhase {
    let batches = (b.write_batches - a.write_batches).max(0.0);
    let items = (b.batch_items - a.batch_items).max(0.0);
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    DbPhase {
        write_batches: batches as u64,
        mean_batch_size: (batches > 0.0).then(|| (items / batches * 10.0).round() / 10.0),
        writer_busy_s: r3((b.write_s - a.write_s).max(0.0)),
        reads: (b.reads - a.reads).max(0.0) as u64,
        reader_busy_s: r3((b.read_s - a.read_s).max(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_histogram_series() {
        let t = "# TYPE mchatd_db_duration_seconds histogram\n\
                 mchatd_db_duration_seconds_bucket{op=\"write_batch\",le=\"0.005\"} 9\n\
                 mchatd_db_duration_seconds_sum{op=\"write_batch\"} 2.5\n\
                 mchatd_db_duration_seconds_count{op=\"write_batch\"} 10\n\
                 mchatd_db_write_batch_jobs_bucket{le=\"4\"} 10\n\
                 mchatd_db_write_batch_jobs_sum 40\n\
                 mchatd_db_write_batch_jobs_count 10\n";
        let d = delta(&DbCounters::default(), &parse(t));
        assert_eq!(d.write_batches, 10);
        assert_eq!(d.mean_batch_size, Some(4.0));
        assert_eq!(d.writer_busy_s, 2.5);
        assert_eq!(d.reads, 0);
    }
}
