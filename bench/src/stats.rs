//! Latency summaries: nearest-rank percentiles in milliseconds, as in the
//! Synapse peer bench (`pct`, `summarize_ms` in `bench.py`).

use serde::Serialize;

/// `n`, p50/p90/p99/max and mean of a sample, in ms rounded to 3 decimals.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

/// Nearest-rank percentile of an ascending slice: the value at rank ⌈p/100·n⌉.
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Summarises samples given in milliseconds.
pub fn summarize_ms(samples: &[f64]) -> Summary {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        None
    } else {
        Some(round3(v.iter().sum::<f64>() / v.len() as f64))
    };
    Summary {
        n: v.len(),
        p50: nearest_rank(&v, 50.0).map(round3),
        p90: nearest_rank(&v, 90.0).map(round3),
        p99: nearest_rank(&v, 99.0).map(round3),
        max: v.last().copied().map(round3),
        mean,
    }
}

/// Mean of each tenth of the samples, in the order given (completion order):
/// shows drift as the conversation grows (`send_ms_mean_by_tenth`).
pub fn mean_by_tenth(samples: &[f64]) -> Vec<f64> {
    let k = (samples.len() / 10).max(1);
    samples
        .chunks_exact(k)
        .map(|c| (c.iter().sum::<f64>() / c.len() as f64 * 100.0).round() / 100.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_the_definition() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(50.0));
        assert_eq!(nearest_rank(&v, 99.0), Some(99.0));
        assert_eq!(nearest_rank(&v, 100.0), Some(100.0));
        assert_eq!(nearest_rank(&[7.0], 1.0), Some(7.0));
        assert_eq!(nearest_rank(&[], 50.0), None);
        let s = summarize_ms(&[3.0, 1.0, 2.0]);
        assert_eq!((s.n, s.p50, s.max, s.mean), (3, Some(2.0), Some(3.0), Some(2.0)));
    }

    #[test]
    fn tenths_cover_the_run() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let t = mean_by_tenth(&v);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], 4.5);
    }
}
