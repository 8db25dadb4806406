//! `/v1/sso-connections`: every kind round-trips; the client secret is sealed with the master key
//! and appears in no answer, audit event, log line or stored value; bad input is a 422 naming
//! the Terraform attribute; other workspaces see 404, keys without `admin:sso` 403.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use statuspulse_server::platform::config::MasterKeySource;

use crate::helpers::{captured_logs, Backend, Options, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    every_kind_round_trips_through_create_list_get_update_delete,
    the_client_secret_is_sealed_and_never_shown,
    bad_input_is_refused_naming_the_attribute_and_changes_nothing,
    other_workspaces_get_404_and_keys_without_admin_sso_get_403,
    a_retried_create_returns_the_first_answer_and_stores_no_trace_of_the_secret,
    mapping_idp_users_into_a_group_is_a_grant_of_what_the_group_holds,
);

pub const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUVvWLuDGaj6njTy0ZKjGNdBD27dMwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMB4XDTI2MTEyOTIyMTkyM1oXDTM2
MTEyNjIyMTkyM1owGjEYMBYGA1UEAwwPaWRwLmV4YW1wbGUuY29tMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEi75AcJtZIY6hn+Jowf/+2k6r/5u2QtuDDV2QXmCq
hbdFqPbKej5h2YWooBjiN80KXu6NOcgGEc1Byn2NnXni9KNTMFEwHQYDVR0OBBYE
FOfIpZnEPU2C+LzSJRsBQKa/hiimMB8GA1UdIwQYMBaAFOfIpZnEPU2C+LzSJRsB
QKa/hiimMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgfkxo7m4v
ztfwBkNxod8Y6MbKj7/7YciDeWf7VKlKp/sCIHp3qabdhKVksZbjgACIVooqm/+K
mAid9EdNwTAOhpr8
-----END CERTIFICATE-----";

/// A server with a configured master key, on either database (PostgreSQL has no default key).
async fn spawn(backend: Backend) -> (TestApp, TestDb) {
    TestApp::spawn_with(
        backend,
        Options {
            tweak: |s| {
                s.master_key = MasterKeySource::Value(
                    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
                        .parse()
                        .unwrap(),
                );
                s.public_url = Some("https://auth.example.com".into());
            },
            ..Options::default()
        },
    )
    .await
}

fn one_of_each() -> Vec<Value> {
    vec![
        json!({"name": "okta", "kind": "okta", "okta": {"domain": "example.okta.com", "authorization_server_id": "default"},
               "client_id": "0oa1", "client_secret": "okta-secret-value-1", "email_domains": ["example.com"], "require_mfa": true,
               "acr_values": ["urn:okta:loa:2fa:any"], "allowed_groups": ["Everyone"], "group_mappings": {"Admins": "ops"}}),
        json!({"name": "azure", "kind": "azure_ad", "azure_ad": {"tenant_id": "common", "allowed_tenants": ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"]},
               "client_id": "a-b", "client_secret": "azure-secret-value-2", "endpoint_override": "http://127.0.0.1:9/azure"}),
        json!({"name": "onelogin", "kind": "onelogin", "onelogin": {"subdomain": "example"}, "client_id": "ol"}),
        json!({"name": "oidc", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"}, "client_id": "c",
               "client_secret": "oidc-secret-value-3", "scopes": ["openid", "email", "groups"]}),
        json!({"name": "saml", "kind": "saml", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "https://idp.example.org/sso",
               "idp_certificate": CERTIFICATE, "groups_attribute": "memberOf"}, "email_domains": ["example.org"]}),
    ]
}

async fn every_kind_round_trips_through_create_list_get_update_delete(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let admin = app.admin_key.clone();
    let mut ids = Vec::new();
    for body in one_of_each() {
        let created = app.post("/v1/sso-connections", &admin, body.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let c = &created.body;
        let id = c["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("sso_"), "{id}");
        assert_eq!(c["kind"], body["kind"]);
        let kind = body["kind"].as_str().unwrap();
        assert_eq!(c[kind], body[kind]);
        assert_eq!(
            c["client_secret_set"],
            json!(body.get("client_secret").is_some())
        );
        assert!(c.get("client_secret").is_none());
        if kind == "saml" {
            assert_eq!(
                c["sp_entity_id"],
                json!(format!(
                    "https://auth.example.com/v1/sso-connections/{id}/saml/metadata"
                ))
            );
            assert_eq!(c["acs_url"], "https://auth.example.com/v1/sso/saml/acs");
            assert_eq!(c["scopes"], json!([]));
        } else {
            assert!(c.get("sp_entity_id").is_none());
            assert!(c["scopes"].as_array().unwrap().contains(&json!("openid")));
        }
        if kind == "onelogin" {
            assert_eq!(
                c["scopes"],
                json!(["email", "openid", "profile"]),
                "the default"
            );
        }
        let read = app.get(&format!("/v1/sso-connections/{id}"), &admin).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.body, created.body);
        ids.push(id);
    }

    // Paginated list, oldest first.
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/v1/sso-connections?limit=2{cursor}"), &admin)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            listed.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(listed, ids);

    // Update in place: a field, a block, an override removed.
    let azure = &ids[1];
    app.clock.advance(std::time::Duration::from_secs(5));
    let before = app
        .get(&format!("/v1/sso-connections/{azure}"), &admin)
        .await
        .body;
    let patched = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{azure}"),
            Some(&admin),
            Some(
                json!({"name": "azure-2", "endpoint_override": "", "require_mfa": true,
                        "azure_ad": {"tenant_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
                        "group_mappings": {"g1": "readers"}}),
            ),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "azure-2");
    assert!(patched.body.get("endpoint_override").is_none());
    assert_eq!(patched.body["azure_ad"]["allowed_tenants"], json!([]));
    assert_eq!(patched.body["group_mappings"], json!({"g1": "readers"}));
    assert_eq!(patched.body["client_secret_set"], true, "kept");
    assert_eq!(patched.body["created_at"], before["created_at"]);
    assert_ne!(patched.body["updated_at"], before["updated_at"]);
    // The kind is fixed.
    let rekind = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{azure}"),
            Some(&admin),
            Some(json!({"kind": "oidc"})),
        )
        .await;
    assert_eq!(
        (rekind.status, rekind.code(), rekind.body["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind_immutable",
            Some("kind")
        )
    );

    // Email domains free up when their connection goes.
    let okta = &ids[0];
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/sso-connections/{okta}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1/sso-connections/{okta}"), &admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reuse = app
        .post(
            "/v1/sso-connections",
            &admin,
            json!({"name": "okta-again", "kind": "oidc", "oidc": {"issuer": "http://127.0.0.1:8443/realm"},
                   "client_id": "x", "email_domains": ["example.com"]}),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::CREATED, "{}", reuse.body);

    let ws = &app.workspace_id;
    assert_eq!(app.audit_count(ws, "sso_connection.created").await, 6);
    assert_eq!(app.audit_count(ws, "sso_connection.updated").await, 1);
    assert_eq!(app.audit_count(ws, "sso_connection.deleted").await, 1);
}

async fn audit_details(app: &TestApp) -> Vec<Value> {
    app.flush_audit().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE event_type LIKE 'sso_connection.%' ORDER BY seq",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

async fn sealed_secret(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT client_secret_sealed FROM sso_connections WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn the_client_secret_is_sealed_and_never_shown(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let admin = app.admin_key.clone();
    let first = "first-Secret-4fd1c0de";
    let second = "second-Secret-9ab3beef";
    let created = app
        .post(
            "/v1/sso-connections",
            &admin,
            json!({"name": "corp", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"},
                   "client_id": "client-1", "client_secret": first}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/sso-connections/{id}");
    let keys = app.state.master_keys.clone().unwrap();
    let context = format!("sso_connection:{id}:client_secret");
    let sealed = sealed_secret(&app, &id).await;
    assert!(sealed.starts_with(&format!("sp1.{}.", keys.current_id())));
    assert_eq!(
        keys.open(&sealed, &context).unwrap().as_slice(),
        first.as_bytes()
    );
    assert!(keys
        .open(&sealed, "sso_connection:other:client_secret")
        .is_err());

    // An update without a secret keeps it; with one, replaces it.
    let renamed = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": "corp-2"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(sealed_secret(&app, &id).await, sealed, "kept as it was");
    let replaced = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"client_secret": second})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["client_secret_set"], true);
    let resealed = sealed_secret(&app, &id).await;
    assert_eq!(
        keys.open(&resealed, &context).unwrap().as_slice(),
        second.as_bytes()
    );

    // Audit: before/after without the secret, and whether it changed.
    let events = audit_details(&app).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["client_secret_changed"], true);
    assert_eq!(events[0]["after"]["client_id"], "client-1");
    assert_eq!(events[1]["client_secret_changed"], false);
    assert_eq!(
        (
            events[1]["before"]["name"].as_str(),
            events[1]["after"]["name"].as_str()
        ),
        (Some("corp"), Some("corp-2"))
    );
    assert_eq!(events[2]["client_secret_changed"], true);

    // Nowhere in clear: answers, audit, logs, any stored value.
    let list = app.get("/v1/sso-connections", &admin).await;
    let read = app.get(&path, &admin).await;
    let audit_page = app.get("/v1/audit-events?limit=200", &admin).await;
    let snapshot = format!("{:?}", app.database_snapshot().await);
    let everything = [
        created.body.to_string(),
        renamed.body.to_string(),
        replaced.body.to_string(),
        list.body.to_string(),
        read.body.to_string(),
        audit_page.body.to_string(),
        format!("{events:?}"),
        captured_logs(),
        snapshot,
    ];
    for (i, text) in everything.iter().enumerate() {
        for secret in [first, second] {
            assert!(!text.contains(secret), "the secret shows in text #{i}");
        }
    }
    assert!(
        everything[8].contains(&resealed),
        "the snapshot holds the sealed value"
    );
}

async fn bad_input_is_refused_naming_the_attribute_and_changes_nothing(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let admin = app.admin_key.clone();
    let existing = app
        .post(
            "/v1/sso-connections",
            &admin,
            json!({"name": "taken", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"},
                   "client_id": "c", "email_domains": ["example.com"]}),
        )
        .await;
    assert_eq!(existing.status, StatusCode::CREATED, "{}", existing.body);
    let oidc = || json!({"name": "n", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"}, "client_id": "c"});
    let with = |patch: Value| {
        let mut body = oidc();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(json!({"kind": "ldap"})), "kind", "invalid_kind"),
        (
            with(json!({"okta": {"domain": "example.okta.com"}})),
            "okta",
            "block_not_for_kind",
        ),
        (with(json!({"oidc": null})), "oidc", "block_required"),
        (
            with(json!({"kind": "okta", "oidc": null})),
            "okta",
            "block_required",
        ),
        (
            with(json!({"oidc": {"issuer": "http://idp.example.net"}})),
            "oidc.issuer",
            "invalid_url",
        ),
        (
            with(json!({"oidc": {"issuer": "ftp://idp.example.net"}})),
            "oidc.issuer",
            "invalid_url",
        ),
        (
            with(json!({"oidc": {"issuer": "https://u:p@idp.example.net"}})),
            "oidc.issuer",
            "invalid_url",
        ),
        (
            with(json!({"endpoint_override": "https://x.example.com"})),
            "endpoint_override",
            "field_not_for_kind",
        ),
        (
            json!({"name": "n", "kind": "okta", "okta": {"domain": "example.okta.com"}, "client_id": "c", "endpoint_override": "http://10.0.0.1/"}),
            "endpoint_override",
            "invalid_url",
        ),
        (
            json!({"name": "n", "kind": "okta", "okta": {"domain": "Example.okta.com"}, "client_id": "c"}),
            "okta.domain",
            "invalid_domain",
        ),
        (
            json!({"name": "n", "kind": "okta", "okta": {"domain": "example.okta.com", "authorization_server_id": "a/b"}, "client_id": "c"}),
            "okta.authorization_server_id",
            "invalid_authorization_server_id",
        ),
        (
            json!({"name": "n", "kind": "azure_ad", "azure_ad": {"tenant_id": "common"}, "client_id": "c"}),
            "azure_ad.allowed_tenants",
            "allowed_tenants_required",
        ),
        (
            json!({"name": "n", "kind": "azure_ad", "azure_ad": {"tenant_id": "organizations", "allowed_tenants": ["not-a-guid"]}, "client_id": "c"}),
            "azure_ad.allowed_tenants",
            "invalid_tenant_id",
        ),
        (
            json!({"name": "n", "kind": "azure_ad", "azure_ad": {"tenant_id": "contoso"}, "client_id": "c"}),
            "azure_ad.tenant_id",
            "invalid_tenant_id",
        ),
        (
            json!({"name": "n", "kind": "onelogin", "onelogin": {"subdomain": "a.b"}, "client_id": "c"}),
            "onelogin.subdomain",
            "invalid_subdomain",
        ),
        (
            with(json!({"client_id": null})),
            "client_id",
            "client_id_required",
        ),
        (
            with(json!({"client_secret": ""})),
            "client_secret",
            "invalid_client_secret",
        ),
        (
            with(json!({"client_secret": "a\u{0}b"})),
            "client_secret",
            "control_character",
        ),
        (
            with(json!({"scopes": ["email"]})),
            "scopes",
            "openid_scope_required",
        ),
        (
            with(json!({"scopes": ["openid", "a b"]})),
            "scopes",
            "invalid_token",
        ),
        (
            with(json!({"email_domains": ["Example.com"]})),
            "email_domains",
            "invalid_email_domain",
        ),
        (
            with(json!({"email_domains": ["example"]})),
            "email_domains",
            "invalid_email_domain",
        ),
        (
            with(json!({"email_domains": ["-a.example.com"]})),
            "email_domains",
            "invalid_email_domain",
        ),
        (
            with(json!({"email_domains": ["user@example.com"]})),
            "email_domains",
            "invalid_email_domain",
        ),
        // The JSON extractor refuses control characters first, naming the element.
        (
            with(json!({"email_domains": ["a\u{0}.com"]})),
            "email_domains[0]",
            "control_character",
        ),
        (
            with(json!({"name": "a\u{0}b"})),
            "name",
            "control_character",
        ),
        (
            with(json!({"acr_values": ["a\"b"]})),
            "acr_values",
            "invalid_token",
        ),
        (
            with(json!({"allowed_groups": [" padded"]})),
            "allowed_groups",
            "invalid_value",
        ),
        (
            with(json!({"group_mappings": {"Admins": ""}})),
            "group_mappings",
            "invalid_name",
        ),
        (
            json!({"name": "n", "kind": "saml", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "https://idp.example.org/sso", "idp_certificate": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"}}),
            "saml.idp_certificate",
            "invalid_certificate",
        ),
        (
            json!({"name": "n", "kind": "saml", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "https://idp.example.org/sso", "idp_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}}),
            "saml.idp_certificate",
            "invalid_certificate",
        ),
        (
            json!({"name": "n", "kind": "saml", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "https://idp.example.org/sso", "idp_certificate": "MIIB"}}),
            "saml.idp_certificate",
            "invalid_certificate",
        ),
        (
            json!({"name": "n", "kind": "saml", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "http://idp.example.org/sso", "idp_certificate": CERTIFICATE}}),
            "saml.idp_sso_url",
            "invalid_url",
        ),
        (
            json!({"name": "n", "kind": "saml", "client_id": "c", "saml": {"idp_entity_id": "urn:idp", "idp_sso_url": "https://idp.example.org/sso", "idp_certificate": CERTIFICATE}}),
            "client_id",
            "field_not_for_kind",
        ),
    ];
    let before = app.database_snapshot().await;
    for (body, field, code) in cases {
        let answer = app.post("/v1/sso-connections", &admin, body.clone()).await;
        assert_eq!(
            (answer.status, answer.body["field"].as_str(), answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field), code),
            "{body}: {}",
            answer.body
        );
    }
    // Conflicts with what exists: the name, and an email domain of another connection.
    let name = app
        .post(
            "/v1/sso-connections",
            &admin,
            with(json!({"name": "taken"})),
        )
        .await;
    assert_eq!(
        (name.status, name.code(), name.body["field"].as_str()),
        (StatusCode::CONFLICT, "name_taken", Some("name"))
    );
    let domain = app
        .post(
            "/v1/sso-connections",
            &admin,
            with(json!({"email_domains": ["other.com", "example.com"]})),
        )
        .await;
    assert_eq!(
        (domain.status, domain.code(), domain.body["field"].as_str()),
        (
            StatusCode::CONFLICT,
            "email_domain_taken",
            Some("email_domains")
        ),
        "{}",
        domain.body
    );
    assert!(domain.body["detail"].as_str().unwrap().contains("taken"));
    // The same rules on update.
    let id = existing.body["id"].as_str().unwrap();
    let bad_update = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&admin),
            Some(json!({"oidc": {"issuer": "http://idp.example.net"}})),
        )
        .await;
    assert_eq!(
        (bad_update.status, bad_update.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("oidc.issuer"))
    );
    assert_eq!(app.database_snapshot().await, before, "nothing changed");
}

async fn other_workspaces_get_404_and_keys_without_admin_sso_get_403(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    let created = app
        .post(
            "/v1/sso-connections",
            &app.admin_key,
            json!({"name": "corp", "kind": "onelogin", "onelogin": {"subdomain": "corp"}, "client_id": "c", "email_domains": ["corp.example"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/v1/sso-connections/{id}");
    let (_, other_admin) = app.new_workspace("tenant").await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "mine"}))),
        (Method::DELETE, None),
    ] {
        let answer = app
            .call(method.clone(), &path, Some(&other_admin), body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method}: {}",
            answer.body
        );
    }
    let theirs = app.get("/v1/sso-connections", &other_admin).await;
    assert_eq!(theirs.body["items"], json!([]));
    // Domains are unique per workspace, not across workspaces.
    let same_domain = app
        .post(
            "/v1/sso-connections",
            &other_admin,
            json!({"name": "corp", "kind": "onelogin", "onelogin": {"subdomain": "corp"}, "client_id": "c", "email_domains": ["corp.example"]}),
        )
        .await;
    assert_eq!(
        same_domain.status,
        StatusCode::CREATED,
        "{}",
        same_domain.body
    );

    let access_admin = app
        .create_key(
            &app.admin_key,
            json!({"name": "access", "environment": "live", "scopes": ["admin:access", "admin:keys"]}),
        )
        .await;
    let access_admin = access_admin["key"].as_str().unwrap();
    for (method, route, body) in [
        (Method::GET, path.clone(), None),
        (Method::GET, "/v1/sso-connections".to_owned(), None),
        (
            Method::POST,
            "/v1/sso-connections".to_owned(),
            Some(
                json!({"name": "x", "kind": "onelogin", "onelogin": {"subdomain": "x"}, "client_id": "c"}),
            ),
        ),
        (Method::PATCH, path.clone(), Some(json!({"name": "x"}))),
        (Method::DELETE, path.clone(), None),
    ] {
        let answer = app
            .call(method.clone(), &route, Some(access_admin), body)
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {route}"
        );
    }
    let sso_admin = app
        .create_key(
            &app.admin_key,
            json!({"name": "sso", "environment": "live", "scopes": ["admin:sso"]}),
        )
        .await;
    let read = app.get(&path, sso_admin["key"].as_str().unwrap()).await;
    assert_eq!(read.status, StatusCode::OK, "admin:sso alone is enough");
}

/// PostgreSQL has no embedded default key: without a configured one, a secret cannot be stored
/// and the create says why; a connection without a secret (SAML, public clients) still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_master_key_a_client_secret_is_refused_with_master_key_required() {
    let (app, _db) = TestApp::spawn(Backend::Postgres).await;
    assert!(app.state.master_keys.is_none());
    let before = app.database_snapshot().await;
    let refused = app
        .post(
            "/v1/sso-connections",
            &app.admin_key,
            json!({"name": "corp", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"}, "client_id": "c", "client_secret": "s3cret-value"}),
        )
        .await;
    assert_eq!(
        (
            refused.status,
            refused.code(),
            refused.body["field"].as_str()
        ),
        (
            StatusCode::CONFLICT,
            "master_key_required",
            Some("client_secret")
        )
    );
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("STATUSPULSE_MASTER_KEY"));
    assert_eq!(app.database_snapshot().await, before);
    let public = app
        .post(
            "/v1/sso-connections",
            &app.admin_key,
            json!({"name": "corp", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"}, "client_id": "c"}),
        )
        .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
    assert_eq!(public.body["client_secret_set"], false);
}

async fn a_retried_create_returns_the_first_answer_and_stores_no_trace_of_the_secret(
    backend: Backend,
) {
    use sha2::{Digest, Sha256};
    let (app, _db) = spawn(backend).await;
    let secret = "idempotent-Secret-55e1";
    let body = json!({"name": "corp", "kind": "oidc", "oidc": {"issuer": "https://idp.example.net"},
                      "client_id": "c", "client_secret": secret});
    let send = |body: Value| {
        app.http
            .post(app.url("/v1/sso-connections"))
            .bearer_auth(&app.admin_key)
            .header("Idempotency-Key", "sso-create-1")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = send(body.clone()).await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(
        retry.json::<Value>().await.unwrap(),
        first,
        "the first answer"
    );
    let list = app.get("/v1/sso-connections", &app.admin_key).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "created once"
    );
    let mut changed = body.clone();
    changed["client_secret"] = json!("another-secret");
    let reused = send(changed).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The stored request hash is keyed: it is not the plain SHA-256 of the body, which would let
    // someone with the database test guesses of the secret.
    let snapshot = format!("{:?}", app.database_snapshot().await);
    assert!(!snapshot.contains(secret));
    let plain = hex::encode(Sha256::digest(serde_json::to_vec(&body).unwrap()));
    assert!(!snapshot.contains(&plain));
}

async fn mapping_idp_users_into_a_group_is_a_grant_of_what_the_group_holds(backend: Backend) {
    let (app, _db) = spawn(backend).await;
    for (group, scopes) in [
        ("readers", json!(["read:checks"])),
        ("sre", json!(["write:alerts", "read:checks"])),
    ] {
        let binding = app
            .post(
                "/v1/role-bindings",
                &app.admin_key,
                json!({"group": group, "scopes": scopes}),
            )
            .await;
        assert_eq!(binding.status, StatusCode::CREATED, "{}", binding.body);
    }
    let sso_admin = app
        .create_key(
            &app.admin_key,
            json!({"name": "sso", "environment": "live", "scopes": ["admin:sso", "read:checks"]}),
        )
        .await;
    let sso_admin = sso_admin["key"].as_str().unwrap();
    let body = |mappings: Value| {
        json!({"name": "corp", "kind": "onelogin", "onelogin": {"subdomain": "corp"}, "client_id": "c",
               "group_mappings": mappings})
    };
    // Into a group bound to more than the caller holds: refused, naming the attribute.
    let refused = app
        .post(
            "/v1/sso-connections",
            sso_admin,
            body(json!({"Admins": "sre"})),
        )
        .await;
    assert_eq!(
        (
            refused.status,
            refused.code(),
            refused.body["field"].as_str()
        ),
        (
            StatusCode::FORBIDDEN,
            "scope_escalation",
            Some("group_mappings")
        ),
        "{}",
        refused.body
    );
    // Into groups within its reach, or with no bindings yet: fine.
    let created = app
        .post(
            "/v1/sso-connections",
            sso_admin,
            body(json!({"Everyone": "readers", "New": "unbound"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let widened = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(sso_admin),
            Some(json!({"group_mappings": {"Everyone": "readers", "Admins": "sre"}})),
        )
        .await;
    assert_eq!(
        (widened.status, widened.body["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("group_mappings"))
    );
    // Mappings it did not add are not its to answer for: a rename passes.
    let by_admin = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(&app.admin_key),
            Some(json!({"group_mappings": {"Everyone": "readers", "Admins": "sre"}})),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/v1/sso-connections/{id}"),
            Some(sso_admin),
            Some(json!({"name": "corp-2"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
}
