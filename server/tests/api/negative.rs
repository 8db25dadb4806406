//! The negative-test matrix (issue 8): every write route × every kind of hostile value in every
//! field answers a 4xx problem+json and changes nothing; list filters likewise answer 4xx
//! problem+json for hostile values. Table-driven: routes and their fields are declared once,
//! hostile values are generated from the field's kind.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use statuspulse_server::platform::config::RateLimitTiers;

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;

/// What a field holds when the request is valid.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Number,
    Flag,
    TextList,
}

/// A write route, a valid body for it, and its fields: (name, kind, required).
struct WriteRoute {
    method: Method,
    path: String,
    valid: Value,
    fields: Vec<(&'static str, Kind, bool)>,
}

/// Hostile values for a field of `kind` whose valid value is `valid`, each with a label.
fn hostile_values(kind: Kind, valid: &Value, required: bool) -> Vec<(String, Value)> {
    let megabyte = "x".repeat(1_000_000);
    let mut values: Vec<(&str, Value)> = vec![
        ("object", json!({"a": 1})),
        (
            "10,000-element array",
            Value::Array(vec![valid.clone(); 10_000]),
        ),
        ("nested array", json!([[valid.clone()]])),
    ];
    if required {
        values.push(("null", Value::Null));
    }
    match kind {
        Kind::Text => values.extend([
            ("number", json!(42)),
            ("flag", json!(true)),
            ("1 MB string", json!(megabyte)),
            ("NUL", json!("a\u{0}b")),
            ("escape sequence", json!("\u{1b}[2J")),
            ("C1 control", json!("a\u{85}")),
        ]),
        Kind::Number => values.extend([
            ("text", json!("10")),
            ("negative", json!(-1)),
            ("huge", json!(u64::MAX)),
            ("most negative", json!(i64::MIN)),
            ("fraction", json!(1.5)),
            ("1e300", json!(1e300)),
            ("1 MB string", json!(megabyte)),
        ]),
        Kind::Flag => values.extend([
            ("text", json!("yes")),
            ("number", json!(1)),
            ("NUL", json!("\u{0}")),
        ]),
        Kind::TextList => {
            let element = valid.get(0).cloned().unwrap_or(json!("read:checks"));
            values.extend([
                ("text", json!("read:checks")),
                ("numbers", json!([1, 2])),
                ("null element", json!([null])),
                ("1 MB element", json!([megabyte])),
                ("NUL element", json!(["a\u{0}"])),
                ("control element", json!(["\u{7}"])),
                ("10,000 valid elements", Value::Array(vec![element; 10_000])),
            ]);
        }
    }
    values
        .into_iter()
        .map(|(label, v)| (label.to_owned(), v))
        .collect()
}

/// Every request of the matrix for one route: each field × each hostile value, and one unknown
/// field.
fn hostile_bodies(route: &WriteRoute) -> Vec<(String, Value)> {
    let base = route.valid.as_object().cloned().unwrap_or_default();
    let mut bodies = Vec::new();
    for &(field, kind, required) in &route.fields {
        let valid = base.get(field).cloned().unwrap_or(Value::Null);
        for (label, value) in hostile_values(kind, &valid, required) {
            let mut body = base.clone();
            body.insert(field.to_owned(), value);
            bodies.push((format!("{field}: {label}"), Value::Object(body)));
        }
    }
    let mut unknown = base.clone();
    unknown.insert("unexpected_field".into(), json!("x"));
    bodies.push(("unknown field".into(), Value::Object(unknown)));
    bodies.push(("not an object".into(), json!([base])));
    bodies.push(("a bare string".into(), json!("x")));
    bodies
}

/// Everything that could change: every stored row of every table, and the audit trail's size.
async fn snapshot(app: &TestApp) -> (std::collections::BTreeMap<String, Vec<String>>, i64) {
    (app.database_snapshot().await, app.audit_total().await)
}

fn assert_refused(answer: &crate::helpers::Answer, what: &str) {
    assert!(
        answer.status.is_client_error(),
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    assert_ne!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: the matrix must not hit the rate limit"
    );
    assert_eq!(
        answer.header("content-type"),
        "application/problem+json",
        "{what}"
    );
    assert!(!answer.code().is_empty(), "{what}: {}", answer.body);
}

fn rate_limits_out_of_the_way(settings: &mut statuspulse_server::Settings) {
    settings.rate_limit_tiers = RateLimitTiers::parse("standard=1000000").unwrap();
}

on_both_backends!(
    every_write_route_refuses_every_hostile_value_and_changes_nothing,
    every_list_filter_refuses_hostile_values_with_problem_json
);

async fn every_write_route_refuses_every_hostile_value_and_changes_nothing(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: rate_limits_out_of_the_way,
            ..Options::default()
        },
    )
    .await;
    let key = app.admin_key.clone();
    let (workspace_id, _) = app.new_workspace("tenant").await;
    let cluster = app
        .post(
            "/v1/environment-clusters",
            &key,
            json!({"name": "eu-prod-1", "environment": "live"}),
        )
        .await
        .body;
    let cluster_id = cluster["id"].as_str().unwrap().to_owned();
    let sa_id = app
        .service_account_with(&key, "runner", &["read:checks"], &["eu-prod-1"])
        .await;
    let bindings = app
        .get(
            &format!("/v1/role-bindings?service_account_id={sa_id}"),
            &key,
        )
        .await
        .body;
    let binding_id = bindings["items"][0]["id"].as_str().unwrap().to_owned();
    let created = app
        .create_key(
            &key,
            json!({"name": "k", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let api_key_id = created["id"].as_str().unwrap().to_owned();

    let routes = vec![
        WriteRoute {
            method: Method::POST,
            path: "/v1/workspaces".into(),
            valid: json!({"name": "w2", "rate_limit_tier": "standard"}),
            fields: vec![
                ("name", Kind::Text, true),
                ("rate_limit_tier", Kind::Text, false),
            ],
        },
        WriteRoute {
            method: Method::PATCH,
            path: format!("/v1/workspaces/{workspace_id}"),
            valid: json!({"name": "w3", "rate_limit_tier": "standard", "allow_admin_all_for_service_accounts": false}),
            fields: vec![
                ("name", Kind::Text, false),
                ("rate_limit_tier", Kind::Text, false),
                ("allow_admin_all_for_service_accounts", Kind::Flag, false),
            ],
        },
        WriteRoute {
            method: Method::POST,
            path: "/v1/environment-clusters".into(),
            valid: json!({"name": "us-prod-1", "environment": "live", "description": "d"}),
            fields: vec![
                ("name", Kind::Text, true),
                ("environment", Kind::Text, true),
                ("description", Kind::Text, false),
            ],
        },
        WriteRoute {
            method: Method::PATCH,
            path: format!("/v1/environment-clusters/{cluster_id}"),
            valid: json!({"description": "d"}),
            fields: vec![("description", Kind::Text, true)],
        },
        WriteRoute {
            method: Method::POST,
            path: "/v1/service-accounts".into(),
            valid: json!({"name": "sa2", "description": "d"}),
            fields: vec![
                ("name", Kind::Text, true),
                ("description", Kind::Text, false),
            ],
        },
        WriteRoute {
            method: Method::PATCH,
            path: format!("/v1/service-accounts/{sa_id}"),
            valid: json!({"name": "sa3", "description": "d"}),
            fields: vec![
                ("name", Kind::Text, false),
                ("description", Kind::Text, false),
            ],
        },
        WriteRoute {
            method: Method::POST,
            path: "/v1/api-keys".into(),
            valid: json!({"name": "k2", "environment": "live", "service_account_id": sa_id, "scopes": ["read:checks"],
                "check_group_ids": ["cg-1"], "alert_route_ids": ["ar-1"], "environment_clusters": ["eu-prod-1"],
                "rotation_days": 30, "expires_in_days": 60}),
            fields: vec![
                ("name", Kind::Text, true),
                ("environment", Kind::Text, true),
                ("service_account_id", Kind::Text, false),
                ("scopes", Kind::TextList, true),
                ("check_group_ids", Kind::TextList, false),
                ("alert_route_ids", Kind::TextList, false),
                ("environment_clusters", Kind::TextList, false),
                ("rotation_days", Kind::Number, false),
                ("expires_in_days", Kind::Number, false),
            ],
        },
        WriteRoute {
            method: Method::PATCH,
            path: format!("/v1/api-keys/{api_key_id}"),
            valid: json!({"name": "k3", "scopes": ["read:checks"], "check_group_ids": ["cg-1"], "alert_route_ids": ["ar-1"], "environment_clusters": ["eu-prod-1"]}),
            fields: vec![
                ("name", Kind::Text, false),
                ("scopes", Kind::TextList, false),
                ("check_group_ids", Kind::TextList, false),
                ("alert_route_ids", Kind::TextList, false),
                ("environment_clusters", Kind::TextList, false),
            ],
        },
        WriteRoute {
            method: Method::POST,
            path: format!("/v1/api-keys/{api_key_id}/rotate"),
            valid: json!({"grace_period_hours": 1}),
            fields: vec![("grace_period_hours", Kind::Number, false)],
        },
        WriteRoute {
            method: Method::POST,
            path: "/v1/api-keys/revoke".into(),
            valid: json!({"id": api_key_id, "reason": "r"}),
            fields: vec![("id", Kind::Text, true), ("reason", Kind::Text, false)],
        },
        WriteRoute {
            method: Method::POST,
            path: "/v1/role-bindings".into(),
            valid: json!({"service_account_id": sa_id, "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]}),
            fields: vec![
                ("service_account_id", Kind::Text, false),
                ("scopes", Kind::TextList, true),
                ("environment_clusters", Kind::TextList, false),
            ],
        },
        WriteRoute {
            method: Method::PATCH,
            path: format!("/v1/role-bindings/{binding_id}"),
            valid: json!({"scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]}),
            fields: vec![
                ("scopes", Kind::TextList, false),
                ("environment_clusters", Kind::TextList, false),
            ],
        },
    ];

    for route in &routes {
        let before = snapshot(&app).await;
        for (what, body) in hostile_bodies(route) {
            let answer = app
                .call(route.method.clone(), &route.path, Some(&key), Some(body))
                .await;
            assert_refused(
                &answer,
                &format!("{} {} with {what}", route.method, route.path),
            );
        }
        assert_eq!(
            snapshot(&app).await,
            before,
            "{} {} changed something",
            route.method,
            route.path
        );
    }

    // Object ids in paths: every route that takes one, every hostile id.
    let id_routes = [
        (Method::PATCH, "/v1/workspaces/{}"),
        (Method::DELETE, "/v1/workspaces/{}"),
        (Method::PATCH, "/v1/environment-clusters/{}"),
        (Method::DELETE, "/v1/environment-clusters/{}"),
        (Method::PATCH, "/v1/service-accounts/{}"),
        (Method::DELETE, "/v1/service-accounts/{}"),
        (Method::PATCH, "/v1/api-keys/{}"),
        (Method::POST, "/v1/api-keys/{}/rotate"),
        (Method::PATCH, "/v1/role-bindings/{}"),
        (Method::DELETE, "/v1/role-bindings/{}"),
    ];
    let long_id = "k".repeat(10_000);
    let hostile_ids = [
        "%00",
        "key_%00",
        "%1b%5b2J",
        "-1",
        "99999999999999999999",
        long_id.as_str(),
        "%E2%80%AE",
        "%FF",
        "..%2F..%2Fetc",
    ];
    let before = snapshot(&app).await;
    for (method, template) in id_routes {
        for id in hostile_ids {
            let path = template.replace("{}", id);
            let body = (method != Method::DELETE).then(|| json!({}));
            let answer = app.call(method.clone(), &path, Some(&key), body).await;
            assert_refused(
                &answer,
                &format!("{method} {}", &path[..path.len().min(80)]),
            );
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "hostile path ids changed something"
    );
}

async fn every_list_filter_refuses_hostile_values_with_problem_json(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: rate_limits_out_of_the_way,
            ..Options::default()
        },
    )
    .await;
    let lists: [(&str, &[&str]); 7] = [
        ("/v1/workspaces", &[]),
        ("/v1/service-accounts", &[]),
        ("/v1/api-keys", &["status", "service_account_id"]),
        ("/v1/environment-clusters", &["name"]),
        ("/v1/role-bindings", &["service_account_id", "group"]),
        (
            "/v1/audit-events",
            &["event_type", "outcome", "target_id", "since", "until"],
        ),
        (
            "/v1/effective-access",
            &["api_key_id", "service_account_id"],
        ),
    ];
    let before = snapshot(&app).await;
    for (list, filters) in lists {
        let mut queries: Vec<String> = [
            "abc",
            "-1",
            "0",
            "1.5",
            "99999999999999999999",
            "%00",
            "1%00",
        ]
        .iter()
        .filter(|_| list != "/v1/effective-access")
        .map(|v| format!("limit={v}"))
        .collect();
        queries.push("limit=1&limit=2".into());
        queries.push("cursor=%00".into());
        for filter in filters {
            for value in ["%00", "a%00b", "%1b%5b2J", "%C2%85", "%7F"] {
                queries.push(format!("{filter}={value}"));
            }
            queries.push(format!("{filter}=a&{filter}=b"));
        }
        for query in queries {
            let uri = format!("{list}?{query}");
            let answer = app.get(&uri, &app.admin_key).await;
            assert_refused(&answer, &uri);
        }
    }
    assert_eq!(snapshot(&app).await, before);
}
