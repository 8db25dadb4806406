//! The web console (`/console/`, issue 14): its pages in a real headless Chromium driven over
//! WebDriver (`webdriver.rs`), and the attacks on it over plain HTTP.
//!
//! Screenshots of the pages at 1280 and 390 px are taken by the SQLite run (into `docs/console/`
//! with `STATUSPULSE_SCREENSHOTS=1`);
//! axe-core checks each page for serious or critical accessibility violations.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::verify::wrong_secret;
use crate::webdriver::{Browser, Driver};

on_both_backends!(
    the_operator_signs_in_with_the_admin_key_and_generates_rotates_and_revokes_a_key,
    a_person_signs_in_through_sso_by_email_and_signs_out_everywhere,
    a_session_revoked_elsewhere_is_signed_out_in_every_tab_within_30_seconds,
    console_pages_carry_a_strict_policy_and_cacheable_hashed_assets,
    a_key_session_acts_as_its_key_and_ends_when_the_key_is_revoked,
    only_an_admin_key_opens_a_console_session_and_guessing_is_budgeted,
    a_cookie_write_without_the_csrf_token_or_from_another_origin_is_refused,
    another_workspaces_session_cannot_see_this_workspaces_keys,
    sign_in_never_redirects_outside_the_console_and_never_keeps_a_planted_cookie,
);

const KEYS_PAGE: &str = "/console/settings/integrations/api-keys";

/// Where screenshots go: `docs/console/` when `STATUSPULSE_SCREENSHOTS=1` (to refresh the
/// committed ones), else a scratch folder, so an ordinary test run leaves the tree clean.
fn shots() -> PathBuf {
    if std::env::var_os("STATUSPULSE_SCREENSHOTS").is_some_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
    } else {
        std::env::temp_dir().join("statuspulse-console-screenshots")
    }
}

/// Signs in on the console's sign-in page with `key`, as a person would; lands on the keys page.
async fn sign_in_with_key(browser: &Browser, app: &TestApp, key: &str) {
    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#key-input", key).await;
    browser.click("#key-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "return location.pathname === '{KEYS_PAGE}' && document.body.dataset.ready === 'true'"
            ),
            Duration::from_secs(20),
        )
        .await;
}

/// Console errors (SEVERE entries) the page logged, apart from those `expected` names.
async fn console_errors(browser: &Browser, expected: &[&str]) -> Vec<String> {
    browser
        .console_log()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .filter(|m| !expected.iter().any(|x| m.contains(x)))
        .collect()
}

/// Waits until the keys table has a row for `key_id` whose status cell starts with `status`.
async fn wait_for_row(browser: &Browser, key_id: &str, status: &str) {
    browser
        .wait_for(
            &format!(
                "const r = document.querySelector('tr[data-key-id=\"{key_id}\"] td.status'); \
                 return !!r && r.textContent.startsWith('{status}')"
            ),
            Duration::from_secs(10),
        )
        .await;
}

async fn the_operator_signs_in_with_the_admin_key_and_generates_rotates_and_revokes_a_key(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    let shoot = backend == Backend::Sqlite;

    browser.goto(&app.url("/console/")).await;
    browser
        .wait_for(
            "return location.pathname === '/console/sign-in'",
            Duration::from_secs(10),
        )
        .await;
    if shoot {
        browser.screenshot(&shots().join("sign-in-1280.png")).await;
        browser.resize(390, 844).await;
        browser.screenshot(&shots().join("sign-in-390.png")).await;
        browser.resize(1280, 900).await;
    }

    assert_accessible(&browser, "sign-in").await;
    // The check sees what it should: an unlabelled field is a critical violation.
    browser
        .run(
            "const i = document.createElement('input'); i.id = 'planted'; \
             document.querySelector('main').appendChild(i);",
            json!([]),
        )
        .await;
    let planted = browser.accessibility_violations().await;
    assert!(
        planted
            .iter()
            .any(|v| v.contains("label") && v.contains("#planted")),
        "{planted:?}"
    );
    browser
        .run("document.getElementById('planted').remove()", json!([]))
        .await;

    // A wrong key is refused next to the field, in words.
    let last = if app.admin_key.ends_with('A') {
        "B"
    } else {
        "A"
    };
    let wrong = format!("{}{last}", &app.admin_key[..app.admin_key.len() - 1]);
    browser.type_into("#key-input", &wrong).await;
    browser.click("#key-form button[type=submit]").await;
    browser
        .wait_for(
            "return !document.getElementById('key-input-error').hidden",
            Duration::from_secs(10),
        )
        .await;
    let refusal = browser.text("#key-input-error").await;
    assert!(refusal.contains("malformed_credential"), "{refusal}");
    assert_eq!(
        browser
            .run(
                "return document.getElementById('key-input').value",
                json!([])
            )
            .await,
        json!(""),
        "the key field is cleared as soon as it is sent"
    );
    let errors = console_errors(&browser, &["401"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    sign_in_with_key(&browser, &app, &app.admin_key).await;
    // The session cookie is HttpOnly: the page's script cannot read it.
    assert_eq!(
        browser.run("return document.cookie", json!([])).await,
        json!("")
    );
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "statuspulse_session")
        .expect("session cookie");
    assert_eq!(session["httpOnly"], json!(true));
    assert_eq!(session["sameSite"], json!("Lax"));
    assert!(
        session["value"].as_str().unwrap().starts_with("spk_"),
        "a key session's cookie, never the key"
    );
    assert!(!cookies
        .iter()
        .any(|c| c.to_string().contains(&app.admin_key)));

    // Generate New Key, with a name that would be markup if the page ever rendered it as such.
    let hostile = "<img src=x onerror=\"document.body.dataset.pwned=1\">ci-runner";
    browser
        .wait_for(
            "return !!document.querySelector('#gen-scopes input[value=\"read:checks\"]')",
            Duration::from_secs(10),
        )
        .await;
    browser.type_into("#gen-name", hostile).await;
    browser
        .click("#gen-scopes input[value=\"read:checks\"]")
        .await;
    browser
        .click("#gen-scopes input[value=\"write:alerts\"]")
        .await;
    browser.click("#generate-form button[type=submit]").await;
    browser
        .wait_for(
            "return !document.getElementById('new-key').hidden",
            Duration::from_secs(10),
        )
        .await;
    let key = browser
        .run(
            "return document.getElementById('new-key-value').value",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("sp_live_") && key.len() == 72, "{key}");
    assert!(browser
        .text("#new-key")
        .await
        .contains("you will not see this again"));
    // The new key works against the verification endpoint.
    let verified = app.get("/v1/auth/verify", &key).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(
        verified.body["scopes"],
        json!(["read:checks", "write:alerts"])
    );
    let key_id = verified.body["key_id"].as_str().unwrap().to_owned();
    wait_for_row(&browser, &key_id, "active").await;
    if shoot {
        browser.screenshot(&shots().join("new-key-1280.png")).await;
    }
    assert_accessible(&browser, "API keys with a new key shown").await;
    // Shown as text, never run as markup.
    assert_eq!(
        browser
            .text(&format!("tr[data-key-id=\"{key_id}\"] td.name"))
            .await,
        hostile
    );
    assert_eq!(
        browser
            .run(
                "return [document.querySelectorAll('#keys img').length, \
                 document.body.dataset.pwned || null]",
                json!([])
            )
            .await,
        json!([0, null])
    );
    // "Done" takes the key out of the page.
    browser.click("#dismiss-key").await;
    assert_eq!(
        browser
            .run(
                "return [document.getElementById('new-key-value').value, \
                 document.getElementById('new-key').hidden, document.body.innerHTML.includes(arguments[0])]",
                json!([key])
            )
            .await,
        json!(["", true, false])
    );

    // A refusal of the server is shown next to the field it names.
    browser.type_into("#gen-name", "too-long-lived").await;
    browser
        .click("#gen-scopes input[value=\"read:checks\"]")
        .await;
    browser.type_into("#gen-rotation", "400").await;
    browser.click("#generate-form button[type=submit]").await;
    browser
        .wait_for(
            "return !document.getElementById('gen-rotation-error').hidden",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        browser
            .run(
                "return document.getElementById('gen-rotation').getAttribute('aria-invalid')",
                json!([])
            )
            .await,
        json!("true")
    );
    // The refusal is logged by the browser as a failed load, and nothing else is.
    let errors = console_errors(&browser, &["422"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The filter narrows the list.
    browser.type_into("#filter-text", "ci-runner").await;
    assert_eq!(
        browser
            .run(
                "return document.querySelectorAll('#keys tbody tr').length",
                json!([])
            )
            .await,
        json!(1)
    );
    browser.type_into("#filter-text", "").await;

    // Rotate with a grace period: a successor, shown once; the old key works through the grace.
    browser
        .click(&format!("tr[data-key-id=\"{key_id}\"] button"))
        .await;
    browser.type_into("#rotate-grace", "2").await;
    browser.click("#rotate-form button[type=submit]").await;
    browser
        .wait_for(
            "return !document.getElementById('new-key').hidden",
            Duration::from_secs(10),
        )
        .await;
    let successor = browser
        .run(
            "return document.getElementById('new-key-value').value",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(successor, key);
    assert_eq!(app.verify(&successor).await, StatusCode::OK);
    assert_eq!(app.verify(&key).await, StatusCode::OK);
    wait_for_row(&browser, &key_id, "rotating").await;
    browser.click("#dismiss-key").await;

    // Revoke the successor with a reason: refused at once, shown as quarantined.
    let successor_id = app.get("/v1/auth/verify", &successor).await.body["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser
        .click(&format!("tr[data-key-id=\"{successor_id}\"] button.danger"))
        .await;
    browser
        .type_into("#revoke-reason", "left in a CI log")
        .await;
    browser.click("#revoke-form button[type=submit]").await;
    wait_for_row(&browser, &successor_id, "revoked · quarantined").await;
    assert_eq!(app.verify(&successor).await, StatusCode::UNAUTHORIZED);
    let events = app
        .get(
            "/v1/audit-events?event_type=api_key.revoked",
            &app.admin_key,
        )
        .await;
    assert!(
        events.body.to_string().contains("left in a CI log"),
        "{}",
        events.body
    );

    if shoot {
        browser.goto(&app.url(KEYS_PAGE)).await;
        browser
            .wait_for(
                "return document.body.dataset.ready === 'true'",
                Duration::from_secs(10),
            )
            .await;
        browser.screenshot(&shots().join("api-keys-1280.png")).await;
        browser
            .run(
                "document.getElementById('list-title').scrollIntoView()",
                json!([]),
            )
            .await;
        browser
            .screenshot(&shots().join("api-keys-list-1280.png"))
            .await;
        browser.resize(390, 844).await;
        browser.run("window.scrollTo(0, 0)", json!([])).await;
        browser.screenshot(&shots().join("api-keys-390.png")).await;
        browser
            .run(
                "document.getElementById('list-title').scrollIntoView()",
                json!([]),
            )
            .await;
        browser
            .screenshot(&shots().join("api-keys-list-390.png"))
            .await;
    }
    browser.resize(390, 844).await;
    assert_accessible(&browser, "API keys at 390 px").await;
    let errors = console_errors(&browser, &[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // Sign out: the session is revoked, and its cookie refused from then on.
    let cookie = browser
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "statuspulse_session")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.click("#sign-out").await;
    browser
        .wait_for(
            "return location.pathname === '/console/sign-in' && !!document.getElementById('signed-out')",
            Duration::from_secs(10),
        )
        .await;
    let (status, body) = with_cookie(
        &app,
        Method::GET,
        "/v1/api-keys",
        &format!("statuspulse_session={cookie}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "revoked_session");
    browser.quit().await;
}

/// axe-core finds no serious or critical violation in the page as it is now.
async fn assert_accessible(browser: &Browser, page: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(
        violations.is_empty(),
        "accessibility of {page}:\n{}",
        violations.join("\n")
    );
}

async fn a_person_signs_in_through_sso_by_email_and_signs_out_everywhere(backend: Backend) {
    let (app, _db) = crate::sign_in::spawn(backend).await;
    let idp = crate::sign_in::idp_for(&app, crate::idp::Shape::Generic).await;
    crate::sign_in::connection(
        &app,
        &app.admin_key,
        "corp",
        crate::sign_in::generic(&idp),
        json!({"email_domains": ["example.com"]}),
    )
    .await;
    idp.set_next_login(json!({"sub": "erin", "email": "erin@example.com",
        "email_verified": true, "name": "Erin Example"}))
        .await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    browser
        .goto(&app.url(&format!("/console/sign-in?return_to={KEYS_PAGE}")))
        .await;
    browser.type_into("#sso-email", "erin@example.com").await;
    browser.click("#sso-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "return location.pathname === '{KEYS_PAGE}' && document.body.dataset.ready === 'true'"
            ),
            Duration::from_secs(30),
        )
        .await;
    assert!(browser.text("header .who").await.contains("Erin Example"));
    // Erin's groups are bound to nothing: the API's refusal is what the page shows.
    let refusal = browser.text("#page-error").await;
    assert!(refusal.contains("insufficient_scope"), "{refusal}");
    let errors = console_errors(&browser, &["403"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    browser.click("#sign-out-everywhere").await;
    browser
        .wait_for(
            "return location.pathname === '/console/sign-in' && !!document.getElementById('signed-out')",
            Duration::from_secs(10),
        )
        .await;
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(active, 0, "every session of the user is revoked");
    browser.quit().await;
}

async fn a_session_revoked_elsewhere_is_signed_out_in_every_tab_within_30_seconds(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    sign_in_with_key(&browser, &app, &app.admin_key).await;
    let first = browser.window().await;
    let session_id = browser
        .run(
            "return document.querySelector('meta[name=\"sp-session\"]').content",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = browser
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "statuspulse_session")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.new_tab().await;
    browser.goto(&app.url(KEYS_PAGE)).await;
    browser
        .wait_for(
            "return document.body.dataset.ready === 'true'",
            Duration::from_secs(20),
        )
        .await;

    // Revoked from outside both tabs (a third party: the API, with the admin key).
    let revoked_at = Instant::now();
    let answer = app
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{session_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    // From that moment every request of the session is refused by the server.
    let replay = app
        .http
        .get(app.url("/v1/api-keys"))
        .header("cookie", format!("statuspulse_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);

    // Watched without switching tabs (a switch focuses a tab, which checks at once): the tab in
    // front notices on its own interval check, and tells the one behind it.
    let front = loop {
        if browser
            .url()
            .await
            .contains("/console/sign-in?signed_out=1")
        {
            break revoked_at.elapsed();
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(30),
            "the tab in front was not signed out within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    browser.switch_to(&first).await;
    // Read at once on switching: already signed out, by the other tab's message, not by the
    // check the switch's focus starts (that needs a round trip and a navigation).
    let behind_url = browser.url().await;
    let behind = revoked_at.elapsed();
    assert!(
        behind_url.contains("/console/sign-in?signed_out=1"),
        "the tab behind was not told: {behind_url}"
    );
    assert!(behind < Duration::from_secs(30));
    println!(
        "tab sign-out after revocation ({backend:?}): tab in front {:.1} s (its own check, every \
         10 s), tab behind already signed out when looked at {:.1} s after revocation",
        front.as_secs_f64(),
        behind.as_secs_f64()
    );
    assert!(browser.text("#signed-out").await.contains("signed out"));
    browser.quit().await;
}

async fn console_pages_carry_a_strict_policy_and_cacheable_hashed_assets(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let page = app
        .http
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header(&page, "content-security-policy"),
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "cache-control"), "no-store");
    let html = page.text().await.unwrap();
    // No inline script or style for the policy to have to allow.
    assert!(!html.contains(" style="), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    for asset in html
        .split('"')
        .filter(|s| s.starts_with("/console/assets/"))
    {
        let first = app.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{asset}");
        assert_eq!(
            header(&first, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let etag = header(&first, "etag");
        assert!(asset.contains(etag.trim_matches('"')), "{asset} {etag}");
        let again = app
            .http
            .get(app.url(asset))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    let stale = app
        .http
        .get(app.url("/console/assets/console-0000000000000000.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    // Signed out, the keys page sends the browser to sign in and back.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let keys = client.get(app.url(KEYS_PAGE)).send().await.unwrap();
    assert_eq!(keys.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&keys, "location"),
        format!("/console/sign-in?return_to={KEYS_PAGE}")
    );
}

/// Opens a key session with `key`: the answer and the cookie (`name=value`).
async fn key_session(app: &TestApp, key: &str) -> (reqwest::Response, Option<String>) {
    let answer = app
        .http
        .post(app.url("/v1/sessions"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let cookie = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_owned());
    (answer, cookie)
}

/// A request made with a session cookie (and for writes, `csrf`).
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("cookie", cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn a_key_session_acts_as_its_key_and_ends_when_the_key_is_revoked(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let second_admin = app
        .create_key(
            &app.admin_key,
            json!({"name": "second operator", "environment": "live", "scopes": ["admin:all"]}),
        )
        .await;
    let key = second_admin["key"].as_str().unwrap();
    let (answer, cookie) = key_session(&app, key).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let set_cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains(key));
    let created: Value = answer.json().await.unwrap();
    let cookie = cookie.unwrap();
    let csrf = created["csrf_token"].as_str().unwrap();

    // It acts as the key: its writes are audited with the key as actor.
    let (status, made) = with_cookie(
        &app,
        Method::POST,
        "/v1/service-accounts",
        &cookie,
        Some(csrf),
        Some(json!({"name": "made-from-the-console"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let events = app
        .get(
            "/v1/audit-events?event_type=service_account.created",
            &app.admin_key,
        )
        .await;
    let actor = events.body["items"][0]["actor"].to_string();
    assert!(
        actor.contains(second_admin["key_id"].as_str().unwrap()),
        "{actor}"
    );
    assert_eq!(
        app.audit_count(&app.workspace_id, "session.created").await,
        1
    );
    // A session cookie is not a credential for the verification endpoint.
    let (status, _) = with_cookie(&app, Method::GET, "/v1/auth/verify", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Revoking the key ends the session at once.
    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": second_admin["id"], "reason": "operator left"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let (status, body) = with_cookie(&app, Method::GET, "/v1/api-keys", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "session_key_unusable");
    // And a page renders no session for it.
    let page = app
        .http
        .get(app.url("/console/sign-in"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

async fn only_an_admin_key_opens_a_console_session_and_guessing_is_budgeted(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let (answer, cookie) = key_session(&app, narrow["key"].as_str().unwrap()).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(cookie.is_none());
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(problem["code"], "admin_key_required");
    assert_eq!(problem["field"], "key");

    // Guessing an admin key's secret through the sign-in form: the key id's failure budget of
    // one network ends it (429), every failure is audited, and no session is ever opened.
    let target = app
        .create_key(
            &app.admin_key,
            json!({"name": "second operator", "environment": "live", "scopes": ["admin:all"]}),
        )
        .await;
    let target = target["key"].as_str().unwrap();
    let mut codes = Vec::new();
    for n in 0..14 {
        let (answer, cookie) = key_session(&app, &wrong_secret(target, n)).await;
        assert!(cookie.is_none());
        let problem: Value = answer.json().await.unwrap();
        codes.push(problem["code"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(codes[0], "invalid_credential");
    assert!(
        codes.iter().any(|c| c == "too_many_failed_attempts"),
        "{codes:?}"
    );
    assert!(app.audit_count(&app.workspace_id, "auth.failed").await >= 1);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM key_sessions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

async fn a_cookie_write_without_the_csrf_token_or_from_another_origin_is_refused(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (answer, cookie) = key_session(&app, &app.admin_key).await;
    let created: Value = answer.json().await.unwrap();
    let cookie = cookie.unwrap();
    let csrf = created["csrf_token"].as_str().unwrap();
    let body = json!({"name": "csrf", "environment": "live", "scopes": ["read:checks"]});
    let before = app.database_snapshot().await;

    let (status, problem) = with_cookie(
        &app,
        Method::POST,
        "/v1/api-keys",
        &cookie,
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "csrf_rejected");
    let foreign = app
        .http
        .post(app.url("/v1/api-keys"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.database_snapshot().await, before, "nothing changed");

    let (status, made) = with_cookie(
        &app,
        Method::POST,
        "/v1/api-keys",
        &cookie,
        Some(csrf),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
}

async fn another_workspaces_session_cannot_see_this_workspaces_keys(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let ours = app
        .create_key(
            &app.admin_key,
            json!({"name": "ours", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let (_, tenant_key) = app.new_workspace("tenant").await;
    let (answer, cookie) = key_session(&app, &tenant_key).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let cookie = cookie.unwrap();
    let tenant: Value = answer.json().await.unwrap();
    let tenant_csrf = tenant["csrf_token"].as_str().unwrap();
    let (status, list) = with_cookie(&app, Method::GET, "/v1/api-keys", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains("\"ours\""), "{list}");
    let (status, _) = with_cookie(
        &app,
        Method::GET,
        &format!("/v1/api-keys/{}", ours["id"].as_str().unwrap()),
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor revoke our sessions: another workspace's session is a 404.
    let (mine, _) = key_session(&app, &app.admin_key).await;
    let mine: Value = mine.json().await.unwrap();
    let (status, _) = with_cookie(
        &app,
        Method::DELETE,
        &format!("/v1/sessions/{}", mine["id"].as_str().unwrap()),
        &cookie,
        Some(tenant_csrf),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn sign_in_never_redirects_outside_the_console_and_never_keeps_a_planted_cookie(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A planted session cookie (session fixation) is unknown to the server and is replaced at
    // sign-in by a fresh secret.
    let planted = format!("statuspulse_session=spk_{}", "A".repeat(43));
    let answer = client
        .post(app.url("/v1/sessions"))
        .bearer_auth(&app.admin_key)
        .header("cookie", &planted)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let cookie = answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(cookie, planted);
    let (status, _) = with_cookie(&app, Method::GET, "/v1/api-keys", &planted, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for hostile in [
        "https://evil.example/console/",
        "//evil.example/",
        "/console/../v1/me",
        "javascript:alert(1)",
    ] {
        let page = client
            .get(app.url("/console/sign-in"))
            .query(&[("return_to", hostile)])
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{hostile}");
        assert_eq!(page.headers()["location"], "/console/", "{hostile}");
        // Signed out, the page carries it to the script as a console path only.
        let page = client
            .get(app.url("/console/sign-in"))
            .query(&[("return_to", hostile)])
            .send()
            .await
            .unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("data-return-to=\"/console/\""), "{html}");
        assert!(!html.contains("evil.example"));
    }
}
