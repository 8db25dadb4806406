//! `/v1/workload-identities` (scope `admin:access`): the trust policies under which a workload
//! exchanges its platform's OIDC token for an access token acting as a service account
//! (`oauth::exchange`). A policy may give only scopes the service account's bindings grant, and
//! only what its creator may hand out (the grant rule, as for a key of that account).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::access::load_context;
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::authz::{Grant, Grantee, KeyAuthority};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::clock::rfc3339;
use crate::platform::db::{list_for_storage, stored_list};
use crate::platform::ids;
pub use statuspulse_api::v1::{CreateWorkloadIdentity, UpdateWorkloadIdentity, WorkloadIdentity};
use statuspulse_api::validate::FieldError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workload_identities, create_workload_identity))
        .routes(routes!(
            get_workload_identity,
            update_workload_identity,
            delete_workload_identity
        ))
}

#[derive(Debug, sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub conditions: String,
    pub service_account_id: String,
    pub scopes: String,
    pub token_lifetime_seconds: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, workspace_id, name, issuer, audience, conditions, \
    service_account_id, scopes, token_lifetime_seconds, created_at, updated_at";

impl IdentityRow {
    pub fn view(&self) -> Result<WorkloadIdentity, sqlx::Error> {
        Ok(WorkloadIdentity {
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            conditions: self.conditions()?,
            service_account_id: self.service_account_id.clone(),
            scopes: stored_list("scopes", &self.scopes)?,
            token_lifetime_seconds: self.token_lifetime_seconds,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }

    pub fn conditions(&self) -> Result<BTreeMap<String, String>, sqlx::Error> {
        serde_json::from_str(&self.conditions)
            .map_err(|e| sqlx::Error::Decode(format!("stored conditions are corrupt: {e}").into()))
    }
}

fn conditions_for_storage(conditions: &BTreeMap<String, String>) -> String {
    serde_json::Value::from(
        conditions
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    )
    .to_string()
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<IdentityRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "workload_identities",
        COLUMNS,
        ids::WORKLOAD_IDENTITY,
        caller.workspace_id(),
        id,
    )
    .await
}

/// Validated; the service account is this workspace's; the scopes are within its bindings
/// and within what the caller may hand out.
async fn checked(
    state: &AppState,
    caller: &Caller,
    body: &CreateWorkloadIdentity,
) -> ApiResult<CreateWorkloadIdentity> {
    let body = statuspulse_api::validate::workload_identity(body)?;
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM service_accounts WHERE workspace_id = $1 AND id = $2")
            .bind(caller.workspace_id())
            .bind(&body.service_account_id)
            .fetch_optional(state.db.pool())
            .await?;
    if exists.is_none() {
        return Err(FieldError::new(
            "service_account_id",
            "unknown_service_account",
            "no service account with this id in the workspace",
        )
        .into());
    }
    let scopes = Scopes::parse(body.scopes.iter().map(String::as_str))
        .map_err(|e| ApiError::internal(anyhow::anyhow!("validated scopes: {e}")))?;
    let bound = held_by(state, caller.workspace_id(), &body.service_account_id).await?;
    if let Some(beyond) = scopes.iter().find(|s| !bound.grants(*s)) {
        return Err(FieldError::new(
            "scopes",
            "scope_beyond_bindings",
            format!(
                "the service account's role bindings do not grant `{beyond}`: a workload acting \
                 as it can never hold more"
            ),
        )
        .into());
    }
    // Judged like a key of that account with these scopes: the caller may hand out no more.
    let grantee = Grantee::ServiceAccount(body.service_account_id.clone());
    let access = crate::authz::target_context(state, caller.workspace_id(), &grantee).await?;
    let authority = crate::authz::caller_authority(state, &caller.principal).await?;
    crate::authz::require_grant(
        &authority,
        &Grant::Key(&KeyAuthority {
            principal: grantee,
            environment: Environment::Live,
            scopes,
            environment_clusters: vec![],
            check_group_ids: vec![],
            alert_route_ids: vec![],
            access,
        }),
    )?;
    Ok(body)
}

/// What a service account's bindings grant somewhere (either environment, any cluster).
pub async fn held_by(
    state: &AppState,
    workspace_id: &str,
    service_account_id: &str,
) -> Result<Scopes, sqlx::Error> {
    let context = load_context(state.db.pool(), workspace_id, Some(service_account_id)).await?;
    Ok(context.granted_anywhere())
}

/// Create a trust policy for a workload's tokens.
#[utoipa::path(post, path = "/v1/workload-identities", tag = "access", request_body = CreateWorkloadIdentity,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = WorkloadIdentity), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn create_workload_identity(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateWorkloadIdentity>,
) -> ApiResult<(StatusCode, axum::Json<WorkloadIdentity>)> {
    caller.require(Scope::AdminAccess)?;
    let body = checked(&state, &caller, &body).await?;
    let id = ids::new_id(ids::WORKLOAD_IDENTITY);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO workload_identities (id, workspace_id, name, issuer, audience, conditions, \
         service_account_id, scopes, token_lifetime_seconds, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&body.name)
    .bind(&body.issuer)
    .bind(&body.audience)
    .bind(conditions_for_storage(&body.conditions))
    .bind(&body.service_account_id)
    .bind(list_for_storage(&body.scopes))
    .bind(body.token_lifetime_seconds)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let answer = crate::platform::db::find_in_tx::<IdentityRow>(
        &mut tx,
        "workload_identities",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::WorkloadIdentityCreated,
        caller.actor(),
    )
    .target("workload_identity", &id)
    .details(json!({"before": null, "after": answer}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read a trust policy.
#[utoipa::path(get, path = "/v1/workload-identities/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = WorkloadIdentity), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn get_workload_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<WorkloadIdentity>> {
    caller.require(Scope::AdminAccess)?;
    Ok(axum::Json(find(&state, &caller, &id).await?.view()?))
}

/// List trust policies, oldest first.
#[utoipa::path(get, path = "/v1/workload-identities", tag = "access", params(PageParams),
    responses((status = 200, body = Page<WorkloadIdentity>)), security(("bearer" = ["admin:access"])))]
pub async fn list_workload_identities(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<WorkloadIdentity>>> {
    caller.require(Scope::AdminAccess)?;
    let limit = page.limit()?;
    let rows: Vec<IdentityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM workload_identities WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows
        .iter()
        .map(IdentityRow::view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(views, limit, |w| w.id.clone(), |w| w)))
}

/// Change a trust policy's name, audience, conditions, scopes or lifetime. Tokens already
/// exchanged keep what they were given until they expire.
#[utoipa::path(patch, path = "/v1/workload-identities/{id}", tag = "access", params(("id" = String, Path)),
    request_body = UpdateWorkloadIdentity,
    responses((status = 200, body = WorkloadIdentity), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn update_workload_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateWorkloadIdentity>,
) -> ApiResult<axum::Json<WorkloadIdentity>> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?.view()?;
    let merged = checked(
        &state,
        &caller,
        &CreateWorkloadIdentity {
            name: body.name.clone().unwrap_or_else(|| before.name.clone()),
            issuer: before.issuer.clone(),
            audience: body
                .audience
                .clone()
                .unwrap_or_else(|| before.audience.clone()),
            conditions: body
                .conditions
                .clone()
                .unwrap_or_else(|| before.conditions.clone()),
            service_account_id: before.service_account_id.clone(),
            scopes: body.scopes.clone().unwrap_or_else(|| before.scopes.clone()),
            token_lifetime_seconds: body
                .token_lifetime_seconds
                .unwrap_or(before.token_lifetime_seconds),
        },
    )
    .await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE workload_identities SET name = $1, audience = $2, conditions = $3, scopes = $4, \
         token_lifetime_seconds = $5, updated_at = $6 WHERE id = $7 AND workspace_id = $8",
    )
    .bind(&merged.name)
    .bind(&merged.audience)
    .bind(conditions_for_storage(&merged.conditions))
    .bind(list_for_storage(&merged.scopes))
    .bind(merged.token_lifetime_seconds)
    .bind(state.clock.now_ms())
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    let after = crate::platform::db::find_in_tx::<IdentityRow>(
        &mut tx,
        "workload_identities",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::WorkloadIdentityUpdated,
        caller.actor(),
    )
    .target("workload_identity", &id)
    .details(json!({"before": before, "after": after}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(after))
}

/// Delete a trust policy: no token is exchanged under it any more (those already exchanged
/// expire within their lifetime, at most an hour).
#[utoipa::path(delete, path = "/v1/workload-identities/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn delete_workload_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?.view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::WorkloadIdentityDeleted,
        caller.actor(),
    )
    .target("workload_identity", &id)
    .details(json!({"before": before, "after": null}));
    audit::delete_recorded(
        &state,
        "workload_identities",
        caller.workspace_id(),
        &id,
        &event,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
