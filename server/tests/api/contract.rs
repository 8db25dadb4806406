//! The OpenAPI document is the contract (issue 16), proven by tools we did not write:
//! - Schemathesis generates requests from the document (every operation, every check, the
//!   stateful phase following the document's links) against a real server on each database, and
//!   finds nothing: no 5xx, no undocumented status or content type, no response off its schema,
//!   nothing the document allows refused (but the state-dependent refusals `hooks.py` names,
//!   by code), nothing it forbids accepted.
//! - `openapi-spec-validator` accepts the document as OpenAPI 3.1.
//! - `openapi-python-client` generates a typed client from it that `mypy --strict` accepts and
//!   that drives the server through a smoke test.
//!
//! The tools come from `scripts/install-test-tools.sh` (`.tools/contract-venv`, pinned); the
//! files they read are in `server/tests/contract/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::header;
use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp};
use crate::idp::tools_dir;
use crate::on_both_backends;
use statuspulse_server::platform::config::RateLimitTiers;

on_both_backends!(schemathesis_finds_no_contract_failure);

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract")
}

fn venv_bin() -> PathBuf {
    let bin = tools_dir().join("contract-venv/bin");
    assert!(
        bin.join("st").exists(),
        "{} has no Schemathesis: run scripts/install-test-tools.sh",
        bin.display()
    );
    bin
}

/// A server whose budgets a fuzzer cannot exhaust, and which may deliver audit sinks to
/// loopback (the sinks Schemathesis creates point anywhere).
async fn contract_server(backend: Backend) -> (TestApp, crate::helpers::TestDb) {
    TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| {
                s.rate_limit_tiers =
                    RateLimitTiers::parse("standard=1000000,enterprise=1000000").unwrap();
                crate::helpers::with_master_key(s);
            },
            ..Options::default()
        },
    )
    .await
}

/// Runs a command to its end (bounded), returning its exit status and output.
async fn run(mut command: tokio::process::Command, limit: Duration) -> (bool, String) {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("the tool starts");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the tool ran past {limit:?}"))
        .expect("the tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn schemathesis_finds_no_contract_failure(backend: Backend) {
    let bin = venv_bin();
    let (app, _db) = contract_server(backend).await;
    // A browser session for the operations that take one (`GET /v1/me`, sessions).
    let opened = app
        .http
        .post(app.url("/v1/sessions"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 201);
    let cookie = opened
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("a session cookie");
    let session: Value = opened.json().await.unwrap();
    let verified = app.get("/v1/auth/verify", &app.admin_key).await.body;
    // What the run must not revoke, rotate or narrow: its own key and session.
    let protected = [
        verified["principal"]["id"].as_str().unwrap(),
        verified["key_id"].as_str().unwrap(),
        session["id"].as_str().unwrap(),
    ]
    .join(",");

    let mut st = tokio::process::Command::new(bin.join("st"));
    st.arg("--config-file")
        .arg(contract_dir().join("schemathesis.toml"))
        .args(["run", &app.url("/openapi.json")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .arg("--no-color")
        .current_dir(std::env::temp_dir())
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", contract_dir())
        .env("STATUSPULSE_ADMIN_KEY", &app.admin_key)
        .env("STATUSPULSE_SESSION_COOKIE", cookie)
        .env(
            "STATUSPULSE_CSRF_TOKEN",
            session["csrf_token"].as_str().unwrap(),
        )
        .env("STATUSPULSE_PROTECTED_IDS", protected);
    let (passed, output) = run(st, Duration::from_secs(600)).await;
    let summary: String = output
        .lines()
        .filter(|l| l.contains("generated,") || l.contains("Selected:") || l.contains(" in "))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("schemathesis on {backend:?}:\n{summary}");
    assert!(passed, "Schemathesis found contract failures:\n{output}");
    assert!(
        output.contains("Selected: ") && output.contains("generated,"),
        "{output}"
    );
    // The run's own credential survived it: it tested the API, not a wall of 401s.
    assert_eq!(app.verify(&app.admin_key).await, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_a_generated_client_drives_the_server() {
    let bin = venv_bin();
    let (app, _db) = contract_server(Backend::Sqlite).await;
    let work = tempfile::tempdir().unwrap();
    let document = work.path().join("openapi.json");
    let body = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&document, &body).unwrap();

    let mut validate = tokio::process::Command::new(bin.join("python"));
    validate
        .arg(contract_dir().join("validate_openapi.py"))
        .arg(&document);
    let (valid, output) = run(validate, Duration::from_secs(120)).await;
    assert!(valid, "not valid OpenAPI 3.1:\n{output}");

    let client = work.path().join("client");
    let mut generate = tokio::process::Command::new("bash");
    generate
        .arg(contract_dir().join("generate_client.sh"))
        .arg(&document)
        .arg(&client)
        .arg(&bin);
    let (generated, output) = run(generate, Duration::from_secs(300)).await;
    assert!(
        generated,
        "the client did not generate or type-check:\n{output}"
    );

    let mut smoke = tokio::process::Command::new(bin.join("python"));
    smoke
        .arg(contract_dir().join("client_smoke.py"))
        .arg(format!("http://{}", app.addr))
        .arg(&app.admin_key)
        .arg(&client);
    let (passed, output) = run(smoke, Duration::from_secs(120)).await;
    assert!(
        passed,
        "the generated client's smoke test failed:\n{output}"
    );
    assert!(output.contains("client smoke OK"), "{output}");
    app.stop().await;
}
