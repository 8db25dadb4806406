//! Authorization at grant time: what a caller may hand out.
//!
//! [`grant`] holds the one rule every route that creates or widens a credential calls; this
//! module loads the facts it needs and turns a refusal into the API's answer.

pub mod access;
pub mod conditional;
pub mod grant;
pub mod scopes;

pub use grant::{Authority, Denial, Grant, Grantee, KeyAuthority};

use crate::app::AppState;
use crate::authn::Principal;
use crate::authz::scopes::{Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use access::AccessContext;

/// The caller's authority, with its service account's role bindings read afresh (the verified
/// key's cached copy may be up to 30 s old, and a grant must not outlive a narrowing).
pub async fn caller_authority(state: &AppState, principal: &Principal) -> ApiResult<Authority> {
    let held = principal.holdings();
    let access = match principal {
        Principal::ApiKey(_) | Principal::KeySession(_) => {
            access::load_context(
                state.db.pool(),
                principal.workspace_id(),
                held.service_account_id,
            )
            .await?
        }
        // A workload's token stands for its service account: that account's bindings, as now.
        Principal::AccessToken(token) if token.service_account_id.is_some() => {
            access::load_context(
                state.db.pool(),
                principal.workspace_id(),
                held.service_account_id,
            )
            .await?
        }
        // A person's token grants nothing: it stands for bindings it does not carry.
        Principal::AccessToken(_) => {
            let mut context =
                access::load_context(state.db.pool(), principal.workspace_id(), None).await?;
            context.bindings = Some(Vec::new());
            context
        }
        // The user's groups as of this session, their bindings as of now.
        Principal::Session(session) => {
            crate::authn::session::load_access(
                state.db.pool(),
                &session.workspace_id,
                &session.groups,
            )
            .await?
        }
    };
    Ok(KeyAuthority {
        principal: principal.grantee(),
        environment: held.environment,
        scopes: held.scopes.clone(),
        environment_clusters: held.environment_clusters.to_vec(),
        check_group_ids: held.check_group_ids.to_vec(),
        alert_route_ids: held.alert_route_ids.to_vec(),
        access,
    })
}

/// Refuses with 403 (naming the field that exceeds) unless `caller` may hand out `grant`.
pub fn require_grant(caller: &Authority, grant: &Grant<'_>) -> ApiResult<()> {
    grant::check(caller, grant)
        .map_err(|denial| ApiError::forbidden(denial.code, denial.detail).with_field(denial.field))
}

/// The workspace policy on `admin:all`: never granted to a service account (by key or binding)
/// unless the workspace explicitly allows it. A policy, not a matter of what the caller holds.
pub async fn check_admin_all_policy(
    state: &AppState,
    workspace_id: &str,
    scopes: &Scopes,
    principal: &Grantee,
) -> ApiResult<()> {
    if !matches!(principal, Grantee::ServiceAccount(_)) || !scopes.contains(Scope::AdminAll) {
        return Ok(());
    }
    let allowed: i64 = sqlx::query_scalar(
        "SELECT allow_admin_all_for_service_accounts FROM workspaces WHERE id = $1",
    )
    .bind(workspace_id)
    .fetch_one(state.db.pool())
    .await?;
    if allowed == 0 {
        return Err(ApiError::invalid(
            "scopes",
            "admin_all_forbidden",
            "admin:all is never granted to a service account unless the workspace policy \
             allows it; grant the narrow scopes the automation needs",
        ));
    }
    Ok(())
}

/// The access facts of a key about to be minted for `principal`.
pub async fn target_context(
    state: &AppState,
    workspace_id: &str,
    principal: &Grantee,
) -> ApiResult<AccessContext> {
    let service_account = match principal {
        Grantee::ServiceAccount(sa) => Some(sa.as_str()),
        Grantee::Workspace | Grantee::Group(_) => None,
    };
    Ok(access::load_context(state.db.pool(), workspace_id, service_account).await?)
}
