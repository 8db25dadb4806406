//! Object ids.
//!
//! Ids are a type prefix plus a UUIDv7: time-ordered, so "ORDER BY id" is creation order and a
//! list cursor is simply the last id of a page (see [`crate::http::pagination`]).

use crate::error::ApiError;

pub use statuspulse_api::ids::{
    ACCESS_POLICY, ANOMALY_RULE, API_KEY, AUDIT_SINK, CLUSTER, EVENT, OAUTH_CLIENT, ROLE_BINDING,
    SERVICE_ACCOUNT, SESSION, SSO_CONNECTION, USER, WORKLOAD_IDENTITY, WORKSPACE,
};

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Checks a query filter's id (`?service_account_id=`): one of ours of the right kind, or a
/// 422 naming the parameter. A filter that cannot match anything is a mistake worth saying.
pub fn check_filter(field: &str, value: Option<&str>, prefix: &str) -> Result<(), ApiError> {
    match value {
        Some(id) if !statuspulse_api::ids::is_minted(id, prefix) => Err(ApiError::invalid(
            field,
            "invalid_id",
            format!("{field} must be an id of the form `{prefix}_…`"),
        )),
        _ => Ok(()),
    }
}

/// Checks that a path id has the expected prefix; anything else cannot exist, so it is a 404.
pub fn expect_prefix(id: &str, prefix: &str) -> Result<(), ApiError> {
    if statuspulse_api::ids::is_minted(id, prefix) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}
