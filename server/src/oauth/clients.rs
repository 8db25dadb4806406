//! `/v1/oauth-clients` (scope `admin:sso`): the applications whose users sign in through
//! StatusPulse. A public client (CLIs, single-page apps) proves itself with PKCE only; a
//! confidential one also with a secret, shown once at creation and stored as an Argon2id hash
//! like an API key. Redirect URIs are compared byte for byte at authorization.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, EventType, NewEvent};
use crate::authz::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::{page_of, Page, PageParams};
use crate::http::{Caller, Idempotency, Json};
use crate::platform::clock::rfc3339;
use crate::platform::db::{list_for_storage, stored_list};
use crate::platform::ids;
pub use statuspulse_api::v1::{
    CreateOAuthClient, CreatedOAuthClient, OAuthClient, SigningAlg, UpdateOAuthClient,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_oauth_clients, create_oauth_client))
        .routes(routes!(
            get_oauth_client,
            update_oauth_client,
            delete_oauth_client
        ))
}

/// The prefix of a client secret.
pub const SECRET_PREFIX: &str = "spc_";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub client_type: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub allowed_scopes: String,
    /// `ES256` or `RS256`, as the API validated it (see [`ClientRow::signing_alg`]).
    pub signing_alg: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, workspace_id, name, client_type, secret_hash, redirect_uris, \
    allowed_scopes, signing_alg, created_at, updated_at";

impl ClientRow {
    pub fn view(&self) -> Result<OAuthClient, sqlx::Error> {
        Ok(OAuthClient {
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: self.name.clone(),
            public: !self.is_confidential(),
            redirect_uris: stored_list("redirect_uris", &self.redirect_uris)?,
            allowed_scopes: stored_list("allowed_scopes", &self.allowed_scopes)?,
            signing_alg: self.signing_alg()?.as_str().to_owned(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }

    pub fn is_confidential(&self) -> bool {
        self.client_type == "confidential"
    }

    /// The algorithm of the client's tokens. Only the API writes the column, so another value
    /// is corruption, refused rather than read as the default.
    pub fn signing_alg(&self) -> Result<SigningAlg, sqlx::Error> {
        self.signing_alg.parse().map_err(|()| {
            sqlx::Error::Decode(
                format!("stored signing_alg `{}` is corrupt", self.signing_alg).into(),
            )
        })
    }
}

/// A client by its `client_id`, in any workspace (the OAuth endpoints name no workspace).
pub async fn by_client_id(
    state: &AppState,
    client_id: &str,
) -> Result<Option<ClientRow>, sqlx::Error> {
    if !statuspulse_api::ids::is_minted(client_id, ids::OAUTH_CLIENT) {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oauth_clients WHERE id = $1"
    ))
    .bind(client_id)
    .fetch_optional(state.db.pool())
    .await
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ClientRow> {
    crate::platform::db::find_in_workspace(
        &state.db,
        "oauth_clients",
        COLUMNS,
        ids::OAUTH_CLIENT,
        caller.workspace_id(),
        id,
    )
    .await
}

fn new_secret() -> zeroize::Zeroizing<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    zeroize::Zeroizing::new(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Register an OAuth client. A confidential client's secret is in this answer only.
#[utoipa::path(post, path = "/v1/oauth-clients", tag = "oauth", request_body = CreateOAuthClient,
    params(("Idempotency-Key" = Option<String>, Header, description = crate::http::idempotency::HEADER_DOC)),
    responses((status = 201, body = CreatedOAuthClient), (status = 409, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn create_oauth_client(
    State(state): State<AppState>,
    caller: Caller,
    idempotency: Idempotency,
    Json(body): Json<CreateOAuthClient>,
) -> ApiResult<(StatusCode, axum::Json<CreatedOAuthClient>)> {
    caller.require(Scope::AdminSso)?;
    let body = statuspulse_api::validate::oauth_client(&body)?;
    let signing_alg = statuspulse_api::validate::signing_alg(body.signing_alg.as_deref())?;
    let id = ids::new_id(ids::OAUTH_CLIENT);
    let secret = (!body.public).then(new_secret);
    let secret_hash = match &secret {
        Some(secret) => Some(
            state
                .authenticator
                .hash_secret(secret.clone())
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO oauth_clients (id, workspace_id, name, client_type, secret_hash, \
         redirect_uris, allowed_scopes, signing_alg, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(caller.workspace_id())
    .bind(&body.name)
    // Stored as a type, so another kind of client can be added without a migration.
    .bind(if body.public {
        "public"
    } else {
        "confidential"
    })
    .bind(&secret_hash)
    .bind(list_for_storage(&body.redirect_uris))
    .bind(list_for_storage(&body.allowed_scopes))
    .bind(signing_alg.as_str())
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::OAuthClientCreated,
        caller.actor(),
    )
    .target("oauth_client", &id)
    .details(json!({"after": body}));
    audit::append(&mut tx.tx, &state.clock, &event).await?;
    let row: ClientRow = crate::platform::db::find_in_tx(
        &mut tx,
        "oauth_clients",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?;
    let answer = CreatedOAuthClient {
        client: row.view()?,
        client_secret: secret.as_ref().map(|s| s.to_string()),
    };
    idempotency
        .record(&mut tx.tx, StatusCode::CREATED, &answer)
        .await?;
    tx.commit().await?;
    keys_for(&state, signing_alg).await;
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// Read an OAuth client.
#[utoipa::path(get, path = "/v1/oauth-clients/{id}", tag = "oauth", params(("id" = String, Path)),
    responses((status = 200, body = OAuthClient), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn get_oauth_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OAuthClient>> {
    caller.require(Scope::AdminSso)?;
    Ok(axum::Json(find(&state, &caller, &id).await?.view()?))
}

/// List OAuth clients, oldest first.
#[utoipa::path(get, path = "/v1/oauth-clients", tag = "oauth", params(PageParams),
    responses((status = 200, body = Page<OAuthClient>)), security(("bearer" = ["admin:sso"])))]
pub async fn list_oauth_clients(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<axum::Json<Page<OAuthClient>>> {
    caller.require(Scope::AdminSso)?;
    let limit = page.limit()?;
    let rows: Vec<ClientRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oauth_clients WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(caller.workspace_id())
    .bind(page.after()?)
    .bind(limit + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows
        .iter()
        .map(ClientRow::view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(page_of(views, limit, |c| c.id.clone(), |c| c)))
}

/// Change an OAuth client's name, redirect URIs, allowed scopes or signing algorithm.
#[utoipa::path(patch, path = "/v1/oauth-clients/{id}", tag = "oauth", params(("id" = String, Path)),
    request_body = UpdateOAuthClient,
    responses((status = 200, body = OAuthClient), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn update_oauth_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateOAuthClient>,
) -> ApiResult<axum::Json<OAuthClient>> {
    caller.require(Scope::AdminSso)?;
    let before = find(&state, &caller, &id).await?;
    let before_view = before.view()?;
    let merged = statuspulse_api::validate::oauth_client(&CreateOAuthClient {
        name: body.name.clone().unwrap_or_else(|| before.name.clone()),
        public: !before.is_confidential(),
        redirect_uris: body
            .redirect_uris
            .clone()
            .unwrap_or_else(|| before_view.redirect_uris.clone()),
        allowed_scopes: body
            .allowed_scopes
            .clone()
            .unwrap_or_else(|| before_view.allowed_scopes.clone()),
        signing_alg: Some(
            body.signing_alg
                .clone()
                .unwrap_or_else(|| before_view.signing_alg.clone()),
        ),
    })?;
    let signing_alg = statuspulse_api::validate::signing_alg(merged.signing_alg.as_deref())?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "UPDATE oauth_clients SET name = $1, redirect_uris = $2, allowed_scopes = $3, \
         signing_alg = $4, updated_at = $5 WHERE id = $6 AND workspace_id = $7",
    )
    .bind(&merged.name)
    .bind(list_for_storage(&merged.redirect_uris))
    .bind(list_for_storage(&merged.allowed_scopes))
    .bind(signing_alg.as_str())
    .bind(now)
    .bind(&id)
    .bind(caller.workspace_id())
    .execute(&mut *tx.tx)
    .await?;
    let row: ClientRow = crate::platform::db::find_in_tx(
        &mut tx,
        "oauth_clients",
        COLUMNS,
        caller.workspace_id(),
        &id,
    )
    .await?;
    let after = row.view()?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::OAuthClientUpdated,
        caller.actor(),
    )
    .target("oauth_client", &id)
    .details(json!({"before": before_view, "after": after}));
    audit::commit_with(tx, &state.clock, &event).await?;
    keys_for(&state, signing_alg).await;
    Ok(axum::Json(after))
}

/// Makes the keys of a client's algorithm now, so they are published before its first token
/// (`oauth::keys`: RS256 keys exist only while a client uses them). The client is saved
/// whatever happens: without keys, its first token makes them or fails then.
async fn keys_for(state: &AppState, alg: SigningAlg) {
    if alg == SigningAlg::Es256 {
        return;
    }
    match crate::oauth::keys::ensure(state, alg).await {
        Ok(_) | Err(crate::authn::signing::SigningError::NoMasterKey) => {}
        Err(e) => tracing::error!(error = %e, alg = alg.as_str(), "could not make signing keys"),
    }
}

/// Delete an OAuth client: its refresh tokens and codes go with it, and its access tokens can no
/// longer be refreshed.
#[utoipa::path(delete, path = "/v1/oauth-clients/{id}", tag = "oauth", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:sso"])))]
pub async fn delete_oauth_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::AdminSso)?;
    let before = find(&state, &caller, &id).await?.view()?;
    let mut tx = state.db.begin_write().await?;
    for table in ["refresh_tokens", "oauth_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
            .bind(&id)
            .execute(&mut *tx.tx)
            .await?;
    }
    sqlx::query("DELETE FROM oauth_clients WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(caller.workspace_id())
        .execute(&mut *tx.tx)
        .await?;
    let event = NewEvent::success(
        caller.workspace_id(),
        EventType::OAuthClientDeleted,
        caller.actor(),
    )
    .target("oauth_client", &id)
    .details(json!({"before": before, "after": null}));
    audit::commit_with(tx, &state.clock, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}
