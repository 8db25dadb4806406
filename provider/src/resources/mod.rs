//! Managed resources, one module each.

mod api_key;
mod service_account;

pub use api_key::{api_key_doc, ApiKeyResource};
pub use service_account::{service_account_state, ServiceAccountResource, ServiceAccountState};
