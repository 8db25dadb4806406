//! Who is acting: the one thing authorization and audit see of an authenticated request.
//!
//! A principal is an API key (acting for its service account when it has one) or a signed-in
//! user's session (holding what the user's groups are bound to). An OAuth access token becomes a
//! further variant when the authorization server lands; code past the `Caller` extractor asks the
//! principal, never the credential kind, so it does not change when it does.

use std::sync::Arc;

use super::access_token::TokenPrincipal;
use super::session::{KeySession, SessionPrincipal};
use super::Credential;
use crate::authz::scopes::{Environment, Scope, Scopes};
use crate::authz::Grantee;

#[derive(Clone, Debug)]
pub enum Principal {
    /// A verified API key.
    ApiKey(Arc<Credential>),
    /// A signed-in user's session (cookie).
    Session(Arc<SessionPrincipal>),
    /// An access token of StatusPulse's OAuth server: a user, through a client.
    AccessToken(Arc<TokenPrincipal>),
    /// A console session opened with an API key (cookie): acts as that key, read afresh.
    KeySession(Arc<KeySession>),
}

impl Principal {
    /// The workspace every action of this principal is confined to.
    pub fn workspace_id(&self) -> &str {
        match self {
            Principal::ApiKey(key) => &key.workspace_id,
            Principal::Session(session) => &session.workspace_id,
            Principal::AccessToken(token) => &token.workspace_id,
            Principal::KeySession(session) => &session.key.workspace_id,
        }
    }

    /// The object acting: the API key's id (`key_…`) or the signed-in user's (`usr_…`).
    pub fn acting_id(&self) -> &str {
        match self {
            Principal::ApiKey(key) => &key.id,
            Principal::Session(session) => &session.user_id,
            Principal::AccessToken(token) => &token.subject,
            Principal::KeySession(session) => &session.key.id,
        }
    }

    /// The browser session behind this principal: a session cookie's (a person's or a key's), or
    /// the session a person's access token was issued to.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Principal::Session(session) => Some(&session.session_id),
            Principal::KeySession(session) => Some(&session.session_id),
            Principal::AccessToken(token) => token.session_id.as_deref(),
            Principal::ApiKey(_) => None,
        }
    }

    /// Whom this principal's grants are bound to: the workspace for an admin key, the service
    /// account for its keys. A user acts at workspace level, narrowed by their groups' bindings
    /// (which [`crate::authz::caller_authority`] reads afresh).
    pub fn grantee(&self) -> Grantee {
        match self {
            Principal::ApiKey(key) => {
                Grantee::from_service_account(key.service_account_id.as_deref())
            }
            Principal::KeySession(session) => {
                Grantee::from_service_account(session.key.service_account_id.as_deref())
            }
            // A workload's token acts as its service account, like that account's keys.
            Principal::AccessToken(token) if token.service_account_id.is_some() => {
                Grantee::from_service_account(token.service_account_id.as_deref())
            }
            Principal::Session(_) | Principal::AccessToken(_) => Grantee::Workspace,
        }
    }

    /// Whether the principal may use `scope` somewhere (its scopes after role bindings).
    pub fn grants(&self, scope: Scope) -> bool {
        match self {
            Principal::ApiKey(key) => key.effective_scopes.grants(scope),
            Principal::Session(session) => session.grants(scope),
            Principal::AccessToken(token) => token.grants(scope),
            Principal::KeySession(session) => session.key.effective_scopes.grants(scope),
        }
    }

    /// What the principal holds, on every dimension a grant is judged on (the grant rule in
    /// [`crate::authz::grant`] reads these, with role bindings read afresh by
    /// [`crate::authz::caller_authority`]).
    pub fn holdings(&self) -> Holdings<'_> {
        match self {
            Principal::ApiKey(key) => key_holdings(key),
            Principal::KeySession(session) => key_holdings(&session.key),
            Principal::Session(session) => Holdings {
                // A user is not confined to an environment; `live` with no cluster narrowing
                // reaches `test` too, and the groups' bindings decide where each scope holds.
                environment: Environment::Live,
                scopes: &session.requested,
                environment_clusters: &[],
                check_group_ids: &[],
                alert_route_ids: &[],
                service_account_id: None,
            },
            // A person's token holds its scopes, none of which is a management scope, and grants
            // nothing (its authority has no bindings: see `authz::caller_authority`). A
            // workload's holds what its trust policy gave, within its service account's bindings
            // (read afresh for a grant, like a key's).
            Principal::AccessToken(token) => Holdings {
                environment: Environment::Live,
                scopes: &token.scopes,
                environment_clusters: &[],
                check_group_ids: &[],
                alert_route_ids: &[],
                service_account_id: token.service_account_id.as_deref(),
            },
        }
    }
}

/// What a key holds: its own restrictions (a key session holds exactly its key's).
fn key_holdings(key: &Credential) -> Holdings<'_> {
    Holdings {
        environment: key.environment,
        scopes: &key.scopes,
        environment_clusters: &key.environment_clusters,
        check_group_ids: &key.check_group_ids,
        alert_route_ids: &key.alert_route_ids,
        service_account_id: key.service_account_id.as_deref(),
    }
}

/// A principal's holdings, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Holdings<'a> {
    pub environment: Environment,
    pub scopes: &'a Scopes,
    pub environment_clusters: &'a [String],
    pub check_group_ids: &'a [String],
    pub alert_route_ids: &'a [String],
    pub service_account_id: Option<&'a str>,
}
