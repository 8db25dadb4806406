//! Data sources, one module each.

mod api_key;
mod api_keys;
mod effective_access;
mod environment_cluster;
mod oidc_metadata;
mod role_binding;
mod scopes;
mod service_account;
mod sso_connection;

pub use api_key::ApiKeyDataSource;
pub use api_keys::ApiKeysDataSource;
pub use effective_access::EffectiveAccessDataSource;
pub use environment_cluster::EnvironmentClusterDataSource;
pub use oidc_metadata::OidcMetadataDataSource;
pub use role_binding::RoleBindingDataSource;
pub use scopes::ScopesDataSource;
pub use service_account::ServiceAccountDataSource;
pub use sso_connection::SsoConnectionDataSource;
