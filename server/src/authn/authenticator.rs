//! Turns a presented API key into an authenticated credential, fast.
//!
//! The order of checks is what makes verification cheap and safe under attack:
//! 1. [`PlainApiKey::parse`]: shape and checksum, no I/O. Typos and garbage stop here.
//! 2. The verified-key cache, keyed by public key id, holding an HMAC digest of the one secret
//!    that passed Argon2. A valid key answers from memory; a wrong secret for a cached key id is
//!    refused by a constant-time digest comparison, with no Argon2 and no database.
//! 3. A database lookup by key id. Unknown, revoked and expired keys stop here, with no Argon2.
//! 4. Argon2id off the async runtime, behind a semaphore (bounded concurrency), coalesced for
//!    identical presentations and budgeted per key id *and client network*, so a flood of
//!    guesses cannot monopolise it and a guesser on one network cannot lock out the key's
//!    holder on another (key ids are public). A much larger budget per key id across all
//!    networks still caps the Argon2 a distributed guesser can aim at one key.
//!
//! Cached records are re-read after `cache_refresh` (in the background) and never served older
//! than `cache_max_age`, so a revocation on another replica is honoured within 30 s; a
//! revocation on this replica calls [`Authenticator::invalidate`] and takes effect at once,
//! whatever is in flight: every invalidation bumps a generation under the key's map shard lock,
//! and a record read before a bump is neither cached as fresh nor answered without a re-read.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::per_thread::PerThread;
use crate::authn::token::{KeyHasher, KeyId, KeyRef, MalformedKey, PlainApiKey};
use crate::authz::access::{self, AccessContext};
use crate::authz::scopes::{Environment, Scopes};
use crate::platform::clock::Clock;
use crate::platform::config::Settings;
use crate::platform::db::{self, Db};
use crate::platform::metrics::Metrics;
use crate::platform::network::ClientNetwork;
use statuspulse_api::key::KeyStatus;

type Digest = [u8; 32];

/// What a verified key may do; everything a verify answer or an authorization decision needs.
#[derive(Debug)]
pub struct Credential {
    pub id: String,
    pub key_id: KeyId,
    pub workspace_id: String,
    pub environment: Environment,
    pub service_account_id: Option<String>,
    pub scopes: Scopes,
    pub check_group_ids: Vec<String>,
    pub alert_route_ids: Vec<String>,
    pub expires_at: i64,
    pub rotate_after: i64,
    pub revoked_at: Option<i64>,
    pub rate_limit_tier: String,
    /// Clusters the key itself is narrowed to (empty: every cluster of its environment).
    pub environment_clusters: Vec<String>,
    /// Bindings and clusters that decide what the key may really do.
    pub access: AccessContext,
    /// `scopes` after role bindings: what the key may do anywhere in its environment.
    pub effective_scopes: Scopes,
    /// The verify answer, rendered once per record and thread (indexed by `rotation_due`): the
    /// hot path serves bytes instead of building JSON.
    pub rendered_answer: [PerThread<super::routes::RenderedAnswer>; 2],
    /// [`ClientNetwork::code`]s of networks this replica saw the key used from (one cache line,
    /// most recent per slot): a use from one of them, the usual case even for a fleet spread
    /// over a few subnets, costs a few relaxed loads in [`Authenticator::note_network`].
    pub recent_networks: [AtomicU64; RECENT_NETWORKS],
}

impl Credential {
    pub fn status(&self, now_ms: i64) -> KeyStatus {
        KeyStatus::at(now_ms, self.expires_at, self.revoked_at)
    }
}

/// Whether a key in this state may authenticate at `now_ms` (a rotated key may, until its grace
/// period ends).
fn usable_at(credential: &Credential, now_ms: i64) -> Result<(), AuthFailure> {
    match credential.status(now_ms) {
        KeyStatus::Active | KeyStatus::Rotating => Ok(()),
        KeyStatus::Revoked => Err(AuthFailure::Revoked),
        KeyStatus::Expired => Err(AuthFailure::Expired),
    }
}

/// Why a credential was not accepted. `reason()` is the audit reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed(MalformedKey),
    UnknownKey,
    WrongSecret,
    Revoked,
    Expired,
    /// Too many failed verifications for this key id: refused without Argon2 for a while.
    TooManyFailedAttempts {
        retry_after_secs: u64,
    },
    /// The credential store could not be reached; nobody is authenticated meanwhile.
    Unavailable,
}

impl AuthFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Malformed(_) => "malformed",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::WrongSecret => "wrong_secret",
            AuthFailure::Revoked => "revoked",
            AuthFailure::Expired => "expired",
            AuthFailure::TooManyFailedAttempts { .. } => "too_many_failed_attempts",
            AuthFailure::Unavailable => "unavailable",
        }
    }
}

/// The result of a verification: the verdict, and for a refusal what is known about the key so
/// the failure can be audited in its workspace.
pub struct Verification {
    /// The presented key id, when a refusal has no `known` credential to carry it.
    pub key_id: Option<KeyId>,
    /// The key's credential, on every refusal of a key that exists (a success carries it in
    /// `verdict` only).
    pub known: Option<Arc<Credential>>,
    pub verdict: Result<Arc<Credential>, AuthFailure>,
}

struct CachedKey {
    credential: Arc<Credential>,
    /// HMAC of the one secret that passed Argon2 for this key id.
    digest: Digest,
    fetched: Instant,
    refreshing: AtomicBool,
    /// Set when the key's record changed (revocation, scopes, bindings): the next use re-reads
    /// it before answering. The digest is kept, so that costs a lookup, never an Argon2.
    stale: AtomicBool,
    last_used_ms: AtomicI64,
    flushed_ms: AtomicI64,
}

/// What the verified-key cache says about a presented key.
enum CacheLookup {
    Answered(Verification),
    Reload(Arc<CachedKey>),
    Miss,
}

/// Outcome of a cold verification, shared by concurrent identical presentations.
#[derive(Clone)]
enum ColdOutcome {
    /// The record, and the invalidation generation seen before it was read.
    Verified(Arc<Credential>, u64),
    Refused(Option<Arc<Credential>>, AuthFailure),
}

/// A failure budget keyed by `K`, on the server's clock.
type FailureBudget<K> = governor::RateLimiter<
    K,
    DefaultKeyedStateStore<K>,
    Clock,
    NoOpMiddleware<governor::nanos::Nanos>,
>;

pub struct Authenticator {
    db: Db,
    clock: Clock,
    metrics: Arc<Metrics>,
    hasher: KeyHasher,
    /// HMAC keyed with a per-process random key (never leaves memory), cloned per digest so the
    /// key schedule is computed once.
    digest_mac: Hmac<Sha256>,
    /// Keys that passed Argon2, by key id. A plain concurrent map: a hit is one shard read lock,
    /// and only valid keys ever enter it, so its size follows real keys, not attackers. Idle
    /// entries are dropped by [`Authenticator::prune`]. Hashed with foldhash: nobody outside
    /// chooses what is inserted, so nobody can aim collisions, and every verification hashes.
    verified: dashmap::DashMap<KeyId, Arc<CachedKey>, foldhash::fast::RandomState>,
    /// Coalesces identical cold presentations and remembers refusals for a minute.
    attempts: moka::future::Cache<(KeyId, Digest), ColdOutcome>,
    argon2_slots: Arc<Semaphore>,
    /// Bumped by every [`Authenticator::invalidate`], under the key's shard lock of `verified`.
    invalidations: AtomicU64,
    /// Key ids whose wrong-secret budget for one client network is spent, with the time (ms)
    /// the lockout ends for that network.
    network_lockouts: moka::future::Cache<(KeyId, ClientNetwork), i64>,
    /// Key ids whose budget across all networks is spent: Argon2's ceiling per key id.
    key_lockouts: moka::future::Cache<KeyId, i64>,
    network_failures: FailureBudget<(KeyId, ClientNetwork)>,
    key_failures: FailureBudget<KeyId>,
    refresh_after: Duration,
    max_age: Duration,
    /// (key, network) pairs recorded or queued by this replica, for the `new_network` anomaly
    /// rule: a sharded map, so uses from networks beyond a key's recent ones contend on no
    /// global lock. At most [`MAX_KNOWN_NETWORKS`]; past that it starts over (a repeated insert
    /// is harmless).
    known_networks: dashmap::DashMap<(String, u64), (), foldhash::fast::RandomState>,
    /// Pairs seen for the first time, waiting for [`Authenticator::flush_networks`]; at most
    /// [`MAX_PENDING_NETWORKS`] (past that a pair is left for a later use to record).
    new_networks: std::sync::Mutex<Vec<SeenNetwork>>,
}

/// Slots of [`Credential::recent_networks`]: eight `u64`, one cache line.
pub const RECENT_NETWORKS: usize = 8;

/// A key used from a client network (/24, /64) for the first time on this replica.
#[derive(Debug)]
struct SeenNetwork {
    api_key_id: String,
    workspace_id: String,
    network: ClientNetwork,
    code: u64,
    at: i64,
}

const MAX_KNOWN_NETWORKS: usize = 100_000;
const MAX_PENDING_NETWORKS: usize = 4096;
/// Networks recorded per key, at most: enough for any real fleet; past it the key's history is
/// no baseline for "new" anyway, and one key cannot grow the table without bound.
pub const MAX_NETWORKS_PER_KEY: i64 = 64;

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

const IDLE_EVICTION_MS: i64 = 60 * 60 * 1000;

const SELECT_CREDENTIAL: &str = "SELECT k.id, k.key_id, k.workspace_id, k.environment, \
    k.service_account_id, k.scopes, k.check_group_ids, k.alert_route_ids, k.expires_at, \
    k.rotate_after, k.revoked_at, w.rate_limit_tier, k.secret_hash, k.environment_clusters \
    FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.key_id = $1";

/// One row of [`SELECT_CREDENTIAL`].
#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: String,
    key_id: String,
    workspace_id: String,
    environment: String,
    service_account_id: Option<String>,
    scopes: String,
    check_group_ids: String,
    alert_route_ids: String,
    expires_at: i64,
    rotate_after: i64,
    revoked_at: Option<i64>,
    rate_limit_tier: String,
    secret_hash: String,
    environment_clusters: String,
}

impl Authenticator {
    pub fn new(db: Db, clock: Clock, metrics: Arc<Metrics>, settings: &Settings) -> Self {
        // A full block of key, the length HMAC takes without a length check to fail.
        let mut digest_key = hmac::digest::Key::<Hmac<Sha256>>::default();
        rand::rngs::OsRng.fill_bytes(&mut digest_key);
        // Wrong secrets for a known key id cost an Argon2 each (until the right one is cached).
        // From one client network: 10 at once and one every 6 s after that, then that network is
        // locked out of Argon2 for this key id. Across all networks, a larger ceiling.
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        let budgets = &settings.failure_budgets;
        Self {
            db,
            hasher: KeyHasher::default(),
            digest_mac: <Hmac<Sha256> as Mac>::new(&digest_key),
            verified: dashmap::DashMap::with_hasher(foldhash::fast::RandomState::default()),
            attempts: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            argon2_slots: Arc::new(Semaphore::new(settings.argon2_concurrency)),
            invalidations: AtomicU64::new(0),
            network_lockouts: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
            key_lockouts: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
            network_failures: governor::RateLimiter::dashmap_with_clock(
                per_minute(budgets.per_network_per_minute),
                clock.clone(),
            ),
            key_failures: governor::RateLimiter::dashmap_with_clock(
                per_minute(budgets.per_key_per_minute),
                clock.clone(),
            ),
            clock,
            metrics,
            refresh_after: settings.cache_refresh,
            max_age: settings.cache_max_age,
            known_networks: dashmap::DashMap::with_hasher(foldhash::fast::RandomState::default()),
            new_networks: std::sync::Mutex::default(),
        }
    }

    fn digest(&self, key: &KeyRef<'_>) -> Digest {
        let mut mac = self.digest_mac.clone();
        for part in key.secret_parts() {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Verifies a presented key string. `client` names the client's network; it is asked only
    /// when the key is not cached, so the hot path never works it out.
    pub async fn verify(
        self: &Arc<Self>,
        presented: &str,
        client: impl FnOnce() -> ClientNetwork,
    ) -> Verification {
        let key = match KeyRef::parse(presented) {
            Ok(key) => key,
            Err(e) => {
                return Verification {
                    key_id: None,
                    known: None,
                    verdict: Err(AuthFailure::Malformed(e)),
                }
            }
        };
        let digest = self.digest(&key);
        let now = self.clock.now_ms();
        match self.lookup_cached(&key, &digest, now) {
            CacheLookup::Answered(verification) => verification,
            // The slow paths hold large futures (database reads, Argon2). Boxing them keeps this
            // future small, and the router moves it onto the heap on every request.
            CacheLookup::Reload(cached) => Box::pin(self.reload(cached, digest, now)).await,
            CacheLookup::Miss => {
                self.metrics.cache_miss.inc();
                let network = client();
                Box::pin(self.verify_uncached(key.to_owned(), digest, network)).await
            }
        }
    }

    /// The hot path: a fresh cached record answers under the map's read guard, without cloning
    /// the entry.
    fn lookup_cached(self: &Arc<Self>, key: &KeyRef<'_>, digest: &Digest, now: i64) -> CacheLookup {
        let Some(entry) = self.verified.get(key.key_id()) else {
            return CacheLookup::Miss;
        };
        let cached = entry.value();
        self.metrics.cache_hit.inc();
        let age = cached.fetched.elapsed();
        if age > self.max_age || cached.stale.load(Ordering::Acquire) {
            // Too old (or known changed) to trust without a look at the database, but the
            // digest stays valid: a key id has exactly one secret for life.
            return CacheLookup::Reload(cached.clone());
        }
        if age > self.refresh_after {
            self.refresh_in_background(cached);
        }
        CacheLookup::Answered(Self::answer_cached(cached, digest, now))
    }

    /// Re-reads a cached key's record before answering (it was stale or too old).
    async fn reload(&self, cached: Arc<CachedKey>, digest: Digest, now: i64) -> Verification {
        let refusal = |failure| Verification {
            key_id: Some(cached.credential.key_id.clone()),
            known: None,
            verdict: Err(failure),
        };
        match self.reread(&cached).await {
            Ok(Some(fresh)) => Self::answer_cached(&fresh, &digest, now),
            Ok(None) => refusal(AuthFailure::UnknownKey),
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                refusal(AuthFailure::Unavailable)
            }
        }
    }

    /// The current record of the key a console session stands for (`authn::session`), read from
    /// the database on every request of the session, like the session row: no secret is
    /// checked (the session proved it at sign-in), and a key that no longer authenticates
    /// (revoked, expired, past its rotation grace, purged) is `None`.
    pub async fn session_credential(
        &self,
        key_id: &KeyId,
    ) -> Result<Option<Arc<Credential>>, sqlx::Error> {
        let Some((credential, _)) = self.load(key_id).await? else {
            return Ok(None);
        };
        Ok(usable_at(&credential, self.clock.now_ms())
            .is_ok()
            .then(|| Arc::new(credential)))
    }

    /// Reads a cached key's record again and caches it under the same digest (a key id has one
    /// secret for life, so no Argon2). `None` when the key is gone (purged), which also drops it
    /// from the cache.
    async fn reread(&self, cached: &CachedKey) -> Result<Option<Arc<CachedKey>>, sqlx::Error> {
        let key_id = &cached.credential.key_id;
        let generation = self.invalidations.load(Ordering::SeqCst);
        let Some((credential, _)) = self.load(key_id).await? else {
            self.verified.remove(key_id);
            return Ok(None);
        };
        let fresh = self.cache_verified(
            key_id,
            Arc::new(credential),
            cached.digest,
            cached.last_used_ms.load(Ordering::Relaxed),
            generation,
        );
        fresh
            .flushed_ms
            .store(cached.flushed_ms.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(Some(fresh))
    }

    /// A key id this replica has not verified yet: database, then Argon2 (coalesced).
    async fn verify_uncached(
        self: &Arc<Self>,
        key: PlainApiKey,
        digest: Digest,
        network: ClientNetwork,
    ) -> Verification {
        let key_id = key.key_id().clone();
        let this = self.clone();
        let cold = self
            .attempts
            .try_get_with((key_id.clone(), digest), async move {
                this.verify_cold(key, digest, network).await
            })
            .await;
        let outcome = match cold {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                // Fail closed: an unreachable database never authenticates anyone.
                ColdOutcome::Refused(None, AuthFailure::Unavailable)
            }
        };
        match outcome {
            ColdOutcome::Verified(credential, generation) => {
                // Successes live in `verified`; keep `attempts` for coalescing and refusals only,
                // so that `invalidate` needs to clear one cache.
                self.attempts.invalidate(&(key_id.clone(), digest)).await;
                // A change committed since the record was read (this request may have joined a
                // verification that began before a revocation was answered): read it again.
                // The secret was checked; only the record can have changed.
                let credential = if self.invalidations.load(Ordering::SeqCst) == generation {
                    credential
                } else {
                    match self.load(&key_id).await {
                        Ok(Some((fresh, _))) => Arc::new(fresh),
                        Ok(None) => return refused(key_id, None, AuthFailure::UnknownKey),
                        Err(e) => {
                            tracing::error!(error = %e, "credential lookup failed");
                            return refused(key_id, None, AuthFailure::Unavailable);
                        }
                    }
                };
                Verification {
                    key_id: Some(key_id),
                    known: Some(credential.clone()),
                    verdict: self.usable(credential),
                }
            }
            ColdOutcome::Refused(known, failure) => {
                // A lockout depends on the client's network and ends on its own: never
                // remembered for the next presentation.
                if matches!(failure, AuthFailure::TooManyFailedAttempts { .. }) {
                    self.attempts.invalidate(&(key_id.clone(), digest)).await;
                }
                refused(key_id, known, failure)
            }
        }
    }

    fn usable(&self, credential: Arc<Credential>) -> Result<Arc<Credential>, AuthFailure> {
        usable_at(&credential, self.clock.now_ms()).map(|()| credential)
    }

    /// Checks a presented secret against a cached key. Only a refusal carries `known` (for its
    /// audit event), so a success costs one reference count on the credential.
    fn answer_cached(cached: &CachedKey, digest: &Digest, now: i64) -> Verification {
        let verdict = if bool::from(cached.digest.ct_eq(digest)) {
            usable_at(&cached.credential, now)
        } else {
            Err(AuthFailure::WrongSecret)
        };
        match verdict {
            Ok(()) => {
                // `last_used_at` is kept to the second: skipping the write most of the time keeps
                // this cache line from bouncing between the cores that serve the key.
                if now - cached.last_used_ms.load(Ordering::Relaxed) >= 1000 {
                    cached.last_used_ms.store(now, Ordering::Relaxed);
                }
                Verification {
                    key_id: None,
                    known: None,
                    verdict: Ok(cached.credential.clone()),
                }
            }
            Err(failure) => Verification {
                key_id: None,
                known: Some(cached.credential.clone()),
                verdict: Err(failure),
            },
        }
    }

    async fn verify_cold(
        self: Arc<Self>,
        key: PlainApiKey,
        digest: Digest,
        network: ClientNetwork,
    ) -> Result<ColdOutcome, Arc<sqlx::Error>> {
        let generation = self.invalidations.load(Ordering::SeqCst);
        let Some((credential, secret_hash)) = self.load(key.key_id()).await.map_err(Arc::new)?
        else {
            return Ok(ColdOutcome::Refused(None, AuthFailure::UnknownKey));
        };
        let credential = Arc::new(credential);
        // Revoked and expired keys are refused before Argon2: their state is public anyway.
        if let Err(failure) = self.usable(credential.clone()) {
            return Ok(ColdOutcome::Refused(Some(credential), failure));
        }
        let now = self.clock.now_ms();
        let key_id = &credential.key_id;
        let network_lockout = self.network_lockouts.get(&(key_id.clone(), network)).await;
        let key_lockout = self.key_lockouts.get(key_id).await;
        if let Some(until) = network_lockout.max(key_lockout).filter(|u| *u > now) {
            let failure = AuthFailure::TooManyFailedAttempts {
                retry_after_secs: (until - now).unsigned_abs().div_ceil(1000).max(1),
            };
            return Ok(ColdOutcome::Refused(Some(credential), failure));
        }
        if self.argon2_matches(key, secret_hash).await {
            self.cache_verified(key_id, credential.clone(), digest, now, generation);
            return Ok(ColdOutcome::Verified(credential, generation));
        }
        // Only failures spend the budgets, so a legitimate first use is never locked out by
        // them. One network's budget is a small fraction of the key's ceiling: a guesser on
        // one network is stopped long before it could lock out every network.
        let governor_now = governor::clock::Clock::now(&self.clock);
        let ends = |not_until: governor::NotUntil<governor::nanos::Nanos>| {
            let wait_ms = not_until.wait_time_from(governor_now).as_millis();
            now.saturating_add(i64::try_from(wait_ms).unwrap_or(i64::MAX))
        };
        if let Err(not_until) = self.network_failures.check_key(&(key_id.clone(), network)) {
            self.network_lockouts
                .insert((key_id.clone(), network), ends(not_until))
                .await;
        }
        if let Err(not_until) = self.key_failures.check_key(key_id) {
            self.key_lockouts
                .insert(key_id.clone(), ends(not_until))
                .await;
        }
        Ok(ColdOutcome::Refused(
            Some(credential),
            AuthFailure::WrongSecret,
        ))
    }

    async fn argon2_matches(&self, key: PlainApiKey, secret_hash: String) -> bool {
        self.metrics.argon2_waiting.inc();
        let permit = self.argon2_slots.clone().acquire_owned().await;
        self.metrics.argon2_waiting.dec();
        let Ok(permit) = permit else { return false };
        self.metrics.argon2_running.inc();
        let hasher = self.hasher.clone();
        let started = Instant::now();
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            key.matches(&secret_hash, &hasher)
        })
        .await
        .unwrap_or(false);
        self.metrics.argon2_running.dec();
        self.metrics
            .argon2_seconds
            .observe(started.elapsed().as_secs_f64());
        matched
    }

    /// Caches a record read when the invalidation generation was `generation`. If any
    /// invalidation came since, the entry goes in stale (its next use re-reads the database).
    /// The check and the insert happen under the key's shard lock, which
    /// [`Authenticator::invalidate`] takes too: either the invalidation is counted before the
    /// check, or it finds this entry and marks it.
    fn cache_verified(
        &self,
        key_id: &KeyId,
        credential: Arc<Credential>,
        digest: Digest,
        last_used_ms: i64,
        generation: u64,
    ) -> Arc<CachedKey> {
        let entry = Arc::new(CachedKey {
            credential,
            digest,
            fetched: Instant::now(),
            refreshing: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            last_used_ms: AtomicI64::new(last_used_ms),
            flushed_ms: AtomicI64::new(0),
        });
        let slot = self.verified.entry(key_id.clone());
        if self.invalidations.load(Ordering::SeqCst) != generation {
            entry.stale.store(true, Ordering::Release);
        }
        slot.insert(entry.clone());
        entry
    }

    fn refresh_in_background(self: &Arc<Self>, cached: &Arc<CachedKey>) {
        if cached.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let cached = cached.clone();
        tokio::spawn(async move {
            if let Err(e) = this.reread(&cached).await {
                tracing::warn!(error = %e, "refreshing a cached key failed; will retry");
                cached.refreshing.store(false, Ordering::Release);
            }
        });
    }

    /// Marks a key's cached record stale, so its next use re-reads the database before
    /// answering (revocations and scope changes take effect at once).
    pub fn invalidate(&self, key_id: &KeyId) {
        // Under the shard lock, so that no verification in flight can cache what it read before
        // the change as fresh (see `cache_verified`).
        let slot = self.verified.entry(key_id.clone());
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        if let dashmap::Entry::Occupied(entry) = &slot {
            entry.get().stale.store(true, Ordering::Release);
        }
        drop(slot);
        // Refusals cached in `attempts` stay refusals; successes are never kept there.
    }

    async fn load(&self, key_id: &KeyId) -> Result<Option<(Credential, String)>, sqlx::Error> {
        let row: Option<CredentialRow> = sqlx::query_as(SELECT_CREDENTIAL)
            .bind(key_id.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let access = access::load_context(
            self.db.pool(),
            &r.workspace_id,
            r.service_account_id.as_deref(),
        )
        .await?;
        // A stored value that does not parse fails the verification closed (503), never into
        // fewer restrictions.
        let environment: Environment = r.environment.parse().map_err(|()| {
            sqlx::Error::Decode(format!("stored environment of {} is corrupt", r.id).into())
        })?;
        let scopes = db::stored_scopes(&r.scopes)?;
        let credential = Credential {
            effective_scopes: access.effective(&scopes, environment, None),
            key_id: KeyId::from_trusted(r.key_id),
            workspace_id: r.workspace_id,
            environment,
            service_account_id: r.service_account_id,
            scopes,
            check_group_ids: db::stored_list("check_group_ids", &r.check_group_ids)?,
            alert_route_ids: db::stored_list("alert_route_ids", &r.alert_route_ids)?,
            expires_at: r.expires_at,
            rotate_after: r.rotate_after,
            revoked_at: r.revoked_at,
            rate_limit_tier: r.rate_limit_tier,
            environment_clusters: db::stored_list("environment_clusters", &r.environment_clusters)?,
            id: r.id,
            access,
            rendered_answer: Default::default(),
            recent_networks: std::array::from_fn(|_| AtomicU64::new(ClientNetwork::NO_CODE)),
        };
        Ok(Some((credential, r.secret_hash)))
    }

    /// Writes buffered `last_used_at` times; called periodically and at shutdown.
    pub async fn flush_last_used(&self) -> Result<usize, sqlx::Error> {
        let pending: Vec<(Arc<CachedKey>, i64)> = self
            .verified
            .iter()
            .filter_map(|item| {
                let entry = item.value();
                let used = entry.last_used_ms.load(Ordering::Relaxed);
                (used > entry.flushed_ms.load(Ordering::Relaxed)).then(|| (entry.clone(), used))
            })
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin_write().await?;
        for (entry, used) in &pending {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*used)
            .bind(&entry.credential.id)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await?;
        for (entry, used) in &pending {
            entry.flushed_ms.fetch_max(*used, Ordering::Relaxed);
        }
        Ok(pending.len())
    }

    /// Notes that `credential` was just used successfully from `client`'s network. The hot path:
    /// a network among the key's recent ones costs a few loads of one cache line; another one
    /// looks in a sharded map, and only a network this replica has not recorded queues a
    /// database write (never made on the request path: [`Authenticator::flush_networks`]).
    pub fn note_network(&self, credential: &Credential, client: impl FnOnce() -> Option<IpAddr>) {
        let Some(ip) = client() else { return };
        let network = ClientNetwork::of(ip);
        let code = network.code();
        if !credential
            .recent_networks
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == code)
        {
            self.note_other_network(credential, network, code);
        }
    }

    #[cold]
    fn note_other_network(&self, credential: &Credential, network: ClientNetwork, code: u64) {
        // The slot is picked by the code, so a fleet's few networks settle into their own slots.
        let slot = usize::try_from(code % RECENT_NETWORKS as u64).unwrap_or(0);
        credential.recent_networks[slot].store(code, Ordering::Relaxed);
        let seen = (credential.id.clone(), code);
        if self.known_networks.contains_key(&seen) {
            return;
        }
        let Ok(mut pending) = self.new_networks.lock() else {
            return;
        };
        if pending.len() >= MAX_PENDING_NETWORKS {
            return;
        }
        if self.known_networks.len() >= MAX_KNOWN_NETWORKS {
            self.known_networks.clear();
        }
        if self.known_networks.insert(seen, ()).is_some() {
            return;
        }
        pending.push(SeenNetwork {
            api_key_id: credential.id.clone(),
            workspace_id: credential.workspace_id.clone(),
            network,
            code,
            at: self.clock.now_ms(),
        });
    }

    /// Writes the networks noted since the last call to `api_key_networks` (at most
    /// [`MAX_NETWORKS_PER_KEY`] per key; a network already there stays as first seen). Run
    /// every second with the `last_used_at` write-back, and at shutdown.
    pub async fn flush_networks(&self) -> Result<usize, sqlx::Error> {
        let pending = match self.new_networks.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(0),
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let written = self.write_networks(&pending).await;
        if written.is_err() {
            // Not recorded: forget them, so that the next use from there tries again.
            for seen in &pending {
                self.known_networks
                    .remove(&(seen.api_key_id.clone(), seen.code));
            }
        }
        written.map(|()| pending.len())
    }

    async fn write_networks(&self, pending: &[SeenNetwork]) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        for seen in pending {
            // A key purged meanwhile has no row to refer to: the SELECT finds none.
            sqlx::query(
                "INSERT INTO api_key_networks (api_key_id, network, workspace_id, first_seen_at, \
                 detected) SELECT $1, $2, $3, $4, 0 WHERE EXISTS (SELECT 1 FROM api_keys \
                 WHERE id = $1) AND (SELECT COUNT(*) FROM api_key_networks WHERE api_key_id = $1) \
                 < $5 ON CONFLICT (api_key_id, network) DO NOTHING",
            )
            .bind(&seen.api_key_id)
            .bind(seen.network.to_string())
            .bind(&seen.workspace_id)
            .bind(seen.at)
            .bind(MAX_NETWORKS_PER_KEY)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }

    /// Background maintenance of the in-memory structures.
    pub fn prune(&self) {
        self.network_failures.retain_recent();
        self.key_failures.retain_recent();
        // Keys unused for an hour are dropped; their next use pays one Argon2 again.
        let idle_since = self.clock.now_ms() - IDLE_EVICTION_MS;
        self.verified
            .retain(|_, entry| entry.last_used_ms.load(Ordering::Relaxed) >= idle_since);
    }
}

fn refused(key_id: KeyId, known: Option<Arc<Credential>>, failure: AuthFailure) -> Verification {
    Verification {
        key_id: Some(key_id),
        known,
        verdict: Err(failure),
    }
}

impl Authenticator {
    /// Hashes another secret held like a key (an OAuth client secret), in the same bounded pool.
    pub async fn hash_secret(&self, secret: zeroize::Zeroizing<String>) -> anyhow::Result<String> {
        let permit = self.argon2_slots.clone().acquire_owned().await;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hasher
                .hash_secret(secret.as_bytes())
                .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))
        })
        .await?
    }

    /// Checks a secret against its PHC string, in the same bounded pool.
    pub async fn secret_matches(&self, phc: String, secret: zeroize::Zeroizing<String>) -> bool {
        let permit = self.argon2_slots.clone().acquire_owned().await;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hasher.secret_matches(&phc, secret.as_bytes())
        })
        .await
        .unwrap_or(false)
    }

    /// Hashes a new key with Argon2id, sharing the bounded pool with verification.
    pub async fn hash_new_key(&self, key: PlainApiKey) -> anyhow::Result<(PlainApiKey, String)> {
        let permit = self.argon2_slots.clone().acquire_owned().await;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let phc = key
                .hash(&hasher)
                .map_err(|e| anyhow::anyhow!("hashing a new key: {e}"))?;
            Ok((key, phc))
        })
        .await?
    }
}
