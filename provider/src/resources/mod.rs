//! Managed resources, one module each. `managed` serves them to Terraform and plans them from what
//! their states declare (`crate::plan`); `crud` holds the API steps they all share.

mod access_policy;
mod anomaly_rule;
mod api_key;
mod audit_settings;
mod audit_sink;
pub(crate) mod crud;
mod environment_cluster;
mod managed;
mod oauth_client;
mod role_binding;
mod secret_store;
mod service_account;
mod sso_connection;
mod workload_identity;

pub use access_policy::{access_policy_state, AccessPolicyResource, AccessPolicyState};
pub use anomaly_rule::{anomaly_rule_state, AnomalyRuleResource, AnomalyRuleState};
pub use api_key::{api_key_doc, ApiKeyResource};
pub use audit_settings::{audit_settings_state, AuditSettingsResource, AuditSettingsState};
pub use audit_sink::{audit_sink_state, AuditSinkResource, AuditSinkState};
pub use environment_cluster::{
    environment_cluster_state, EnvironmentClusterResource, EnvironmentClusterState,
};
pub use managed::{Managed, ManagedResource};
pub use oauth_client::{oauth_client_state, OAuthClientResource, OAuthClientState};
pub use role_binding::{role_binding_state, RoleBindingResource, RoleBindingState};
pub use service_account::{service_account_state, ServiceAccountResource, ServiceAccountState};
pub use sso_connection::{
    sso_connection_state, AzureAdBlock, OidcBlock, OktaBlock, OneLoginBlock, SamlBlock,
    SsoConnectionResource, SsoConnectionState,
};
pub use workload_identity::{
    workload_identity_state, WorkloadIdentityResource, WorkloadIdentityState,
};
