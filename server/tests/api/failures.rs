//! What a hostile client can do with failed authentications (issue 8): undo a revocation by
//! racing it, lock a key's holder out, fill the disk through the audit log, lose audit events by
//! killing the server, smuggle a second credential.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use statuspulse_server::platform::config::{FailureBudgets, RateLimitTiers};
use statuspulse_server::platform::network::TrustedProxies;
use statuspulse_server::Clock;

use crate::helpers::{Backend, Options, TestApp, TestDb};
use crate::on_both_backends;
use crate::verify::{random_unknown_key, wrong_secret};

/// A client whose requests come from `source` (any 127.x address reaches the loopback server).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn verify_as(
    app: &TestApp,
    client: &reqwest::Client,
    key: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, String) {
    let mut request = client.get(app.url("/v1/auth/verify")).bearer_auth(key);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// A server with `options` and one live `read:checks` key (returned whole).
async fn app_with_a_key(backend: Backend, options: Options) -> (TestApp, TestDb, Value) {
    let (app, db) = TestApp::spawn_with(backend, options).await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    (app, db, created)
}

/// `auth.failed` events with this reason: (rows, failures they account for).
async fn failed_events(app: &TestApp, reason: &str) -> (usize, u64) {
    app.flush_audit().await;
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT details FROM audit_events WHERE event_type = 'auth.failed' AND reason = $1",
    )
    .bind(reason)
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    let counted = rows
        .iter()
        .map(|(d,)| {
            serde_json::from_str::<Value>(d).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    (rows.len(), counted)
}

on_both_backends!(
    a_revocation_answered_while_the_first_use_is_in_flight_is_final,
    a_guesser_on_one_network_cannot_lock_out_the_holder_on_another,
    two_authorization_headers_are_refused_with_400,
    floods_of_identical_failures_become_a_few_counted_events
);

async fn a_revocation_answered_while_the_first_use_is_in_flight_is_final(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    for trial in 0..16u64 {
        let created = app
            .create_key(
                &app.admin_key,
                json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
            )
            .await;
        let key = created["key"].as_str().unwrap().to_owned();
        let first_use = {
            let (http, url, key) = (app.http.clone(), app.url("/v1/auth/verify"), key.clone());
            tokio::spawn(async move {
                http.get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        };
        // The revocation lands at different points of the first use's Argon2 and caching.
        tokio::time::sleep(Duration::from_millis(trial % 8 * 2)).await;
        let revoked = app
            .post(
                "/v1/api-keys/revoke",
                &app.admin_key,
                json!({"id": created["id"]}),
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
        for attempt in 0..3 {
            let after = app.get("/v1/auth/verify", &key).await;
            assert_eq!(
                (after.status, after.code()),
                (StatusCode::UNAUTHORIZED, "revoked_credential"),
                "trial {trial}, attempt {attempt}: verified after the revocation was answered"
            );
        }
        let _ = first_use.await.unwrap();
        let settled = app.get("/v1/auth/verify", &key).await;
        assert_eq!(
            (settled.status, settled.code()),
            (StatusCode::UNAUTHORIZED, "revoked_credential"),
            "trial {trial}: the in-flight first use cached the key as valid"
        );
    }
}

async fn a_guesser_on_one_network_cannot_lock_out_the_holder_on_another(backend: Backend) {
    let (app, _db, created) = app_with_a_key(backend, Options::default()).await;
    let key = created["key"].as_str().unwrap();
    // 127.0.0.1 and 127.0.1.1 are different /24 networks.
    let (attacker, holder) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let mut codes = vec![];
    for n in 0..15 {
        codes.push(
            verify_as(&app, &attacker, &wrong_secret(key, n), None)
                .await
                .1,
        );
    }
    assert!(
        codes
            .iter()
            .filter(|c| *c == "too_many_failed_attempts")
            .count()
            >= 4,
        "{codes:?}"
    );
    assert_eq!(
        verify_as(&app, &attacker, &wrong_secret(key, 99), None)
            .await
            .1,
        "too_many_failed_attempts",
        "the guessing network stays refused"
    );
    assert_eq!(
        verify_as(&app, &holder, key, None).await.0,
        StatusCode::OK,
        "the holder on another network is not locked out"
    );
    let after = verify_as(&app, &attacker, &wrong_secret(key, 100), None).await;
    assert_eq!(
        after.0,
        StatusCode::UNAUTHORIZED,
        "and the guesser is still refused"
    );
}

async fn two_authorization_headers_are_refused_with_400(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/v1/auth/verify"))
        .header("authorization", format!("Bearer {}", app.admin_key))
        .header("authorization", "Bearer sp_live_other")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "duplicate_authorization");
    assert_eq!(
        failed_events(&app, "duplicate_authorization").await.0,
        1,
        "and audited"
    );
}

async fn floods_of_identical_failures_become_a_few_counted_events(backend: Backend) {
    const FLOOD: u64 = 300;
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            clock: Clock::frozen(),
            tweak: |s| {
                s.rate_limit_tiers = RateLimitTiers::parse("standard=5,enterprise=6000").unwrap();
            },
            public_url: None,
        },
    )
    .await;
    let created = app
        .create_key(
            &app.admin_key,
            json!({"name": "victim", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let victim = created["key"].as_str().unwrap();
    assert_eq!(app.verify(victim).await, StatusCode::OK);
    let wrong = wrong_secret(victim, 3);
    // A credential in a query string of 65,000 characters.
    let long_path = format!("/v1/{}?api_key=x", "a".repeat(65_000));
    let started = std::time::Instant::now();
    let mut limited = 0;
    for _ in 0..FLOOD {
        limited += u64::from(app.verify(&app.admin_key).await == StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.verify(&wrong).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.verify(&random_unknown_key()).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.verify("sp_live_garbage").await,
            StatusCode::UNAUTHORIZED
        );
        let leaked = app.http.get(app.url(&long_path)).send().await.unwrap();
        assert_eq!(leaked.status(), StatusCode::BAD_REQUEST);
    }
    let seconds = usize::try_from(started.elapsed().as_secs()).unwrap();
    assert!(limited > FLOOD - 10, "the admin key went over its limit");
    for (reason, expected) in [
        ("rate_limited", limited),
        ("wrong_secret", FLOOD),
        ("unknown_key", FLOOD),
        ("malformed", FLOOD),
        ("credential_in_query", FLOOD),
    ] {
        let (rows, counted) = failed_events(&app, reason).await;
        assert_eq!(counted, expected, "{reason}: every failure is counted");
        // The first at once, then one event per second of flood at most (and one at the end).
        assert!(
            rows <= seconds + 3,
            "{reason}: {rows} audit rows for {expected} failures in {seconds} s"
        );
    }
    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT details FROM audit_events WHERE reason = 'credential_in_query'")
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
    for (details,) in stored {
        let details: Value = serde_json::from_str(&details).unwrap();
        assert_eq!(
            details["path"].as_str().unwrap().len(),
            256,
            "the raw path is truncated"
        );
        assert!(details.to_string().len() < 1024, "{details}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // Behind a trusted gateway (127.0.0.1), the forwarded address decides the network.
    let (app, _db, created) = app_with_a_key(
        Backend::Sqlite,
        Options {
            tweak: |s| s.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap(),
            ..Options::default()
        },
    )
    .await;
    let key = created["key"].as_str().unwrap();
    let gateway = client_from("127.0.0.1");
    for n in 0..12 {
        verify_as(&app, &gateway, &wrong_secret(key, n), Some("203.0.113.7")).await;
    }
    let attacker = verify_as(&app, &gateway, key, Some("203.0.113.8")).await;
    assert_eq!(attacker.1, "too_many_failed_attempts");
    let holder = verify_as(&app, &gateway, key, Some("198.51.100.7")).await;
    assert_eq!(holder.0, StatusCode::OK);

    // From a peer that is not a trusted proxy, the header is the client's own claim: ignored.
    let (app, _db, created) = app_with_a_key(Backend::Sqlite, Options::default()).await;
    let key = created["key"].as_str().unwrap();
    let client = client_from("127.0.0.1");
    for n in 0..12 {
        let spoofed = format!("198.51.{n}.1");
        verify_as(&app, &client, &wrong_secret(key, n), Some(&spoofed)).await;
    }
    let escaped = verify_as(&app, &client, key, Some("192.0.2.1")).await;
    assert_eq!(escaped.1, "too_many_failed_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_guesser_meets_the_key_wide_ceiling_of_argon2() {
    let (app, _db, created) = app_with_a_key(
        Backend::Sqlite,
        Options {
            clock: Clock::frozen(),
            tweak: |s| {
                s.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
                s.failure_budgets = FailureBudgets {
                    per_network_per_minute: 3,
                    per_key_per_minute: 12,
                };
            },
            public_url: None,
        },
    )
    .await;
    let key = created["key"].as_str().unwrap();
    let gateway = client_from("127.0.0.1");
    let argon2 = app
        .metric("statuspulse_argon2_duration_seconds_count")
        .await;
    for network in 0..10 {
        for guess in 0..4 {
            let ip = format!("198.51.{network}.1");
            verify_as(
                &app,
                &gateway,
                &wrong_secret(key, network * 10 + guess),
                Some(&ip),
            )
            .await;
        }
    }
    let spent = app
        .metric("statuspulse_argon2_duration_seconds_count")
        .await
        - argon2;
    assert!(spent <= 13.0, "the key-wide ceiling bounds Argon2: {spent}");
    let fresh = verify_as(&app, &gateway, key, Some("192.0.2.1")).await;
    assert_eq!(
        fresh.1, "too_many_failed_attempts",
        "the accepted cost: every network waits"
    );
}

/// The guarantee: a failure that opens an aggregation window is committed before it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_failures_are_durable_before_the_answer_even_under_kill_9() {
    use std::io::BufRead;

    // N failures of distinct kinds (one client network each), all at once.
    const N: usize = 60;

    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_statuspulse-server"))
        .arg("serve")
        .env("STATUSPULSE_DATABASE_URL", &database)
        .env("STATUSPULSE_LISTEN", "127.0.0.1:0")
        .env("STATUSPULSE_TRUSTED_PROXIES", "127.0.0.1")
        .env("STATUSPULSE_LOG", "info")
        .env_remove("STATUSPULSE_REDIS_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().trim_end_matches('"').parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let http = reqwest::Client::new();
    let answers = futures::future::join_all((0..N).map(|i| {
        let request = http
            .get(format!("http://{addr}/v1/auth/verify"))
            .header("x-forwarded-for", format!("10.{i}.0.1"));
        let request = if i % 2 == 0 {
            request.bearer_auth(random_unknown_key())
        } else {
            request.bearer_auth("sp_live_garbage")
        };
        async move { request.send().await.unwrap().status() }
    }))
    .await;
    assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    server.kill().unwrap();
    server.wait().unwrap();

    let db = statuspulse_server::platform::db::Db::connect(&database)
        .await
        .unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT details FROM audit_events WHERE event_type = 'auth.failed'")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let mut networks: Vec<String> = rows
        .iter()
        .map(|(d,)| {
            serde_json::from_str::<Value>(d).unwrap()["client_network"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    networks.sort();
    networks.dedup();
    assert_eq!(
        (rows.len(), networks.len()),
        (N, N),
        "every answered first failure is stored: {networks:?}"
    );
}
