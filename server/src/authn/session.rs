//! Signed-in users: the session cookie and the principal it stands for.
//!
//! Sign-in (`signin/`) ends by creating a server-side session and setting its cookie. The cookie
//! carries `sps_` and 43 base64url characters: 256 random bits, of which the database keeps only
//! the SHA-256 (like an API key's hash, but a fast one: a 256-bit random secret cannot be
//! guessed, so nothing needs slowing down). Every request with the cookie reads the session row,
//! so a revocation is refused at once on every replica; there is no session cache to go stale.
//!
//! Writes authenticated by the cookie need the CSRF token (`X-CSRF-Token`), which `GET /v1/me`
//! returns: it is derived one-way from the cookie's secret, so a page of another origin can make
//! the browser send the cookie but cannot know the token. A request whose `Origin` is not ours is
//! refused too.
//!
//! A **key session** (`spk_` cookie, table `key_sessions`) is the console's sign-in with an admin
//! API key (issue 14): the key is presented once, as a Bearer credential, and the browser keeps
//! only this cookie. The session stands for the key: its authority and audit actor are the
//! key's, read afresh on every request, so revoking (or rotating past its grace) the key ends
//! the session on the next request.

use std::sync::Arc;

use axum::http::{header, HeaderMap, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;
use subtle::ConstantTimeEq as _;

use crate::authz::access::{self, AccessContext};
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::platform::clock::Clock;
use crate::platform::config::SessionLifetimes;
use crate::platform::db::stored_list;

/// The cookie's name over plain HTTP (loopback and tests).
pub const COOKIE: &str = "statuspulse_session";
/// The cookie's name over HTTPS: `__Host-` makes the browser refuse it unless it is `Secure`,
/// `Path=/` and without `Domain`, so a sibling subdomain cannot plant one.
pub const HOST_COOKIE: &str = "__Host-statuspulse_session";
/// The header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Prefix of a session secret.
const SECRET_PREFIX: &str = "sps_";
/// Prefix of a key session's secret (same length): which table to read is known without I/O.
const KEY_SECRET_PREFIX: &str = "spk_";
/// Base64url characters of 32 random bytes.
const SECRET_CHARS: usize = 43;
/// `last_seen_at` is written at most this often per session (the idle timeout's granularity).
const TOUCH_EVERY_MS: i64 = 60_000;
/// Groups a user can carry into a session; more are refused at sign-in.
pub const MAX_GROUPS: usize = 200;

/// A new session's secret, in the cookie only.
pub struct NewSecret {
    pub cookie_value: String,
    pub hash: String,
}

impl NewSecret {
    pub fn generate() -> Self {
        Self::with_prefix(SECRET_PREFIX)
    }

    /// The secret of a key session (console sign-in with an API key).
    pub fn generate_for_key() -> Self {
        Self::with_prefix(KEY_SECRET_PREFIX)
    }

    fn with_prefix(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let cookie_value = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = secret_hash(&cookie_value);
        Self { cookie_value, hash }
    }
}

/// What the database stores of a random bearer secret (a session cookie, a sign-in state, an
/// authorization code, a refresh token): its SHA-256, in hex. A fast hash is enough, as such a
/// secret has 256 random bits.
pub fn secret_hash(cookie_value: &str) -> String {
    hex::encode(Sha256::digest(cookie_value.as_bytes()))
}

/// The CSRF token of a session: one-way from its secret, so it reveals nothing of the cookie.
pub fn csrf_token(cookie_value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"statuspulse csrf token\0");
    hasher.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

fn well_formed(value: &str) -> bool {
    value.len() == SECRET_PREFIX.len() + SECRET_CHARS
        && (value.starts_with(SECRET_PREFIX) || value.starts_with(KEY_SECRET_PREFIX))
        && value[SECRET_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The cookie name this server sets and reads: `__Host-` when it is served over HTTPS.
pub fn cookie_name(public_url: &str) -> &'static str {
    if public_url.starts_with("https://") {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// Why a request's session cookie does not authenticate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFailure {
    /// The cookie appears twice (a planted cookie beside ours): neither is used.
    Duplicate,
    Malformed,
    /// Unknown, or deleted with its user.
    Unknown,
    Revoked,
    Expired,
    IdleTimeout,
    /// A write without the right CSRF token, or from another origin.
    CsrfRejected,
    /// A key session whose API key no longer authenticates (revoked, expired, rotated past
    /// its grace period, purged).
    KeyUnusable,
    Unavailable,
}

impl SessionFailure {
    pub fn reason(self) -> &'static str {
        match self {
            SessionFailure::Duplicate => "duplicate_session_cookie",
            SessionFailure::Malformed => "malformed_session",
            SessionFailure::Unknown => "invalid_session",
            SessionFailure::Revoked => "revoked_session",
            SessionFailure::Expired => "expired_session",
            SessionFailure::IdleTimeout => "idle_session",
            SessionFailure::CsrfRejected => "csrf_rejected",
            SessionFailure::KeyUnusable => "session_key_unusable",
            SessionFailure::Unavailable => "session_store_unavailable",
        }
    }
}

/// The value of the session cookie `name`, if the request has exactly one.
pub fn cookie_value<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, SessionFailure> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                if found.is_some() {
                    return Err(SessionFailure::Duplicate);
                }
                found = Some(v.trim_matches('"'));
            }
        }
    }
    Ok(found)
}

/// A signed-in user's session, as every request made with it sees it.
#[derive(Clone, Debug)]
pub struct SessionPrincipal {
    pub session_id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// StatusPulse groups (mapped from the IdP's at sign-in).
    pub groups: Vec<String>,
    pub mfa: bool,
    /// How the sign-in proved who they are (the ID token's `amr`).
    pub amr: Vec<String>,
    /// The token writes made with this session's cookie must carry ([`csrf_token`]).
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// What the user asks for: everything, narrowed by what their groups are bound to.
    pub requested: Scopes,
    /// The workspace's clusters and the bindings of the user's groups, read with the session.
    pub access: AccessContext,
    /// The scopes the groups' bindings grant somewhere (any environment, any cluster).
    pub effective: Scopes,
}

impl SessionPrincipal {
    pub fn grants(&self, scope: Scope) -> bool {
        self.effective.grants(scope)
    }
}

/// A session cookie that authenticated: a person's session, or a key session whose key the
/// caller still has to read (the authenticator's, one layer over).
#[derive(Clone, Debug)]
pub enum Found {
    User(Arc<SessionPrincipal>),
    Key(KeySessionRef),
}

/// A live key session, before its key is read.
#[derive(Clone, Debug)]
pub struct KeySessionRef {
    pub session_id: String,
    pub workspace_id: String,
    pub api_key_id: String,
    pub key_id: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A console session that stands for an API key: every request made with it acts as the key,
/// read afresh (see the module doc).
#[derive(Clone, Debug)]
pub struct KeySession {
    pub session_id: String,
    pub csrf_token: String,
    pub expires_at: i64,
    pub key: Arc<super::Credential>,
}

#[derive(sqlx::FromRow)]
struct KeySessionRow {
    id: String,
    workspace_id: String,
    api_key_id: String,
    key_id: String,
    last_seen_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    workspace_id: String,
    user_id: String,
    mfa: i64,
    amr: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    idp_groups: String,
    /// The connection's group mappings as they are now (`None`: the connection is gone).
    group_mappings: Option<String>,
}

/// Authenticates a request by its session cookie: `Ok(None)` when it has none. For a write
/// (`method` not safe), the CSRF token and the `Origin` are checked too.
pub async fn authenticate(
    pool: &AnyPool,
    clock: &Clock,
    lifetimes: SessionLifetimes,
    public_url: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Found>, SessionFailure> {
    let Some(value) = cookie_value(headers, cookie_name(public_url))? else {
        return Ok(None);
    };
    if !well_formed(value) {
        return Err(SessionFailure::Malformed);
    }
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        check_csrf(value, public_url, headers)?;
    }
    if value.starts_with(KEY_SECRET_PREFIX) {
        return authenticate_key_session(pool, clock, lifetimes, value)
            .await
            .map(|found| Some(Found::Key(found)));
    }
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id, s.workspace_id, s.user_id, s.mfa, s.amr, s.created_at, s.last_seen_at, \
         s.expires_at, s.revoked_at, u.email, u.name, u.idp_groups, c.group_mappings \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN sso_connections c ON c.id = u.connection_id AND c.workspace_id = u.workspace_id \
         WHERE s.secret_hash = $1",
    )
    .bind(secret_hash(value))
    .fetch_optional(pool)
    .await
    .map_err(|_| SessionFailure::Unavailable)?;
    let row = row.ok_or(SessionFailure::Unknown)?;
    let now = clock.now_ms();
    let life = Liveness {
        revoked_at: row.revoked_at,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    };
    life.check_and_touch(pool, "sessions", &row.id, now, lifetimes)
        .await?;
    let groups = current_groups(&row.idp_groups, row.group_mappings.as_deref())
        .map_err(|_| SessionFailure::Unavailable)?;
    let access = load_access(pool, &row.workspace_id, &groups)
        .await
        .map_err(|_| SessionFailure::Unavailable)?;
    let requested: Scopes = [Scope::AdminAll].into_iter().collect();
    let effective = held_somewhere(&access);
    Ok(Some(Found::User(Arc::new(SessionPrincipal {
        session_id: row.id,
        workspace_id: row.workspace_id,
        user_id: row.user_id,
        email: row.email,
        name: row.name,
        groups,
        mfa: row.mfa != 0,
        amr: crate::platform::db::stored_list("amr", &row.amr)
            .map_err(|_| SessionFailure::Unavailable)?,
        csrf_token: csrf_token(value),
        created_at: row.created_at,
        expires_at: row
            .expires_at
            .min(row.last_seen_at.max(now) + lifetimes.idle_ms),
        requested,
        access,
        effective,
    }))))
}

/// What decides whether a session (a person's or a key's) still works.
struct Liveness {
    revoked_at: Option<i64>,
    expires_at: i64,
    last_seen_at: i64,
}

impl Liveness {
    /// Refuses a revoked, expired or idle session; otherwise records the use in `table` at most
    /// once a minute. Best effort: a failed touch costs at most a minute of idle time.
    async fn check_and_touch(
        &self,
        pool: &AnyPool,
        table: &'static str,
        id: &str,
        now: i64,
        lifetimes: SessionLifetimes,
    ) -> Result<(), SessionFailure> {
        if self.revoked_at.is_some() {
            return Err(SessionFailure::Revoked);
        }
        if now >= self.expires_at {
            return Err(SessionFailure::Expired);
        }
        if now >= self.last_seen_at.saturating_add(lifetimes.idle_ms) {
            return Err(SessionFailure::IdleTimeout);
        }
        if now - self.last_seen_at >= TOUCH_EVERY_MS {
            let _ = sqlx::query(&format!(
                "UPDATE {table} SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1"
            ))
            .bind(now)
            .bind(id)
            .execute(pool)
            .await;
        }
        Ok(())
    }
}

/// A key session's row, checked like a person's (revoked, expired, idle) and touched.
async fn authenticate_key_session(
    pool: &AnyPool,
    clock: &Clock,
    lifetimes: SessionLifetimes,
    value: &str,
) -> Result<KeySessionRef, SessionFailure> {
    let row: Option<KeySessionRow> = sqlx::query_as(
        "SELECT id, workspace_id, api_key_id, key_id, last_seen_at, expires_at, revoked_at \
         FROM key_sessions WHERE secret_hash = $1",
    )
    .bind(secret_hash(value))
    .fetch_optional(pool)
    .await
    .map_err(|_| SessionFailure::Unavailable)?;
    let row = row.ok_or(SessionFailure::Unknown)?;
    let now = clock.now_ms();
    let life = Liveness {
        revoked_at: row.revoked_at,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    };
    life.check_and_touch(pool, "key_sessions", &row.id, now, lifetimes)
        .await?;
    Ok(KeySessionRef {
        session_id: row.id,
        workspace_id: row.workspace_id,
        api_key_id: row.api_key_id,
        key_id: row.key_id,
        csrf_token: csrf_token(value),
        expires_at: row
            .expires_at
            .min(row.last_seen_at.max(now) + lifetimes.idle_ms),
    })
}

/// What a user whose groups have `access` holds somewhere: in any environment, anywhere or in
/// one of its clusters.
pub fn held_somewhere(access: &AccessContext) -> Scopes {
    let requested: Scopes = [Scope::AdminAll].into_iter().collect();
    [Environment::Live, Environment::Test]
        .into_iter()
        .flat_map(|env| {
            let mut everywhere = vec![access.effective(&requested, env, None)];
            everywhere.extend(
                access
                    .reachable_clusters(&requested, env, &[])
                    .into_iter()
                    .map(|(_, scopes)| scopes),
            );
            everywhere
        })
        .flat_map(|scopes| scopes.iter().collect::<Vec<_>>())
        .collect()
}

/// The user's StatusPulse groups: the IdP groups of their last sign-in through the connection's
/// mappings *as they are now*. An administrator who removes a mapping (or deletes the
/// connection) takes the group from every session at once, as removing a role binding does;
/// groups frozen at sign-in (`users.groups`) kept it until the session ended, up to a day.
pub fn current_groups(
    idp_groups: &str,
    mappings: Option<&str>,
) -> Result<Vec<String>, sqlx::Error> {
    let Some(mappings) = mappings else {
        return Ok(Vec::new());
    };
    let mappings: std::collections::BTreeMap<String, String> = serde_json::from_str(mappings)
        .map_err(|e| {
            sqlx::Error::Decode(format!("stored group_mappings is corrupt: {e}").into())
        })?;
    let mut groups: Vec<String> = stored_list("idp_groups", idp_groups)?
        .iter()
        .filter_map(|g| mappings.get(g).cloned())
        .collect();
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// The clusters of the workspace and the bindings of every one of `groups`: what a user holds.
/// A user in no bound group holds nothing (bindings present but empty, never "unrestricted").
pub async fn load_access(
    pool: &AnyPool,
    workspace_id: &str,
    groups: &[String],
) -> Result<AccessContext, sqlx::Error> {
    let mut context = access::load_context(pool, workspace_id, None).await?;
    let mut bindings = Vec::new();
    for group in groups {
        bindings.extend(access::group_bindings(pool, workspace_id, group).await?);
    }
    context.bindings = Some(bindings);
    Ok(context)
}

fn check_csrf(value: &str, public_url: &str, headers: &HeaderMap) -> Result<(), SessionFailure> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ours = public_url.trim_end_matches('/');
        if origin.as_bytes() != ours.as_bytes() {
            return Err(SessionFailure::CsrfRejected);
        }
    }
    let mut presented = headers.get_all(CSRF_HEADER).iter();
    let (Some(token), None) = (presented.next(), presented.next()) else {
        return Err(SessionFailure::CsrfRejected);
    };
    let expected = csrf_token(value);
    if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(SessionFailure::CsrfRejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_well_formed_and_distinct_and_only_their_hash_is_kept() {
        let a = NewSecret::generate();
        let b = NewSecret::generate();
        assert!(well_formed(&a.cookie_value));
        assert_ne!(a.cookie_value, b.cookie_value);
        assert_eq!(a.hash, secret_hash(&a.cookie_value));
        assert!(!a.hash.contains(&a.cookie_value[4..]));
        assert!(!well_formed("sps_short"));
        assert!(!well_formed(&a.cookie_value.replace("sps_", "spx_")));
        let k = NewSecret::generate_for_key();
        assert!(k.cookie_value.starts_with("spk_") && well_formed(&k.cookie_value));
    }

    #[test]
    fn a_planted_second_cookie_makes_neither_count() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; statuspulse_session=x".parse().unwrap(),
        );
        assert_eq!(cookie_value(&headers, COOKIE), Ok(Some("x")));
        headers.append(header::COOKIE, "statuspulse_session=y".parse().unwrap());
        assert_eq!(
            cookie_value(&headers, COOKIE),
            Err(SessionFailure::Duplicate)
        );
        assert_eq!(cookie_value(&headers, HOST_COOKIE), Ok(None));
    }

    #[test]
    fn writes_need_the_token_of_this_very_cookie_and_our_origin() {
        let secret = NewSecret::generate().cookie_value;
        let other = NewSecret::generate().cookie_value;
        let url = "http://127.0.0.1:8080";
        let with = |token: &str, origin: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.insert(CSRF_HEADER, token.parse().unwrap());
            if let Some(o) = origin {
                headers.insert(header::ORIGIN, o.parse().unwrap());
            }
            check_csrf(&secret, url, &headers)
        };
        assert_eq!(with(&csrf_token(&secret), None), Ok(()));
        assert_eq!(with(&csrf_token(&secret), Some(url)), Ok(()));
        assert_eq!(
            with(&csrf_token(&secret), Some("https://evil.example")),
            Err(SessionFailure::CsrfRejected)
        );
        assert_eq!(
            with(&csrf_token(&other), None),
            Err(SessionFailure::CsrfRejected)
        );
        assert_eq!(with("", None), Err(SessionFailure::CsrfRejected));
        assert_eq!(
            check_csrf(&secret, url, &HeaderMap::new()),
            Err(SessionFailure::CsrfRejected)
        );
    }
}
