//! Plan-time checks shared by several resources, each reporting on the attribute at fault.
//! Unknown values are skipped: Terraform calls again once they are known.

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::DiagnosticsExt;
use crate::model::{check_cluster_name, check_name, Environment, IdKind, ObjectId, Scope};
use crate::state::{known, StringSet};

pub fn name(diags: &mut Diagnostics, value: &Value<String>, attribute: &'static str) {
    if let Some(name) = known(value) {
        if let Err(detail) = check_name(name) {
            diags.add("Invalid name", detail, AttributePath::new(attribute));
        }
    }
}

pub fn environment(diags: &mut Diagnostics, value: &Value<String>) {
    if let Some(environment) = known(value) {
        if let Err(detail) = Environment::parse(environment) {
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
            if let Err(detail) = Scope::parse(scope) {
                diags.add("Unknown scope", detail, AttributePath::new("scopes"));
            }
        }
    }
}

pub fn cluster_names(diags: &mut Diagnostics, value: &Value<StringSet>) {
    for cluster in value.iter().flatten().filter_map(|c| c.as_ref_option()) {
        if let Err(detail) = check_cluster_name(cluster) {
            diags.add(
                "Invalid environment cluster name",
                detail,
                AttributePath::new("environment_clusters"),
            );
        }
    }
}
