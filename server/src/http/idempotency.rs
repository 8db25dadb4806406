//! The `Idempotency-Key` header on creates (CONTRACT "Idempotency"; storage and sealing in
//! `platform::idempotency`).
//!
//! A create retried with the same key, by the same credential, with the same method, path and
//! body within 24 hours gets the first answer again (with `Idempotency-Replayed: true`) and creates
//! nothing; with anything else different, 422 `idempotency_key_reused`. Keys belong to the
//! caller's workspace.
//!
//! How a request goes ([`layer`], on the routes the router lists as idempotent creates):
//! 1. The key is reserved first, in its own short transaction: the table's primary key lets one
//!    request of several racing with a key in; the others get 409 `idempotency_key_in_progress`
//!    with `Retry-After` while it runs.
//! 2. The handler records its answer inside the transaction that creates the object
//!    ([`Idempotency::record`]): the object and its answer commit together or not at all, so a
//!    crash never leaves an object whose answer is lost, and a reservation past its time (its
//!    holder died or hangs) can be taken over without a second object: the old holder's
//!    create can no longer commit.
//! 3. Afterwards: a 5xx, or a refusal that depends on more than the request (401, 403, 404,
//!    409, 429), is not kept: the reservation is dropped and a retry executes again. A
//!    validation refusal (400 malformed body, 422 invalid field) is deterministic for the same
//!    request and is kept, like a success (the semantics of Stripe and of
//!    draft-ietf-httpapi-idempotency-key-header: the same request gets the same answer).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::{Any, Transaction};

use crate::app::AppState;
use crate::authn::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{authenticate, rate_limit, Authenticated, Refused, RATE_LIMIT_DECISION};
use crate::http::middleware::MAX_BODY_BYTES;
use crate::platform::idempotency::{self as store, KeyMaterial, Record};

/// The request header naming a create's idempotency key.
pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer that is a stored first answer, not a new execution.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// The OpenAPI description of the header, shared by every create.
pub const HEADER_DOC: &str = "Makes the create safe to retry: 1 to 255 visible ASCII \
    characters (a UUID). A retry with the same key and request within 24 hours returns the first \
    answer (`Idempotency-Replayed: true`) and creates nothing; the same key with a different \
    request is 422 `idempotency_key_reused`; while the first is running, 409 \
    `idempotency_key_in_progress` with `Retry-After`.";

/// What the middleware needs: the application and the routes (templates) that are creates.
#[derive(Clone)]
pub struct Layer {
    pub state: AppState,
    pub routes: &'static [&'static str],
}

/// A request's hold on its idempotency key.
struct Reservation {
    workspace_id: String,
    request_hash: String,
    token: String,
    material: KeyMaterial,
    /// Set once the handler recorded its answer in its transaction.
    recorded: AtomicBool,
}

/// The handler's side: records the answer in the create's transaction. Without an
/// `Idempotency-Key` on the request, it does nothing.
#[derive(Clone, Default)]
pub struct Idempotency(Option<Arc<Reservation>>);

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Arc<Reservation>>().cloned()))
    }
}

impl Idempotency {
    /// Records `answer` (sent with `status`) as the first answer, in `tx`, the transaction that
    /// creates the object; call it just before committing. Refuses (409) when the reservation is
    /// no longer this request's: it outlived [`store::RESERVATION_MS`] and a retry took over,
    /// so this create must roll back.
    pub async fn record<T: Serialize>(
        &self,
        tx: &mut Transaction<'static, Any>,
        status: StatusCode,
        answer: &T,
    ) -> ApiResult<()> {
        let Some(reservation) = &self.0 else {
            return Ok(());
        };
        let body = serde_json::to_vec(answer).map_err(ApiError::internal)?;
        let sealed = reservation
            .material
            .seal(
                &reservation.workspace_id,
                &reservation.request_hash,
                status.as_u16(),
                &body,
            )
            .map_err(ApiError::internal)?;
        let recorded = store::complete(
            tx,
            &reservation.workspace_id,
            &reservation.material.key_hash,
            &reservation.token,
            status.as_u16(),
            &sealed,
        )
        .await?;
        if !recorded {
            return Err(in_progress());
        }
        reservation.recorded.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn in_progress() -> ApiError {
    ApiError::conflict(
        "idempotency_key_in_progress",
        "a request with this Idempotency-Key is still being processed; retry shortly",
    )
    .with_retry_after(1)
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used within 24 hours for a different request (method, path, \
         body or credential); use a new key for a new request",
    )
}

/// Whether an answer is kept for replay: successes, and refusals of the request itself.
fn is_kept(status: StatusCode) -> bool {
    status.is_success()
        || status == StatusCode::BAD_REQUEST
        || status == StatusCode::UNPROCESSABLE_ENTITY
}

/// The middleware: reserves the key, answers a retry from the first answer, and keeps or drops
/// the answer afterwards. Requests other than a listed create, or without the header, pass.
pub async fn layer(State(layer): State<Layer>, request: Request, next: Next) -> Response {
    let idempotent = request.method() == Method::POST
        && request.headers().contains_key(&HEADER)
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|p| layer.routes.contains(&p.as_str()));
    if !idempotent {
        return next.run(request).await;
    }
    let state = &layer.state;
    let (mut parts, body) = request.into_parts();
    // Who is asking comes first: keys are the caller's workspace's, and an unauthenticated
    // request learns nothing of them. The `Caller` extractor then takes this verification.
    let principal = match parts.extensions.get::<Authenticated>() {
        Some(Authenticated(principal)) => principal.clone(),
        None => match authenticate(&parts, state).await {
            Ok(principal) => {
                parts.extensions.insert(Authenticated(principal.clone()));
                principal
            }
            Err(refused) => return refused.into_response(),
        },
    };
    let mut values = parts.headers.get_all(&HEADER).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) if store::is_valid_key(value.as_bytes()) => value.as_bytes().to_vec(),
        _ => {
            return ApiError::bad_request(
                "invalid_idempotency_key",
                "send one Idempotency-Key header of 1 to 255 visible ASCII characters",
            )
            .into_response()
        }
    };
    // The screen has read the body already (within its limits); this takes it back.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::bad_request("unreadable_body", "the request body could not be read")
            .into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let material = match KeyMaterial::derive(&value, principal.workspace_id()) {
        Ok(material) => material,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let request_hash =
        material.request_hash(principal.acting_id(), parts.method.as_str(), path, &bytes);
    let reservation = Reservation {
        workspace_id: principal.workspace_id().to_owned(),
        request_hash,
        token: uuid::Uuid::new_v4().simple().to_string(),
        material,
        recorded: AtomicBool::new(false),
    };
    match reserve_or_answer(state, &principal, &reservation).await {
        Ok(None) => {}
        Ok(Some(answer)) => return answer,
        Err(e) => return e.into_response(),
    }
    let reservation = Arc::new(reservation);
    parts.extensions.insert(reservation.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    finish(state, &reservation, response).await
}

/// Reserves the key for this request (`None`: go ahead), or the answer to give instead: the
/// first answer, 422 for a different request, 409 while the first runs.
async fn reserve_or_answer(
    state: &AppState,
    principal: &Principal,
    r: &Reservation,
) -> ApiResult<Option<Response>> {
    let (workspace_id, key_hash) = (r.workspace_id.as_str(), r.material.key_hash.as_str());
    // Each turn either decides or follows a change another request made since the last look;
    // three without a decision means others keep changing it: in progress.
    for _ in 0..3 {
        let now = state.clock.now_ms();
        let found = store::find(&state.db, workspace_id, key_hash).await?;
        match found {
            Some(record) if record.created_at <= now - store::RETENTION_MS => {
                // Past its 24 hours: the key starts afresh (the purge job may not have run yet).
                store::delete_expired(&state.db, workspace_id, key_hash, now).await?;
            }
            Some(record) if record.request_hash != r.request_hash => {
                return admitted(state, principal, reused().into_response()).await;
            }
            Some(Record {
                status: Some(status),
                answer,
                ..
            }) => {
                let answer = replay(r, status, answer.as_deref().unwrap_or_default())?;
                return admitted(state, principal, answer).await;
            }
            Some(record) if record.locked_until > now => {
                return admitted(state, principal, in_progress().into_response()).await;
            }
            Some(_) => {
                if store::take_over(&state.db, workspace_id, key_hash, &r.token, now).await? {
                    return Ok(None);
                }
            }
            None => {
                if store::live_count(&state.db, workspace_id, now).await?
                    >= store::MAX_PER_WORKSPACE
                {
                    let full = ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "idempotency_keys_exhausted",
                        format!(
                            "this workspace used {} idempotency keys within 24 hours; retry \
                             later",
                            store::MAX_PER_WORKSPACE
                        ),
                    )
                    .with_retry_after(60);
                    return admitted(state, principal, full.into_response()).await;
                }
                let reserved = store::reserve(
                    &state.db,
                    workspace_id,
                    key_hash,
                    &r.request_hash,
                    &r.token,
                    now,
                )
                .await?;
                if reserved {
                    return Ok(None);
                }
            }
        }
    }
    admitted(state, principal, in_progress().into_response()).await
}

/// An answer given here instead of by the handler still counts against the key's rate limit,
/// as the `Caller` extractor would have counted it.
async fn admitted(
    state: &AppState,
    principal: &Principal,
    answer: Response,
) -> ApiResult<Option<Response>> {
    let decision = rate_limit(state, principal).await;
    let allowed = decision.allowed();
    let retry_after = decision.retry_after_secs;
    let _ = RATE_LIMIT_DECISION.try_with(|slot| *slot.borrow_mut() = Some(decision));
    if !allowed {
        return Ok(Some(
            Refused::RateLimited(retry_after.unwrap_or(1)).into_response(),
        ));
    }
    Ok(Some(answer))
}

/// The stored first answer, opened with the key the request presented.
fn replay(r: &Reservation, status: i64, sealed: &str) -> ApiResult<Response> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored status {status} is corrupt")))?;
    let body = r
        .material
        .open(&r.workspace_id, &r.request_hash, status.as_u16(), sealed)
        .map_err(ApiError::internal)?;
    let problem_code = (!status.is_success())
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    if let Some(code) = problem_code.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(HeaderName::from_static("x-statuspulse-error"), code);
    }
    Ok(response)
}

/// After the handler: keeps a kept answer the handler did not record itself, drops the
/// reservation otherwise.
async fn finish(state: &AppState, r: &Reservation, response: Response) -> Response {
    let status = response.status();
    if !is_kept(status) {
        // Only a reservation without an answer is dropped: a create that committed (and then
        // failed on later work) keeps its answer.
        release(state, r).await;
        return response;
    }
    if r.recorded.load(Ordering::SeqCst) {
        return response;
    }
    // A validation refusal (nothing was created), or a success of a route that does not record
    // in its transaction: kept now.
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        release(state, r).await;
        return ApiError::internal(anyhow::anyhow!("could not buffer an answer to keep"))
            .into_response();
    };
    if let Err(e) = keep(state, r, status, &bytes).await {
        tracing::warn!(error = %e, "could not keep an idempotent answer; a retry runs again");
        release(state, r).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn keep(
    state: &AppState,
    r: &Reservation,
    status: StatusCode,
    body: &[u8],
) -> anyhow::Result<()> {
    let sealed = r
        .material
        .seal(&r.workspace_id, &r.request_hash, status.as_u16(), body)?;
    let mut tx = state.db.begin_write().await?;
    store::complete(
        &mut tx.tx,
        &r.workspace_id,
        &r.material.key_hash,
        &r.token,
        status.as_u16(),
        &sealed,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn release(state: &AppState, r: &Reservation) {
    if let Err(e) = store::release(&state.db, &r.workspace_id, &r.material.key_hash, &r.token).await
    {
        // The reservation then lapses after `RESERVATION_MS` and a retry takes it over.
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
