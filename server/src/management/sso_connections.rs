//! `/v1/sso-connections`: the identity providers a workspace federates sign-in to.
//!
//! A connection has a `kind` (`okta`, `azure_ad`, `onelogin`, `oidc`, `saml`) and exactly the
//! settings block of that kind; the field rules are `statuspulse_api::validate::sso_connection`,
//! the same the provider applies at plan time. This module stores connections; sign-in itself
//! (`authn/oidc`, `authn/saml`) reads them through [`load_for_sign_in`].
//!
//! The client secret must be usable by the server, so it cannot be hashed: it is sealed with the
//! master key (`platform::secrets`) for the context `sso_connection:<id>:client_secret`, and the
//! key's id is recorded in the same transaction (`secrets::record_use`). It is never returned,
//! never in an audit event (only `client_secret_changed: true`), never logged. A connection does
//! not grant scopes by itself: its group mappings name groups, and role bindings (which go
//! through `authz::require_grant`) give those groups scopes. Mapping IdP users into a group that
//! already has bindings does hand them what the group holds, so a newly mapped group is checked
//! by the same grant rule, as if the caller created the group's bindings ([`check_mappings`]).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::access;
use crate::authz::scopes::Scope;
use crate::authz::{self, Grant, Grantee};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::clock::rfc3339;
use crate::platform::db::{self, list_for_storage, stored_list, WriteTx};
use crate::platform::ids;
use crate::platform::secrets;
pub use statuspulse_api::v1::{CreateSsoConnection, SsoConnection, UpdateSsoConnection};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sso_connections, create_sso_connection))
        .routes(routes!(
            get_sso_connection,
            update_sso_connection,
            delete_sso_connection
        ))
}

/// Where the assertion consumer service is (docs/CONTRACT.md, "Sign-in": SAML POST binding).
pub use crate::http::middleware::SAML_ACS_PATH;

#[derive(Clone, Debug, sqlx::FromRow)]
struct ConnectionRow {
    id: String,
    workspace_id: String,
    name: String,
    kind: String,
    settings: String,
    endpoint_override: Option<String>,
    client_id: Option<String>,
    client_secret_sealed: Option<String>,
    scopes: String,
    email_domains: String,
    require_mfa: i64,
    acr_values: String,
    allowed_groups: String,
    group_mappings: String,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, name, kind, settings, endpoint_override, client_id, \
    client_secret_sealed, scopes, email_domains, require_mfa, acr_values, allowed_groups, \
    group_mappings, created_at, updated_at";

fn corrupt(column: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {column} is corrupt: {e}").into())
}

impl ConnectionRow {
    /// The stored connection as a create body, without its secret: what an update is applied
    /// to and validated as. Fails closed on anything that does not read back.
    fn as_body(&self) -> Result<CreateSsoConnection, sqlx::Error> {
        let mut body = CreateSsoConnection {
            name: self.name.clone(),
            kind: self.kind.clone(),
            endpoint_override: self.endpoint_override.clone(),
            client_id: self.client_id.clone(),
            client_secret: None,
            scopes: (self.kind != "saml")
                .then(|| stored_list("scopes", &self.scopes))
                .transpose()?,
            email_domains: stored_list("email_domains", &self.email_domains)?,
            require_mfa: self.require_mfa != 0,
            acr_values: stored_list("acr_values", &self.acr_values)?,
            allowed_groups: stored_list("allowed_groups", &self.allowed_groups)?,
            group_mappings: serde_json::from_str(&self.group_mappings)
                .map_err(|e| corrupt("group_mappings", e))?,
            ..CreateSsoConnection::default()
        };
        match self.kind.as_str() {
            "okta" => body.okta = self.block()?,
            "azure_ad" => body.azure_ad = self.block()?,
            "onelogin" => body.onelogin = self.block()?,
            "oidc" => body.oidc = self.block()?,
            "saml" => body.saml = self.block()?,
            other => return Err(corrupt("kind", other)),
        }
        Ok(body)
    }

    /// The settings column as the block of the connection's kind.
    fn block<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, sqlx::Error> {
        serde_json::from_str(&self.settings)
            .map(Some)
            .map_err(|_| corrupt("settings", format!("of kind {}", self.kind)))
    }

    fn view(&self, public_url: &str) -> Result<SsoConnection, sqlx::Error> {
        let body = self.as_body()?;
        let saml = self.kind == "saml";
        Ok(SsoConnection {
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: body.name,
            kind: body.kind,
            okta: body.okta,
            azure_ad: body.azure_ad,
            onelogin: body.onelogin,
            oidc: body.oidc,
            saml: body.saml,
            endpoint_override: body.endpoint_override,
            client_id: body.client_id,
            client_secret_set: self.client_secret_sealed.is_some(),
            scopes: body.scopes.unwrap_or_default(),
            email_domains: body.email_domains,
            require_mfa: body.require_mfa,
            acr_values: body.acr_values,
            allowed_groups: body.allowed_groups,
            group_mappings: body.group_mappings,
            sp_entity_id: saml.then(|| saml_entity_id(public_url, &self.id)),
            acs_url: saml.then(|| format!("{public_url}{SAML_ACS_PATH}")),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

/// Our SAML entity id for connection `id`: the URL of its SP metadata.
pub fn saml_entity_id(public_url: &str, id: &str) -> String {
    format!("{public_url}/v1/sso-connections/{id}/saml/metadata")
}

/// The block of the connection's kind, as stored in `settings`.
fn settings_json(body: &CreateSsoConnection) -> ApiResult<String> {
    let value = match body.kind.as_str() {
        "okta" => serde_json::to_value(&body.okta),
        "azure_ad" => serde_json::to_value(&body.azure_ad),
        "onelogin" => serde_json::to_value(&body.onelogin),
        "oidc" => serde_json::to_value(&body.oidc),
        _ => serde_json::to_value(&body.saml),
    }
    .map_err(|e| ApiError::internal(anyhow::anyhow!("settings of a connection: {e}")))?;
    Ok(value.to_string())
}

/// What the audit trail records of a connection: every field but the secret.
fn audited(body: &CreateSsoConnection) -> Value {
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("client_secret");
    }
    value
}

/// The context a connection's client secret is sealed for: a sealed value copied to another
/// connection does not open there.
pub fn secret_context(id: &str) -> String {
    format!("sso_connection:{id}:client_secret")
}

/// Seals a client secret for connection `id`, or refuses when no master key is configured.
fn seal(state: &AppState, id: &str, secret: &str) -> ApiResult<(String, String)> {
    let Some(keys) = &state.master_keys else {
        return Err(ApiError::conflict(
            "master_key_required",
            "this server has no master key, so it cannot store a client secret it must read back; \
             set STATUSPULSE_MASTER_KEY or STATUSPULSE_MASTER_KEY_FILE and restart",
        )
        .with_field("client_secret"));
    };
    let sealed = keys
        .seal(secret.as_bytes(), &secret_context(id))
        .map_err(|e| ApiError::internal(anyhow::anyhow!("sealing a client secret: {e}")))?;
    Ok((sealed, keys.current_id().to_owned()))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ConnectionRow> {
    find_in(state, caller.workspace_id(), id).await
}

async fn find_in(state: &AppState, workspace_id: &str, id: &str) -> ApiResult<ConnectionRow> {
    db::find_in_workspace(
        &state.db,
        "sso_connections",
        COLUMNS,
        ids::SSO_CONNECTION,
        workspace_id,
        id,
    )
    .await
}

/// Claims the connection's email domains in the workspace, refusing one another connection has
/// (the primary key makes the claim safe against a concurrent one too).
async fn claim_domains(
    tx: &mut WriteTx<'_>,
    workspace_id: &str,
    connection_id: &str,
    domains: &[String],
) -> ApiResult<()> {
    sqlx::query("DELETE FROM sso_email_domains WHERE connection_id = $1")
        .bind(connection_id)
        .execute(&mut *tx.tx)
        .await?;
    for domain in domains {
        let owner: Option<(String, String)> = sqlx::query_as(
            "SELECT d.connection_id, c.name FROM sso_email_domains d \
             JOIN sso_connections c ON c.id = d.connection_id \
             WHERE d.workspace_id = $1 AND d.domain = $2",
        )
        .bind(workspace_id)
        .bind(domain)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if let Some((owner_id, owner_name)) = owner {
            return Err(ApiError::conflict(
                "email_domain_taken",
                format!(
                    "the email domain `{domain}` already belongs to the SSO connection \
                     `{owner_name}` ({owner_id}); sign-in by email picks one connection per domain"
                ),
            )
            .with_field("email_domains"));
        }
        sqlx::query(
            "INSERT INTO sso_email_domains (workspace_id, domain, connection_id) VALUES ($1, $2, $3)",
        )
        .bind(workspace_id)
        .bind(domain)
        .bind(connection_id)
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

/// Mapping IdP groups to a StatusPulse group makes their members members of it: they get what the
/// group's role bindings grant. So each group newly mapped is a grant of those bindings, checked
/// by the one grant rule against what the caller itself holds (403, `field: group_mappings`).
async fn check_mappings(
    state: &AppState,
    caller: &Caller,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> ApiResult<()> {
    let newly: std::collections::BTreeSet<&String> = after
        .values()
        .filter(|group| !before.values().any(|b| b == *group))
        .collect();
    if newly.is_empty() {
        return Ok(());
    }
    let pool = state.db.pool();
    let workspace = access::load_context(pool, caller.workspace_id(), None).await?;
    let holder = authz::caller_authority(state, &caller.principal).await?;
    for group in newly {
        let principal = Grantee::Group(group.clone());
        for binding in access::group_bindings(pool, caller.workspace_id(), group).await? {
            let grant = Grant::Binding {
                principal: &principal,
                binding: &binding,
                clusters: &workspace.clusters,
            };
            authz::grant::check(&holder, &grant).map_err(|denial| {
                ApiError::forbidden(
                    denial.code,
                    format!(
                        "mapping IdP users to the group `{group}` hands them what its role \
                         bindings grant, more than this credential holds: {}",
                        denial.detail
                    ),
                )
                .with_field("group_mappings")
            })?;
        }
    }
    Ok(())
}

/// Create an SSO connection. The client secret is sealed with the master key and never returned.
#[utoipa::path(post, path = "/v1/sso-connections", tag = "sso", request_body = CreateSsoConnection,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = SsoConnection), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn create_sso_connection(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateSsoConnection>,
) -> ApiResult<(StatusCode, axum::Json<SsoConnection>)> {
    caller.require(Scope::AdminSso)?;
    let connection = statuspulse_api::validate::sso_connection(&body)?;
    check_mappings(
        &state,
        &caller,
        &BTreeMap::new(),
        &connection.group_mappings,
    )
    .await?;
    let id = ids::new_id(ids::SSO_CONNECTION);
    let sealed = connection
        .client_secret
        .as_deref()
        .map(|secret| seal(&state, &id, secret))
        .transpose()?;
    let settings = settings_json(&connection)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO sso_connections (id, workspace_id, name, kind, settings, endpoint_override, \
         client_id, client_secret_sealed, scopes, email_domains, require_mfa, acr_values, \
         allowed_groups, group_mappings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&connection.name)
    .bind(&connection.kind)
    .bind(&settings)
    .bind(&connection.endpoint_override)
    .bind(&connection.client_id)
    .bind(sealed.as_ref().map(|(s, _)| s.as_str()))
    .bind(list_for_storage(
        connection.scopes.as_deref().unwrap_or_default(),
    ))
    .bind(list_for_storage(&connection.email_domains))
    .bind(i64::from(connection.require_mfa))
    .bind(list_for_storage(&connection.acr_values))
    .bind(list_for_storage(&connection.allowed_groups))
    .bind(mappings_for_storage(&connection.group_mappings))
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    claim_domains(
        &mut tx,
        caller.workspace_id(),
        &id,
        &connection.email_domains,
    )
    .await?;
    if let Some((_, key_id)) = &sealed {
        secrets::record_use(&mut tx.tx, key_id, now).await?;
    }
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SsoConnectionCreated,
        caller.actor(),
    )
    .target("sso_connection", &id)
    .details(json!({
        "before": null,
        "after": audited(&connection),
        "client_secret_changed": sealed.is_some(),
    }));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let row: ConnectionRow = db::find_in_tx(
        &mut tx,
        "sso_connections",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?;
    let answer = row.view(&state.public_url())?;
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

fn mappings_for_storage(mappings: &BTreeMap<String, String>) -> String {
    Value::from(
        mappings
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    )
    .to_string()
}

/// Read an SSO connection (never its client secret).
#[utoipa::path(get, path = "/v1/sso-connections/{id}", tag = "sso", params(("id" = String, Path)),
    responses((status = 200, body = SsoConnection), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn get_sso_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SsoConnection>> {
    caller.require(Scope::AdminSso)?;
    let row = find(&state, &caller, &id).await?;
    Ok(axum::Json(row.view(&state.public_url())?))
}

/// List SSO connections, oldest first.
#[utoipa::path(get, path = "/v1/sso-connections", tag = "sso", params(PageParams),
    responses((status = 200, body = Page<SsoConnection>)), security(("bearer" = ["admin:sso"])))]
pub async fn list_sso_connections(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<SsoConnection>>> {
    caller.require(Scope::AdminSso)?;
    let limit = page.limit()?;
    let rows: Vec<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sso_connections WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let base = state.public_url();
    let views = rows
        .iter()
        .map(|r| r.view(&base).map(|v| (r.id.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(
        views,
        limit,
        |(id, _)| id.clone(),
        |(_, v)| v,
    )))
}

/// Change an SSO connection. Absent fields stay; an absent `client_secret` keeps the stored one,
/// a given one replaces it. The kind cannot change.
#[utoipa::path(patch, path = "/v1/sso-connections/{id}", tag = "sso", params(("id" = String, Path)),
    request_body = UpdateSsoConnection,
    responses((status = 200, body = SsoConnection), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn update_sso_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateSsoConnection>,
) -> ApiResult<axum::Json<SsoConnection>> {
    caller.require(Scope::AdminSso)?;
    let before_row = find(&state, &caller, &id).await?;
    let before = before_row.as_body()?;
    if let Some(kind) = &body.kind {
        if *kind != before.kind {
            return Err(ApiError::invalid(
                "kind",
                "kind_immutable",
                "the kind of a connection cannot change; create a new connection",
            ));
        }
    }
    let after = statuspulse_api::validate::sso_connection(&body.apply_to(before.clone()))?;
    check_mappings(
        &state,
        &caller,
        &before.group_mappings,
        &after.group_mappings,
    )
    .await?;
    let sealed = after
        .client_secret
        .as_deref()
        .map(|secret| seal(&state, &id, secret))
        .transpose()?;
    let unchanged = {
        let mut same = after.clone();
        same.client_secret = None;
        audited(&same) == audited(&before)
    };
    if unchanged && sealed.is_none() {
        return Ok(axum::Json(before_row.view(&state.public_url())?));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE sso_connections SET name = $1, settings = $2, endpoint_override = $3, \
         client_id = $4, client_secret_sealed = COALESCE($5, client_secret_sealed), scopes = $6, \
         email_domains = $7, require_mfa = $8, acr_values = $9, allowed_groups = $10, \
         group_mappings = $11, updated_at = $12 WHERE id = $13",
    )
    .bind(&after.name)
    .bind(settings_json(&after)?)
    .bind(&after.endpoint_override)
    .bind(&after.client_id)
    .bind(sealed.as_ref().map(|(s, _)| s.as_str()))
    .bind(list_for_storage(
        after.scopes.as_deref().unwrap_or_default(),
    ))
    .bind(list_for_storage(&after.email_domains))
    .bind(i64::from(after.require_mfa))
    .bind(list_for_storage(&after.acr_values))
    .bind(list_for_storage(&after.allowed_groups))
    .bind(mappings_for_storage(&after.group_mappings))
    .bind(now)
    .bind(&id)
    .execute(&mut *tx.tx)
    .await?;
    if after.email_domains != before.email_domains {
        claim_domains(&mut tx, caller.workspace_id(), &id, &after.email_domains).await?;
    }
    if let Some((_, key_id)) = &sealed {
        secrets::record_use(&mut tx.tx, key_id, now).await?;
    }
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SsoConnectionUpdated,
        caller.actor(),
    )
    .target("sso_connection", &id)
    .details(json!({
        "before": audited(&before),
        "after": audited(&after),
        "client_secret_changed": sealed.is_some(),
    }));
    audit::commit_with(tx, &state.clock, &event).await?;
    let row = find(&state, &caller, &id).await?;
    Ok(axum::Json(row.view(&state.public_url())?))
}

/// Delete an SSO connection; its email domains become free, its sealed secret goes with it.
#[utoipa::path(delete, path = "/v1/sso-connections/{id}", tag = "sso", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn delete_sso_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminSso)?;
    let row = find(&state, &caller, &id).await?;
    let before = row.as_body()?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("DELETE FROM sso_email_domains WHERE connection_id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    sqlx::query("DELETE FROM sso_connections WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::SsoConnectionDeleted,
        caller.actor(),
    )
    .target("sso_connection", &id)
    .details(json!({"before": audited(&before), "after": null}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A connection as sign-in needs it, with its client secret opened. For `authn/oidc` and
/// `authn/saml`; the secret is wiped from memory when dropped.
pub struct SignInConnection {
    pub connection: SsoConnection,
    pub client_secret: Option<zeroize::Zeroizing<Vec<u8>>>,
}

/// Loads a connection of the workspace for sign-in and opens its secret with the master key.
pub async fn load_for_sign_in(
    state: &AppState,
    workspace_id: &str,
    id: &str,
) -> ApiResult<SignInConnection> {
    let row = find_in(state, workspace_id, id).await?;
    let client_secret = match &row.client_secret_sealed {
        None => None,
        Some(sealed) => {
            let keys = state.master_keys.as_ref().ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "a sealed client secret and no master key (the start-up check should have refused)"
                ))
            })?;
            Some(
                keys.open(sealed, &secret_context(&row.id)).map_err(|e| {
                    ApiError::internal(anyhow::anyhow!("client secret of {id}: {e}"))
                })?,
            )
        }
    };
    Ok(SignInConnection {
        connection: row.view(&state.public_url())?,
        client_secret,
    })
}

/// A connection of the workspace as the API shows it (no secret), for sign-in's reports.
pub async fn view_in_workspace(
    state: &AppState,
    workspace_id: &str,
    id: &str,
) -> ApiResult<SsoConnection> {
    Ok(find_in(state, workspace_id, id)
        .await?
        .view(&state.public_url())?)
}

/// The workspace of connection `id`, for sign-in links (`?connection=`), which name no
/// workspace: connection ids are unique across workspaces.
pub async fn workspace_of(state: &AppState, id: &str) -> Result<Option<String>, sqlx::Error> {
    if !statuspulse_api::ids::is_minted(id, ids::SSO_CONNECTION) {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT workspace_id FROM sso_connections WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await
}

/// Every connection, of any workspace, that signs in people of `domain`: `(workspace, id)`.
pub async fn by_email_domain(
    state: &AppState,
    domain: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT workspace_id, connection_id FROM sso_email_domains WHERE domain = $1 \
         ORDER BY workspace_id LIMIT 2",
    )
    .bind(domain)
    .fetch_all(state.db.pool())
    .await
}

/// The ids of a workspace's connections (at most two: enough to know whether one is the only).
pub async fn ids_of_workspace(
    state: &AppState,
    workspace_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM sso_connections WHERE workspace_id = $1 ORDER BY id LIMIT 2")
        .bind(workspace_id)
        .fetch_all(state.db.pool())
        .await
}
