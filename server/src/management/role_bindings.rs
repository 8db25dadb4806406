//! `/v1/role-bindings`: what a principal may be granted, and where.
//!
//! A binding gives a principal (a service account, or an SSO group once SSO lands) a set of
//! scopes, optionally confined to environment clusters. A service account's keys can hold only
//! scopes its bindings grant; narrowing or deleting a binding narrows its keys at once.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::access::{self, Binding};
use crate::authz::scopes::{Scope, Scopes};
use crate::authz::{self, grant, Grant, Grantee};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::management::validate;
use crate::platform::clock::rfc3339;
use crate::platform::ids;
pub use statuspulse_api::v1::{CreateRoleBinding, RoleBinding, UpdateRoleBinding};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_role_bindings, create_role_binding))
        .routes(routes!(
            get_role_binding,
            update_role_binding,
            delete_role_binding
        ))
}

#[derive(Clone, Debug, sqlx::FromRow)]
struct BindingRow {
    id: String,
    workspace_id: String,
    principal_type: String,
    principal_id: String,
    scopes: String,
    environment_clusters: String,
    created_at: i64,
    updated_at: i64,
}

impl BindingRow {
    /// Whom the binding grants to.
    fn grantee(&self) -> Result<Grantee, sqlx::Error> {
        Grantee::of_binding(&self.principal_type, &self.principal_id)
    }
}

impl From<BindingRow> for RoleBinding {
    fn from(r: BindingRow) -> Self {
        let (service_account_id, group) = match r.principal_type.as_str() {
            grant::SERVICE_ACCOUNT => (Some(r.principal_id), None),
            _ => (None, Some(r.principal_id)),
        };
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            service_account_id,
            group,
            scopes: r.scopes.split_whitespace().map(str::to_owned).collect(),
            environment_clusters: serde_json::from_str(&r.environment_clusters).unwrap_or_default(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRoleBindings {
    pub service_account_id: Option<String>,
    pub group: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(?:(?:[A-Za-z0-9_-]{4}){0,100}|(?:[A-Za-z0-9_-]{4}){0,99}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]))$"
    )]
    pub cursor: Option<String>,
}

const COLUMNS: &str = "id, workspace_id, principal_type, principal_id, scopes, environment_clusters, created_at, updated_at";

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<BindingRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "role_bindings",
        COLUMNS,
        ids::ROLE_BINDING,
        caller.workspace_id(),
        id,
    )
    .await
}

/// Checks a binding about to exist: clusters that exist, `admin:all` only under the workspace
/// policy, and the grant rule (nothing beyond what the caller holds, where the binding reaches).
async fn check_binding(
    state: &AppState,
    caller: &Caller,
    principal: &Grantee,
    binding: &Binding,
) -> ApiResult<()> {
    let workspace = access::load_context(state.db.pool(), caller.workspace_id(), None).await?;
    if let Some(unknown) = binding
        .clusters
        .iter()
        .find(|c| !workspace.clusters.contains_key(*c))
    {
        return Err(ApiError::invalid(
            "environment_clusters",
            "unknown_cluster",
            format!("no environment cluster named `{unknown}` in this workspace"),
        ));
    }
    authz::check_admin_all_policy(state, caller.workspace_id(), &binding.scopes, principal).await?;
    let holder = authz::caller_authority(state, &caller.principal).await?;
    authz::require_grant(
        &holder,
        &Grant::Binding {
            principal,
            binding,
            clusters: &workspace.clusters,
        },
    )
}

/// Bind scopes (optionally confined to clusters) to a service account or an SSO group.
#[utoipa::path(post, path = "/v1/role-bindings", tag = "access", request_body = CreateRoleBinding,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = RoleBinding), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn create_role_binding(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateRoleBinding>,
) -> ApiResult<(StatusCode, axum::Json<RoleBinding>)> {
    caller.require(Scope::AdminAccess)?;
    let principal = match (&body.service_account_id, &body.group) {
        (Some(sa), None) => {
            let exists: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM service_accounts WHERE workspace_id = $1 AND id = $2",
            )
            .bind(caller.workspace_id())
            .bind(sa)
            .fetch_optional(state.db.pool())
            .await?;
            if exists.is_none() {
                return Err(ApiError::invalid(
                    "service_account_id",
                    "unknown_service_account",
                    "no such service account in this workspace",
                ));
            }
            Grantee::ServiceAccount(sa.clone())
        }
        (None, Some(group)) => Grantee::Group(validate::name("group", group)?),
        _ => {
            return Err(ApiError::invalid(
                "service_account_id",
                "principal_required",
                "give exactly one principal: service_account_id or group",
            ))
        }
    };
    let scopes = validate::scopes(&body.scopes)?;
    let clusters = validate::cluster_names(&body.environment_clusters)?;
    let Some((principal_type, principal_id)) = principal.binding_columns() else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "a binding names a principal"
        )));
    };
    let binding = Binding { scopes, clusters };
    check_binding(&state, &caller, &principal, &binding).await?;
    let Binding { scopes, clusters } = binding;
    let id = ids::new_id(ids::ROLE_BINDING);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO role_bindings (id, workspace_id, principal_type, principal_id, scopes, \
         environment_clusters, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(principal_type)
    .bind(principal_id)
    .bind(scopes.to_storage())
    .bind(crate::platform::db::list_for_storage(&clusters))
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::RoleBindingCreated,
        caller.actor(),
    )
    .target("role_binding", &id)
    .details(json!({
        "principal": {"type": principal_type, "id": principal_id},
        "before": null,
        "after": {"scopes": scopes, "environment_clusters": clusters},
    }));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let row: BindingRow = crate::platform::db::find_in_tx(
        &mut tx,
        "role_bindings",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?;
    let answer = RoleBinding::from(row.clone());
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    refresh_principal(&state, &row).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Re-reads the keys a binding governs.
async fn refresh_principal(state: &AppState, row: &BindingRow) -> ApiResult<()> {
    if let Grantee::ServiceAccount(account) = row.grantee()? {
        crate::authz::access::refresh_keys(state, &row.workspace_id, Some(&account)).await?;
    }
    Ok(())
}

/// Read a role binding.
#[utoipa::path(get, path = "/v1/role-bindings/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = RoleBinding), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn get_role_binding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RoleBinding>> {
    caller.require(Scope::AdminAccess)?;
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// List role bindings, optionally of one principal.
#[utoipa::path(get, path = "/v1/role-bindings", tag = "access", params(ListRoleBindings),
    responses((status = 200, body = Page<RoleBinding>)), security(("bearer" = ["admin:access"])))]
pub async fn list_role_bindings(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListRoleBindings>,
) -> ApiResult<axum::Json<Page<RoleBinding>>> {
    caller.require(Scope::AdminAccess)?;
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
    if let Some(group) = &query.group {
        statuspulse_api::validate::name("group", group)?;
    }
    let (principal_type, principal_id) = match (&query.service_account_id, &query.group) {
        (Some(sa), _) => (Some(grant::SERVICE_ACCOUNT), Some(sa.as_str())),
        (None, Some(group)) => (Some(grant::GROUP), Some(group.as_str())),
        (None, None) => (None, None),
    };
    let rows: Vec<BindingRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM role_bindings WHERE workspace_id = $1 AND id > $2 \
         AND ($3 IS NULL OR principal_type = $3) AND ($4 IS NULL OR principal_id = $4) ORDER BY id LIMIT $5"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(principal_type)
    .bind(principal_id)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    Ok(axum::Json(page_of(
        rows,
        limit,
        |r| r.id.clone(),
        Into::into,
    )))
}

/// Change a binding's scopes or clusters. Narrowing takes effect on existing keys at once.
#[utoipa::path(patch, path = "/v1/role-bindings/{id}", tag = "access", params(("id" = String, Path)),
    request_body = UpdateRoleBinding,
    responses((status = 200, body = RoleBinding), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn update_role_binding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateRoleBinding>,
) -> ApiResult<axum::Json<RoleBinding>> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?;
    let before_view = RoleBinding::from(before.clone());
    let scopes = match &body.scopes {
        Some(s) => validate::scopes(s)?,
        None => Scopes::parse(before.scopes.split_whitespace())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored binding {id}: {e}")))?,
    };
    let clusters = match &body.environment_clusters {
        Some(c) => validate::cluster_names(c)?,
        None => before_view.environment_clusters.clone(),
    };
    let binding = Binding { scopes, clusters };
    check_binding(&state, &caller, &before.grantee()?, &binding).await?;
    let Binding { scopes, clusters } = binding;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("UPDATE role_bindings SET scopes = $1, environment_clusters = $2, updated_at = $3 WHERE id = $4")
        .bind(scopes.to_storage())
        .bind(crate::platform::db::list_for_storage(&clusters))
        .bind(state.clock.now_ms())
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(caller.workspace_id(), EventType::RoleBindingUpdated, caller.actor())
        .target("role_binding", &id)
        .details(json!({
            "principal": {"type": before.principal_type, "id": before.principal_id},
            "before": {"scopes": before_view.scopes, "environment_clusters": before_view.environment_clusters},
            "after": {"scopes": scopes, "environment_clusters": clusters},
        }));
    audit::commit_with(tx, &state.clock, &event).await?;
    refresh_principal(&state, &before).await?;
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// Delete a binding. Its principal's keys lose what it granted at once.
#[utoipa::path(delete, path = "/v1/role-bindings/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn delete_role_binding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAccess)?;
    let row = find(&state, &caller, &id).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("DELETE FROM role_bindings WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(caller.workspace_id(), EventType::RoleBindingDeleted, caller.actor())
        .target("role_binding", &id)
        .details(json!({
            "principal": {"type": row.principal_type, "id": row.principal_id},
            "before": {"scopes": row.scopes.split_whitespace().collect::<Vec<_>>(), "environment_clusters": serde_json::from_str::<serde_json::Value>(&row.environment_clusters).unwrap_or_default()},
            "after": null,
        }));
    audit::commit_with(tx, &state.clock, &event).await?;
    refresh_principal(&state, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}
