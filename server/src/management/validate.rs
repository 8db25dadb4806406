//! Field checks shared by the management routes; each failure names its field.
//!
//! The rules are the shared API crate's, so the provider applies the same ones at plan time. They
//! return a [`FieldError`], which `?` turns into a 422 [`crate::error::ApiError`].

pub use statuspulse_api::validate::{
    cluster_name, cluster_names, description, environment, is_invisible_char, is_refused_char,
    name, restriction_ids, rotation_days, scopes, within, FieldError, DEFAULT_GRACE_HOURS,
    DEFAULT_ROTATION_DAYS, MAX_DESCRIPTION, MAX_GRACE_HOURS, MAX_LIFETIME_DAYS, MAX_NAME,
};
