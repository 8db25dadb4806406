//! `GET /v1/effective-access`: what a key, a service account, a person or a group can actually
//! reach once role bindings, clusters and the key's own restrictions are applied, and for people
//! and groups which OAuth scopes the authorization server would issue under conditional access
//! (`authz::conditional`), in circumstances the query describes (client, MFA, address, region).
//! Conditions the query does not speak to count as unmet, so the answer without them is the
//! floor: what is issued whatever the circumstances.

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::net::IpAddr;

use crate::app::AppState;
use crate::authn::session;
use crate::authz::access::{load_context, AccessContext};
use crate::authz::conditional::Circumstances;
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use crate::http::Caller;
use crate::management::access_policies;
use crate::management::api_keys::KeyStatus;
use crate::oauth;
use crate::platform::db::stored_list;
use crate::platform::ids;
use statuspulse_api::scopes::OAUTH_SCOPES;
pub use statuspulse_api::v1::{ClusterAccess, EffectiveAccess};
use statuspulse_api::validate::FieldError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_effective_access))
}

/// Exactly one principal: `api_key_id`, `service_account_id`, `user_id` or `group`. For a
/// person or a group, the circumstances conditional access is evaluated in may follow.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EffectiveAccessQuery {
    /// An API key's object id (`key_…`).
    pub api_key_id: Option<String>,
    pub service_account_id: Option<String>,
    /// A person signed in through SSO (`usr_…`).
    pub user_id: Option<String>,
    /// A StatusPulse group (a role binding `group`).
    pub group: Option<String>,
    /// The OAuth client the tokens would go to (`oc_…`); without it, a client allowed every
    /// scope, and policies that name clients count as unmet.
    pub client_id: Option<String>,
    /// Whether the sign-in proved MFA (default false).
    pub mfa: Option<bool>,
    /// The sign-in's authentication methods, comma-separated (`pwd,hwk`).
    pub amr: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's region.
    pub region: Option<String>,
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
    let principal = (
        query.api_key_id.as_deref(),
        query.service_account_id.as_deref(),
        query.user_id.as_deref(),
        query.group.as_deref(),
    );
    let circumstantial = query.client_id.is_some()
        || query.mfa.is_some()
        || query.amr.is_some()
        || query.ip.is_some()
        || query.region.is_some();
    match principal {
        (Some(_), None, None, None) | (None, Some(_), None, None) if circumstantial => {
            Err(ApiError::bad_request(
                "circumstances_for_people_only",
                "client_id, mfa, amr, ip and region describe a sign-in: ask about a user_id or a group",
            ))
        }
        (Some(key), None, None, None) => for_key(&state, &caller, key).await.map(axum::Json),
        (None, Some(sa), None, None) => for_service_account(&state, &caller, sa)
            .await
            .map(axum::Json),
        (None, None, Some(user), None) => {
            ids::expect_prefix(user, ids::USER)?;
            let groups = user_groups(&state, &caller, user).await?;
            for_person(&state, &caller, ("user", user), groups, &query)
                .await
                .map(axum::Json)
        }
        (None, None, None, Some(group)) => {
            let group = crate::management::validate::name("group", group)?;
            for_person(&state, &caller, ("group", &group), vec![group.clone()], &query)
                .await
                .map(axum::Json)
        }
        _ => Err(ApiError::bad_request(
            "principal_required",
            "give exactly one of api_key_id, service_account_id, user_id and group",
        )
        .with_field("api_key_id")),
    }
}

/// A person's StatusPulse groups as they are now: their IdP groups through their connection's
/// current mappings (as their sessions see them).
async fn user_groups(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Vec<String>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT u.idp_groups, c.group_mappings FROM users u \
         LEFT JOIN sso_connections c ON c.id = u.connection_id AND c.workspace_id = u.workspace_id \
         WHERE u.workspace_id = $1 AND u.id = $2",
    )
    .bind(caller.workspace_id())
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    let (idp_groups, mappings) = row.ok_or_else(ApiError::not_found)?;
    Ok(session::current_groups(&idp_groups, mappings.as_deref())?)
}

/// A person's (or a group's) reach through their groups' bindings, and the OAuth scopes issued
/// in the circumstances the query describes.
async fn for_person(
    state: &AppState,
    caller: &Caller,
    (principal_type, principal_id): (&str, &str),
    groups: Vec<String>,
    query: &EffectiveAccessQuery,
) -> ApiResult<EffectiveAccess> {
    let client_allowed = match &query.client_id {
        Some(id) => {
            let client = oauth::clients::by_client_id(state, id)
                .await?
                .filter(|c| c.workspace_id == caller.workspace_id())
                .ok_or_else(|| {
                    ApiError::from(FieldError::new(
                        "client_id",
                        "unknown_client",
                        "not an OAuth client of this workspace",
                    ))
                })?;
            stored_list("allowed_scopes", &client.allowed_scopes)?
        }
        None => OAUTH_SCOPES.iter().map(|(n, _)| (*n).to_owned()).collect(),
    };
    let ip: Option<IpAddr> = match &query.ip {
        Some(ip) => Some(ip.parse().map_err(|_| {
            ApiError::from(FieldError::new(
                "ip",
                "invalid_ip",
                "not an IPv4 or IPv6 address",
            ))
        })?),
        None => None,
    };
    let region = match &query.region {
        Some(r) => Some(statuspulse_api::validate::region("region", r)?),
        None => None,
    };
    let amr: Vec<String> = query
        .amr
        .as_deref()
        .map(|a| {
            a.split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();

    let context = session::load_access(state.db.pool(), caller.workspace_id(), &groups).await?;
    let held = session::held_somewhere(&context);
    let mut reachable = vec![];
    for env in [Environment::Live, Environment::Test] {
        reachable.extend(context.reachable_clusters(&held, env, &[]));
    }
    reachable.sort_by(|a, b| a.0.cmp(&b.0));
    reachable.dedup_by(|a, b| a.0 == b.0);

    let all: Vec<String> = OAUTH_SCOPES.iter().map(|(n, _)| (*n).to_owned()).collect();
    let negotiated = oauth::negotiate(&all, &client_allowed, &held);
    let policies = access_policies::enabled(state.db.pool(), caller.workspace_id()).await?;
    let (oauth_scopes, withheld) = policies.evaluate(
        &negotiated,
        &Circumstances {
            groups: &groups,
            client_id: query.client_id.as_deref(),
            mfa: query.mfa.unwrap_or(false),
            amr: &amr,
            ip,
            region: region.as_deref(),
        },
    );
    Ok(EffectiveAccess {
        principal_type: principal_type.to_owned(),
        principal_id: principal_id.to_owned(),
        api_key_id: None,
        key_id: None,
        environment: None,
        status: None,
        requested_scopes: names(&held),
        scopes: names(&held),
        withheld_scopes: vec![],
        environment_clusters: clusters(&context, reachable),
        groups,
        oauth_scopes,
        withheld_oauth_scopes: withheld,
    })
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
        groups: vec![],
        oauth_scopes: vec![],
        withheld_oauth_scopes: vec![],
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
    let granted = context.granted_anywhere();
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
        groups: vec![],
        oauth_scopes: vec![],
        withheld_oauth_scopes: vec![],
    })
}
