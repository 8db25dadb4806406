//! The sign-in round trip: `GET /v1/sso/login` → the identity provider → `GET /oauth2/callback`.
//!
//! **Binding to the browser.** The first step gives the browser a sign-in cookie holding a
//! random secret (reused while it lives, so sign-ins in two tabs do not undo each other) and
//! stores, keyed by the hash of a fresh `state`, only the hash of that secret, the connection and
//! where to return. The PKCE verifier and the nonce are derived from the browser's secret and
//! the state ([`oidc::derive`]), so neither is stored: a callback completes only in the browser
//! that started it, with a state used once (it is deleted as it is read) within 10 minutes.
//!
//! **Every refusal** leaves no user and no session behind, is audited (`sso.login_failed` with a
//! reason code, in the workspace's chain once the state names it; before that, as an aggregated
//! `auth.failed`), and answers with a page that says why (or a problem document to a client that
//! asks for JSON).

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;
use serde_json::json;

use super::connectors::{self, Connector};
use super::oidc::{self, AuthorizationRequest, Client, RelyingParty};
use super::{sessions, users, Refusal};
use crate::app::AppState;
use crate::audit::{self, Actor, EventType, NewEvent, Outcome, SYSTEM_CHAIN};
use crate::authn::session::{self as session_auth, MAX_GROUPS};
use crate::http::auth::{client_ip, record_failure};
use crate::management::sso_connections::{self, SignInConnection};
use crate::platform::egress::Reach;
use crate::platform::network::ClientNetwork;
use statuspulse_api::key::KeyId;

/// Where the identity provider sends the browser back (OIDC); registered at the IdP as the
/// connection's redirect URI.
pub const CALLBACK_PATH: &str = "/oauth2/callback";
/// Where a sign-in without `return_to` lands.
pub const DEFAULT_RETURN_TO: &str = "/v1/me";
/// How long a sign-in may take at the identity provider.
const STATE_TTL_MS: i64 = 600_000;
/// Sign-ins under way across the server, at most; beyond, new ones wait (503).
const MAX_PENDING: i64 = 100_000;
/// The sign-in cookie: over plain HTTP, and (`__Host-`) over HTTPS.
const BROWSER_COOKIE: &str = "statuspulse_signin";
const HOST_BROWSER_COOKIE: &str = "__Host-statuspulse_signin";
const BROWSER_PREFIX: &str = "spb_";
/// The longest subject (`sub`, SAML NameID), email and group name a sign-in accepts, in bytes.
const MAX_SUBJECT_BYTES: usize = 256;
const MAX_EMAIL_BYTES: usize = 320;
const MAX_GROUP_BYTES: usize = 256;
/// Sign-ins started per minute from one client network (/24 or /64).
const STARTS_TIER: &str = "standard";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// The connection (`sso_…`) to sign in with.
    connection: Option<String>,
    /// Or an email address whose domain picks the connection.
    email: Option<String>,
    /// A path of this server to land on after sign-in (default `/v1/me`).
    return_to: Option<String>,
}

/// Starts a sign-in: answers 302 to the identity provider of the connection (by id, or by the
/// domain of `email`).
#[utoipa::path(get, path = "/v1/sso/login", tag = "sign-in", params(LoginQuery),
    responses((status = 302, description = "To the identity provider"),
        (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    parts: Parts,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match start(&state, &parts, query).await {
        Ok(response) => response,
        Err(refusal) => {
            record_failure(&state, &parts, SYSTEM_CHAIN, None, None, refusal.code).await;
            refusal.answer(&parts.headers)
        }
    }
}

async fn start(
    state: &AppState,
    parts: &Parts,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Refusal> {
    let Query(query) = query.map_err(|e| Refusal::request("invalid_query", e.body_text()))?;
    let return_to = return_to(query.return_to.as_deref())?;
    let network = client_ip(parts, &state.settings.trusted_proxies)
        .map_or(ClientNetwork::UNKNOWN, ClientNetwork::of);
    let decision = state
        .rate_limiter
        .check(
            STARTS_TIER,
            &KeyId::from_trusted(format!("sign-in:{network}")),
        )
        .await;
    if !decision.allowed() {
        return Err(Refusal {
            code: "too_many_sign_ins",
            detail: "too many sign-ins from your network; wait a minute and try again".into(),
            status: StatusCode::TOO_MANY_REQUESTS,
        });
    }
    let (workspace_id, connection_id) = match (&query.connection, &query.email) {
        (Some(id), None) => sso_connections::workspace_of(state, id)
            .await?
            .map(|ws| (ws, id.clone()))
            .ok_or_else(|| {
                Refusal::not_found("unknown_connection", "there is no such SSO connection")
            })?,
        (None, Some(email)) => by_email(state, email).await?,
        _ => {
            return Err(Refusal::request(
                "connection_or_email_required",
                "give exactly one of `connection` (an SSO connection id) and `email`",
            ))
        }
    };
    let signin = sso_connections::load_for_sign_in(state, &workspace_id, &connection_id).await?;
    let begun = begin(
        state,
        &parts.headers,
        &signin,
        &return_to,
        query.email.as_deref(),
        None,
    )
    .await?;
    let mut response = redirect(StatusCode::FOUND, &begun.url);
    if let Some(cookie) = &begun.cookie {
        set_cookie(&mut response, cookie);
    }
    Ok(response)
}

/// A sign-in begun: where to send the browser, and the sign-in cookie to set if it had none.
pub struct Begun {
    pub url: String,
    pub cookie: Option<String>,
    pub expires_at: i64,
}

/// Begins a sign-in through `signin`'s connection: the state row bound to the browser whose
/// `headers` these are, and the identity provider's URL. A `tester` makes it a connection test
/// (`super::connection_test`): its return reports what it found instead of signing in.
pub async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    signin: &SignInConnection,
    return_to: &str,
    login_hint: Option<&str>,
    tester: Option<&Actor>,
) -> Result<Begun, Refusal> {
    let connection = &signin.connection;
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sso_login_states WHERE expires_at > $1")
            .bind(state.clock.now_ms())
            .fetch_one(state.db.pool())
            .await?;
    if pending >= MAX_PENDING {
        return Err(Refusal {
            code: "sign_in_busy",
            detail: "too many sign-ins are under way; try again in a minute".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        });
    }

    let public_url = state.public_url();
    let (browser, new_browser) = match browser_secret(headers, &public_url) {
        Some(existing) => (existing, false),
        None => (random_token(BROWSER_PREFIX), true),
    };
    let state_value = random_token("");
    let (url, request_id) = match Connector::of(connection) {
        Some(connector) => {
            let url = oidc_request(
                state,
                signin,
                &connector,
                &browser,
                &state_value,
                login_hint,
            )
            .await?;
            (url, None)
        }
        None => {
            let request_id = super::saml::new_request_id();
            let url = super::saml::request_url(state, connection, &request_id, &state_value)?;
            (url, Some(request_id))
        }
    };

    let (tester_type, tester_id) = tester.map_or((None, None), |t| {
        let (kind, id) = t.parts();
        (Some(kind), id)
    });
    let now = state.clock.now_ms();
    sqlx::query(
        "INSERT INTO sso_login_states (state_hash, browser_hash, workspace_id, connection_id, \
         return_to, request_id, created_at, expires_at, tester_type, tester_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(session_auth::secret_hash(&state_value))
    .bind(session_auth::secret_hash(&browser))
    .bind(&connection.workspace_id)
    .bind(&connection.id)
    .bind(return_to)
    .bind(&request_id)
    .bind(now)
    .bind(now + STATE_TTL_MS)
    .bind(tester_type)
    .bind(tester_id)
    .execute(state.db.pool())
    .await?;

    Ok(Begun {
        url,
        cookie: new_browser.then(|| browser_cookie(&public_url, &browser, STATE_TTL_MS / 1000)),
        expires_at: now + STATE_TTL_MS,
    })
}

/// The OIDC authorization request of a sign-in: its PKCE challenge and nonce derived from the
/// browser's secret and the state.
async fn oidc_request(
    state: &AppState,
    signin: &SignInConnection,
    connector: &Connector,
    browser: &str,
    state_value: &str,
    login_hint: Option<&str>,
) -> Result<String, Refusal> {
    let connection = &signin.connection;
    let provider = state
        .sign_in
        .provider(
            &provider_key(connection),
            connector,
            Reach::of(&state.settings),
        )
        .await?;
    let verifier = oidc::derive("pkce", browser, state_value);
    let nonce = oidc::derive("nonce", browser, state_value);
    let redirect_uri = format!("{}{CALLBACK_PATH}", state.public_url());
    let secret = opened_secret(signin)?;
    let client = Client {
        client_id: connection.client_id.as_deref().unwrap_or_default(),
        secret: secret.as_deref(),
        redirect_uri: &redirect_uri,
    };
    let scopes = if connection.scopes.is_empty() {
        statuspulse_api::v1::sso_connections::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        connection.scopes.clone()
    };
    let acr_values = if connection.require_mfa {
        connection.acr_values.clone()
    } else {
        Vec::new()
    };
    RelyingParty::authorization_url(
        &provider,
        &client,
        &AuthorizationRequest {
            state: state_value,
            nonce: &nonce,
            verifier: &verifier,
            scopes: &scopes,
            acr_values: &acr_values,
            login_hint,
        },
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    /// RFC 9207: the issuer of the authorization response.
    iss: Option<String>,
    error: Option<String>,
    #[allow(dead_code)]
    error_description: Option<String>,
    #[allow(dead_code)]
    session_state: Option<String>,
}

/// The identity provider's answer: on success the session cookie is set and the browser goes to
/// `return_to` (303); otherwise a page says why.
#[utoipa::path(get, path = "/oauth2/callback", tag = "sign-in", params(CallbackQuery),
    responses((status = 303, description = "Signed in: to `return_to`, with the session cookie"),
        (status = 200, body = statuspulse_api::v1::SsoConnectionTestResult,
            description = "A connection test's report (`POST /v1/sso-connections/{id}/test`): \
                no user, no session"),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn callback(
    State(state): State<AppState>,
    parts: Parts,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        let refusal = Refusal::request(
            "invalid_query",
            "the identity provider's answer is malformed",
        );
        record_failure(&state, &parts, SYSTEM_CHAIN, None, None, refusal.code).await;
        return refusal.answer(&parts.headers);
    };
    let pending = match take_state(&state, &parts, query.state.as_deref()).await {
        Ok(pending) => pending,
        Err(refusal) => {
            record_failure(&state, &parts, SYSTEM_CHAIN, None, None, refusal.code).await;
            return refusal.answer(&parts.headers);
        }
    };
    let verified = verify(&state, &query, &pending).await;
    conclude(&state, &parts, &pending, verified).await
}

/// How a sign-in that came back ends: a test reports what it found
/// ([`super::connection_test::report`]); otherwise the connection's rules admit the verified
/// identity and a session begins, or the refusal is audited and shown.
pub async fn conclude(
    state: &AppState,
    parts: &Parts,
    pending: &Pending,
    verified: Result<Verified, Refusal>,
) -> Response {
    if let Some(tester) = pending.tester() {
        return super::connection_test::report(state, parts, pending, tester, verified).await;
    }
    let signed_in = match verified {
        Ok(v) => match admit(&v.connection, &v.identity, v.mfa) {
            Ok(admitted) => complete(state, parts, pending, &v.identity, &admitted).await,
            Err(refusal) => Err(refusal),
        },
        Err(refusal) => Err(refusal),
    };
    match signed_in {
        Ok(response) => response,
        Err(refusal) => {
            audit_failure(state, parts, pending, &refusal).await;
            refusal.answer(&parts.headers)
        }
    }
}

/// An identity the identity provider vouched for (a verified ID token or SAML assertion), with
/// the connection it came through and whether it proves multi-factor authentication.
pub struct Verified {
    pub connection: statuspulse_api::v1::SsoConnection,
    pub identity: super::Identity,
    pub mfa: bool,
}

/// A sign-in under way, as its state row holds it.
#[derive(Debug, sqlx::FromRow)]
pub struct Pending {
    pub workspace_id: String,
    pub connection_id: String,
    pub return_to: String,
    /// SAML: the AuthnRequest's ID.
    pub request_id: Option<String>,
    expires_at: i64,
    /// A connection test: who started it (an [`Actor`]'s parts).
    tester_type: Option<String>,
    tester_id: Option<String>,
    /// Not stored: the browser's secret, from its cookie.
    #[sqlx(skip)]
    browser: String,
    #[sqlx(skip)]
    state: String,
}

impl Pending {
    /// Who started this sign-in as a connection test; `None` for a sign-in.
    fn tester(&self) -> Option<Actor> {
        Actor::from_parts(self.tester_type.as_deref()?, self.tester_id.clone())
    }
}

/// Reads and deletes the state (single use), checking it belongs to this browser.
pub async fn take_state(
    state: &AppState,
    parts: &Parts,
    state_value: Option<&str>,
) -> Result<Pending, Refusal> {
    let Some(state_value) = state_value.filter(|s| !s.is_empty() && s.len() <= 128) else {
        return Err(Refusal::request(
            "state_missing",
            "the identity provider's answer has no state; start the sign-in again",
        ));
    };
    let Some(browser) = browser_secret(&parts.headers, &state.public_url()) else {
        return Err(Refusal::request(
            "browser_mismatch",
            "this sign-in was not started in this browser (or its cookie expired); start again",
        ));
    };
    let row: Option<Pending> = sqlx::query_as(
        "DELETE FROM sso_login_states WHERE state_hash = $1 AND browser_hash = $2 \
         RETURNING workspace_id, connection_id, return_to, request_id, expires_at, tester_type, \
         tester_id",
    )
    .bind(session_auth::secret_hash(state_value))
    .bind(session_auth::secret_hash(&browser))
    .fetch_optional(state.db.pool())
    .await?;
    let Some(mut pending) = row else {
        return Err(Refusal::request(
            "state_invalid",
            "this sign-in is unknown, was already used, or was started in another browser; \
             start again",
        ));
    };
    if state.clock.now_ms() >= pending.expires_at {
        return Err(Refusal::request(
            "state_expired",
            "this sign-in took longer than 10 minutes; start again",
        ));
    }
    pending.browser = browser;
    pending.state = state_value.to_owned();
    Ok(pending)
}

/// The OIDC half of a sign-in's return: the code exchanged (PKCE) and the ID token verified.
async fn verify(
    state: &AppState,
    query: &CallbackQuery,
    pending: &Pending,
) -> Result<Verified, Refusal> {
    let signin =
        sso_connections::load_for_sign_in(state, &pending.workspace_id, &pending.connection_id)
            .await?;
    let connection = &signin.connection;
    let connector = Connector::of(connection)
        .ok_or_else(|| Refusal::request("wrong_protocol", "this connection does not use OIDC"))?;
    if let Some(error) = &query.error {
        return Err(Refusal::idp(
            "idp_error",
            format!(
                "your identity provider refused the sign-in ({})",
                oidc::safe_code(error)
            ),
        ));
    }
    let key = provider_key(connection);
    let provider = state
        .sign_in
        .provider(&key, &connector, Reach::of(&state.settings))
        .await?;
    match query.iss.as_deref() {
        Some(iss) if !connector.accepts_issuer(iss) => {
            return Err(Refusal::request(
                "issuer_mismatch",
                "the answer names another identity provider than the one this sign-in went to \
                 (RFC 9207 mix-up defence)",
            ))
        }
        None if provider.sends_iss() => {
            return Err(Refusal::request(
                "issuer_missing",
                "the identity provider promises to name itself in its answer (RFC 9207) and \
                 this answer does not",
            ))
        }
        _ => {}
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Refusal::request(
            "code_missing",
            "the answer has no authorization code",
        ));
    };
    let redirect_uri = format!("{}{CALLBACK_PATH}", state.public_url());
    let secret = opened_secret(&signin)?;
    let client = Client {
        client_id: connection.client_id.as_deref().unwrap_or_default(),
        secret: secret.as_deref(),
        redirect_uri: &redirect_uri,
    };
    let verifier = oidc::derive("pkce", &pending.browser, &pending.state);
    let nonce = oidc::derive("nonce", &pending.browser, &pending.state);
    let tokens = state
        .sign_in
        .exchange(&provider, &client, code, &verifier)
        .await?;
    let identity = state
        .sign_in
        .verify_id_token(&key, provider, &client, &tokens, &nonce, &state.clock)
        .await?;
    drop(tokens);

    let mfa = connectors::proves_mfa(
        &identity.amr,
        identity.acr.as_deref(),
        &connection.acr_values,
    );
    Ok(Verified {
        connection: signin.connection,
        identity,
        mfa,
    })
}

/// What the connection's policy makes of a verified identity.
#[derive(Debug)]
pub struct Admitted {
    pub email: Option<String>,
    pub mfa: bool,
    /// StatusPulse groups, from the connection's mappings.
    pub groups: Vec<String>,
}

/// The connection's rules: email domain, MFA, allowed groups; then the group mappings.
pub fn admit(
    connection: &statuspulse_api::v1::SsoConnection,
    identity: &super::Identity,
    mfa: bool,
) -> Result<Admitted, Refusal> {
    if identity.groups.len() > MAX_GROUPS {
        return Err(Refusal::policy(
            "too_many_groups",
            format!("your identity provider sent more than {MAX_GROUPS} groups"),
        ));
    }
    // What the IdP says is stored (users, audit events): bounded, and refused rather than cut,
    // as a cut subject or email would be someone else's. OIDC limits `sub` to 255 ASCII
    // characters and SAML a persistent NameID to 256; a group longer than any mapping may name
    // cannot mean anything here.
    for (claim, too_long) in [
        ("subject", identity.subject.len() > MAX_SUBJECT_BYTES),
        (
            "email",
            identity
                .email
                .as_ref()
                .is_some_and(|e| e.len() > MAX_EMAIL_BYTES),
        ),
        (
            "group",
            identity.groups.iter().any(|g| g.len() > MAX_GROUP_BYTES),
        ),
    ] {
        if too_long {
            return Err(Refusal::token(
                "claim_too_long",
                format!("your identity provider sent a {claim} longer than this server accepts"),
            ));
        }
    }
    let email = identity
        .email
        .as_ref()
        .filter(|_| identity.email_verified)
        .map(|e| e.to_ascii_lowercase());
    if !connection.email_domains.is_empty() {
        let Some(email) = &email else {
            return Err(Refusal::policy(
                "email_not_verified",
                "this connection admits people by their email domain, and your identity \
                 provider did not vouch for your email address (email_verified)",
            ));
        };
        let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
        if !connection.email_domains.iter().any(|d| d == domain) {
            return Err(Refusal::policy(
                "email_domain_not_allowed",
                format!(
                    "people of the email domain `{domain}` cannot sign in with this connection"
                ),
            ));
        }
    }
    if connection.require_mfa && !mfa {
        return Err(Refusal::policy(
            "mfa_required",
            "this workspace requires multi-factor authentication, and your identity provider \
             says you signed in with a single factor; sign in again with your second factor",
        ));
    }
    if !connection.allowed_groups.is_empty()
        && !identity
            .groups
            .iter()
            .any(|g| connection.allowed_groups.contains(g))
    {
        return Err(Refusal::policy(
            "group_not_allowed",
            "you are not in a group this connection lets sign in; ask your administrator",
        ));
    }
    Ok(Admitted {
        email,
        mfa,
        groups: mapped_groups(connection, identity),
    })
}

/// The StatusPulse groups the connection's mappings give the identity's IdP groups, sorted.
pub fn mapped_groups(
    connection: &statuspulse_api::v1::SsoConnection,
    identity: &super::Identity,
) -> Vec<String> {
    let mut groups: Vec<String> = identity
        .groups
        .iter()
        .filter_map(|g| connection.group_mappings.get(g).cloned())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// The user is created or updated and a session begins, audited in one transaction; the answer
/// sets the session cookie and sends the browser on.
pub async fn complete(
    state: &AppState,
    parts: &Parts,
    pending: &Pending,
    identity: &super::Identity,
    admitted: &Admitted,
) -> Result<Response, Refusal> {
    let now = state.clock.now_ms();
    let source_ip = client_ip(parts, &state.settings.trusted_proxies);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect::<String>());
    let mut tx = state.db.begin_write().await?;
    let user = users::upsert(
        &mut tx,
        &users::SignedIn {
            workspace_id: &pending.workspace_id,
            connection_id: &pending.connection_id,
            subject: &identity.subject,
            email: admitted.email.as_deref(),
            name: identity.name.as_deref(),
            idp_groups: &identity.groups,
            groups: &admitted.groups,
        },
        now,
    )
    .await?;
    let secret = session_auth::NewSecret::generate();
    let lifetime = state.settings.session_lifetimes();
    let session = sessions::create(
        &mut tx,
        &sessions::NewSession {
            workspace_id: &pending.workspace_id,
            user_id: &user.id,
            connection_id: &pending.connection_id,
            secret_hash: &secret.hash,
            mfa: admitted.mfa,
            amr: &identity.amr,
            acr: identity.acr.as_deref(),
            source_ip: source_ip.map(|ip| ip.to_string()),
            user_agent: user_agent.as_deref(),
            now,
            expires_at: now + lifetime.absolute_ms,
        },
    )
    .await?;
    let actor = Actor::User {
        user_id: user.id.clone(),
    };
    if user.created {
        let event = NewEvent::success(&pending.workspace_id, EventType::UserCreated, actor.clone())
            .target("user", &user.id)
            .details(json!({
                "connection_id": pending.connection_id,
                "subject": identity.subject,
                "email": admitted.email,
            }));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    let login = NewEvent::success(&pending.workspace_id, EventType::SsoLogin, actor.clone())
        .target("sso_connection", &pending.connection_id)
        .details(json!({
            "user_id": user.id,
            "session_id": session,
            "subject": identity.subject,
            "email": admitted.email,
            "groups": admitted.groups,
            "idp_groups": identity.groups,
            "mfa": admitted.mfa,
            "amr": identity.amr,
            "acr": identity.acr,
            "source_ip": source_ip.map(|ip| ip.to_string()),
        }));
    audit::append(&mut tx.tx, &state.clock, &login).await?;
    let created = NewEvent::success(&pending.workspace_id, EventType::SessionCreated, actor)
        .target("session", &session)
        .details(json!({"user_id": user.id, "expires_at": crate::platform::clock::rfc3339(now + lifetime.absolute_ms)}));
    audit::commit_with(tx, &state.clock, &created).await?;

    let public_url = state.public_url();
    let mut response = redirect(StatusCode::SEE_OTHER, &pending.return_to);
    set_cookie(
        &mut response,
        &session_cookie(
            &public_url,
            &secret.cookie_value,
            lifetime.absolute_ms / 1000,
        ),
    );
    Ok(response)
}

pub async fn audit_failure(state: &AppState, parts: &Parts, pending: &Pending, refusal: &Refusal) {
    let source_ip = client_ip(parts, &state.settings.trusted_proxies);
    let event = NewEvent {
        outcome: Outcome::Failure,
        reason: Some(refusal.code.to_owned()),
        ..NewEvent::success(
            &pending.workspace_id,
            EventType::SsoLoginFailed,
            Actor::Anonymous,
        )
        .target("sso_connection", &pending.connection_id)
        .details(json!({
            "reason": refusal.code,
            "detail": refusal.detail,
            "source_ip": source_ip.map(|ip| ip.to_string()),
        }))
    };
    state.audit.store_durably(event).await;
}

/// The cache key of a connection's provider: its id and last change.
fn provider_key(connection: &statuspulse_api::v1::SsoConnection) -> String {
    format!("{}@{}", connection.id, connection.updated_at)
}

fn opened_secret(signin: &SignInConnection) -> Result<Option<String>, Refusal> {
    signin
        .client_secret
        .as_ref()
        .map(|s| {
            String::from_utf8(s.to_vec())
                .map_err(|_| Refusal::internal("a stored client secret is not UTF-8"))
        })
        .transpose()
}

/// Picks the connection by the email's domain. A domain claimed by connections of several
/// workspaces is ambiguous: the person must use their connection's own link.
async fn by_email(state: &AppState, email: &str) -> Result<(String, String), Refusal> {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d.len() <= 253)
        .ok_or_else(|| Refusal::request("invalid_email", "`email` must be an email address"))?;
    let mut found = sso_connections::by_email_domain(state, &domain).await?;
    match found.len() {
        0 => Err(Refusal::not_found(
            "no_connection_for_domain",
            format!("no SSO connection signs in people of `{domain}`"),
        )),
        1 => Ok(found.remove(0)),
        _ => Err(Refusal {
            code: "email_domain_ambiguous",
            detail: format!(
                "several workspaces sign in people of `{domain}`; use your workspace's sign-in \
                 link (with `connection=`)"
            ),
            status: StatusCode::CONFLICT,
        }),
    }
}

/// `return_to` must be a path of this server: no scheme, no host, no `//` or `\` that a browser
/// would read as another host, no control characters.
pub fn return_to(value: Option<&str>) -> Result<String, Refusal> {
    let Some(value) = value else {
        return Ok(DEFAULT_RETURN_TO.to_owned());
    };
    let refuse = || {
        Refusal::request(
            "invalid_return_to",
            "`return_to` must be a path of this server, such as `/console/`",
        )
    };
    if value.is_empty()
        || value.len() > 2048
        || !value.starts_with('/')
        || value.starts_with("//")
        || value.contains('\\')
        || value.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(refuse());
    }
    let base = reqwest::Url::parse("http://statuspulse.invalid/").map_err(|_| refuse())?;
    let joined = base.join(value).map_err(|_| refuse())?;
    if joined.host_str() != Some("statuspulse.invalid") || joined.scheme() != "http" {
        return Err(refuse());
    }
    // A `Location` header is ASCII: a value with other characters was dropped from the answer
    // (the browser was left on a 303 with no Location). Percent-encoding them adds no `/`, `\`
    // or control, so what was checked above still holds.
    Ok(percent_encode_non_ascii(value))
}

fn percent_encode_non_ascii(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn browser_secret(headers: &HeaderMap, public_url: &str) -> Option<String> {
    let name = if public_url.starts_with("https://") {
        HOST_BROWSER_COOKIE
    } else {
        BROWSER_COOKIE
    };
    let value = session_auth::cookie_value(headers, name).ok()??;
    let well_formed = value.len() == BROWSER_PREFIX.len() + 43
        && value.starts_with(BROWSER_PREFIX)
        && value[BROWSER_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| value.to_owned())
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The sign-in cookie. Over HTTPS it is `SameSite=None`: a SAML IdP returns the browser with a
/// cross-site POST, which a `Lax` cookie would not accompany (the binding would then always
/// fail). It holds only the browser's binding secret for 10 minutes, `__Host-`, `Secure` and
/// HttpOnly; a cross-site request carrying it can at most start a sign-in of the victim's own.
fn browser_cookie(public_url: &str, value: &str, max_age_secs: i64) -> String {
    if public_url.starts_with("https://") {
        format!(
            "{HOST_BROWSER_COOKIE}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=None; Secure"
        )
    } else {
        cookie(BROWSER_COOKIE, value, max_age_secs, false)
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, and `__Host-` with `Secure` over HTTPS.
pub fn session_cookie(public_url: &str, value: &str, max_age_secs: i64) -> String {
    let secure = public_url.starts_with("https://");
    cookie(
        session_auth::cookie_name(public_url),
        value,
        max_age_secs,
        secure,
    )
}

pub(super) fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_only_ever_a_path_of_ours() {
        for good in ["/", "/console/", "/console/keys?id=1#x", "/v1/me"] {
            assert_eq!(return_to(Some(good)).unwrap(), good);
        }
        assert_eq!(return_to(None).unwrap(), DEFAULT_RETURN_TO);
        assert_eq!(return_to(Some("/café?q=é")).unwrap(), "/caf%C3%A9?q=%C3%A9");
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/\tevil",
            "javascript:alert(1)",
            "evil.example",
            "/ /evil",
            &format!("/{}", "a".repeat(2100)),
        ] {
            assert_eq!(
                return_to(Some(bad)).unwrap_err().code,
                "invalid_return_to",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cookies_are_http_only_lax_and_host_prefixed_and_secure_over_https() {
        let plain = session_cookie("http://127.0.0.1:1", "v", 60);
        assert_eq!(
            plain,
            "statuspulse_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        let tls = session_cookie("https://auth.example", "v", 60);
        assert!(tls.starts_with("__Host-statuspulse_session=v; Path=/;"));
        assert!(tls.ends_with("; Secure"));
        assert!(!tls.contains("Domain"));
    }
}
