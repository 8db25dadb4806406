//! `/v1/api-keys`: create, read, list, update, rotate, revoke.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{ApiKeyView, CreatedApiKey, KeyRow, KeyStatus};
use super::store::{self, Changes, ListFilter, NewKey};
use super::{DEFAULT_GRACE_HOURS, DEFAULT_ROTATION_DAYS, MAX_GRACE_HOURS, MAX_LIFETIME_DAYS};
use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authn::token::{KeyId, PlainApiKey};
use crate::authz::access::{AccessContext, ClusterDenial};
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::authz::{self, Grant, Grantee, KeyAuthority};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::management::validate;
use crate::platform::clock::{DAY_MS, HOUR_MS};
use crate::platform::ids;
use statuspulse_api::v1::PlainKey;
pub use statuspulse_api::v1::{CreateApiKey, RevokeApiKey, RotateApiKey, UpdateApiKey};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(check_api_key))
        .routes(routes!(get_api_key, update_api_key))
        .routes(routes!(rotate_api_key))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeys {
    /// `active`, `rotating`, `expired` or `revoked`.
    pub status: Option<String>,
    pub service_account_id: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(?:(?:[A-Za-z0-9_-]{4}){0,100}|(?:[A-Za-z0-9_-]{4}){0,99}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]))$"
    )]
    pub cursor: Option<String>,
}

/// Create an API key. The answer holds the key itself, shown this once.
#[utoipa::path(post, path = "/v1/api-keys", request_body = CreateApiKey, tag = "api-keys",
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = CreatedApiKey), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateApiKey>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    caller.require(Scope::AdminKeys)?;
    let fields = KeyFields::validated(&body)?;
    let plan = fields.plan(body.service_account_id.as_deref());
    check_grant(&state, &caller, &plan, true).await?;
    let (plain, mut minted) = mint(&state, &caller, &plan, None).await?;
    // The answer is read and recorded in the minting transaction: a retry with the same
    // Idempotency-Key gets this key back, never a second one.
    let answer = created_answer(&state, &caller, &mut minted, &plain).await?;
    idempotency
        .record(&mut minted.tx.tx, StatusCode::CREATED, &answer)
        .await?;
    minted.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Check a key without creating it: every rule `POST /v1/api-keys` applies (fields, the caller's
/// authority on every dimension, the `admin:all` policy, the service account's bindings and
/// clusters), answered 204 when the create would succeed and with the create's own refusal
/// otherwise. Nothing is minted, stored or recorded. The Terraform provider calls it at plan
/// time, so a key the server would refuse fails the plan, not the apply.
#[utoipa::path(post, path = "/v1/api-keys/check", request_body = CreateApiKey, tag = "api-keys",
    responses((status = 204, description = "A create with this body would be accepted now."),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn check_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateApiKey>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminKeys)?;
    let fields = KeyFields::validated(&body)?;
    let plan = fields.plan(body.service_account_id.as_deref());
    check_grant(&state, &caller, &plan, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A create body's fields, each validated by the rule it shares with the provider.
struct KeyFields {
    name: String,
    environment: Environment,
    scopes: Scopes,
    check_group_ids: Vec<String>,
    alert_route_ids: Vec<String>,
    environment_clusters: Vec<String>,
    rotation_days: i64,
    lifetime_days: i64,
}

impl KeyFields {
    fn validated(body: &CreateApiKey) -> ApiResult<Self> {
        Ok(KeyFields {
            name: validate::name("name", &body.name)?,
            environment: validate::environment(&body.environment)?,
            scopes: validate::scopes(&body.scopes)?,
            check_group_ids: validate::restriction_ids("check_group_ids", &body.check_group_ids)?,
            alert_route_ids: validate::restriction_ids("alert_route_ids", &body.alert_route_ids)?,
            rotation_days: validate::rotation_days(
                body.rotation_days.unwrap_or(DEFAULT_ROTATION_DAYS),
            )?,
            lifetime_days: validate::within(
                "expires_in_days",
                body.expires_in_days.unwrap_or(MAX_LIFETIME_DAYS),
                1,
                MAX_LIFETIME_DAYS,
            )?,
            environment_clusters: validate::cluster_names(&body.environment_clusters)?,
        })
    }

    fn plan<'a>(&'a self, service_account_id: Option<&'a str>) -> KeyPlan<'a> {
        KeyPlan {
            name: &self.name,
            environment: self.environment,
            service_account_id,
            scopes: &self.scopes,
            check_group_ids: &self.check_group_ids,
            alert_route_ids: &self.alert_route_ids,
            environment_clusters: &self.environment_clusters,
            rotation_days: self.rotation_days,
            lifetime_days: self.lifetime_days,
        }
    }
}

/// The answer to a mint (create or rotation), read inside its transaction.
async fn created_answer(
    state: &AppState,
    caller: &Caller,
    minted: &mut Minted<'_>,
    plain: &PlainApiKey,
) -> ApiResult<CreatedApiKey> {
    let row = store::fetch(&mut *minted.tx.tx, caller.workspace_id(), &minted.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("created key vanished")))?;
    Ok(CreatedApiKey {
        api_key: row.view(state.clock.now_ms()),
        key: PlainKey::new(plain.expose().to_owned()),
    })
}

/// What a new key (created or a rotation's successor) will be.
struct KeyPlan<'a> {
    name: &'a str,
    environment: Environment,
    service_account_id: Option<&'a str>,
    scopes: &'a Scopes,
    check_group_ids: &'a [String],
    alert_route_ids: &'a [String],
    environment_clusters: &'a [String],
    rotation_days: i64,
    /// Days from creation to expiry.
    lifetime_days: i64,
}

/// An open transaction holding a new key and its audit event.
struct Minted<'a> {
    id: String,
    tx: crate::platform::db::WriteTx<'a>,
}

impl Minted<'_> {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl<'a> KeyPlan<'a> {
    /// A stored key as a plan (its scopes and view read by the caller, who owns them).
    fn of_stored(key: &'a KeyRow, scopes: &'a Scopes, view: &'a ApiKeyView) -> ApiResult<Self> {
        Ok(Self {
            name: &key.name,
            environment: key.environment()?,
            service_account_id: key.service_account_id.as_deref(),
            scopes,
            check_group_ids: &view.check_group_ids,
            alert_route_ids: &view.alert_route_ids,
            environment_clusters: &view.environment_clusters,
            rotation_days: key.rotation_days,
            lifetime_days: key.lifetime_days(),
        })
    }
}

/// The key a rotation's successor replaces, and when its grace period ends.
struct Supersedes<'a> {
    id: &'a str,
    grace_until: i64,
}

/// Generates and hashes a key, then stores it with its `api_key.created` event in a transaction
/// the caller commits (rotation adds to it). A successor first moves its predecessor from active
/// to rotating, compare-and-set: of two racing rotations, or a rotation racing a revocation,
/// exactly one wins, and a loser mints nothing (409 `concurrent_change`). The key row is locked
/// before the audit chain's head, the order every key transition takes, so racing transitions
/// queue instead of deadlocking.
async fn mint<'a>(
    state: &'a AppState,
    caller: &Caller,
    plan: &KeyPlan<'_>,
    supersedes: Option<Supersedes<'_>>,
) -> ApiResult<(PlainApiKey, Minted<'a>)> {
    // Hash before opening the transaction: Argon2 must not hold the database's writer.
    let (plain, secret_hash) = state
        .authenticator
        .hash_new_key(PlainApiKey::generate(plan.environment))
        .await?;
    let id = ids::new_id(ids::API_KEY);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    if let Some(old) = supersedes {
        let rotate = store::Transition::Rotate {
            grace_until: old.grace_until,
            successor_id: &id,
        };
        if !store::transition(&mut tx.tx, old.id, &rotate, now).await? {
            return Err(ApiError::conflict(
                "concurrent_change",
                "the key changed while it was being rotated; read it and try again",
            ));
        }
    }
    store::insert_key(
        &mut tx.tx,
        &NewKey {
            id: &id,
            key_id: plain.key_id().as_str(),
            workspace_id: caller.workspace_id(),
            name: plan.name,
            environment: plan.environment,
            service_account_id: plan.service_account_id,
            scopes: plan.scopes,
            check_group_ids: plan.check_group_ids,
            alert_route_ids: plan.alert_route_ids,
            environment_clusters: plan.environment_clusters,
            rotation_days: plan.rotation_days,
            secret_hash: &secret_hash,
            created_at: now,
            expires_at: now + plan.lifetime_days * DAY_MS,
        },
    )
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::ApiKeyCreated,
        caller.actor(),
    )
    .target("api_key", &id)
    .details(json!({
        "key_id": plain.key_id().as_str(),
        "name": plan.name,
        "environment": plan.environment,
        "service_account_id": plan.service_account_id,
        "scopes": plan.scopes,
        "check_group_ids": plan.check_group_ids,
        "alert_route_ids": plan.alert_route_ids,
        "environment_clusters": plan.environment_clusters,
        "expires_at": crate::platform::clock::rfc3339(now + plan.lifetime_days * DAY_MS),
    }));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    Ok((plain, Minted { id, tx }))
}

/// Checks a key about to exist (created, updated, or a rotation's successor). With `fit`, first
/// that it fits the workspace: a service account of this workspace whose role bindings cover
/// every scope asked for, and clusters that exist in the key's environment and within the
/// bindings' reach. Always: the workspace's `admin:all` policy, and the grant rule (nothing
/// beyond what the caller holds, on every dimension).
async fn check_grant(
    state: &AppState,
    caller: &Caller,
    plan: &KeyPlan<'_>,
    fit: bool,
) -> ApiResult<()> {
    let workspace_id = caller.workspace_id();
    let principal = Grantee::from_service_account(plan.service_account_id);
    if let Some(sa) = plan.service_account_id.filter(|_| fit) {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT id FROM service_accounts WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(sa)
                .fetch_optional(state.db.pool())
                .await?;
        if found.is_none() {
            return Err(ApiError::invalid(
                "service_account_id",
                "unknown_service_account",
                "no such service account in this workspace",
            ));
        }
    }
    authz::check_admin_all_policy(state, workspace_id, plan.scopes, &principal).await?;
    let context = authz::target_context(state, workspace_id, &principal).await?;
    if fit {
        check_fit(&context, plan)?;
    }
    let key = key_authority(plan, principal, context);
    let holder = authz::caller_authority(state, &caller.principal).await?;
    authz::require_grant(&holder, &Grant::Key(&key))
}

fn key_authority(plan: &KeyPlan<'_>, principal: Grantee, access: AccessContext) -> KeyAuthority {
    KeyAuthority {
        principal,
        environment: plan.environment,
        scopes: plan.scopes.clone(),
        environment_clusters: plan.environment_clusters.to_vec(),
        check_group_ids: plan.check_group_ids.to_vec(),
        alert_route_ids: plan.alert_route_ids.to_vec(),
        access,
    }
}

/// A key manages (revokes, changes, rotates) only keys it could have created itself, so a narrow
/// key cannot act on broader ones: 403 `key_outside_authority` otherwise.
async fn require_authority_over(state: &AppState, caller: &Caller, key: &KeyRow) -> ApiResult<()> {
    let view = key.view(state.clock.now_ms());
    let scopes = key.scopes()?;
    let plan = KeyPlan::of_stored(key, &scopes, &view)?;
    let principal = Grantee::from_service_account(plan.service_account_id);
    let context = authz::target_context(state, caller.workspace_id(), &principal).await?;
    let target = key_authority(&plan, principal, context);
    let holder = authz::caller_authority(state, &caller.principal).await?;
    authz::grant::check(&holder, &Grant::Key(&target)).map_err(|denial| {
        ApiError::forbidden(
            "key_outside_authority",
            format!(
                "this key reaches further than yours ({}); only a key holding at least what it \
                 holds can revoke, change or rotate it",
                denial.detail
            ),
        )
        .with_field("id")
    })
}

/// A key's scopes lie within its service account's bindings, and its clusters exist in its
/// environment and within the bindings' reach.
fn check_fit(context: &AccessContext, plan: &KeyPlan<'_>) -> ApiResult<()> {
    let environment = plan.environment;
    if let Some(granted) = context.granted(environment, None) {
        let excess: Vec<String> = plan
            .scopes
            .iter()
            .filter(|s| !granted.grants(*s))
            .map(|s| s.to_string())
            .collect();
        if !excess.is_empty() {
            return Err(ApiError::invalid(
                "scopes",
                "scopes_exceed_bindings",
                format!(
                    "the service account's role bindings in the {environment} environment do not grant: {}",
                    excess.join(", ")
                ),
            ));
        }
    }
    for cluster in plan.environment_clusters {
        match context.check_cluster(cluster, environment, &[]) {
            Ok(()) => {}
            Err(ClusterDenial::UnknownCluster) => {
                return Err(ApiError::invalid("environment_clusters", "unknown_cluster",
                    format!("no environment cluster named `{cluster}` in this workspace")))
            }
            Err(ClusterDenial::EnvironmentMismatch) => {
                return Err(ApiError::invalid("environment_clusters", "cluster_environment_mismatch",
                    format!("`{cluster}` is not a {environment} cluster; a sp_{environment}_ key cannot be bound to it")))
            }
            Err(ClusterDenial::NotAllowed) => {
                return Err(ApiError::invalid("environment_clusters", "cluster_not_in_bindings",
                    format!("the service account's role bindings do not reach `{cluster}`")))
            }
        }
    }
    Ok(())
}

/// Read an API key (never its secret).
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path)), responses((status = 200, body = ApiKeyView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn get_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ApiKeyView>> {
    caller.require(Scope::AdminKeys)?;
    let row = find(&state, &caller, &id).await?;
    Ok(axum::Json(row.view(state.clock.now_ms())))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<KeyRow> {
    ids::expect_prefix(id, ids::API_KEY)?;
    store::fetch(state.db.pool(), caller.workspace_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// A revocation's named successor: another key of this workspace, usable, of the same service
/// account (or both without one) and environment, or `422 invalid_successor`.
async fn check_successor(
    state: &AppState,
    caller: &Caller,
    key: &KeyRow,
    successor_id: &str,
) -> ApiResult<()> {
    let refuse = |why: &str| {
        ApiError::invalid(
            "successor_id",
            "invalid_successor",
            format!("successor_id {why}"),
        )
    };
    if successor_id == key.id {
        return Err(refuse("names the key being revoked"));
    }
    let successor = find(state, caller, successor_id)
        .await
        .map_err(|_| refuse("is not an API key of this workspace"))?;
    let now = state.clock.now_ms();
    if successor.revoked_at.is_some_and(|at| at <= now) || successor.expires_at <= now {
        return Err(refuse("is revoked or expired"));
    }
    if successor.service_account_id != key.service_account_id
        || successor.environment != key.environment
    {
        return Err(refuse(
            "must belong to the same service account and environment as the key it replaces",
        ));
    }
    Ok(())
}

/// List API keys, oldest first, including revoked keys in quarantine.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(ListApiKeys),
    responses((status = 200, body = Page<ApiKeyView>)), security(("bearer" = ["admin:keys"])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListApiKeys>,
) -> ApiResult<axum::Json<Page<ApiKeyView>>> {
    caller.require(Scope::AdminKeys)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(KeyStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "invalid_status",
                "status must be active, rotating, expired or revoked",
            )
        })?),
    };
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    ids::check_filter(
        "service_account_id",
        query.service_account_id.as_deref(),
        ids::SERVICE_ACCOUNT,
    )?;
    let now = state.clock.now_ms();
    let filter = ListFilter {
        status,
        service_account_id: query.service_account_id.as_deref(),
    };
    let rows = store::list(
        state.db.pool(),
        caller.workspace_id(),
        &filter,
        now,
        &page.after()?,
        limit,
    )
    .await?;
    Ok(axum::Json(page_of(
        rows,
        limit,
        |r| r.id.clone(),
        |r| r.view(now),
    )))
}

/// Change a key's name, scopes or restrictions. Scope changes are audited with before and after.
#[utoipa::path(patch, path = "/v1/api-keys/{id}", tag = "api-keys", request_body = UpdateApiKey,
    params(("id" = String, Path)), responses((status = 200, body = ApiKeyView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn update_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateApiKey>,
) -> ApiResult<axum::Json<ApiKeyView>> {
    caller.require(Scope::AdminKeys)?;
    let before = find(&state, &caller, &id).await?;
    require_authority_over(&state, &caller, &before).await?;
    let now = state.clock.now_ms();
    if before.status(now) == KeyStatus::Revoked {
        return Err(ApiError::conflict(
            "key_revoked",
            "a revoked key cannot be changed",
        ));
    }
    let before_view = before.view(now);
    let name = match &body.name {
        Some(n) => validate::name("name", n)?,
        None => before.name.clone(),
    };
    let scopes = match &body.scopes {
        Some(s) => validate::scopes(s)?,
        None => before.scopes()?,
    };
    let check_group_ids = match &body.check_group_ids {
        Some(ids) => validate::restriction_ids("check_group_ids", ids)?,
        None => before_view.check_group_ids.clone(),
    };
    let alert_route_ids = match &body.alert_route_ids {
        Some(ids) => validate::restriction_ids("alert_route_ids", ids)?,
        None => before_view.alert_route_ids.clone(),
    };
    let environment_clusters = match &body.environment_clusters {
        Some(c) => validate::cluster_names(c)?,
        None => before_view.environment_clusters.clone(),
    };
    let scopes_changed = scopes.names() != before_view.scopes;
    let clusters_changed = environment_clusters != before_view.environment_clusters;
    let restrictions_changed = check_group_ids != before_view.check_group_ids
        || alert_route_ids != before_view.alert_route_ids
        || clusters_changed;
    if scopes_changed || restrictions_changed {
        let plan = KeyPlan {
            name: &name,
            environment: before.environment()?,
            service_account_id: before.service_account_id.as_deref(),
            scopes: &scopes,
            check_group_ids: &check_group_ids,
            alert_route_ids: &alert_route_ids,
            environment_clusters: &environment_clusters,
            rotation_days: before.rotation_days,
            lifetime_days: before.lifetime_days(),
        };
        // Fit is checked only when what bindings judge changed, so that a key whose bindings
        // were narrowed since can still have its restrictions tightened.
        check_grant(&state, &caller, &plan, scopes_changed || clusters_changed).await?;
    }

    let mut tx = state.db.begin_write().await?;
    let updated = store::update(
        &mut tx.tx,
        &id,
        &Changes {
            name: &name,
            scopes: &scopes,
            check_group_ids: &check_group_ids,
            alert_route_ids: &alert_route_ids,
            environment_clusters: &environment_clusters,
        },
        now,
    )
    .await?;
    if !updated {
        return Err(ApiError::conflict(
            "key_revoked",
            "a revoked key cannot be changed",
        ));
    }
    if scopes_changed || restrictions_changed {
        let event = NewEvent::success(caller.workspace_id(), EventType::ApiKeyScopesChanged, caller.actor())
            .target("api_key", &id)
            .details(json!({
                "key_id": before.key_id,
                "before": {"scopes": before_view.scopes, "check_group_ids": before_view.check_group_ids, "alert_route_ids": before_view.alert_route_ids, "environment_clusters": before_view.environment_clusters},
                "after": {"scopes": scopes, "check_group_ids": check_group_ids, "alert_route_ids": alert_route_ids, "environment_clusters": environment_clusters},
            }));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    if name != before.name {
        let event = NewEvent::success(caller.workspace_id(), EventType::ApiKeyUpdated, caller.actor())
            .target("api_key", &id)
            .details(json!({"key_id": before.key_id, "before": {"name": before.name}, "after": {"name": name}}));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    tx.commit().await?;
    // Narrowed scopes take effect at once here; other replicas re-read within 30 s (at once
    // with Redis).
    state
        .authenticator
        .invalidate(&KeyId::from_trusted(before.key_id.clone()));
    state.fanout.publish_key_change(&before.key_id).await;
    let row = find(&state, &caller, &id).await?;
    Ok(axum::Json(row.view(state.clock.now_ms())))
}

/// Rotate a key: answers a successor key (shown once); the old key keeps working for the grace
/// period and is then revoked.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "api-keys", request_body = RotateApiKey,
    params(("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = CreatedApiKey), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    caller.require(Scope::AdminKeys)?;
    // The body is optional: an empty one means the default grace period.
    let body: RotateApiKey = if body.iter().all(u8::is_ascii_whitespace) {
        RotateApiKey::default()
    } else {
        crate::http::json::parse(&body)?
    };
    let grace_hours = validate::within(
        "grace_period_hours",
        body.grace_period_hours.unwrap_or(DEFAULT_GRACE_HOURS),
        0,
        MAX_GRACE_HOURS,
    )?;
    let old = find(&state, &caller, &id).await?;
    let now = state.clock.now_ms();
    refuse_unless_active(&old, now)?;
    let view = old.view(now);
    let scopes = old.scopes()?;
    // The successor inherits everything, its predecessor's lifetime included (not the longest).
    let plan = KeyPlan::of_stored(&old, &scopes, &view)?;
    // A successor is a new credential: rotating a key the caller could not have created would
    // hand out what the caller does not hold.
    check_grant(&state, &caller, &plan, false).await?;
    let grace_until = now + grace_hours * HOUR_MS;
    let supersedes = Supersedes {
        id: &old.id,
        grace_until,
    };
    let (plain, mut minted) = match mint(&state, &caller, &plan, Some(supersedes)).await {
        Ok(minted) => minted,
        Err(e) => {
            // Lost a race: say what the key has become, when that is why.
            refuse_unless_active(&find(&state, &caller, &id).await?, state.clock.now_ms())?;
            return Err(e);
        }
    };
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::ApiKeyRotated,
        caller.actor(),
    )
    .target("api_key", &old.id)
    .details(json!({
        "key_id": old.key_id,
        // The anomaly rule `rapid_rotation` counts a service account's keys together.
        "service_account_id": old.service_account_id,
        "successor_id": minted.id,
        "successor_key_id": plain.key_id().as_str(),
        "grace_until": crate::platform::clock::rfc3339(grace_until),
    }));
    audit::append(&mut minted.tx.tx, &state.clock, &event).await?;
    let answer = created_answer(&state, &caller, &mut minted, &plain).await?;
    idempotency
        .record(&mut minted.tx.tx, StatusCode::CREATED, &answer)
        .await?;
    minted.commit().await?;
    state
        .authenticator
        .invalidate(&KeyId::from_trusted(old.key_id.clone()));
    state.fanout.publish_key_change(&old.key_id).await;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Only an active key can be rotated: a rotating one already has a successor, and revoked or
/// expired ones are over.
fn refuse_unless_active(key: &KeyRow, now: i64) -> ApiResult<()> {
    match key.status(now) {
        KeyStatus::Active => Ok(()),
        KeyStatus::Rotating => Err(ApiError::conflict(
            "already_rotated",
            format!(
                "this key was already rotated; its successor is {}",
                key.successor_id.as_deref().unwrap_or("unknown")
            ),
        )),
        status => Err(ApiError::conflict(
            "key_not_active",
            format!(
                "a {} key cannot be rotated; create a new one",
                status.as_str()
            ),
        )),
    }
}

/// Revoke a key: at once, or after `grace_period_hours` (the key is `rotating` meanwhile, with
/// its `successor_id` if named, as Terraform does when it replaces a key). It stays readable
/// with status `revoked` for 30 days, then is purged.
#[utoipa::path(post, path = "/v1/api-keys/revoke", tag = "api-keys", request_body = RevokeApiKey,
    responses((status = 200, body = ApiKeyView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:keys"])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RevokeApiKey>,
) -> ApiResult<axum::Json<ApiKeyView>> {
    caller.require(Scope::AdminKeys)?;
    let reason = match body.reason.as_deref().map(str::trim) {
        None | Some("") => "revoked".to_owned(),
        Some(r) if r.chars().count() > 500 || r.chars().any(char::is_control) => {
            return Err(ApiError::invalid(
                "reason",
                "invalid_reason",
                "reason is limited to 500 characters of text",
            ))
        }
        Some(r) => r.to_owned(),
    };
    let key = find(&state, &caller, &body.id).await.map_err(|e| {
        if e.status() == StatusCode::NOT_FOUND {
            e.with_field("id")
        } else {
            e
        }
    })?;
    require_authority_over(&state, &caller, &key).await?;
    let grace_hours = crate::management::validate::within(
        "grace_period_hours",
        body.grace_period_hours.unwrap_or(0),
        0,
        MAX_GRACE_HOURS,
    )?;
    if let Some(successor_id) = &body.successor_id {
        check_successor(&state, &caller, &key, successor_id).await?;
    }
    let now = state.clock.now_ms();
    let grace_until = now + grace_hours * 3600 * 1000;
    let mut tx = state.db.begin_write().await?;
    // Compare-and-set on "not yet revoked": a revocation that finds the key already revoked
    // changes nothing and records nothing, and one racing a rotation either wins (the rotation
    // is refused) or comes second and cuts the rotation's grace period to now (or to its own
    // grace period: never longer).
    let transition = if grace_hours == 0 && body.successor_id.is_none() {
        store::Transition::Revoke { reason: &reason }
    } else {
        store::Transition::Retire {
            grace_until,
            successor_id: body.successor_id.as_deref(),
            reason: &reason,
        }
    };
    if store::transition(&mut tx.tx, &key.id, &transition, now).await? {
        let mut details = json!({"key_id": key.key_id, "reason": reason});
        if grace_hours > 0 || body.successor_id.is_some() {
            details["grace_until"] = json!(crate::platform::clock::rfc3339(grace_until));
            details["successor_id"] = json!(body.successor_id);
        }
        let event = NewEvent::success(
            caller.workspace_id(),
            EventType::ApiKeyRevoked,
            caller.actor(),
        )
        .target("api_key", &key.id)
        .details(details);
        audit::commit_with(tx, &state.clock, &event).await?;
        state
            .authenticator
            .invalidate(&KeyId::from_trusted(key.key_id.clone()));
        state.fanout.publish_key_change(&key.key_id).await;
    }
    let row = find(&state, &caller, &key.id).await?;
    Ok(axum::Json(row.view(state.clock.now_ms())))
}
