//! The `Caller` extractor: who is making this request, refused with the right answer (and an
//! audit event) when nobody valid is.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::audit::{Actor, Failure, SYSTEM_CHAIN};
use crate::authn::access_token::{self, AccessTokenFailure, TokenPrincipal};
use crate::authn::session::{self, KeySession, SessionFailure};
use crate::authn::{AuthFailure, Credential, Principal};
use crate::authz::scopes::Scope;
use crate::error::ApiError;
use crate::platform::network::{parse_forwarded, parse_x_forwarded_for};
use crate::platform::network::{ClientNetwork, TrustedProxies};
use crate::platform::rate_limit::Decision;
use statuspulse_api::key::KeyId;

/// An authenticated, rate-limit-admitted request: who is acting, as authorization and audit
/// see it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
}

impl Caller {
    pub fn workspace_id(&self) -> &str {
        self.principal.workspace_id()
    }

    pub fn actor(&self) -> Actor {
        Actor::from(&self.principal)
    }

    /// Refuses with 403 unless the caller's scopes grant `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.principal.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                format!("this route needs the `{scope}` scope"),
            ))
        }
    }
}

tokio::task_local! {
    /// Where the `Caller` extractor leaves the request's rate-limit decision, for the
    /// `rate_limit_headers` middleware to turn into headers on whatever the answer is. A
    /// task-local rather than a request extension: no allocation per request.
    pub static RATE_LIMIT_DECISION: RefCell<Option<Decision>>;
}

/// A principal the request screen already authenticated (for a request with a body, before
/// reading it), so the [`Caller`] extractor does not authenticate it twice.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Principal);

/// Why the `Authorization` header holds no usable Bearer credential, judged without I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    Missing,
    /// Which of two credentials a proxy in front of us looked at is anyone's guess, so neither
    /// is used.
    Duplicate,
    NotBearer,
}

/// The credential of `Authorization: Bearer <credential>`, the one place that header is read.
pub fn bearer_credential(headers: &HeaderMap) -> Result<&str, HeaderProblem> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(HeaderProblem::Missing)?;
    if values.next().is_some() {
        return Err(HeaderProblem::Duplicate);
    }
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(HeaderProblem::NotBearer)
}

/// Authenticates the request: its `Authorization: Bearer` credential, or else its session
/// cookie. A refusal is audited and counted, and is the answer to send. Rate limits are the
/// [`Caller`] extractor's, after this.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, Refused> {
    match bearer_credential(&parts.headers) {
        Err(HeaderProblem::Missing) => match authenticate_session(parts, state).await? {
            Some(principal) => Ok(principal),
            None => Err(ApiError::unauthenticated(
                "missing_credential",
                "send the API key as `Authorization: Bearer <key>`, or sign in",
            )
            .into()),
        },
        Ok(presented) if access_token::looks_like_jwt(presented) => {
            authenticate_token(parts, state, presented)
                .await
                .map(Principal::AccessToken)
        }
        _ => authenticate_bearer(parts, state)
            .await
            .map(Principal::ApiKey),
    }
}

/// Verifies an access token of our OAuth server (signature against the key ring in memory, its
/// session not revoked); refusals are audited like a bad key's, never with the token.
async fn authenticate_token(
    parts: &Parts,
    state: &AppState,
    presented: &str,
) -> Result<Arc<TokenPrincipal>, Refused> {
    let verified = state
        .access_tokens
        .verify(
            presented,
            state.db.pool(),
            state.master_keys.as_deref(),
            &state.public_url(),
            state.clock.now_ms(),
        )
        .await;
    let failure = match verified {
        Ok(principal) => return Ok(principal),
        Err(failure) => failure,
    };
    let reason = failure.reason();
    record_failure(state, parts, SYSTEM_CHAIN, None, None, reason).await;
    let answer = match failure {
        AccessTokenFailure::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reason,
            "tokens cannot be checked right now; retry shortly",
        ),
        AccessTokenFailure::SessionRevoked => ApiError::unauthenticated(
            reason,
            "the session this token was issued to has been signed out",
        ),
        AccessTokenFailure::Token(_) => {
            ApiError::unauthenticated(reason, "the access token is not valid")
        }
    };
    Err(answer.into())
}

/// Whether the request carries a session cookie (of either name), judged without I/O.
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.contains(session::COOKIE) // also matches the `__Host-` name
        })
    })
}

/// The request's session, when it has a session cookie; refusals are audited. A key session
/// also needs its key to still authenticate.
async fn authenticate_session(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Principal>, Refused> {
    let public_url = state.public_url();
    let outcome = session::authenticate(
        state.db.pool(),
        &state.clock,
        state.settings.session_lifetimes(),
        &public_url,
        &parts.method,
        &parts.headers,
    )
    .await;
    let outcome = match outcome {
        Ok(Some(session::Found::Key(found))) => key_session(state, found).await.map(Some),
        Ok(Some(session::Found::User(user))) => Ok(Some(Principal::Session(user))),
        Ok(None) => Ok(None),
        Err(failure) => Err(failure),
    };
    match outcome {
        Ok(found) => Ok(found),
        Err(failure) => {
            record_failure(state, parts, SYSTEM_CHAIN, None, None, failure.reason()).await;
            let answer = match failure {
                SessionFailure::Duplicate => {
                    ApiError::bad_request(failure.reason(), "send the session cookie once")
                }
                SessionFailure::CsrfRejected => ApiError::forbidden(
                    failure.reason(),
                    "a write made with the session cookie needs the `X-CSRF-Token` header \
                     (from GET /v1/me) and, when it sends `Origin`, this server's origin",
                ),
                SessionFailure::Unavailable => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    failure.reason(),
                    "sessions cannot be checked right now; retry shortly",
                ),
                SessionFailure::Revoked => ApiError::unauthenticated(
                    failure.reason(),
                    "this session was signed out; sign in again",
                ),
                SessionFailure::KeyUnusable => ApiError::unauthenticated(
                    failure.reason(),
                    "the API key this session was opened with no longer works (revoked, \
                     expired or rotated); sign in again",
                ),
                SessionFailure::Expired | SessionFailure::IdleTimeout => ApiError::unauthenticated(
                    failure.reason(),
                    "this session has expired; sign in again",
                ),
                SessionFailure::Malformed | SessionFailure::Unknown => ApiError::unauthenticated(
                    failure.reason(),
                    "the session is not valid; sign in again",
                ),
            };
            Err(answer.into())
        }
    }
}

/// The principal of a live key session: its key as it is now, which must still authenticate.
async fn key_session(
    state: &AppState,
    found: session::KeySessionRef,
) -> Result<Principal, SessionFailure> {
    let key = state
        .authenticator
        .session_credential(&KeyId::from_trusted(found.key_id))
        .await
        .map_err(|_| SessionFailure::Unavailable)?
        .filter(|key| key.id == found.api_key_id && key.workspace_id == found.workspace_id)
        .ok_or(SessionFailure::KeyUnusable)?;
    Ok(Principal::KeySession(Arc::new(KeySession {
        session_id: found.session_id,
        csrf_token: found.csrf_token,
        expires_at: found.expires_at,
        key,
    })))
}

/// Verifies the request's Bearer credential.
async fn authenticate_bearer(parts: &Parts, state: &AppState) -> Result<Arc<Credential>, Refused> {
    let presented = match bearer_credential(&parts.headers) {
        Ok(presented) => presented,
        Err(HeaderProblem::Missing) => {
            return Err(ApiError::unauthenticated(
                "missing_credential",
                "send the API key as `Authorization: Bearer <key>`",
            )
            .into())
        }
        Err(HeaderProblem::Duplicate) => {
            let reason = "duplicate_authorization";
            record_failure(state, parts, SYSTEM_CHAIN, None, None, reason).await;
            return Err(
                ApiError::bad_request(reason, "send exactly one `Authorization` header").into(),
            );
        }
        Err(HeaderProblem::NotBearer) => {
            return Err(ApiError::unauthenticated(
                "invalid_authorization_scheme",
                "use the Bearer scheme: `Authorization: Bearer <key>`",
            )
            .into())
        }
    };
    let verification = state
        .authenticator
        .verify(presented, || {
            client_network(parts, &state.settings.trusted_proxies)
        })
        .await;
    match verification.verdict {
        Ok(credential) => {
            state.authenticator.note_network(&credential, || {
                client_ip(parts, &state.settings.trusted_proxies)
            });
            Ok(credential)
        }
        Err(failure) => {
            let known = verification.known.as_deref();
            let key_id = verification.key_id.as_ref().or(known.map(|c| &c.key_id));
            record_failure(
                state,
                parts,
                known.map_or(SYSTEM_CHAIN, |c| c.workspace_id.as_str()),
                key_id.map(statuspulse_api::key::KeyId::as_str),
                known.map(|c| ("api_key", c.id.as_str())),
                failure.reason(),
            )
            .await;
            state
                .metrics
                .verifications
                .get_or_create(&crate::platform::metrics::OutcomeLabels {
                    outcome: failure.reason(),
                })
                .inc();
            Err(failure_answer(&failure).into())
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let principal = match parts.extensions.remove::<Authenticated>() {
            Some(Authenticated(principal)) => principal,
            None => authenticate(parts, state).await?,
        };
        let credential = match principal {
            Principal::ApiKey(credential) => credential,
            other @ (Principal::Session(_)
            | Principal::AccessToken(_)
            | Principal::KeySession(_)) => return admit_user(parts, state, other).await,
        };

        let decision = state
            .rate_limiter
            .check(&credential.rate_limit_tier, &credential.key_id)
            .await;
        let allowed = decision.allowed();
        let retry_after = decision.retry_after_secs;
        // Outside the middleware (no slot) there is simply no header to write.
        let _ = RATE_LIMIT_DECISION.try_with(|slot| *slot.borrow_mut() = Some(decision));
        if !allowed {
            // After the first of a window, a 429 costs a few atomic increments here: no I/O,
            // no allocation.
            record_failure(
                state,
                parts,
                &credential.workspace_id,
                Some(credential.key_id.as_str()),
                Some(("api_key", credential.id.as_str())),
                "rate_limited",
            )
            .await;
            state
                .metrics
                .verifications
                .get_or_create(&crate::platform::metrics::OutcomeLabels {
                    outcome: "rate_limited",
                })
                .inc();
            return Err(Refused::RateLimited(retry_after.unwrap_or(1)));
        }
        state.metrics.verified_ok.inc();
        Ok(Caller {
            principal: Principal::ApiKey(credential),
        })
    }
}

/// A user's requests (by session cookie or access token) are limited like a key of the
/// standard tier, per session.
async fn admit_user(
    parts: &Parts,
    state: &AppState,
    principal: Principal,
) -> Result<Caller, Refused> {
    let decision = rate_limit(state, &principal).await;
    let allowed = decision.allowed();
    let retry_after = decision.retry_after_secs;
    let _ = RATE_LIMIT_DECISION.try_with(|slot| *slot.borrow_mut() = Some(decision));
    if !allowed {
        let session_id = match &principal {
            Principal::Session(s) => s.session_id.as_str(),
            Principal::KeySession(s) => s.session_id.as_str(),
            Principal::AccessToken(t) => t.session_id.as_deref().unwrap_or(&t.subject),
            Principal::ApiKey(k) => k.id.as_str(),
        };
        record_failure(
            state,
            parts,
            principal.workspace_id(),
            None,
            Some(("session", session_id)),
            "rate_limited",
        )
        .await;
        return Err(Refused::RateLimited(retry_after.unwrap_or(1)));
    }
    Ok(Caller { principal })
}

/// The rate-limit decision for one more request of `principal`: per key at its tier, per
/// session at the standard tier.
pub async fn rate_limit(state: &AppState, principal: &Principal) -> Decision {
    match principal {
        Principal::ApiKey(key) => {
            state
                .rate_limiter
                .check(&key.rate_limit_tier, &key.key_id)
                .await
        }
        Principal::Session(_) | Principal::KeySession(_) => {
            let session = principal.session_id().unwrap_or_default();
            let bucket = KeyId::from_trusted(format!("session:{session}"));
            state.rate_limiter.check(SESSION_TIER, &bucket).await
        }
        Principal::AccessToken(token) => {
            // A person's token shares its session's budget; a workload's, its service account's.
            let bucket = KeyId::from_trusted(match &token.session_id {
                Some(session) => format!("session:{session}"),
                None => format!("workload:{}", token.subject),
            });
            state.rate_limiter.check(SESSION_TIER, &bucket).await
        }
    }
}

/// The rate-limit tier of every session.
const SESSION_TIER: &str = "standard";

/// Why a request has no [`Caller`]: an answer ready to send.
#[derive(Debug)]
pub enum Refused {
    Problem(ApiError),
    /// 429 `rate_limited`, with this `Retry-After`.
    RateLimited(u64),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Problem(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Problem(e) => e.into_response(),
            Refused::RateLimited(secs) => rate_limited_answer(secs),
        }
    }
}

/// The 429 of a key over its limit. Under a flood it is most of what the server sends, and it
/// must cost no more than a verify answer (issue 8): the [`ApiError::rate_limited`] answer is
/// rendered once per `Retry-After` value (into static bytes, so a clone touches no shared
/// count) and copied, like the verify answer, instead of being serialised each time.
fn rate_limited_answer(retry_after_secs: u64) -> Response {
    static RENDERED: [OnceLock<(bytes::Bytes, HeaderMap)>; 61] = [const { OnceLock::new() }; 61];
    let Some(slot) = usize::try_from(retry_after_secs)
        .ok()
        .and_then(|i| RENDERED.get(i))
    else {
        return ApiError::rate_limited(retry_after_secs).into_response();
    };
    let (body, headers) = match slot.get() {
        Some(rendered) => rendered,
        None => {
            let (parts, body) = ApiError::rate_limited(retry_after_secs)
                .into_response()
                .into_parts();
            // A problem body is one buffer: collecting it completes at once. Should it not, this
            // answer goes out uncached and the next one tries again.
            let Ok(body) = futures::executor::block_on(axum::body::to_bytes(body, usize::MAX))
            else {
                return ApiError::rate_limited(retry_after_secs).into_response();
            };
            let mut headers = parts.headers;
            // Room for the two rate-limit headers added on the way out.
            headers.reserve(2);
            slot.get_or_init(|| (bytes::Bytes::from_static(Vec::leak(body.to_vec())), headers))
        }
    };
    let mut response = Response::new(axum::body::Body::from(body.clone()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    *response.headers_mut() = headers.clone();
    response
}

fn failure_answer(failure: &AuthFailure) -> ApiError {
    match failure {
        AuthFailure::Malformed(e) => {
            ApiError::unauthenticated("malformed_credential", e.to_string())
        }
        // One answer for both: whether a key id exists is not the guesser's business.
        AuthFailure::UnknownKey | AuthFailure::WrongSecret => {
            ApiError::unauthenticated("invalid_credential", "the API key is not valid")
        }
        AuthFailure::Revoked => {
            ApiError::unauthenticated("revoked_credential", "the API key has been revoked")
        }
        AuthFailure::Expired => {
            ApiError::unauthenticated("expired_credential", "the API key has expired")
        }
        AuthFailure::TooManyFailedAttempts { retry_after_secs } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_attempts",
            "too many failed attempts with this key id; wait before trying again",
        )
        .with_retry_after(*retry_after_secs),
        AuthFailure::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "credential_store_unavailable",
            "credentials cannot be checked right now; retry shortly",
        ),
    }
}

/// Records an `auth.failed` audit event (never the presented secret). Failures are aggregated
/// by workspace, key id, reason and client network: the first of a kind is stored before this
/// returns, repeats are counted and stored once a second (see [`crate::audit::failures`]).
/// Request data is truncated before it is stored; it is borrowed here, so a repeat allocates
/// nothing.
pub async fn record_failure(
    state: &AppState,
    parts: &Parts,
    workspace_id: &str,
    key_id: Option<&str>,
    target: Option<(&'static str, &str)>,
    reason: &str,
) {
    let source_ip = client_ip(parts, &state.settings.trusted_proxies);
    let first = state.audit.count_failure(&Failure {
        workspace_id,
        key_id,
        target,
        reason,
        network: source_ip.map_or(ClientNetwork::UNKNOWN, ClientNetwork::of),
        source_ip,
        method: parts.method.as_str(),
        route: parts
            .extensions
            .get::<MatchedPath>()
            .map_or("unmatched", |m| m.as_str()),
        path: parts.uri.path(),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    });
    if let Some(first) = first {
        // Boxed, like every slow path here: it keeps the extractor's future small.
        Box::pin(state.audit.store_durably(first)).await;
    }
}

fn client_network(parts: &Parts, trusted: &TrustedProxies) -> ClientNetwork {
    client_ip(parts, trusted).map_or(ClientNetwork::UNKNOWN, ClientNetwork::of)
}

/// Where a request comes from, as conditional access and token audit events see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Whereabouts {
    pub ip: Option<IpAddr>,
    pub region: Option<String>,
}

impl Whereabouts {
    pub fn of(parts: &Parts, settings: &crate::platform::config::Settings) -> Self {
        let ip = client_ip(parts, &settings.trusted_proxies);
        Self {
            ip,
            region: client_region(parts, settings, ip),
        }
    }

    /// `details` (an audit event's) with `source_ip` and `region` added.
    pub fn add_to(&self, mut details: serde_json::Value) -> serde_json::Value {
        if let serde_json::Value::Object(into) = &mut details {
            into.insert(
                "source_ip".to_owned(),
                serde_json::json!(self.ip.map(|ip| ip.to_string())),
            );
            into.insert("region".to_owned(), serde_json::json!(self.region));
        }
        details
    }
}

/// The client's region: what a trusted proxy says in the region header, else the region map's
/// answer for the client's address. A header value that is not a region name is ignored.
fn client_region(
    parts: &Parts,
    settings: &crate::platform::config::Settings,
    ip: Option<IpAddr>,
) -> Option<String> {
    if let Some(name) = &settings.region_header {
        let from_proxy = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|peer| settings.trusted_proxies.contains(peer.0.ip()));
        if from_proxy {
            let said = parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_ascii_lowercase())
                .and_then(|v| statuspulse_api::validate::region("region", &v).ok());
            if said.is_some() {
                return said;
            }
        }
    }
    ip.and_then(|ip| settings.network_regions.region_of(ip))
        .map(str::to_owned)
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the first address
/// in its forwarding headers (`Forwarded`, else `X-Forwarded-For`) that is not a trusted proxy.
pub fn client_ip(parts: &Parts, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted.contains(peer) {
        return Some(peer.to_canonical());
    }
    let mut hops = Vec::new();
    let forwarded = parts.headers.get_all(header::FORWARDED);
    if forwarded.iter().next().is_some() {
        for value in forwarded {
            match value.to_str() {
                Ok(value) => parse_forwarded(value, &mut hops),
                Err(_) => hops.push(None),
            }
        }
    } else {
        for value in parts.headers.get_all("x-forwarded-for") {
            match value.to_str() {
                Ok(value) => parse_x_forwarded_for(value, &mut hops),
                Err(_) => hops.push(None),
            }
        }
    }
    Some(trusted.client_behind(peer, &hops))
}
