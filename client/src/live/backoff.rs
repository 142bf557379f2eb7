//! Reconnect delays: exponential backoff with "full jitter".
//!
//! The n-th consecutive failed attempt waits a uniformly random time in
//! `[0, min(cap, base × 2^(n-1))]`. Spreading the whole interval (rather
//! than adding a little noise to a fixed delay) is what keeps a crowd of
//! clients that lost the same server at the same moment (a restart, close
//! code 1001) from coming back in lockstep. After a connection that stayed
//! up for a while the count starts again from the first step.
//!
//! The outbox's retries ([`crate::local::backoff_ms`]) use the same ceilings
//! through [`retry_delay`], shaved by at most a quarter instead: each queued
//! message has its own count, so the delays need only a little spread, and a
//! "retrying in 4 s" the TUI shows stays close to true. Randomness is `rand`'s.

use std::time::Duration;

/// The knobs of [`Backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Upper bound of the first delay.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
}

impl Default for BackoffConfig {
    /// 0.5 s, doubling, capped at 30 s.
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

/// Counts consecutive failures and hands out the next delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A backoff with no failure counted yet.
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff { config, attempt: 0 }
    }

    /// Failures counted since the last [`Backoff::reset`].
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Forget the failures (after a stable connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Counts one more failure and returns how long to wait before the next
    /// attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let unit: f64 = rand::random();
        jittered(self.ceiling(self.attempt), unit)
    }

    /// The largest delay the `attempt`-th failure can get:
    /// `min(cap, base × 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        ceiling(self.config, attempt)
    }
}

/// `min(cap, base × 2^(attempt-1))`, attempt 0 counting as the first.
fn ceiling(config: BackoffConfig, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    config
        .base
        .checked_mul(1_u32 << exponent)
        .unwrap_or(config.cap)
        .min(config.cap)
}

/// The delay after `attempt` failures of one item: between 75 % and 100 %
/// of its ceiling.
pub fn retry_delay(config: BackoffConfig, attempt: u32) -> Duration {
    shaved(ceiling(config, attempt), rand::random())
}

/// `ceiling` less `unit` (in `[0, 1)`) of its quarter.
fn shaved(ceiling: Duration, unit: f64) -> Duration {
    ceiling.saturating_sub(jittered(ceiling / 4, unit))
}

/// `unit` (in `[0, 1)`) of `ceiling`; out-of-range units are clamped and a
/// non-finite one counts as 0 (`mul_f64` would panic on it).
fn jittered(ceiling: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    ceiling.mul_f64(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::new(BackoffConfig::default());
        let ms = |n| b.ceiling(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7)],
            [500, 1000, 2000, 4000, 8000, 16000, 30000]
        );
        assert_eq!(ms(0), 500, "attempt 0 behaves like the first");
        assert_eq!(ms(40), 30_000);
        assert_eq!(ms(u32::MAX), 30_000, "no overflow");
    }

    #[test]
    fn delays_stay_within_zero_and_the_ceiling() {
        let mut b = Backoff::new(BackoffConfig::default());
        let mut seen_low = false;
        let mut seen_high = false;
        for round in 0..2000 {
            if round % 10 == 0 {
                b.reset();
            }
            let d = b.next_delay();
            let ceiling = b.ceiling(b.attempt());
            assert!(d <= ceiling, "{d:?} > {ceiling:?} at attempt {}", b.attempt());
            assert!(d <= Duration::from_secs(30));
            seen_low |= d < ceiling / 4;
            seen_high |= d > ceiling * 3 / 4;
        }
        assert!(seen_low && seen_high, "the whole interval is used (full jitter)");
    }

    #[test]
    fn jitter_is_clamped_and_linear() {
        let c = Duration::from_secs(8);
        assert_eq!(jittered(c, 0.0), Duration::ZERO);
        assert_eq!(jittered(c, 0.5), Duration::from_secs(4));
        assert_eq!(jittered(c, 2.0), c);
        assert_eq!(jittered(c, -1.0), Duration::ZERO);
        assert_eq!(jittered(c, f64::NAN), Duration::ZERO);
        assert_eq!(jittered(c, f64::INFINITY), Duration::ZERO);
    }

    #[test]
    fn retry_delays_lose_at_most_a_quarter() {
        let c = Duration::from_secs(8);
        assert_eq!(shaved(c, 0.0), c);
        assert_eq!(shaved(c, 0.5), Duration::from_secs(7));
        assert_eq!(shaved(c, 1.0), Duration::from_secs(6));
        assert_eq!(shaved(c, f64::NAN), c);
        let config = BackoffConfig {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        };
        for _ in 0..200 {
            let d = retry_delay(config, 3);
            assert!(
                (Duration::from_secs(3)..=Duration::from_secs(4)).contains(&d),
                "{d:?}"
            );
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(BackoffConfig {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(4),
        });
        for _ in 0..5 {
            b.next_delay();
        }
        assert_eq!(b.attempt(), 5);
        assert_eq!(b.ceiling(b.attempt()), Duration::from_secs(4));
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
