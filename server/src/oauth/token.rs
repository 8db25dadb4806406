//! `/oauth2/token`, `/oauth2/revoke` (RFC 7009), `/oauth2/introspect` (RFC 7662) and
//! `/oauth2/userinfo`.
//!
//! **Codes** are exchanged once: the row is marked used in the statement that reads it, so two
//! exchanges racing get one answer; a replayed code revokes the refresh family issued from it.
//! The PKCE verifier must hash to the challenge (S256), the redirect URI must be the one the
//! code was issued for, and the session must still be live.
//!
//! **Refresh tokens** are opaque, valid 24 h from sign-in (absolute), and rotate on every use.
//! A rotated token used again within [`REUSE_GRACE_MS`] (two tabs refreshing at once, or an
//! answer lost on the way) gets a sibling in the same family; after that, reuse is theft
//! (RFC 9700 §4.14.2): the whole family and the session are revoked. Every refresh re-evaluates
//! the scopes against the client and the user's bindings as they are now, so a narrowed binding
//! narrows the next tokens; asking for a scope the grant did not have is `invalid_scope`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::clients::{self, ClientRow};
use super::OAuthError;
use crate::app::AppState;
use crate::audit::{Actor, EventType, NewEvent};
use crate::authn::access_token::{self, AccessTokenFailure, TYP};
use crate::authn::session;
use crate::authn::signing::{self, ACCESS_TOKEN_TTL_SECS};
use crate::authz::conditional::Circumstances;
use crate::http::auth::Whereabouts;
use crate::http::Caller;
use crate::management::access_policies;
use crate::platform::db::stored_list;
use statuspulse_api::v1::workload_identities::TOKEN_EXCHANGE_GRANT;
use std::sync::Arc;

/// A rotated refresh token used again within this long gets a sibling instead of revoking.
pub const REUSE_GRACE_MS: i64 = 10_000;
/// Refresh tokens live this long from sign-in, whatever their rotations.
pub const REFRESH_LIFETIME_MS: i64 = 24 * 3600 * 1000;
const REFRESH_PREFIX: &str = "spr_";

/// The token endpoint's form (RFC 6749 §4.1.3, §6).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Token exchange (RFC 8693): the workload's JWT.
    subject_token: Option<String>,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    subject_token_type: Option<String>,
}

/// Issues tokens: `authorization_code` (with the PKCE verifier) or `refresh_token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "access_token, token_type, expires_in, refresh_token, scope, id_token"),
        (status = 400, description = "RFC 6749 error"), (status = 401, description = "invalid_client")))]
pub async fn token(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let answer = match form {
        Ok(Form(form)) => token_grant(&state, &parts, form).await,
        Err(_) => Err(OAuthError::new(
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded",
        )),
    };
    match answer {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            super::no_store(&mut response);
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn token_grant(
    state: &AppState,
    parts: &Parts,
    form: TokenForm,
) -> Result<Value, OAuthError> {
    // A workload authenticates with its platform's token, not as a client.
    if form.grant_type.as_deref() == Some(TOKEN_EXCHANGE_GRANT) {
        return super::exchange::exchange_grant(
            state,
            parts,
            super::exchange::ExchangeRequest {
                subject_token: form.subject_token.as_deref(),
                subject_token_type: form.subject_token_type.as_deref(),
                scope: form.scope.as_deref(),
                client_id: form.client_id.as_deref(),
            },
        )
        .await;
    }
    let client = authenticate_client(
        state,
        &parts.headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    match form.grant_type.as_deref() {
        Some("authorization_code") => code_grant(state, parts, &client, &form).await,
        Some("refresh_token") => refresh_grant(state, parts, &client, &form).await,
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or \
             urn:ietf:params:oauth:grant-type:token-exchange",
        )),
        None => Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
}

/// The client of a request: HTTP Basic (`client_secret_basic`), or `client_id` and
/// `client_secret` in the form (`client_secret_post`), or `client_id` alone for a public client.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientRow, OAuthError> {
    let basic = basic_credentials(headers)?;
    if basic.is_some() && form_secret.is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "authenticate the client one way: HTTP Basic or client_secret in the form",
        ));
    }
    let (client_id, secret) = match &basic {
        Some((id, secret)) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client_id differs from the Basic credentials",
                ));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        None => (
            form_id.ok_or_else(|| OAuthError::invalid_client("the client is not identified"))?,
            form_secret,
        ),
    };
    let client = clients::by_client_id(state, client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client or wrong secret"))?;
    match (client.is_confidential(), secret, &client.secret_hash) {
        (false, None, _) => Ok(client),
        (false, Some(_), _) => Err(OAuthError::invalid_client(
            "a public client has no secret; authenticate with PKCE only",
        )),
        (true, Some(secret), Some(phc)) => {
            if state
                .oauth_secrets
                .matches(&client.id, phc, secret, &state.authenticator)
                .await
            {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("unknown client or wrong secret"))
            }
        }
        (true, _, _) => Err(OAuthError::invalid_client(
            "a confidential client must authenticate with its secret",
        )),
    }
}

/// `Authorization: Basic` credentials, form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Ok(Some((
        decode(id).ok_or_else(bad)?,
        decode(secret).ok_or_else(bad)?,
    )))
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    workspace_id: String,
    client_id: String,
    session_id: String,
    user_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    nonce: Option<String>,
    family_id: String,
    expires_at: i64,
    policy_withheld: Option<String>,
}

async fn code_grant(
    state: &AppState,
    parts: &Parts,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<Value, OAuthError> {
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let now = state.clock.now_ms();
    let hash = session::secret_hash(code);
    let row: Option<CodeRow> = sqlx::query_as(
        "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         RETURNING workspace_id, client_id, session_id, user_id, redirect_uri, code_challenge, \
         scope, nonce, family_id, expires_at, policy_withheld",
    )
    .bind(now)
    .bind(&hash)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        // Used before: a replay. What was issued from it is revoked.
        let family: Option<(String, String, String)> = sqlx::query_as(
            "SELECT family_id, workspace_id, client_id FROM oauth_codes WHERE code_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(state.db.pool())
        .await?;
        if let Some((family, workspace, client_id)) = family {
            revoke_family(state, &family, now).await?;
            let event =
                NewEvent::success(&workspace, EventType::TokenReuseDetected, Actor::Anonymous)
                    .target("oauth_client", &client_id)
                    .details(located(
                        json!({"kind": "authorization_code", "family_id": family}),
                        parts,
                        state,
                    ));
            state.audit.store_durably(event).await;
        }
        return Err(OAuthError::new(
            "invalid_grant",
            "the code is unknown or was already used",
        ));
    };
    if row.client_id != client.id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if now >= row.expires_at {
        return Err(OAuthError::new("invalid_grant", "the code has expired"));
    }
    if form.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri is not the one the code was issued for",
        ));
    }
    let verifier = form
        .code_verifier
        .as_deref()
        .filter(|v| (43..=128).contains(&v.len()) && v.bytes().all(is_unreserved))
        .ok_or_else(|| OAuthError::new("invalid_grant", "code_verifier is missing or malformed"))?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !bool::from(challenge.as_bytes().ct_eq(row.code_challenge.as_bytes())) {
        return Err(OAuthError::new(
            "invalid_grant",
            "the PKCE verifier does not match the challenge",
        ));
    }
    let session = live_session(state, &row.session_id, now).await?;
    let scopes: Vec<String> = row.scope.split_whitespace().map(str::to_owned).collect();
    let grant = Grant {
        workspace_id: &row.workspace_id,
        client,
        session: &session,
        user_id: &row.user_id,
        scopes: &scopes,
        nonce: row.nonce.as_deref(),
        family_id: &row.family_id,
        refresh_expires_at: session.created_at + REFRESH_LIFETIME_MS,
    };
    let answer = issue(state, &grant, now).await?;
    let withheld = row
        .policy_withheld
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok())
        .unwrap_or_else(|| json!([]));
    audit_issue(
        state,
        parts,
        &grant,
        EventType::TokenIssued,
        ("authorization_code", withheld),
    )
    .await;
    Ok(answer)
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: String,
    workspace_id: String,
    client_id: String,
    session_id: String,
    user_id: String,
    scope: String,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

async fn refresh_grant(
    state: &AppState,
    parts: &Parts,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<Value, OAuthError> {
    let presented = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    let now = state.clock.now_ms();
    let hash = session::secret_hash(presented);
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT family_id, workspace_id, client_id, session_id, user_id, scope, expires_at, \
         rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(state.db.pool())
    .await?;
    let invalid = || OAuthError::new("invalid_grant", "the refresh token is not valid");
    let row = row.ok_or_else(invalid)?;
    if row.client_id != client.id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    if row.revoked_at.is_some() || now >= row.expires_at {
        return Err(invalid());
    }
    // Rotate: the one statement that can take this token out of use.
    let rotated = sqlx::query(
        "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 \
         AND rotated_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&hash)
    .execute(state.db.pool())
    .await?
    .rows_affected();
    if rotated == 0 {
        let rotated_at: Option<i64> =
            sqlx::query_scalar("SELECT rotated_at FROM refresh_tokens WHERE token_hash = $1")
                .bind(&hash)
                .fetch_optional(state.db.pool())
                .await?
                .flatten();
        let within_grace = rotated_at.is_some_and(|at| now - at <= REUSE_GRACE_MS);
        if !within_grace {
            reuse_detected(state, parts, &row, now).await?;
            return Err(OAuthError::new(
                "invalid_grant",
                "this refresh token was already used; its whole grant is revoked",
            ));
        }
    }
    let session = live_session(state, &row.session_id, now).await?;
    let granted: Vec<String> = row.scope.split_whitespace().map(str::to_owned).collect();
    let asked: Vec<String> = match &form.scope {
        Some(scope) => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                let extra: String = extra.chars().filter(|c| !c.is_control()).take(64).collect();
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("`{extra}` was not granted; a refresh can only narrow"),
                ));
            }
            asked
        }
        None => granted,
    };
    // What the client and the user's bindings allow now: a narrowed binding narrows the tokens.
    let allowed = stored_list("allowed_scopes", &client.allowed_scopes)?;
    let held = user_holds(state, &row.workspace_id, &session.groups).await?;
    let negotiated = super::negotiate(&asked, &allowed, &held);
    // Conditional access as the policies are now, in this request's circumstances: a tightened
    // policy narrows the family from here on (a refresh never widens it again).
    let whereabouts = Whereabouts::of(parts, &state.settings);
    let policies = access_policies::enabled(state.db.pool(), &row.workspace_id).await?;
    let (scopes, withheld) = policies.evaluate(
        &negotiated,
        &Circumstances {
            groups: &session.groups,
            client_id: Some(&client.id),
            mfa: session.mfa,
            amr: &session.amr,
            ip: whereabouts.ip,
            region: whereabouts.region.as_deref(),
        },
    );
    if scopes.is_empty() && !withheld.is_empty() {
        revoke_family(state, &row.family_id, now).await?;
        return Err(OAuthError::new(
            "invalid_grant",
            super::withheld_description(&withheld),
        ));
    }
    let grant = Grant {
        workspace_id: &row.workspace_id,
        client,
        session: &session,
        user_id: &row.user_id,
        scopes: &scopes,
        nonce: None,
        family_id: &row.family_id,
        refresh_expires_at: row.expires_at,
    };
    let answer = issue(state, &grant, now).await?;
    audit_issue(
        state,
        parts,
        &grant,
        EventType::TokenRefreshed,
        ("refresh_token", super::withheld_for_audit(&withheld)),
    )
    .await;
    Ok(answer)
}

/// Theft: the family and its session are revoked, on every replica within the poll period.
async fn reuse_detected(
    state: &AppState,
    parts: &Parts,
    row: &RefreshRow,
    now: i64,
) -> Result<(), OAuthError> {
    revoke_family(state, &row.family_id, now).await?;
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'refresh_token_reuse' \
         WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&row.session_id)
    .execute(state.db.pool())
    .await?;
    state.session_revoked(&row.session_id, now).await;
    let event = NewEvent::success(
        &row.workspace_id,
        EventType::TokenReuseDetected,
        Actor::Anonymous,
    )
    .target("session", &row.session_id)
    .details(located(
        json!({
            "kind": "refresh_token", "client_id": row.client_id, "family_id": row.family_id,
            "user_id": row.user_id,
        }),
        parts,
        state,
    ));
    state.audit.store_durably(event).await;
    Ok(())
}

async fn revoke_family(state: &AppState, family_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// A session a token may stand on.
struct LiveSession {
    id: String,
    created_at: i64,
    mfa: bool,
    amr: Vec<String>,
    email: Option<String>,
    name: Option<String>,
    groups: Vec<String>,
}

async fn live_session(
    state: &AppState,
    session_id: &str,
    now: i64,
) -> Result<LiveSession, OAuthError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: String,
        created_at: i64,
        expires_at: i64,
        revoked_at: Option<i64>,
        mfa: i64,
        amr: String,
        email: Option<String>,
        name: Option<String>,
        idp_groups: String,
        group_mappings: Option<String>,
    }
    // Groups through the connection's mappings as they are now, like the session cookie.
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id, s.created_at, s.expires_at, s.revoked_at, s.mfa, s.amr, u.email, u.name, u.idp_groups, \
         c.group_mappings FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN sso_connections c ON c.id = u.connection_id WHERE s.id = $1",
    )
    .bind(session_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        return Err(OAuthError::new(
            "invalid_grant",
            "the sign-in session is gone",
        ));
    };
    if row.revoked_at.is_some() || now >= row.expires_at {
        return Err(OAuthError::new(
            "invalid_grant",
            "the sign-in session has ended",
        ));
    }
    let groups = session::current_groups(&row.idp_groups, row.group_mappings.as_deref())?;
    let amr = stored_list("amr", &row.amr)?;
    let Row {
        id,
        created_at,
        mfa,
        email,
        name,
        ..
    } = row;
    Ok(LiveSession {
        id,
        created_at,
        mfa: mfa != 0,
        amr,
        email,
        name,
        groups,
    })
}

async fn user_holds(
    state: &AppState,
    workspace_id: &str,
    groups: &[String],
) -> Result<crate::authz::scopes::Scopes, OAuthError> {
    let access = session::load_access(state.db.pool(), workspace_id, groups).await?;
    Ok(session::held_somewhere(&access))
}

/// What one token answer is issued for.
struct Grant<'a> {
    workspace_id: &'a str,
    client: &'a ClientRow,
    session: &'a LiveSession,
    user_id: &'a str,
    scopes: &'a [String],
    nonce: Option<&'a str>,
    family_id: &'a str,
    refresh_expires_at: i64,
}

/// Signs the access token (and the ID token for `openid`) with the client's algorithm and
/// stores a new refresh token.
/// The key ring, with a key of `alg` that signs at `now`.
pub(super) async fn signing_ring(
    state: &AppState,
    alg: signing::SigningAlg,
    now: i64,
) -> Result<Arc<signing::Loaded>, OAuthError> {
    let period = super::keys::period_ms(state);
    let keys_failed = |e: signing::SigningError| OAuthError::server(format!("signing keys: {e}"));
    let ring = state
        .access_tokens
        .ring
        .fresh(state.db.pool(), state.master_keys.as_deref(), now)
        .await
        .map_err(keys_failed)?;
    if ring.signer_at(alg, now, period).is_some() {
        return Ok(ring);
    }
    // No key of this algorithm for this slot yet (a first token, a client switched before the
    // job ran, or the job stopped): make the slot's keys (idempotent across replicas).
    super::keys::ensure(state, alg).await.map_err(keys_failed)
}

/// Signs the access token (and the ID token for `openid`) and stores a new refresh token.
async fn issue(state: &AppState, grant: &Grant<'_>, now: i64) -> Result<Value, OAuthError> {
    let (alg, period) = (grant.client.signing_alg()?, super::keys::period_ms(state));
    let ring = signing_ring(state, alg, now).await?;
    let key = ring
        .signer_at(alg, now, period)
        .ok_or_else(|| OAuthError::server("no signing key is active"))?;
    let issuer = super::issuer(state);
    let iat = now / 1000;
    let scope = grant.scopes.join(" ");
    let access = json!({
        "iss": issuer, "sub": grant.user_id, "aud": issuer, "client_id": grant.client.id,
        "scope": scope, "sid": grant.session.id, "workspace_id": grant.workspace_id,
        "jti": uuid::Uuid::new_v4().simple().to_string(), "iat": iat,
        "exp": iat + ACCESS_TOKEN_TTL_SECS, "auth_time": grant.session.created_at / 1000,
    });
    let access_token = signing::sign(key, &access, TYP)
        .map_err(|e| OAuthError::server(format!("signing: {e}")))?;
    let mut answer = json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL_SECS,
        "scope": scope,
    });
    if grant.scopes.iter().any(|s| s == "openid") {
        let mut id = json!({
            "iss": issuer, "sub": grant.user_id, "aud": grant.client.id, "azp": grant.client.id,
            "iat": iat, "exp": iat + ACCESS_TOKEN_TTL_SECS, "auth_time": grant.session.created_at / 1000,
            "sid": grant.session.id,
        });
        if let Some(nonce) = grant.nonce {
            id["nonce"] = json!(nonce);
        }
        add_profile(&mut id, grant.scopes, grant.session);
        answer["id_token"] = json!(signing::sign(key, &id, "JWT")
            .map_err(|e| OAuthError::server(format!("signing: {e}")))?);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let refresh = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, workspace_id, client_id, session_id, \
         user_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(session::secret_hash(&refresh))
    .bind(grant.family_id)
    .bind(grant.workspace_id)
    .bind(&grant.client.id)
    .bind(&grant.session.id)
    .bind(grant.user_id)
    .bind(&scope)
    .bind(now)
    .bind(grant.refresh_expires_at)
    .execute(state.db.pool())
    .await?;
    answer["refresh_token"] = json!(refresh);
    Ok(answer)
}

fn add_profile(claims: &mut Value, scopes: &[String], session: &LiveSession) {
    if scopes.iter().any(|s| s == "email") {
        if let Some(email) = &session.email {
            claims["email"] = json!(email);
            claims["email_verified"] = json!(true);
        }
    }
    if scopes.iter().any(|s| s == "profile") {
        if let Some(name) = &session.name {
            claims["name"] = json!(name);
        }
        claims["groups"] = json!(session.groups);
    }
}

/// `token.issued` or `token.refreshed`: the client (target), the session, the scope granted and
/// what conditional access withheld, and where the request came from (address and region: the
/// anomaly rules compare regions across a family's exchanges).
async fn audit_issue(
    state: &AppState,
    parts: &Parts,
    grant: &Grant<'_>,
    kind: EventType,
    (how, withheld): (&str, Value),
) {
    let event = NewEvent::success(
        grant.workspace_id,
        kind,
        Actor::User {
            user_id: grant.user_id.to_owned(),
        },
    )
    .target("oauth_client", &grant.client.id)
    .details(located(
        json!({
            "grant_type": how, "session_id": grant.session.id, "family_id": grant.family_id,
            "scope": grant.scopes.join(" "), "withheld_by_policy": withheld,
        }),
        parts,
        state,
    ));
    state.audit.store_durably(event).await;
}

/// `details` with the request's `source_ip` and `region`.
fn located(details: Value, parts: &Parts, state: &AppState) -> Value {
    Whereabouts::of(parts, &state.settings).add_to(details)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// The revocation and introspection form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenQueryForm {
    token: Option<String>,
    /// Accepted and not needed (RFC 7009 §2.1): the token's shape says what it is.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The form of a revocation or introspection, its client authenticated: `(client, token)`.
async fn token_request(
    state: &AppState,
    parts: &Parts,
    form: Result<Form<TokenQueryForm>, FormRejection>,
) -> Result<(ClientRow, String), OAuthError> {
    let Ok(Form(form)) = form else {
        return Err(OAuthError::new(
            "invalid_request",
            "send application/x-www-form-urlencoded",
        ));
    };
    let client = authenticate_client(
        state,
        &parts.headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    // `token_type_hint` is a hint (RFC 7009 §2.1): the token's shape says what it is.
    let token = form
        .token
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    Ok((client, token))
}

/// RFC 7009: revokes a refresh token (and its whole family). Unknown tokens, and tokens of
/// other clients, are answered 200 and left alone, as the RFC asks.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content = TokenQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or not a token of this client"),
        (status = 400, description = "RFC 6749 error"), (status = 401, description = "invalid_client")))]
pub async fn revoke(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<TokenQueryForm>, FormRejection>,
) -> Response {
    let (client, token) = match token_request(&state, &parts, form).await {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let token = token.as_str();
    let now = state.clock.now_ms();
    let found: Result<Option<(String, String, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT family_id, workspace_id, session_id FROM refresh_tokens \
         WHERE token_hash = $1 AND client_id = $2",
    )
    .bind(session::secret_hash(token))
    .bind(&client.id)
    .fetch_optional(state.db.pool())
    .await;
    match found {
        Ok(Some((family, workspace, session))) => {
            if let Err(e) = revoke_family(&state, &family, now).await {
                return OAuthError::from(e).into_response();
            }
            let event = NewEvent::success(&workspace, EventType::TokenRevoked, Actor::Anonymous)
                .target("oauth_client", &client.id)
                .details(located(
                    json!({"family_id": family, "session_id": session}),
                    &parts,
                    &state,
                ));
            state.audit.store_durably(event).await;
        }
        Ok(None) => {}
        Err(e) => return OAuthError::from(e).into_response(),
    }
    let mut response = axum::http::StatusCode::OK.into_response();
    super::no_store(&mut response);
    response
}

/// RFC 7662: whether a token is active, for a confidential client of the token's workspace.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth",
    request_body(content = TokenQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "{active, ...}"), (status = 401, description = "invalid_client")))]
pub async fn introspect(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<TokenQueryForm>, FormRejection>,
) -> Response {
    let (client, token) = match token_request(&state, &parts, form).await {
        Ok((client, _)) if !client.is_confidential() => {
            return OAuthError::invalid_client("introspection is for confidential clients")
                .into_response()
        }
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let token = token.as_str();
    let inactive = || {
        let mut r = axum::Json(json!({"active": false})).into_response();
        super::no_store(&mut r);
        r
    };
    let now = state.clock.now_ms();
    let answer = if access_token::looks_like_jwt(token) {
        match state
            .access_tokens
            .verify(
                token,
                state.db.pool(),
                state.master_keys.as_deref(),
                &super::issuer(&state),
                now,
            )
            .await
        {
            Ok(t) if t.workspace_id == client.workspace_id => {
                let scope = if t.service_account_id.is_some() {
                    t.scopes.names().join(" ")
                } else {
                    t.oauth_scopes.join(" ")
                };
                json!({
                    "active": true, "token_type": "access_token", "scope": scope,
                    "client_id": t.client_id, "sub": t.subject, "exp": t.expires_at_secs,
                    "iss": super::issuer(&state), "sid": t.session_id, "jti": t.jti,
                })
            }
            Ok(_) | Err(AccessTokenFailure::Token(_) | AccessTokenFailure::SessionRevoked) => {
                return inactive()
            }
            Err(AccessTokenFailure::Unavailable) => {
                return OAuthError::server("signing keys unavailable").into_response()
            }
        }
    } else {
        let row: Result<Option<RefreshRow>, sqlx::Error> = sqlx::query_as(
            "SELECT family_id, workspace_id, client_id, session_id, user_id, scope, expires_at, \
             rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(session::secret_hash(token))
        .fetch_optional(state.db.pool())
        .await;
        match row {
            Ok(Some(r))
                if r.workspace_id == client.workspace_id
                    && r.revoked_at.is_none()
                    && r.rotated_at.is_none()
                    && now < r.expires_at
                    && live_session(&state, &r.session_id, now).await.is_ok() =>
            {
                json!({"active": true, "token_type": "refresh_token", "scope": r.scope,
                    "client_id": r.client_id, "sub": r.user_id, "exp": r.expires_at / 1000,
                    "iss": super::issuer(&state), "sid": r.session_id})
            }
            Ok(_) => return inactive(),
            Err(e) => return OAuthError::from(e).into_response(),
        }
    };
    let mut response = axum::Json(answer).into_response();
    super::no_store(&mut response);
    response
}

/// OIDC UserInfo: the user of an access token granted `openid`.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth",
    responses((status = 200, description = "Claims about the user"), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn userinfo(State(state): State<AppState>, caller: Caller) -> Response {
    let crate::authn::Principal::AccessToken(token) = &caller.principal else {
        return crate::error::ApiError::unauthenticated(
            "access_token_required",
            "userinfo answers for an OAuth access token",
        )
        .into_response();
    };
    if !token.oauth_scopes.iter().any(|s| s == "openid") {
        return crate::error::ApiError::forbidden(
            "insufficient_scope",
            "the token was not granted `openid`",
        )
        .into_response();
    }
    let Some(session_id) = &token.session_id else {
        return crate::error::ApiError::forbidden(
            "insufficient_scope",
            "userinfo answers for a person's token, not a workload's",
        )
        .into_response();
    };
    let session = match live_session(&state, session_id, state.clock.now_ms()).await {
        Ok(session) => session,
        Err(e) => return e.into_response(),
    };
    let mut claims = json!({"sub": token.subject, "workspace_id": token.workspace_id});
    add_profile(&mut claims, &token.oauth_scopes, &session);
    let mut response = axum::Json(claims).into_response();
    super::no_store(&mut response);
    response
}
