//! A real browser: headless Chromium (Debian `chromium`, installed by
//! `scripts/install-test-tools.sh`) signs a person in from `GET /v1/sso/login` through the test
//! IdP and back, with its own cookie jar, redirect handling and SameSite rules, then shows
//! `GET /v1/me`; and shows the page that says why a sign-in without MFA is refused.
//! `--dump-dom` loads the URL, follows every redirect and prints the final document.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::idp::Shape;
use crate::sign_in::{connection, generic, idp_for, spawn};

/// Runs headless Chromium on `url` with a fresh profile; returns the final page's DOM.
async fn chromium(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(90), run).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            panic!("cannot run chromium (scripts/install-test-tools.sh installs Debian's): {e}")
        }
        Err(_) => panic!("chromium did not finish within 90 s on {url}"),
    };
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn sessions_signed_in_by_chrome(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_agent LIKE '%HeadlessChrome%'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_signs_in_with_a_real_browser_and_sees_why_when_refused() {
    let (app, _db) = spawn(Backend::Sqlite).await;
    let idp = idp_for(&app, Shape::Generic).await;
    let open = connection(&app, &app.admin_key, "corp", generic(&idp), json!({})).await;
    idp.set_next_login(
        json!({"sub": "erin", "email": "erin@example.com", "email_verified": true,
        "name": "Erin Example"}),
    )
    .await;
    let dom =
        chromium(&app.url(&format!("/v1/sso/login?connection={open}&return_to=/v1/me"))).await;
    assert!(dom.contains("\"subject\":\"erin\""), "{dom}");
    assert!(dom.contains("\"name\":\"Erin Example\""), "{dom}");
    assert!(dom.contains("\"current\":true"), "{dom}");
    assert_eq!(sessions_signed_in_by_chrome(&app).await, 1);

    let strict = connection(
        &app,
        &app.admin_key,
        "strict",
        generic(&idp),
        json!({"require_mfa": true}),
    )
    .await;
    idp.set_next_login(json!({"sub": "frank", "amr": ["pwd"]}))
        .await;
    let dom = chromium(&app.url(&format!("/v1/sso/login?connection={strict}"))).await;
    assert!(dom.contains("You cannot sign in here"), "{dom}");
    assert!(
        dom.contains("requires multi-factor authentication"),
        "{dom}"
    );
    assert!(dom.contains("mfa_required"), "{dom}");
    assert_eq!(sessions_signed_in_by_chrome(&app).await, 1);
}
