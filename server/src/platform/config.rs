//! Server settings: flags and `STATUSPULSE_*` environment variables, with defaults that run a
//! single server on an embedded SQLite file.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use clap::Args;

use crate::platform::network::{RegionMap, TrustedProxies};

/// Bodies larger than this are refused with 413 (docs/CONTRACT.md, "HTTP API").
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Settings shared by every subcommand that touches the database.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// `sqlite://path?mode=rwc` (the embedded default) or `postgres://…`.
    #[arg(
        long = "database-url",
        env = "STATUSPULSE_DATABASE_URL",
        default_value = "sqlite://statuspulse.db?mode=rwc"
    )]
    pub database_url: String,
}

/// `serve` settings.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "STATUSPULSE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Optional Redis: rate-limit budgets shared by every replica, and instant revocation fan-out.
    #[arg(long = "redis-url", env = "STATUSPULSE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Rate-limit tiers as `name=requests_per_minute`, comma separated. `standard` must exist.
    #[arg(
        long = "rate-limit-tiers",
        env = "STATUSPULSE_RATE_LIMIT_TIERS",
        default_value = "standard=1200,enterprise=6000"
    )]
    pub rate_limit_tiers: String,

    /// Argon2 verifications allowed at once (defaults to the number of CPUs).
    #[arg(long = "argon2-concurrency", env = "STATUSPULSE_ARGON2_CONCURRENCY")]
    pub argon2_concurrency: Option<usize>,

    /// Seconds a cached key record is trusted before it is re-read from the database.
    #[arg(
        long = "cache-refresh-secs",
        env = "STATUSPULSE_CACHE_REFRESH_SECS",
        default_value_t = 10
    )]
    pub cache_refresh_secs: u64,

    /// Seconds between runs of the job that deletes keys whose 30-day quarantine has ended.
    #[arg(
        long = "purge-interval-secs",
        env = "STATUSPULSE_PURGE_INTERVAL_SECS",
        default_value_t = 3600
    )]
    pub purge_interval_secs: u64,

    /// Seconds a client has to send a request's headers, counted from when the server starts
    /// waiting for them (so it also bounds an idle HTTP/1.1 keep-alive connection).
    #[arg(
        long = "header-timeout-secs",
        env = "STATUSPULSE_HEADER_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_timeout_secs: u64,

    /// Seconds a connection may pass with no byte read or written before it is closed.
    #[arg(
        long = "idle-timeout-secs",
        env = "STATUSPULSE_IDLE_TIMEOUT_SECS",
        default_value_t = 60
    )]
    pub idle_timeout_secs: u64,

    /// Seconds a client has to send a whole request body once its headers are in.
    #[arg(
        long = "body-timeout-secs",
        env = "STATUSPULSE_BODY_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub body_timeout_secs: u64,

    /// Open connections allowed at once; more are closed as soon as they are accepted. Defaults
    /// to 4096, lowered to fit the open-file limit.
    #[arg(long = "max-connections", env = "STATUSPULSE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// MiB of request bodies held in memory at once, across all requests; beyond it a request
    /// with a body gets 503 with `Retry-After`.
    #[arg(
        long = "body-memory-mib",
        env = "STATUSPULSE_BODY_MEMORY_MIB",
        default_value_t = 64
    )]
    pub body_memory_mib: usize,
    // Failed authentication (issue 8: failure budgets per client network).
    /// Proxies (comma-separated CIDR blocks) whose `Forwarded` / `X-Forwarded-For` headers name
    /// the client. Default: none, so the TCP peer is the client.
    #[arg(
        long = "trusted-proxies",
        env = "STATUSPULSE_TRUSTED_PROXIES",
        default_value = ""
    )]
    pub trusted_proxies: String,

    /// Regions of client networks, for conditional access by region and the region of token
    /// audit events: comma-separated `CIDR=region` pairs (`10.20.0.0/16=eu-west-1`); the most
    /// specific block wins.
    #[arg(
        long = "network-regions",
        env = "STATUSPULSE_NETWORK_REGIONS",
        default_value = ""
    )]
    pub network_regions: String,

    /// A header in which a trusted proxy (`--trusted-proxies`) names the client's region, such
    /// as `CloudFront-Viewer-Country`; believed only from a trusted proxy, and preferred to
    /// `--network-regions`.
    #[arg(long = "region-header", env = "STATUSPULSE_REGION_HEADER")]
    pub region_header: Option<String>,

    /// The master key that seals secrets the server must read back (base64 of 32 random bytes).
    /// Without it (and without a key file), the embedded SQLite default creates
    /// `statuspulse-master.key` beside the database on first run.
    #[arg(
        long = "master-key",
        env = "STATUSPULSE_MASTER_KEY",
        hide_env_values = true
    )]
    pub master_key: Option<SecretArg>,

    /// A file holding the master key (instead of `--master-key`).
    #[arg(long = "master-key-file", env = "STATUSPULSE_MASTER_KEY_FILE")]
    pub master_key_file: Option<std::path::PathBuf>,

    /// Earlier master keys, comma separated, still needed to open values sealed before a
    /// rotation.
    #[arg(
        long = "master-key-previous",
        env = "STATUSPULSE_MASTER_KEY_PREVIOUS",
        hide_env_values = true
    )]
    pub master_key_previous: Option<SecretArg>,

    /// The base URL browsers and identity providers reach this server at (SAML entity id and
    /// assertion consumer URL, OIDC redirect URI). Default: `http://<listen address>`.
    #[arg(long = "public-url", env = "STATUSPULSE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Seconds without a request after which a signed-in session ends.
    #[arg(long, env = "STATUSPULSE_SESSION_IDLE_TIMEOUT_SECS", default_value_t = 12 * 3600)]
    pub session_idle_timeout_secs: u64,

    /// Seconds after sign-in at which a session ends in any case.
    #[arg(long, env = "STATUSPULSE_SESSION_LIFETIME_SECS", default_value_t = 24 * 3600)]
    pub session_lifetime_secs: u64,

    /// Seconds each key signing our own tokens is used before the next takes over.
    #[arg(long, env = "STATUSPULSE_SIGNING_KEY_ROTATION_SECS", default_value_t = 6 * 3600)]
    pub signing_key_rotation_secs: u64,

    /// Let SSO connections reach identity providers on loopback addresses over plain http: for
    /// development and tests only. Without it, IdPs are called over https on public addresses.
    #[arg(long, env = "STATUSPULSE_ALLOW_LOOPBACK_IDPS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub allow_loopback_idps: bool,
    /// Let audit sinks deliver to loopback addresses (plain http there): development and tests.
    #[arg(long, env = "STATUSPULSE_ALLOW_LOOPBACK_SINKS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub allow_loopback_sinks: bool,
    /// Let audit sinks deliver to private networks (RFC 1918, CGNAT, IPv6 ULA), for a SIEM
    /// collector inside your network. Link-local addresses stay refused.
    #[arg(long, env = "STATUSPULSE_ALLOW_PRIVATE_SINKS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub allow_private_sinks: bool,
}

/// A secret given on the command line or in the environment: `Debug` never shows it.
#[derive(Clone)]
pub struct SecretArg(pub zeroize::Zeroizing<String>);

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(zeroize::Zeroizing::new(s.to_owned())))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the master key comes from.
#[derive(Clone, Debug, Default)]
pub enum MasterKeySource {
    /// The embedded default: a key file beside the SQLite database, created on first run; none
    /// for other databases.
    #[default]
    Default,
    Value(SecretArg),
    File(std::path::PathBuf),
}

/// Everything [`crate::Application::build`] needs, independent of how it was parsed.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    pub redis_url: Option<String>,
    pub rate_limit_tiers: RateLimitTiers,
    pub argon2_concurrency: usize,
    /// After this, a cached record is refreshed in the background while still served.
    pub cache_refresh: Duration,
    /// After this, a cached record is never served without re-reading it. Bounds how long a
    /// revocation made on another replica can go unnoticed (docs/CONTRACT.md: within 30 s).
    pub cache_max_age: Duration,
    /// How often buffered `last_used_at` times are written back.
    pub last_used_flush: Duration,
    /// How often the quarantine purge job runs.
    pub purge_interval: Duration,
    /// Time to send a request's headers (also bounds an idle HTTP/1.1 keep-alive connection).
    pub header_timeout: Duration,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Time to send a whole body once the headers are in.
    pub body_timeout: Duration,
    /// Connections open at once; excess ones are closed at accept.
    pub max_connections: usize,
    /// Bytes of request bodies buffered at once, across all requests.
    pub body_memory_budget: usize,

    // Failed authentication.
    /// Proxies believed about the client's address; failure budgets and audit aggregation
    /// count by the client's network.
    pub trusted_proxies: TrustedProxies,
    /// Where client addresses are (regions), and the header a trusted proxy names it in.
    pub network_regions: RegionMap,
    pub region_header: Option<axum::http::HeaderName>,
    /// Wrong secrets for an uncached key id, each an Argon2, before Argon2 is refused.
    pub failure_budgets: FailureBudgets,

    /// The master key, and earlier ones still needed to open older values.
    pub master_key: MasterKeySource,
    pub master_key_previous: Vec<SecretArg>,

    /// The base URL the server is reached at, without a trailing `/`; `None` until the listener
    /// is bound, then `http://<bound address>` unless configured.
    pub public_url: Option<String>,

    /// A signed-in session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// And after this long in any case.
    pub session_lifetime: Duration,
    /// How long each signing key of our own tokens signs (its rotation slot).
    pub signing_key_rotation: Duration,
    /// Whether identity providers may be on loopback addresses and plain http (development and
    /// tests only; off, the server calls IdPs over https on public addresses only).
    pub allow_loopback_idps: bool,
    /// Which non-public addresses audit sinks may deliver to (`--allow-loopback-sinks`,
    /// `--allow-private-sinks`); sink URLs are chosen by tenants, an SSRF vector.
    pub sink_addresses: crate::platform::egress::Addresses,
}

/// Defaults of the session timeouts (docs/CONTRACT.md, "Sign-in").
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a session lives, in milliseconds: without a request, and in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLifetimes {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

/// How many wrong secrets per minute an uncached key id may cost in Argon2: per client network
/// (a guesser is slowed there), and across all networks (Argon2's ceiling per key id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureBudgets {
    pub per_network_per_minute: u32,
    pub per_key_per_minute: u32,
}

impl Default for FailureBudgets {
    fn default() -> Self {
        Self {
            per_network_per_minute: 10,
            per_key_per_minute: 120,
        }
    }
}

impl Settings {
    /// Defaults for a server on the given database, as the CLI would build them.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            listen: "127.0.0.1:0".into(),
            redis_url: None,
            rate_limit_tiers: RateLimitTiers::default(),
            argon2_concurrency: default_argon2_concurrency(),
            cache_refresh: Duration::from_secs(10),
            cache_max_age: Duration::from_secs(25),
            last_used_flush: Duration::from_secs(30),
            purge_interval: Duration::from_secs(3600),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
            body_memory_budget: 64 * 1024 * 1024,
            trusted_proxies: TrustedProxies::default(),
            network_regions: RegionMap::default(),
            region_header: None,
            failure_budgets: FailureBudgets::default(),
            master_key: MasterKeySource::Default,
            master_key_previous: Vec::new(),
            public_url: None,
            session_idle_timeout: DEFAULT_SESSION_IDLE_TIMEOUT,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            signing_key_rotation: Duration::from_secs(6 * 3600),
            allow_loopback_idps: false,
            sink_addresses: crate::platform::egress::Addresses::default(),
        }
    }

    /// The session timeouts, as session authentication applies them.
    pub fn session_lifetimes(&self) -> SessionLifetimes {
        SessionLifetimes {
            idle_ms: i64::try_from(self.session_idle_timeout.as_millis()).unwrap_or(i64::MAX),
            absolute_ms: i64::try_from(self.session_lifetime.as_millis()).unwrap_or(i64::MAX),
        }
    }

    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let refresh = Duration::from_secs(args.cache_refresh_secs.clamp(1, 12));
        Ok(Self {
            listen: args.listen,
            redis_url: args.redis_url,
            rate_limit_tiers: RateLimitTiers::parse(&args.rate_limit_tiers)?,
            argon2_concurrency: args
                .argon2_concurrency
                .unwrap_or_else(default_argon2_concurrency)
                .max(1),
            cache_refresh: refresh,
            cache_max_age: refresh * 2 + Duration::from_secs(5),
            purge_interval: Duration::from_secs(args.purge_interval_secs.max(1)),
            header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
            max_connections: args
                .max_connections
                .unwrap_or_else(default_max_connections)
                .max(1),
            // At least one maximal body must fit, or no large request could ever succeed.
            body_memory_budget: args
                .body_memory_mib
                .saturating_mul(1024 * 1024)
                .max(crate::platform::config::MAX_BODY_BYTES),
            trusted_proxies: TrustedProxies::parse(&args.trusted_proxies)?,
            network_regions: RegionMap::parse(&args.network_regions)?,
            region_header: args
                .region_header
                .as_deref()
                .map(|name| {
                    axum::http::HeaderName::try_from(name.trim()).map_err(|_| {
                        anyhow::anyhow!("--region-header `{name}` is not a header name")
                    })
                })
                .transpose()?,
            master_key: match (args.master_key, args.master_key_file) {
                (Some(_), Some(_)) => anyhow::bail!(
                    "give the master key once: STATUSPULSE_MASTER_KEY or STATUSPULSE_MASTER_KEY_FILE"
                ),
                (Some(key), None) => MasterKeySource::Value(key),
                (None, Some(file)) => MasterKeySource::File(file),
                (None, None) => MasterKeySource::Default,
            },
            master_key_previous: args
                .master_key_previous
                .map(|list| {
                    list.0
                        .split(',')
                        .filter(|k| !k.trim().is_empty())
                        .map(|k| SecretArg(zeroize::Zeroizing::new(k.trim().to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            public_url: match args.public_url {
                Some(url) => Some(public_url(&url)?),
                None => None,
            },
            session_idle_timeout: Duration::from_secs(args.session_idle_timeout_secs.max(60)),
            session_lifetime: Duration::from_secs(args.session_lifetime_secs.max(60)),
            // At least an hour: a key is published a slot ahead, and a JWKS is cached 5 minutes.
            signing_key_rotation: Duration::from_secs(args.signing_key_rotation_secs.max(3600)),
            allow_loopback_idps: args.allow_loopback_idps,
            sink_addresses: crate::platform::egress::Addresses {
                loopback: args.allow_loopback_sinks,
                private: args.allow_private_sinks,
            },
            ..Self::for_database(args.db.database_url)
        })
    }
}

/// A configured public URL: `http(s)://host[:port][/path]`, stored without a trailing `/`.
fn public_url(value: &str) -> anyhow::Result<String> {
    let trimmed = value.trim().trim_end_matches('/');
    anyhow::ensure!(
        (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
            && !trimmed.contains(['?', '#'])
            && !trimmed.chars().any(char::is_whitespace),
        "STATUSPULSE_PUBLIC_URL must be an http(s) base URL without query or fragment, like https://auth.example.com"
    );
    Ok(trimmed.to_owned())
}

/// 4096, or fewer when the open-file limit is lower: a few hundred descriptors stay free for the
/// database pool, Redis and logs, so accepting a connection can never starve them.
fn default_max_connections() -> usize {
    const RESERVED_FDS: u64 = 256;
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(RESERVED_FDS))
        .unwrap_or(usize::MAX)
        .clamp(64, 4096)
}

fn default_argon2_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Requests per minute for each named tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitTiers(BTreeMap<String, NonZeroU32>);

/// `standard=1200,enterprise=6000`, built from constants so that it has no parse to fail.
impl Default for RateLimitTiers {
    fn default() -> Self {
        // Evaluated while compiling: a zero here would fail the build, not the server.
        const STANDARD: NonZeroU32 = match NonZeroU32::new(1200) {
            Some(n) => n,
            None => panic!("the standard tier allows requests"),
        };
        const ENTERPRISE: NonZeroU32 = match NonZeroU32::new(6000) {
            Some(n) => n,
            None => panic!("the enterprise tier allows requests"),
        };
        Self(BTreeMap::from([
            ("enterprise".to_owned(), ENTERPRISE),
            ("standard".to_owned(), STANDARD),
        ]))
    }
}

impl RateLimitTiers {
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut tiers = BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, per_minute) = part.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("rate-limit tier `{part}` is not name=per_minute")
            })?;
            let per_minute: u32 = per_minute.trim().parse().map_err(|_| {
                anyhow::anyhow!("rate-limit tier `{name}` needs a whole number per minute")
            })?;
            let per_minute = NonZeroU32::new(per_minute)
                .ok_or_else(|| anyhow::anyhow!("rate-limit tier `{name}` must allow requests"))?;
            tiers.insert(name.trim().to_owned(), per_minute);
        }
        anyhow::ensure!(
            tiers.contains_key("standard"),
            "rate-limit tiers must define `standard`"
        );
        Ok(Self(tiers))
    }

    pub fn get(&self, tier: &str) -> Option<u32> {
        self.0.get(tier).copied().map(NonZeroU32::get)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, NonZeroU32)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_require_standard() {
        let tiers = RateLimitTiers::parse("standard=1200, gold=9000").unwrap();
        assert_eq!(tiers.get("standard"), Some(1200));
        assert_eq!(tiers.get("gold"), Some(9000));
        assert!(RateLimitTiers::parse("gold=10").is_err());
        assert!(RateLimitTiers::parse("standard=fast").is_err());
        assert!(RateLimitTiers::parse("standard=0").is_err());
    }
}
