//! The v1 request and response bodies, one module per resource.
//!
//! The server serialises answers and deserialises requests with these types, and generates its
//! OpenAPI document from them (feature `openapi`); the provider does the opposite with the same
//! types. Requests refuse unknown fields (a misspelt attribute is an error, not a no-op);
//! answers tolerate fields added later, so an older client keeps working against a newer server.
//! Field rules (lengths, patterns) are in [`crate::validate`].

pub mod access_policies;
pub mod anomaly_rules;
pub mod api_keys;
pub mod audit;
pub mod audit_sinks;
pub mod effective_access;
pub mod environment_clusters;
pub mod oauth_clients;
pub mod role_bindings;
pub mod scope_catalog;
pub mod service_accounts;
pub mod sessions;
pub mod sso_connections;
pub mod verify;
pub mod workload_identities;
pub mod workspaces;

use serde::{Deserialize, Serialize};

pub use access_policies::{
    AccessConditions, AccessPolicy, CreateAccessPolicy, PolicyWithholding, UpdateAccessPolicy,
};
pub use anomaly_rules::{AnomalyKind, AnomalyRule, CreateAnomalyRule, UpdateAnomalyRule};
pub use api_keys::{
    ApiKeyView, CreateApiKey, CreatedApiKey, PlainKey, RevokeApiKey, RotateApiKey, UpdateApiKey,
};
pub use audit::{
    AuditActor, AuditEvent, AuditSettings, AuditSinkSummary, AuditTarget, ChainReport,
    UpdateAuditSettings,
};
pub use audit_sinks::{
    AuditSink, CloudWatchSettings, CloudWatchSettingsInput, CreateAuditSink, CreatedAuditSink,
    ReplayAuditSink, UpdateAuditSink, WebhookSettings, WebhookSettingsInput,
};
pub use effective_access::{ClusterAccess, EffectiveAccess};
pub use environment_clusters::{
    CreateEnvironmentCluster, EnvironmentCluster, UpdateEnvironmentCluster,
};
pub use oauth_clients::{
    CreateOAuthClient, CreatedOAuthClient, OAuthClient, SigningAlg, UpdateOAuthClient,
};
pub use role_bindings::{CreateRoleBinding, RoleBinding, UpdateRoleBinding};
pub use scope_catalog::{ScopeCatalog, ScopeInfo};
pub use service_accounts::{CreateServiceAccount, ServiceAccount, UpdateServiceAccount};
pub use sessions::{KeySessionCreated, Me, RevokeAllSessions, RevokedSessions, Session, User};
pub use sso_connections::{
    AzureAdSettings, CreateSsoConnection, OidcSettings, OktaSettings, OneLoginSettings,
    SamlSettings, SsoConnection, SsoConnectionTestResult, SsoConnectionTestStarted,
    StartSsoConnectionTest, TestedClaims, UpdateSsoConnection,
};
pub use verify::{Principal, VerifiedCredential};
pub use workload_identities::{
    CreateWorkloadIdentity, ExchangedToken, UpdateWorkloadIdentity, WorkloadIdentity,
};
pub use workspaces::{CreateWorkspace, ProvisionedWorkspace, UpdateWorkspace, Workspace};

/// A page of a list answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The objects of this page, in creation order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
