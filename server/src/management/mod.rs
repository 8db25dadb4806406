//! The management API: the objects a workspace administers (API keys, service accounts,
//! workspaces, environment clusters, role bindings, SSO connections, conditional access policies, anomaly rules) and the read-only views over them (effective
//! access, the scope catalog). Each module owns its routes, its SQL and its audit events.

pub mod access_policies;
pub mod anomaly_rules;
pub mod api_keys;
pub mod effective_access;
pub mod environment_clusters;
pub mod role_bindings;
pub(crate) mod scope_catalog;
pub mod service_accounts;
pub mod sso_connections;
pub mod validate;
pub mod workload_identities;
pub mod workspaces;
