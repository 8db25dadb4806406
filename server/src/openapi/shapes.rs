//! What a request body must hold as a whole, beyond each field's own rule: "exactly one of",
//! "at least one of", "this field only for that kind", "no item twice". These are written into
//! the document as JSON Schema 2020-12 (`if`/`then`/`else`, `not`, `uniqueItems`,
//! `minProperties`) beside the object's `properties`, from the same constants the validators
//! use, so a client that follows the document is not refused for a combination the document
//! allowed. Conditionals rather than `oneOf`: validators and fuzzers read them the same, while
//! client generators keep one model per body instead of a union of variants.
//!
//! What no schema can say stays with the server and is named in
//! `server/tests/contract/hooks.py` (for example that an X.509 certificate parses, or that a
//! service account's bindings grant the scopes asked for).

use serde_json::{json, Map, Value};

use statuspulse_api::v1::anomaly_rules::AnomalyKind;
use statuspulse_api::v1::sso_connections::{KINDS, NATIVE_KINDS};

/// Adds the body shapes to the document's component schemas.
pub fn apply(document: &mut Value) {
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    exactly_one_destination(schemas, "CreateAuditSink");
    exactly_one_principal(schemas, "CreateRoleBinding");
    // signin::sessions::revoke_all: a person's sessions or a key's, one at a time.
    constrain(
        schemas,
        "RevokeAllSessions",
        json!({"if": given("user_id"), "then": absent("api_key_id"), "else": given("api_key_id")}),
    );
    anomaly_thresholds_by_kind(schemas, "CreateAnomalyRule");
    at_least_one_condition(schemas, "CreateAccessPolicy");
    sso_fields_by_kind(schemas, "CreateSsoConnection");
    workload_conditions(schemas, "CreateWorkloadIdentity");
    workload_conditions(schemas, "UpdateWorkloadIdentity");
    for schema in ["CreateSsoConnection", "UpdateSsoConnection"] {
        group_mappings(schemas, schema);
    }
    // validate::sso_scopes: sign-in needs an ID token.
    for schema in ["CreateSsoConnection", "UpdateSsoConnection"] {
        if let Some(scopes) = property_mut(schemas, schema, "scopes") {
            for_each_array(scopes, &mut |array| {
                array.insert("contains".into(), json!({"const": "openid"}));
            });
        }
    }
    // validate::sso_connection: tenant `common` or `organizations` lets any tenant in, so it
    // needs the allowed list; a single tenant takes none.
    constrain(
        schemas,
        "AzureAdSettings",
        json!({
            "if": {"properties": {"tenant_id": {"enum": ["common", "organizations"]}}},
            "then": {"required": ["allowed_tenants"], "properties": {"allowed_tenants": {"minItems": 1}}},
            "else": {"properties": {"allowed_tenants": {"maxItems": 0}}},
        }),
    );
    // validate::cloudwatch: a secret key needs its key id; an external id needs its role.
    let present =
        |field: &str| json!({"required": [field], "properties": {field: {"type": "string"}}});
    constrain(
        schemas,
        "CloudWatchSettingsInput",
        conditionals(vec![
            (present("secret_access_key"), given("access_key_id")),
            (present("external_id"), given("role_arn")),
        ]),
    );
    // The SAML binding's form: `RelayState` carries the sign-in it answers (signin::saml).
    if let Some(form) = schemas.get_mut("AcsForm") {
        form["required"] = json!(["SAMLResponse", "RelayState"]);
        form["properties"]["RelayState"] = json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,256}$",
                   "description": "The state of the sign-in this answers."});
    }
    for (schema, property) in [
        // validate::redirect_uris: "`…` is listed twice".
        ("CreateOAuthClient", "redirect_uris"),
        ("UpdateOAuthClient", "redirect_uris"),
        // validate::event_type_patterns: `duplicate_event_type`.
        ("CreateAuditSink", "event_types"),
        ("UpdateAuditSink", "event_types"),
        ("UpdateAuditSettings", "default_event_types"),
    ] {
        if let Some(list) = property_mut(schemas, schema, property) {
            for_each_array(list, &mut |array| {
                array.insert("uniqueItems".into(), Value::Bool(true));
            });
        }
    }
    // `admin:all` is never given to a workload (validate::workload_identity).
    for schema in ["CreateWorkloadIdentity", "UpdateWorkloadIdentity"] {
        if let Some(scopes) = property_mut(schemas, schema, "scopes") {
            for_each_array(scopes, &mut |array| {
                if let Some(Value::Array(names)) = array
                    .get_mut("items")
                    .and_then(|items| items.get_mut("enum"))
                {
                    names.retain(|n| n != "admin:all");
                }
            });
        }
    }
}

/// A property's schema inside a component schema.
fn property_mut<'a>(
    schemas: &'a mut Map<String, Value>,
    schema: &str,
    property: &str,
) -> Option<&'a mut Value> {
    schemas
        .get_mut(schema)?
        .get_mut("properties")?
        .get_mut(property)
}

/// Calls `f` on the array schema of a list property, nullable (`type: [array, null]`, or
/// `oneOf: [{type: null}, array]`) or not.
fn for_each_array(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Some(variants) = schema.get_mut("oneOf").and_then(Value::as_array_mut) {
        for variant in variants {
            for_each_array(variant, f);
        }
        return;
    }
    let is_array = match schema.get("type") {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(types)) => types.iter().any(|t| t == "array"),
        _ => false,
    };
    if is_array {
        if let Some(object) = schema.as_object_mut() {
            f(object);
        }
    }
}

/// A present, non-null property.
fn given(property: &str) -> Value {
    json!({"required": [property], "properties": {property: {"not": {"type": "null"}}}})
}

/// Left out or null.
fn absent(property: &str) -> Value {
    json!({"properties": {property: {"type": "null"}}})
}

/// Merges the constraint objects into one (`required` lists appended, `properties` merged).
fn all(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut required: Vec<Value> = Vec::new();
    let mut properties = Map::new();
    for part in parts {
        if let Some(Value::Array(names)) = part.get("required") {
            required.extend(names.iter().cloned());
        }
        if let Some(Value::Object(props)) = part.get("properties") {
            for (name, schema) in props {
                properties.insert(name.clone(), schema.clone());
            }
        }
    }
    let mut out = Map::new();
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    out.insert("properties".into(), Value::Object(properties));
    Value::Object(out)
}

/// Rules that must all hold, each "if this, then that", as one nested `if`/`then`/`else`
/// (the object then carries no `allOf`, which generators read as inheritance).
fn conditionals(rules: Vec<(Value, Value)>) -> Value {
    rules
        .into_iter()
        .rev()
        .fold(json!({}), |rest, (condition, consequence)| {
            let mut then = consequence;
            if let (Value::Object(then), Value::Object(rest)) = (&mut then, &rest) {
                for (k, v) in rest {
                    then.insert(k.clone(), v.clone());
                }
            }
            let mut out = json!({"if": condition, "then": then});
            if rest.as_object().is_some_and(|r| !r.is_empty()) {
                out["else"] = rest;
            }
            out
        })
}

/// Puts the keywords of `rule` (`if`, `then`, `else`, `not`) on the schema.
fn constrain(schemas: &mut Map<String, Value>, schema: &str, rule: Value) {
    if let (Some(Value::Object(object)), Value::Object(rule)) = (schemas.get_mut(schema), rule) {
        object.extend(rule);
    }
}

/// validate::audit_sink: exactly one of `webhook` and `cloudwatch`.
fn exactly_one_destination(schemas: &mut Map<String, Value>, schema: &str) {
    constrain(
        schemas,
        schema,
        json!({"if": given("webhook"), "then": absent("cloudwatch"), "else": given("cloudwatch")}),
    );
}

/// validate::role_binding: exactly one principal, a service account or an SSO group.
fn exactly_one_principal(schemas: &mut Map<String, Value>, schema: &str) {
    constrain(
        schemas,
        schema,
        json!({"if": given("service_account_id"), "then": absent("group"), "else": given("group")}),
    );
}

/// validate::anomaly_rule: a threshold only for the kinds that take one.
fn anomaly_thresholds_by_kind(schemas: &mut Map<String, Value>, schema: &str) {
    let rules: Vec<(Value, Value)> = AnomalyKind::ALL
        .iter()
        .map(|kind| {
            let defaults = kind.defaults();
            let when = json!({"properties": {"kind": {"const": kind.as_str()}}});
            let mut parts = vec![];
            match defaults.threshold {
                None => parts.push(absent("threshold")),
                // The kind's own least threshold (`rapid_rotation`: 2).
                Some(_) => parts.push(json!({"properties": {"threshold": {
                    "type": ["integer", "null"],
                    "minimum": defaults.min_threshold,
                }}})),
            }
            if defaults.min_key_age_hours.is_none() {
                parts.push(absent("min_key_age_hours"));
            }
            (when, all(parts))
        })
        .collect();
    constrain(schemas, schema, conditionals(rules));
}

/// validate::access_policy: at least one condition, or the policy restricts nothing.
fn at_least_one_condition(schemas: &mut Map<String, Value>, schema: &str) {
    // Not (every list empty or left out, and MFA not required).
    let mut none = Map::new();
    for list in ["groups", "client_ids", "amr", "networks", "regions"] {
        none.insert(list.into(), json!({"maxItems": 0}));
    }
    none.insert("require_mfa".into(), json!({"enum": [false, null]}));
    constrain(
        schemas,
        schema,
        json!({"not": {"properties": Value::Object(none)}}),
    );
}

/// validate::sso_connection: exactly the block of the connection's kind; `client_id` for every
/// kind but `saml`, and no OAuth fields for `saml`; `endpoint_override` for native kinds only.
fn sso_fields_by_kind(schemas: &mut Map<String, Value>, schema: &str) {
    let rules: Vec<(Value, Value)> = KINDS
        .iter()
        .map(|kind| {
            let when = json!({"properties": {"kind": {"const": kind}}});
            let mut parts = vec![given(kind)];
            parts.extend(
                KINDS
                    .iter()
                    .filter(|other| *other != kind)
                    .map(|other| absent(other)),
            );
            if *kind == "saml" {
                parts.extend(["client_id", "client_secret", "scopes"].map(absent));
            } else {
                parts.push(given("client_id"));
            }
            if !NATIVE_KINDS.contains(kind) {
                parts.push(absent("endpoint_override"));
            }
            (when, all(parts))
        })
        .collect();
    constrain(schemas, schema, conditionals(rules));
}

/// validate::workload_identity: 1 to 32 conditions, each a claim name and a value that is not
/// only `*`.
fn workload_conditions(schemas: &mut Map<String, Value>, schema: &str) {
    use statuspulse_api::v1::workload_identities::MAX_CONDITIONS;
    let Some(conditions) = property_mut(schemas, schema, "conditions") else {
        return;
    };
    let rule = json!({
        "minProperties": 1,
        "maxProperties": MAX_CONDITIONS,
        "propertyNames": {"type": "string", "pattern": "^[A-Za-z0-9_.:/-]{1,128}$"},
        "additionalProperties": {
            "type": "string",
            "pattern": "^(?!\\**$)[^\\x00-\\x1f\\x7f-\\x9f]{1,1024}$",
        },
    });
    let apply_to = |object: &mut Map<String, Value>| {
        if let Value::Object(rule) = &rule {
            for (k, v) in rule {
                object.insert(k.clone(), v.clone());
            }
        }
    };
    // `Option<HashMap>` (an update) is `oneOf: [null, object]`.
    if let Some(variants) = conditions.get_mut("oneOf").and_then(Value::as_array_mut) {
        for variant in variants {
            if variant.get("type") != Some(&json!("null")) {
                if let Some(object) = variant.as_object_mut() {
                    apply_to(object);
                }
            }
        }
    } else if let Some(object) = conditions.as_object_mut() {
        apply_to(object);
    }
}

/// validate::group_mappings: an IdP group name (1 to 256 bytes, no control character or
/// surrounding spaces) to a StatusPulse group (a name stored as written).
fn group_mappings(schemas: &mut Map<String, Value>, schema: &str) {
    let Some(Value::Object(mappings)) = property_mut(schemas, schema, "group_mappings") else {
        return;
    };
    mappings.insert(
        "propertyNames".into(),
        json!({"type": "string", "pattern": super::OPAQUE_TRIMMED}),
    );
    mappings.insert(
        "additionalProperties".into(),
        json!({"type": "string", "pattern": super::TRIMMED_NAME}),
    );
}
