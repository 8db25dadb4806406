//! Sessions: created at sign-in, listed and revoked here.
//!
//! `POST /v1/sessions` opens a *key session*: the console's sign-in with an admin API key,
//! presented once as a Bearer credential (so every defence of key authentication applies:
//! checksum, failure budgets per network, audit). The browser keeps only the session cookie;
//! the session acts as the key and ends with it (`authn::session`).
//!
//! A user sees and revokes their own sessions; a caller holding `admin:sso` (a signed-in
//! administrator or an API key) every session of the workspace, key sessions included (listed as
//! `revoked` from the moment their key is, as `authn::session` then refuses them). A key's
//! sessions end together with `revoke-all {"api_key_id"}`: by the key, one of its sessions, or
//! `admin:sso`. Another workspace's session is a 404. Revocation is a row update that every replica reads on the session's next request (see
//! `authn::session`): refused at once, everywhere.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authn::Principal;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Json};
use crate::platform::clock::rfc3339;
use crate::platform::db::{list_for_storage, stored_list, WriteTx};
use crate::platform::ids;
pub use statuspulse_api::v1::{
    KeySessionCreated, Me, RevokeAllSessions, RevokedSessions, Session, User,
};

/// A session about to begin.
pub struct NewSession<'a> {
    pub workspace_id: &'a str,
    pub user_id: &'a str,
    pub connection_id: &'a str,
    pub secret_hash: &'a str,
    pub mfa: bool,
    pub amr: &'a [String],
    pub acr: Option<&'a str>,
    pub source_ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

/// Inserts a session in the sign-in's transaction; returns its id.
pub async fn create(tx: &mut WriteTx<'_>, new: &NewSession<'_>) -> Result<String, sqlx::Error> {
    let id = ids::new_id(ids::SESSION);
    let amr: Vec<String> = new
        .amr
        .iter()
        .take(20)
        .map(|a| a.chars().take(64).collect())
        .collect();
    sqlx::query(
        "INSERT INTO sessions (id, workspace_id, user_id, connection_id, secret_hash, mfa, amr, \
         acr, source_ip, user_agent, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
    )
    .bind(&id)
    .bind(new.workspace_id)
    .bind(new.user_id)
    .bind(new.connection_id)
    .bind(new.secret_hash)
    .bind(i64::from(new.mfa))
    .bind(list_for_storage(&amr))
    .bind(new.acr.map(|a| a.chars().take(256).collect::<String>()))
    .bind(&new.source_ip)
    .bind(new.user_agent)
    .bind(new.now)
    .bind(new.expires_at)
    .execute(&mut *tx.tx)
    .await?;
    Ok(id)
}

/// A person's session as a [`SessionRow`].
const PERSON_SESSION: &str = "SELECT id, workspace_id, user_id, connection_id, \
    CAST(NULL AS TEXT) AS api_key_id, CAST(NULL AS TEXT) AS key_id, mfa, amr, acr, source_ip, \
    user_agent, created_at, last_seen_at, expires_at, revoked_at FROM sessions";

/// A key session as a [`SessionRow`] (`$now` is the parameter holding the time): revoked when
/// the key was (or is gone), so the list says what `authn::session` would answer.
fn key_session_select(now: &str) -> String {
    format!(
        "SELECT ks.id, ks.workspace_id, CAST(NULL AS TEXT) AS user_id, \
         CAST(NULL AS TEXT) AS connection_id, ks.api_key_id, ks.key_id, 0 AS mfa, '[]' AS amr, \
         CAST(NULL AS TEXT) AS acr, ks.source_ip, ks.user_agent, ks.created_at, ks.last_seen_at, \
         ks.expires_at, COALESCE(ks.revoked_at, CASE WHEN k.id IS NULL THEN ks.created_at \
         WHEN k.revoked_at <= {now} THEN k.revoked_at END) AS revoked_at \
         FROM key_sessions ks LEFT JOIN api_keys k \
         ON k.id = ks.api_key_id AND k.workspace_id = ks.workspace_id"
    )
}

/// A row of either kind of session.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    workspace_id: String,
    user_id: Option<String>,
    connection_id: Option<String>,
    api_key_id: Option<String>,
    key_id: Option<String>,
    mfa: i64,
    amr: String,
    acr: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl SessionRow {
    fn view(self, now: i64, idle_ms: i64, current: Option<&str>) -> Result<Session, sqlx::Error> {
        let status = if self.revoked_at.is_some() {
            "revoked"
        } else if now >= self.expires_at || now >= self.last_seen_at.saturating_add(idle_ms) {
            "expired"
        } else {
            "active"
        };
        let kind = if self.api_key_id.is_some() {
            "api_key"
        } else {
            "user"
        };
        Ok(Session {
            current: current == Some(self.id.as_str()),
            amr: stored_list("amr", &self.amr)?,
            id: self.id,
            workspace_id: self.workspace_id,
            kind: kind.to_owned(),
            user_id: self.user_id,
            connection_id: self.connection_id,
            api_key_id: self.api_key_id,
            key_id: self.key_id,
            status: status.to_owned(),
            mfa: self.mfa != 0,
            acr: self.acr,
            source_ip: self.source_ip,
            user_agent: self.user_agent,
            created_at: rfc3339(self.created_at),
            last_seen_at: rfc3339(self.last_seen_at),
            expires_at: rfc3339(self.expires_at),
            revoked_at: self.revoked_at.map(rfc3339),
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    workspace_id: String,
    connection_id: String,
    subject: String,
    email: Option<String>,
    name: Option<String>,
    groups: String,
    idp_groups: String,
}

impl UserRow {
    fn view(self) -> Result<User, sqlx::Error> {
        Ok(User {
            groups: stored_list("groups", &self.groups)?,
            idp_groups: stored_list("idp_groups", &self.idp_groups)?,
            id: self.id,
            workspace_id: self.workspace_id,
            connection_id: self.connection_id,
            subject: self.subject,
            email: self.email,
            name: self.name,
        })
    }
}

fn current_session_id(caller: &Caller) -> Option<&str> {
    caller.principal.session_id()
}

/// Opens a browser session for the request's admin API key (the console's sign-in before SSO):
/// the answer sets the session cookie, which stands for the key until either is revoked. Only
/// a key holding `admin:all` may: anyone else signs in with SSO.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions",
    responses((status = 201, body = KeySessionCreated,
            description = "Signed in: the answer sets the session cookie"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)),
    security(("bearer" = ["admin:all"])))]
pub async fn create_key_session(
    State(state): State<AppState>,
    caller: Caller,
    parts: axum::http::request::Parts,
) -> ApiResult<axum::response::Response> {
    let Principal::ApiKey(key) = &caller.principal else {
        return Err(ApiError::forbidden(
            "api_key_required",
            "a session is opened with an API key sent as `Authorization: Bearer <key>`; this \
             request is already signed in",
        ));
    };
    if !key.effective_scopes.grants(Scope::AdminAll) || key.service_account_id.is_some() {
        return Err(ApiError::forbidden(
            "admin_key_required",
            "only the workspace's admin key (`admin:all`, no service account) can sign in to \
             the console; people sign in with SSO, and automation keys stay with automation",
        )
        .with_field("key"));
    }
    let now = state.clock.now_ms();
    let lifetime = state.settings.session_lifetimes();
    let expires_at = (now + lifetime.absolute_ms).min(key.expires_at);
    let secret = crate::authn::session::NewSecret::generate_for_key();
    let id = ids::new_id(ids::SESSION);
    let source_ip = crate::http::auth::client_ip(&parts, &state.settings.trusted_proxies)
        .map(|ip| ip.to_string());
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect::<String>());
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO key_sessions (id, workspace_id, api_key_id, key_id, secret_hash, source_ip, \
         user_agent, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(&id)
    .bind(&key.workspace_id)
    .bind(&key.id)
    .bind(key.key_id.as_str())
    .bind(&secret.hash)
    .bind(&source_ip)
    .bind(&user_agent)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SessionCreated,
        caller.actor(),
    )
    .target("session", &id)
    .details(json!({
        "kind": "api_key",
        "api_key_id": key.id,
        "key_id": key.key_id.as_str(),
        "source_ip": source_ip,
        "expires_at": rfc3339(expires_at),
    }));
    audit::commit_with(tx, &state.clock, &event).await?;
    let public_url = state.public_url();
    let body = KeySessionCreated {
        id,
        workspace_id: key.workspace_id.clone(),
        api_key_id: key.id.clone(),
        key_id: key.key_id.as_str().to_owned(),
        expires_at: rfc3339(expires_at),
        csrf_token: crate::authn::session::csrf_token(&secret.cookie_value),
    };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    let cookie =
        super::flow::session_cookie(&public_url, &secret.cookie_value, (expires_at - now) / 1000);
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The signed-in user: who they are, their groups, what those are bound to, this session, and
/// the CSRF token for writes made with the session cookie.
#[utoipa::path(get, path = "/v1/me", tag = "sessions",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)),
    security(("session" = [])))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Me>> {
    let Principal::Session(session) = &caller.principal else {
        return Err(ApiError::forbidden(
            "not_signed_in",
            "GET /v1/me describes a signed-in user; this request is authenticated with an API \
             key (or a session opened with one)",
        ));
    };
    let user: UserRow = sqlx::query_as(
        "SELECT id, workspace_id, connection_id, subject, email, name, groups, idp_groups \
         FROM users WHERE id = $1",
    )
    .bind(&session.user_id)
    .fetch_one(state.db.pool())
    .await?;
    let row: SessionRow = sqlx::query_as(&format!("{PERSON_SESSION} WHERE id = $1"))
        .bind(&session.session_id)
        .fetch_one(state.db.pool())
        .await?;
    let lifetimes = state.settings.session_lifetimes();
    let mut user = user.view()?;
    // The groups the session holds now (the connection's current mappings), not those
    // stored at sign-in.
    user.groups.clone_from(&session.groups);
    Ok(axum::Json(Me {
        user,
        effective_scopes: session
            .effective
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        session: row.view(
            state.clock.now_ms(),
            lifetimes.idle_ms,
            Some(&session.session_id),
        )?,
        csrf_token: session.csrf_token.clone(),
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// Only this user's sessions.
    user_id: Option<String>,
    /// Only the key sessions of this API key (`key_…`).
    api_key_id: Option<String>,
    /// `true`: only sessions still usable (default: every session).
    active: Option<bool>,
}

/// Sessions: a user's own, or with `admin:sso` every session of the workspace, people's and key
/// sessions alike. Oldest first.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(SessionFilter, PageParams),
    responses((status = 200, body = Page<Session>), (status = 403, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"]), ("session" = [])))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<SessionFilter>,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Session>>> {
    let limit = page.limit()?;
    ids::check_filter("user_id", filter.user_id.as_deref(), ids::USER)?;
    ids::check_filter("api_key_id", filter.api_key_id.as_deref(), ids::API_KEY)?;
    let only_user = match (&caller.principal, caller.principal.grants(Scope::AdminSso)) {
        (_, true) => filter.user_id.clone(),
        (Principal::Session(s), false) => {
            if filter.user_id.as_ref().is_some_and(|u| *u != s.user_id)
                || filter.api_key_id.is_some()
            {
                return Err(ApiError::forbidden(
                    "insufficient_scope",
                    "sessions other than your own need the `admin:sso` scope",
                ));
            }
            Some(s.user_id.clone())
        }
        (Principal::ApiKey(_) | Principal::AccessToken(_) | Principal::KeySession(_), false) => {
            return Err(ApiError::forbidden(
                "insufficient_scope",
                "this route needs the `admin:sso` scope",
            ))
        }
    };
    let active_only = filter.active.unwrap_or(false);
    let now = state.clock.now_ms();
    let lifetimes = state.settings.session_lifetimes();
    // People's sessions unless asked about a key's; key sessions unless asked about a user's.
    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
        "SELECT * FROM ({PERSON_SESSION} WHERE workspace_id = $1 AND $2 IS NULL \
         AND ($3 IS NULL OR user_id = $3) \
         UNION ALL {keys} WHERE ks.workspace_id = $1 AND $3 IS NULL \
         AND ($2 IS NULL OR ks.api_key_id = $2)) AS every_session \
         WHERE id > $4 \
         AND ($6 = 0 OR (revoked_at IS NULL AND expires_at > $5 AND last_seen_at > $7)) \
         ORDER BY id LIMIT $8",
        keys = key_session_select("$5"),
    ))
    .bind(caller.workspace_id())
    .bind(&filter.api_key_id)
    .bind(&only_user)
    .bind(page.after()?)
    .bind(now)
    .bind(i64::from(active_only))
    .bind(now - lifetimes.idle_ms)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let current = current_session_id(&caller);
    let views = rows
        .into_iter()
        .map(|r| r.view(now, lifetimes.idle_ms, current))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(views, limit, |s| s.id.clone(), |s| s)))
}

/// Revokes one session: the user's own, or with `admin:sso` any of the workspace. Refused at
/// once on every replica. Revoking a revoked session changes nothing.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"]), ("session" = [])))]
pub async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ids::expect_prefix(&id, ids::SESSION)?;
    let owner: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM sessions WHERE id = $1 AND workspace_id = $2")
            .bind(&id)
            .bind(caller.workspace_id())
            .fetch_optional(state.db.pool())
            .await?;
    let Some((owner,)) = owner else {
        return revoke_key_session(&state, &caller, &id).await;
    };
    require_self_or_admin(&caller, &owner)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'revoked' \
         WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(StatusCode::NO_CONTENT);
    }
    // Its access tokens are refused here at once, elsewhere within the revocation poll.
    state.session_revoked(&id, now).await;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SessionRevoked,
        caller.actor(),
    )
    .target("session", &id)
    .details(json!({"user_id": owner, "reason": "revoked"}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose sessions `revoke-all` ends: where they are, who owns them, who may end them.
struct SessionOwner {
    /// The sessions' table and its column naming the owner.
    sessions: &'static str,
    column: &'static str,
    /// The owner's table and id prefix.
    table: &'static str,
    prefix: &'static str,
    /// The audit event's target type.
    target: &'static str,
    /// Whether OAuth access tokens are issued to these sessions (a key session gets none).
    has_access_tokens: bool,
    authorize: fn(&Caller, &str) -> ApiResult<()>,
}

const USER_SESSIONS: SessionOwner = SessionOwner {
    sessions: "sessions",
    column: "user_id",
    table: "users",
    prefix: ids::USER,
    target: "user",
    has_access_tokens: true,
    authorize: require_self_or_admin,
};

const KEY_SESSIONS: SessionOwner = SessionOwner {
    sessions: "key_sessions",
    column: "api_key_id",
    table: "api_keys",
    prefix: ids::API_KEY,
    target: "api_key",
    has_access_tokens: false,
    authorize: require_key_or_admin,
};

/// Signs out everywhere: every session of a user (your own user, or any user of the workspace
/// with `admin:sso`), or every key session of an API key (the key itself, a session of that
/// key, or `admin:sso`). The key keeps working: revoking it is `POST /v1/api-keys/revoke`.
#[utoipa::path(post, path = "/v1/sessions/revoke-all", tag = "sessions",
    request_body = RevokeAllSessions,
    responses((status = 200, body = RevokedSessions), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"]), ("session" = [])))]
pub async fn revoke_all(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RevokeAllSessions>,
) -> ApiResult<axum::Json<RevokedSessions>> {
    let (owner, id) = match (&body.user_id, &body.api_key_id) {
        (Some(user), None) => (&USER_SESSIONS, user),
        (None, Some(key)) => (&KEY_SESSIONS, key),
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "principal_required",
                "give exactly one of user_id and api_key_id",
            ))
        }
    };
    if !statuspulse_api::ids::is_minted(id, owner.prefix) {
        return Err(ApiError::invalid(
            owner.column,
            "invalid_id",
            format!("{} must be an id ({}_…)", owner.column, owner.prefix),
        ));
    }
    let exists: Option<(String,)> = sqlx::query_as(&format!(
        "SELECT id FROM {} WHERE id = $1 AND workspace_id = $2",
        owner.table
    ))
    .bind(id)
    .bind(caller.workspace_id())
    .fetch_optional(state.db.pool())
    .await?;
    if exists.is_none() {
        return Err(ApiError::not_found());
    }
    (owner.authorize)(&caller, id)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let revoked: Vec<(String,)> = sqlx::query_as(&format!(
        "UPDATE {} SET revoked_at = $1, revoked_reason = 'revoke_all' \
         WHERE {} = $2 AND workspace_id = $3 AND revoked_at IS NULL RETURNING id",
        owner.sessions, owner.column
    ))
    .bind(now)
    .bind(id)
    .bind(caller.workspace_id())
    .fetch_all(&mut *tx.tx)
    .await?;
    if owner.has_access_tokens {
        // Their access tokens too: refused here at once, elsewhere within the revocation poll.
        for (session,) in &revoked {
            state.session_revoked(session, now).await;
        }
    }
    let count = u64::try_from(revoked.len()).unwrap_or(u64::MAX);
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SessionRevoked,
        caller.actor(),
    )
    .target(owner.target, id)
    .details(json!({
        "reason": "revoke_all",
        "sessions": revoked.iter().map(|(id,)| id).collect::<Vec<_>>(),
    }));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(RevokedSessions { revoked: count }))
}

/// Revokes a key session: the session itself (signing out), the key it stands for, or a caller
/// with `admin:sso`. Refused at once on every replica (the row is read on every request).
async fn revoke_key_session(state: &AppState, caller: &Caller, id: &str) -> ApiResult<StatusCode> {
    let key: Option<(String,)> =
        sqlx::query_as("SELECT api_key_id FROM key_sessions WHERE id = $1 AND workspace_id = $2")
            .bind(id)
            .bind(caller.workspace_id())
            .fetch_optional(state.db.pool())
            .await?;
    let (api_key_id,) = key.ok_or_else(ApiError::not_found)?;
    if caller.principal.session_id() != Some(id) {
        require_key_or_admin(caller, &api_key_id)?;
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE key_sessions SET revoked_at = $1, revoked_reason = 'revoked' \
         WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(StatusCode::NO_CONTENT);
    }
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SessionRevoked,
        caller.actor(),
    )
    .target("session", id)
    .details(json!({"api_key_id": api_key_id, "reason": "revoked"}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn require_self_or_admin(caller: &Caller, user_id: &str) -> ApiResult<()> {
    if caller.principal.grants(Scope::AdminSso) {
        return Ok(());
    }
    match &caller.principal {
        Principal::Session(s) if s.user_id == user_id => Ok(()),
        _ => Err(ApiError::forbidden(
            "insufficient_scope",
            "another user's sessions need the `admin:sso` scope",
        )),
    }
}

/// The key sessions of `api_key_id` are the key's own (the key, or any of its sessions), else
/// need `admin:sso`.
fn require_key_or_admin(caller: &Caller, api_key_id: &str) -> ApiResult<()> {
    let own = match &caller.principal {
        Principal::ApiKey(k) => k.id == api_key_id,
        Principal::KeySession(s) => s.key.id == api_key_id,
        Principal::Session(_) | Principal::AccessToken(_) => false,
    };
    if own || caller.principal.grants(Scope::AdminSso) {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "insufficient_scope",
        "another principal's sessions need the `admin:sso` scope",
    ))
}
