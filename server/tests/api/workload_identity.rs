//! Workload identity federation: a real OIDC issuer (npm `oidc-provider`, standing in for GitHub
//! Actions or GitLab CI) issues a job its JWT; the job exchanges it at `/oauth2/token` (RFC 8693)
//! for an access token acting as a service account, and uses it at verify and on the management
//! API. Then the negative matrix, each refused with the RFC 8693 error, an audit event, and
//! nothing issued.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp, TestDb};
use crate::idp::{Idp, IdpClient, Shape, WorkloadTokenOptions};
use crate::on_both_backends;

on_both_backends!(
    a_ci_job_exchanges_its_token_and_acts_as_the_service_account,
    the_exchange_negative_matrix_is_refused_audited_and_issues_nothing,
    trust_policies_are_validated_and_refused_to_other_workspaces,
    a_workload_exchanging_from_two_regions_within_an_hour_raises_one_alert,
);

const JOB: (&str, &str) = ("ci-job", "ci-job-secret");
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

struct Setup {
    app: TestApp,
    _db: TestDb,
    idp: Idp,
    service_account: String,
    identity: String,
}

fn github(repository: &str, git_ref: &str) -> Value {
    json!({
        "sub": format!("repo:{repository}:ref:{git_ref}"), "repository": repository,
        "repository_owner": repository.split('/').next().unwrap(), "ref": git_ref,
        "environment": "production", "job_workflow_ref": format!("{repository}/.github/workflows/deploy.yml@{git_ref}"),
    })
}

/// The server, the CI issuer, a service account bound to `read:checks` and
/// `admin:service_accounts`, and a trust policy for `acme/infra` on any branch.
async fn setup(backend: Backend) -> Setup {
    let (app, db) = crate::sign_in::spawn(backend).await;
    setup_on(app, db).await
}

async fn setup_on(app: TestApp, db: TestDb) -> Setup {
    let idp = Idp::start(Shape::Generic, vec![IdpClient::workload(JOB.0, JOB.1)]).await;
    let admin = app.admin_key.clone();
    let service_account = app
        .service_account_with(
            &admin,
            "deployer",
            &["read:checks", "admin:service_accounts"],
            &[],
        )
        .await;
    let identity = app
        .post(
            "/v1/workload-identities",
            &admin,
            json!({"name": "infra deploys", "issuer": idp.issuer, "audience": "statuspulse",
                   "conditions": {"repository": "acme/infra", "ref": "refs/heads/*"},
                   "service_account_id": service_account,
                   "scopes": ["read:checks", "admin:service_accounts"]}),
        )
        .await;
    assert_eq!(identity.status, StatusCode::CREATED, "{}", identity.body);
    Setup {
        identity: identity.body["id"].as_str().unwrap().to_owned(),
        app,
        _db: db,
        idp,
        service_account,
    }
}

/// A job's token as GitHub Actions and GitLab CI send them (`typ: JWT`).
async fn ci_token(s: &Setup, audience: &str, claims: Value) -> String {
    s.idp
        .workload_token_with(
            JOB.0,
            JOB.1,
            audience,
            claims,
            &WorkloadTokenOptions {
                typ: Some("JWT".to_owned()),
                ..WorkloadTokenOptions::default()
            },
        )
        .await
}

async fn exchange(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let answer = app
        .http
        .post(app.url("/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

async fn exchange_token(app: &TestApp, token: &str) -> (StatusCode, Value) {
    exchange(
        app,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token_type", JWT_TYPE),
            ("subject_token", token),
        ],
    )
    .await
}

async fn last_event(app: &TestApp, event_type: &str) -> Value {
    app.flush_audit().await;
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE event_type = $1 ORDER BY occurred_at DESC, seq DESC LIMIT 1",
    )
    .bind(event_type)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    serde_json::from_str(&details).unwrap()
}

async fn a_ci_job_exchanges_its_token_and_acts_as_the_service_account(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let token = ci_token(&s, "statuspulse", github("acme/infra", "refs/heads/main")).await;
    let (status, answer) = exchange_token(app, &token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 900);
    assert_eq!(answer["scope"], "read:checks admin:service_accounts");
    assert!(answer.get("refresh_token").is_none(), "{answer}");
    let access = answer["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], s.service_account.as_str());
    assert_eq!(claims["client_id"], s.identity.as_str());
    assert_eq!(claims["act"]["iss"], s.idp.issuer.as_str());
    assert_eq!(claims["act"]["sub"], "repo:acme/infra:ref:refs/heads/main");

    // At verify: the service account, with the scopes given.
    let verified = app.get("/v1/auth/verify?scope=read:checks", access).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["principal"]["type"], "service_account");
    assert_eq!(verified.body["principal"]["id"], s.service_account.as_str());
    let denied = app.get("/v1/auth/verify?scope=write:checks", access).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // On the management API, like a key of that account: it reads service accounts, and can
    // hand out nothing it does not hold.
    let listed = app.get("/v1/service-accounts", access).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let key = app
        .post(
            "/v1/api-keys",
            access,
            json!({"name": "escalate", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    assert_eq!(key.status, StatusCode::FORBIDDEN, "{}", key.body);
    let created = app
        .post(
            "/v1/service-accounts",
            access,
            json!({"name": "made by ci"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let actor: (String, Option<String>) = sqlx::query_as(
        "SELECT actor_type, actor_id FROM audit_events WHERE event_type = 'service_account.created' \
         ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        actor,
        (
            "service_account".to_owned(),
            Some(s.service_account.clone())
        )
    );

    // Audited with issuer, subject and the matched claims; never the token.
    let event = last_event(app, "token.exchanged").await;
    assert_eq!(event["issuer"], s.idp.issuer.as_str());
    assert_eq!(event["workload_identity_id"], s.identity.as_str());
    assert_eq!(event["matched_claims"]["repository"], "acme/infra");
    assert_eq!(event["matched_claims"]["ref"], "refs/heads/main");
    assert!(!event.to_string().contains(&token[..40]), "{event}");

    // A narrower scope on request; the policy's lifetime applies.
    let patched = app
        .call(
            Method::PATCH,
            &format!("/v1/workload-identities/{}", s.identity),
            Some(&app.admin_key),
            Some(json!({"token_lifetime_seconds": 120})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let token = ci_token(
        &s,
        "statuspulse",
        github("acme/infra", "refs/heads/release"),
    )
    .await;
    let (status, narrow) = exchange(
        app,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token_type", JWT_TYPE),
            ("subject_token", &token),
            ("scope", "read:checks"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{narrow}");
    assert_eq!(
        (narrow["scope"].as_str(), narrow["expires_in"].as_i64()),
        (Some("read:checks"), Some(120))
    );

    // A binding narrowed after the policy was made narrows what is given.
    let bindings = app
        .get(
            &format!("/v1/role-bindings?service_account_id={}", s.service_account),
            &app.admin_key,
        )
        .await
        .body;
    let binding = bindings["items"][0]["id"].as_str().unwrap();
    let narrowed = app
        .call(
            Method::PATCH,
            &format!("/v1/role-bindings/{binding}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["read:checks"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    let token = ci_token(&s, "statuspulse", github("acme/infra", "refs/heads/main")).await;
    let (status, answer) = exchange_token(app, &token).await;
    assert_eq!(
        (status, answer["scope"].as_str()),
        (StatusCode::OK, Some("read:checks")),
        "{answer}"
    );
}

/// An `alg: none` token, or an HMAC one "signed" with `secret`: for the classic algorithm
/// confusion, the issuer's public key, which anyone can fetch.
fn forged(secret: &[u8], alg: &str, kid: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = match alg {
        "none" => String::new(),
        _ => {
            use hmac::Mac as _;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            mac.update(format!("{header}.{payload}").as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
    };
    format!("{header}.{payload}.{signature}")
}

async fn the_exchange_negative_matrix_is_refused_audited_and_issues_nothing(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let good = github("acme/infra", "refs/heads/main");
    let claims_of = |jwt: &str| -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let valid = ci_token(&s, "statuspulse", good.clone()).await;
    let real_claims = claims_of(&valid);
    // The issuer's public key, as published: the "secret" of the algorithm-confusion forgery.
    let discovery = s.idp.discovery(&s.idp.discovery_url()).await;
    let jwks: Value = s
        .app
        .http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap()
        .to_string();
    let mut cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "wrong audience",
            ci_token(&s, "someone-else", good.clone()).await,
            "invalid_request",
            "conditions_not_met",
        ),
        (
            "another repository",
            ci_token(&s, "statuspulse", github("evil/infra", "refs/heads/main")).await,
            "invalid_request",
            "conditions_not_met",
        ),
        (
            "a tag, not a branch",
            ci_token(&s, "statuspulse", github("acme/infra", "refs/tags/v1")).await,
            "invalid_request",
            "conditions_not_met",
        ),
        (
            "alg none",
            forged(&[], "none", "x", &real_claims),
            "invalid_request",
            "algorithm_refused",
        ),
        (
            "HS256 with a public value as secret",
            forged(public.as_bytes(), "HS256", "x", &real_claims),
            "invalid_request",
            "algorithm_refused",
        ),
        (
            "not a JWT",
            "not.a-jwt".to_owned(),
            "invalid_request",
            "malformed_token",
        ),
    ];
    // A signature that does not verify: a real token's signature over altered claims.
    let mut tampered_claims = real_claims.clone();
    tampered_claims["repository"] = json!("acme/infra-evil");
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered_claims.to_string()),
        parts[2]
    );
    cases.push((
        "tampered claims",
        tampered,
        "invalid_request",
        "bad_signature",
    ));
    let expiring = s
        .idp
        .workload_token_with(
            JOB.0,
            JOB.1,
            "statuspulse",
            good.clone(),
            &WorkloadTokenOptions {
                ttl_seconds: Some(60),
                ..WorkloadTokenOptions::default()
            },
        )
        .await;
    let before_events = app
        .audit_count(&app.workspace_id, "token.exchange_refused")
        .await;
    for (name, token, error, reason) in &cases {
        let (status, answer) = exchange_token(app, token).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*error)),
            "{name}: {answer}"
        );
        assert!(answer.get("access_token").is_none(), "{name}");
        let event = last_event(app, "token.exchange_refused").await;
        assert_eq!(event["reason"], *reason, "{name}: {event}");
    }

    // Scopes beyond the policy.
    let (status, answer) = exchange(
        app,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token_type", JWT_TYPE),
            (
                "subject_token",
                &ci_token(&s, "statuspulse", good.clone()).await,
            ),
            ("scope", "admin:keys"),
        ],
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "{answer}"
    );

    // Replay: the first exchange works, the second of the same token does not.
    let (status, _) = exchange_token(app, &valid).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = exchange_token(app, &valid).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert_eq!(
        last_event(app, "token.exchange_refused").await["reason"],
        "token_replayed"
    );

    // Expired, by the server's clock.
    app.clock.advance(std::time::Duration::from_secs(180));
    let (_, answer) = exchange_token(app, &expiring).await;
    assert_eq!(
        last_event(app, "token.exchange_refused").await["reason"],
        "token_expired",
        "{answer}"
    );

    // An unknown key: the issuer's keys are fetched again, once; a new key is then found, but
    // a made-up one keeps failing without another fetch within the minute.
    let hits = s.idp.jwks_hits().await;
    s.idp.rotate_keys().await;
    let rotated = ci_token(&s, "statuspulse", good.clone()).await;
    let (status, answer) = exchange_token(app, &rotated).await;
    assert_eq!(status, StatusCode::OK, "a rotated key is fetched: {answer}");
    assert_eq!(s.idp.jwks_hits().await, hits + 1);
    let mut unknown_kid: Vec<String> = ci_token(&s, "statuspulse", good.clone())
        .await
        .split('.')
        .map(str::to_owned)
        .collect();
    unknown_kid[0] = URL_SAFE_NO_PAD
        .encode(json!({"alg": "RS256", "kid": "never-published", "typ": "JWT"}).to_string());
    let (_, answer) = exchange_token(app, &unknown_kid.join(".")).await;
    assert_eq!(answer["error"], "invalid_request", "{answer}");
    assert_eq!(
        last_event(app, "token.exchange_refused").await["reason"],
        "bad_signature"
    );
    assert_eq!(
        s.idp.jwks_hits().await,
        hits + 1,
        "no second fetch within the minute"
    );

    // A policy whose service account was deleted.
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/service-accounts/{}", s.service_account),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let (_, answer) = exchange_token(app, &ci_token(&s, "statuspulse", good.clone()).await).await;
    assert_eq!(answer["error"], "invalid_request", "{answer}");
    assert_eq!(
        last_event(app, "token.exchange_refused").await["reason"],
        "service_account_gone"
    );

    // Every refusal above that named a policy was audited in its workspace.
    let after_events = app
        .audit_count(&app.workspace_id, "token.exchange_refused")
        .await;
    eprintln!(
        "refusals audited in the workspace: {}",
        after_events - before_events
    );
    // One event per kind of refusal from this network while its window is open (repeats are
    // counted, not stored one by one): conditions, algorithm, signature, scope, replay, expiry,
    // the signature again (its window closed when the clock moved 3 minutes), deleted account.
    // "Not a JWT" names no issuer, so no workspace: it went to the system chain.
    assert_eq!(after_events - before_events, 8);

    // A flood of one kind costs one event.
    let flood = forged(&[], "none", "x", &real_claims);
    for _ in 0..200 {
        exchange_token(app, &flood).await;
    }
    app.flush_audit().await;
    let flooded = app
        .audit_count(&app.workspace_id, "token.exchange_refused")
        .await;
    assert_eq!(
        flooded,
        after_events + 1,
        "200 refusals of one kind are one event"
    );

    // No policy for an issuer at all.
    let (_, answer) = exchange_token(
        app,
        &forged(
            &[],
            "RS256",
            "k",
            &json!({"iss": "https://ci.example.org", "exp": 4_102_444_800_i64}),
        ),
    )
    .await;
    assert_eq!(answer["error"], "invalid_request");
    assert_eq!(
        last_event(app, "token.exchange_refused").await["reason"],
        "no_trust_policy"
    );
    // A missing or foreign subject token type.
    let (_, answer) = exchange(
        app,
        &[("grant_type", TOKEN_EXCHANGE), ("subject_token", &valid)],
    )
    .await;
    assert_eq!(answer["error"], "invalid_request");
    let (_, answer) = exchange(
        app,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", &valid),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ],
    )
    .await;
    assert_eq!(answer["error"], "invalid_request");
}

async fn trust_policies_are_validated_and_refused_to_other_workspaces(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let admin = &app.admin_key;
    let base = json!({"name": "x", "issuer": "https://token.actions.githubusercontent.com",
        "audience": "statuspulse", "conditions": {"repository": "acme/infra"},
        "service_account_id": s.service_account, "scopes": ["read:checks"]});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let before = app.database_snapshot().await;
    for (body, code) in [
        (
            with(json!({"conditions": {"ref": "refs/heads/main"}})),
            "tenant_not_pinned",
        ),
        (
            with(json!({"conditions": {"repository": "*"}})),
            "condition_matches_anything",
        ),
        (with(json!({"conditions": {}})), "invalid_conditions"),
        (with(json!({"scopes": ["admin:all"]})), "admin_all_refused"),
        (
            with(json!({"scopes": ["write:checks"]})),
            "scope_beyond_bindings",
        ),
        (
            with(json!({"issuer": "http://ci.example.com"})),
            "invalid_url",
        ),
        (
            with(json!({"token_lifetime_seconds": 7200})),
            "out_of_range",
        ),
        (
            with(json!({"service_account_id": "sa_0123456789abcdef0123456789abcdef"})),
            "unknown_service_account",
        ),
        (with(json!({"name": "infra deploys"})), "name_taken"),
    ] {
        let answer = app
            .post("/v1/workload-identities", admin, body.clone())
            .await;
        assert!(answer.status.is_client_error(), "{body}: {}", answer.body);
        assert_eq!(answer.code(), code, "{body}: {}", answer.body);
    }
    assert_eq!(
        app.database_snapshot().await,
        before,
        "refusals changed nothing"
    );

    // A caller cannot hand a workload what it does not hold itself.
    let limited = app
        .create_key(
            admin,
            json!({"name": "access admin", "environment": "live", "scopes": ["admin:access"]}),
        )
        .await;
    let answer = app
        .post(
            "/v1/workload-identities",
            limited["key"].as_str().unwrap(),
            with(json!({"name": "y"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);

    let (_, other) = app.new_workspace("other").await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"audience": "mine"}))),
        (Method::DELETE, None),
    ] {
        let answer = app
            .call(
                method.clone(),
                &format!("/v1/workload-identities/{}", s.identity),
                Some(&other),
                body,
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method}");
    }
    assert_eq!(
        app.get("/v1/workload-identities", &other).await.body["items"],
        json!([])
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/workload-identities/{}", s.identity),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.audit_count(&app.workspace_id, "workload_identity.deleted")
            .await,
        1
    );
}

/// The `cross_region_token_exchange` anomaly rule covers exchanged tokens: one workload subject
/// exchanging from two regions (as a trusted proxy's region header says) within the hour is one
/// alert, with the issuer and subject and never the token; the same job from one region is none.
async fn a_workload_exchanging_from_two_regions_within_an_hour_raises_one_alert(backend: Backend) {
    let (app, db) = TestApp::spawn_with(backend, crate::access_policies::behind_a_proxy()).await;
    let s = setup_on(app, db).await;
    let app = &s.app;
    let mut tokens = vec![];
    for (ip, region) in [
        ("10.0.0.1", "eu-west-1"),
        ("10.0.0.2", "eu-west-1"),
        ("203.0.113.9", "us-east-1"),
        ("203.0.113.9", "us-east-1"),
    ] {
        let token = ci_token(&s, "statuspulse", github("acme/infra", "refs/heads/main")).await;
        let answer = app
            .http
            .post(app.url("/oauth2/token"))
            .header("x-forwarded-for", ip)
            .header("x-client-region", region)
            .form(&[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token_type", JWT_TYPE),
                ("subject_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let status = answer.status();
        assert_eq!(
            status,
            StatusCode::OK,
            "{ip}: {}",
            answer.text().await.unwrap()
        );
        tokens.push(token);
        if region == "eu-west-1" {
            app.flush_audit().await;
            statuspulse_server::anomaly::detect(&app.state)
                .await
                .unwrap();
            assert_eq!(
                app.audit_count(&app.workspace_id, "anomaly.detected").await,
                0,
                "one region is no anomaly"
            );
        }
        // Less than the CI tokens live: the server would find them expired.
        app.clock.advance(std::time::Duration::from_secs(60));
    }
    app.flush_audit().await;
    statuspulse_server::anomaly::detect(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.audit_count(&app.workspace_id, "anomaly.detected").await,
        1
    );
    let alert = last_event(app, "anomaly.detected").await;
    assert_eq!(alert["kind"], "cross_region_token_exchange");
    assert_eq!(alert["regions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(alert["issuer"], s.idp.issuer.as_str());
    assert_eq!(
        alert["workload_subject"],
        "repo:acme/infra:ref:refs/heads/main"
    );
    assert_eq!(alert["workload_identity_id"], s.identity.as_str());
    let text = alert.to_string();
    assert!(tokens.iter().all(|t| !text.contains(t.as_str())));
}
