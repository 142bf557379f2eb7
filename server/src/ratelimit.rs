//! Rate limits (governor): auth attempts per client IP (behind a trusted
//! proxy, the address it forwards: `client_ip`), sends per user. A refusal
//! is a 429 with `Retry-After`. A retried send whose `client_id` is already
//! stored is not checked at all (the routes look first): it stores nothing.

use crate::config::LimitsConfig;
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use mchat_shared::UserId;
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct RateLimits {
    auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    send: Option<DefaultKeyedRateLimiter<UserId>>,
}

fn quota(per_period: Quota, burst: u32) -> Quota {
    match NonZeroU32::new(burst) {
        Some(b) => per_period.allow_burst(b),
        None => per_period,
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else { return Ok(()) };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        metrics::counter!("mchatd_rate_limited_total").increment(1);
        ApiError::rate_limited(secs.max(1))
    })
}

impl RateLimits {
    pub fn new(cfg: &LimitsConfig) -> RateLimits {
        RateLimits {
            auth: NonZeroU32::new(cfg.auth_per_min)
                .map(|n| RateLimiter::keyed(quota(Quota::per_minute(n), cfg.auth_burst))),
            send: NonZeroU32::new(cfg.send_per_sec)
                .map(|n| RateLimiter::keyed(quota(Quota::per_second(n), cfg.send_burst))),
        }
    }

    pub fn check_auth(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.auth, &ip)
    }

    pub fn check_send(&self, user: UserId) -> Result<(), ApiError> {
        check(&self.send, &user)
    }

    /// Whether sends are limited at all (`send_per_sec` > 0); without a
    /// limit the routes skip the look-up that spares retries a token.
    pub fn limits_sends(&self) -> bool {
        self.send.is_some()
    }

    /// Forgets keys whose limits have fully recovered (bounded memory).
    pub fn sweep(&self) {
        if let Some(l) = &self.auth {
            l.retain_recent();
        }
        if let Some(l) = &self.send {
            l.retain_recent();
        }
    }
}
