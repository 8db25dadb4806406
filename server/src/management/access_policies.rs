//! `/v1/access-policies` (scope `admin:access`): conditional access rules for the scopes the
//! OAuth server issues. What they mean and how they are evaluated: `authz::conditional`.
//! Every change is audited with the policy before and after.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::AnyPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::conditional::Policies;
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::clock::rfc3339;
use crate::platform::db::{list_for_storage, stored_list};
use crate::platform::ids;
use statuspulse_api::v1::access_policies::MAX_POLICIES;
pub use statuspulse_api::v1::{
    AccessConditions, AccessPolicy, CreateAccessPolicy, UpdateAccessPolicy,
};
use statuspulse_api::validate::FieldError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_access_policies, create_access_policy))
        .routes(routes!(
            get_access_policy,
            update_access_policy,
            delete_access_policy
        ))
}

#[derive(Debug, sqlx::FromRow)]
struct PolicyRow {
    id: String,
    workspace_id: String,
    name: String,
    description: String,
    enabled: i64,
    scopes: String,
    groups: String,
    client_ids: String,
    require_mfa: i64,
    amr: String,
    networks: String,
    regions: String,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, name, description, enabled, scopes, groups, client_ids, \
    require_mfa, amr, networks, regions, created_at, updated_at";

impl PolicyRow {
    fn view(self) -> Result<AccessPolicy, sqlx::Error> {
        Ok(AccessPolicy {
            scopes: stored_list("scopes", &self.scopes)?,
            conditions: AccessConditions {
                groups: stored_list("groups", &self.groups)?,
                client_ids: stored_list("client_ids", &self.client_ids)?,
                require_mfa: self.require_mfa != 0,
                amr: stored_list("amr", &self.amr)?,
                networks: stored_list("networks", &self.networks)?,
                regions: stored_list("regions", &self.regions)?,
            },
            id: self.id,
            workspace_id: self.workspace_id,
            name: self.name,
            description: self.description,
            enabled: self.enabled != 0,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

/// The workspace's enabled policies, ready to evaluate. Read on every authorization and
/// refresh: a policy change applies to the very next one.
pub async fn enabled(pool: &AnyPool, workspace_id: &str) -> Result<Policies, sqlx::Error> {
    let rows: Vec<PolicyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM access_policies WHERE workspace_id = $1 AND enabled = 1 ORDER BY id"
    ))
    .bind(workspace_id)
    .fetch_all(pool)
    .await?;
    let views = rows
        .into_iter()
        .map(PolicyRow::view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policies::new(views))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<AccessPolicy> {
    let row: PolicyRow = crate::platform::db::find_in_workspace(
        &state.db,
        "access_policies",
        COLUMNS,
        ids::ACCESS_POLICY,
        caller.workspace_id(),
        id,
    )
    .await?;
    Ok(row.view()?)
}

/// Validated, and every client it names is an OAuth client of this workspace.
async fn checked(
    state: &AppState,
    caller: &Caller,
    body: &CreateAccessPolicy,
) -> ApiResult<CreateAccessPolicy> {
    let body = statuspulse_api::validate::access_policy(body)?;
    for client_id in &body.client_ids {
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM oauth_clients WHERE workspace_id = $1 AND id = $2")
                .bind(caller.workspace_id())
                .bind(client_id)
                .fetch_optional(state.db.pool())
                .await?;
        if exists.is_none() {
            return Err(FieldError::new(
                "client_ids",
                "unknown_client",
                format!("`{client_id}` is not an OAuth client of this workspace"),
            )
            .into());
        }
    }
    Ok(body)
}

/// Create a conditional access policy. It applies from the next authorization or refresh.
#[utoipa::path(post, path = "/v1/access-policies", tag = "access", request_body = CreateAccessPolicy,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = AccessPolicy), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn create_access_policy(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateAccessPolicy>,
) -> ApiResult<(StatusCode, axum::Json<AccessPolicy>)> {
    caller.require(Scope::AdminAccess)?;
    let body = checked(&state, &caller, &body).await?;
    let id = ids::new_id(ids::ACCESS_POLICY);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM access_policies WHERE workspace_id = $1")
            .bind(caller.workspace_id())
            .fetch_one(&mut *tx.tx)
            .await?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_POLICIES {
        return Err(ApiError::conflict(
            "too_many_policies",
            format!("a workspace holds at most {MAX_POLICIES} access policies"),
        ));
    }
    sqlx::query(
        "INSERT INTO access_policies (id, workspace_id, name, description, enabled, scopes, \
         groups, client_ids, require_mfa, amr, networks, regions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&body.name)
    .bind(&body.description)
    .bind(i64::from(body.enabled))
    .bind(list_for_storage(&body.scopes))
    .bind(list_for_storage(&body.groups))
    .bind(list_for_storage(&body.client_ids))
    .bind(i64::from(body.require_mfa))
    .bind(list_for_storage(&body.amr))
    .bind(list_for_storage(&body.networks))
    .bind(list_for_storage(&body.regions))
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let answer = crate::platform::db::find_in_tx::<PolicyRow>(
        &mut tx,
        "access_policies",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AccessPolicyCreated,
        caller.actor(),
    )
    .target("access_policy", &id)
    .details(json!({"before": null, "after": answer}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read a conditional access policy.
#[utoipa::path(get, path = "/v1/access-policies/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = AccessPolicy), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn get_access_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AccessPolicy>> {
    caller.require(Scope::AdminAccess)?;
    Ok(axum::Json(find(&state, &caller, &id).await?))
}

/// List conditional access policies, oldest first.
#[utoipa::path(get, path = "/v1/access-policies", tag = "access", params(PageParams),
    responses((status = 200, body = Page<AccessPolicy>)), security(("bearer" = ["admin:access"])))]
pub async fn list_access_policies(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<AccessPolicy>>> {
    caller.require(Scope::AdminAccess)?;
    let limit = page.limit()?;
    let rows: Vec<PolicyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM access_policies WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows
        .into_iter()
        .map(PolicyRow::view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(views, limit, |p| p.id.clone(), |p| p)))
}

/// Change a conditional access policy. Tokens already issued keep their scopes until their
/// next refresh, which is evaluated against the policy as it is then.
#[utoipa::path(patch, path = "/v1/access-policies/{id}", tag = "access", params(("id" = String, Path)),
    request_body = UpdateAccessPolicy,
    responses((status = 200, body = AccessPolicy), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn update_access_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateAccessPolicy>,
) -> ApiResult<axum::Json<AccessPolicy>> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?;
    let merged = checked(&state, &caller, &body.merged(&before)).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE access_policies SET name = $1, description = $2, enabled = $3, scopes = $4, \
         groups = $5, client_ids = $6, require_mfa = $7, amr = $8, networks = $9, regions = $10, \
         updated_at = $11 WHERE id = $12 AND workspace_id = $13",
    )
    .bind(&merged.name)
    .bind(&merged.description)
    .bind(i64::from(merged.enabled))
    .bind(list_for_storage(&merged.scopes))
    .bind(list_for_storage(&merged.groups))
    .bind(list_for_storage(&merged.client_ids))
    .bind(i64::from(merged.require_mfa))
    .bind(list_for_storage(&merged.amr))
    .bind(list_for_storage(&merged.networks))
    .bind(list_for_storage(&merged.regions))
    .bind(state.clock.now_ms())
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    let after = crate::platform::db::find_in_tx::<PolicyRow>(
        &mut tx,
        "access_policies",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AccessPolicyUpdated,
        caller.actor(),
    )
    .target("access_policy", &id)
    .details(json!({"before": before, "after": after}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(after))
}

/// Delete a conditional access policy: the scopes it governed are issued without its
/// conditions from the next authorization or refresh.
#[utoipa::path(delete, path = "/v1/access-policies/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn delete_access_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::AccessPolicyDeleted,
        caller.actor(),
    )
    .target("access_policy", &id)
    .details(json!({"before": before, "after": null}));
    audit::delete_recorded(
        &state,
        "access_policies",
        caller.workspace_id(),
        &id,
        &event,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
