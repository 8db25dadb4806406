//! `GET /v1/effective-access`: what a key or a service account can actually reach once role
//! bindings, clusters and the key's own restrictions are applied.

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::authz::access::{load_context, AccessContext};
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use crate::http::Caller;
use crate::management::api_keys::KeyStatus;
use crate::platform::ids;
pub use statuspulse_api::v1::{ClusterAccess, EffectiveAccess};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_effective_access))
}

/// Exactly one of the two.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EffectiveAccessQuery {
    /// An API key's object id (`key_…`).
    pub api_key_id: Option<String>,
    pub service_account_id: Option<String>,
}

/// Show what a key or a service account can actually reach.
#[utoipa::path(get, path = "/v1/effective-access", tag = "access", params(EffectiveAccessQuery),
    responses((status = 200, body = EffectiveAccess), (status = 404, body = crate::error::Problem)),
    security(("bearer" = ["admin:access"])))]
pub async fn get_effective_access(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<EffectiveAccessQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<EffectiveAccess>> {
    caller.require(Scope::AdminAccess)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    match (query.api_key_id, query.service_account_id) {
        (Some(key), None) => for_key(&state, &caller, &key).await.map(axum::Json),
        (None, Some(sa)) => for_service_account(&state, &caller, &sa)
            .await
            .map(axum::Json),
        _ => Err(ApiError::bad_request(
            "principal_required",
            "give exactly one of api_key_id and service_account_id",
        )
        .with_field("api_key_id")),
    }
}

fn names(scopes: &Scopes) -> Vec<String> {
    scopes.names()
}

fn clusters(context: &AccessContext, reachable: Vec<(String, Scopes)>) -> Vec<ClusterAccess> {
    reachable
        .into_iter()
        .map(|(name, scopes)| ClusterAccess {
            environment: context.clusters[&name],
            scopes: names(&scopes),
            name,
        })
        .collect()
}

async fn for_key(state: &AppState, caller: &Caller, id: &str) -> ApiResult<EffectiveAccess> {
    ids::expect_prefix(id, ids::API_KEY)?;
    let key = crate::management::api_keys::fetch_view(state, caller.workspace_id(), id)
        .await
        .map_err(|_| ApiError::not_found())?;
    let environment: Environment = key
        .environment
        .parse()
        .map_err(|()| ApiError::internal(anyhow::anyhow!("bad stored environment")))?;
    let requested = Scopes::parse(key.scopes.iter().map(String::as_str)).unwrap_or_default();
    let context = load_context(
        state.db.pool(),
        caller.workspace_id(),
        key.service_account_id.as_deref(),
    )
    .await?;
    let usable = matches!(key.status, KeyStatus::Active | KeyStatus::Rotating);
    let effective = if usable {
        context.effective(&requested, environment, None)
    } else {
        Scopes::default()
    };
    let reachable = if usable {
        context.reachable_clusters(&requested, environment, &key.environment_clusters)
    } else {
        vec![]
    };
    Ok(EffectiveAccess {
        principal_type: if key.service_account_id.is_some() {
            "service_account".to_owned()
        } else {
            "api_key".to_owned()
        },
        principal_id: key
            .service_account_id
            .clone()
            .unwrap_or_else(|| key.id.clone()),
        api_key_id: Some(key.id.clone()),
        key_id: Some(key.key_id.clone()),
        environment: Some(environment),
        status: Some(key.status),
        requested_scopes: names(&requested),
        withheld_scopes: requested
            .iter()
            .filter(|s| !effective.grants(*s))
            .map(|s| s.to_string())
            .collect(),
        scopes: names(&effective),
        environment_clusters: clusters(&context, reachable),
    })
}

async fn for_service_account(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<EffectiveAccess> {
    ids::expect_prefix(id, ids::SERVICE_ACCOUNT)?;
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT id FROM service_accounts WHERE workspace_id = $1 AND id = $2")
            .bind(caller.workspace_id())
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
    if exists.is_none() {
        return Err(ApiError::not_found());
    }
    let context = load_context(state.db.pool(), caller.workspace_id(), Some(id)).await?;
    // A service account's reach is the union of its bindings in both environments.
    let granted: Scopes = [Environment::Live, Environment::Test]
        .into_iter()
        .filter_map(|env| context.granted(env, None))
        .flat_map(|s| s.iter().collect::<Vec<_>>())
        .collect();
    let mut reachable = vec![];
    for env in [Environment::Live, Environment::Test] {
        reachable.extend(context.reachable_clusters(&granted, env, &[]));
    }
    reachable.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(EffectiveAccess {
        principal_type: "service_account".to_owned(),
        principal_id: id.to_owned(),
        api_key_id: None,
        key_id: None,
        environment: None,
        status: None,
        requested_scopes: names(&granted),
        scopes: names(&granted),
        withheld_scopes: vec![],
        environment_clusters: clusters(&context, reachable),
    })
}
