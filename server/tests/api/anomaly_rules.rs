//! Anomaly alerts (`/v1/anomaly-rules`): every workspace has one default rule per kind; rules are
//! validated, audited and isolated per workspace; each kind fires on a scripted attack, once per
//! incident, with its evidence and never a secret, and stays silent on normal use.
//!
//! Requests come through a trusted proxy (the test server trusts 127.0.0.1) whose
//! `X-Forwarded-For` and `X-Client-Region` headers place them. The tests run the detector
//! themselves (`anomaly::detect`) instead of waiting for its job; the job runs too, and the
//! detector's compare-and-set cursor makes the two one.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::access_policies::{refresh_from, tokens_as};
use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;
use crate::verify::wrong_secret;

on_both_backends!(
    defaults_exist_for_every_new_workspace_and_rules_are_validated_audited_and_isolated,
    rapid_rotation_fires_once_per_incident_and_never_for_a_quarterly_rotation,
    failed_auth_burst_fires_for_a_guessed_key_and_not_for_a_few_typos,
    a_revoked_key_presented_again_fires_at_the_first_presentation,
    new_network_fires_for_an_established_key_and_a_pipeline_on_one_network_stays_silent,
    tokens_refreshed_from_two_regions_within_an_hour_raise_one_alert,
);

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn behind_a_proxy() -> Options {
    Options {
        tweak: |s| {
            s.trusted_proxies =
                statuspulse_server::platform::network::TrustedProxies::parse("127.0.0.1/32")
                    .unwrap();
        },
        ..Options::default()
    }
}

/// Runs the detector over everything recorded so far (audit events and key networks).
async fn detect(app: &TestApp) {
    app.flush_audit().await;
    app.state.authenticator.flush_networks().await.unwrap();
    statuspulse_server::anomaly::detect(&app.state)
        .await
        .unwrap();
}

/// The workspace's alerts of `kind`, oldest first, as the audit log holds them.
async fn alerts(app: &TestApp, workspace_id: &str, kind: &str) -> Vec<Value> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT details, actor_type FROM audit_events WHERE workspace_id = $1 \
         AND event_type = 'anomaly.detected' ORDER BY seq",
    )
    .bind(workspace_id)
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(details, actor)| {
            assert_eq!(actor, "system");
            serde_json::from_str::<Value>(&details).unwrap()
        })
        .filter(|d| d["kind"] == kind)
        .collect()
}

async fn verify_from(app: &TestApp, key: &str, ip: &str) -> StatusCode {
    app.http
        .get(app.url("/v1/auth/verify"))
        .bearer_auth(key)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .status()
}

async fn key(app: &TestApp, name: &str) -> Value {
    app.create_key(
        &app.admin_key,
        json!({"name": name, "environment": "live", "scopes": ["read:checks"]}),
    )
    .await
}

async fn rotate(app: &TestApp, id: &str) -> Value {
    let answer = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
            json!({"grace_period_hours": 0}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

async fn defaults_exist_for_every_new_workspace_and_rules_are_validated_audited_and_isolated(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (other_ws, other_key) = app.new_workspace("other").await;
    for (ws, key) in [(&app.workspace_id, &app.admin_key), (&other_ws, &other_key)] {
        let list = app.get("/v1/anomaly-rules", key).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let got: Vec<(String, String, bool, Value, i64)> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(&r["workspace_id"], ws.as_str());
                (
                    r["name"].as_str().unwrap().to_owned(),
                    r["kind"].as_str().unwrap().to_owned(),
                    r["enabled"].as_bool().unwrap(),
                    r["threshold"].clone(),
                    r["window_minutes"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "default-rapid-rotation".into(),
                    "rapid_rotation".into(),
                    true,
                    json!(3),
                    60
                ),
                (
                    "default-cross-region-token-exchange".into(),
                    "cross_region_token_exchange".into(),
                    true,
                    Value::Null,
                    60
                ),
                (
                    "default-failed-auth-burst".into(),
                    "failed_auth_burst".into(),
                    true,
                    json!(20),
                    5
                ),
                (
                    "default-revoked-key-use".into(),
                    "revoked_key_use".into(),
                    true,
                    Value::Null,
                    60
                ),
                (
                    "default-new-network".into(),
                    "new_network".into(),
                    true,
                    Value::Null,
                    60
                ),
            ]
        );
    }

    // Refused, each naming its field, and nothing created.
    for (body, field, code) in [
        (
            json!({"name": "x", "kind": "port_scan"}),
            "kind",
            "unknown_kind",
        ),
        (
            json!({"name": "x", "kind": "revoked_key_use", "threshold": 2}),
            "threshold",
            "not_applicable",
        ),
        (
            json!({"name": "x", "kind": "failed_auth_burst", "min_key_age_hours": 2}),
            "min_key_age_hours",
            "not_applicable",
        ),
        (
            json!({"name": "x", "kind": "rapid_rotation", "threshold": 1}),
            "threshold",
            "out_of_range",
        ),
        (
            json!({"name": "x", "kind": "rapid_rotation", "window_minutes": 0}),
            "window_minutes",
            "out_of_range",
        ),
        (
            json!({"name": "x", "kind": "new_network", "window_minutes": 1441}),
            "window_minutes",
            "out_of_range",
        ),
        (
            json!({"name": " ", "kind": "new_network"}),
            "name",
            "invalid_name",
        ),
        (
            json!({"name": "default-new-network", "kind": "new_network"}),
            "name",
            "name_taken",
        ),
    ] {
        let answer = app
            .post("/v1/anomaly-rules", &app.admin_key, body.clone())
            .await;
        assert!(answer.status.is_client_error(), "{body}: {}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            "application/problem+json",
            "{body}"
        );
        assert_eq!(
            (answer.body["field"].as_str(), answer.code()),
            (Some(field), code),
            "{body}: {}",
            answer.body
        );
    }
    let wrong_type = app
        .post(
            "/v1/anomaly-rules",
            &app.admin_key,
            json!({"name": "x", "kind": "rapid_rotation", "threshold": "many"}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A second rule of a kind, stricter, created once for one Idempotency-Key.
    let body = json!({"name": "strict-rotation", "kind": "rapid_rotation", "threshold": 2, "window_minutes": 10});
    let mut ids = vec![];
    for _ in 0..2 {
        let answer = app
            .http
            .post(app.url("/v1/anomaly-rules"))
            .bearer_auth(&app.admin_key)
            .header("idempotency-key", "strict-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(
            (
                answer["threshold"].as_i64(),
                answer["window_minutes"].as_i64()
            ),
            (Some(2), Some(10))
        );
        assert_eq!(answer["min_key_age_hours"], Value::Null);
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    let id = &ids[0];
    assert!(id.starts_with("anr_"));

    // Changed in place (never its kind), disabled, deleted; each change audited.
    let path = format!("/v1/anomaly-rules/{id}");
    let changed = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin_key),
            Some(json!({"threshold": 4, "enabled": false})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        (
            changed.body["threshold"].as_i64(),
            changed.body["enabled"].as_bool()
        ),
        (Some(4), Some(false))
    );
    let kind_change = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin_key),
            Some(json!({"kind": "new_network"})),
        )
        .await;
    assert_eq!(kind_change.status, StatusCode::UNPROCESSABLE_ENTITY);
    let not_applicable = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin_key),
            Some(json!({"min_key_age_hours": 1})),
        )
        .await;
    assert_eq!(
        (not_applicable.status, not_applicable.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("min_key_age_hours"))
    );

    // Another workspace's credential sees none of it: 404, not 403, and nothing changes.
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"enabled": true}))),
        (Method::DELETE, None),
    ] {
        let answer = app
            .call(method.clone(), &path, Some(&other_key), body)
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method}");
    }
    assert_eq!(app.get(&path, &app.admin_key).await.body["enabled"], false);
    // A key without `admin:audit` is refused.
    let reader = key(&app, "reader").await;
    let refused = app
        .get("/v1/anomaly-rules", reader["key"].as_str().unwrap())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let deleted = app
        .call(Method::DELETE, &path, Some(&app.admin_key), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&path, &app.admin_key).await.status,
        StatusCode::NOT_FOUND
    );
    for event in [
        "anomaly_rule.created",
        "anomaly_rule.updated",
        "anomaly_rule.deleted",
    ] {
        assert_eq!(
            app.audit_count(&app.workspace_id, event).await,
            1,
            "{event}"
        );
    }
}

async fn rapid_rotation_fires_once_per_incident_and_never_for_a_quarterly_rotation(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    // A key rotated every 90 days, as the page advises, for most of a year: nothing.
    let mut quarterly = key(&app, "quarterly").await;
    for _ in 0..3 {
        app.clock.advance(DAY * 90);
        quarterly = rotate(&app, quarterly["id"].as_str().unwrap()).await;
        detect(&app).await;
    }
    assert!(alerts(&app, &app.workspace_id, "rapid_rotation")
        .await
        .is_empty());

    // Three rotations of one key's lineage within the hour: one alert, with the key ids.
    let first = key(&app, "hot").await;
    let mut current = first.clone();
    let mut secrets = vec![first["key"].as_str().unwrap().to_owned()];
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(600));
        current = rotate(&app, current["id"].as_str().unwrap()).await;
        secrets.push(current["key"].as_str().unwrap().to_owned());
    }
    // Two detectors at once (a replica whose lease expired mid-run): still one alert.
    app.flush_audit().await;
    let (a, b) = tokio::join!(
        statuspulse_server::anomaly::detect(&app.state),
        statuspulse_server::anomaly::detect(&app.state)
    );
    a.unwrap();
    b.unwrap();
    let raised = alerts(&app, &app.workspace_id, "rapid_rotation").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!(alert["rule_name"], "default-rapid-rotation");
    assert_eq!(alert["count"], 3);
    assert_eq!(alert["threshold"], 3);
    assert_eq!(alert["event_ids"].as_array().unwrap().len(), 3);
    assert!(alert["first_at"].as_str().unwrap() < alert["last_at"].as_str().unwrap());
    let text = alert.to_string();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "an alert holds no secret");
        assert!(!text.contains(&secret[24..]), "nor part of one");
    }

    // More rotations while the incident is open: no second alert.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(600));
        current = rotate(&app, current["id"].as_str().unwrap()).await;
    }
    detect(&app).await;
    assert_eq!(
        alerts(&app, &app.workspace_id, "rapid_rotation")
            .await
            .len(),
        1
    );
    // Quiet for the hour, then another burst: a new incident.
    app.clock.advance(HOUR * 2);
    for _ in 0..3 {
        current = rotate(&app, current["id"].as_str().unwrap()).await;
    }
    detect(&app).await;
    assert_eq!(
        alerts(&app, &app.workspace_id, "rapid_rotation")
            .await
            .len(),
        2
    );

    // One service account's keys count together: three keys, each rotated once.
    let sa = app
        .service_account_with(&app.admin_key, "ci", &["read:checks"], &[])
        .await;
    app.clock.advance(HOUR * 2);
    for n in 0..3 {
        let k = app
            .create_key(
                &app.admin_key,
                json!({"name": format!("ci-{n}"), "environment": "live", "scopes": ["read:checks"], "service_account_id": sa}),
            )
            .await;
        rotate(&app, k["id"].as_str().unwrap()).await;
    }
    detect(&app).await;
    let raised = alerts(&app, &app.workspace_id, "rapid_rotation").await;
    assert_eq!(raised.len(), 3);
    assert_eq!(raised[2]["service_account_id"], sa.as_str());
    assert_eq!(raised[2]["subject"], format!("service_account:{sa}"));
}

async fn failed_auth_burst_fires_for_a_guessed_key_and_not_for_a_few_typos(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(backend, behind_a_proxy()).await;
    // A pipeline with a stale secret tries three times: below the threshold.
    let typo = key(&app, "typo").await;
    let typo_key = typo["key"].as_str().unwrap();
    for n in 0..3 {
        verify_from(&app, &wrong_secret(typo_key, n), "198.51.100.7").await;
    }
    detect(&app).await;
    assert!(alerts(&app, &app.workspace_id, "failed_auth_burst")
        .await
        .is_empty());

    // Thirty guesses at one key from one network within a minute: one alert.
    let victim = key(&app, "victim").await;
    let victim_key = victim["key"].as_str().unwrap();
    for n in 0..30 {
        let status = verify_from(&app, &wrong_secret(victim_key, n), "203.0.113.9").await;
        assert!(status.is_client_error());
        if n == 10 {
            // Half-way through, a detector run sees only part of the burst.
            detect(&app).await;
        }
    }
    detect(&app).await;
    let raised = alerts(&app, &app.workspace_id, "failed_auth_burst").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!(alert["key_id"], victim["key_id"]);
    assert_eq!(alert["client_network"], "203.0.113.0/24");
    assert!(alert["count"].as_u64().unwrap() >= 20, "{alert}");
    assert!(!alert.to_string().contains(&victim_key[24..]));
    // The holder goes on working from its own network: nothing more.
    assert_eq!(
        verify_from(&app, victim_key, "192.0.2.10").await,
        StatusCode::OK
    );
    detect(&app).await;
    assert_eq!(
        alerts(&app, &app.workspace_id, "failed_auth_burst")
            .await
            .len(),
        1
    );
}

async fn a_revoked_key_presented_again_fires_at_the_first_presentation(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(backend, behind_a_proxy()).await;
    let fine = key(&app, "fine").await;
    let leaked = key(&app, "leaked").await;
    let leaked_key = leaked["key"].as_str().unwrap();
    for _ in 0..5 {
        verify_from(&app, fine["key"].as_str().unwrap(), "192.0.2.10").await;
        verify_from(&app, leaked_key, "192.0.2.10").await;
    }
    detect(&app).await;
    assert!(alerts(&app, &app.workspace_id, "revoked_key_use")
        .await
        .is_empty());

    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": leaked["id"], "reason": "found in a public repository"}),
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(
        verify_from(&app, leaked_key, "198.51.100.66").await,
        StatusCode::UNAUTHORIZED
    );
    detect(&app).await;
    let raised = alerts(&app, &app.workspace_id, "revoked_key_use").await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0]["key_id"], leaked["key_id"]);
    assert_eq!(raised[0]["api_key_id"], leaked["id"]);
    assert_eq!(raised[0]["client_network"], "198.51.100.0/24");
    assert!(!raised[0].to_string().contains(&leaked_key[24..]));
    // The same attacker keeps trying: the incident is open, no new alert.
    for _ in 0..3 {
        verify_from(&app, leaked_key, "198.51.100.66").await;
        app.clock.advance(Duration::from_secs(60));
    }
    detect(&app).await;
    assert_eq!(
        alerts(&app, &app.workspace_id, "revoked_key_use")
            .await
            .len(),
        1
    );
}

async fn new_network_fires_for_an_established_key_and_a_pipeline_on_one_network_stays_silent(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn_with(backend, behind_a_proxy()).await;
    let pipeline = key(&app, "pipeline").await;
    let pipeline_key = pipeline["key"].as_str().unwrap();
    let moved = key(&app, "moved").await;
    let moved_key = moved["key"].as_str().unwrap();
    // A week of a pipeline using its key from one network (hosts change within the /24).
    for day in 0..7u8 {
        for host in [10, 11] {
            assert_eq!(
                verify_from(&app, pipeline_key, &format!("192.0.2.{}", host + day)).await,
                StatusCode::OK
            );
        }
        verify_from(&app, moved_key, "192.0.2.50").await;
        detect(&app).await;
        app.clock.advance(DAY);
    }
    // A brand-new key rolled out to two sites on its first day: expected, silent.
    let fresh = key(&app, "fresh").await;
    verify_from(&app, fresh["key"].as_str().unwrap(), "192.0.2.10").await;
    verify_from(&app, fresh["key"].as_str().unwrap(), "198.18.0.1").await;
    detect(&app).await;
    assert!(alerts(&app, &app.workspace_id, "new_network")
        .await
        .is_empty());

    // The week-old key turns up on another network: one alert, however often it is used there.
    for _ in 0..3 {
        assert_eq!(
            verify_from(&app, moved_key, "203.0.113.77").await,
            StatusCode::OK
        );
    }
    detect(&app).await;
    assert_eq!(
        verify_from(&app, moved_key, "203.0.113.78").await,
        StatusCode::OK
    );
    detect(&app).await;
    let raised = alerts(&app, &app.workspace_id, "new_network").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["key_id"], moved["key_id"]);
    assert_eq!(raised[0]["networks"], json!(["203.0.113.0/24"]));
    assert_eq!(raised[0]["known_networks"], 1);
    assert!(!raised[0].to_string().contains(&moved_key[24..]));
    // The admin key's network (the test's own calls) aside.
    let networks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM api_key_networks WHERE network <> '127.0.0.0/24'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(networks, 5, "one row per key and network, not per use");
}

async fn tokens_refreshed_from_two_regions_within_an_hour_raise_one_alert(backend: Backend) {
    let s = crate::access_policies::setup(backend).await;
    let app = &s.app;
    let scope = "openid";
    // A person refreshing from the office all day, and once from a network in no region.
    let steady = tokens_as(&s, &["pwd"], "10.2.3.4", scope).await;
    let mut refresh = steady["refresh_token"].as_str().unwrap().to_owned();
    for ip in ["10.2.3.4", "10.9.9.9", "198.51.100.7", "10.2.3.4"] {
        app.clock.advance(Duration::from_secs(600));
        let (status, answer) = refresh_from(&s, &refresh, ip, None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
    }
    detect(app).await;
    assert!(
        alerts(app, &app.workspace_id, "cross_region_token_exchange")
            .await
            .is_empty()
    );

    // A stolen refresh token used from another region ten minutes later: one alert.
    let (status, answer) = refresh_from(&s, &refresh, "203.0.113.7", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stolen = answer["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = refresh_from(&s, &stolen, "203.0.113.8", Some("ap-south-1")).await;
    assert_eq!(status, StatusCode::OK);
    detect(app).await;
    let raised = alerts(app, &app.workspace_id, "cross_region_token_exchange").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!(alert["regions"], json!(["eu-west-1", "us-east-1"]));
    assert!(alert["session_id"].as_str().unwrap().starts_with("ses_"));
    assert!(alert["family_id"].is_string());
    let text = alert.to_string();
    assert!(!text.contains(&refresh) && !text.contains(&stolen));
}
