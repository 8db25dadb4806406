//! `/v1/workspaces`: tenants. Every other object belongs to exactly one workspace.
//!
//! A workspace manages itself with `admin:workspace`. Creating and deleting workspaces, and
//! seeing other ones, is reserved to the operator workspace (the one `bootstrap` creates) with
//! `admin:workspaces`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, AppState};
use crate::audit::{self, Actor, EventType, NewEvent};
use crate::authn::token::PlainApiKey;
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::management::api_keys::{insert_key, CreatedApiKey, NewKey, MAX_LIFETIME_DAYS};
use crate::management::validate;
use crate::platform::clock::{rfc3339, DAY_MS};
use crate::platform::ids;
use statuspulse_api::v1::PlainKey;
pub use statuspulse_api::v1::{CreateWorkspace, ProvisionedWorkspace, UpdateWorkspace, Workspace};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
}

#[derive(Debug, sqlx::FromRow)]
struct WorkspaceRow {
    id: String,
    name: String,
    rate_limit_tier: String,
    is_operator: i64,
    allow_admin_all_for_service_accounts: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            rate_limit_tier: r.rate_limit_tier,
            operator: r.is_operator != 0,
            allow_admin_all_for_service_accounts: r.allow_admin_all_for_service_accounts != 0,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

const COLUMNS: &str = "id, name, rate_limit_tier, is_operator, allow_admin_all_for_service_accounts, created_at, updated_at";

async fn fetch(app: &App, id: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id)
        .fetch_optional(app.db.pool())
        .await
}

/// Whether the caller may act on workspaces other than its own.
async fn is_operator(state: &AppState, caller: &Caller) -> ApiResult<bool> {
    if !caller.principal.grants(Scope::AdminWorkspaces) {
        return Ok(false);
    }
    Ok(fetch(state, caller.workspace_id())
        .await?
        .is_some_and(|w| w.is_operator != 0))
}

/// Finds a workspace the caller may see: its own (with `admin:workspace`), or any as operator.
async fn visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<WorkspaceRow> {
    ids::expect_prefix(id, ids::WORKSPACE)?;
    let own = id == caller.workspace_id();
    if own {
        caller.require(Scope::AdminWorkspace)?;
    } else if !is_operator(state, caller).await? {
        return Err(ApiError::not_found());
    }
    fetch(state, id).await?.ok_or_else(ApiError::not_found)
}

fn check_tier(state: &AppState, tier: &str) -> ApiResult<()> {
    if state.settings.rate_limit_tiers.get(tier).is_none() {
        return Err(ApiError::invalid(
            "rate_limit_tier",
            "unknown_tier",
            format!(
                "known tiers: {}",
                state.settings.rate_limit_tiers.names().join(", ")
            ),
        ));
    }
    Ok(())
}

/// Creates a workspace with an `admin:all` live key; used by the API and by `bootstrap`.
pub async fn provision(
    app: &App,
    name: &str,
    tier: &str,
    operator: bool,
    actor: Actor,
) -> anyhow::Result<(Workspace, CreatedApiKey)> {
    let created = provision_recorded(app, name, tier, operator, actor, &Idempotency::default())
        .await
        .map_err(|e| anyhow::anyhow!("provisioning the workspace failed: {e:?}"))?;
    Ok((created.workspace, created.admin_key))
}

/// Creates a workspace and its first admin key in one transaction, which also records the
/// answer for an idempotent retry (the answer holds the key: it is never minted twice).
async fn provision_recorded(
    app: &App,
    name: &str,
    tier: &str,
    operator: bool,
    actor: Actor,
    idempotency: &Idempotency,
) -> ApiResult<ProvisionedWorkspace> {
    let (plain, secret_hash) = app
        .authenticator
        .hash_new_key(PlainApiKey::generate(Environment::Live))
        .await?;
    let workspace_id = ids::new_id(ids::WORKSPACE);
    let key_row_id = ids::new_id(ids::API_KEY);
    let now = app.clock.now_ms();
    let scopes = Scopes::from_iter([Scope::AdminAll]);
    let mut tx = app.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO workspaces (id, name, rate_limit_tier, is_operator, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&workspace_id)
    .bind(name)
    .bind(tier)
    .bind(i64::from(operator))
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    insert_key(
        &mut tx.tx,
        &NewKey {
            id: &key_row_id,
            key_id: plain.key_id().as_str(),
            workspace_id: &workspace_id,
            name: "workspace admin",
            environment: Environment::Live,
            service_account_id: None,
            scopes: &scopes,
            check_group_ids: &[],
            alert_route_ids: &[],
            environment_clusters: &[],
            rotation_days: crate::management::api_keys::DEFAULT_ROTATION_DAYS,
            secret_hash: &secret_hash,
            created_at: now,
            expires_at: now + MAX_LIFETIME_DAYS * DAY_MS,
        },
    )
    .await?;
    crate::management::anomaly_rules::insert_defaults(&mut tx.tx, &workspace_id, now).await?;
    let created = NewEvent::success(&workspace_id, EventType::WorkspaceCreated, actor.clone())
        .target("workspace", &workspace_id)
        .details(json!({"name": name, "operator": operator, "rate_limit_tier": tier}));
    audit::append(&mut tx.tx, &app.clock, &created).await?;
    let key_event = NewEvent::success(&workspace_id, EventType::ApiKeyCreated, actor)
        .target("api_key", &key_row_id)
        .details(json!({"key_id": plain.key_id().as_str(), "name": "workspace admin", "environment": "live", "scopes": scopes}));
    audit::append(&mut tx.tx, &app.clock, &key_event).await?;
    let workspace: WorkspaceRow =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(&workspace_id)
            .fetch_one(&mut *tx.tx)
            .await?;
    let key = crate::management::api_keys::fetch_view_in(
        &mut tx.tx,
        &workspace_id,
        &key_row_id,
        app.clock.now_ms(),
    )
    .await?;
    let answer = ProvisionedWorkspace {
        workspace: workspace.into(),
        admin_key: CreatedApiKey {
            api_key: key,
            key: PlainKey::new(plain.expose().to_owned()),
        },
    };
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok(answer)
}

/// Create a workspace (operator only). The answer holds its first admin key, shown once.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = CreateWorkspace,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = ProvisionedWorkspace), (status = 403, body = crate::error::Problem)),
    security(("bearer" = ["admin:workspaces"])))]
pub async fn create_workspace(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateWorkspace>,
) -> ApiResult<(StatusCode, axum::Json<ProvisionedWorkspace>)> {
    caller.require(Scope::AdminWorkspaces)?;
    if !is_operator(&state, &caller).await? {
        return Err(ApiError::forbidden(
            "operator_only",
            "only the operator workspace can create workspaces",
        ));
    }
    let name = validate::name("name", &body.name)?;
    let tier = body
        .rate_limit_tier
        .unwrap_or_else(|| "standard".to_owned());
    check_tier(&state, &tier)?;
    let answer =
        provision_recorded(&state, &name, &tier, false, caller.actor(), &idempotency).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// List workspaces: the caller's own, or every workspace for the operator.
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", params(PageParams),
    responses((status = 200, body = Page<Workspace>)), security(("bearer" = ["admin:workspace"])))]
pub async fn list_workspaces(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Workspace>>> {
    let limit = page.limit()?;
    let after = page.after()?;
    let rows: Vec<WorkspaceRow> = if is_operator(&state, &caller).await? {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM workspaces WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(&after)
        .bind(limit + 1)
        .fetch_all(state.db.pool())
        .await?
    } else {
        caller.require(Scope::AdminWorkspace)?;
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM workspaces WHERE id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(caller.workspace_id())
        .bind(&after)
        .bind(limit + 1)
        .fetch_all(state.db.pool())
        .await?
    };
    Ok(axum::Json(page_of(
        rows,
        limit,
        |r| r.id.clone(),
        Into::into,
    )))
}

/// Read a workspace.
#[utoipa::path(get, path = "/v1/workspaces/{id}", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:workspace"])))]
pub async fn get_workspace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Workspace>> {
    Ok(axum::Json(visible(&state, &caller, &id).await?.into()))
}

/// Rename a workspace or change its policy; the rate-limit tier is the operator's to change.
#[utoipa::path(patch, path = "/v1/workspaces/{id}", tag = "workspaces", params(("id" = String, Path)),
    request_body = UpdateWorkspace,
    responses((status = 200, body = Workspace), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:workspace"])))]
pub async fn update_workspace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateWorkspace>,
) -> ApiResult<axum::Json<Workspace>> {
    let before = visible(&state, &caller, &id).await?;
    let name = match &body.name {
        Some(n) => validate::name("name", n)?,
        None => before.name.clone(),
    };
    let tier = match &body.rate_limit_tier {
        Some(t) if *t != before.rate_limit_tier => {
            if !is_operator(&state, &caller).await? {
                return Err(ApiError::forbidden(
                    "operator_only",
                    "only the operator changes rate-limit tiers",
                )
                .with_field("rate_limit_tier"));
            }
            check_tier(&state, t)?;
            t.clone()
        }
        _ => before.rate_limit_tier.clone(),
    };
    let allow = body
        .allow_admin_all_for_service_accounts
        .map_or(before.allow_admin_all_for_service_accounts, i64::from);
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE workspaces SET name = $1, rate_limit_tier = $2, allow_admin_all_for_service_accounts = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(&name)
    .bind(&tier)
    .bind(allow)
    .bind(state.clock.now_ms())
    .bind(&id)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(&id, EventType::WorkspaceUpdated, caller.actor())
        .target("workspace", &id)
        .details(json!({
            "before": {"name": before.name, "rate_limit_tier": before.rate_limit_tier, "allow_admin_all_for_service_accounts": before.allow_admin_all_for_service_accounts != 0},
            "after": {"name": name, "rate_limit_tier": tier, "allow_admin_all_for_service_accounts": allow != 0},
        }));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(axum::Json(
        fetch(&state, &id)
            .await?
            .ok_or_else(ApiError::not_found)?
            .into(),
    ))
}

/// Delete a workspace and everything in it (operator only; never the operator workspace).
/// Its audit events are kept.
#[utoipa::path(delete, path = "/v1/workspaces/{id}", tag = "workspaces", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:workspaces"])))]
pub async fn delete_workspace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row = visible(&state, &caller, &id).await?;
    if !is_operator(&state, &caller).await? {
        return Err(ApiError::forbidden(
            "operator_only",
            "only the operator deletes workspaces",
        ));
    }
    if row.is_operator != 0 {
        return Err(ApiError::conflict(
            "operator_workspace",
            "the operator workspace cannot be deleted",
        ));
    }
    let key_ids: Vec<(String,)> =
        sqlx::query_as("SELECT key_id FROM api_keys WHERE workspace_id = $1")
            .bind(&id)
            .fetch_all(state.db.pool())
            .await?;
    let mut tx = state.db.begin_write().await?;
    for table in [
        "sso_email_domains",
        "sso_connections",
        "api_keys",
        "role_bindings",
        "environment_clusters",
        "service_accounts",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE workspace_id = $1"))
            .bind(&id)
            .execute(&mut *tx.tx)
            .await?;
    }
    sqlx::query("DELETE FROM workspaces WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    for chain in [id.as_str(), caller.workspace_id()] {
        let event = NewEvent::success(chain, EventType::WorkspaceDeleted, caller.actor())
            .target("workspace", &id)
            .details(json!({"name": row.name, "api_keys_deleted": key_ids.len()}));
        audit::append(&mut tx.tx, &state.clock, &event).await?;
    }
    tx.commit().await?;
    for (key_id,) in key_ids {
        state
            .authenticator
            .invalidate(&statuspulse_api::key::KeyId::from_trusted(key_id.clone()));
        state.fanout.publish_key_change(&key_id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
