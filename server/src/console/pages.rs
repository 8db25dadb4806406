//! The console's pages: server-rendered shells (structure, labels, forms) that the script fills
//! from the API. Every value is escaped by maud; nothing is marked `PreEscaped`.

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::app::AppState;
use crate::authn::Principal;
use statuspulse_api::v1::anomaly_rules::{
    AnomalyKind, MAX_KEY_AGE_HOURS, MAX_THRESHOLD, MAX_WINDOW_MINUTES,
};
use statuspulse_api::v1::audit::{MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};

/// Settings > Integrations > API Keys, as the product page names it.
pub const API_KEYS_PATH: &str = "/console/settings/integrations/api-keys";
/// Settings > Access > Service accounts.
pub const SERVICE_ACCOUNTS_PATH: &str = "/console/settings/access/service-accounts";
/// Settings > Access > Role bindings.
pub const ROLE_BINDINGS_PATH: &str = "/console/settings/access/role-bindings";
/// Settings > Access > Environment clusters.
pub const CLUSTERS_PATH: &str = "/console/settings/access/environment-clusters";

/// Settings > Security > Configure SSO, as the product page names it.
pub const SSO_PATH: &str = "/console/settings/security/sso";
/// Settings > Security > Sessions.
pub const SESSIONS_PATH: &str = "/console/settings/security/sessions";
/// Settings > Security > View Audit Logs, as the product page names it.
pub const AUDIT_LOGS_PATH: &str = "/console/settings/security/audit-logs";
/// Settings > Security > Enable Audit Logging, as the product page names it.
pub const AUDIT_LOGGING_PATH: &str = "/console/settings/security/audit-logging";

/// The settings pages, in the order of the navigation: (path, title, section).
const SETTINGS: [(&str, &str, &str); 8] = [
    (API_KEYS_PATH, "API Keys", "Integrations"),
    (SERVICE_ACCOUNTS_PATH, "Service accounts", "Access"),
    (ROLE_BINDINGS_PATH, "Role bindings", "Access"),
    (CLUSTERS_PATH, "Environment clusters", "Access"),
    (SSO_PATH, "Configure SSO", "Security"),
    (SESSIONS_PATH, "Sessions", "Security"),
    (AUDIT_LOGS_PATH, "View Audit Logs", "Security"),
    (AUDIT_LOGGING_PATH, "Enable Audit Logging", "Security"),
];
const SIGN_IN_PATH: &str = "/console/sign-in";

/// The Content-Security-Policy of every console answer: scripts, styles and requests only from
/// this origin, nothing inline, no plugins, no framing, no `<base>`, forms only to us.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// Who the page is for: a browser session (a person's, or a key session's).
struct Viewer {
    session_id: String,
    csrf_token: String,
    workspace_id: String,
    /// A person's user id (`usr_…`): "sign out everywhere" ends their sessions.
    user_id: Option<String>,
    /// A key session's key (`key_…`): "sign out everywhere" ends the key's sessions.
    api_key_id: Option<String>,
    /// Shown in the header.
    label: String,
}

/// The request's browser session, if it has a live one. A Bearer credential is not a browser
/// session: a page is never rendered for one.
async fn viewer(state: &AppState, parts: &Parts) -> Option<Viewer> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    match crate::http::auth::authenticate(parts, state).await.ok()? {
        Principal::Session(s) => Some(Viewer {
            session_id: s.session_id.clone(),
            csrf_token: s.csrf_token.clone(),
            workspace_id: s.workspace_id.clone(),
            user_id: Some(s.user_id.clone()),
            api_key_id: None,
            label: s
                .name
                .clone()
                .or_else(|| s.email.clone())
                .unwrap_or_else(|| s.user_id.clone()),
        }),
        Principal::KeySession(s) => Some(Viewer {
            session_id: s.session_id.clone(),
            csrf_token: s.csrf_token.clone(),
            workspace_id: s.key.workspace_id.clone(),
            user_id: None,
            api_key_id: Some(s.key.id.clone()),
            label: format!("Admin key {}", s.key.key_id.as_str()),
        }),
        Principal::ApiKey(_) | Principal::AccessToken(_) => None,
    }
}

/// `GET /console`: the console lives at `/console/`.
pub async fn to_console() -> Response {
    see_other("/console/")
}

/// `GET /console/`: the API keys page when signed in, else sign-in.
pub async fn home(State(state): State<AppState>, parts: Parts) -> Response {
    match viewer(&state, &parts).await {
        Some(_) => see_other(API_KEYS_PATH),
        None => see_other(SIGN_IN_PATH),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
    signed_out: Option<String>,
}

/// Where to go after signing in: a console path (checked as the SSO flow checks `return_to`),
/// else the console's home. Never another host: no open redirect.
fn console_return_to(value: Option<&str>) -> String {
    value
        .and_then(|v| crate::signin::flow::return_to(Some(v)).ok())
        .filter(|v| {
            // Console paths are plain: no dot segments (`..`, `%2e`) to climb out with.
            v.starts_with("/console/")
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_?=&".contains(&b))
        })
        .unwrap_or_else(|| "/console/".to_owned())
}

/// `GET /console/sign-in`: SSO by email, or the bootstrap admin key.
pub async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    query: Result<Query<SignInQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = query.unwrap_or_default();
    let return_to = console_return_to(query.return_to.as_deref());
    if viewer(&state, &parts).await.is_some() {
        return see_other(&return_to);
    }
    let body = html! {
        main #main .narrow {
            h1 { "Sign in to StatusPulse" }
            @if query.signed_out.is_some() {
                p #signed-out .notice role="status" { "You were signed out." }
            }
            section aria-labelledby="sso-title" {
                h2 #sso-title { "Sign in with SSO" }
                form #sso-form .stack data-return-to=(return_to) novalidate {
                    label for="sso-email" { "Work email" }
                    input #sso-email type="email" autocomplete="email" required
                        aria-describedby="sso-email-error";
                    p #sso-email-error .field-error data-error-for="email" hidden {}
                    button type="submit" { "Continue with SSO" }
                }
            }
            section aria-labelledby="key-title" {
                h2 #key-title { "Bootstrap: sign in with the admin API key" }
                p .hint {
                    "Before SSO is configured, the workspace's admin key (printed once by "
                    code { "statuspulse-server bootstrap" }
                    ") signs you in. It is sent once and not kept: your browser holds only a "
                    "session, which ends when the key is revoked."
                }
                // No `name` on the field: even without the script, the key is never submitted
                // as a form field or put in a URL.
                form #key-form .stack data-return-to=(return_to) novalidate {
                    label for="key-input" { "Admin API key" }
                    input #key-input type="password" autocomplete="off" spellcheck="false"
                        required aria-describedby="key-input-error";
                    p #key-input-error .field-error data-error-for="key" hidden {}
                    button type="submit" { "Sign in with key" }
                }
            }
        }
    };
    page("Sign in", None, &body)
}

/// A settings page (one of [`SETTINGS`]) for the signed-in viewer, or the way to sign in and
/// back: breadcrumb, title, the page's problem line, then `content`.
async fn settings_page(state: &AppState, parts: &Parts, path: &str, content: &Markup) -> Response {
    let Some(viewer) = viewer(state, parts).await else {
        return see_other(&format!("{SIGN_IN_PATH}?return_to={path}"));
    };
    let Some(&(_, title, section)) = SETTINGS.iter().find(|(p, ..)| *p == path) else {
        return not_found();
    };
    let slug = path.rsplit('/').next().unwrap_or_default();
    let body = html! {
        main #main data-page=(slug) {
            nav aria-label="Breadcrumb" .crumbs {
                ol { li { "Settings" } li { (section) } li aria-current="page" { (title) } }
            }
            h1 { (title) }
            p #page-error .problem role="alert" hidden {}
            (content)
        }
    };
    page(title, Some((&viewer, path)), &body)
}

/// `GET /console/settings/integrations/api-keys`: the key list, Generate New Key, rotate, revoke,
/// and each key's effective access.
pub async fn api_keys(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="generate-title" .card {
            h2 #generate-title { "Generate New Key" }
            form #generate-form .grid novalidate {
                div .field {
                    label for="gen-name" { "Name" }
                    input #gen-name type="text" required maxlength="200"
                        aria-describedby="gen-name-error";
                    p #gen-name-error .field-error data-error-for="name" hidden {}
                }
                div .field {
                    label for="gen-environment" { "Environment" }
                    select #gen-environment aria-describedby="gen-environment-error" {
                        option value="live" { "live (sp_live_)" }
                        option value="test" { "test (sp_test_)" }
                    }
                    p #gen-environment-error .field-error data-error-for="environment" hidden {}
                }
                div .field {
                    label for="gen-service-account" { "Service account" }
                    select #gen-service-account
                        aria-describedby="gen-service-account-error gen-service-account-note" {
                        option value="" { "None (workspace)" }
                    }
                    p #gen-service-account-note .hint hidden {}
                    p #gen-service-account-error .field-error
                        data-error-for="service_account_id" hidden {}
                }
                div .field {
                    label for="gen-rotation" { "Rotate after (days)" }
                    input #gen-rotation type="number" min="1" max="365" value="90"
                        aria-describedby="gen-rotation-error";
                    p #gen-rotation-error .field-error data-error-for="rotation_days" hidden {}
                }
                (scope_fieldset("gen-scopes"))
                (cluster_fieldset("gen-clusters"))
                // Typed: the API has no list of check groups or alert routes to pick from.
                div .field {
                    label for="gen-check-groups" { "Check group ids (comma separated)" }
                    input #gen-check-groups type="text"
                        aria-describedby="gen-check-groups-error";
                    p #gen-check-groups-error .field-error data-error-for="check_group_ids"
                        hidden {}
                }
                div .field {
                    label for="gen-alert-routes" { "Alert route ids (comma separated)" }
                    input #gen-alert-routes type="text"
                        aria-describedby="gen-alert-routes-error";
                    p #gen-alert-routes-error .field-error data-error-for="alert_route_ids"
                        hidden {}
                }
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Generate New Key" } }
            }
        }
        (secret_panel("Your new key", "Key", "StatusPulse keeps only a hash of it."))
        section aria-labelledby="list-title" .card {
            h2 #list-title { "Keys" }
            div .row.filters {
                label for="filter-text" { "Filter" }
                input #filter-text type="search" placeholder="name, key id, scope…";
                label for="filter-status" { "Status" }
                select #filter-status {
                    option value="" { "any" }
                    option value="active" { "active" }
                    option value="rotating" { "rotating" }
                    option value="expired" { "expired" }
                    option value="revoked" { "revoked (quarantined)" }
                }
            }
            (list_table("keys", "list-title", &["Name", "Key id", "Status", "Environment",
                "Scopes", "Restrictions", "Last used", "Rotate after", "Actions"]))
            p #keys-empty .hint hidden { "No keys match." }
            button #load-more type="button" hidden { "Load more" }
        }
        dialog #rotate-dialog aria-labelledby="rotate-title" {
            form #rotate-form .stack method="dialog" novalidate {
                h2 #rotate-title { "Rotate key" }
                p { "A successor key is generated; the old one keeps working for the grace "
                    "period, then is revoked." }
                p { "Key: " code #rotate-key-name {} }
                label for="rotate-grace" { "Grace period (hours)" }
                input #rotate-grace type="number" min="0" max="720" value="24"
                    aria-describedby="rotate-grace-error";
                p #rotate-grace-error .field-error data-error-for="grace_period_hours" hidden {}
                p .field-error data-error-for="" hidden {}
                div .row {
                    button type="submit" value="rotate" { "Rotate" }
                    button type="button" .cancel { "Cancel" }
                }
            }
        }
        dialog #revoke-dialog aria-labelledby="revoke-title" {
            form #revoke-form .stack method="dialog" novalidate {
                h2 #revoke-title { "Revoke key" }
                p { "The key stops working at once. It stays listed as revoked for a 30-day "
                    "quarantine, then is deleted." }
                p { "Key: " code #revoke-key-name {} }
                label for="revoke-reason" { "Reason" }
                input #revoke-reason type="text" required maxlength="500"
                    aria-describedby="revoke-reason-error";
                p #revoke-reason-error .field-error data-error-for="reason" hidden {}
                p .field-error data-error-for="" hidden {}
                div .row {
                    button type="submit" value="revoke" .danger { "Revoke" }
                    button type="button" .cancel { "Cancel" }
                }
            }
        }
        (access_dialog())
    };
    settings_page(&state, &parts, API_KEYS_PATH, &content).await
}

/// `GET /console/settings/access/service-accounts`: create, rename, delete, effective access.
pub async fn service_accounts(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="create-title" .card {
            h2 #create-title { "New service account" }
            form #create-form .grid novalidate {
                (text_field("sa-name", "Name", "name", true))
                (text_field("sa-description", "Description", "description", false))
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Create service account" } }
            }
        }
        (list_card("Service accounts", None, &["Name", "Id", "Description", "Created", "Actions"]))
        dialog #edit-dialog aria-labelledby="edit-title" {
            form #edit-form .stack method="dialog" novalidate {
                h2 #edit-title { "Edit service account" }
                (text_field("edit-name", "Name", "name", true))
                (text_field("edit-description", "Description", "description", false))
                (dialog_buttons("Save", false))
            }
        }
        (delete_dialog("service account", "Its role bindings are deleted with it. A service \
            account that still has usable keys cannot be deleted: revoke them first."))
        (access_dialog())
    };
    settings_page(&state, &parts, SERVICE_ACCOUNTS_PATH, &content).await
}

/// `GET /console/settings/access/role-bindings`: what a service account or an SSO group is
/// granted, and in which clusters.
pub async fn role_bindings(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="create-title" .card {
            h2 #create-title { "New role binding" }
            p .hint { "A binding grants scopes to a service account or to an SSO group, in every \
                cluster or only in those checked. You can grant only what you hold yourself." }
            form #create-form .grid novalidate {
                div .field {
                    label for="rb-service-account" { "Service account" }
                    select #rb-service-account aria-describedby="rb-service-account-error" {
                        option value="" { "None: bind a group" }
                    }
                    p #rb-service-account-error .field-error data-error-for="service_account_id"
                        hidden {}
                }
                (text_field("rb-group", "Or SSO group", "group", false))
                (scope_fieldset("rb-scopes"))
                (cluster_fieldset("rb-clusters"))
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Create role binding" } }
            }
        }
        (list_card("Role bindings", None, &["Principal", "Scopes", "Clusters", "Updated", "Actions"]))
        dialog #edit-dialog aria-labelledby="edit-title" {
            form #edit-form .stack method="dialog" novalidate {
                h2 #edit-title { "Edit role binding" }
                p { "Principal: " code #edit-principal {} }
                (scope_fieldset("edit-scopes"))
                (cluster_fieldset("edit-clusters"))
                (dialog_buttons("Save", false))
            }
        }
        (delete_dialog("role binding", "What it grants is withdrawn at once: the principal's \
            keys lose the scopes no other binding grants."))
    };
    settings_page(&state, &parts, ROLE_BINDINGS_PATH, &content).await
}

/// `GET /console/settings/access/environment-clusters`: the named slices of an environment that
/// bindings and keys are confined to.
pub async fn environment_clusters(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="create-title" .card {
            h2 #create-title { "New environment cluster" }
            form #create-form .grid novalidate {
                (text_field("cl-name", "Name", "name", true))
                div .field {
                    label for="cl-environment" { "Environment" }
                    select #cl-environment aria-describedby="cl-environment-error" {
                        option value="live" { "live" }
                        option value="test" { "test" }
                    }
                    p #cl-environment-error .field-error data-error-for="environment" hidden {}
                }
                (text_field("cl-description", "Description", "description", false))
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Create environment cluster" } }
            }
        }
        (list_card("Environment clusters", None, &["Name", "Environment", "Description", "Id", "Actions"]))
        dialog #edit-dialog aria-labelledby="edit-title" {
            form #edit-form .stack method="dialog" novalidate {
                h2 #edit-title { "Edit environment cluster" }
                p { "Cluster: " code #edit-cluster {} " (name and environment are fixed)" }
                (text_field("edit-description", "Description", "description", false))
                (dialog_buttons("Save", false))
            }
        }
        (delete_dialog("environment cluster", "A cluster that a role binding or a usable key \
            names cannot be deleted: change them first."))
    };
    settings_page(&state, &parts, CLUSTERS_PATH, &content).await
}

/// `GET /console/settings/security/sso`: the workspace's SSO connections of every kind (list,
/// create, edit, delete), each SAML connection's SP metadata, and our own OIDC discovery document.
pub async fn sso(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="metadata-title" .card {
            h2 #metadata-title { "Download OIDC Metadata" }
            p .hint { "StatusPulse's own OpenID Connect discovery document (issuer, endpoints, \
                the signing keys' URL), for the services that accept StatusPulse tokens." }
            // Public and same-origin: a plain link the browser saves, no script, no exception
            // to the policy.
            a #oidc-metadata .button href="/.well-known/openid-configuration"
                download="openid-configuration.json" { "Download OIDC Metadata" }
        }
        section aria-labelledby="create-title" .card {
            h2 #create-title { "New SSO connection" }
            p .hint { "People whose email is in one of the connection's domains sign in through \
                it. Only the fields of the chosen kind are shown and sent." }
            form #create-form .grid novalidate {
                (text_field("sso-name", "Name", "name", true))
                (labelled("sso-kind", "Kind", "kind", |id, error| html! {
                    select id=(id) aria-describedby=(error) {
                        @for (kind, text) in SSO_KINDS { option value=(kind) { (text) } }
                    }
                }))
                (sso_fields("sso"))
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Create SSO connection" } }
            }
        }
        (list_card("SSO connections", Some("Test connection signs you in through the \
            identity provider and shows the claims it sent (MFA evidence included) and what the \
            connection's rules make of them. It creates no user and no session."), &["Name", "Kind", "Identity provider", "Email domains",
            "Client secret", "Id", "Actions"]))
        dialog #edit-dialog aria-labelledby="edit-title" {
            form #edit-form .stack method="dialog" novalidate {
                h2 #edit-title { "Edit SSO connection" }
                p { "Kind: " code #edit-kind {} " (fixed: another kind is a new connection)" }
                (text_field("edit-name", "Name", "name", true))
                (sso_fields("edit"))
                (dialog_buttons("Save", false))
            }
        }
        (delete_dialog("SSO connection", "Nobody signs in through it any more; the sessions \
            it opened stay until they end or are revoked."))
    };
    settings_page(&state, &parts, SSO_PATH, &content).await
}

/// The kinds of SSO connection, as the kind list names them.
const SSO_KINDS: [(&str, &str); 5] = [
    ("okta", "Okta"),
    ("azure_ad", "Azure AD (Entra ID)"),
    ("onelogin", "OneLogin"),
    ("oidc", "OpenID Connect (any provider)"),
    ("saml", "SAML 2.0"),
];

/// The fields of an SSO connection after its name and kind, ids prefixed `prefix-`. A block
/// marked `data-kinds` is shown (and sent) only for those kinds, as the API refuses the others'.
fn sso_fields(prefix: &str) -> Markup {
    let id = |name: &str| format!("{prefix}-{name}");
    let comma = "comma separated";
    html! {
        div .wide.grid data-kinds="okta" {
            (text_field(&id("okta-domain"), "Okta domain (example.okta.com)", "okta.domain",
                true))
            (text_field(&id("okta-server"), "Authorization server id (empty: the org server)",
                "okta.authorization_server_id", false))
        }
        div .wide.grid data-kinds="azure_ad" {
            (text_field(&id("azure-tenant"), "Tenant id (a GUID, or common / organizations)",
                "azure_ad.tenant_id", true))
            (text_field(&id("azure-tenants"), &format!("Allowed tenant ids ({comma}; only with \
                common or organizations)"), "azure_ad.allowed_tenants", false))
        }
        div .wide.grid data-kinds="onelogin" {
            (text_field(&id("onelogin-subdomain"), "OneLogin subdomain (example)",
                "onelogin.subdomain", true))
        }
        div .wide.grid data-kinds="oidc" {
            (text_field(&id("oidc-issuer"), "Issuer URL (https)", "oidc.issuer", true))
        }
        div .wide.grid data-kinds="saml" {
            (text_field(&id("saml-entity-id"), "IdP entity id", "saml.idp_entity_id", true))
            (text_field(&id("saml-sso-url"), "IdP single sign-on URL (https)",
                "saml.idp_sso_url", true))
            (labelled(&id("saml-certificate"), "IdP signing certificate (PEM)",
                "saml.idp_certificate", |id, error| html! {
                    textarea id=(id) .wide rows="6" spellcheck="false" required
                        aria-describedby=(error) {}
                }))
            (text_field(&id("saml-groups-attribute"), "Groups attribute (optional)",
                "saml.groups_attribute", false))
        }
        div .wide.grid data-kinds="okta azure_ad onelogin" {
            (text_field(&id("endpoint-override"), "Endpoint override (optional, https)",
                "endpoint_override", false))
        }
        div .wide.grid data-kinds="okta azure_ad onelogin oidc" {
            (text_field(&id("client-id"), "Client id", "client_id", true))
            // Write-only: the API never answers it, only whether one is set.
            (labelled(&id("client-secret"), "Client secret (write-only)", "client_secret",
                |id, error| html! {
                    input id=(id) type="password" autocomplete="off"
                        aria-describedby=(format!("{error} {id}-state"));
                    p id=(format!("{id}-state")) .hint { "Not set." }
                }))
            (text_field(&id("scopes"), &format!("Scopes ({comma}; empty: openid email profile)"),
                "scopes", false))
        }
        (text_field(&id("email-domains"), &format!("Email domains ({comma})"), "email_domains",
            false))
        (text_field(&id("allowed-groups"), &format!("Allowed IdP groups ({comma}; empty: any)"),
            "allowed_groups", false))
        (text_field(&id("group-mappings"), "Group mappings (idp-group=statuspulse-group, comma \
            separated)", "group_mappings", false))
        (text_field(&id("acr-values"), &format!("ACR values ({comma})"), "acr_values", false))
        div .check {
            input id=(id("require-mfa")) type="checkbox";
            label for=(id("require-mfa")) { "Require multi-factor authentication" }
        }
    }
}

/// `GET /console/settings/security/sessions`: your sessions, or with `admin:sso` everyone's in
/// the workspace (people's and key sessions), each revocable.
pub async fn sessions(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        p .hint { "Your sessions; with the " code { "admin:sso" } " scope, every session of the \
            workspace, people's and those opened with an API key. A revoked session is refused \
            at once, and its open console tabs sign out within seconds." }
        section aria-labelledby="list-title" .card {
            h2 #list-title { "Sessions" }
            div .row.filters {
                label for="filter-whose" { "Whose" }
                select #filter-whose {
                    option value="" { "every session I may see" }
                    option value="mine" { "mine only" }
                }
                label for="filter-active" { "Status" }
                select #filter-active {
                    option value="true" { "active" }
                    option value="" { "any" }
                }
            }
            (list_table("sessions", "list-title", &["Who", "Status", "Signed in", "Last seen",
                "From", "Browser", "Actions"]))
            p #sessions-empty .hint hidden { "No sessions match." }
            button #load-more type="button" hidden { "Load more" }
        }
        dialog #revoke-dialog aria-labelledby="revoke-title" {
            form #revoke-form .stack method="dialog" novalidate {
                h2 #revoke-title { "Revoke session" }
                p { "The session is refused from now on, on every server." }
                p { "Session: " code #revoke-session-name {} }
                p #revoke-own .warning hidden { "This is the session you are using: you will be \
                    signed out." }
                (dialog_buttons("Revoke", true))
            }
        }
    };
    settings_page(&state, &parts, SESSIONS_PATH, &content).await
}

/// `GET /console/settings/security/audit-logs`: the workspace's audit events, filtered and paged,
/// the chain verified, and the whole chain exported as JSON Lines.
pub async fn audit_logs(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        section aria-labelledby="chain-title" .card {
            h2 #chain-title { "Chain" }
            p .hint { "Events are append-only and hash-chained: each carries the hash of the one \
                before. Verifying recomputes every link; the export has everything an offline \
                check needs (" code { "statuspulse-server audit verify --file" } ")." }
            div .row {
                button #verify-chain type="button" { "Verify chain" }
                // A plain link: the browser streams the file to disk with the session cookie,
                // however long the chain, and no script or policy exception is needed.
                a #export .button href="/v1/audit-events/export" download="audit-events.jsonl" {
                    "Export JSONL"
                }
            }
            p #verify-result role="status" {}
        }
        section aria-labelledby="list-title" .card {
            h2 #list-title { "Audit events" }
            form #filter-form .grid novalidate {
                (text_field("filter-event-type", "Event type (e.g. api_key.revoked)",
                    "event_type", false))
                div .field {
                    label for="filter-outcome" { "Outcome" }
                    select #filter-outcome aria-describedby="filter-outcome-error" {
                        option value="" { "any" }
                        option value="success" { "success" }
                        option value="failure" { "failure" }
                    }
                    p #filter-outcome-error .field-error data-error-for="outcome" hidden {}
                }
                (text_field("filter-actor", "Actor id (key_…, usr_…, sa_…)", "actor_id", false))
                (text_field("filter-target", "Target id", "target_id", false))
                (time_field("filter-since", "From (your local time)", "since"))
                (time_field("filter-until", "Until (your local time)", "until"))
                p .field-error.wide data-error-for="" hidden {}
                div .wide.row {
                    button type="submit" { "Apply filters" }
                    button #clear-filters type="reset" .cancel { "Clear" }
                }
            }
            (list_table("events", "list-title", &["Seq", "When", "Event type", "Outcome",
                "Actor", "Target", "Reason", "Details"]))
            p #events-empty .hint hidden { "No events match." }
            button #load-more type="button" hidden { "Load more" }
        }
    };
    settings_page(&state, &parts, AUDIT_LOGS_PATH, &content).await
}

/// `GET /console/settings/security/audit-logging`: retention and sink defaults, the sinks the
/// events are forwarded to (with their delivery state), and the anomaly rules.
pub async fn audit_logging(State(state): State<AppState>, parts: Parts) -> Response {
    let content = html! {
        p .hint { "Every workspace records its audit events; here you choose how long they are \
            kept, where they are forwarded and what the anomaly detector watches for." }
        section aria-labelledby="retention-title" .card {
            h2 #retention-title { "Retention" }
            dl #retention-summary .summary {}
            form #retention-form .grid novalidate {
                (number_field("retention-days",
                    &format!("Keep events for (days, {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS})"),
                    "retention_days", (MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)))
                (text_field("default-event-types",
                    "Sink defaults: event types a new sink forwards (comma separated, * is all)",
                    "default_event_types", false))
                p .field-error.wide data-error-for="" hidden {}
                div .wide.row {
                    button type="submit" { "Save retention" }
                    p #retention-saved role="status" {}
                }
            }
        }
        section aria-labelledby="sinks-title" .card {
            h2 #sinks-title { "Sinks" }
            (list_table("sinks", "sinks-title", &["Name", "Kind", "Destination", "Event types",
                "Status", "Lag (events)", "Last delivery", "Last error", "Actions"]))
            p #sinks-empty .hint hidden { "No sink yet: events are kept here only." }
        }
        section aria-labelledby="add-sink-title" .card {
            h2 #add-sink-title { "Add a sink" }
            form #sink-form .grid novalidate {
                (text_field("sink-name", "Name", "name", true))
                div .field {
                    label for="sink-kind" { "Kind" }
                    select #sink-kind {
                        option value="webhook" { "Webhook (Standard Webhooks, signed)" }
                        option value="cloudwatch" { "AWS CloudWatch Logs" }
                    }
                }
                (text_field("sink-event-types",
                    "Event types (comma separated; empty: the sink defaults)", "event_types",
                    false))
                div #sink-webhook .wide.grid {
                    (text_field("sink-url", "Webhook URL (https)", "webhook.url", false))
                    p .hint { "The signing secret is generated and shown once." }
                }
                div #sink-cloudwatch .wide.grid hidden {
                    (text_field("sink-region", "Region", "cloudwatch.region", false))
                    (text_field("sink-log-group", "Log group", "cloudwatch.log_group", false))
                    (text_field("sink-log-stream", "Log stream", "cloudwatch.log_stream",
                        false))
                    (text_field("sink-access-key-id", "Access key id (empty: the server's \
                        credentials)", "cloudwatch.access_key_id", false))
                    (labelled("sink-secret-access-key", "Secret access key",
                        "cloudwatch.secret_access_key", |id, error| html! {
                            input id=(id) type="password" autocomplete="off"
                                aria-describedby=(error);
                        }))
                    (text_field("sink-role-arn", "Role ARN (optional)", "cloudwatch.role_arn",
                        false))
                    (text_field("sink-external-id", "External id (optional)",
                        "cloudwatch.external_id", false))
                }
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Add sink" } }
            }
        }
        (secret_panel("The sink's signing secret", "Signing secret", "Give it to the receiver \
            to verify deliveries; StatusPulse shows it only once."))
        section aria-labelledby="rules-title" .card {
            h2 #rules-title { "Anomaly rules" }
            p .hint { "A rule that fires records an " code { "anomaly.detected" } " event, \
                forwarded to the sinks like any other. Thresholds a kind does not take are \
                left empty." }
            (list_table("rules", "rules-title", &["Name", "Kind", "Watching", "Threshold",
                "Window (minutes)", "Key age (hours)", "Actions"]))
            p #rules-empty .hint hidden { "No rules." }
        }
        section aria-labelledby="add-rule-title" .card {
            h2 #add-rule-title { "Add a rule" }
            form #new-rule-form .grid novalidate {
                (text_field("new-rule-name", "Name", "name", true))
                div .field {
                    label for="new-rule-kind" { "Watches for" }
                    // Each kind's defaults ride on its option: the script shows only the
                    // thresholds the kind takes, with the server's default as placeholder.
                    select #new-rule-kind {
                        @for kind in AnomalyKind::ALL {
                            @let defaults = kind.defaults();
                            option value=(kind.as_str())
                                data-threshold=[defaults.threshold]
                                data-window=(defaults.window_minutes)
                                data-key-age=[defaults.min_key_age_hours] { (kind_label(kind)) }
                        }
                    }
                }
                (rule_thresholds("new-rule"))
                div .check {
                    input #new-rule-enabled type="checkbox" checked;
                    label for="new-rule-enabled" { "Enabled (watching)" }
                }
                p .field-error.wide data-error-for="" hidden {}
                div .wide { button type="submit" { "Add rule" } }
            }
        }
        dialog #rule-dialog aria-labelledby="rule-title" {
            form #rule-form .stack method="dialog" novalidate {
                h2 #rule-title { "Edit anomaly rule" }
                p { "Rule: " code #rule-name {} }
                div .check {
                    input #rule-enabled type="checkbox";
                    label for="rule-enabled" { "Enabled (watching)" }
                }
                (rule_thresholds("rule"))
                (dialog_buttons("Save", false))
            }
        }
        dialog #replay-dialog aria-labelledby="replay-title" {
            form #replay-form .stack method="dialog" novalidate {
                h2 #replay-title { "Replay events" }
                p { "Sink: " code #replay-name {} }
                p .hint { "The sink sends the events again from this position of the chain on, \
                    in order, then carries on with new ones. The receiver gets those events a \
                    second time, in new batches; by each event's " code { "event_id" } " it can \
                    drop the ones it has." }
                (number_field("replay-from", "From position (1 to the head + 1)", "from_seq",
                    (1, i64::MAX)))
                (dialog_buttons("Replay", false))
            }
        }
        (delete_dialog("sink", "Delivery stops at once; events already delivered stay where \
            they are. The audit log itself is not touched."))
    };
    settings_page(&state, &parts, AUDIT_LOGGING_PATH, &content).await
}

/// An anomaly rule's three thresholds (`{prefix}-threshold`, `-window`, `-key-age`); the script
/// shows only those the rule's kind takes.
fn rule_thresholds(prefix: &str) -> Markup {
    html! {
        (number_field(&format!("{prefix}-threshold"), "Threshold (count)", "threshold",
            (0, MAX_THRESHOLD)))
        (number_field(&format!("{prefix}-window"), "Window (minutes, 1 to 1440)",
            "window_minutes", (1, MAX_WINDOW_MINUTES)))
        (number_field(&format!("{prefix}-key-age"), "Minimum key age (hours, 0 to 8760)",
            "min_key_age_hours", (0, MAX_KEY_AGE_HOURS)))
    }
}

/// What an anomaly rule of `kind` watches for, in words.
fn kind_label(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::RapidRotation => "Rapid rotation of a key or a service account's keys",
        AnomalyKind::CrossRegionTokenExchange => "Tokens used from two regions",
        AnomalyKind::FailedAuthBurst => "A burst of failed authentications",
        AnomalyKind::RevokedKeyUse => "A revoked key presented again",
        AnomalyKind::NewNetwork => "A key used from a new network",
    }
}

/// A labelled control with its error slot (`data-error-for` is the API's `field`); `control`
/// builds the input from its id and its error slot's id.
fn labelled(id: &str, label: &str, field: &str, control: impl Fn(&str, &str) -> Markup) -> Markup {
    let error = format!("{id}-error");
    html! {
        div .field {
            label for=(id) { (label) }
            (control(id, &error))
            p id=(error) .field-error data-error-for=(field) hidden {}
        }
    }
}

/// A labelled text input with its error slot.
fn text_field(id: &str, label: &str, field: &str, required: bool) -> Markup {
    labelled(id, label, field, |id, error| {
        html! {
            input id=(id) type="text" maxlength="500" required[required]
                aria-describedby=(error);
        }
    })
}

/// A labelled local date and time (the script sends it as RFC 3339 UTC), with its error slot.
fn time_field(id: &str, label: &str, field: &str) -> Markup {
    labelled(id, label, field, |id, error| {
        html! { input id=(id) type="datetime-local" step="1" aria-describedby=(error); }
    })
}

/// A labelled whole number from `min` to `max`, with its error slot; empty is "not set".
fn number_field(id: &str, label: &str, field: &str, (min, max): (i64, i64)) -> Markup {
    labelled(id, label, field, |id, error| {
        html! {
            input id=(id) type="number" min=(min) max=(max) aria-describedby=(error);
        }
    })
}

/// A secret the server shows once (a new key, a sink's signing secret): copy it or hide it; the
/// script forgets it after a few minutes.
fn secret_panel(title: &str, label: &str, kept: &str) -> Markup {
    html! {
        section #new-key .card.secret aria-labelledby="new-key-title" hidden {
            h2 #new-key-title { (title) }
            p .warning { strong { "Copy it now: you will not see this again." } " " (kept) }
            label for="new-key-value" { (label) }
            div .row {
                input #new-key-value type="text" readonly autocomplete="off"
                    spellcheck="false";
                button #copy-key type="button" { "Copy" }
                button #dismiss-key type="button" { "Done, hide it" }
            }
            p #copy-status role="status" {}
        }
    }
}

/// The scope checkboxes, filled from `GET /v1/scopes`.
fn scope_fieldset(id: &str) -> Markup {
    let error = format!("{id}-error");
    html! {
        fieldset id=(id) .field.wide.checks data-fill="scopes" aria-describedby=(error) {
            legend { "Scopes" }
            p .hint.loading { "Loading the scope catalog…" }
            p id=(error) .field-error data-error-for="scopes" hidden {}
        }
    }
}

/// The cluster checkboxes, filled from `GET /v1/environment-clusters`; none checked is every
/// cluster.
fn cluster_fieldset(id: &str) -> Markup {
    let error = format!("{id}-error");
    html! {
        fieldset id=(id) .field.wide.checks data-fill="clusters" aria-describedby=(error) {
            legend { "Environment clusters (none checked: every cluster)" }
            p .hint.loading { "Loading the clusters…" }
            p id=(error) .field-error data-error-for="environment_clusters" hidden {}
        }
    }
}

/// The list of a resource page: a scrollable, labelled table the script fills.
fn list_card(title: &str, hint: Option<&str>, columns: &[&str]) -> Markup {
    html! {
        section aria-labelledby="list-title" .card {
            h2 #list-title { (title) }
            @if let Some(hint) = hint { p .hint { (hint) } }
            (list_table("items", "list-title", columns))
            p #items-empty .hint hidden { "None yet." }
        }
    }
}

/// A dialog's form-wide error slot and its buttons.
fn dialog_buttons(action: &str, danger: bool) -> Markup {
    html! {
        p .field-error data-error-for="" hidden {}
        div .row {
            button type="submit" .danger[danger] { (action) }
            button type="button" .cancel { "Cancel" }
        }
    }
}

/// A table the script fills, in a region that scrolls sideways on a narrow screen (focusable,
/// so the keyboard can scroll it too), named by the heading `labelled_by`.
fn list_table(id: &str, labelled_by: &str, columns: &[&str]) -> Markup {
    html! {
        div .table-wrap tabindex="0" role="region" aria-labelledby=(labelled_by) {
            table id=(id) {
                thead { tr { @for c in columns { th scope="col" { (c) } } } }
                tbody {}
            }
        }
    }
}

/// Confirms a delete; the server's refusal (a 409 in words) is shown in it.
fn delete_dialog(noun: &str, consequence: &str) -> Markup {
    html! {
        dialog #delete-dialog aria-labelledby="delete-title" {
            form #delete-form .stack method="dialog" novalidate {
                h2 #delete-title { "Delete " (noun) }
                p #delete-consequence { (consequence) }
                p { "Delete: " code #delete-name {} }
                (dialog_buttons("Delete", true))
            }
        }
    }
}

/// What a key or a service account can actually reach (`GET /v1/effective-access`).
fn access_dialog() -> Markup {
    html! {
        dialog #access-dialog aria-labelledby="access-title" {
            div .stack {
                h2 #access-title { "Effective access" }
                p { "Of: " code #access-of {} }
                p #access-error .problem role="alert" hidden {}
                dl #access-summary .summary {}
                h3 #access-clusters-title { "By cluster" }
                (list_table("access-clusters", "access-clusters-title",
                    &["Cluster", "Environment", "Scopes"]))
                p #access-no-clusters .hint hidden { "No cluster is declared or reachable." }
                div .row { button type="button" .cancel { "Close" } }
            }
        }
    }
}

/// The document around a page's `main`: header, session metadata for the script, assets.
fn page(title: &str, viewer: Option<(&Viewer, &str)>, main: &Markup) -> Response {
    let current = viewer.map(|(_, path)| path);
    let viewer = viewer.map(|(v, _)| v);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · StatusPulse" }
                link rel="stylesheet" href=(super::assets::style().path);
                link rel="icon" type="image/svg+xml" href=(super::assets::icon().path);
                @if let Some(v) = viewer {
                    meta name="sp-session" content=(v.session_id);
                    meta name="sp-csrf" content=(v.csrf_token);
                    meta name="sp-user" content=(v.user_id.as_deref().unwrap_or_default());
                    meta name="sp-key" content=(v.api_key_id.as_deref().unwrap_or_default());
                }
                script src=(super::assets::script().path) defer {}
            }
            body {
                a .skip href="#main" { "Skip to content" }
                header .top {
                    a .brand href="/console/" { "StatusPulse" }
                    @if let Some(v) = viewer {
                        span .who { (v.label) " · " code { (v.workspace_id) } }
                        div .row {
                            button #sign-out type="button" { "Sign out" }
                            button #sign-out-everywhere type="button" {
                                "Sign out everywhere"
                            }
                        }
                    }
                }
                @if let Some(current) = current {
                    nav .settings aria-label="Settings" {
                        ul { @for (path, title, _) in SETTINGS {
                            li { a href=(path) aria-current=[(path == current).then_some("page")] {
                                (title)
                            } }
                        } }
                    }
                }
                (main)
            }
        }
    };
    let mut response = (StatusCode::OK, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // A page holds the CSRF token: never stored by a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure_headers(headers);
    response
}

/// The headers every console answer carries: the policy, no framing, no sniffing, no referrer.
pub fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure_headers(response.headers_mut());
    response
}

pub fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "not found").into_response();
    secure_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_inside_the_console() {
        assert_eq!(console_return_to(Some(API_KEYS_PATH)), API_KEYS_PATH);
        for bad in [
            "https://evil.example/console/",
            "//evil.example/console/",
            "/\\evil.example",
            "/v1/me",
            "javascript:alert(1)",
            "/console/../v1/me",
            "/console/%2e%2e/v1/me",
        ] {
            assert_eq!(console_return_to(Some(bad)), "/console/", "{bad}");
        }
        assert_eq!(console_return_to(None), "/console/");
    }
}
