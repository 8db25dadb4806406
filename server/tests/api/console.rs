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

use crate::audit_sinks::{append_events, eventually, head, with_sinks, Receiver};
use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_backends;
use crate::verify::wrong_secret;
use crate::webdriver::{Browser, Driver};

on_both_backends!(
    the_operator_signs_in_with_the_admin_key_and_generates_rotates_and_revokes_a_key,
    the_operator_manages_clusters_service_accounts_and_bindings_and_reads_effective_access,
    a_person_signs_in_through_sso_by_email_and_signs_out_everywhere,
    a_session_revoked_elsewhere_is_signed_out_in_every_tab_within_30_seconds,
    console_pages_carry_a_strict_policy_and_cacheable_hashed_assets,
    a_key_session_acts_as_its_key_and_ends_when_the_key_is_revoked,
    only_an_admin_key_opens_a_console_session_and_guessing_is_budgeted,
    a_cookie_write_without_the_csrf_token_or_from_another_origin_is_refused,
    another_workspaces_session_cannot_see_or_change_this_workspaces_keys_or_access,
    sign_in_never_redirects_outside_the_console_and_never_keeps_a_planted_cookie,
    key_sessions_are_listed_with_the_workspaces_sessions_and_signed_out_everywhere_by_key,
    the_sessions_page_lists_and_revokes_sessions_and_signs_a_key_out_everywhere,
    a_person_grants_only_what_their_groups_hold_and_sees_only_their_own_sessions,
    the_operator_filters_pages_verifies_and_exports_the_audit_log,
    the_operator_sets_retention_tunes_anomaly_rules_and_adds_a_webhook_sink_that_delivers,
    the_operator_configures_oidc_and_saml_connections_and_downloads_both_metadata_files,
    one_walk_from_sso_setup_to_a_revocation_every_tab_sees,
);

const KEYS_PAGE: &str = "/console/settings/integrations/api-keys";
const SERVICE_ACCOUNTS_PAGE: &str = "/console/settings/access/service-accounts";
const BINDINGS_PAGE: &str = "/console/settings/access/role-bindings";
const CLUSTERS_PAGE: &str = "/console/settings/access/environment-clusters";
const SSO_PAGE: &str = "/console/settings/security/sso";
const SESSIONS_PAGE: &str = "/console/settings/security/sessions";
const AUDIT_LOGS_PAGE: &str = "/console/settings/security/audit-logs";
const AUDIT_LOGGING_PAGE: &str = "/console/settings/security/audit-logging";
/// WebDriver's key codes of Enter and Escape.
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
/// Every page behind sign-in.
const SETTINGS_PAGES: [&str; 8] = [
    KEYS_PAGE,
    SERVICE_ACCOUNTS_PAGE,
    BINDINGS_PAGE,
    CLUSTERS_PAGE,
    SSO_PAGE,
    SESSIONS_PAGE,
    AUDIT_LOGS_PAGE,
    AUDIT_LOGGING_PAGE,
];

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
    wait_for_page(browser, KEYS_PAGE).await;
}

/// The id of the session the page in front is signed in with (`sp-session`).
async fn session_of(browser: &Browser) -> String {
    browser
        .run(
            "return document.querySelector('meta[name=\"sp-session\"]').content",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
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

/// Waits until a new key is shown (once); the key.
async fn shown_key(browser: &Browser) -> String {
    browser
        .wait_for(
            "return !document.getElementById('new-key').hidden",
            Duration::from_secs(10),
        )
        .await;
    browser
        .run(
            "return document.getElementById('new-key-value').value",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
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
    let key = shown_key(&browser).await;
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
    let successor = shown_key(&browser).await;
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

/// Waits until the page at `path` is loaded in `browser` (after a navigation it started).
async fn wait_for_page(browser: &Browser, path: &str) {
    browser
        .wait_for(
            &format!(
                "return location.pathname === '{path}' && document.body.dataset.ready === 'true'"
            ),
            Duration::from_secs(30),
        )
        .await;
}

/// Follows the settings navigation to `path`, as a person would, and waits until the page's
/// lists are loaded.
async fn open_from_nav(browser: &Browser, path: &str) {
    browser
        .click(&format!("nav.settings a[href=\"{path}\"]"))
        .await;
    wait_for_page(browser, path).await;
}

/// Opens a settings page and waits until its lists are loaded.
async fn open_page(browser: &Browser, app: &TestApp, path: &str) {
    browser.goto(&app.url(path)).await;
    wait_for_page(browser, path).await;
}

/// Waits until the list of a settings page has a row named `name`; its object id.
async fn wait_for_item(browser: &Browser, name: &str) -> String {
    let find = "const r = Array.from(document.querySelectorAll('#items tbody tr')).find(\
         (r) => r.querySelector('td.name').textContent === arguments[0]); \
         return r ? r.dataset.id : null";
    let started = Instant::now();
    loop {
        if let Some(id) = browser.run(find, json!([name])).await.as_str() {
            return id.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no row named {name}: {}",
            browser.text("#items").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the error slot `css` is shown; its words.
async fn wait_for_refusal(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(
            &format!("const e = document.querySelector('{css}'); return !!e && !e.hidden"),
            Duration::from_secs(10),
        )
        .await;
    browser.text(css).await
}

/// Waits until the effective access dialog shows its answer.
async fn wait_for_access(browser: &Browser) -> String {
    browser
        .wait_for(
            "const d = document.getElementById('access-dialog'); \
             return d.open && d.dataset.ready === 'true'",
            Duration::from_secs(10),
        )
        .await;
    browser.text("#access-dialog").await
}

/// The page as it is now, at 1280 px and at 390 px: no serious accessibility violation at
/// either, and (for the SQLite run) screenshots named `name-1280.png` and `name-390.png`.
async fn check_both_widths(browser: &Browser, name: &str, shoot: bool) {
    for (width, height) in [(1280, 900), (390, 844)] {
        browser.resize(width, height).await;
        assert_accessible(browser, &format!("{name} at {width} px")).await;
        if shoot {
            // From the top, as the page opens (a modal dialog stays in view).
            browser.run("window.scrollTo(0, 0)", json!([])).await;
            browser
                .screenshot(&shots().join(format!("{name}-{width}.png")))
                .await;
        }
    }
    browser.resize(1280, 900).await;
}

async fn the_operator_manages_clusters_service_accounts_and_bindings_and_reads_effective_access(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    let shoot = backend == Backend::Sqlite;
    sign_in_with_key(&browser, &app, &app.admin_key).await;

    // Environment clusters: the settings navigation leads there; create two, edit one.
    open_from_nav(&browser, CLUSTERS_PAGE).await;
    assert_eq!(
        browser.text("nav.settings a[aria-current=\"page\"]").await,
        "Environment clusters"
    );
    browser.type_into("#cl-name", "eu-prod-1").await;
    browser.type_into("#cl-description", "Frankfurt").await;
    browser.click("#create-form button[type=submit]").await;
    let eu = wait_for_item(&browser, "eu-prod-1").await;
    browser.type_into("#cl-name", "staging-1").await;
    browser
        .click("#cl-environment option[value=\"test\"]")
        .await;
    browser.click("#create-form button[type=submit]").await;
    wait_for_item(&browser, "staging-1").await;
    // The server's refusal, in words, next to the field it concerns.
    browser.type_into("#cl-name", "eu-prod-1").await;
    browser.click("#create-form button[type=submit]").await;
    let taken = wait_for_refusal(&browser, "#cl-name-error").await;
    assert!(
        taken.contains("already exists") && taken.contains("name_taken"),
        "{taken}"
    );
    browser
        .click(&format!(
            "tr[data-id=\"{eu}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    browser
        .type_into("#edit-description", "Frankfurt, primary")
        .await;
    browser.click("#edit-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "return document.querySelector('tr[data-id=\"{eu}\"]').textContent\
                 .includes('Frankfurt, primary')"
            ),
            Duration::from_secs(10),
        )
        .await;
    check_both_widths(&browser, "environment-clusters", shoot).await;

    // Service accounts: create, rename.
    open_page(&browser, &app, SERVICE_ACCOUNTS_PAGE).await;
    browser.type_into("#sa-name", "ci-deployer").await;
    browser
        .type_into("#sa-description", "<b>deploys</b> from CI")
        .await;
    // From the keyboard: Enter in a field submits its form.
    browser.press("#sa-description", ENTER).await;
    let sa = wait_for_item(&browser, "ci-deployer").await;
    assert_eq!(
        browser
            .run(
                "return document.querySelectorAll('#items b').length",
                json!([])
            )
            .await,
        json!(0),
        "shown as text, never as markup"
    );
    assert!(browser
        .text(&format!("tr[data-id=\"{sa}\"]"))
        .await
        .contains("<b>deploys</b> from CI"));
    browser
        .click(&format!(
            "tr[data-id=\"{sa}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    // The dialog takes the focus (and keeps it: it is modal), and Escape leaves it unchanged.
    assert_eq!(
        browser
            .run(
                "return document.getElementById('edit-dialog').contains(document.activeElement)",
                json!([])
            )
            .await,
        json!(true)
    );
    browser.press("#edit-name", ESCAPE).await;
    assert_eq!(
        browser
            .run(
                "return document.getElementById('edit-dialog').open",
                json!([])
            )
            .await,
        json!(false)
    );
    browser
        .click(&format!(
            "tr[data-id=\"{sa}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    browser.type_into("#edit-name", "ci-deploy").await;
    browser.press("#edit-name", ENTER).await;
    wait_for_item(&browser, "ci-deploy").await;
    check_both_widths(&browser, "service-accounts", shoot).await;

    // Role bindings: least privilege is the server's, and its refusals are shown at the field.
    open_page(&browser, &app, BINDINGS_PAGE).await;
    browser
        .click("#rb-scopes input[value=\"read:checks\"]")
        .await;
    browser.click("#create-form button[type=submit]").await;
    let nobody = wait_for_refusal(&browser, "#rb-service-account-error").await;
    assert!(nobody.contains("principal_required"), "{nobody}");
    browser
        .click(&format!("#rb-service-account option[value=\"{sa}\"]"))
        .await;
    browser.click("#rb-scopes input[value=\"admin:all\"]").await;
    browser.click("#create-form button[type=submit]").await;
    let too_broad = wait_for_refusal(&browser, "#rb-scopes-error").await;
    assert!(too_broad.contains("admin_all_forbidden"), "{too_broad}");
    assert_eq!(
        browser
            .run(
                "return document.getElementById('rb-scopes').getAttribute('aria-invalid')",
                json!([])
            )
            .await,
        json!("true")
    );
    browser.click("#rb-scopes input[value=\"admin:all\"]").await;
    browser
        .click("#rb-scopes input[value=\"write:checks\"]")
        .await;
    browser
        .click("#rb-clusters input[value=\"eu-prod-1\"]")
        .await;
    browser.click("#create-form button[type=submit]").await;
    let binding = wait_for_item(&browser, "service account ci-deploy").await;
    let bindings = app.get("/v1/role-bindings", &app.admin_key).await;
    assert_eq!(
        bindings.body["items"][0]["scopes"],
        json!(["read:checks", "write:checks"])
    );
    assert_eq!(
        bindings.body["items"][0]["environment_clusters"],
        json!(["eu-prod-1"])
    );
    // Narrowed in place: write:checks is withdrawn.
    browser
        .click(&format!(
            "tr[data-id=\"{binding}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    browser
        .wait_for(
            "return document.getElementById('edit-dialog').open && \
             document.querySelector('#edit-scopes input[value=\"write:checks\"]').checked",
            Duration::from_secs(10),
        )
        .await;
    browser
        .click("#edit-scopes input[value=\"write:checks\"]")
        .await;
    browser.click("#edit-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "const r = document.querySelector('tr[data-id=\"{binding}\"] td.scopes'); \
                 return !!r && r.textContent === 'read:checks'"
            ),
            Duration::from_secs(10),
        )
        .await;
    check_both_widths(&browser, "role-bindings", shoot).await;

    // Effective access of the service account: read:checks, in eu-prod-1 only.
    open_page(&browser, &app, SERVICE_ACCOUNTS_PAGE).await;
    browser
        .click(&format!(
            "tr[data-id=\"{sa}\"] button[aria-label^=\"Access\"]"
        ))
        .await;
    let access = wait_for_access(&browser).await;
    assert!(access.contains("read:checks"), "{access}");
    assert!(!access.contains("write:checks"), "{access}");
    assert_eq!(
        browser
            .run(
                "return Array.from(document.querySelectorAll('#access-clusters tbody tr'))\
                 .map((r) => r.dataset.cluster)",
                json!([])
            )
            .await,
        json!(["eu-prod-1"])
    );
    check_both_widths(&browser, "effective-access", shoot).await;
    browser.click("#access-dialog .cancel").await;

    // A key of the service account: clusters are picked from the list, and the check before the
    // create refuses what the bindings do not grant, next to the field, minting nothing.
    open_page(&browser, &app, KEYS_PAGE).await;
    let keys_before = app.get("/v1/api-keys", &app.admin_key).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    browser.type_into("#gen-name", "deployer").await;
    browser
        .click(&format!("#gen-service-account option[value=\"{sa}\"]"))
        .await;
    browser
        .click("#gen-scopes input[value=\"write:checks\"]")
        .await;
    browser
        .click("#gen-clusters input[value=\"eu-prod-1\"]")
        .await;
    browser.click("#generate-form button[type=submit]").await;
    let withheld = wait_for_refusal(&browser, "#gen-scopes-error").await;
    assert!(withheld.contains("write:checks"), "{withheld}");
    assert_eq!(
        app.get("/v1/api-keys", &app.admin_key).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        keys_before,
        "the refused key was only checked, never minted"
    );
    browser
        .click("#gen-scopes input[value=\"write:checks\"]")
        .await;
    browser
        .click("#gen-scopes input[value=\"read:checks\"]")
        .await;
    browser.click("#generate-form button[type=submit]").await;
    let key = shown_key(&browser).await;
    let verified = app.get("/v1/auth/verify", &key).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let key_id = verified.body["key_id"].as_str().unwrap().to_owned();
    browser.click("#dismiss-key").await;
    wait_for_row(&browser, &key_id, "active").await;
    browser
        .click(&format!(
            "tr[data-key-id=\"{key_id}\"] button[aria-label^=\"Access\"]"
        ))
        .await;
    let access = wait_for_access(&browser).await;
    assert!(
        access.contains(&key_id) && access.contains("read:checks"),
        "{access}"
    );
    browser.click("#access-dialog .cancel").await;

    // Deletes the server refuses are explained in the dialog: a cluster in use, a service
    // account with a usable key.
    open_page(&browser, &app, CLUSTERS_PAGE).await;
    browser
        .click(&format!(
            "tr[data-id=\"{eu}\"] button[aria-label^=\"Delete\"]"
        ))
        .await;
    browser.click("#delete-form button[type=submit]").await;
    let in_use = wait_for_refusal(&browser, "#delete-form [data-error-for=\"\"]").await;
    assert!(in_use.contains("cluster_in_use"), "{in_use}");
    browser.click("#delete-dialog .cancel").await;
    open_page(&browser, &app, SERVICE_ACCOUNTS_PAGE).await;
    browser
        .click(&format!(
            "tr[data-id=\"{sa}\"] button[aria-label^=\"Delete\"]"
        ))
        .await;
    browser.click("#delete-form button[type=submit]").await;
    let has_keys = wait_for_refusal(&browser, "#delete-form [data-error-for=\"\"]").await;
    assert!(
        has_keys.contains("service_account_has_active_keys") && has_keys.contains("deployer"),
        "{has_keys}"
    );
    check_both_widths(&browser, "service-account-delete-refused", false).await;
    browser.click("#delete-dialog .cancel").await;
    let keys = app.get("/v1/api-keys", &app.admin_key).await;
    let deployer = keys.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == json!(key_id))
        .unwrap()
        .clone();
    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": deployer["id"], "reason": "deployer retired"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    browser
        .click(&format!(
            "tr[data-id=\"{sa}\"] button[aria-label^=\"Delete\"]"
        ))
        .await;
    browser.click("#delete-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("return !document.querySelector('tr[data-id=\"{sa}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    // Its binding went with it, so the cluster is free to delete.
    open_page(&browser, &app, BINDINGS_PAGE).await;
    assert!(!browser.text("#items-empty").await.is_empty());
    open_page(&browser, &app, CLUSTERS_PAGE).await;
    browser
        .click(&format!(
            "tr[data-id=\"{eu}\"] button[aria-label^=\"Delete\"]"
        ))
        .await;
    browser.click("#delete-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("return !document.querySelector('tr[data-id=\"{eu}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        app.get("/v1/environment-clusters", &app.admin_key)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let errors = console_errors(&browser, &["409", "422"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
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
    wait_for_page(&browser, KEYS_PAGE).await;
    assert!(browser.text("header .who").await.contains("Erin Example"));
    // Erin's groups are bound to nothing: the API's refusal is what the page shows.
    let refusal = browser.text("#page-error").await;
    assert!(refusal.contains("insufficient_scope"), "{refusal}");
    // So are the pickers' lists: each says why it is empty, in the server's words.
    browser
        .wait_for(
            "return !document.getElementById('gen-service-account-note').hidden && \
             !document.querySelector('#gen-clusters .loading')",
            Duration::from_secs(10),
        )
        .await;
    let note = browser.text("#gen-service-account-note").await;
    assert!(note.contains("`admin:service_accounts`"), "{note}");
    let clusters = browser.text("#gen-clusters").await;
    assert!(clusters.contains("`admin:access`"), "{clusters}");
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
    let session_id = session_of(&browser).await;
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
    let (front, behind) = both_tabs_signed_out(&browser, &first, revoked_at).await;
    println!(
        "tab sign-out after revocation ({backend:?}): tab in front {:.1} s (its own check, every \
         10 s), tab behind already signed out when looked at {:.1} s after revocation",
        front.as_secs_f64(),
        behind.as_secs_f64()
    );
    assert!(browser.text("#signed-out").await.contains("signed out"));
    browser.quit().await;
}

/// Watches the tab in front, without switching tabs (a switch focuses a tab, which checks at
/// once), until it is signed out on its own interval check; then switches to `behind`, which must
/// already be signed out by the other tab's message, not by the check the switch's focus starts
/// (that needs a round trip and a navigation). Both within 30 s of `revoked_at`; how long each
/// took.
async fn both_tabs_signed_out(
    browser: &Browser,
    behind: &str,
    revoked_at: Instant,
) -> (Duration, Duration) {
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
    browser.switch_to(behind).await;
    let behind_url = browser.url().await;
    let behind = revoked_at.elapsed();
    assert!(
        behind_url.contains("/console/sign-in?signed_out=1"),
        "the tab behind was not told: {behind_url}"
    );
    assert!(behind < Duration::from_secs(30));
    (front, behind)
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
    let pages_policy = "default-src 'none'; script-src 'self'; style-src 'self'; \
        img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
        base-uri 'none'";
    assert_eq!(header(&page, "content-security-policy"), pages_policy);
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
    // Signed out, every settings page sends the browser to sign in and back.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in SETTINGS_PAGES {
        let page = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            header(&page, "location"),
            format!("/console/sign-in?return_to={path}")
        );
        assert_eq!(header(&page, "content-security-policy"), pages_policy);
    }
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

async fn another_workspaces_session_cannot_see_or_change_this_workspaces_keys_or_access(
    backend: Backend,
) {
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
    // Nor what the access pages show: our service accounts, bindings, clusters, and the
    // effective access of our key and service account.
    let sa = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "our-deployer"}),
        )
        .await;
    let sa_id = sa.body["id"].as_str().unwrap();
    let cluster = app
        .post(
            "/v1/environment-clusters",
            &app.admin_key,
            json!({"name": "our-cluster", "environment": "live"}),
        )
        .await;
    let bound = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"service_account_id": sa_id, "scopes": ["read:checks"],
                "environment_clusters": ["our-cluster"]}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.body);
    for list in [
        "/v1/service-accounts",
        "/v1/environment-clusters",
        "/v1/role-bindings",
    ] {
        let (status, body) = with_cookie(&app, Method::GET, list, &cookie, None, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(body["items"], json!([]), "{list}");
    }
    let objects = [
        format!("/v1/service-accounts/{sa_id}"),
        format!(
            "/v1/environment-clusters/{}",
            cluster.body["id"].as_str().unwrap()
        ),
        format!("/v1/role-bindings/{}", bound.body["id"].as_str().unwrap()),
    ];
    let access = [
        format!("/v1/effective-access?service_account_id={sa_id}"),
        format!(
            "/v1/effective-access?api_key_id={}",
            ours["id"].as_str().unwrap()
        ),
    ];
    for path in objects.iter().chain(&access) {
        let (status, _) = with_cookie(&app, Method::GET, path, &cookie, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in &objects {
        let (status, _) =
            with_cookie(&app, Method::DELETE, path, &cookie, Some(tenant_csrf), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {path}");
    }
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

/// Opens a key session: its id, cookie, CSRF token and the key's object id.
async fn open_key_session(app: &TestApp, key: &str) -> (String, String, String, String) {
    let (answer, cookie) = key_session(app, key).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let created: Value = answer.json().await.unwrap();
    let text = |name: &str| created[name].as_str().unwrap().to_owned();
    (
        text("id"),
        cookie.unwrap(),
        text("csrf_token"),
        text("api_key_id"),
    )
}

/// The ids of the sessions `list` holds, with their status.
fn listed(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn key_sessions_are_listed_with_the_workspaces_sessions_and_signed_out_everywhere_by_key(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let (a, a_cookie, a_csrf, admin_id) = open_key_session(&app, &app.admin_key).await;
    let (b, b_cookie, ..) = open_key_session(&app, &app.admin_key).await;
    let second = app
        .create_key(
            &app.admin_key,
            json!({"name": "second operator", "environment": "live", "scopes": ["admin:all"]}),
        )
        .await;
    let (c, c_cookie, ..) = open_key_session(&app, second["key"].as_str().unwrap()).await;

    // Listed for the workspace, as key sessions of their key; the caller's own is marked.
    let (status, list) =
        with_cookie(&app, Method::GET, "/v1/sessions", &a_cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut expected = vec![a.clone(), b.clone(), c.clone()];
    expected.sort();
    let ids: Vec<String> = listed(&list).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, expected);
    for s in list["items"].as_array().unwrap() {
        assert_eq!(s["kind"], "api_key");
        assert_eq!(s["status"], "active");
        assert!(s.get("user_id").is_none(), "{s}");
        assert_eq!(s["current"], json!(s["id"] == json!(a)));
    }
    let of_admin = app
        .get(
            &format!("/v1/sessions?api_key_id={admin_id}"),
            &app.admin_key,
        )
        .await;
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    let ids: Vec<String> = listed(&of_admin.body)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(
        of_admin.body["items"][0]["key_id"],
        app.get("/v1/auth/verify", &app.admin_key).await.body["key_id"]
    );
    // Asked about a (well-formed, unknown) user, no key session answers.
    let of_user = app
        .get(
            "/v1/sessions?user_id=usr_00000000000000000000000000000000",
            &app.admin_key,
        )
        .await;
    assert_eq!(of_user.body["items"], json!([]));

    // Another workspace sees none of them and ends none of them.
    let (_, tenant_key) = app.new_workspace("tenant").await;
    let (_, tenant_cookie, tenant_csrf, _) = open_key_session(&app, &tenant_key).await;
    let (_, theirs) = with_cookie(
        &app,
        Method::GET,
        "/v1/sessions",
        &tenant_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(listed(&theirs).len(), 1, "only the tenant's own: {theirs}");
    let (_, theirs) = with_cookie(
        &app,
        Method::GET,
        &format!("/v1/sessions?api_key_id={admin_id}"),
        &tenant_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _) = with_cookie(
        &app,
        Method::POST,
        "/v1/sessions/revoke-all",
        &tenant_cookie,
        Some(&tenant_csrf),
        Some(json!({"api_key_id": admin_id})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A key without admin:sso ends only its own key's sessions.
    let narrow = app
        .create_key(
            &app.admin_key,
            json!({"name": "ci", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let refused = app
        .post(
            "/v1/sessions/revoke-all",
            narrow["key"].as_str().unwrap(),
            json!({"api_key_id": admin_id}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // Bad input is a 4xx that changes nothing.
    let before = app.database_snapshot().await;
    for body in [
        json!({"api_key_id": "nope"}),
        json!({"api_key_id": admin_id, "user_id": "usr_x"}),
        json!({}),
    ] {
        let answer = app
            .post("/v1/sessions/revoke-all", &app.admin_key, body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
    }
    assert_eq!(app.database_snapshot().await, before);

    // "Sign out everywhere" from a key session: every session of that key ends at once, the
    // other key's session and the key itself keep working.
    let (status, done) = with_cookie(
        &app,
        Method::POST,
        "/v1/sessions/revoke-all",
        &a_cookie,
        Some(&a_csrf),
        Some(json!({"api_key_id": admin_id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["revoked"], 2);
    for cookie in [&a_cookie, &b_cookie] {
        let (status, body) =
            with_cookie(&app, Method::GET, "/v1/api-keys", cookie, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "revoked_session");
    }
    let (status, _) = with_cookie(&app, Method::GET, "/v1/api-keys", &c_cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.verify(&app.admin_key).await, StatusCode::OK);
    let events = app
        .get(
            "/v1/audit-events?event_type=session.revoked",
            &app.admin_key,
        )
        .await;
    let event = &events.body["items"][0];
    assert_eq!(event["target"]["type"], "api_key", "{event}");
    assert_eq!(event["details"]["reason"], "revoke_all");

    // A key session is revoked from the moment its key is: so listed, and not active.
    let revoked = app
        .post(
            "/v1/api-keys/revoke",
            &app.admin_key,
            json!({"id": second["id"], "reason": "operator left"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let all = app.get("/v1/sessions", &app.admin_key).await;
    assert!(
        listed(&all.body)
            .iter()
            .all(|(id, status)| status == "revoked" || ![&a, &b, &c].contains(&id)),
        "{}",
        all.body
    );
    let active = app.get("/v1/sessions?active=true", &app.admin_key).await;
    assert_eq!(active.body["items"], json!([]), "{}", active.body);
}

async fn the_sessions_page_lists_and_revokes_sessions_and_signs_a_key_out_everywhere(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn(backend).await;
    let shoot = backend == Backend::Sqlite;
    let (other, other_cookie, ..) = open_key_session(&app, &app.admin_key).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    sign_in_with_key(&browser, &app, &app.admin_key).await;
    let mine = session_of(&browser).await;
    open_from_nav(&browser, SESSIONS_PAGE).await;
    browser
        .wait_for(
            &format!(
                "return !!document.querySelector('tr[data-id=\"{other}\"]') && \
                 document.querySelector('tr[data-id=\"{mine}\"]').textContent.includes('this session')"
            ),
            Duration::from_secs(10),
        )
        .await;
    check_both_widths(&browser, "sessions", shoot).await;

    // Revoke the other session: refused by the server at once, gone from the active list.
    browser
        .click(&format!(
            "tr[data-id=\"{other}\"] button[aria-label^=\"Revoke\"]"
        ))
        .await;
    check_both_widths(&browser, "sessions-revoke", false).await;
    browser.click("#revoke-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("return !document.querySelector('tr[data-id=\"{other}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    let (status, _) =
        with_cookie(&app, Method::GET, "/v1/api-keys", &other_cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    browser.click("#filter-active option[value=\"\"]").await;
    browser
        .wait_for(
            &format!(
                "const r = document.querySelector('tr[data-id=\"{other}\"]'); \
                 return !!r && r.dataset.status === 'revoked'"
            ),
            Duration::from_secs(10),
        )
        .await;

    // Sign out everywhere, from a key session: every session of the key ends.
    let (third, third_cookie, ..) = open_key_session(&app, &app.admin_key).await;
    browser.click("#sign-out-everywhere").await;
    browser
        .wait_for(
            "return location.pathname === '/console/sign-in' && !!document.getElementById('signed-out')",
            Duration::from_secs(10),
        )
        .await;
    let (status, body) =
        with_cookie(&app, Method::GET, "/v1/api-keys", &third_cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{third}");
    assert_eq!(body["code"], "revoked_session");
    let active = app.get("/v1/sessions?active=true", &app.admin_key).await;
    assert_eq!(active.body["items"], json!([]), "{}", active.body);
    let errors = console_errors(&browser, &["401"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}

async fn a_person_grants_only_what_their_groups_hold_and_sees_only_their_own_sessions(
    backend: Backend,
) {
    let (app, _db) = crate::sign_in::spawn(backend).await;
    let idp = crate::sign_in::idp_for(&app, crate::idp::Shape::Generic).await;
    crate::sign_in::connection(
        &app,
        &app.admin_key,
        "corp",
        crate::sign_in::generic(&idp),
        json!({"email_domains": ["example.com"], "group_mappings": {"idp-platform": "platform"}}),
    )
    .await;
    let bound = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"group": "platform", "scopes": ["admin:access", "read:checks"]}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.body);
    // The operator's key session exists too; Dana (no admin:sso) is not shown it.
    let (operator, ..) = open_key_session(&app, &app.admin_key).await;
    idp.set_next_login(json!({"sub": "dana", "email": "dana@example.com",
        "email_verified": true, "name": "Dana", "groups": ["idp-platform"]}))
        .await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    browser
        .goto(&app.url(&format!("/console/sign-in?return_to={BINDINGS_PAGE}")))
        .await;
    browser.type_into("#sso-email", "dana@example.com").await;
    browser.click("#sso-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "return location.pathname === '{BINDINGS_PAGE}' && document.body.dataset.ready === 'true'"
            ),
            Duration::from_secs(30),
        )
        .await;

    // Granting what her group does not hold is refused by the server, at the scopes.
    browser.type_into("#rb-group", "support").await;
    browser
        .click("#rb-scopes input[value=\"write:alerts\"]")
        .await;
    browser.click("#create-form button[type=submit]").await;
    let refused = wait_for_refusal(&browser, "#rb-scopes-error").await;
    assert!(
        refused.contains("scope_escalation") && refused.contains("write:alerts"),
        "{refused}"
    );
    browser
        .click("#rb-scopes input[value=\"write:alerts\"]")
        .await;
    browser
        .click("#rb-scopes input[value=\"read:checks\"]")
        .await;
    browser.click("#create-form button[type=submit]").await;
    wait_for_item(&browser, "group support").await;

    // Her sessions only: the operator's key session is not hers to see.
    open_page(&browser, &app, SESSIONS_PAGE).await;
    browser
        .wait_for(
            "return document.querySelectorAll('#sessions tbody tr').length === 1",
            Duration::from_secs(10),
        )
        .await;
    assert!(browser.text("#sessions").await.contains("(you)"));
    assert!(!browser.text("#sessions").await.contains(&operator));
    assert_accessible(&browser, "sessions of a person").await;

    // The audit pages are hers to open, and the API's to refuse: no `admin:audit`, no events,
    // no export link to save a refusal as the file, no settings.
    for page in [AUDIT_LOGS_PAGE, AUDIT_LOGGING_PAGE] {
        open_page(&browser, &app, page).await;
        let refusal = wait_for_refusal(&browser, "#page-error").await;
        assert!(
            refusal.contains("admin:audit") && refusal.contains("insufficient_scope"),
            "{page}: {refusal}"
        );
        assert_accessible(&browser, page).await;
    }
    assert_eq!(
        browser
            .run(
                "return document.querySelectorAll('#sinks tbody tr, #rules tbody tr').length",
                json!([])
            )
            .await,
        json!(0)
    );
    open_page(&browser, &app, AUDIT_LOGS_PAGE).await;
    assert_eq!(
        browser
            .run("return document.getElementById('export').hidden", json!([]))
            .await,
        json!(true)
    );
    let errors = console_errors(&browser, &["403"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}

/// The `data-seq` of every row of the audit events table, in order.
async fn listed_seqs(browser: &Browser) -> Vec<i64> {
    let seqs = browser
        .run(
            "return Array.from(document.querySelectorAll('#events tbody tr'))\
             .map((r) => Number(r.dataset.seq))",
            json!([]),
        )
        .await;
    seqs.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// The `data-event-type` of every row of the audit events table.
async fn listed_types(browser: &Browser) -> Vec<String> {
    let types = browser
        .run(
            "return Array.from(document.querySelectorAll('#events tbody tr'))\
             .map((r) => r.dataset.eventType)",
            json!([]),
        )
        .await;
    serde_json::from_value(types).unwrap()
}

/// Submits the audit log's filters and waits until the table shows the answer.
async fn apply_filters(browser: &Browser) {
    browser
        .run(
            "document.getElementById('events').tBodies[0].replaceChildren(); \
             document.getElementById('events-empty').hidden = true;",
            json!([]),
        )
        .await;
    browser.click("#filter-form button[type=submit]").await;
    browser
        .wait_for(
            "return document.querySelectorAll('#events tbody tr').length > 0 || \
             !document.getElementById('events-empty').hidden || \
             Array.from(document.querySelectorAll('#filter-form .field-error')).some((e) => !e.hidden)",
            Duration::from_secs(10),
        )
        .await;
}

async fn the_operator_filters_pages_verifies_and_exports_the_audit_log(backend: Backend) {
    let (app, _db) = TestApp::spawn(backend).await;
    let shoot = backend == Backend::Sqlite;
    let mut accounts = Vec::new();
    for name in ["ci-deployer", "billing-sync", "status-bot"] {
        let answer = app
            .post(
                "/v1/service-accounts",
                &app.admin_key,
                json!({"name": name}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        accounts.push(answer.body["id"].as_str().unwrap().to_owned());
    }
    // A failed authentication of the admin key: a failure in this workspace's chain.
    assert_eq!(
        app.verify(&wrong_secret(&app.admin_key, 1)).await,
        StatusCode::UNAUTHORIZED
    );
    // More than a page (50) in all.
    append_events(&app, 60).await;
    let head = head(&app).await;
    let created = app
        .get(
            "/v1/audit-events?event_type=service_account.created",
            &app.admin_key,
        )
        .await;
    let actor = created.body["items"][0]["actor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    sign_in_with_key(&browser, &app, &app.admin_key).await;
    open_from_nav(&browser, AUDIT_LOGS_PAGE).await;
    assert_eq!(
        browser.text("nav.settings a[aria-current=\"page\"]").await,
        "View Audit Logs"
    );

    // The first page in chain order, then the next one through the cursor.
    let first = listed_seqs(&browser).await;
    assert_eq!(first, (1..=50).collect::<Vec<_>>());
    // Verify chain: the result in words, intact (below: broken, once the log is altered).
    browser.click("#verify-chain").await;
    browser
        .wait_for(
            "return !!document.getElementById('verify-result').dataset.valid",
            Duration::from_secs(20),
        )
        .await;
    let verdict = browser.text("#verify-result").await;
    let report = app
        .get("/v1/audit-events/verify", &app.admin_key)
        .await
        .body;
    assert!(verdict.contains("intact"), "{verdict}");
    assert!(
        verdict.contains(&format!("{} events", report["events_checked"]))
            && verdict.contains(&format!("position {}", report["head_seq"])),
        "{verdict} {report}"
    );
    check_both_widths(&browser, "audit-logs", shoot).await;
    browser.click("#load-more").await;
    browser
        .wait_for(
            "return document.querySelectorAll('#events tbody tr').length > 50",
            Duration::from_secs(10),
        )
        .await;
    let all = listed_seqs(&browser).await;
    assert_eq!(all.first(), Some(&1));
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "{all:?}");
    assert!(*all.last().unwrap() >= head.min(100), "{all:?} to {head}");

    // Each filter, as the API has it.
    browser
        .type_into("#filter-event-type", "service_account.created")
        .await;
    apply_filters(&browser).await;
    assert_eq!(
        listed_types(&browser).await,
        vec!["service_account.created"; 3]
    );
    browser.type_into("#filter-target", &accounts[1]).await;
    apply_filters(&browser).await;
    assert_eq!(listed_types(&browser).await.len(), 1);
    assert!(browser.text("#events tbody").await.contains(&accounts[1]));
    browser.type_into("#filter-target", "").await;
    browser.type_into("#filter-event-type", "").await;
    browser.type_into("#filter-actor", &actor).await;
    apply_filters(&browser).await;
    let by_actor = browser.text("#events tbody").await;
    assert!(by_actor.contains("service_account.created"), "{by_actor}");
    assert!(
        !by_actor.contains("sa_59"),
        "appended events have the system actor"
    );
    browser.type_into("#filter-actor", "").await;
    browser
        .click("#filter-outcome option[value=\"failure\"]")
        .await;
    apply_filters(&browser).await;
    let failures = listed_types(&browser).await;
    assert!(
        !failures.is_empty() && failures.iter().all(|t| t == "auth.failed"),
        "{failures:?}"
    );
    browser.click("#filter-outcome option[value=\"\"]").await;
    // Time: the local time typed is sent as RFC 3339; nothing is recorded in the future.
    browser
        .run(
            "document.getElementById('filter-since').value = '2099-01-01T00:00:00'",
            json!([]),
        )
        .await;
    apply_filters(&browser).await;
    assert!(listed_seqs(&browser).await.is_empty());
    assert!(!browser.text("#events-empty").await.is_empty());
    browser
        .run(
            "document.getElementById('filter-since').value = ''",
            json!([]),
        )
        .await;
    // A value the server refuses is shown in words next to its control.
    browser
        .run(
            "const o = document.createElement('option'); o.value = 'maybe'; o.textContent = 'maybe'; \
             document.getElementById('filter-outcome').appendChild(o); o.selected = true;",
            json!([]),
        )
        .await;
    apply_filters(&browser).await;
    let refusal = wait_for_refusal(&browser, "#filter-outcome-error").await;
    assert!(refusal.contains("invalid_outcome"), "{refusal}");

    // Export JSONL: a plain link the browser downloads with the session cookie.
    browser.click("#export").await;
    let file = browser.downloads().join("audit-events.jsonl");
    let started = Instant::now();
    while !file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no download in {}",
            browser.downloads().display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        i64::try_from(lines.len()).unwrap() >= head,
        "{} lines",
        lines.len()
    );
    assert_eq!(lines[0]["seq"], 1);
    assert!(lines.windows(2).all(|w| w[1]["prev_hash"] == w[0]["hash"]));

    sqlx::query(
        "UPDATE audit_events SET details = '{\"name\":\"forged\"}' WHERE workspace_id = $1 AND seq = 4",
    )
    .bind(&app.workspace_id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    browser.click("#verify-chain").await;
    browser
        .wait_for(
            "return document.getElementById('verify-result').dataset.valid === 'false'",
            Duration::from_secs(20),
        )
        .await;
    let verdict = browser.text("#verify-result").await;
    assert!(verdict.contains("broken at position 4"), "{verdict}");
    let errors = console_errors(&browser, &["422"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}

/// A sink row that has delivered everything and is healthy.
const DELIVERED: &str =
    "r.dataset.lag === '0' && r.dataset.status === 'active' && !r.textContent.includes('never')";

/// A service account is created (an event every sink's defaults forward); waits until the
/// receiver has verified its delivery.
async fn a_delivery_is_verified(app: &TestApp, receiver: &Receiver) {
    let answer = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "delivered"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    app.flush_audit().await;
    eventually("the receiver verifies a delivery", || async {
        receiver
            .events()
            .await
            .iter()
            .any(|e| e["event_type"] == "service_account.created")
    })
    .await;
}

/// The sinks table's row for `id` as `data-*` and text, once `ready` (a script on the row `r`)
/// holds, reloading the page meanwhile: the page shows delivery state as of its loading.
async fn wait_for_sink(browser: &Browser, app: &TestApp, id: &str, ready: &str) -> String {
    let script = format!(
        "const r = document.querySelector('#sinks tr[data-id=\"{id}\"]'); return !!r && ({ready})"
    );
    let started = Instant::now();
    loop {
        if browser.run(&script, json!([])).await == json!(true) {
            return browser.text(&format!("#sinks tr[data-id=\"{id}\"]")).await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "sink {id}: {}",
            browser.text("#sinks").await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        open_page(browser, app, AUDIT_LOGGING_PAGE).await;
    }
}

/// A row deleted through the page's shared delete dialog: the row's table and id, the name its
/// Delete button carries, and the dialog's title for that kind of object.
struct Deleted<'a> {
    table: &'a str,
    id: &'a str,
    name: &'a str,
    title: &'a str,
}

/// Clicks the row's Delete, checks that the dialog names the kind of object, confirms, and
/// waits until the row is gone.
async fn delete_in_shared_dialog(browser: &Browser, row: &Deleted<'_>) {
    let Deleted {
        table,
        id,
        name,
        title,
    } = row;
    browser
        .click(&format!(
            "#{table} tr[data-id=\"{id}\"] button[aria-label=\"Delete {name}\"]"
        ))
        .await;
    assert_eq!(browser.text("#delete-title").await, *title);
    browser.click("#delete-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("return !document.querySelector('#{table} tr[data-id=\"{id}\"]')"),
            Duration::from_secs(10),
        )
        .await;
}

async fn the_operator_sets_retention_tunes_anomaly_rules_and_adds_a_webhook_sink_that_delivers(
    backend: Backend,
) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: with_sinks,
            ..Options::default()
        },
    )
    .await;
    let shoot = backend == Backend::Sqlite;
    let receiver = Receiver::start(0).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    sign_in_with_key(&browser, &app, &app.admin_key).await;
    open_from_nav(&browser, AUDIT_LOGGING_PAGE).await;
    assert_eq!(
        browser
            .run(
                "return document.getElementById('retention-days').value",
                json!([])
            )
            .await,
        json!("365")
    );

    // Retention: the server's floor, in words next to the field; then a value it takes.
    browser.type_into("#retention-days", "10").await;
    browser.click("#retention-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#retention-days-error").await;
    assert!(refusal.contains("retention_days"), "{refusal}");
    browser.type_into("#retention-days", "400").await;
    browser
        .type_into(
            "#default-event-types",
            "api_key.*, auth.*, service_account.*",
        )
        .await;
    browser.press("#retention-days", ENTER).await;
    browser
        .wait_for(
            "return document.getElementById('retention-saved').textContent === 'Saved.'",
            Duration::from_secs(10),
        )
        .await;
    let settings = app.get("/v1/audit-settings", &app.admin_key).await.body;
    assert_eq!(settings["retention_days"], 400, "{settings}");
    assert_eq!(
        settings["default_event_types"],
        json!(["api_key.*", "auth.*", "service_account.*"])
    );

    // A sink the server refuses: the refusal names the URL field.
    browser.type_into("#sink-name", "siem").await;
    browser
        .type_into("#sink-url", "ftp://siem.example/audit")
        .await;
    browser.click("#sink-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#sink-url-error").await;
    assert!(refusal.contains("url"), "{refusal}");
    // CloudWatch asks for its own settings; the webhook's are put away.
    browser
        .click("#sink-kind option[value=\"cloudwatch\"]")
        .await;
    assert_eq!(
        browser
            .run("return [document.getElementById('sink-webhook').hidden, document.getElementById('sink-cloudwatch').hidden]", json!([]))
            .await,
        json!([true, false])
    );
    browser.type_into("#sink-region", "not a region").await;
    browser.click("#sink-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#sink-region-error").await;
    assert!(refusal.contains("region"), "{refusal}");
    browser.click("#sink-kind option[value=\"webhook\"]").await;

    // The webhook sink: its secret shown once, given to the receiver, then a delivery.
    browser.type_into("#sink-url", &receiver.url()).await;
    browser.click("#sink-form button[type=submit]").await;
    let secret = shown_key(&browser).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver
        .control(json!({"secret": secret, "mode": "ok"}))
        .await;
    browser.click("#dismiss-key").await;
    assert_eq!(
        browser
            .run(
                "return document.getElementById('new-key-value').value",
                json!([])
            )
            .await,
        json!(""),
        "the secret is gone from the page once dismissed"
    );
    let sinks = app.get("/v1/audit-sinks", &app.admin_key).await.body;
    let id = sinks["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sinks["items"][0]["event_types"],
        json!(["api_key.*", "auth.*", "service_account.*"]),
        "a sink without its own filter takes the defaults"
    );
    a_delivery_is_verified(&app, &receiver).await;
    assert_eq!(receiver.received().await["rejected"], json!([]));
    let row = wait_for_sink(&browser, &app, &id, DELIVERED).await;
    assert!(
        row.contains(&receiver.url()) && row.contains("webhook"),
        "{row}"
    );
    check_both_widths(&browser, "audit-logging", shoot).await;

    // The receiver fails: the row shows the lag and why, in words; back up, it catches up.
    receiver
        .control(json!({"secret": secret, "mode": "fail"}))
        .await;
    let answer = app
        .post(
            "/v1/service-accounts",
            &app.admin_key,
            json!({"name": "held-back"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    app.flush_audit().await;
    let row = wait_for_sink(
        &browser,
        &app,
        &id,
        "r.dataset.lag !== '0' && r.cells[7].textContent !== 'none'",
    )
    .await;
    assert!(row.contains("500"), "the receiver's answer: {row}");
    receiver
        .control(json!({"secret": secret, "mode": "ok"}))
        .await;
    // Past the backoff (at most 5 minutes) on the server's clock.
    app.clock.advance(Duration::from_secs(301));
    wait_for_sink(
        &browser,
        &app,
        &id,
        "r.dataset.lag === '0' && r.cells[7].textContent === 'none'",
    )
    .await;

    // Replay from the event the first delivery carried: a position past the head is refused at
    // the field in the server's words; that position is taken, and the receiver gets it again.
    let first_seq = receiver
        .events()
        .await
        .iter()
        .find(|e| e["event_type"] == "service_account.created")
        .unwrap()["seq"]
        .as_i64()
        .unwrap();
    let times_received =
        |events: Vec<Value>| events.iter().filter(|e| e["seq"] == first_seq).count();
    assert_eq!(times_received(receiver.events().await), 1);
    browser
        .click(&format!(
            "#sinks tr[data-id=\"{id}\"] button[aria-label=\"Replay siem\"]"
        ))
        .await;
    browser.type_into("#replay-from", "999999").await;
    browser.click("#replay-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#replay-from-error").await;
    assert!(refusal.contains("invalid_from_seq"), "{refusal}");
    browser
        .type_into("#replay-from", &first_seq.to_string())
        .await;
    browser.click("#replay-form button[type=submit]").await;
    browser
        .wait_for(
            "return !document.getElementById('replay-dialog').open",
            Duration::from_secs(10),
        )
        .await;
    eventually("the replayed event arrives again", || async {
        times_received(receiver.events().await) >= 2
    })
    .await;
    wait_for_sink(&browser, &app, &id, "r.dataset.lag === '0'").await;
    assert_eq!(
        app.audit_count(&app.workspace_id, "audit_sink.replayed")
            .await,
        1
    );

    // Disable, from the keyboard: the sink pauses.
    browser
        .press(
            &format!("#sinks tr[data-id=\"{id}\"] button[aria-label=\"Disable siem\"]"),
            ENTER,
        )
        .await;
    wait_for_sink(&browser, &app, &id, "r.dataset.status === 'disabled'").await;
    assert_eq!(
        app.get(&format!("/v1/audit-sinks/{id}"), &app.admin_key)
            .await
            .body["enabled"],
        false
    );

    // Anomaly rules: a threshold the server refuses, in words; one it takes; a rule off.
    let rules = app.get("/v1/anomaly-rules", &app.admin_key).await.body;
    let rule_id = |name: &str| {
        rules["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let burst = rule_id("default-failed-auth-burst");
    let revoked = rule_id("default-revoked-key-use");
    browser
        .click(&format!(
            "#rules tr[data-id=\"{burst}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    assert_eq!(
        browser
            .run(
                "return document.getElementById('rule-key-age').closest('.field').hidden",
                json!([])
            )
            .await,
        json!(true),
        "a failed-auth burst takes no key age"
    );
    browser.type_into("#rule-threshold", "0").await;
    browser.click("#rule-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#rule-threshold-error").await;
    assert!(refusal.contains("threshold"), "{refusal}");
    check_both_widths(&browser, "anomaly-rule", false).await;
    browser.type_into("#rule-threshold", "50").await;
    browser.click("#rule-form button[type=submit]").await;
    // The table is drawn again after the save: click in the new one, not the one going away.
    browser
        .wait_for(
            &format!("const r = document.querySelector('#rules tr[data-id=\"{burst}\"]'); \
                      return !document.getElementById('rule-dialog').open && !!r && r.cells[3].textContent === '50'"),
            Duration::from_secs(10),
        )
        .await;
    browser
        .click(&format!(
            "#rules tr[data-id=\"{revoked}\"] button[aria-label^=\"Turn off\"]"
        ))
        .await;
    browser
        .wait_for(
            &format!("const r = document.querySelector('#rules tr[data-id=\"{revoked}\"]'); return !!r && r.dataset.enabled === 'false'"),
            Duration::from_secs(10),
        )
        .await;
    let burst_rule = app
        .get(&format!("/v1/anomaly-rules/{burst}"), &app.admin_key)
        .await
        .body;
    assert_eq!(burst_rule["threshold"], 50, "{burst_rule}");
    let revoked_rule = app
        .get(&format!("/v1/anomaly-rules/{revoked}"), &app.admin_key)
        .await
        .body;
    assert_eq!(revoked_rule["enabled"], false, "{revoked_rule}");

    // A new rule: the form offers what its kind takes, with the server's default; a threshold
    // under the kind's floor is refused at its field; then the rule, and its deletion.
    browser
        .type_into("#new-rule-name", "key-from-new-network")
        .await;
    browser
        .click("#new-rule-kind option[value=\"new_network\"]")
        .await;
    assert_eq!(
        browser
            .run("return [document.getElementById('new-rule-threshold').closest('.field').hidden, document.getElementById('new-rule-key-age').placeholder]", json!([]))
            .await,
        json!([true, "default 24"])
    );
    browser
        .click("#new-rule-kind option[value=\"rapid_rotation\"]")
        .await;
    browser.type_into("#new-rule-threshold", "1").await;
    browser.click("#new-rule-form button[type=submit]").await;
    let refusal = wait_for_refusal(&browser, "#new-rule-threshold-error").await;
    assert!(refusal.contains("threshold"), "{refusal}");
    browser
        .click("#new-rule-kind option[value=\"new_network\"]")
        .await;
    browser.type_into("#new-rule-key-age", "48").await;
    browser.click("#new-rule-form button[type=submit]").await;
    let listed = "return [...document.querySelectorAll('#rules td.name')].some((td) => td.textContent === 'key-from-new-network')";
    browser.wait_for(listed, Duration::from_secs(10)).await;
    let rules = app.get("/v1/anomaly-rules", &app.admin_key).await.body;
    let created = rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "key-from-new-network")
        .unwrap()
        .clone();
    assert_eq!(created["kind"], "new_network", "{created}");
    assert_eq!(created["min_key_age_hours"], 48, "{created}");
    assert_eq!(created["enabled"], true, "{created}");
    let created_id = created["id"].as_str().unwrap().to_owned();
    let deleted = Deleted {
        table: "rules",
        id: &created_id,
        name: "key-from-new-network",
        title: "Delete anomaly rule",
    };
    delete_in_shared_dialog(&browser, &deleted).await;
    assert_eq!(
        app.get(&format!("/v1/anomaly-rules/{created_id}"), &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Delete the sink through the same dialog, which speaks of the sink again.
    let deleted = Deleted {
        table: "sinks",
        id: &id,
        name: "siem",
        title: "Delete sink",
    };
    delete_in_shared_dialog(&browser, &deleted).await;
    browser
        .wait_for(
            "return !document.getElementById('sinks-empty').hidden",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        app.get(&format!("/v1/audit-sinks/{id}"), &app.admin_key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let errors = console_errors(&browser, &["422"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    receiver.kill().await;
    browser.quit().await;
}

/// Waits until the browser has saved `name`; its text. Chromium first creates the name empty
/// and writes a `.crdownload` beside it, renamed over it when complete.
async fn downloaded(browser: &Browser, name: &str) -> String {
    let file = browser.downloads().join(name);
    let partial = browser.downloads().join(format!("{name}.crdownload"));
    let started = Instant::now();
    while !file.metadata().is_ok_and(|m| m.len() > 0) || partial.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {name} in {}",
            browser.downloads().display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::read_to_string(&file).unwrap()
}

/// A native SSO connection as the form makes it: name, kind, the kind's fields typed (selector,
/// text), and the block the API then stores.
type Native = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Value,
);

async fn the_operator_configures_oidc_and_saml_connections_and_downloads_both_metadata_files(
    backend: Backend,
) {
    let (app, _db) = crate::sign_in::spawn(backend).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900).await;
    let shoot = backend == Backend::Sqlite;
    sign_in_with_key(&browser, &app, &app.admin_key).await;
    open_from_nav(&browser, SSO_PAGE).await;
    let shown =
        |css: &str| format!("return document.querySelector('{css}').getClientRects().length > 0");

    // OIDC: only its block is shown; plain http to a remote issuer is refused at the nested field.
    browser.type_into("#sso-name", "corp-oidc").await;
    browser.click("#sso-kind option[value=\"oidc\"]").await;
    assert_eq!(
        browser.run(&shown("#sso-oidc-issuer"), json!([])).await,
        json!(true)
    );
    assert_eq!(
        browser
            .run(
                "return Array.from(document.querySelectorAll('#create-form [data-kinds]'))\
                 .filter((b) => !b.hidden).map((b) => b.dataset.kinds)",
                json!([])
            )
            .await,
        json!(["oidc", "okta azure_ad onelogin oidc"])
    );
    browser
        .type_into("#sso-oidc-issuer", "http://idp.example.net")
        .await;
    browser.type_into("#sso-client-id", "console-client").await;
    browser
        .type_into("#sso-client-secret", "s3cret-value")
        .await;
    browser.type_into("#sso-email-domains", "example.net").await;
    browser.click("#create-form button[type=submit]").await;
    let refused = wait_for_refusal(&browser, "#sso-oidc-issuer-error").await;
    assert!(
        refused.contains("https") && refused.contains("invalid_url"),
        "{refused}"
    );
    assert_eq!(
        browser
            .run(
                "return document.getElementById('sso-oidc-issuer').getAttribute('aria-invalid')",
                json!([])
            )
            .await,
        json!("true")
    );
    browser
        .type_into("#sso-oidc-issuer", "https://idp.example.net")
        .await;
    browser.click("#create-form button[type=submit]").await;
    let oidc = wait_for_item(&browser, "corp-oidc").await;
    let stored = app
        .get(&format!("/v1/sso-connections/{oidc}"), &app.admin_key)
        .await;
    assert_eq!(stored.body["oidc"]["issuer"], "https://idp.example.net");
    assert_eq!(stored.body["client_secret_set"], true);
    assert_eq!(stored.body["email_domains"], json!(["example.net"]));
    assert!(stored.body.get("saml").is_none(), "{}", stored.body);
    assert_eq!(
        browser
            .text(&format!("tr[data-id=\"{oidc}\"] td.secret"))
            .await,
        "set"
    );

    // SAML: the certificate pasted as PEM; no OAuth fields are shown or sent.
    browser.type_into("#sso-name", "corp-saml").await;
    browser.click("#sso-kind option[value=\"saml\"]").await;
    assert_eq!(
        browser.run(&shown("#sso-client-id"), json!([])).await,
        json!(false)
    );
    browser
        .type_into("#sso-saml-entity-id", "urn:idp:corp")
        .await;
    browser
        .type_into("#sso-saml-sso-url", "https://idp.example.org/sso")
        .await;
    browser
        .type_into("#sso-saml-certificate", crate::sso_connections::CERTIFICATE)
        .await;
    browser.type_into("#sso-email-domains", "example.org").await;
    browser.click("#create-form button[type=submit]").await;
    let saml = wait_for_item(&browser, "corp-saml").await;
    let stored = app
        .get(&format!("/v1/sso-connections/{saml}"), &app.admin_key)
        .await;
    assert_eq!(stored.body["kind"], "saml");
    assert_eq!(stored.body["saml"]["idp_entity_id"], "urn:idp:corp");
    assert!(stored.body.get("client_id").is_none(), "{}", stored.body);

    // The native kinds: each with the fields it needs, stored in its own block.
    let native: [Native; 3] = [
        (
            "corp-okta",
            "okta",
            &[
                ("#sso-okta-domain", "corp.okta.com"),
                ("#sso-okta-server", "aus1corp"),
            ],
            json!({"okta": {"domain": "corp.okta.com", "authorization_server_id": "aus1corp"}}),
        ),
        (
            "corp-azure",
            "azure_ad",
            &[
                ("#sso-azure-tenant", "organizations"),
                ("#sso-azure-tenants", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            ],
            json!({"azure_ad": {"tenant_id": "organizations",
                "allowed_tenants": ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"]}}),
        ),
        (
            "corp-onelogin",
            "onelogin",
            &[("#sso-onelogin-subdomain", "corp")],
            json!({"onelogin": {"subdomain": "corp"}}),
        ),
    ];
    for (name, kind, fields, expected) in native {
        browser.type_into("#sso-name", name).await;
        browser
            .click(&format!("#sso-kind option[value=\"{kind}\"]"))
            .await;
        for (css, value) in fields {
            browser.type_into(css, value).await;
        }
        browser
            .type_into("#sso-client-id", &format!("{kind}-client"))
            .await;
        browser
            .type_into("#sso-client-secret", "native-secret")
            .await;
        browser.type_into("#sso-email-domains", "").await;
        browser.click("#create-form button[type=submit]").await;
        let id = wait_for_item(&browser, name).await;
        let stored = app
            .get(&format!("/v1/sso-connections/{id}"), &app.admin_key)
            .await;
        assert_eq!(stored.body["kind"], kind, "{}", stored.body);
        let block = expected.as_object().unwrap().keys().next().unwrap();
        assert_eq!(stored.body[block], expected[block], "{}", stored.body);
        assert_eq!(stored.body["client_id"], format!("{kind}-client"));
        assert_eq!(stored.body["client_secret_set"], true);
        for other in ["okta", "azure_ad", "onelogin", "oidc", "saml"] {
            assert!(
                other == block || stored.body.get(other).is_none(),
                "{}",
                stored.body
            );
        }
    }
    check_both_widths(&browser, "sso", shoot).await;
    if shoot {
        browser
            .run(
                "document.getElementById('list-title').scrollIntoView()",
                json!([]),
            )
            .await;
        browser.screenshot(&shots().join("sso-list-1280.png")).await;
    }

    // Edit: the secret is write-only, shown as set; left empty, it is kept.
    browser
        .click(&format!(
            "tr[data-id=\"{oidc}\"] button[aria-label^=\"Edit\"]"
        ))
        .await;
    assert!(browser
        .text("#edit-client-secret-state")
        .await
        .contains("set. Leave empty to keep it"));
    assert_eq!(
        browser
            .run(
                "return document.getElementById('edit-client-secret').value",
                json!([])
            )
            .await,
        json!("")
    );
    browser
        .type_into("#edit-email-domains", "example.net, corp.example.net")
        .await;
    browser
        .type_into("#edit-group-mappings", "Engineering=eng")
        .await;
    check_both_widths(&browser, "sso-edit", shoot).await;
    browser.click("#edit-form button[type=submit]").await;
    browser
        .wait_for(
            &format!(
                "return document.querySelector('tr[data-id=\"{oidc}\"]').textContent\
                 .includes('corp.example.net')"
            ),
            Duration::from_secs(10),
        )
        .await;
    let stored = app
        .get(&format!("/v1/sso-connections/{oidc}"), &app.admin_key)
        .await;
    assert_eq!(
        stored.body["email_domains"],
        json!(["corp.example.net", "example.net"])
    );
    assert_eq!(stored.body["group_mappings"], json!({"Engineering": "eng"}));
    assert_eq!(stored.body["client_secret_set"], true, "kept");

    // Both metadata files are plain links the browser saves.
    assert_eq!(
        browser
            .run(
                &format!("return !!document.querySelector('tr[data-id=\"{oidc}\"] a[download]')"),
                json!([])
            )
            .await,
        json!(false),
        "SP metadata is SAML's only"
    );
    browser
        .click(&format!("tr[data-id=\"{saml}\"] a[download]"))
        .await;
    let xml = downloaded(&browser, &format!("sp-metadata-{saml}.xml")).await;
    assert!(xml.contains("EntityDescriptor"), "{xml}");
    let acs = stored_acs(&app, &saml).await;
    assert!(xml.contains(&acs), "{acs} in {xml}");
    browser.click("#oidc-metadata").await;
    let discovery: Value =
        serde_json::from_str(&downloaded(&browser, "openid-configuration.json").await).unwrap();
    let served = app
        .get("/.well-known/openid-configuration", &app.admin_key)
        .await;
    assert_eq!(discovery, served.body);
    assert!(discovery["issuer"].is_string(), "{discovery}");

    // Delete.
    browser
        .click(&format!(
            "tr[data-id=\"{saml}\"] button[aria-label^=\"Delete\"]"
        ))
        .await;
    browser.click("#delete-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("return !document.querySelector('tr[data-id=\"{saml}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    let left = app.get("/v1/sso-connections", &app.admin_key).await;
    let left: Vec<&Value> = left.body["items"].as_array().unwrap().iter().collect();
    assert_eq!(left.len(), 4, "the OIDC and the three native connections");
    assert!(left.iter().all(|c| c["id"] != json!(saml)));
    let errors = console_errors(&browser, &["422"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}

/// The ACS URL the API gives a SAML connection (its SP metadata names it).
async fn stored_acs(app: &TestApp, id: &str) -> String {
    app.get(&format!("/v1/sso-connections/{id}"), &app.admin_key)
        .await
        .body["acs_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The SSO test IdP's client, and the sinks' loopback receiver, in one server.
fn with_sso_and_sinks(settings: &mut statuspulse_server::Settings) {
    crate::helpers::with_master_key(settings);
    with_sinks(settings);
}

/// The issue's walk, in one browser session after another as people would do it: the operator
/// bootstraps with the admin key, configures SSO and tests it (claims and MFA shown, nothing
/// created), downloads the OIDC metadata; a person then signs in through the test IdP, generates
/// a key and uses it, rotates and revokes, filters the audit log and verifies the chain, adds a
/// webhook sink and sees a delivery; with two tabs open, the operator revokes the person's
/// session from a third: both tabs are signed out within 30 s.
async fn one_walk_from_sso_setup_to_a_revocation_every_tab_sees(backend: Backend) {
    let (app, _db) = TestApp::spawn_with(
        backend,
        Options {
            tweak: with_sso_and_sinks,
            ..Options::default()
        },
    )
    .await;
    let idp = crate::sign_in::idp_for(&app, crate::idp::Shape::Generic).await;
    let receiver = Receiver::start(0).await;
    let driver = Driver::start().await;
    let operator = driver.browser(1280, 900).await;

    // 1. The operator: Configure SSO.
    sign_in_with_key(&operator, &app, &app.admin_key).await;
    open_from_nav(&operator, SSO_PAGE).await;
    operator.type_into("#sso-name", "corp").await;
    operator.click("#sso-kind option[value=\"oidc\"]").await;
    operator.type_into("#sso-oidc-issuer", &idp.issuer).await;
    operator
        .type_into("#sso-client-id", crate::sign_in::CLIENT_ID)
        .await;
    operator
        .type_into("#sso-client-secret", crate::sign_in::CLIENT_SECRET)
        .await;
    operator
        .type_into("#sso-scopes", "openid, email, profile, groups")
        .await;
    operator
        .type_into("#sso-email-domains", "example.com")
        .await;
    operator
        .type_into("#sso-group-mappings", "idp-admins=admins")
        .await;
    operator.click("#sso-require-mfa").await;
    operator.click("#create-form button[type=submit]").await;
    let connection = wait_for_item(&operator, "corp").await;

    // Test connection: a round trip through the IdP; the claims and the MFA evidence are shown,
    // and no user or session is created.
    let olga = json!({"sub": "olga", "email": "olga@example.com", "email_verified": true,
        "name": "Olga Ops", "groups": ["idp-admins"], "amr": ["pwd", "otp"]});
    idp.set_next_login(olga.clone()).await;
    operator
        .click(&format!(
            "tr[data-id=\"{connection}\"] button[aria-label^=\"Test connection\"]"
        ))
        .await;
    operator
        .wait_for(
            "return !!document.getElementById('outcome')",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        operator
            .run(
                "return document.getElementById('outcome').dataset.outcome",
                json!([])
            )
            .await,
        json!("would_sign_in"),
        "{}",
        operator.text("main").await
    );
    assert_eq!(operator.text("#claim-subject").await, "olga");
    assert_eq!(operator.text("#claim-email").await, "olga@example.com");
    assert_eq!(operator.text("#claim-amr").await, "pwd, otp");
    assert_eq!(operator.text("#mfa").await, "yes");
    assert_eq!(operator.text("#mfa-required").await, "yes");
    assert_eq!(operator.text("#groups").await, "admins");
    assert!(operator
        .text("#nothing-created")
        .await
        .contains("no session"));
    check_both_widths(&operator, "sso-test", backend == Backend::Sqlite).await;
    let people: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(people, 0, "a test creates no user");
    operator.click("#back").await;
    wait_for_page(&operator, SSO_PAGE).await;

    // Download OIDC Metadata.
    operator.click("#oidc-metadata").await;
    let discovery: Value =
        serde_json::from_str(&downloaded(&operator, "openid-configuration.json").await).unwrap();
    let served = app
        .get("/.well-known/openid-configuration", &app.admin_key)
        .await;
    assert_eq!(discovery, served.body);

    // What the person's group may do, bound by the operator (the API, as Terraform would).
    let binding = app
        .post(
            "/v1/role-bindings",
            &app.admin_key,
            json!({"group": "admins", "scopes": ["admin:keys", "admin:audit", "admin:sso",
                "admin:access", "admin:service_accounts", "read:checks", "write:alerts"]}),
        )
        .await;
    assert_eq!(binding.status, StatusCode::CREATED, "{}", binding.body);
    operator.click("#sign-out").await;
    operator
        .wait_for(
            "return location.pathname === '/console/sign-in'",
            Duration::from_secs(10),
        )
        .await;

    // 2. The person signs in through the test IdP, by email.
    let person = driver.browser(1280, 900).await;
    idp.set_next_login(olga).await;
    person
        .goto(&app.url(&format!("/console/sign-in?return_to={KEYS_PAGE}")))
        .await;
    person.type_into("#sso-email", "olga@example.com").await;
    person.click("#sso-form button[type=submit]").await;
    wait_for_page(&person, KEYS_PAGE).await;
    assert!(person.text("header .who").await.contains("Olga Ops"));

    // Generate New Key, use it, rotate it, revoke both.
    person
        .wait_for(
            "return !!document.querySelector('#gen-scopes input[value=\"read:checks\"]')",
            Duration::from_secs(10),
        )
        .await;
    person.type_into("#gen-name", "status-page-gateway").await;
    person
        .click("#gen-scopes input[value=\"read:checks\"]")
        .await;
    person.click("#generate-form button[type=submit]").await;
    let key = shown_key(&person).await;
    let verified = app.get("/v1/auth/verify", &key).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["scopes"], json!(["read:checks"]));
    let key_id = verified.body["key_id"].as_str().unwrap().to_owned();
    wait_for_row(&person, &key_id, "active").await;
    person.click("#dismiss-key").await;
    person
        .click(&format!("tr[data-key-id=\"{key_id}\"] button"))
        .await;
    person.type_into("#rotate-grace", "1").await;
    person.click("#rotate-form button[type=submit]").await;
    let successor = shown_key(&person).await;
    assert_eq!(app.verify(&successor).await, StatusCode::OK);
    assert_eq!(app.verify(&key).await, StatusCode::OK, "the grace period");
    wait_for_row(&person, &key_id, "rotating").await;
    person.click("#dismiss-key").await;
    let successor_id = app.get("/v1/auth/verify", &successor).await.body["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, reason) in [(&key_id, "rotated out"), (&successor_id, "walk done")] {
        person
            .click(&format!("tr[data-key-id=\"{id}\"] button.danger"))
            .await;
        person.type_into("#revoke-reason", reason).await;
        person.click("#revoke-form button[type=submit]").await;
        wait_for_row(&person, id, "revoked · quarantined").await;
    }
    assert_eq!(app.verify(&key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.verify(&successor).await, StatusCode::UNAUTHORIZED);

    // View Audit Logs: filtered to the revocations, then the chain verified.
    open_from_nav(&person, AUDIT_LOGS_PAGE).await;
    person
        .type_into("#filter-event-type", "api_key.revoked")
        .await;
    apply_filters(&person).await;
    assert_eq!(listed_types(&person).await, vec!["api_key.revoked"; 2]);
    person.click("#verify-chain").await;
    person
        .wait_for(
            "return document.getElementById('verify-result').dataset.valid === 'true'",
            Duration::from_secs(20),
        )
        .await;
    assert!(person.text("#verify-result").await.contains("intact"));

    // Enable Audit Logging: a webhook sink that delivers, verified by the receiver.
    open_from_nav(&person, AUDIT_LOGGING_PAGE).await;
    person.type_into("#sink-name", "siem").await;
    person.type_into("#sink-url", &receiver.url()).await;
    person.click("#sink-form button[type=submit]").await;
    let secret = shown_key(&person).await;
    receiver
        .control(json!({"secret": secret, "mode": "ok"}))
        .await;
    person.click("#dismiss-key").await;
    let sink = app.get("/v1/audit-sinks", &app.admin_key).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a_delivery_is_verified(&app, &receiver).await;
    // (The sink's first attempts may reach the receiver before it is given the secret: those
    // are refused, and delivered again.)
    wait_for_sink(&person, &app, &sink, DELIVERED).await;

    // 3. Two tabs of the person; the operator revokes the session from a third.
    let first = person.window().await;
    let session_id = session_of(&person).await;
    person.new_tab().await;
    person.goto(&app.url(KEYS_PAGE)).await;
    wait_for_page(&person, KEYS_PAGE).await;
    sign_in_with_key(&operator, &app, &app.admin_key).await;
    open_from_nav(&operator, SESSIONS_PAGE).await;
    operator
        .wait_for(
            &format!("return !!document.querySelector('tr[data-id=\"{session_id}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    operator
        .click(&format!(
            "tr[data-id=\"{session_id}\"] button[aria-label^=\"Revoke\"]"
        ))
        .await;
    operator.click("#revoke-form button[type=submit]").await;
    let revoked_at = Instant::now();
    operator
        .wait_for(
            &format!("return !document.querySelector('tr[data-id=\"{session_id}\"]')"),
            Duration::from_secs(10),
        )
        .await;
    let (front, behind) = both_tabs_signed_out(&person, &first, revoked_at).await;
    println!(
        "walk ({backend:?}): after the operator revoked the session from a third tab, the tab in \
         front signed out in {:.1} s and the tab behind was signed out when looked at {:.1} s \
         after",
        front.as_secs_f64(),
        behind.as_secs_f64()
    );
    let errors = console_errors(&person, &["401"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    receiver.kill().await;
    person.quit().await;
    operator.quit().await;
}
