//! `/v1/environment-clusters`: named slices of an environment (for example `eu-prod-1` in
//! `live`) that role bindings, keys and gateways refer to by name.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::management::validate;
use crate::platform::clock::rfc3339;
use crate::platform::ids;
pub use statuspulse_api::v1::{
    CreateEnvironmentCluster, EnvironmentCluster, UpdateEnvironmentCluster,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            list_environment_clusters,
            create_environment_cluster
        ))
        .routes(routes!(
            get_environment_cluster,
            update_environment_cluster,
            delete_environment_cluster
        ))
}

#[derive(Debug, sqlx::FromRow)]
struct ClusterRow {
    id: String,
    workspace_id: String,
    name: String,
    environment: String,
    description: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ClusterRow> for EnvironmentCluster {
    fn from(r: ClusterRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            environment: r.environment,
            description: r.description,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListClusters {
    /// Exact cluster name.
    pub name: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(?:(?:[A-Za-z0-9_-]{4}){0,100}|(?:[A-Za-z0-9_-]{4}){0,99}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]))$"
    )]
    pub cursor: Option<String>,
}

const COLUMNS: &str = "id, workspace_id, name, environment, description, created_at, updated_at";

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ClusterRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "environment_clusters",
        COLUMNS,
        ids::CLUSTER,
        caller.workspace_id(),
        id,
    )
    .await
}

/// Declare an environment cluster.
#[utoipa::path(post, path = "/v1/environment-clusters", tag = "access", request_body = CreateEnvironmentCluster,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = EnvironmentCluster), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn create_environment_cluster(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateEnvironmentCluster>,
) -> ApiResult<(StatusCode, axum::Json<EnvironmentCluster>)> {
    caller.require(Scope::AdminAccess)?;
    let name = validate::cluster_name("name", &body.name)?;
    let environment = validate::environment(&body.environment)?;
    let description = validate::description("description", &body.description)?;
    let id = ids::new_id(ids::CLUSTER);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO environment_clusters (id, workspace_id, name, environment, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&name)
    .bind(environment.as_str())
    .bind(&description)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::EnvironmentClusterCreated,
        caller.actor(),
    )
    .target("environment_cluster", &id)
    .details(json!({"name": name, "environment": environment}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let answer: EnvironmentCluster = crate::platform::db::find_in_tx::<ClusterRow>(
        &mut tx,
        "environment_clusters",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?
    .into();
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    // Bindings without a cluster list now reach this cluster too.
    crate::authz::access::refresh_keys(&state, caller.workspace_id(), None).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read an environment cluster.
#[utoipa::path(get, path = "/v1/environment-clusters/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = EnvironmentCluster), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn get_environment_cluster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EnvironmentCluster>> {
    caller.require(Scope::AdminAccess)?;
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// List environment clusters, optionally by exact name.
#[utoipa::path(get, path = "/v1/environment-clusters", tag = "access", params(ListClusters),
    responses((status = 200, body = Page<EnvironmentCluster>)), security(("bearer" = ["admin:access"])))]
pub async fn list_environment_clusters(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListClusters>,
) -> ApiResult<axum::Json<Page<EnvironmentCluster>>> {
    caller.require(Scope::AdminAccess)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    let rows: Vec<ClusterRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM environment_clusters WHERE workspace_id = $1 AND id > $2 \
         AND ($3 IS NULL OR name = $3) ORDER BY id LIMIT $4"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(query.name.as_deref())
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

/// Change a cluster's description.
#[utoipa::path(patch, path = "/v1/environment-clusters/{id}", tag = "access", params(("id" = String, Path)),
    request_body = UpdateEnvironmentCluster,
    responses((status = 200, body = EnvironmentCluster), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn update_environment_cluster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateEnvironmentCluster>,
) -> ApiResult<axum::Json<EnvironmentCluster>> {
    caller.require(Scope::AdminAccess)?;
    let before = find(&state, &caller, &id).await?;
    let description = validate::description("description", &body.description)?;
    if description != before.description {
        let mut tx = state.db.begin_write().await?;
        sqlx::query(
            "UPDATE environment_clusters SET description = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(&description)
        .bind(state.clock.now_ms())
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
        let event = NewEvent::success(caller.workspace_id(), EventType::EnvironmentClusterUpdated, caller.actor())
            .target("environment_cluster", &id)
            .details(json!({"name": before.name, "before": {"description": before.description}, "after": {"description": description}}));
        audit::commit_with(tx, &state.clock, &event).await?;
    }
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// Delete a cluster. Refused while a role binding or a key names it.
#[utoipa::path(delete, path = "/v1/environment-clusters/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn delete_environment_cluster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminAccess)?;
    let row = find(&state, &caller, &id).await?;
    let quoted = serde_json::Value::from(row.name.as_str()).to_string();
    let mut tx = state.db.begin_write().await?;
    // Names are stored as JSON arrays of strings; a quoted, cluster-name-safe needle is exact.
    let pattern = format!("%{quoted}%");
    let in_use: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM role_bindings WHERE workspace_id = $1 AND environment_clusters LIKE $2) \
         + (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1 AND environment_clusters LIKE $2 \
            AND (revoked_at IS NULL OR revoked_at > $3))",
    )
    .bind(caller.workspace_id())
    .bind(&pattern)
    .bind(state.clock.now_ms())
    .fetch_one(&mut *tx.tx)
    .await?;
    if in_use > 0 {
        return Err(ApiError::conflict(
            "cluster_in_use",
            format!(
                "{in_use} role binding(s) or key(s) name `{}`; change them first",
                row.name
            ),
        ));
    }
    sqlx::query("DELETE FROM environment_clusters WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::EnvironmentClusterDeleted,
        caller.actor(),
    )
    .target("environment_cluster", &id)
    .details(json!({"name": row.name, "environment": row.environment}));
    audit::commit_with(tx, &state.clock, &event).await?;
    crate::authz::access::refresh_keys(&state, caller.workspace_id(), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
