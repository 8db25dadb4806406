//! A short run of the fuzz targets (`server/fuzz/`) on stable, so every test run attacks the input
//! edges: random bytes, and JSON shaped like the API's bodies with hostile values (NUL and control
//! characters, bidi overrides, 1 MB strings, huge and negative numbers, 10,000-element arrays,
//! unknown fields, wrong types). `scripts/fuzz.sh` runs the coverage-guided targets for minutes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/harness.rs"]
mod harness;

use proptest::prelude::*;
use serde_json::{Map, Value};

const FIELDS: &[&str] = &[
    "name",
    "description",
    "environment",
    "scopes",
    "service_account_id",
    "group",
    "check_group_ids",
    "alert_route_ids",
    "environment_clusters",
    "rotation_days",
    "expires_in_days",
    "grace_period_hours",
    "id",
    "reason",
    "rate_limit_tier",
    "allow_admin_all_for_service_accounts",
    "unknown_field",
];

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("live".to_owned()),
        Just("read:checks".to_owned()),
        Just("eu-prod-1".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("fx-sa\u{200b}".to_owned()),
        Just("\u{202e}evil".to_owned()),
        Just("x".repeat(1_100_000)),
        Just("é".repeat(300)),
        "[ -~]{0,40}",
        any::<String>(),
    ]
}

fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(366), Just(i64::MAX)].prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_string().prop_map(Value::String),
        Just(Value::Array(vec![Value::from("read:checks"); 10_000])),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..6).prop_map(
                |fields| Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>()
                )
            ),
        ]
    })
}

/// A body shaped like the API's: an object of its field names, with hostile values.
fn api_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((proptest::sample::select(FIELDS), hostile_value()), 0..8).prop_map(
        |fields| {
            let object: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            serde_json::to_vec(&object).expect("serialises")
        },
    )
}

fn query() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("limit"),
                Just("cursor"),
                Just("status"),
                Just("scope"),
                Just("cluster"),
                Just("service_account_id"),
                Just("event_type"),
                Just("api_key_id"),
                Just("name")
            ],
            prop_oneof![
                Just("abc".to_owned()),
                Just("%00".to_owned()),
                Just("-1".to_owned()),
                Just("99999999999999999999".to_owned()),
                Just("%E2%80%AE".to_owned()),
                "[a-z0-9%]{0,12}",
            ],
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    })
}

/// Runs `check` on `cases` inputs from `strategy`, shrinking a failure to its smallest input.
fn run<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest::test_runner::TestRunner::new(config)
        .run(&strategy, |input| {
            check(input);
            Ok(())
        })
        .unwrap();
}

/// Every target on one database.
fn smoke(target: &harness::Target) {
    run(
        400,
        (any::<u8>(), api_body(), query()),
        |(route, body, query)| {
            let mut input = vec![route];
            // Query routes take the query; write routes the body.
            input.extend(if harness::takes_query(route) {
                query
            } else {
                body
            });
            harness::api_request(target, &input);
        },
    );
    run(
        200,
        proptest::collection::vec(any::<u8>(), 0..256),
        |data| {
            harness::api_request(target, &data);
        },
    );
    run(
        200,
        proptest::collection::vec(any::<u8>(), 0..128),
        |data| {
            harness::authorization_header(target, &data);
        },
    );
}

#[test]
fn every_input_edge_survives_a_smoke_run_on_sqlite() {
    smoke(&harness::Target::on_sqlite());
}

#[test]
fn every_input_edge_survives_a_smoke_run_on_postgres() {
    let admin = std::env::var("STATUSPULSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let name = format!("sp_fuzz_{}", uuid::Uuid::new_v4().simple());
    let admin_sql = |sql: String| {
        let admin = admin.clone();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&format!("{admin}/postgres"))
                    .await
                    .expect("PostgreSQL must run on 127.0.0.1:5432 (see README)");
                sqlx::query(&sql).execute(&mut conn).await.unwrap();
            });
    };
    admin_sql(format!("CREATE DATABASE {name}"));
    let outcome =
        std::panic::catch_unwind(|| smoke(&harness::Target::start(&format!("{admin}/{name}"))));
    admin_sql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn the_key_parser_accepts_exactly_well_formed_keys() {
    run(
        2000,
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..100),
            "sp_(live|test)_[A-Za-z0-9_-]{64}".prop_map(String::into_bytes),
        ],
        |data| harness::key_parse(&data),
    );
}
