//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What the document says besides its paths, which [`crate::http::routes`] registers with the
/// routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(title = "StatusPulse Auth", description = "API keys, service accounts, credential verification, SSO sign-in, sessions and audit."),
    components(schemas(crate::error::Problem, crate::oauth::OAuthErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer sp_live_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "statuspulse_session",
                "A signed-in user's session cookie (`__Host-statuspulse_session` over HTTPS), set \
                 by `GET /oauth2/callback`. Writes also need `X-CSRF-Token` (from `GET /v1/me`).",
            ))),
        );
    }
}

/// The document without paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The whole document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = crate::router::routes().into_openapi();
        document_refusals(&mut document);
        document_field_rules(&mut document);
        document
    })
}

/// The OAuth endpoints whose errors are RFC 6749's (`{error, error_description}` as
/// `application/json`), as real OAuth clients expect, not problem documents.
pub const OAUTH_PROTOCOL_PATHS: &[&str] =
    &["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"];

fn document_oauth_errors(item: &mut utoipa::openapi::PathItem) {
    let Some(operation) = item.post.as_mut() else {
        return;
    };
    let responses = &mut operation.responses.responses;
    for (status, description) in [
        ("400", "An RFC 6749 error: `invalid_request`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`."),
        ("401", "`invalid_client`: the client is unknown or did not authenticate as its type requires."),
    ] {
        responses.insert(
            status.to_owned(),
            utoipa::openapi::RefOr::T(
                utoipa::openapi::ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                            "OAuthErrorBody",
                        ))),
                    )
                    .build(),
            ),
        );
    }
    // The request screen's refusals, in front of the endpoint: problem documents.
    for (status, description) in [
        ("408", "The body did not arrive within the body timeout."),
        ("413", "The body is larger than 16 KiB."),
    ] {
        responses.insert(
            status.to_owned(),
            utoipa::openapi::ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))),
                )
                .build()
                .into(),
        );
    }
}

/// The refusals every operation can answer, whatever its handler says: they come from the
/// layers in front of it (the request screen, the `Caller` extractor, the JSON extractor, the
/// idempotency layer), so they are added here, once, from what the operation is (authenticated,
/// with a body, with a path id, a create) rather than repeated in every annotation. Every
/// refusal is `application/problem+json` with the `Problem` schema.
fn document_refusals(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::HttpMethod;
    for (path, item) in &mut document.paths.paths {
        if OAUTH_PROTOCOL_PATHS.contains(&path.as_str()) {
            document_oauth_errors(item);
            continue;
        }
        let methods = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut refusals: Vec<(&str, &str)> = vec![(
                "422",
                "A field, query parameter or path segment is invalid (`field` names it).",
            )];
            if authenticated {
                refusals.extend([
                    ("400", "A malformed request: duplicate `Authorization` headers, an unreadable query string, a credential outside the `Authorization` header."),
                    ("401", "No credential, or one that is not valid (malformed, unknown, revoked, expired)."),
                    ("403", "The credential is valid but lacks the scope (or the authority) this operation needs."),
                    ("429", "Over the key's rate limit, or too many failed attempts with this key id: retry after `Retry-After` seconds."),
                    ("503", "Credentials cannot be checked right now, or the server is busy: retry after `Retry-After` seconds."),
                ]);
            }
            if operation.request_body.is_some() {
                refusals.extend([
                    ("408", "The body did not arrive within the body timeout."),
                    ("413", "The body is larger than 1 MiB."),
                    ("415", "The body is not `application/json`."),
                ]);
            }
            if path.contains('{') {
                refusals.push(("404", "No such object in the caller's workspace."));
            }
            if method == HttpMethod::Post
                && crate::router::IDEMPOTENT_CREATES.contains(&path.as_str())
            {
                refusals.push(("409", "A name already taken, or a request with the same `Idempotency-Key` still in progress (retry after `Retry-After`)."));
            }
            if method == HttpMethod::Delete {
                refusals.push(("409", "The object cannot be deleted as it is (a service account with usable keys, the operator workspace); `detail` names what blocks it."));
            }
            let responses = &mut operation.responses.responses;
            for (status, description) in refusals {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            }
            for (status, response) in responses.iter_mut() {
                let utoipa::openapi::RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with('2') || status.starts_with('3') {
                    continue;
                }
                // Refusals annotated by hand carry `application/json`; they are problems.
                response.content.clear();
                response.content.insert(
                    "application/problem+json".to_owned(),
                    utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))),
                );
                if status == "429" || status == "503" || status == "409" {
                    response.headers.insert(
                        "Retry-After".to_owned(),
                        utoipa::openapi::HeaderBuilder::new()
                            .schema(integer_schema())
                            .description(Some("Seconds to wait before retrying."))
                            .build(),
                    );
                }
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .build()
        .into()
}

fn integer_schema() -> utoipa::openapi::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(0))
        .build()
        .into()
}

/// A field rule of `statuspulse_api::validate`, as the document states it.
#[derive(Clone, Copy)]
enum Rule {
    Pattern(&'static str),
    /// A string from a closed set.
    OneOf(&'static [&'static str]),
    /// Scope names from the catalog.
    Scope,
    /// A whole number within bounds.
    Within(i64, i64),
    /// A list whose items follow a rule, with at least and at most so many items.
    List(&'static Rule, usize, Option<usize>),
}

const ENVIRONMENTS: &[&str] = &["live", "test"];
/// `statuspulse_api::scopes::OAUTH_SCOPES`, by name (a test keeps the two equal).
const OAUTH_SCOPE_NAMES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "statuspulse:checks:read",
    "statuspulse:alerts:manage",
];
const KEY_STATUSES: &[&str] = &["active", "rotating", "expired", "revoked"];
/// No control character (`char::is_control`), as the request screen requires of every query
/// parameter.
const NO_CONTROL: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";

/// The rules of the request bodies' fields, by schema and property: the same functions the
/// handlers call (named beside each), so what the document allows the handler accepts. A string
/// or list property of a request body that is not here is free text the server takes as it is;
/// `hygiene::every_request_field_has_its_rule` keeps this table complete.
fn field_rules() -> Vec<(&'static str, &'static str, Rule)> {
    use statuspulse_api::validate::{
        patterns, MAX_GRACE_HOURS, MAX_LIFETIME_DAYS, MAX_RESTRICTION_IDS,
    };
    const NAME: Rule = Rule::Pattern(patterns::NAME); // validate::name
    const DESCRIPTION: Rule = Rule::Pattern(patterns::DESCRIPTION); // validate::description
    const CLUSTER: Rule = Rule::Pattern(patterns::CLUSTER_NAME); // validate::cluster_name
    const ID: Rule = Rule::Pattern(patterns::ID); // validate::restriction_id
    const ENVIRONMENT: Rule = Rule::OneOf(ENVIRONMENTS); // validate::environment
    const SIGNING_ALG: Rule = Rule::OneOf(statuspulse_api::v1::SigningAlg::NAMES); // validate::signing_alg
    static SCOPE: Rule = Rule::Scope;
    static OAUTH_SCOPE_ITEM: Rule = Rule::OneOf(OAUTH_SCOPE_NAMES);
    // validate::redirect_uris: https, or http on a loopback address; no fragment.
    static REDIRECT_ITEM: Rule = Rule::Pattern(
        "^(https://[^#\\s]+|http://(127(\\.[0-9]{1,3}){3}|\\[::1\\]|localhost)(:[0-9]+)?(/[^#\\s]*)?)$",
    );
    static CLUSTER_ITEM: Rule = CLUSTER;
    static ID_ITEM: Rule = ID;
    // validate::access_policy: each condition list bounded; items as below.
    static GROUP_ITEM: Rule = NAME;
    static CLIENT_ID_ITEM: Rule = Rule::Pattern("^oc_[A-Za-z0-9_-]{1,128}$");
    static AMR_ITEM: Rule = Rule::Pattern("^[A-Za-z0-9._-]{1,32}$");
    // validate::cidr also wants the canonical form (no host bits), which a pattern cannot say.
    static CIDR_ITEM: Rule =
        Rule::Pattern("^([0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9a-f:.]{2,45}/[0-9]{1,3})$");
    static REGION_ITEM: Rule = Rule::Pattern("^[a-z0-9_-]{1,64}$"); // validate::region
                                                                    // validate::https_url (the issuer: https, or http on loopback; no query or fragment).
    const ISSUER: &str = "^(https://[^?#\\s]+|http://(127(\\.[0-9]{1,3}){3}|\\[::1\\]|localhost)(:[0-9]+)?(/[^?#\\s]*)?)$";
    // validate::opaque: 1 to 512 characters, no control characters.
    const OPAQUE: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,512}$";
    use statuspulse_api::v1::workload_identities::{
        MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS,
    };
    // validate::event_type_pattern: `*`, a family `auth.*`, or an exact type.
    static EVENT_TYPE_ITEM: Rule = Rule::Pattern("^(\\*|[a-z_]{1,64}\\.(\\*|[a-z_]{1,64}))$");
    use statuspulse_api::v1::audit::{MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
    let scopes = Rule::List(&SCOPE, 1, None); // validate::scopes
    let clusters = Rule::List(&CLUSTER_ITEM, 0, None); // validate::cluster_names
    let ids = Rule::List(&ID_ITEM, 0, Some(MAX_RESTRICTION_IDS)); // validate::restriction_ids
    let redirect_uris = Rule::List(
        &REDIRECT_ITEM,
        1,
        Some(statuspulse_api::v1::oauth_clients::MAX_REDIRECT_URIS),
    );
    let oauth_scopes = Rule::List(&OAUTH_SCOPE_ITEM, 1, None);
    let max = Some(statuspulse_api::v1::access_policies::MAX_CONDITION_ENTRIES);
    let mut policy_rules = vec![];
    for schema in ["CreateAccessPolicy", "UpdateAccessPolicy"] {
        policy_rules.extend([
            (schema, "name", NAME),
            (schema, "description", DESCRIPTION),
            (schema, "scopes", oauth_scopes),
            (schema, "groups", Rule::List(&GROUP_ITEM, 0, max)),
            (schema, "client_ids", Rule::List(&CLIENT_ID_ITEM, 0, max)),
            (schema, "amr", Rule::List(&AMR_ITEM, 0, max)),
            (schema, "networks", Rule::List(&CIDR_ITEM, 0, max)),
            (schema, "regions", Rule::List(&REGION_ITEM, 0, max)),
        ]);
    }
    let event_types = Rule::List(
        &EVENT_TYPE_ITEM,
        1,
        Some(statuspulse_api::v1::audit_sinks::MAX_EVENT_TYPES),
    );
    policy_rules.extend(vec![
        ("CreateAuditSink", "name", NAME),
        ("CreateAuditSink", "event_types", event_types),
        ("UpdateAuditSink", "name", NAME),
        ("UpdateAuditSink", "event_types", event_types),
        ("ReplayAuditSink", "from_seq", Rule::Within(1, i64::MAX)),
        (
            "RevokeApiKey",
            "grace_period_hours",
            Rule::Within(0, MAX_GRACE_HOURS),
        ),
        (
            "UpdateAuditSettings",
            "retention_days",
            Rule::Within(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS),
        ),
        ("UpdateAuditSettings", "default_event_types", event_types),
        ("CreateOAuthClient", "name", NAME),
        ("CreateOAuthClient", "redirect_uris", redirect_uris),
        ("CreateOAuthClient", "allowed_scopes", oauth_scopes),
        ("CreateOAuthClient", "signing_alg", SIGNING_ALG),
        ("UpdateOAuthClient", "name", NAME),
        ("UpdateOAuthClient", "redirect_uris", redirect_uris),
        ("UpdateOAuthClient", "allowed_scopes", oauth_scopes),
        ("UpdateOAuthClient", "signing_alg", SIGNING_ALG),
        ("RevokeAllSessions", "user_id", ID),
        ("RevokeAllSessions", "api_key_id", ID),
        ("CreateServiceAccount", "name", NAME),
        ("CreateServiceAccount", "description", DESCRIPTION),
        ("UpdateServiceAccount", "name", NAME),
        ("UpdateServiceAccount", "description", DESCRIPTION),
        ("CreateApiKey", "name", NAME),
        ("CreateApiKey", "environment", ENVIRONMENT),
        ("CreateApiKey", "scopes", scopes),
        ("CreateApiKey", "check_group_ids", ids),
        ("CreateApiKey", "alert_route_ids", ids),
        ("CreateApiKey", "environment_clusters", clusters),
        (
            "CreateApiKey",
            "rotation_days",
            Rule::Within(1, MAX_LIFETIME_DAYS),
        ),
        (
            "CreateApiKey",
            "expires_in_days",
            Rule::Within(1, MAX_LIFETIME_DAYS),
        ),
        ("UpdateApiKey", "name", NAME),
        ("UpdateApiKey", "scopes", scopes),
        ("UpdateApiKey", "check_group_ids", ids),
        ("UpdateApiKey", "alert_route_ids", ids),
        ("UpdateApiKey", "environment_clusters", clusters),
        (
            "RotateApiKey",
            "grace_period_hours",
            Rule::Within(0, MAX_GRACE_HOURS),
        ),
        ("CreateRoleBinding", "group", NAME),
        ("CreateRoleBinding", "scopes", scopes),
        ("CreateRoleBinding", "environment_clusters", clusters),
        ("UpdateRoleBinding", "scopes", scopes),
        ("UpdateRoleBinding", "environment_clusters", clusters),
        ("CreateEnvironmentCluster", "name", CLUSTER),
        ("CreateEnvironmentCluster", "environment", ENVIRONMENT),
        ("CreateEnvironmentCluster", "description", DESCRIPTION),
        ("UpdateEnvironmentCluster", "description", DESCRIPTION),
        ("CreateSsoConnection", "name", NAME),
        (
            "CreateSsoConnection",
            "kind",
            Rule::OneOf(statuspulse_api::v1::sso_connections::KINDS),
        ),
        ("UpdateSsoConnection", "name", NAME),
        (
            "UpdateSsoConnection",
            "kind",
            Rule::OneOf(statuspulse_api::v1::sso_connections::KINDS),
        ),
        ("CreateWorkspace", "name", NAME),
        ("UpdateWorkspace", "name", NAME),
        ("CreateWorkloadIdentity", "name", NAME),
        ("CreateWorkloadIdentity", "issuer", Rule::Pattern(ISSUER)),
        ("CreateWorkloadIdentity", "audience", Rule::Pattern(OPAQUE)),
        ("CreateWorkloadIdentity", "scopes", scopes),
        (
            "CreateWorkloadIdentity",
            "token_lifetime_seconds",
            Rule::Within(MIN_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_LIFETIME_SECONDS),
        ),
        ("UpdateWorkloadIdentity", "name", NAME),
        ("UpdateWorkloadIdentity", "audience", Rule::Pattern(OPAQUE)),
        ("UpdateWorkloadIdentity", "scopes", scopes),
        (
            "UpdateWorkloadIdentity",
            "token_lifetime_seconds",
            Rule::Within(MIN_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_LIFETIME_SECONDS),
        ),
    ]);
    // validate::anomaly_rule (a threshold is also refused for a kind that takes none).
    {
        use statuspulse_api::v1::anomaly_rules::{
            MAX_KEY_AGE_HOURS, MAX_THRESHOLD, MAX_WINDOW_MINUTES,
        };
        policy_rules.extend([
            ("CreateAnomalyRule", "name", NAME),
            (
                "CreateAnomalyRule",
                "kind",
                Rule::OneOf(statuspulse_api::v1::AnomalyKind::NAMES),
            ),
            ("UpdateAnomalyRule", "name", NAME),
        ]);
        for schema in ["CreateAnomalyRule", "UpdateAnomalyRule"] {
            policy_rules.extend([
                (schema, "threshold", Rule::Within(1, MAX_THRESHOLD)),
                (
                    schema,
                    "window_minutes",
                    Rule::Within(1, MAX_WINDOW_MINUTES),
                ),
                (
                    schema,
                    "min_key_age_hours",
                    Rule::Within(0, MAX_KEY_AGE_HOURS),
                ),
            ]);
        }
    }
    policy_rules
}

/// Writes [`field_rules`] into the request schemas, and the id pattern into every path id.
fn document_field_rules(document: &mut utoipa::openapi::OpenApi) {
    use statuspulse_api::validate::patterns;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::RefOr;
    let request_schemas: Vec<String> = document
        .paths
        .paths
        .values()
        .flat_map(|item| [&item.post, &item.put, &item.patch])
        .flatten()
        .filter_map(|operation| operation.request_body.as_ref())
        .flat_map(|body| body.content.values())
        .filter_map(|content| match &content.schema {
            Some(RefOr::Ref(reference)) => {
                reference.ref_location.rsplit('/').next().map(str::to_owned)
            }
            _ => None,
        })
        .collect();
    if let Some(components) = document.components.as_mut() {
        // The body parser's rule holds for every string of every body; the table below narrows
        // the fields that have a rule of their own.
        for name in &request_schemas {
            if let Some(RefOr::T(utoipa::openapi::Schema::Object(object))) =
                components.schemas.get_mut(name)
            {
                for property in object.properties.values_mut() {
                    if let RefOr::T(property) = property {
                        apply(property, Rule::Pattern(patterns::TEXT));
                    }
                }
            }
        }
        for (schema, property, rule) in field_rules() {
            let Some(RefOr::T(utoipa::openapi::Schema::Object(object))) =
                components.schemas.get_mut(schema)
            else {
                continue;
            };
            if let Some(RefOr::T(target)) = object.properties.get_mut(property) {
                apply(target, rule);
            }
        }
    }
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for parameter in operation.parameters.iter_mut().flatten() {
                let rule = match (&parameter.parameter_in, parameter.name.as_str()) {
                    (ParameterIn::Path, "id") => Rule::Pattern(patterns::ID),
                    // `store::is_valid_key`: 1 to 255 visible ASCII characters.
                    (ParameterIn::Header, "Idempotency-Key") => Rule::Pattern("^[!-~]{1,255}$"),
                    (ParameterIn::Query, "status") => Rule::OneOf(KEY_STATUSES),
                    (ParameterIn::Query, "outcome") => Rule::OneOf(&["success", "failure"]),
                    (ParameterIn::Query, "environment") => Rule::OneOf(ENVIRONMENTS),
                    (ParameterIn::Query, "scope") => Rule::Scope,
                    // The request screen refuses a control character in any query parameter.
                    (ParameterIn::Query, _) => Rule::Pattern(NO_CONTROL),
                    _ => continue,
                };
                if let Some(RefOr::T(schema)) = parameter.schema.as_mut() {
                    let utoipa::openapi::Schema::Object(object) = schema else {
                        continue;
                    };
                    let free_text = object.pattern.is_none()
                        && object.enum_values.is_none()
                        && matches!(
                            object.schema_type,
                            utoipa::openapi::schema::SchemaType::Type(
                                utoipa::openapi::schema::Type::String
                            )
                        );
                    if free_text || !matches!(rule, Rule::Pattern(NO_CONTROL)) {
                        apply(schema, rule);
                    }
                }
            }
        }
    }
}

/// Constrains one property's schema by `rule`. Nullable properties (`type: [string, null]`)
/// keep their null.
fn apply(schema: &mut utoipa::openapi::Schema, rule: Rule) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::RefOr;
    match (schema, rule) {
        (Schema::Object(object), Rule::Pattern(pattern)) if is_string(object) => {
            object.pattern = Some(pattern.to_owned());
        }
        // A list of strings: the rule holds for each.
        (Schema::Array(array), Rule::Pattern(pattern)) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                if let RefOr::T(items) = items.as_mut() {
                    apply(items, Rule::Pattern(pattern));
                }
            }
        }
        (Schema::Object(object), Rule::OneOf(values)) => {
            object.enum_values = Some(values.iter().map(|v| (*v).into()).collect());
        }
        (Schema::Object(object), Rule::Scope) => {
            object.enum_values = Some(
                statuspulse_api::Scope::ALL
                    .iter()
                    .map(|s| s.as_str().into())
                    .collect(),
            );
        }
        (Schema::Object(object), Rule::Within(min, max)) => {
            object.minimum = Some(min.into());
            object.maximum = Some(max.into());
        }
        (Schema::Array(array), Rule::List(item, min, max)) => {
            array.min_items = Some(min);
            array.max_items = max;
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                if let RefOr::T(items) = items.as_mut() {
                    apply(items, *item);
                }
            }
        }
        // `Option<Vec<_>>` is `oneOf: [array, null]`.
        (Schema::OneOf(one_of), rule) => {
            for variant in &mut one_of.items {
                if let RefOr::T(variant) = variant {
                    apply(variant, rule);
                }
            }
        }
        _ => {}
    }
}

/// Whether a schema is a string (or a nullable one).
fn is_string(object: &utoipa::openapi::schema::Object) -> bool {
    use utoipa::openapi::schema::{SchemaType, Type};
    match &object.schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_oauth_scopes_are_the_server_s() {
        let names: Vec<&str> = statuspulse_api::scopes::OAUTH_SCOPES
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, super::OAUTH_SCOPE_NAMES);
    }
}
