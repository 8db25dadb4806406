//! API hygiene: problem details, bad input changes nothing, credentials only in the header,
//! operations endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

/// Operations called without a credential of ours: sign-in starts and ends there, OAuth clients
/// discover us and authenticate themselves in the body, IdPs fetch our SAML metadata.
const PUBLIC_OPERATIONS: &[&str] = &[
    "/v1/sso/login",
    "/oauth2/callback",
    "/v1/sso/saml/acs",
    "/v1/sso-connections/{id}/saml/metadata",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
    "/oauth2/authorize",
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
];

on_both_backends!(
    bad_input_gets_a_clear_4xx_and_changes_nothing,
    credentials_outside_the_authorization_header_are_refused_and_never_used,
    every_management_route_needs_its_scope,
    operations_endpoints_answer
);

async fn bad_input_gets_a_clear_4xx_and_changes_nothing(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let sa = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "runner"}),
        )
        .await
        .body;
    let sa_id = sa["id"].as_str().unwrap();
    let before = (app.database_snapshot().await, app.audit_total().await);
    let key = app.admin_key.clone();
    let raw = |body: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let response = app
                .http
                .post(app.url("/v1/api-keys"))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.headers().get("content-type").cloned(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, content_type, body) = raw("{not json").await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    assert_eq!(content_type.unwrap(), "application/problem+json");
    assert_eq!(body["type"], "urn:statuspulse:problem:invalid_json");
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"name": "k", "environment": "live", "scopes": ["read:everything"]}),
            "unknown_scope",
            "scopes",
        ),
        (
            json!({"name": "k", "environment": "prod", "scopes": ["read:checks"]}),
            "invalid_environment",
            "environment",
        ),
        (
            json!({"name": "k", "environment": "live", "scopes": []}),
            "scopes_required",
            "scopes",
        ),
        (
            json!({"name": "", "environment": "live", "scopes": ["read:checks"]}),
            "invalid_name",
            "name",
        ),
        (
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"], "scope": "typo"}),
            "invalid_field",
            "scope",
        ),
        (
            json!({"name": "k", "environment": "live"}),
            "invalid_field",
            "scopes",
        ),
        (
            json!({"name": "k", "environment": "live", "scopes": "read:checks"}),
            "invalid_field",
            "scopes",
        ),
        (
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"], "rotation_days": "ninety"}),
            "invalid_field",
            "rotation_days",
        ),
        (
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"], "check_group_ids": ["has space"]}),
            "invalid_id",
            "check_group_ids",
        ),
    ];
    for (body, code, field) in cases {
        let answer = app.post("/v1/api-keys", &app.admin_key, body.clone()).await;
        assert!(answer.status.is_client_error(), "{body}");
        assert_eq!(answer.code(), code, "{body}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{body}");
    }
    let patch = app
        .call(
            Method::PATCH,
            &format!("/v1/service-accounts/{sa_id}"),
            Some(&app.admin_key),
            Some(json!({"name": "x".repeat(201)})),
        )
        .await;
    assert_eq!(
        (patch.status, patch.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name")
    );
    let not_json = app
        .http
        .post(app.url("/v1/service-accounts"))
        .bearer_auth(&app.admin_key)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A declared length over 1 MiB is refused before any of the body is read.
    let (status, code) = raw_exchange(&app, &format!(
        "POST /v1/service-accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.admin_key, 1024 * 1024 + 1)).await;
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    // Sent whole, the same body is refused too. The server answers before the client has
    // finished sending, so the client may see its connection reset instead of the answer;
    // what it must never see is anything but a 413.
    for body in [
        reqwest::Body::from(
            json!({"name": "k", "description": "x".repeat(1024 * 1024)}).to_string(),
        ),
        // A chunked body has no length to declare: it is counted as it arrives.
        reqwest::Body::wrap_stream(futures::stream::iter(
            (0..300).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096])),
        )),
    ] {
        let sent = app
            .http
            .post(app.url("/v1/service-accounts"))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        if let Ok(answer) = sent {
            assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        }
    }
    let wrong_prefix = app
        .get(
            "/v1/auth/verify?environment=live",
            &app.admin_key.replacen("sp_live_", "sp_test_", 1),
        )
        .await;
    assert_eq!(
        (wrong_prefix.status, wrong_prefix.code()),
        (StatusCode::UNAUTHORIZED, "malformed_credential")
    );
    let dup = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "runner"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "name_taken")
    );
    assert_eq!(
        app.get("/v1/nowhere", &app.admin_key).await.code(),
        "no_such_route"
    );
    // Refused credentials are the only things recorded: the wrong prefix.
    assert_eq!(
        (app.database_snapshot().await, app.audit_total().await),
        (before.0, before.1 + 1)
    );
}

async fn credentials_outside_the_authorization_header_are_refused_and_never_used(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let key = app.admin_key.clone();
    for name in [
        "api_key",
        "apikey",
        "KEY",
        "Token",
        "access_token",
        "API%5FKEY",
    ] {
        let answer = app
            .call(
                Method::GET,
                &format!("/v1/auth/verify?{name}={key}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "credential_in_query"),
            "{name}"
        );
        // Even alongside a valid header the request is refused, not authenticated.
        let both = app
            .call(
                Method::GET,
                &format!("/v1/service-accounts?{name}=x"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(both.status, StatusCode::BAD_REQUEST, "{name}");
    }
    for name in ["api_key", "apikey", "key", "token", "ACCESS_TOKEN"] {
        let answer = app
            .call(
                Method::POST,
                "/v1/service-accounts",
                Some(&key),
                Some(json!({"name": "x", name: key})),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "credential_in_body"),
            "{name}"
        );
    }
    let form = app
        .http
        .post(app.url("/v1/auth/verify"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("api_key={key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM service_accounts")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap(),
        0
    );
    // Repeats are aggregated (issue 8): the events' counts add up to every refusal.
    app.flush_audit().await;
    let details: Vec<(String,)> = sqlx::query_as(
        "SELECT details FROM audit_events WHERE workspace_id = '' AND event_type = 'auth.failed'",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    let refused: u64 = details
        .iter()
        .map(|(d,)| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(refused, 6 + 6 + 5 + 1);
    let missing = app.call(Method::GET, "/v1/auth/verify", None, None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::UNAUTHORIZED, "missing_credential")
    );
    assert_eq!(
        missing.header("www-authenticate"),
        "Bearer realm=\"statuspulse\""
    );
    let basic = app
        .http
        .get(app.url("/v1/auth/verify"))
        .header("authorization", format!("Basic {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

async fn every_management_route_needs_its_scope(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let reader = app
        .create_key(
            &app.admin_key,
            json!({"name": "reader", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let reader = reader["key"].as_str().unwrap();
    let sa = "sa_00000000000000000000000000000000";
    let key = "key_00000000000000000000000000000000";
    let ws = &app.workspace_id;
    let ec = "ec_00000000000000000000000000000000";
    let rb = "rb_00000000000000000000000000000000";
    let sso = "sso_00000000000000000000000000000000";
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/service-accounts".into(), None),
        (
            Method::POST,
            "/v1/service-accounts".into(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/v1/service-accounts/{sa}"), None),
        (
            Method::PATCH,
            format!("/v1/service-accounts/{sa}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/service-accounts/{sa}"), None),
        (Method::GET, "/v1/api-keys".into(), None),
        (
            Method::POST,
            "/v1/api-keys".into(),
            Some(json!({"name": "x", "environment": "live", "scopes": ["read:checks"]})),
        ),
        (Method::GET, format!("/v1/api-keys/{key}"), None),
        (
            Method::PATCH,
            format!("/v1/api-keys/{key}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            format!("/v1/api-keys/{key}/rotate"),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/api-keys/revoke".into(),
            Some(json!({"id": key})),
        ),
        (Method::GET, "/v1/audit-events".into(), None),
        (Method::GET, "/v1/audit-events/verify".into(), None),
        (Method::GET, "/v1/audit-events/export".into(), None),
        (Method::GET, "/v1/workspaces".into(), None),
        (
            Method::POST,
            "/v1/workspaces".into(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/v1/workspaces/{ws}"), None),
        (
            Method::PATCH,
            format!("/v1/workspaces/{ws}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/workspaces/{ws}"), None),
        (Method::GET, "/v1/environment-clusters".into(), None),
        (
            Method::POST,
            "/v1/environment-clusters".into(),
            Some(json!({"name": "eu-prod-1", "environment": "live"})),
        ),
        (Method::GET, format!("/v1/environment-clusters/{ec}"), None),
        (
            Method::PATCH,
            format!("/v1/environment-clusters/{ec}"),
            Some(json!({"description": "x"})),
        ),
        (
            Method::DELETE,
            format!("/v1/environment-clusters/{ec}"),
            None,
        ),
        (Method::GET, "/v1/role-bindings".into(), None),
        (
            Method::POST,
            "/v1/role-bindings".into(),
            Some(json!({"group": "ops", "scopes": ["read:checks"]})),
        ),
        (Method::GET, format!("/v1/role-bindings/{rb}"), None),
        (
            Method::PATCH,
            format!("/v1/role-bindings/{rb}"),
            Some(json!({"scopes": ["read:checks"]})),
        ),
        (Method::DELETE, format!("/v1/role-bindings/{rb}"), None),
        (Method::GET, "/v1/sso-connections".into(), None),
        (
            Method::POST,
            "/v1/sso-connections".into(),
            Some(
                json!({"name": "x", "kind": "oidc", "oidc": {"issuer": "https://idp.example.com"}, "client_id": "c"}),
            ),
        ),
        (Method::GET, format!("/v1/sso-connections/{sso}"), None),
        (
            Method::PATCH,
            format!("/v1/sso-connections/{sso}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/sso-connections/{sso}"), None),
        (
            Method::GET,
            format!("/v1/effective-access?api_key_id={key}"),
            None,
        ),
    ];
    for (method, path, body) in routes {
        let anonymous = app.call(method.clone(), &path, None, body.clone()).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let answer = app.call(method.clone(), &path, Some(reader), body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {path}: {}",
            answer.body
        );
    }
    assert_eq!(
        app.get("/v1/scopes", reader).await.status,
        StatusCode::OK,
        "any valid key reads the catalog"
    );
}

async fn operations_endpoints_answer(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.verify(&app.admin_key).await;
    let metrics = app.metrics_text().await;
    for series in [
        "statuspulse_http_requests_total",
        "statuspulse_http_request_duration_seconds_bucket",
        "statuspulse_auth_verifications_total",
        "statuspulse_auth_key_cache_lookups_total",
        "statuspulse_argon2_queue_waiting",
        "statuspulse_argon2_duration_seconds",
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }
    assert!(
        metrics.contains("route=\"/v1/auth/verify\""),
        "routes are labelled by template"
    );
    let openapi: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The document and the router come from one registry: every documented operation is
    // routed, and every one of them needs a credential but sign-in's, which a person without
    // one starts and finishes (they refuse a bare request as malformed).
    let paths = openapi["paths"].as_object().unwrap();
    assert!(paths.len() >= 17, "{paths:?}");
    for (path, operations) in paths {
        let concrete = path.replace("{id}", "ws_00000000000000000000000000000000");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app.call(method.clone(), &concrete, None, None).await;
            if PUBLIC_OPERATIONS.contains(&path.as_str()) {
                // Answered (a document, or a refusal of the bare request), never a 5xx, and
                // never for want of a credential of ours.
                assert!(
                    !answer.status.is_server_error() && answer.code() != "missing_credential",
                    "{method} {path}: {}",
                    answer.status
                );
                continue;
            }
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::UNAUTHORIZED, "missing_credential"),
                "{method} {path}"
            );
        }
    }
    let catalog = app.get("/v1/scopes", &app.admin_key).await.body;
    let names: Vec<&str> = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for scope in [
        "read:checks",
        "write:checks",
        "read:metrics",
        "read:alerts",
        "write:alerts",
        "admin:billing",
        "admin:all",
        "admin:keys",
    ] {
        assert!(names.contains(&scope), "{scope}");
    }
}

/// Sends raw bytes (a head without its body, for instance) and reads the status and `code`.
async fn raw_exchange(app: &TestApp, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"code\"") {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text[9..12].parse().unwrap();
    let code = text
        .split("\"code\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (status, code)
}

#[test]
fn the_default_cache_bounds_revocation_propagation_to_30_seconds() {
    let settings = statuspulse_server::Settings::for_database("sqlite::memory:");
    assert!(settings.cache_max_age <= std::time::Duration::from_secs(30));
    assert!(settings.cache_refresh < settings.cache_max_age);
}

/// The document says what the server answers: every refusal an operation can meet in front of
/// its handler is listed, and every refusal is `application/problem+json` with the `Problem`
/// schema (issue 16; Schemathesis found 48 undocumented statuses and 16 wrong content types).
#[test]
fn every_operation_documents_its_refusals_as_problem_json() {
    let document =
        serde_json::to_value(statuspulse_server::openapi::document()).expect("serialises");
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let authenticated = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let mut expected = vec!["422"];
            if statuspulse_server::openapi::OAUTH_PROTOCOL_PATHS.contains(&path.as_str()) {
                expected = vec!["400", "401", "408", "413"];
            } else if authenticated {
                expected.extend(["400", "401", "403", "429", "503"]);
            }
            if operation.get("requestBody").is_some()
                && !statuspulse_server::openapi::OAUTH_PROTOCOL_PATHS.contains(&path.as_str())
            {
                expected.extend(["408", "413", "415"]);
            }
            if path.contains('{') {
                expected.push("404");
            }
            for status in expected {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('2') || status.starts_with('3') {
                    continue;
                }
                if statuspulse_server::openapi::OAUTH_PROTOCOL_PATHS.contains(&path.as_str())
                    && (status == "400" || status == "401")
                {
                    // RFC 6749 errors, as OAuth clients expect them.
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/OAuthErrorBody"
                    );
                    continue;
                }
                let content = response["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{method} {path} {status} has no content"));
                // The sign-in endpoints a browser is sent to also answer a page.
                let expected: &[&str] =
                    if statuspulse_server::openapi::BROWSER_PATHS.contains(&path.as_str()) {
                        &["application/problem+json", "text/html"]
                    } else {
                        &["application/problem+json"]
                    };
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    expected,
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem"
                );
                if status == "429" {
                    assert!(response["headers"].get("Retry-After").is_some());
                    // The key's budget, on the refusal as on every counted answer.
                    assert!(
                        response["headers"].get("RateLimit").is_some()
                            && response["headers"].get("RateLimit-Policy").is_some(),
                        "{method} {path} {status}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} operations");
}

/// Every string or list field of a request body states the rule the server applies to it
/// (pattern, enumeration, bounds), so a client that follows the document is not refused; the
/// few that are free text, or that only the database can judge (an id that must exist), are
/// named here with the reason.
#[test]
fn every_request_field_has_its_rule() {
    const FREE: &[(&str, &str)] = &[
        // Must name an existing object: a lookup, not a shape.
        ("RevokeApiKey", "successor_id"),
        // Kept as given (audit reason).
        ("RevokeApiKey", "reason"),
        // Protocol forms (RFC 6749, 7009, 7662; the SAML POST binding): the endpoints check them
        // and answer in their protocol's terms.
        ("TokenForm", "grant_type"),
        ("TokenForm", "code"),
        ("TokenForm", "redirect_uri"),
        ("TokenForm", "code_verifier"),
        ("TokenForm", "refresh_token"),
        ("TokenForm", "scope"),
        ("TokenForm", "client_id"),
        ("TokenForm", "client_secret"),
        ("TokenForm", "subject_token"),
        ("TokenForm", "subject_token_type"),
        ("TokenQueryForm", "token"),
        ("TokenQueryForm", "token_type_hint"),
        ("TokenQueryForm", "client_id"),
        ("TokenQueryForm", "client_secret"),
        ("AcsForm", "SAMLResponse"),
        ("AcsForm", "RelayState"),
        // The tiers are the server's configuration.
        ("CreateWorkspace", "rate_limit_tier"),
        ("UpdateWorkspace", "rate_limit_tier"),
    ];
    let document =
        serde_json::to_value(statuspulse_server::openapi::document()).expect("serialises");
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut request_schemas = std::collections::BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(reference) =
                operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                request_schemas.insert(reference.rsplit('/').next().unwrap().to_owned());
            }
        }
    }
    assert!(request_schemas.len() >= 10, "{request_schemas:?}");
    // Every body string carries at least the body parser's rule; a field whose only rule is
    // that one must be listed as free above.
    let text = statuspulse_api::validate::patterns::TEXT;
    let constrained = |v: &Value| {
        v.get("enum").is_some()
            || v.get("$ref").is_some()
            || v.get("minimum").is_some()
            || v.get("pattern").is_some_and(|p| p != text)
    };
    for schema in &request_schemas {
        let properties = schemas[schema]["properties"].as_object().unwrap();
        for (name, property) in properties {
            let types = property["type"].to_string();
            if !(types.contains("string") || types.contains("array") || types.contains("integer")) {
                continue;
            }
            if FREE.contains(&(schema.as_str(), name.as_str())) {
                let stated = if types.contains("array") {
                    &property["items"]["pattern"]
                } else {
                    &property["pattern"]
                };
                assert_eq!(stated, text, "{schema}.{name}");
                continue;
            }
            let ruled = if types.contains("array") {
                constrained(&property["items"])
            } else {
                constrained(property)
            };
            assert!(ruled, "{schema}.{name} states no rule: {property}");
        }
    }
}
