//! Per-key rate limits (GCRA), one limiter per configured tier.
//!
//! Without Redis each replica keeps its budgets in memory (`governor`), so N replicas allow up to
//! N times the limit. With `STATUSPULSE_REDIS_URL` the budget is one per key for every replica:
//! the same GCRA runs as a Lua script in Redis, one round trip per authenticated request. If
//! Redis stops answering, each replica falls back to its own budgets (and logs it) rather than
//! refusing or admitting everything.
//!
//! Answers carry the IETF httpapi draft headers: `RateLimit-Policy: "standard";q=1200;w=60` and
//! `RateLimit: "standard";r=<remaining>;t=<seconds until full>`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use crate::platform::clock::Clock;
use crate::platform::config::RateLimitTiers;
use statuspulse_api::key::KeyId;

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
    /// Budgets shared by every replica, when Redis is configured.
    shared: Option<SharedBudgets>,
}

/// GCRA in Redis: one theoretical arrival time (TAT) per tier and key, in milliseconds since
/// [`SHARED_EPOCH_MS`] so that a double keeps sub-microsecond precision.
///
/// Arguments: now, emission interval, burst tolerance (all ms). Returns whether the request is
/// admitted, how long to wait if not, and the debt (TAT - now) after it, as strings: Redis would
/// truncate Lua numbers to integers.
const GCRA_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_from = tat - tolerance
if now < allowed_from then
  return {0, string.format('%.6f', allowed_from - now), string.format('%.6f', tat - now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, '0', string.format('%.6f', new_tat - now)}
";

/// 2026-01-01T00:00:00Z.
const SHARED_EPOCH_MS: i64 = 1_767_225_600_000;

/// How long a request waits for Redis before its replica decides alone.
const SHARED_TIMEOUT: Duration = Duration::from_millis(250);

struct SharedBudgets {
    connection: redis::aio::MultiplexedConnection,
    script: redis::Script,
    /// When the last fallback was logged (ms), so an outage logs once a minute, not per request.
    last_warning_ms: AtomicI64,
}

/// What the shared GCRA said about one request.
#[derive(Debug)]
struct SharedOutcome {
    allowed: bool,
    wait_ms: f64,
    /// TAT - now after the request: how much of the budget is spent.
    debt_ms: f64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

/// A `'static` copy of `text`, made once per distinct text for the life of the process: tier
/// names and policies are read on every request, and a `'static` string costs no reference count
/// there. Interned rather than leaked per limiter, so building limiters again (tests, `bootstrap`
/// then `serve`) reuses them and they stay reachable.
fn intern(text: &str) -> &'static str {
    static INTERNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut interned = INTERNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = interned.iter().find(|s| **s == text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    interned.push(leaked);
    leaked
}

impl RateLimiter {
    pub fn new(tiers: &RateLimitTiers, clock: Clock) -> Self {
        let tiers = tiers
            .iter()
            .map(|(name, per_minute)| {
                let quota = Quota::per_minute(per_minute);
                let per_minute = per_minute.get();
                let limiter = governor::RateLimiter::dashmap_with_clock_and_hasher(
                    quota,
                    clock.clone(),
                    foldhash::fast::RandomState::default(),
                )
                .with_middleware::<StateInformationMiddleware>();
                let name = intern(name);
                let policy = intern(&format!("\"{name}\";q={per_minute};w=60"));
                let policy = HeaderValue::from_static(policy);
                Tier {
                    name,
                    per_minute,
                    limiter,
                    policy,
                }
            })
            .collect();
        Self {
            tiers,
            clock,
            shared: None,
        }
    }

    /// Shares every key's budget between the replicas that use this Redis.
    pub async fn share_through(mut self, redis_url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis_url)?;
        self.shared = Some(SharedBudgets {
            connection: client.get_multiplexed_async_connection().await?,
            script: redis::Script::new(GCRA_SCRIPT),
            last_warning_ms: AtomicI64::new(i64::MIN),
        });
        Ok(self)
    }

    /// Spends one request of `key`'s budget in `tier` (unknown tiers fall back to `standard`).
    pub async fn check(&self, tier: &str, key: &KeyId) -> Decision {
        let named = |name: &str| self.tiers.iter().find(|t| t.name == name);
        // `RateLimitTiers` refuses a spec without `standard`, and its default has one.
        #[allow(clippy::expect_used)]
        let tier = named(tier)
            .or_else(|| named("standard"))
            .expect("config guarantees a standard tier");
        if let Some(shared) = &self.shared {
            let now_ms = self.clock.now_ms();
            match shared.spend(tier, key, now_ms).await {
                Ok(outcome) => return tier.decision(&outcome),
                Err(error) => shared.warn_fallback(now_ms, &error),
            }
        }
        tier.check_locally(key, &self.clock)
    }

    /// Forgets keys whose budgets are full again, so memory follows active keys only.
    pub fn prune(&self) {
        for tier in &self.tiers {
            tier.limiter.retain_recent();
            tier.limiter.shrink_to_fit();
        }
    }
}

impl SharedBudgets {
    async fn spend(&self, tier: &Tier, key: &KeyId, now_ms: i64) -> anyhow::Result<SharedOutcome> {
        let interval = tier.interval_ms();
        let tolerance = interval * f64::from(tier.per_minute - 1);
        let mut connection = self.connection.clone();
        let mut invocation = self
            .script
            .key(format!("statuspulse:rate:{}:{key}", tier.name));
        invocation
            .arg((now_ms - SHARED_EPOCH_MS) as f64)
            .arg(interval)
            .arg(tolerance);
        let (allowed, wait, debt): (i64, String, String) =
            tokio::time::timeout(SHARED_TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| anyhow::anyhow!("redis did not answer within {SHARED_TIMEOUT:?}"))??;
        Ok(SharedOutcome {
            allowed: allowed == 1,
            wait_ms: wait.parse()?,
            debt_ms: debt.parse()?,
        })
    }

    fn warn_fallback(&self, now_ms: i64, error: &anyhow::Error) {
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= 60_000
            && self
                .last_warning_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(error = %error, "shared rate limits unavailable; each replica enforces its own budgets meanwhile");
        }
    }
}

impl Tier {
    fn check_locally(&self, key: &KeyId, clock: &Clock) -> Decision {
        match self.limiter.check_key(key) {
            Ok(snapshot) => self.admitted(snapshot.remaining_burst_capacity()),
            Err(not_until) => self.refused(not_until.wait_time_from(GovernorClock::now(clock))),
        }
    }

    /// The decision for a request the shared GCRA has measured.
    fn decision(&self, outcome: &SharedOutcome) -> Decision {
        if !outcome.allowed {
            return self.refused(Duration::from_secs_f64(outcome.wait_ms.max(0.0) / 1000.0));
        }
        // Requests that could still go out at once: the tolerance left, plus this one's slot.
        let interval = self.interval_ms();
        let left = (f64::from(self.per_minute) * interval - outcome.debt_ms) / interval;
        // A hair of float error must not cost a request.
        // Clamped to 0..=per_minute and floored, so the cast is exact (floats have no `try_from`).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let remaining = (left + 1e-6).floor().clamp(0.0, f64::from(self.per_minute)) as u32;
        self.admitted(remaining)
    }

    fn admitted(&self, remaining: u32) -> Decision {
        Decision {
            tier: self.name,
            policy: self.policy.clone(),
            limit: self.per_minute,
            remaining,
            reset_secs: self.full_in(remaining),
            retry_after_secs: None,
        }
    }

    fn refused(&self, wait: Duration) -> Decision {
        // At least 1 and whole; a float cast saturates, so a huge wait is `u64::MAX`, not a wrap.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let retry_after_secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        Decision {
            tier: self.name,
            policy: self.policy.clone(),
            limit: self.per_minute,
            remaining: 0,
            reset_secs: self.full_in(0),
            retry_after_secs: Some(retry_after_secs),
        }
    }

    /// The GCRA emission interval: one request's share of the minute, in milliseconds.
    fn interval_ms(&self) -> f64 {
        60_000.0 / f64::from(self.per_minute)
    }

    /// Seconds until the whole budget is available again.
    fn full_in(&self, remaining: u32) -> u64 {
        (u64::from(self.per_minute - remaining) * 60).div_ceil(u64::from(self.per_minute))
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

    #[tokio::test]
    async fn the_budget_is_exact_and_refills_with_time() {
        let clock = Clock::controllable();
        let limiter = RateLimiter::new(
            &RateLimitTiers::parse("standard=1200").unwrap(),
            clock.clone(),
        );
        let k = KeyId::from_trusted("k".into());
        let other = KeyId::from_trusted("other".into());
        for i in 0..1200 {
            let d = limiter.check("standard", &k).await;
            assert!(d.allowed(), "request {} refused", i + 1);
            assert_eq!(d.remaining, 1199 - i);
        }
        let refused = limiter.check("standard", &k).await;
        assert!(!refused.allowed());
        assert_eq!(refused.retry_after_secs, Some(1));
        assert!(
            limiter.check("standard", &other).await.allowed(),
            "budgets are per key"
        );
        clock.advance(Duration::from_millis(50));
        assert!(
            limiter.check("standard", &k).await.allowed(),
            "one request refills every 50 ms"
        );
    }

    fn redis_url() -> String {
        std::env::var("STATUSPULSE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    /// A key id no other test (or earlier run) has spent anything on.
    fn fresh_key() -> KeyId {
        KeyId::from_trusted(uuid::Uuid::new_v4().simple().to_string())
    }

    async fn shared_limiter(clock: &Clock, redis_url: &str) -> RateLimiter {
        RateLimiter::new(
            &RateLimitTiers::parse("standard=1200").unwrap(),
            clock.clone(),
        )
        .share_through(redis_url)
        .await
        .expect("the test machine runs Redis on 127.0.0.1:6379")
    }

    #[tokio::test]
    async fn with_redis_two_replicas_spend_one_budget() {
        let clock = Clock::frozen();
        let (a, b) = (
            shared_limiter(&clock, &redis_url()).await,
            shared_limiter(&clock, &redis_url()).await,
        );
        let key = fresh_key();
        for i in 0..1200u32 {
            let replica = if i % 2 == 0 { &a } else { &b };
            let d = replica.check("standard", &key).await;
            assert!(d.allowed(), "request {} refused", i + 1);
            assert_eq!(d.remaining, 1199 - i, "request {}", i + 1);
        }
        for replica in [&a, &b] {
            let refused = replica.check("standard", &key).await;
            assert!(
                !refused.allowed(),
                "the 1,201st is refused on every replica"
            );
            assert_eq!(refused.retry_after_secs, Some(1));
            assert_eq!((refused.remaining, refused.reset_secs), (0, 60));
        }
        clock.advance(Duration::from_millis(50));
        let refilled = b.check("standard", &key).await;
        assert!(refilled.allowed(), "one request refills every 50 ms");
        assert_eq!(refilled.remaining, 0);
        assert!(
            a.check("standard", &fresh_key()).await.allowed(),
            "budgets are per key"
        );
    }

    #[tokio::test]
    async fn when_redis_stops_answering_each_replica_falls_back_to_its_own_budget() {
        // Redis behind a proxy this test can cut.
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("redis://{}", proxy.local_addr().unwrap());
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let forwarding = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = proxy.accept().await {
                let upstream = upstream.clone();
                links.spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        let clock = Clock::frozen();
        let limiter = shared_limiter(&clock, &proxy_url).await;
        let key = fresh_key();
        for _ in 0..1200 {
            assert!(limiter.check("standard", &key).await.allowed());
        }
        assert!(
            !limiter.check("standard", &key).await.allowed(),
            "the shared budget is spent"
        );

        // Dropping the accept loop drops every forwarding link: the connection to Redis is gone.
        forwarding.abort();
        let _ = forwarding.await;
        let fallback = limiter.check("standard", &key).await;
        assert!(
            fallback.allowed(),
            "this replica's own budget, untouched so far, decides"
        );
        assert_eq!(fallback.remaining, 1199);
    }
}
