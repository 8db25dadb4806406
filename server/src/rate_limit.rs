//! Per-key rate limits (GCRA, via `governor`), one limiter per configured tier.
//!
//! Answers carry the IETF httpapi draft headers: `RateLimit-Policy: "standard";q=1200;w=60` and
//! `RateLimit: "standard";r=<remaining>;t=<seconds until full>`.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use crate::api_keys::token::KeyId;
use crate::clock::Clock;
use crate::config::RateLimitTiers;

impl GovernorClock for Clock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.elapsed())
    }
}

/// Keys are hashed with foldhash rather than SipHash: only keys that passed authentication are
/// ever inserted, so an attacker cannot choose what collides, and the hash runs per request.
type KeyedLimiter = governor::RateLimiter<
    KeyId,
    DashMapStateStore<KeyId, foldhash::fast::RandomState>,
    Clock,
    StateInformationMiddleware,
>;

struct Tier {
    /// Tier names and policies live as long as the process (the configuration never changes
    /// while it runs), so a decision refers to them without a reference count: every request
    /// carries one, and a shared count would bounce between the cores serving it.
    name: &'static str,
    per_minute: u32,
    limiter: KeyedLimiter,
    /// `RateLimit-Policy` never changes for a tier: rendered once.
    policy: HeaderValue,
}

/// The outcome of one request against its key's budget.
#[derive(Clone, Debug)]
pub struct Decision {
    pub tier: &'static str,
    policy: HeaderValue,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full budget is available again.
    pub reset_secs: u64,
    /// Set when the request is refused.
    pub retry_after_secs: Option<u64>,
}

pub struct RateLimiter {
    /// A handful of tiers, searched in order: cheaper per request than hashing the name.
    tiers: Vec<Tier>,
    clock: Clock,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(tiers: &RateLimitTiers, clock: Clock) -> Self {
        let tiers = tiers
            .iter()
            .map(|(name, per_minute)| {
                let quota = Quota::per_minute(NonZeroU32::new(per_minute).expect("tiers are > 0"));
                let limiter = governor::RateLimiter::dashmap_with_clock_and_hasher(
                    quota,
                    clock.clone(),
                    foldhash::fast::RandomState::default(),
                )
                .with_middleware::<StateInformationMiddleware>();
                let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
                let policy: &'static str =
                    Box::leak(format!("\"{name}\";q={per_minute};w=60").into_boxed_str());
                let policy = HeaderValue::from_static(policy);
                Tier {
                    name,
                    per_minute,
                    limiter,
                    policy,
                }
            })
            .collect();
        Self { tiers, clock }
    }

    /// Spends one request of `key`'s budget in `tier` (unknown tiers fall back to `standard`).
    pub fn check(&self, tier: &str, key: &KeyId) -> Decision {
        let named = |name: &str| self.tiers.iter().find(|t| t.name == name);
        let tier = named(tier)
            .or_else(|| named("standard"))
            .expect("config guarantees a standard tier");
        let limit = tier.per_minute;
        let per_request = 60.0 / f64::from(limit);
        let full_in = |remaining: u32| (f64::from(limit - remaining) * per_request).ceil() as u64;
        match tier.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    tier: tier.name,
                    policy: tier.policy.clone(),
                    limit,
                    remaining,
                    reset_secs: full_in(remaining),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait: Duration = not_until.wait_time_from(GovernorClock::now(&self.clock));
                Decision {
                    tier: tier.name,
                    policy: tier.policy.clone(),
                    limit,
                    remaining: 0,
                    reset_secs: full_in(0),
                    retry_after_secs: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
                }
            }
        }
    }

    /// Forgets keys whose budgets are full again, so memory follows active keys only.
    pub fn prune(&self) {
        for tier in &self.tiers {
            tier.limiter.retain_recent();
            tier.limiter.shrink_to_fit();
        }
    }
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.retry_after_secs.is_none()
    }

    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            HeaderName::from_static("ratelimit-policy"),
            self.policy.clone(),
        );
        // `"<tier>";r=<remaining>;t=<seconds>`, without the formatting machinery: every
        // authenticated answer carries it.
        let mut numbers = itoa::Buffer::new();
        let mut state = Vec::with_capacity(self.tier.len() + 32);
        state.push(b'"');
        state.extend_from_slice(self.tier.as_bytes());
        state.extend_from_slice(b"\";r=");
        state.extend_from_slice(numbers.format(self.remaining).as_bytes());
        state.extend_from_slice(b";t=");
        state.extend_from_slice(numbers.format(self.reset_secs).as_bytes());
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(state)) {
            headers.insert(HeaderName::from_static("ratelimit"), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_exact_and_refills_with_time() {
        let clock = Clock::controllable();
        let limiter = RateLimiter::new(
            &RateLimitTiers::parse("standard=1200").unwrap(),
            clock.clone(),
        );
        let k = KeyId::from_trusted("k".into());
        let other = KeyId::from_trusted("other".into());
        for i in 0..1200 {
            let d = limiter.check("standard", &k);
            assert!(d.allowed(), "request {} refused", i + 1);
            assert_eq!(d.remaining, 1199 - i);
        }
        let refused = limiter.check("standard", &k);
        assert!(!refused.allowed());
        assert_eq!(refused.retry_after_secs, Some(1));
        assert!(
            limiter.check("standard", &other).allowed(),
            "budgets are per key"
        );
        clock.advance(Duration::from_millis(50));
        assert!(
            limiter.check("standard", &k).allowed(),
            "one request refills every 50 ms"
        );
    }
}
