//! Conditional access (`/v1/access-policies`): policies are validated, audited and isolated per
//! workspace; the OAuth server narrows scopes by group, client, MFA, network and region at
//! authorization and again at every refresh; `/v1/effective-access` answers for a person or a
//! group in the circumstances asked about.
//!
//! The browser and the token requests come through a trusted proxy (the test server trusts
//! 127.0.0.1), whose `X-Forwarded-For` and `X-Client-Region` headers place them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Backend, Options, TestApp};
use crate::oauth::{self, Setup, REDIRECT};
use crate::on_both_backends;
use crate::sign_in::Browser;

on_both_backends!(
    policies_are_validated_audited_and_refused_to_other_workspaces,
    scopes_are_narrowed_by_mfa_group_and_client_at_authorization,
    network_and_region_narrow_at_authorization_and_a_tightened_policy_at_the_next_refresh,
    effective_access_answers_for_a_person_or_a_group_in_given_circumstances,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarding_headers_are_ignored() {
    forged_forwarding_headers_do_not_satisfy_network_or_region_conditions().await;
}

const READ: &str = "statuspulse:checks:read";

pub(crate) fn behind_a_proxy() -> Options {
    Options {
        tweak: |s| {
            s.master_key = statuspulse_server::platform::config::MasterKeySource::Value(
                "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
                    .parse()
                    .unwrap(),
            );
            s.trusted_proxies =
                statuspulse_server::platform::network::TrustedProxies::parse("127.0.0.1/32")
                    .unwrap();
            s.network_regions = statuspulse_server::platform::network::RegionMap::parse(
                "10.0.0.0/8=eu-west-1,203.0.113.0/24=us-east-1",
            )
            .unwrap();
            s.region_header = Some(axum::http::HeaderName::from_static("x-client-region"));
        },
        ..Options::default()
    }
}

pub(crate) async fn setup(backend: Backend) -> Setup {
    let (app, db) = TestApp::spawn_with(backend, behind_a_proxy()).await;
    oauth::setup_on(app, db).await
}

async fn policy(app: &TestApp, body: Value) -> Value {
    let answer = app.post("/v1/access-policies", &app.admin_key, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

/// Olive signs in (with `amr`), authorizes the client for `scope` from `ip`: the client's
/// redirect (code or error).
async fn authorize_as(s: &Setup, amr: &[&str], ip: &str, scope: &str) -> (reqwest::Url, String) {
    s.idp
        .set_next_login(
            json!({"sub": "olive", "email": "olive@example.com", "email_verified": true,
            "name": "Olive", "groups": ["idp-ops"], "amr": amr}),
        )
        .await;
    let browser = Browser::new();
    browser.appear_as(&[("x-forwarded-for", ip)]);
    let (verifier, challenge) = oauth::pkce();
    let back = oauth::authorize(s, &browser, &oauth::authorize_url(s, &challenge, scope)).await;
    (back, verifier)
}

/// The token answer for a fresh authorization that must succeed.
pub(crate) async fn tokens_as(s: &Setup, amr: &[&str], ip: &str, scope: &str) -> Value {
    let (back, verifier) = authorize_as(s, amr, ip, scope).await;
    let code = oauth::param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, answer) = oauth::code_exchange(s, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// A refresh from `ip` (and a proxy-stated region, if any).
pub(crate) async fn refresh_from(
    s: &Setup,
    refresh_token: &str,
    ip: &str,
    region: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = s
        .app
        .http
        .post(s.app.url("/oauth2/token"))
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .header("x-forwarded-for", ip)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ]);
    if let Some(region) = region {
        request = request.header("x-client-region", region);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

/// The details of the workspace's latest audit event of a type.
async fn last_event(app: &TestApp, event_type: &str) -> Value {
    app.flush_audit().await;
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE workspace_id = $1 AND event_type = $2 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(&app.workspace_id)
    .bind(event_type)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    serde_json::from_str(&details).unwrap()
}

async fn policies_are_validated_audited_and_refused_to_other_workspaces(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let admin = &app.admin_key;
    let created = policy(
        app,
        json!({"name": "alerts need mfa", "scopes": ["statuspulse:alerts:manage", READ],
               "require_mfa": true, "networks": ["10.0.0.0/8"], "client_ids": [s.client_id]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ap_"));
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["scopes"],
        json!(["statuspulse:alerts:manage", READ])
    );
    assert_eq!(created["groups"], json!([]));
    let event = last_event(app, "access_policy.created").await;
    assert_eq!(event["after"]["require_mfa"], true);

    // Every bad input is a 4xx naming its field, and changes nothing.
    let (_, other_admin) = app.new_workspace("other").await;
    let other_client = app
        .post(
            "/v1/oauth-clients",
            &other_admin,
            json!({"name": "theirs", "public": true, "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"]}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let duplicate_client = app
        .post(
            "/v1/oauth-clients",
            &other_admin,
            json!({"name": "theirs", "public": true, "redirect_uris": [REDIRECT], "allowed_scopes": ["openid"]}),
        )
        .await;
    assert_eq!(
        (duplicate_client.status, duplicate_client.code()),
        (StatusCode::CONFLICT, "name_taken")
    );
    let before = app.database_snapshot().await;
    let refused = [
        (
            json!({"name": "x", "scopes": ["openid"]}),
            "conditions_required",
        ),
        (
            json!({"name": "x", "scopes": ["read:checks"], "require_mfa": true}),
            "unknown_scope",
        ),
        (
            json!({"name": "x", "scopes": [], "require_mfa": true}),
            "invalid_scopes",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "networks": ["10.1.2.3/8"]}),
            "invalid_cidr",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "networks": ["10.1.2.3"]}),
            "invalid_cidr",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "regions": ["EU West"]}),
            "invalid_region",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "amr": ["a b"]}),
            "invalid_amr",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "client_ids": [other_client]}),
            "unknown_client",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "client_ids": ["sa_1"]}),
            "invalid_client_id",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "groups": [" ops"]}),
            "invalid_name",
        ),
        (
            json!({"name": "x", "scopes": ["openid"], "require_mfa": true, "when": "always"}),
            "invalid_field",
        ),
        (
            json!({"name": "alerts need mfa", "scopes": ["openid"], "require_mfa": true}),
            "name_taken",
        ),
    ];
    for (body, code) in refused {
        let answer = app.post("/v1/access-policies", admin, body.clone()).await;
        assert!(answer.status.is_client_error(), "{body}: {}", answer.body);
        assert_eq!(answer.code(), code, "{body}: {}", answer.body);
    }
    let narrow = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/access-policies/{id}"),
            Some(admin),
            Some(json!({"require_mfa": false, "networks": [], "client_ids": []})),
        )
        .await;
    assert_eq!(narrow.code(), "conditions_required", "{}", narrow.body);
    assert_eq!(
        app.database_snapshot().await,
        before,
        "refusals changed nothing"
    );

    // Another workspace sees nothing of it; a key without admin:access is refused.
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PATCH, Some(json!({"enabled": false}))),
        (reqwest::Method::DELETE, None),
    ] {
        let answer = app
            .call(
                method.clone(),
                &format!("/v1/access-policies/{id}"),
                Some(&other_admin),
                body,
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method}");
    }
    let listed = app.get("/v1/access-policies", &other_admin).await.body;
    assert_eq!(listed["items"], json!([]));
    let reader = app
        .create_key(
            admin,
            json!({"name": "reader", "environment": "live", "scopes": ["read:checks"]}),
        )
        .await;
    let answer = app
        .get("/v1/access-policies", reader["key"].as_str().unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // A change is audited with before and after; disabling keeps the policy.
    let patched = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/access-policies/{id}"),
            Some(admin),
            Some(json!({"enabled": false, "regions": ["eu-west-1"]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    let event = last_event(app, "access_policy.updated").await;
    assert_eq!(
        (
            event["before"]["enabled"].clone(),
            event["after"]["regions"].clone()
        ),
        (json!(true), json!(["eu-west-1"]))
    );
    let listed = app.get("/v1/access-policies", admin).await.body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/access-policies/{id}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.audit_count(&app.workspace_id, "access_policy.deleted")
            .await,
        1
    );

    // A workspace holds a bounded number of policies.
    for i in 0..statuspulse_api::v1::access_policies::MAX_POLICIES {
        policy(
            app,
            json!({"name": format!("p{i}"), "scopes": ["email"], "require_mfa": true}),
        )
        .await;
    }
    let over = app
        .post(
            "/v1/access-policies",
            admin,
            json!({"name": "one too many", "scopes": ["email"], "require_mfa": true}),
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::CONFLICT, "too_many_policies")
    );
}

async fn scopes_are_narrowed_by_mfa_group_and_client_at_authorization(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    policy(
        app,
        json!({"name": "checks need mfa", "scopes": [READ], "require_mfa": true}),
    )
    .await;

    // Password only: the token carries openid, not the governed scope, and says so.
    let answer = tokens_as(&s, &["pwd"], "10.1.1.1", &format!("openid {READ}")).await;
    assert_eq!(answer["scope"], "openid");
    let (status, _) = oauth::verify(
        app,
        answer["access_token"].as_str().unwrap(),
        "?scope=read:checks",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let issued = last_event(app, "token.issued").await;
    assert_eq!(issued["withheld_by_policy"][0]["scope"], READ);
    assert_eq!(issued["withheld_by_policy"][0]["condition"], "require_mfa");
    // The exchange's own address: the client's back end made it, not the browser.
    assert_eq!(issued["source_ip"], "127.0.0.1", "{issued}");

    // A second factor: the scope is issued.
    let answer = tokens_as(&s, &["pwd", "otp"], "10.1.1.1", &format!("openid {READ}")).await;
    assert_eq!(answer["scope"], format!("openid {READ}"));
    let (status, _) = oauth::verify(
        app,
        answer["access_token"].as_str().unwrap(),
        "?scope=read:checks",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Only the `sre` group, and only another client: both policies must hold, and neither does.
    policy(
        app,
        json!({"name": "sre only", "scopes": [READ], "groups": ["sre"]}),
    )
    .await;
    let other = app
        .post(
            "/v1/oauth-clients",
            &app.admin_key,
            json!({"name": "cli", "public": true, "redirect_uris": [REDIRECT], "allowed_scopes": [READ]}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    policy(
        app,
        json!({"name": "cli only", "scopes": [READ], "client_ids": [other]}),
    )
    .await;
    let answer = tokens_as(&s, &["pwd", "otp"], "10.1.1.1", &format!("openid {READ}")).await;
    assert_eq!(answer["scope"], "openid");
    let issued = last_event(app, "token.issued").await;
    let conditions: Vec<&str> = issued["withheld_by_policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["condition"].as_str().unwrap())
        .collect();
    assert_eq!(conditions, ["groups", "client_ids"]);

    // Asked only for what is withheld: access_denied, with the policy named, and no code.
    let codes_before = count(app, "oauth_codes").await;
    let (back, _) = authorize_as(&s, &["pwd", "otp"], "10.1.1.1", READ).await;
    assert_eq!(
        oauth::param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(oauth::param(&back, "state").as_deref(), Some("st-1"));
    let description = oauth::param(&back, "error_description").unwrap();
    assert!(
        description.contains("`sre only`")
            && description.contains("unmet condition: groups")
            && description.contains("(and 1 more)"),
        "{description}"
    );
    assert!(
        !description.contains("`sre`"),
        "the policy's values stay private: {description}"
    );
    assert!(oauth::param(&back, "code").is_none());
    assert_eq!(count(app, "oauth_codes").await, codes_before);
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn network_and_region_narrow_at_authorization_and_a_tightened_policy_at_the_next_refresh(
    backend: Backend,
) {
    let s = setup(backend).await;
    let app = &s.app;
    let office = policy(
        app,
        json!({"name": "office", "scopes": [READ], "networks": ["10.0.0.0/8", "2001:db8::/32"]}),
    )
    .await;

    // From home (the proxy forwards 198.51.100.7): withheld. From the office: issued.
    let home = tokens_as(&s, &["pwd"], "198.51.100.7", &format!("openid {READ}")).await;
    assert_eq!(home["scope"], "openid");
    let at_office = tokens_as(&s, &["pwd"], "10.2.3.4", &format!("openid {READ}")).await;
    assert_eq!(at_office["scope"], format!("openid {READ}"));

    // A refresh is evaluated where it comes from: from the office it keeps the scope (and the
    // region map places it), from home it narrows, and a narrowed family never widens again.
    let refresh = at_office["refresh_token"].as_str().unwrap();
    let (status, kept) = refresh_from(&s, refresh, "10.2.3.4", None).await;
    assert_eq!(
        (status, kept["scope"].as_str()),
        (StatusCode::OK, Some(format!("openid {READ}").as_str())),
        "{kept}"
    );
    let event = last_event(app, "token.refreshed").await;
    assert_eq!(
        (event["source_ip"].as_str(), event["region"].as_str()),
        (Some("10.2.3.4"), Some("eu-west-1"))
    );
    assert_eq!(
        event["session_id"].as_str().map(|s| s.starts_with("ses_")),
        Some(true)
    );
    assert_eq!(event["withheld_by_policy"], json!([]));
    let (status, narrowed) = refresh_from(
        &s,
        kept["refresh_token"].as_str().unwrap(),
        "198.51.100.7",
        None,
    )
    .await;
    assert_eq!(
        (status, narrowed["scope"].as_str()),
        (StatusCode::OK, Some("openid")),
        "{narrowed}"
    );
    let event = last_event(app, "token.refreshed").await;
    assert_eq!(event["withheld_by_policy"][0]["policy_name"], "office");
    assert_eq!(
        event["region"],
        Value::Null,
        "198.51.100.0/24 is in no region"
    );
    let (status, back_in_office) = refresh_from(
        &s,
        narrowed["refresh_token"].as_str().unwrap(),
        "10.2.3.4",
        None,
    )
    .await;
    assert_eq!(
        (status, back_in_office["scope"].as_str()),
        (StatusCode::OK, Some("openid"))
    );

    // Region: a trusted proxy's header wins over the map; only the EU may read checks.
    let office_id = office["id"].as_str().unwrap();
    let patched = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/access-policies/{office_id}"),
            Some(&app.admin_key),
            Some(json!({"networks": [], "regions": ["eu-west-1"]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let eu = tokens_as(&s, &["pwd"], "10.2.3.4", &format!("openid {READ}")).await;
    assert_eq!(eu["scope"], format!("openid {READ}"));
    let (status, moved) = refresh_from(
        &s,
        eu["refresh_token"].as_str().unwrap(),
        "10.2.3.4",
        Some("US-EAST-1"),
    )
    .await;
    assert_eq!(
        (status, moved["scope"].as_str()),
        (StatusCode::OK, Some("openid")),
        "{moved}"
    );
    let event = last_event(app, "token.refreshed").await;
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["withheld_by_policy"][0]["condition"], "regions");

    // A policy tightened after the tokens were issued narrows them at their next refresh; when
    // it leaves nothing, the refresh is refused and the family revoked.
    let eu = tokens_as(&s, &["pwd"], "10.2.3.4", &format!("openid {READ}")).await;
    assert_eq!(eu["scope"], format!("openid {READ}"));
    policy(
        app,
        json!({"name": "lockdown", "scopes": ["openid", READ], "groups": ["nobody"]}),
    )
    .await;
    let (status, refused) =
        refresh_from(&s, eu["refresh_token"].as_str().unwrap(), "10.2.3.4", None).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("`lockdown`"),
        "{refused}"
    );
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL \
         AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
    )
    .bind(statuspulse_server::authn::session::secret_hash(
        eu["refresh_token"].as_str().unwrap(),
    ))
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(live, 0, "nothing of the family can be refreshed any more");
    // The access token already issued lives out its 15 minutes: policies govern issuance.
    let (status, _) = oauth::verify(app, eu["access_token"].as_str().unwrap(), "").await;
    assert_eq!(status, StatusCode::OK);
}

/// A client that is not a trusted proxy cannot place itself: its `X-Forwarded-For` and region
/// header are ignored, and the TCP peer (127.0.0.1, in no listed network) is what is evaluated.
async fn forged_forwarding_headers_do_not_satisfy_network_or_region_conditions() {
    let (app, db) = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            tweak: |s| {
                (behind_a_proxy().tweak)(s);
                s.trusted_proxies = Default::default();
            },
            ..Options::default()
        },
    )
    .await;
    let s = oauth::setup_on(app, db).await;
    policy(
        &s.app,
        json!({"name": "office", "scopes": [READ], "networks": ["10.0.0.0/8"]}),
    )
    .await;
    policy(
        &s.app,
        json!({"name": "eu", "scopes": [READ], "regions": ["eu-west-1"]}),
    )
    .await;
    let forged = tokens_as(&s, &["pwd"], "10.2.3.4", &format!("openid {READ}")).await;
    assert_eq!(forged["scope"], "openid");
    let (status, refreshed) = refresh_from(
        &s,
        forged["refresh_token"].as_str().unwrap(),
        "10.2.3.4",
        Some("eu-west-1"),
    )
    .await;
    assert_eq!(
        (status, refreshed["scope"].as_str()),
        (StatusCode::OK, Some("openid"))
    );
    let event = last_event(&s.app, "token.refreshed").await;
    assert_eq!(
        (event["source_ip"].as_str(), event["region"].clone()),
        (Some("127.0.0.1"), Value::Null)
    );
}

async fn effective_access_answers_for_a_person_or_a_group_in_given_circumstances(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let admin = &app.admin_key;
    policy(
        app,
        json!({"name": "checks from the office with mfa", "scopes": [READ],
               "require_mfa": true, "networks": ["10.0.0.0/8"]}),
    )
    .await;
    // Olive exists once she has signed in.
    tokens_as(&s, &["pwd"], "10.1.1.1", "openid").await;
    let user: String = sqlx::query_scalar("SELECT id FROM users WHERE subject = 'olive'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();

    let floor = app
        .get(&format!("/v1/effective-access?user_id={user}"), admin)
        .await;
    assert_eq!(floor.status, StatusCode::OK, "{}", floor.body);
    let body = &floor.body;
    assert_eq!(body["principal_type"], "user");
    assert_eq!(body["groups"], json!(["ops"]));
    assert_eq!(body["scopes"], json!(["read:checks", "read:alerts"]));
    assert_eq!(body["oauth_scopes"], json!(["email", "openid", "profile"]));
    assert_eq!(body["withheld_oauth_scopes"][0]["condition"], "require_mfa");

    let met = app
        .get(
            &format!(
                "/v1/effective-access?user_id={user}&mfa=true&ip=10.9.8.7&client_id={}",
                s.client_id
            ),
            admin,
        )
        .await;
    assert_eq!(
        met.body["oauth_scopes"],
        json!(["email", "openid", "profile", READ]),
        "{}",
        met.body
    );
    assert_eq!(met.body["withheld_oauth_scopes"], json!([]));
    let from_home = app
        .get(
            "/v1/effective-access?group=ops&mfa=true&ip=198.51.100.1",
            admin,
        )
        .await;
    assert_eq!(from_home.body["principal_type"], "group");
    assert_eq!(
        from_home.body["withheld_oauth_scopes"][0]["condition"],
        "networks"
    );
    let nobody = app.get("/v1/effective-access?group=strangers", admin).await;
    assert_eq!(nobody.body["scopes"], json!([]));
    assert_eq!(
        nobody.body["oauth_scopes"],
        json!(["email", "openid", "profile"])
    );

    for (query, code) in [
        (format!("user_id={user}&ip=10.1"), "invalid_ip"),
        (format!("user_id={user}&region=EU"), "invalid_region"),
        (format!("user_id={user}&mfa=maybe"), "invalid_query"),
        ("group=ops&client_id=oc_0123".to_owned(), "unknown_client"),
        (format!("group=ops&user_id={user}"), "principal_required"),
        (
            "service_account_id=sa_1&mfa=true".to_owned(),
            "circumstances_for_people_only",
        ),
    ] {
        let answer = app
            .get(&format!("/v1/effective-access?{query}"), admin)
            .await;
        assert!(answer.status.is_client_error(), "{query}: {}", answer.body);
        assert_eq!(answer.code(), code, "{query}: {}", answer.body);
    }
    // Another workspace's admin learns nothing of Olive.
    let (_, other_admin) = app.new_workspace("other").await;
    let answer = app
        .get(
            &format!("/v1/effective-access?user_id={user}"),
            &other_admin,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}
