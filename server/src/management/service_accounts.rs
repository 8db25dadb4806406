//! `/v1/service-accounts`: the non-human principals that automation keys belong to.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::management::api_keys::QUARANTINE_MS;
use crate::management::validate;
use crate::platform::clock::rfc3339;
use crate::platform::ids;
pub use statuspulse_api::v1::{CreateServiceAccount, ServiceAccount, UpdateServiceAccount};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_service_accounts, create_service_account))
        .routes(routes!(
            get_service_account,
            update_service_account,
            delete_service_account
        ))
}

#[derive(Debug, sqlx::FromRow)]
struct ServiceAccountRow {
    id: String,
    workspace_id: String,
    name: String,
    description: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ServiceAccountRow> for ServiceAccount {
    fn from(r: ServiceAccountRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            description: r.description,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

const COLUMNS: &str = "id, workspace_id, name, description, created_at, updated_at";

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ServiceAccountRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "service_accounts",
        COLUMNS,
        ids::SERVICE_ACCOUNT,
        caller.workspace_id(),
        id,
    )
    .await
}

/// Create a service account.
#[utoipa::path(post, path = "/v1/service-accounts", tag = "service-accounts", request_body = CreateServiceAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = ServiceAccount), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:service_accounts"])))]
pub async fn create_service_account(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateServiceAccount>,
) -> ApiResult<(StatusCode, axum::Json<ServiceAccount>)> {
    caller.require(Scope::AdminServiceAccounts)?;
    let name = validate::name("name", &body.name)?;
    let description = validate::description("description", &body.description)?;
    let id = ids::new_id(ids::SERVICE_ACCOUNT);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO service_accounts (id, workspace_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&name)
    .bind(&description)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::ServiceAccountCreated,
        caller.actor(),
    )
    .target("service_account", &id)
    .details(json!({"name": name}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let answer: ServiceAccount = crate::platform::db::find_in_tx::<ServiceAccountRow>(
        &mut tx,
        "service_accounts",
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
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read a service account.
#[utoipa::path(get, path = "/v1/service-accounts/{id}", tag = "service-accounts", params(("id" = String, Path)),
    responses((status = 200, body = ServiceAccount), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:service_accounts"])))]
pub async fn get_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ServiceAccount>> {
    caller.require(Scope::AdminServiceAccounts)?;
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// List service accounts, oldest first.
#[utoipa::path(get, path = "/v1/service-accounts", tag = "service-accounts", params(PageParams),
    responses((status = 200, body = Page<ServiceAccount>)), security(("bearer" = ["admin:service_accounts"])))]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<ServiceAccount>>> {
    caller.require(Scope::AdminServiceAccounts)?;
    let limit = page.limit()?;
    let rows: Vec<ServiceAccountRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM service_accounts WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
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

/// Rename or describe a service account.
#[utoipa::path(patch, path = "/v1/service-accounts/{id}", tag = "service-accounts", params(("id" = String, Path)),
    request_body = UpdateServiceAccount,
    responses((status = 200, body = ServiceAccount), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:service_accounts"])))]
pub async fn update_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateServiceAccount>,
) -> ApiResult<axum::Json<ServiceAccount>> {
    caller.require(Scope::AdminServiceAccounts)?;
    let before = find(&state, &caller, &id).await?;
    let name = match &body.name {
        Some(n) => validate::name("name", n)?,
        None => before.name.clone(),
    };
    let description = match &body.description {
        Some(d) => validate::description("description", d)?,
        None => before.description.clone(),
    };
    if name != before.name || description != before.description {
        let mut tx = state.db.begin_write().await?;
        sqlx::query(
            "UPDATE service_accounts SET name = $1, description = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&name)
        .bind(&description)
        .bind(state.clock.now_ms())
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
        let event = NewEvent::success(
            caller.workspace_id(),
            EventType::ServiceAccountUpdated,
            caller.actor(),
        )
        .target("service_account", &id)
        .details(json!({
            "before": {"name": before.name, "description": before.description},
            "after": {"name": name, "description": description},
        }));
        audit::commit_with(tx, &state.clock, &event).await?;
    }
    Ok(axum::Json(find(&state, &caller, &id).await?.into()))
}

/// Delete a service account. Refused while it has keys that still work: revoke them first.
#[utoipa::path(delete, path = "/v1/service-accounts/{id}", tag = "service-accounts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:service_accounts"])))]
pub async fn delete_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminServiceAccounts)?;
    let row = find(&state, &caller, &id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    let (usable, named) =
        crate::management::api_keys::usable_for_service_account(&mut tx.tx, &id, now).await?;
    if usable > 0 {
        // Named, so that a key rotated outside Terraform (an unmanaged successor) is found.
        let mut blockers: Vec<String> = named
            .iter()
            .map(|(key, name)| format!("`{name}` ({key})"))
            .collect();
        let unnamed = usable - i64::try_from(named.len()).unwrap_or(usable);
        if unnamed > 0 {
            blockers.push(format!("and {unnamed} more"));
        }
        let noun = if usable == 1 { "key" } else { "keys" };
        return Err(ApiError::conflict(
            "service_account_has_active_keys",
            format!(
                "the service account still has {usable} usable {noun}: {}; revoke them first \
                 (GET /v1/api-keys?service_account_id={id} lists them)",
                blockers.join(", ")
            ),
        ));
    }
    // Its bindings go with it: nothing else can use them.
    sqlx::query(
        "DELETE FROM role_bindings WHERE principal_type = 'service_account' AND principal_id = $1",
    )
    .bind(&id)
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query("DELETE FROM service_accounts WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(caller.workspace_id(), EventType::ServiceAccountDeleted, caller.actor())
        .target("service_account", &id)
        .details(json!({"name": row.name, "quarantined_keys_kept_days": QUARANTINE_MS / crate::platform::clock::DAY_MS}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}
