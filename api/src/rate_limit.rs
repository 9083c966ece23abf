//! Per-principal rate limiting: a token bucket per subject (per client address when
//! anonymous), refilled continuously at `LVYUE_RATE_LIMIT_PER_MINUTE` up to
//! `LVYUE_RATE_LIMIT_BURST`. A refused request is answered `LIMIT_EXCEEDED` (HTTP 429 with
//! `Retry-After`).
//!
//! Memory is bounded by [`MAX_TRACKED_CLIENTS`]: when full, buckets that have refilled (idle
//! clients) are dropped, and if that is not enough the table is cleared (logged), which at
//! worst forgives every client once. IPv6 clients are keyed by their /64, which one client can
//! otherwise rotate through at will. Behind a load balancer the address is the balancer's;
//! authenticated clients are still limited by subject.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most clients tracked at once.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    Subject(String),
    Address(IpAddr),
}

impl RateKey {
    pub fn subject(sub: &str) -> RateKey {
        RateKey::Subject(sub.to_owned())
    }

    pub fn address(ip: IpAddr) -> RateKey {
        match ip {
            IpAddr::V4(_) => RateKey::Address(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => RateKey::Address(IpAddr::V4(v4)),
                None => {
                    let mut seg = v6.segments();
                    seg[4..].fill(0);
                    RateKey::Address(IpAddr::V6(seg.into()))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every client.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<RateKey, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` 0 turns limiting off.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket.
    ///
    /// # Errors
    /// How long until a token is available, when the bucket is empty.
    pub fn check(&self, key: &RateKey) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(key) {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }

    fn evict(&self, buckets: &mut HashMap<RateKey, Bucket>, now: Instant) {
        let (per_second, burst) = (self.per_second, self.burst);
        buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_second < burst
        });
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            tracing::warn!(
                clients = buckets.len(),
                "rate limiter table full of active clients; clearing it"
            );
            buckets.clear();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_refilled() {
        let rl = RateLimiter::new(60, 3);
        let k = RateKey::subject("alice");
        for _ in 0..3 {
            assert!(rl.check(&k).is_ok());
        }
        let wait = rl.check(&k).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another client has its own bucket.
        assert!(rl.check(&RateKey::subject("bob")).is_ok());
    }

    #[test]
    fn zero_per_minute_turns_limiting_off() {
        let rl = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(rl.check(&RateKey::subject("x")).is_ok());
        }
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(RateKey::address(a), RateKey::address(b));
    }
}
