//! `GET /oauth2/authorize`: the authorization code flow with PKCE S256 only.
//!
//! Until the client and its redirect URI are known to match, errors are a page (never a redirect
//! to a URI we have not vetted); after, they go back to the client as `error` with `state` and
//! `iss` (RFC 9207). A person without a session of the client's workspace is sent through SSO
//! sign-in and comes back here. The code is single use, valid 60 s, bound to the client, the
//! redirect URI, the PKCE challenge and the session; only its hash is stored.
//!
//! The scopes in the code are negotiated (`super::negotiate`), then narrowed by conditional
//! access (`authz::conditional`) in the circumstances of this request: the person's groups and
//! MFA, the client, the browser's network and region. When policies withhold every scope left,
//! the client gets `access_denied` saying which policy and why.

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;

use super::clients::{self, ClientRow};
use crate::app::AppState;
use crate::authn::session;
use crate::authz::conditional::Circumstances;
use crate::http::auth::Whereabouts;
use crate::management::access_policies;
use crate::management::sso_connections;
use crate::platform::db::stored_list;
use crate::signin::Refusal;

/// How long a code may wait for its exchange.
pub const CODE_TTL_MS: i64 = 60_000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// `code`.
    response_type: Option<String>,
    client_id: Option<String>,
    /// Exactly one the client registered.
    redirect_uri: Option<String>,
    /// Space-separated OAuth scopes.
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)).
    code_challenge: Option<String>,
    /// `S256` (the only method accepted).
    code_challenge_method: Option<String>,
    /// Which SSO connection to sign in with, when the workspace has several.
    connection: Option<String>,
}

/// Starts (or, signed in, completes) an authorization: 302 to the client with a code, or to
/// sign-in first.
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oauth", params(AuthorizeQuery),
    responses((status = 302, description = "To the client's redirect URI with `code`, `state` and `iss` (or `error`), or to sign-in"),
        (status = 400, body = crate::error::Problem)))]
pub async fn authorize(
    State(state): State<AppState>,
    parts: Parts,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return Refusal::request("invalid_request", "the authorization request is malformed")
            .answer(&parts.headers);
    };
    // The client and its redirect URI first: nothing is sent anywhere before they match.
    let client = match client_and_redirect(&state, &query).await {
        Ok(found) => found,
        Err(refusal) => return refusal.answer(&parts.headers),
    };
    let redirect_uri = query.redirect_uri.clone().unwrap_or_default();
    let back = |error: &str, description: &str| {
        client_redirect(
            &redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", query.state.as_deref().unwrap_or("")),
                ("iss", &super::issuer(&state)),
            ],
            query.state.is_some(),
        )
    };
    if query.response_type.as_deref() != Some("code") {
        return back(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        );
    }
    match (
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if is_challenge(challenge) => {}
        (Some(_), Some("S256")) => {
            return back(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            )
        }
        (None, _) => {
            return back(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            )
        }
        (Some(_), _) => {
            return back(
                "invalid_request",
                "only the S256 PKCE method is accepted, never plain",
            )
        }
    }
    let asked: Vec<String> = query
        .scope
        .as_deref()
        .unwrap_or("openid")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = asked
        .iter()
        .find(|s| statuspulse_api::scopes::oauth_scope(s).is_none())
    {
        let unknown: String = unknown
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        return back(
            "invalid_scope",
            &format!("`{unknown}` is not a scope of this server"),
        );
    }
    if query.state.as_ref().is_some_and(|s| s.len() > 1024)
        || query.nonce.as_ref().is_some_and(|n| n.len() > 1024)
    {
        return back(
            "invalid_request",
            "state and nonce are at most 1024 characters",
        );
    }

    // Who is signed in: a session of the client's workspace, or sign-in first.
    let session = session::authenticate(
        state.db.pool(),
        &state.clock,
        state.settings.session_lifetimes(),
        &state.public_url(),
        &Method::GET,
        &parts.headers,
    )
    .await
    .ok()
    .flatten()
    // Only a person authorizes an OAuth client; a key session (the console's) is no person.
    .and_then(|found| match found {
        session::Found::User(s) => Some(s),
        session::Found::Key(_) => None,
    })
    .filter(|s| s.workspace_id == client.workspace_id);
    let Some(session) = session else {
        return to_sign_in(&state, &parts, &client, query.connection.as_deref()).await;
    };

    let allowed = match stored_list("allowed_scopes", &client.allowed_scopes) {
        Ok(allowed) => allowed,
        Err(e) => return Refusal::internal(format!("client scopes: {e}")).answer(&parts.headers),
    };
    let negotiated = super::negotiate(&asked, &allowed, &session.effective);
    let whereabouts = Whereabouts::of(&parts, &state.settings);
    let circumstances = Circumstances {
        groups: &session.groups,
        client_id: Some(&client.id),
        mfa: session.mfa,
        amr: &session.amr,
        ip: whereabouts.ip,
        region: whereabouts.region.as_deref(),
    };
    let (granted, withheld) = match access_policies::enabled(state.db.pool(), &client.workspace_id)
        .await
    {
        Ok(policies) => policies.evaluate(&negotiated, &circumstances),
        Err(e) => return Refusal::internal(format!("access policies: {e}")).answer(&parts.headers),
    };
    if granted.is_empty() && !withheld.is_empty() {
        return back("access_denied", &super::withheld_description(&withheld));
    }
    let mut code_bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut code_bytes);
    let code = URL_SAFE_NO_PAD.encode(code_bytes);
    let now = state.clock.now_ms();
    let stored = sqlx::query(
        "INSERT INTO oauth_codes (code_hash, workspace_id, client_id, session_id, user_id, \
         redirect_uri, code_challenge, scope, nonce, family_id, created_at, expires_at, \
         policy_withheld) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(session::secret_hash(&code))
    .bind(&client.workspace_id)
    .bind(&client.id)
    .bind(&session.session_id)
    .bind(&session.user_id)
    .bind(&redirect_uri)
    .bind(query.code_challenge.as_deref().unwrap_or_default())
    .bind(granted.join(" "))
    .bind(&query.nonce)
    .bind(format!("fam_{}", uuid::Uuid::now_v7().simple()))
    .bind(now)
    .bind(now + CODE_TTL_MS)
    .bind((!withheld.is_empty()).then(|| super::withheld_for_audit(&withheld).to_string()))
    .execute(state.db.pool())
    .await;
    if let Err(e) = stored {
        return Refusal::internal(format!("storing a code: {e}")).answer(&parts.headers);
    }
    client_redirect(
        &redirect_uri,
        &[
            ("code", &code),
            ("state", query.state.as_deref().unwrap_or("")),
            ("iss", &super::issuer(&state)),
        ],
        query.state.is_some(),
    )
}

/// The client, and its redirect URI matched byte for byte: else a page, never a redirect.
async fn client_and_redirect(
    state: &AppState,
    query: &AuthorizeQuery,
) -> Result<ClientRow, Refusal> {
    let client_id = query
        .client_id
        .as_deref()
        .ok_or_else(|| Refusal::request("invalid_request", "client_id is required"))?;
    let client = clients::by_client_id(state, client_id)
        .await?
        .ok_or_else(|| Refusal::request("invalid_client", "there is no such OAuth client"))?;
    let registered = stored_list("redirect_uris", &client.redirect_uris)?;
    let Some(redirect_uri) = &query.redirect_uri else {
        return Err(Refusal::request(
            "invalid_request",
            "redirect_uri is required",
        ));
    };
    if !registered.iter().any(|r| r == redirect_uri) {
        return Err(Refusal::request(
            "invalid_redirect_uri",
            "redirect_uri is not one this client registered (they are compared exactly)",
        ));
    }
    Ok(client)
}

/// Sends the person to sign in with the workspace's connection (the one named, or its only
/// one), returning here afterwards.
async fn to_sign_in(
    state: &AppState,
    parts: &Parts,
    client: &ClientRow,
    named: Option<&str>,
) -> Response {
    let connections = match sso_connections::ids_of_workspace(state, &client.workspace_id).await {
        Ok(found) => found,
        Err(e) => return Refusal::from(e).answer(&parts.headers),
    };
    let connection = match named {
        Some(named) if connections.iter().any(|c| c == named) => named.to_owned(),
        Some(_) => {
            return Refusal::request(
                "unknown_connection",
                "that SSO connection is not this workspace's",
            )
            .answer(&parts.headers)
        }
        None if connections.len() == 1 => connections[0].clone(),
        None if connections.is_empty() => {
            return Refusal::request(
                "no_connection",
                "this workspace has no SSO connection to sign in with",
            )
            .answer(&parts.headers)
        }
        None => {
            return Refusal::request(
                "connection_required",
                "this workspace signs in through several connections; add `connection=<id>`",
            )
            .answer(&parts.headers)
        }
    };
    let here = parts
        .uri
        .path_and_query()
        .map_or("/oauth2/authorize", |p| p.as_str());
    let location = format!(
        "/v1/sso/login?connection={connection}&return_to={}",
        url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// 302 to the client's (vetted) redirect URI with `params` added to its query.
fn client_redirect(redirect_uri: &str, params: &[(&str, &str)], with_state: bool) -> Response {
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return Refusal::internal("a registered redirect URI does not parse")
            .answer(&Default::default());
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            if *k == "state" && !with_state {
                continue;
            }
            pairs.append_pair(k, v);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    super::no_store(&mut response);
    response
}

fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
