//! Conversions between API values and Terraform state values that every resource needs.

use std::collections::BTreeSet;

use tf_provider::value::Value;

/// A Terraform `set(string)`; elements may individually be unknown during plan.
pub type StringSet = BTreeSet<Value<String>>;

/// A Terraform `list(string)`, for values whose order matters; elements may be unknown too.
pub type StringList = Vec<Value<String>>;

/// The known strings of a set attribute (unknown or null elements are skipped: they are only
/// possible at plan time, never when we call the API).
pub fn set_to_vec(value: &Value<StringSet>) -> Vec<String> {
    value
        .as_ref_option()
        .map(|set| {
            set.iter()
                .filter_map(|v| v.as_ref_option().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// The known strings of a list attribute, in order (same rule as [`set_to_vec`]).
pub fn list_to_vec(value: &Value<StringList>) -> Vec<String> {
    value
        .as_ref_option()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_ref_option().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// The server answers `[]` for "none"; keep whichever of null or `[]` the configuration used so
/// that an unset attribute does not show a perpetual diff.
pub fn set_from_api(items: Vec<String>, prior: &Value<StringSet>) -> Value<StringSet> {
    if items.is_empty() && !matches!(prior, Value::Value(_)) {
        Value::Null
    } else {
        Value::Value(items.into_iter().map(Value::Value).collect())
    }
}

/// Same rule for optional strings: an empty or absent answer stays null unless `""` was set.
pub fn string_from_api(value: Option<String>, prior: &Value<String>) -> Value<String> {
    match value {
        Some(v) if !v.is_empty() => Value::Value(v),
        _ => match prior {
            Value::Value(p) if p.is_empty() => Value::Value(String::new()),
            _ => Value::Null,
        },
    }
}

/// The known string of an attribute, if any.
pub fn known(value: &Value<String>) -> Option<&str> {
    value.as_ref_option().map(String::as_str)
}

/// The known string of an attribute, owned, for a request body.
pub fn opt_of(value: &Value<String>) -> Option<String> {
    known(value).map(str::to_owned)
}

/// The known string of a required attribute for a request body (only ever unknown at plan time).
pub fn string_of(value: &Value<String>) -> String {
    known(value).unwrap_or_default().to_owned()
}

/// An optional string the server answers: absent is null.
pub fn opt_string(value: Option<String>) -> Value<String> {
    value.map_or(Value::Null, Value::Value)
}
