//! Data sources, one module each.

mod api_key;
mod scopes;
mod service_account;

pub use api_key::ApiKeyDataSource;
pub use scopes::ScopesDataSource;
pub use service_account::ServiceAccountDataSource;
