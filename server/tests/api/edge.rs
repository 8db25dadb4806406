//! The edge of the server against a hostile client: control characters, error format, metrics
//! labels, bodies sent without a credential, and connections that hold resources without using
//! them (issue 8, findings 7 to 10 and 13).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

/// What a raw exchange ended with: the status line's code, or how the connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Status(u16, String),
    Closed,
    StillOpen,
}

/// Reads from a raw connection until a whole status line and headers arrive, the server closes
/// it, or `within` passes.
async fn ending(stream: &mut TcpStream, within: Duration) -> Ending {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&answer);
        if let Some(head) = text
            .split("\r\n\r\n")
            .next()
            .filter(|_| text.contains("\r\n\r\n"))
        {
            return Ending::Status(head[9..12].parse().unwrap(), head.to_ascii_lowercase());
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Ending::StillOpen,
            Ok(Ok(0) | Err(_)) => return Ending::Closed,
            Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Opens a connection and sends `head` and then `body_bytes` bytes of a body, ignoring write
/// errors: a server that refuses early may close the connection under the writer.
async fn send_partial(app: &TestApp, head: &str, body_bytes: usize) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let _ = stream.write_all(head.as_bytes()).await;
    let filler = vec![b'a'; body_bytes];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(&filler)).await;
    stream
}

fn post_head(path: &str, authorization: Option<&str>, content_length: usize) -> String {
    let authorization = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{authorization}Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

on_both_backends!(
    a_nul_or_control_character_anywhere_is_refused_and_never_a_500,
    names_that_differ_only_by_invisible_characters_cannot_coexist,
    every_error_is_problem_json_including_query_rejections_and_405,
    invented_methods_and_paths_cannot_grow_the_metrics,
    a_body_without_a_credential_is_refused_from_the_headers_without_being_read,
    only_oauth_endpoints_take_credentials_in_their_bodies_and_only_small_ones,
    bodies_in_flight_are_bounded_and_their_memory_returned,
    a_body_that_stalls_is_cut_at_the_body_timeout,
    silent_and_slow_header_connections_are_closed,
    connections_beyond_the_limit_are_closed_and_the_server_keeps_answering,
    shutdown_finishes_the_requests_in_flight_then_stops
);

async fn a_nul_or_control_character_anywhere_is_refused_and_never_a_500(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let key = app.admin_key.clone();
    let sa = app
        .post("/v1/service-accounts", &key, json!({"name": "runner"}))
        .await
        .body;
    let sa_id = sa["id"].as_str().unwrap().to_owned();
    let created = app
        .create_key(
            &key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let key_object_id = created["id"].as_str().unwrap().to_owned();
    // Bodies: every string field is covered by the JSON extractor, escaped or raw.
    let bodies = [
        (
            Method::POST,
            "/v1/service-accounts".to_owned(),
            json!({"name": "a", "description": "x\u{0}y"}),
            "description",
        ),
        (
            Method::POST,
            "/v1/service-accounts".to_owned(),
            json!({"name": "a\u{1b}[31m"}),
            "name",
        ),
        (
            Method::PATCH,
            format!("/v1/service-accounts/{sa_id}"),
            json!({"description": "\u{85}"}),
            "description",
        ),
        (
            Method::POST,
            "/v1/environment-clusters".to_owned(),
            json!({"name": "eu-1", "environment": "live", "description": "\u{0}"}),
            "description",
        ),
        (
            Method::POST,
            "/v1/api-keys/revoke".to_owned(),
            json!({"id": key_object_id, "reason": "gone\u{0}"}),
            "reason",
        ),
        (
            Method::POST,
            "/v1/api-keys/revoke".to_owned(),
            json!({"id": "key_\u{0}"}),
            "id",
        ),
        (
            Method::POST,
            "/v1/role-bindings".to_owned(),
            json!({"service_account_id": "sa_\u{0}", "scopes": ["read:checks"]}),
            "service_account_id",
        ),
        (
            Method::POST,
            "/v1/api-keys".to_owned(),
            json!({"name": "k", "environment": "live", "scopes": ["read:checks\u{0}"]}),
            "scopes[0]",
        ),
    ];
    for (method, path, body, field) in bodies {
        let answer = app
            .call(method.clone(), &path, Some(&key), Some(body.clone()))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "control_character"),
            "{method} {path} {body}"
        );
        assert_eq!(answer.body["field"], field, "{method} {path}");
        assert_eq!(answer.header("content-type"), "application/problem+json");
    }
    // Query filters and path ids, percent-encoded as a client would send them.
    let uris = [
        (Method::GET, "/v1/audit-events?event_type=%00"),
        (Method::GET, "/v1/audit-events?target_id=a%00b"),
        (Method::GET, "/v1/api-keys?status=%00"),
        (Method::GET, "/v1/api-keys?service_account_id=sa_%00"),
        (Method::GET, "/v1/environment-clusters?name=%00"),
        (Method::GET, "/v1/role-bindings?group=%1b"),
        (Method::GET, "/v1/effective-access?service_account_id=%00"),
        (Method::GET, "/v1/auth/verify?cluster=%00"),
        (Method::GET, "/v1/service-accounts/sa_%00"),
        (Method::GET, "/v1/api-keys/key_%00"),
        (Method::DELETE, "/v1/environment-clusters/%00"),
        (Method::POST, "/v1/api-keys/%00/rotate"),
        (Method::DELETE, "/v1/workspaces/ws_%00"),
        (Method::GET, "/v1/%00"),
    ];
    for (method, uri) in uris {
        let answer = app.call(method.clone(), uri, Some(&key), None).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "control_character"),
            "{method} {uri}: {}",
            answer.body
        );
        assert_eq!(answer.header("content-type"), "application/problem+json");
    }
    let accounts = app.get("/v1/service-accounts", &key).await.body;
    assert_eq!(
        accounts["items"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
}

async fn names_that_differ_only_by_invisible_characters_cannot_coexist(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let key = app.admin_key.clone();
    let first = app
        .post("/v1/service-accounts", &key, json!({"name": "fx-sa"}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    for twin in [
        "fx-sa\u{200b}",
        "\u{feff}fx-sa",
        "fx\u{202e}as-",
        "fx\u{2066}-sa",
        "fx-\u{200d}sa",
        "fx-sa\u{2060}",
    ] {
        for (method, path) in [
            (Method::POST, "/v1/service-accounts"),
            (Method::POST, "/v1/api-keys"),
            (Method::POST, "/v1/workspaces"),
        ] {
            let body = json!({"name": twin, "environment": "live", "scopes": ["read:checks"]});
            let body = if path == "/v1/api-keys" {
                body
            } else {
                json!({"name": twin})
            };
            let answer = app.call(method, path, Some(&key), Some(body)).await;
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invisible_character"),
                "{path} {twin:?}"
            );
            assert_eq!(answer.body["field"], "name");
        }
    }
    // Right-to-left text itself is a name like any other; only the invisible controls go.
    let arabic = app
        .post("/v1/service-accounts", &key, json!({"name": "مراقب"}))
        .await;
    assert_eq!(arabic.status, StatusCode::CREATED, "{}", arabic.body);
}

async fn every_error_is_problem_json_including_query_rejections_and_405(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let key = app.admin_key.clone();
    for uri in [
        "/v1/service-accounts?limit=abc",
        "/v1/service-accounts?limit=1&limit=2",
        "/v1/api-keys?limit=99999999999999999999999",
        "/v1/audit-events?limit=-",
        "/v1/role-bindings?limit=1.5",
        "/v1/environment-clusters?cursor=a&cursor=b",
    ] {
        let answer = app.get(uri, &key).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            answer.header("content-type"),
            "application/problem+json",
            "{uri}"
        );
        assert_eq!(answer.code(), "invalid_request", "{uri}");
        assert!(!answer.body["detail"].as_str().unwrap().is_empty());
    }
    for (method, path) in [
        (Method::DELETE, "/v1/api-keys"),
        (Method::PUT, "/v1/service-accounts"),
        (Method::POST, "/healthz"),
    ] {
        let answer = app.call(method.clone(), path, Some(&key), None).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            "{method} {path}"
        );
        assert_eq!(answer.header("content-type"), "application/problem+json");
        assert!(
            !answer.header("allow").is_empty(),
            "405 still says what is allowed"
        );
    }
    // Success answers and JSON errors pass through untouched.
    assert_eq!(
        app.get("/healthz", &key).await.header("content-type"),
        "application/json"
    );
}

async fn invented_methods_and_paths_cannot_grow_the_metrics(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let size = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .len()
    };
    // Every label combination the flood below can reach, seen once.
    for path in ["/v1/service-accounts", "/v1/nowhere"] {
        app.call(Method::from_bytes(b"INVENTED").unwrap(), path, None, None)
            .await;
    }
    let before = size().await;
    for i in 0..300 {
        let method = Method::from_bytes(format!("M{i}{}", "X".repeat(2000)).as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/v1/service-accounts".to_owned()
        } else {
            format!("/v1/nowhere-{i}-{}", "p".repeat(500))
        };
        let answer = app.call(method, &path, None, None).await;
        assert!(answer.status.is_client_error());
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.len() < before + 2048,
        "metrics grew from {before} to {} bytes",
        metrics.len()
    );
    assert!(
        !metrics.contains("XXXX") && !metrics.contains("nowhere-"),
        "no label comes from the request"
    );
    assert!(metrics.contains("method=\"other\""));
}

async fn a_body_without_a_credential_is_refused_from_the_headers_without_being_read(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let malformed = format!("Bearer {}x", &app.admin_key[..app.admin_key.len() - 1]);
    // Shape and checksum are right (anyone can compute them), the key does not exist.
    let forged = statuspulse_server::authn::token::PlainApiKey::generate(
        statuspulse_server::authz::scopes::Environment::Live,
    );
    let forged = format!("Bearer {}", forged.expose());
    let cases = [
        (None, "missing_credential"),
        (Some("Basic dXNlcjpwYXNz"), "invalid_authorization_scheme"),
        (Some(malformed.as_str()), "malformed_credential"),
        (Some(forged.as_str()), "invalid_credential"),
    ];
    for (authorization, code) in cases {
        // Most of a 1 MiB body is promised, a little is sent, the rest never comes.
        let mut stream = send_partial(
            &app,
            &post_head("/v1/service-accounts", authorization, 1_000_000),
            1024,
        )
        .await;
        match ending(&mut stream, Duration::from_secs(3)).await {
            Ending::Status(401, head) => {
                assert!(
                    head.contains(&format!("x-statuspulse-error: {code}")),
                    "{head}"
                );
                assert!(head.contains("connection: close"), "{head}");
            }
            other => panic!("{authorization:?}: expected 401 before the body, got {other:?}"),
        }
    }
    // Many at once: answered promptly, and the process does not hold their bodies.
    let rss_before = resident_bytes();
    let started = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..200 {
        streams.push(
            send_partial(
                &app,
                &post_head("/v1/api-keys", None, 1_048_000),
                256 * 1024,
            )
            .await,
        );
    }
    for stream in &mut streams {
        // With most of the body unread the close may arrive as a reset before the answer;
        // either way the server did not wait for the body.
        let end = ending(stream, Duration::from_secs(5)).await;
        assert!(
            matches!(end, Ending::Status(401, _) | Ending::Closed),
            "{end:?}"
        );
    }
    let grown = resident_bytes().saturating_sub(rss_before);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        grown < 40 * 1024 * 1024,
        "resident memory grew by {} MiB",
        grown / (1024 * 1024)
    );
    // A small keyless body is still read, so a key pasted into it is caught.
    let leaked = app
        .call(
            Method::POST,
            "/v1/api-keys",
            None,
            Some(json!({"api_key": app.admin_key})),
        )
        .await;
    assert_eq!(leaked.code(), "credential_in_body");
}

/// RFC 7009 revocation and RFC 7662 introspection send `token=` in the body by protocol, so the
/// credential guard must not refuse it there (the endpoint answers in OAuth's terms: the client
/// is not identified); everywhere else it still does.
async fn only_oauth_endpoints_take_credentials_in_their_bodies_and_only_small_ones(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let form = |path: &str, body: String| {
        app.http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let revoke = form("/oauth2/revoke", format!("token={}", app.admin_key))
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::UNAUTHORIZED);
    let error: serde_json::Value = revoke.json().await.unwrap();
    assert_eq!(error["error"], "invalid_client");

    let elsewhere = form("/v1/api-keys", format!("token={}", app.admin_key))
        .await
        .unwrap();
    let problem: serde_json::Value = elsewhere.json().await.unwrap();
    assert_eq!(problem["code"], "credential_in_body");

    // Without a Bearer key, an OAuth body is read, but never a large one.
    let large = form("/oauth2/token", "a".repeat(17 * 1024)).await.unwrap();
    assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

async fn bodies_in_flight_are_bounded_and_their_memory_returned(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| s.body_memory_budget = statuspulse_server::platform::config::MAX_BODY_BYTES,
            ..Options::default()
        },
    )
    .await;
    let bearer = format!("Bearer {}", app.admin_key);
    let head = post_head("/v1/service-accounts", Some(&bearer), 900_000);
    let mut holding = send_partial(&app, &head, 1024).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = send_partial(&app, &head, 1024).await;
    match ending(&mut refused, Duration::from_secs(3)).await {
        Ending::Status(503, head) => assert!(head.contains("retry-after: 1"), "{head}"),
        other => panic!("expected 503 while the budget is taken, got {other:?}"),
    }
    // The first body completes; its reservation is returned with the answer.
    let rest = vec![b' '; 900_000 - 1024 - 15];
    holding.write_all(br#"{"name":"big"}"#).await.unwrap();
    holding.write_all(b" ").await.unwrap();
    holding.write_all(&rest).await.unwrap();
    assert!(matches!(
        ending(&mut holding, Duration::from_secs(5)).await,
        Ending::Status(400 | 201, _)
    ));
    let after = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "after"}),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.body);
    assert_eq!(
        app.state.body_budget.available_permits(),
        statuspulse_server::platform::config::MAX_BODY_BYTES
    );
}

async fn a_body_that_stalls_is_cut_at_the_body_timeout(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| s.body_timeout = Duration::from_secs(1),
            ..Options::default()
        },
    )
    .await;
    let bearer = format!("Bearer {}", app.admin_key);
    let mut stream = send_partial(
        &app,
        &post_head("/v1/service-accounts", Some(&bearer), 100),
        10,
    )
    .await;
    match ending(&mut stream, Duration::from_secs(4)).await {
        Ending::Status(408, head) => {
            assert!(head.contains("x-statuspulse-error: body_timeout"), "{head}");
        }
        other => panic!("expected 408, got {other:?}"),
    }
    assert_eq!(
        app.state.body_budget.available_permits(),
        app.state.settings.body_memory_budget
    );
}

async fn silent_and_slow_header_connections_are_closed(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| {
                s.header_timeout = Duration::from_secs(1);
                s.idle_timeout = Duration::from_secs(2);
            },
            ..Options::default()
        },
    )
    .await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut slowloris = TcpStream::connect(app.addr).await.unwrap();
    slowloris
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let drip = async {
        for _ in 0..20 {
            if slowloris.write_all(b"X-a: b\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ending(&mut slowloris, Duration::from_secs(1)).await
    };
    let (silent_end, slow_end) = tokio::join!(ending(&mut silent, Duration::from_secs(4)), drip);
    assert_ne!(
        silent_end,
        Ending::StillOpen,
        "a connection that sends nothing is closed"
    );
    assert_ne!(
        slow_end,
        Ending::StillOpen,
        "headers dripped in are cut at the header timeout"
    );
    // A keep-alive connection that goes quiet after an answer is closed too.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(matches!(
        ending(&mut kept, Duration::from_secs(2)).await,
        Ending::Status(200, _)
    ));
    let mut rest = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match kept.read(&mut rest).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle keep-alive connection is closed");
}

async fn connections_beyond_the_limit_are_closed_and_the_server_keeps_answering(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| s.max_connections = 8,
            ..Options::default()
        },
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(matches!(
            ending(&mut stream, Duration::from_secs(2)).await,
            Ending::Status(200, _)
        ));
        held.push(stream);
    }
    let mut excess = TcpStream::connect(app.addr).await.unwrap();
    let _ = excess
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(
        ending(&mut excess, Duration::from_secs(2)).await,
        Ending::Closed
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        app.metric("statuspulse_http_connections_refused_total")
            .await
            >= 1.0
    );
}

async fn shutdown_finishes_the_requests_in_flight_then_stops(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let state = app.state.clone();
    let body = br#"{"name":"late"}"#;
    let bearer = format!("Bearer {}", app.admin_key);
    let mut stream = send_partial(
        &app,
        &post_head("/v1/service-accounts", Some(&bearer), body.len()),
        0,
    )
    .await;
    stream.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[5..]).await.unwrap();
    assert!(matches!(
        ending(&mut stream, Duration::from_secs(5)).await,
        Ending::Status(201, _)
    ));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap()
        .unwrap();
    // The audit event of that request was written by the shutdown flush.
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event_type = 'service_account.created'",
    )
    .fetch_one(state.db.pool())
    .await
    .unwrap();
    assert_eq!(events, 1);
}
