//! Load benchmark of `GET /v1/auth/verify` on loopback, measured in one run so that the ratios
//! hold even though absolute numbers drift on shared machines.
//!
//! Run: `cargo bench -p statuspulse-server --bench verify_load` (add `-- --quick` for a smoke run,
//! `-- --redis` to also measure rate limits shared through Redis, `-- --floods` for the flood
//! cases below instead).
//!
//! It starts the real server (SQLite, release build) on its own runtime and measures:
//! 1. closed-loop throughput of verify with a valid key against `/healthz` on the same server;
//! 2. p50/p99 latency of verify at half of the measured maximum, open loop over the same number
//!    of connections (a request that finds every connection busy counts from its due time, so a
//!    stall is not hidden by the client waiting);
//! 3. cold verification: the first use of each of N fresh keys (one Argon2 each);
//! 4. valid-key p99 at a fixed rate while other clients flood wrong secrets for the same key id
//!    and random well-formed unknown keys.
//!
//! `--refresh` (issue 11) measures refresh grants per second (each rotates a refresh token and
//! signs an access token) on SQLite and PostgreSQL.
//!
//! `--tokens` (issue 11) measures `GET /v1/auth/verify` with an OAuth access token (an ES256 JWT,
//! and an RS256 one, checked against the key ring in memory) against `/healthz` and against an
//! API key, in alternating rounds of the same run.
//!
//! `--exchange` (issue 15) measures RFC 8693 token exchanges per second on SQLite and
//! PostgreSQL: a workload's JWT (ES256, from an issuer served on loopback by the benchmark, its
//! keys cached by the server after the first exchange) checked, matched against a trust policy,
//! remembered against replay, and an access token signed.
//!
//! `--floods` (issue 8) measures what a hostile client costs: audit rows and database bytes
//! added by a 10 s flood (32 connections, closed loop) of each kind (a valid key over its
//! limit, wrong secrets for a known key id, unknown keys, malformed keys, a 65,000-character
//! path with `?api_key=x`), and the throughput of verify for a key over its limit against
//! `/healthz` on the same server, in alternating rounds.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statuspulse_server::authn::signing;
use statuspulse_server::authn::token::PlainApiKey;
use statuspulse_server::authz::scopes::Environment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Plan {
    /// Alternating healthz/verify rounds, each `throughput_secs` long.
    rounds: usize,
    throughput_secs: u64,
    latency_secs: u64,
    cold_keys: usize,
    connections: usize,
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(&server));
}

async fn run(server: &Server) {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = if quick {
        Plan {
            rounds: 1,
            throughput_secs: 2,
            latency_secs: 2,
            cold_keys: 5,
            connections: 16,
        }
    } else {
        Plan {
            rounds: 4,
            throughput_secs: 3,
            latency_secs: 8,
            cold_keys: 30,
            connections: 32,
        }
    };

    let client = Client { addr: server.addr };
    let admin_key = client.bench_tier(&server.admin_key).await;
    if std::env::args().any(|a| a == "--floods") {
        return floods(server, &client, &admin_key, &plan, quick).await;
    }
    if std::env::args().any(|a| a == "--refresh") {
        return refreshes(&plan).await;
    }
    if std::env::args().any(|a| a == "--exchange") {
        return exchanges(&plan).await;
    }
    if std::env::args().any(|a| a == "--tokens") {
        return tokens(server, &client, &admin_key, &plan).await;
    }

    // A valid key, used once so that it is cached like a gateway's key in steady state.
    let valid = client.create_key(&admin_key).await;
    assert_eq!(client.request("/v1/auth/verify", Some(&valid)).await.0, 200);

    // Alternate short rounds of each, so that drift in what else the machine is doing falls on
    // both sides of the ratio alike.
    let (mut healthz, mut verify) = (0.0, 0.0);
    for _ in 0..plan.rounds {
        healthz += client.throughput("/healthz", None, &plan).await / plan.rounds as f64;
        verify += client
            .throughput("/v1/auth/verify", Some(&valid), &plan)
            .await
            / plan.rounds as f64;
    }
    let ratio = verify / healthz;

    let half = verify / 2.0;
    let at_half = client
        .open_loop(
            "/v1/auth/verify",
            &valid,
            half,
            plan.latency_secs,
            plan.connections,
        )
        .await;

    let mut cold = vec![];
    for _ in 0..plan.cold_keys {
        let key = client.create_key(&admin_key).await;
        let started = Instant::now();
        assert_eq!(client.request("/v1/auth/verify", Some(&key)).await.0, 200);
        cold.push(started.elapsed());
    }
    cold.sort();

    let flood = {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let wrong = wrong_secret_for(&valid);
        let mut flooders = vec![];
        for i in 0..8 {
            let (client, stop, sent, wrong) =
                (client.clone(), stop.clone(), sent.clone(), wrong.clone());
            flooders.push(tokio::spawn(async move {
                let mut conn = client.connect().await;
                while !stop.load(Ordering::Relaxed) {
                    let key = if i % 2 == 0 {
                        wrong.clone()
                    } else {
                        PlainApiKey::generate(Environment::Live).expose().to_owned()
                    };
                    let (status, _) = conn.send("/v1/auth/verify", Some(&key)).await;
                    assert!(status == 401 || status == 429, "flood got {status}");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = sent.load(Ordering::Relaxed);
        let started = Instant::now();
        let rate = (half / 4.0).min(2000.0);
        let measured = client
            .open_loop("/v1/auth/verify", &valid, rate, plan.latency_secs, 8)
            .await;
        let flood_rate =
            (sent.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for f in flooders {
            let _ = f.await;
        }
        (measured, rate, flood_rate)
    };

    // With `--redis`: the price of rate limits shared between replicas (one Redis round trip
    // per verification), against the same server without Redis, in alternating rounds.
    let shared = match redis_url() {
        Some(url) => {
            let replica = server.replica_with_redis(&url);
            let shared_client = Client { addr: replica.addr };
            assert_eq!(
                shared_client
                    .request("/v1/auth/verify", Some(&valid))
                    .await
                    .0,
                200
            );
            let (mut alone, mut with_redis) = (0.0, 0.0);
            for _ in 0..plan.rounds {
                alone += client
                    .throughput("/v1/auth/verify", Some(&valid), &plan)
                    .await
                    / plan.rounds as f64;
                with_redis += shared_client
                    .throughput("/v1/auth/verify", Some(&valid), &plan)
                    .await
                    / plan.rounds as f64;
            }
            let at_half = shared_client
                .open_loop(
                    "/v1/auth/verify",
                    &valid,
                    with_redis / 2.0,
                    plan.latency_secs,
                    plan.connections,
                )
                .await;
            Some((alone, with_redis, at_half))
        }
        None => None,
    };

    let cold_p50 = cold[cold.len() / 2];
    let cold_max = *cold.last().unwrap();
    println!();
    println!(
        "StatusPulse Auth verify benchmark ({} run, loopback, SQLite; server and load generator share the machine's cores)",
        if quick { "quick" } else { "full" }
    );
    println!("  healthz throughput            {healthz:>10.0} req/s");
    println!("  verify throughput (valid key) {verify:>10.0} req/s   = {:.0}% of healthz   [target >= 80%]", ratio * 100.0);
    println!("  verify at half load ({half:.0}/s)  p50 {:>7.3} ms   p99 {:>7.3} ms   [target p99 <= 2 ms]", ms(at_half.p50), ms(at_half.p99));
    println!(
        "                                p90 {:>7.3} ms   p99.9 {:>7.3} ms   max {:>7.3} ms   (sent at {:.0}/s)",
        ms(at_half.p90),
        ms(at_half.p999),
        ms(at_half.max),
        at_half.sent_rps
    );
    println!(
        "  cold verification ({} keys)   p50 {:>7.3} ms   max {:>7.3} ms   [target <= 50 ms]",
        cold.len(),
        ms(cold_p50),
        ms(cold_max)
    );
    println!(
        "  valid key at {:.0}/s under a flood of {:.0}/s wrong secrets + unknown keys:",
        flood.1, flood.2
    );
    println!(
        "                                p50 {:>7.3} ms   p99 {:>7.3} ms   [target p99 <= 5 ms]",
        ms(flood.0.p50),
        ms(flood.0.p99)
    );
    println!(
        "                                p90 {:>7.3} ms   p99.9 {:>7.3} ms   max {:>7.3} ms",
        ms(flood.0.p90),
        ms(flood.0.p999),
        ms(flood.0.max)
    );
    if let Some((alone, with_redis, at_half)) = &shared {
        println!("  with Redis (rate limits shared between replicas; no target, the price of exactness):");
        println!(
            "  verify throughput             {with_redis:>10.0} req/s   = {:.0}% of the same verify without Redis ({alone:.0} req/s)",
            with_redis / alone * 100.0
        );
        println!(
            "  at half load ({:.0}/s)         p50 {:>7.3} ms   p99 {:>7.3} ms   p99.9 {:>7.3} ms",
            with_redis / 2.0,
            ms(at_half.p50),
            ms(at_half.p99),
            ms(at_half.p999)
        );
    }
    let verdicts = [
        ("throughput ratio", ratio >= 0.8),
        ("p99 at half load", at_half.p99 <= Duration::from_millis(2)),
        ("cold verification", cold_max <= Duration::from_millis(50)),
        ("p99 under flood", flood.0.p99 <= Duration::from_millis(5)),
    ];
    for (name, ok) in verdicts {
        println!(
            "  {:<20} {}",
            name,
            if ok { "meets target" } else { "MISSES TARGET" }
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "healthz_rps": healthz, "verify_rps": verify, "ratio": ratio,
            "half_load_rps": half, "half_load_sent_rps": at_half.sent_rps, "half_load_p50_ms": ms(at_half.p50), "half_load_p99_ms": ms(at_half.p99),
            "cold_p50_ms": ms(cold_p50), "cold_max_ms": ms(cold_max),
            "flood_valid_rps": flood.1, "flood_rps": flood.2,
            "flood_p50_ms": ms(flood.0.p50), "flood_p99_ms": ms(flood.0.p99),
            "shared_limits": shared.as_ref().map(|(alone, with_redis, at_half)| serde_json::json!({
                "verify_rps_without_redis": alone, "verify_rps_with_redis": with_redis,
                "ratio": with_redis / alone,
                "half_load_p50_ms": ms(at_half.p50), "half_load_p99_ms": ms(at_half.p99),
            })),
        })
    );
}

/// The Redis for `--redis`: `--redis=<url>`, or `STATUSPULSE_BENCH_REDIS_URL`, or the local one.
fn redis_url() -> Option<String> {
    std::env::args().find_map(|arg| match arg.strip_prefix("--redis") {
        Some("") => Some(
            std::env::var("STATUSPULSE_BENCH_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
        ),
        Some(rest) => rest.strip_prefix('=').map(str::to_owned),
        None => None,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The release `statuspulse-server` binary, serving a fresh SQLite file on a free port.
/// `--refresh`: refresh grants per second, each a rotation (one refresh token used, its successor
/// stored, an access token signed), on SQLite and on PostgreSQL, over 32 connections that each
/// refresh their own grant.
async fn refreshes(plan: &Plan) {
    for backend in ["sqlite", "postgres"] {
        let dir = tempfile::tempdir().unwrap();
        let (database, cleanup) = bench_database(backend, dir.path()).await;
        let server = Server::start_on(&database);
        let client = Client { addr: server.addr };
        let admin_key = client.bench_tier(&server.admin_key).await;
        let mut conn = client.connect().await;
        let (status, body) = conn
            .send_json(
                "POST",
                "/v1/oauth-clients",
                &admin_key,
                r#"{"name":"bench","redirect_uris":["https://app.example.com/cb"],"allowed_scopes":["openid"]}"#,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let created: serde_json::Value = serde_json::from_str(&body).unwrap();
        let client_id = created["id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        let grants = server
            .seed_refresh_tokens(&client_id, plan.connections)
            .await;

        let count = Arc::new(AtomicU64::new(0));
        let deadline =
            Instant::now() + Duration::from_secs(plan.throughput_secs * plan.rounds as u64);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for mut refresh in grants {
            let client = client.clone();
            let count = count.clone();
            let (client_id, secret) = (client_id.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = client.connect().await;
                let basic = {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
                };
                while Instant::now() < deadline {
                    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
                    let request = format!(
                        "POST /oauth2/token HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                        conn.host,
                        body.len()
                    );
                    let (status, answer) = conn.exchange(request.as_bytes()).await;
                    assert_eq!(status, 200, "{answer}");
                    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
                    refresh = answer["refresh_token"].as_str().unwrap().to_owned();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let per_second = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "refresh grants on {backend}: {per_second:.0}/s ({} connections, {} s; each rotates a refresh token and signs an access token)",
            plan.connections,
            plan.throughput_secs * plan.rounds as u64
        );
        drop(server);
        drop_bench_database(cleanup).await;
    }
}

/// A workload platform's issuer on loopback: OpenID discovery and a JWKS with one ES256 key, and
/// that key to sign job tokens with.
struct BenchIssuer {
    url: String,
    key: ring::signature::EcdsaKeyPair,
}

impl BenchIssuer {
    async fn start() -> Self {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = key.public_key().as_ref().to_vec();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256",
            "use": "sig", "kid": "bench-1", "x": b64(&point[1..33]), "y": b64(&point[33..65])}]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = serde_json::json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"]});
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let d = discovery.clone();
                    async move { axum::Json(d) }
                }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let k = jwks.clone();
                    async move { axum::Json(k) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, key }
    }

    /// A job's token, as GitHub Actions would issue it, valid ten minutes.
    fn token(&self, i: usize) -> String {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = b64(br#"{"alg":"ES256","kid":"bench-1","typ":"JWT"}"#);
        let claims = serde_json::json!({"iss": self.url, "aud": "statuspulse",
            "sub": "repo:acme/infra:ref:refs/heads/main", "repository": "acme/infra",
            "ref": "refs/heads/main", "jti": format!("bench-{i}"), "iat": now, "nbf": now,
            "exp": now + 600});
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signature = self
            .key
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

/// `--exchange`: token exchanges per second on SQLite and PostgreSQL, 32 connections, each
/// exchange a fresh job token (a token is exchanged once).
async fn exchanges(plan: &Plan) {
    let issuer = BenchIssuer::start().await;
    let seconds = plan.throughput_secs * plan.rounds as u64;
    for backend in ["sqlite", "postgres"] {
        let dir = tempfile::tempdir().unwrap();
        let (database, cleanup) = bench_database(backend, dir.path()).await;
        let server = Server::start_on(&database);
        let client = Client { addr: server.addr };
        let admin_key = client.bench_tier(&server.admin_key).await;
        let mut conn = client.connect().await;
        let (status, body) = conn
            .send_json(
                "POST",
                "/v1/service-accounts",
                &admin_key,
                r#"{"name":"deployer"}"#,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let account: serde_json::Value = serde_json::from_str(&body).unwrap();
        let account = account["id"].as_str().unwrap().to_owned();
        let (status, body) = conn
            .send_json(
                "POST",
                "/v1/role-bindings",
                &admin_key,
                &format!(r#"{{"service_account_id":"{account}","scopes":["read:checks"]}}"#),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let policy = serde_json::json!({"name": "bench", "issuer": issuer.url, "audience": "statuspulse",
            "conditions": {"repository": "acme/infra", "ref": "refs/heads/*"},
            "service_account_id": account, "scopes": ["read:checks"]});
        let (status, body) = conn
            .send_json(
                "POST",
                "/v1/workload-identities",
                &admin_key,
                &policy.to_string(),
            )
            .await;
        assert_eq!(status, 201, "{body}");

        // Enough fresh tokens for the run, signed beforehand so the client measures the server.
        let count = 3_000 * usize::try_from(seconds).unwrap();
        let tokens: Arc<Vec<String>> = Arc::new((0..count).map(|i| issuer.token(i)).collect());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let exchange = |token: &str, host: &str| {
            let body = format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&subject_token={token}"
            );
            format!(
                "POST /oauth2/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        // The first exchange fetches the issuer's keys; the run measures with them cached.
        let first = next.fetch_add(1, Ordering::Relaxed);
        let (status, answer) = conn
            .exchange(exchange(&tokens[first], &conn.host.clone()).as_bytes())
            .await;
        assert_eq!(status, 200, "{answer}");

        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..plan.connections {
            let (client, tokens, next, done) =
                (client.clone(), tokens.clone(), next.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = client.connect().await;
                let host = conn.host.clone();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let (status, answer) = conn.exchange(exchange(token, &host).as_bytes()).await;
                    assert_eq!(status, 200, "{answer}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let per_second = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "token exchanges on {backend}: {per_second:.0}/s ({} connections, {seconds} s; each checks an ES256 job token against the cached JWKS, matches the trust policy, records the jti and signs an access token)",
            plan.connections
        );
        drop(server);
        drop_bench_database(cleanup).await;
    }
}

/// A fresh database of `backend` for one run: a SQLite file in `dir`, or a PostgreSQL database
/// dropped by [`drop_bench_database`].
async fn bench_database(
    backend: &str,
    dir: &std::path::Path,
) -> (String, Option<(sqlx::PgPool, String)>) {
    match backend {
        "sqlite" => (
            format!("sqlite://{}/bench.db?mode=rwc", dir.display()),
            None,
        ),
        _ => {
            let name = format!("statuspulse_bench_{}", std::process::id());
            let admin = "postgres://postgres@127.0.0.1:5432/postgres";
            let pool = sqlx::PgPool::connect(admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .unwrap();
            (
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                Some((pool, name)),
            )
        }
    }
}

async fn drop_bench_database(cleanup: Option<(sqlx::PgPool, String)>) {
    if let Some((pool, name)) = cleanup {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
    }
}

/// `--tokens`: verify with an access token (ES256, then RS256), with an API key and `/healthz`,
/// alternating.
async fn tokens(server: &Server, client: &Client, admin_key: &str, plan: &Plan) {
    let token = server.mint_access_token(signing::SigningAlg::Es256).await;
    let rs256 = server.mint_access_token(signing::SigningAlg::Rs256).await;
    // The RS256 keys were made after the server loaded its key ring: it reads them again for an
    // unknown `kid` at most every 10 s, so the first answers may be 401.
    for token in [&token, &rs256] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = client.request("/v1/auth/verify", Some(token)).await;
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "{status}: {body}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let key = client.create_key(admin_key).await;
    assert_eq!(client.request("/v1/auth/verify", Some(&key)).await.0, 200);
    let (mut healthz, mut by_token, mut by_rs256, mut by_key) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..plan.rounds {
        let n = plan.rounds as f64;
        healthz += client.throughput("/healthz", None, plan).await / n;
        by_token += client
            .throughput("/v1/auth/verify", Some(&token), plan)
            .await
            / n;
        by_rs256 += client
            .throughput("/v1/auth/verify", Some(&rs256), plan)
            .await
            / n;
        by_key += client.throughput("/v1/auth/verify", Some(&key), plan).await / n;
    }
    println!("verify with an access token vs /healthz and an API key, {} connections, {} alternating rounds of {} s", plan.connections, plan.rounds, plan.throughput_secs);
    println!("  /healthz                      {healthz:>10.0} req/s");
    println!(
        "  /v1/auth/verify, access token {by_token:>10.0} req/s  ({:.2}x healthz)",
        by_token / healthz
    );
    println!(
        "  /v1/auth/verify, RS256 token  {by_rs256:>10.0} req/s  ({:.2}x healthz)",
        by_rs256 / healthz
    );
    println!(
        "  /v1/auth/verify, API key      {by_key:>10.0} req/s  ({:.2}x healthz)",
        by_key / healthz
    );
}

struct Server {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    database: String,
    admin_key: String,
}

impl Server {
    /// Bootstraps a fresh database and serves it without Redis.
    fn start(dir: &std::path::Path) -> Self {
        let database = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
        let bootstrap = std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"))
            .arg("bootstrap")
            .env("STATUSPULSE_DATABASE_URL", &database)
            .output()
            .unwrap();
        assert!(bootstrap.status.success(), "bootstrap failed");
        let admin_key = String::from_utf8(bootstrap.stdout)
            .unwrap()
            .trim()
            .to_owned();
        Self::serve(database, admin_key, None)
    }

    /// A second server process on the same database, sharing rate limits through `redis_url`.
    fn replica_with_redis(&self, redis_url: &str) -> Self {
        Self::serve(
            self.database.clone(),
            self.admin_key.clone(),
            Some(redis_url),
        )
    }

    fn serve(database: String, admin_key: String, redis_url: Option<&str>) -> Self {
        Self::serve_with(database, admin_key, redis_url, None)
    }

    fn serve_with(
        database: String,
        admin_key: String,
        redis_url: Option<&str>,
        master_key: Option<&str>,
    ) -> Self {
        use std::io::BufRead;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"));
        // The benchmark measures verification, not the per-key limit: a tier with room. Users
        // (access tokens, sessions) are limited at the standard tier, which `--tokens` and
        // `--refresh` open likewise.
        let users_measured =
            std::env::args().any(|a| a == "--tokens" || a == "--refresh" || a == "--exchange");
        command
            .arg("serve")
            .env("STATUSPULSE_DATABASE_URL", &database)
            .env("STATUSPULSE_LISTEN", "127.0.0.1:0")
            .env("STATUSPULSE_LOG", "warn,statuspulse_server=info")
            .env(
                "STATUSPULSE_RATE_LIMIT_TIERS",
                if users_measured {
                    "standard=1000000000,bench=1000000000"
                } else {
                    "standard=1200,bench=1000000000"
                },
            )
            .env_remove("STATUSPULSE_REDIS_URL")
            .stderr(std::process::Stdio::piped());
        if let Some(url) = redis_url {
            command.env("STATUSPULSE_REDIS_URL", url);
        }
        if let Some(key) = master_key {
            command.env("STATUSPULSE_MASTER_KEY", key);
        }
        // `--exchange`'s issuer is served on loopback by the benchmark.
        if std::env::args().any(|a| a == "--exchange") {
            command.env("STATUSPULSE_ALLOW_LOOPBACK_IDPS", "true");
        }
        let mut child = command.spawn().unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut lines = stderr.lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().trim_end_matches('"').parse().unwrap();
            }
        };
        // Keep draining the server's log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            database,
            admin_key,
        }
    }
}

/// The master key of `--refresh`'s servers (PostgreSQL has no default key file).
const BENCH_MASTER_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

impl Server {
    /// A fresh database at `database` (SQLite or PostgreSQL), bootstrapped, served with a master
    /// key (PostgreSQL has no default one; the OAuth server needs one to sign).
    fn start_on(database: &str) -> Self {
        let bootstrap = std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"))
            .arg("bootstrap")
            .env("STATUSPULSE_DATABASE_URL", database)
            .env("STATUSPULSE_MASTER_KEY", BENCH_MASTER_KEY)
            .output()
            .unwrap();
        assert!(
            bootstrap.status.success(),
            "bootstrap failed: {}",
            String::from_utf8_lossy(&bootstrap.stderr)
        );
        let admin_key = String::from_utf8(bootstrap.stdout)
            .unwrap()
            .trim()
            .to_owned();
        Self::serve_with(database.to_owned(), admin_key, None, Some(BENCH_MASTER_KEY))
    }

    /// `n` signed-in sessions with a refresh token each for `client_id`, written to the database
    /// as sign-in and the code exchange would; returns the refresh tokens.
    async fn seed_refresh_tokens(&self, client_id: &str, n: usize) -> Vec<String> {
        use sha2::{Digest, Sha256};
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.database).await.unwrap();
        let workspace: String = sqlx::query_scalar("SELECT id FROM workspaces ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        let far = 4_102_444_800_000_i64; // 2100
        sqlx::query(
            "INSERT INTO sso_connections (id, workspace_id, name, kind, settings, client_id, scopes, \
             email_domains, require_mfa, acr_values, allowed_groups, group_mappings, created_at, updated_at) \
             VALUES ('sso_bench', $1, 'bench', 'oidc', '{\"issuer\":\"https://idp.example.com\"}', 'c', \
             '[]', '[]', 0, '[]', '[]', '{}', 0, 0)",
        )
        .bind(&workspace)
        .execute(&pool)
        .await
        .unwrap();
        let mut tokens = Vec::new();
        for i in 0..n {
            let (user, session, token) = (
                format!("usr_bench{i}"),
                format!("ses_bench{i}"),
                format!("spr_bench_{i}_{}", std::process::id()),
            );
            sqlx::query(
                "INSERT INTO users (id, workspace_id, connection_id, subject, idp_groups, groups, \
                 created_at, updated_at, last_sign_in_at) VALUES ($1, $2, 'sso_bench', $1, '[]', '[]', 0, 0, 0)",
            )
            .bind(&user)
            .bind(&workspace)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO sessions (id, workspace_id, user_id, connection_id, secret_hash, mfa, amr, \
                 created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, 'sso_bench', $1, 0, '[]', $4, $4, $5)",
            )
            .bind(&session)
            .bind(&workspace)
            .bind(&user)
            .bind(far - 3_600_000)
            .bind(far)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, workspace_id, client_id, session_id, \
                 user_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 'openid', 0, $7)",
            )
            .bind(hex::encode(Sha256::digest(token.as_bytes())))
            .bind(format!("fam_bench{i}"))
            .bind(&workspace)
            .bind(client_id)
            .bind(&session)
            .bind(&user)
            .bind(far)
            .execute(&pool)
            .await
            .unwrap();
            tokens.push(token);
        }
        tokens
    }

    /// An access token as the OAuth server would issue it: signed by this database's current
    /// key (made here, sealed with the SQLite default master key beside the database, as the
    /// server does), for a session nobody revoked. The serving process finds the key in the
    /// database when the token names it.
    async fn mint_access_token(&self, alg: signing::SigningAlg) -> String {
        let settings = statuspulse_server::Settings::for_database(&self.database);
        let state = statuspulse_server::build_state(settings, statuspulse_server::Clock::system())
            .await
            .unwrap();
        let now = state.clock.now_ms();
        let period = 6 * 3600 * 1000;
        state
            .access_tokens
            .ring
            .rotate(
                state.db.pool(),
                state.master_keys.as_deref(),
                now,
                period,
                &[alg],
            )
            .await
            .unwrap();
        let ring = state
            .access_tokens
            .ring
            .reload(state.db.pool(), state.master_keys.as_deref(), now)
            .await
            .unwrap();
        let key = ring.signer_at(alg, now, period).unwrap();
        let issuer = format!("http://{}", self.addr);
        let iat = now / 1000;
        let claims = serde_json::json!({
            "iss": issuer, "aud": issuer, "sub": "usr_bench", "client_id": "oc_bench",
            "scope": "openid statuspulse:checks:read", "sid": "ses_bench",
            "workspace_id": "ws_bench", "jti": "bench", "iat": iat, "exp": iat + 3600,
        });
        signing::sign(key, &claims, "at+jwt").unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wrong_secret_for(key: &str) -> String {
    use base64::Engine;
    let mut secret = key.as_bytes()[24..66].to_vec();
    secret[0] = if secret[0] == b'A' { b'B' } else { b'A' };
    let secret = String::from_utf8(secret).unwrap();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&key.as_bytes()[..24]);
    crc.update(secret.as_bytes());
    let checksum =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crc.finalize().to_be_bytes());
    format!("{}{secret}{checksum}", &key[..24])
}

struct Latencies {
    /// The rate the generator really kept up (it should equal the one asked for).
    sent_rps: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

#[derive(Clone)]
struct Client {
    addr: std::net::SocketAddr,
}

/// A minimal keep-alive HTTP/1.1 connection: the load generator must cost less than the server.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

impl Client {
    async fn connect(&self) -> Conn {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(8192),
            host: self.addr.to_string(),
        }
    }

    async fn request(&self, path: &str, key: Option<&str>) -> (u16, String) {
        self.connect().await.send(path, key).await
    }

    /// Moves the operator workspace to the benchmark's roomy rate-limit tier.
    async fn bench_tier(&self, admin: &str) -> String {
        let (status, text) = self.request("/v1/auth/verify", Some(admin)).await;
        assert_eq!(status, 200, "{text}");
        let workspace: serde_json::Value = serde_json::from_str(&text).unwrap();
        let path = format!(
            "/v1/workspaces/{}",
            workspace["workspace_id"].as_str().unwrap()
        );
        let mut conn = self.connect().await;
        let (status, text) = conn
            .send_json("PATCH", &path, admin, r#"{"rate_limit_tier":"bench"}"#)
            .await;
        assert_eq!(status, 200, "{text}");
        admin.to_owned()
    }

    async fn create_key(&self, admin: &str) -> String {
        let body = r#"{"name":"bench","environment":"live","scopes":["read:checks"]}"#;
        let mut conn = self.connect().await;
        let (status, text) = conn.send_json("POST", "/v1/api-keys", admin, body).await;
        assert_eq!(status, 201, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["key"].as_str().unwrap().to_owned()
    }

    /// Requests per second with `connections` clients sending back to back.
    async fn throughput(&self, path: &str, key: Option<&str>, plan: &Plan) -> f64 {
        self.throughput_of(path, key, &[200], plan).await
    }

    /// [`Client::throughput`] of requests answered one of `expect`.
    async fn throughput_of(
        &self,
        path: &str,
        key: Option<&str>,
        expect: &'static [u16],
        plan: &Plan,
    ) -> f64 {
        let count = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(plan.throughput_secs);
        let warmup = Instant::now() + Duration::from_millis(500);
        let mut tasks = vec![];
        for _ in 0..plan.connections {
            let (client, count, path, key) = (
                self.clone(),
                count.clone(),
                path.to_owned(),
                key.map(str::to_owned),
            );
            tasks.push(tokio::spawn(async move {
                let mut conn = client.connect().await;
                let request = conn.get_request(&path, key.as_deref());
                while Instant::now() < deadline {
                    let status = conn.status_of(&request).await;
                    assert!(expect.contains(&status), "{status}");
                    if Instant::now() > warmup {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        count.load(Ordering::Relaxed) as f64 / (plan.throughput_secs as f64 - 0.5)
    }

    /// Latencies at a fixed request rate, open loop: request `i` is due at `i / rate` whatever
    /// the answers do, and goes out on whichever of `connections` keep-alive connections is
    /// free. See [`open_loop`].
    async fn open_loop(
        &self,
        path: &str,
        key: &str,
        rate: f64,
        secs: u64,
        connections: usize,
    ) -> Latencies {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\r\n",
            self.addr
        )
        .into_bytes();
        let addr = self.addr;
        tokio::task::spawn_blocking(move || open_loop(addr, &request, rate, secs, connections))
            .await
            .unwrap()
    }
}

/// The open-loop generator: two OS threads whatever the connection count, so that it costs the
/// shared cores little and the measured latency is the server's.
///
/// - The sender sleeps until a request is due (`thread::sleep` wakes within tens of
///   microseconds, where an async timer's 1 ms ticks would release each millisecond's requests
///   as one burst), then writes it on a free connection.
/// - The receiver waits on every connection at once through epoll and is woken the moment an
///   answer lands, timestamps it, and hands the connection back to the sender.
///
/// Latency counts from the actual send, unless the request found every connection busy at its
/// due time: then it counts from the due time (no coordinated omission: a stalled server is
/// charged for the requests it held back).
fn open_loop(
    addr: std::net::SocketAddr,
    request: &[u8],
    rate: f64,
    secs: u64,
    connections: usize,
) -> Latencies {
    use std::io::{Read, Write};
    use std::sync::mpsc;

    let total = whole(rate * secs as f64);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let base = Instant::now();
    // When each connection's request went out (ns since `base`), for the receiver.
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..connections).map(|_| AtomicU64::new(0)).collect());
    let mut writers = vec![];
    let mut readers = vec![];
    for _ in 0..connections {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        writers.push(stream.try_clone().unwrap());
        readers.push(mio::net::TcpStream::from_std(stream));
    }
    let (idle_tx, idle_rx) = mpsc::channel::<usize>();
    for c in 0..connections {
        idle_tx.send(c).unwrap();
    }

    let receiver = {
        let sent_at = sent_at.clone();
        std::thread::spawn(move || {
            let mut poll = mio::Poll::new().unwrap();
            for (c, stream) in readers.iter_mut().enumerate() {
                poll.registry()
                    .register(stream, mio::Token(c), mio::Interest::READABLE)
                    .unwrap();
            }
            let mut events = mio::Events::with_capacity(connections);
            let mut buffers = vec![Vec::with_capacity(4096); connections];
            let mut chunk = [0u8; 4096];
            let mut latencies = Vec::with_capacity(total);
            while latencies.len() < total {
                poll.poll(&mut events, Some(Duration::from_secs(10)))
                    .unwrap();
                assert!(!events.is_empty(), "no answer for 10 s");
                let now = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                for event in &events {
                    let c = event.token().0;
                    loop {
                        match readers[c].read(&mut chunk) {
                            Ok(0) => panic!("server closed the connection"),
                            Ok(n) => buffers[c].extend_from_slice(&chunk[..n]),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) => panic!("read failed: {e}"),
                        }
                    }
                    let Some((status, start, length)) = parse_head(&buffers[c]) else {
                        continue;
                    };
                    if buffers[c].len() < start + length {
                        continue;
                    }
                    assert_eq!(status, 200);
                    buffers[c].clear();
                    let sent = sent_at[c].load(Ordering::Acquire);
                    latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
                    // The sender may be gone after its last request; answers still count.
                    let _ = idle_tx.send(c);
                }
            }
            latencies
        })
    };

    let start = Instant::now() + Duration::from_millis(100);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let (c, counted_from) = match idle_rx.try_recv() {
            Ok(c) => (c, Instant::now()),
            // Every connection is waiting for an answer: the request is late because of the
            // server, so its latency counts from when it was due.
            Err(_) => (idle_rx.recv().unwrap(), due),
        };
        let counted_ns = u64::try_from((counted_from - base).as_nanos()).unwrap_or(u64::MAX);
        sent_at[c].store(counted_ns, Ordering::Release);
        let mut written = 0;
        while written < request.len() {
            match writers[c].write(&request[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("write failed: {e}"),
            }
        }
    }
    let sending = start.elapsed();
    let mut all = receiver.join().unwrap();
    all.sort();
    let at = |q: f64| all[whole(all.len() as f64 * q).min(all.len() - 1)];
    Latencies {
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: *all.last().unwrap(),
        sent_rps: total as f64 / sending.as_secs_f64(),
    }
}

impl Conn {
    fn get_request(&self, path: &str, key: Option<&str>) -> Vec<u8> {
        let auth = key
            .map(|k| format!("Authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}\r\n", self.host).into_bytes()
    }

    async fn send(&mut self, path: &str, key: Option<&str>) -> (u16, String) {
        let request = self.get_request(path, key);
        self.exchange(&request).await
    }

    /// Sends prepared request bytes and returns only the status: the loop of a load test.
    async fn status_of(&mut self, request: &[u8]) -> u16 {
        self.round_trip(request).await.0
    }

    async fn send_json(
        &mut self,
        method: &str,
        path: &str,
        key: &str,
        body: &str,
    ) -> (u16, String) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.exchange(request.as_bytes()).await
    }

    async fn exchange(&mut self, request: &[u8]) -> (u16, String) {
        let (status, start, length) = self.round_trip(request).await;
        let body = String::from_utf8_lossy(&self.buf[start..start + length]).into_owned();
        (status, body)
    }

    /// Writes a request and reads its whole answer into `buf`: (status, body start, length).
    async fn round_trip(&mut self, request: &[u8]) -> (u16, usize, usize) {
        self.stream.write_all(request).await.unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((status, start, length)) = parse_head(&self.buf) {
                if self.buf.len() >= start + length {
                    return (status, start, length);
                }
            }
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Finds a complete response head: (status, where the body starts, body length). Parses only
/// what it needs, with SIMD searches and without allocating, so that the client's cost barely
/// depends on how many headers an answer carries: it shares the cores with the server.
/// A request count or rank from a float product: non-negative and far below `usize::MAX` here,
/// and `as` saturates regardless (floats have no `try_from`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(x: f64) -> usize {
    x as usize
}

fn parse_head(buf: &[u8]) -> Option<(u16, usize, usize)> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = &buf[..end];
    let status = std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()?;
    let length = memchr::memchr_iter(b'\n', head)
        .find_map(|newline| {
            let line = &head[newline + 1..];
            let name = line.get(..15)?;
            if !name.eq_ignore_ascii_case(b"content-length:") {
                return None;
            }
            let value = &line[15..];
            let value = &value[..memchr::memchr(b'\r', value).unwrap_or(value.len())];
            std::str::from_utf8(value).ok()?.trim().parse().ok()
        })
        .unwrap_or(0);
    Some((status, end + 4, length))
}

/// `--floods`: what each kind of hostile flood costs in audit rows and disk, and whether a key
/// over its limit is refused as cheaply as a healthy request is answered.
async fn floods(server: &Server, client: &Client, admin_key: &str, plan: &Plan, quick: bool) {
    // Name, the requests sent round-robin, the answers expected.
    type Flood<'a> = (&'a str, Vec<Vec<u8>>, &'static [u16]);

    let flood_secs = if quick { 3 } else { 10 };
    // A tenant on the standard tier (1,200 requests a minute): its admin key is the one that
    // goes over its limit, and the known key id that wrong secrets are aimed at.
    let mut conn = client.connect().await;
    let (status, text) = conn
        .send_json("POST", "/v1/workspaces", admin_key, r#"{"name":"flooded"}"#)
        .await;
    assert_eq!(status, 201, "{text}");
    let tenant: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tenant_key = tenant["admin_key"]["key"].as_str().unwrap().to_owned();
    assert_eq!(
        client.request("/v1/auth/verify", Some(&tenant_key)).await.0,
        200
    );

    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&server.database)
        .await
        .unwrap();
    let rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let bytes = || {
        let file = server.database.trim_start_matches("sqlite://");
        let file = file.split('?').next().unwrap();
        [file.to_owned(), format!("{file}-wal")]
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum::<u64>()
    };

    let host = client.addr.to_string();
    let get = |path: &str, key: Option<&str>| {
        let auth = key
            .map(|k| format!("Authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").into_bytes()
    };
    let unknown: Vec<Vec<u8>> = (0..4096)
        .map(|_| {
            let key = PlainApiKey::generate(Environment::Live);
            get("/v1/auth/verify", Some(key.expose()))
        })
        .collect();
    let long_path = format!("/v1/{}?api_key=x", "a".repeat(65_000));
    let kinds: Vec<Flood> = vec![
        (
            "valid key over its limit",
            vec![get("/v1/auth/verify", Some(&tenant_key))],
            // Mostly 429: the budget refills 20 requests a second.
            &[429, 200],
        ),
        (
            "wrong secrets, known key id",
            vec![get("/v1/auth/verify", Some(&wrong_secret_for(&tenant_key)))],
            &[401],
        ),
        ("unknown keys", unknown, &[401]),
        (
            "malformed keys",
            vec![get("/v1/auth/verify", Some("sp_live_garbage"))],
            &[401],
        ),
        (
            "65,000-char path + ?api_key=x",
            vec![get(&long_path, None)],
            &[400],
        ),
    ];
    let mut results = vec![];
    for (name, requests, expect) in kinds {
        let (rows_before, bytes_before) = (rows().await, bytes());
        let sent = client
            .flood(Arc::new(requests), expect, flood_secs, plan.connections)
            .await;
        // Repeats are stored once a second: wait for the last flush.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (added, grew) = (
            rows().await - rows_before,
            bytes().saturating_sub(bytes_before),
        );
        results.push((name, sent, added, grew));
    }

    let (mut healthz, mut limited, mut valid) = (0.0, 0.0, 0.0);
    for _ in 0..plan.rounds {
        healthz += client.throughput("/healthz", None, plan).await / plan.rounds as f64;
        valid += client
            .throughput("/v1/auth/verify", Some(admin_key), plan)
            .await
            / plan.rounds as f64;
        limited += client
            // Mostly 429: the budget refills 20 requests a second.
            .throughput_of("/v1/auth/verify", Some(&tenant_key), &[429, 200], plan)
            .await
            / plan.rounds as f64;
    }
    let ratio = limited / healthz;

    println!();
    println!(
        "StatusPulse Auth flood benchmark ({} run, loopback, SQLite, {} connections, {flood_secs} s per flood)",
        if quick { "quick" } else { "full" },
        plan.connections
    );
    println!(
        "  {:<34} {:>10} {:>10} {:>12} {:>12}",
        "flood", "requests", "req/s", "audit rows", "db bytes"
    );
    for (name, sent, added, grew) in &results {
        println!(
            "  {name:<34} {sent:>10} {:>10.0} {added:>12} {grew:>12}",
            *sent as f64 / flood_secs as f64
        );
    }
    println!("  healthz throughput               {healthz:>10.0} req/s");
    println!(
        "  verify, valid key (200)          {valid:>10.0} req/s   = {:.0}% of healthz",
        valid / healthz * 100.0
    );
    println!(
        "  verify over the limit (429)      {limited:>10.0} req/s   = {:.0}% of healthz   [target >= 80%]",
        ratio * 100.0
    );
    let few = results
        .iter()
        .all(|(_, _, added, _)| *added <= 3 * i64::try_from(flood_secs).unwrap() + 5);
    println!(
        "  audit rows per flood             {}   [target: a few dozen per key or network]",
        if few { "meets target" } else { "MISSES TARGET" }
    );
    println!(
        "  over-limit ratio                 {}",
        if ratio >= 0.8 {
            "meets target"
        } else {
            "MISSES TARGET"
        }
    );
    println!(
        "{}",
        serde_json::json!({
            "flood_secs": flood_secs,
            "floods": results.iter().map(|(name, sent, added, grew)| serde_json::json!({
                "flood": name, "requests": sent, "audit_rows": added, "db_bytes": grew,
            })).collect::<Vec<_>>(),
            "healthz_rps": healthz, "over_limit_verify_rps": limited, "ratio": ratio,
            "valid_verify_rps": valid, "valid_ratio": valid / healthz,
        })
    );
}

impl Client {
    /// Sends `requests` round-robin, back to back over `connections` connections, for `secs`;
    /// every answer must be one of `expect`. Returns how many were sent.
    async fn flood(
        &self,
        requests: Arc<Vec<Vec<u8>>>,
        expect: &'static [u16],
        secs: u64,
        connections: usize,
    ) -> u64 {
        let sent = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = vec![];
        for c in 0..connections {
            let (client, sent, requests) = (self.clone(), sent.clone(), requests.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = client.connect().await;
                let mut i = c;
                while Instant::now() < deadline {
                    let status = conn.status_of(&requests[i % requests.len()]).await;
                    assert!(expect.contains(&status), "{status}");
                    sent.fetch_add(1, Ordering::Relaxed);
                    i += connections;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        sent.load(Ordering::Relaxed)
    }
}
