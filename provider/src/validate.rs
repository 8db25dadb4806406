//! Plan-time checks shared by several resources, each reporting on the attribute at fault.
//! Unknown values are skipped: Terraform calls again once they are known.
//!
//! The rules are `statuspulse_api::validate`'s, the ones the server applies; the summaries are
//! the provider's own.

use statuspulse_api::validate as rules;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt};
use crate::model::{parse_environment, parse_scope, IdKind, ObjectId};
use crate::state::{known, StringList, StringSet};

/// A display name the server would store exactly as written.
pub fn name(diags: &mut Diagnostics, value: &Value<String>, attribute: &'static str) {
    if let Some(name) = known(value) {
        let detail = match rules::name(attribute, name) {
            Err(refused) => refused.detail,
            // The server stores names trimmed; a name it would trim would differ from the plan.
            Ok(stored) if stored != *name => {
                "Remove the leading or trailing spaces: StatusPulse stores names trimmed."
                    .to_owned()
            }
            Ok(_) => return,
        };
        diags.add("Invalid name", detail, AttributePath::new(attribute));
    }
}

/// Free text the server stores as written: at most 2000 characters, no control characters but
/// line breaks and tabs.
pub fn description(diags: &mut Diagnostics, value: &Value<String>, attribute: &'static str) {
    if let Some(description) = known(value) {
        if let Err(refused) = rules::description(attribute, description) {
            diags.add(
                "Invalid description",
                refused.detail,
                AttributePath::new(attribute),
            );
        }
    }
}

pub fn environment(diags: &mut Diagnostics, value: &Value<String>) {
    if let Some(environment) = known(value) {
        if let Err(detail) = parse_environment(environment) {
            diags.add(
                "Invalid environment",
                detail,
                AttributePath::new("environment"),
            );
        }
    }
}

pub fn id(diags: &mut Diagnostics, kind: IdKind, value: &Value<String>, attribute: &'static str) {
    if let Some(id) = known(value) {
        if let Err(detail) = ObjectId::parse(kind, id) {
            diags.add("Invalid id", detail, AttributePath::new(attribute));
        }
    }
}

/// A non-empty set of catalog scopes.
pub fn scopes(diags: &mut Diagnostics, value: &Value<StringSet>) {
    if let Value::Value(scopes) = value {
        if scopes.is_empty() {
            diags.add(
                "At least one scope is needed",
                "Grant the narrowest scopes that are needed, e.g. [\"read:checks\"].",
                AttributePath::new("scopes"),
            );
        }
        for scope in scopes.iter().filter_map(|s| s.as_ref_option()) {
            if let Err(detail) = parse_scope(scope) {
                diags.add("Unknown scope", detail, AttributePath::new("scopes"));
            }
        }
    }
}

/// One environment cluster name, e.g. a cluster's own `name`.
pub fn cluster_name(diags: &mut Diagnostics, value: &Value<String>, attribute: &'static str) {
    if let Some(name) = known(value) {
        if let Err(refused) = rules::cluster_name(attribute, name) {
            diags.add(
                "Invalid cluster name",
                refused.detail,
                AttributePath::new(attribute),
            );
        }
    }
}

pub fn cluster_names(diags: &mut Diagnostics, value: &Value<StringSet>) {
    for cluster in value.iter().flatten().filter_map(|c| c.as_ref_option()) {
        if let Err(refused) = rules::cluster_name("environment_clusters", cluster) {
            diags.add(
                "Invalid environment cluster name",
                refused.detail,
                AttributePath::new("environment_clusters"),
            );
        }
    }
}

/// Check group or alert route ids, each reported on its own attribute.
pub fn restriction_ids(diags: &mut Diagnostics, value: &Value<StringSet>, attribute: &'static str) {
    for id in value.iter().flatten().filter_map(|id| id.as_ref_option()) {
        if let Err(refused) = rules::restriction_id(attribute, id) {
            diags.add("Invalid id", refused.detail, AttributePath::new(attribute));
        }
    }
}

/// A rotation period within the lifetime every key is held to.
/// `expires_in_days`: 1 to 365 days.
pub fn expires_in_days(diags: &mut Diagnostics, value: &Value<i64>) {
    if let Value::Value(days) = *value {
        let max = rules::MAX_LIFETIME_DAYS;
        if rules::within("expires_in_days", days, 1, max).is_err() {
            diags.add(
                "expires_in_days out of range",
                format!("expires_in_days is {days}; it must be between 1 and {max}."),
                AttributePath::new("expires_in_days"),
            );
        }
    }
}

pub fn revoke_grace_period_hours(diags: &mut Diagnostics, value: &Value<i64>) {
    if let Value::Value(hours) = *value {
        let max = rules::MAX_GRACE_HOURS;
        if rules::within("revoke_grace_period_hours", hours, 0, max).is_err() {
            diags.add(
                "revoke_grace_period_hours out of range",
                format!("revoke_grace_period_hours is {hours}; it must be between 0 and {max}."),
                AttributePath::new("revoke_grace_period_hours"),
            );
        }
    }
}

pub fn rotation_days(diags: &mut Diagnostics, value: &Value<i64>) {
    if let Value::Value(days) = *value {
        if rules::rotation_days(days).is_err() {
            let max = rules::MAX_LIFETIME_DAYS;
            diags.add(
                "rotation_days out of range",
                format!(
                    "rotation_days is {days}; it must be between 1 and {max} (a key never outlives {max} days)."
                ),
                AttributePath::new("rotation_days"),
            );
        }
    }
}

/// The attributes of a key request, checked the same way wherever one is made (the managed and
/// the ephemeral `statuspulse_api_key`).
pub struct KeyRequest<'a> {
    pub name: &'a Value<String>,
    pub environment: &'a Value<String>,
    pub service_account_id: &'a Value<String>,
    pub scopes: &'a Value<StringSet>,
    pub environment_clusters: &'a Value<StringSet>,
    pub check_group_ids: &'a Value<StringSet>,
    pub alert_route_ids: &'a Value<StringSet>,
}

/// Plan-time checks of a key request, on everything that is known.
pub fn key_request(diags: &mut Diagnostics, key: &KeyRequest<'_>) {
    name(diags, key.name, "name");
    environment(diags, key.environment);
    id(
        diags,
        IdKind::ServiceAccount,
        key.service_account_id,
        "service_account_id",
    );
    scopes(diags, key.scopes);
    cluster_names(diags, key.environment_clusters);
    restriction_ids(diags, key.check_group_ids, "check_group_ids");
    restriction_ids(diags, key.alert_route_ids, "alert_route_ids");
}

/// A secret the server never returns, which a configuration gives in one of two forms: sensitive
/// (kept in the state; Terraform before 1.11) or write-only with a version, since Terraform
/// cannot compare write-only values. Each is the value and its field name (`client_secret`,
/// `cloudwatch.secret_access_key`).
pub struct SecretForms<'a> {
    /// What the secret is, in prose: "client secret".
    pub what: &'static str,
    pub sensitive: (&'a Value<String>, &'static str),
    pub write_only: (&'a Value<String>, &'static str),
    pub version: (&'a Value<i64>, &'static str),
}

/// One form at most, and the write-only one with its version.
pub fn secret_forms(diags: &mut Diagnostics, forms: &SecretForms<'_>) {
    let leaf = |field: &'static str| field.rsplit('.').next().unwrap_or(field);
    let (sensitive, write_only, version) = (
        leaf(forms.sensitive.1),
        leaf(forms.write_only.1),
        leaf(forms.version.1),
    );
    let given = !forms.write_only.0.is_null();
    if !forms.sensitive.0.is_null() && given {
        diags.add(
            format!("Give the {} once", forms.what),
            format!(
                "Set either {write_only} (write-only, Terraform 1.11+) or {sensitive}, not both."
            ),
            field_path(forms.sensitive.1),
        );
    }
    if given && forms.version.0.is_null() {
        diags.add(
            format!("{write_only} needs {version}"),
            format!(
                "Terraform cannot see a change of a write-only value: set {version} (for example \
                 1), and change it whenever the secret changes."
            ),
            field_path(forms.version.1),
        );
    }
    if !given && !forms.version.0.is_null() {
        diags.add(
            format!("{version} without {write_only}"),
            format!("{version} only versions {write_only}; set {write_only} too, or remove it."),
            field_path(forms.version.1),
        );
    }
}

/// An audit event filter (a sink's `event_types`, the settings' `default_event_types`): the
/// server's rule (`statuspulse_api::validate::event_types`) on the known patterns.
pub fn event_types(diags: &mut Diagnostics, value: &Value<StringList>, attribute: &'static str) {
    let Value::Value(list) = value else { return };
    if list.iter().any(|p| !p.is_value()) {
        return;
    }
    let patterns: Vec<String> = list.iter().filter_map(known).map(str::to_owned).collect();
    if let Err(refused) = rules::event_types(attribute, &patterns) {
        diags.add(
            format!("Invalid {attribute}"),
            refused.detail,
            AttributePath::new(attribute),
        );
    }
}
