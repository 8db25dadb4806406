//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations, then
//! completed from what the layers in front of the handlers do (their refusals), the validators'
//! field rules, the body shapes ([`shapes`]) and the links between operations ([`links`]).
//! `server/tests/api/contract.rs` holds the server to it with Schemathesis.

mod links;
mod shapes;

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

/// The whole document (OpenAPI 3.1), built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = crate::router::routes().into_openapi();
        document_refusals(&mut document);
        document_field_rules(&mut document);
        // What utoipa's types cannot hold (`oneOf` beside `properties`, links) is added to the
        // JSON.
        let mut document = serde_json::to_value(&document).unwrap_or_default();
        shapes::apply(&mut document);
        links::add(&mut document);
        share_schemas(&mut document);
        document_browser_pages(&mut document);
        headers_are_never_null(&mut document);
        document_rate_limit_headers(&mut document);
        document
    })
}

/// Every answer to an authenticated request whose key was counted carries its budget
/// (`platform::rate_limit::Decision::write_headers`, IETF draft RateLimit header fields):
/// `RateLimit-Policy` (the tier's quota per window) and `RateLimit` (remaining, and seconds until
/// full). An answer given before the key is known (a malformed credential) has neither, so they
/// are documented, not required.
fn document_rate_limit_headers(document: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let headers = json!({
        "RateLimit-Policy": {
            "description": "The key's quota: `\"<tier>\";q=<requests>;w=60`.",
            "schema": {"type": "string"},
        },
        "RateLimit": {
            "description": "What is left of it: `\"<tier>\";r=<remaining>;t=<seconds until full>`.",
            "schema": {"type": "string"},
        },
    });
    for (_, operation) in operations_mut(document) {
        let authenticated = operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        if !authenticated {
            continue;
        }
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for response in responses.values_mut() {
            let Some(response) = response.as_object_mut() else {
                continue;
            };
            let documented = response.entry("headers").or_insert_with(|| json!({}));
            if let (Some(documented), Some(headers)) =
                (documented.as_object_mut(), headers.as_object())
            {
                for (name, header) in headers {
                    documented
                        .entry(name.clone())
                        .or_insert_with(|| header.clone());
                }
            }
        }
    }
}

/// Every operation of the document with its path (`paths` → item → method), for the passes
/// that complete the document as JSON.
fn operations_mut(
    document: &mut serde_json::Value,
) -> impl Iterator<Item = (&str, &mut serde_json::Map<String, serde_json::Value>)> {
    document
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .flat_map(|(path, item)| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|item| item.values_mut())
                .filter_map(serde_json::Value::as_object_mut)
                .map(move |operation| (path.as_str(), operation))
        })
}

/// An optional header (`Option<String>` in an annotation) is absent or a string: a header has no
/// null, and generated clients would type it `str | None | Unset`.
fn headers_are_never_null(document: &mut serde_json::Value) {
    for (_, operation) in operations_mut(document) {
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(serde_json::Value::as_array_mut)
        else {
            continue;
        };
        for parameter in parameters {
            if parameter.get("in") == Some(&serde_json::json!("header")) {
                if let Some(schema) = parameter.get_mut("schema") {
                    if schema.get("type") == Some(&serde_json::json!(["string", "null"])) {
                        schema["type"] = serde_json::json!("string");
                    }
                }
            }
        }
    }
}

/// Names what the document would otherwise repeat: a list page's items are its object's schema
/// (`Page_ServiceAccount.items` → `ServiceAccount`), and every closed set written out in full
/// (the scope catalog, the environments) is its one named schema. Generated clients then have
/// one `ServiceAccount` and one `Scope` type instead of a copy per use.
fn share_schemas(document: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in &names {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if schemas.contains_key(item) {
            if let Some(items) = schemas
                .get_mut(name)
                .and_then(|page| page.pointer_mut("/properties/items/items"))
            {
                *items = json!({"$ref": format!("#/components/schemas/{item}")});
            }
        }
    }
    let scopes: Vec<Value> = statuspulse_api::Scope::ALL
        .iter()
        .map(|s| s.as_str().into())
        .collect();
    schemas.insert(
        "Scope".into(),
        json!({"type": "string", "enum": scopes,
               "description": "A scope of the catalog (`GET /v1/scopes` describes each)."}),
    );
    // The named sets are taken out while their uses are replaced, then put back.
    let named: Vec<(String, Value)> = ["Scope", "Environment"]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), schemas.remove(name)?)))
        .collect();
    let sets: Vec<(String, Value)> = named
        .iter()
        .filter_map(|(name, schema)| Some((name.clone(), schema.get("enum")?.clone())))
        .collect();
    replace_closed_sets(document, &sets);
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.extend(named);
    }
}

/// Replaces each schema whose `enum` is exactly one of `sets` by a reference to it, keeping its
/// description.
fn replace_closed_sets(value: &mut serde_json::Value, sets: &[(String, serde_json::Value)]) {
    use serde_json::{json, Value};
    match value {
        Value::Object(object) => {
            let named = object
                .get("enum")
                .and_then(|e| sets.iter().find(|(_, set)| set == e));
            if let Some((name, _)) = named {
                let mut reference = serde_json::Map::new();
                reference.insert("$ref".into(), json!(format!("#/components/schemas/{name}")));
                if let Some(description) = object.get("description") {
                    reference.insert("description".into(), description.clone());
                }
                *object = reference;
                return;
            }
            for child in object.values_mut() {
                replace_closed_sets(child, sets);
            }
        }
        Value::Array(items) => {
            for item in items {
                replace_closed_sets(item, sets);
            }
        }
        _ => {}
    }
}

/// The sign-in endpoints a person's browser is sent to: their failures are a page for that
/// person (`signin::pages::failure`), while the layers in front of them (body limits, query
/// screen) answer problem documents, so both are documented.
pub const BROWSER_PATHS: &[&str] = &[
    "/oauth2/authorize",
    "/oauth2/callback",
    "/v1/sso/login",
    "/v1/sso/saml/acs",
];

/// Query parameters whose rules the annotations do not state: the browser endpoints' (which
/// are required: the handlers take every parameter as optional so that a missing one gets the
/// page or redirect RFC 6749 asks for, rather than a bare 400), and effective access's
/// circumstances.
fn query_parameters() -> Vec<(&'static str, &'static str, bool, serde_json::Value)> {
    use serde_json::json;
    let minted = |prefix: &str| json!({"type": "string", "pattern": format!("^{prefix}_[0-9a-fA-F]{{{}}}$", statuspulse_api::ids::MINTED_BODY_LEN)});
    vec![
        // oauth::authorize: the authorization code flow with PKCE (S256) only.
        (
            "/oauth2/authorize",
            "response_type",
            true,
            json!({"type": "string", "enum": ["code"]}),
        ),
        (
            "/oauth2/authorize",
            "client_id",
            true,
            minted(statuspulse_api::ids::OAUTH_CLIENT),
        ),
        (
            "/oauth2/authorize",
            "redirect_uri",
            true,
            json!({"type": "string", "format": "uri"}),
        ),
        (
            "/oauth2/authorize",
            "code_challenge",
            true,
            json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
        ),
        (
            "/oauth2/authorize",
            "code_challenge_method",
            true,
            json!({"type": "string", "enum": ["S256"]}),
        ),
        // Space-separated OAuth scopes (`statuspulse_api::scopes::OAUTH_SCOPES`).
        (
            "/oauth2/authorize",
            "scope",
            false,
            json!({"type": "string", "pattern": format!(
                "^({names})( ({names}))*$",
                names = OAUTH_SCOPE_NAMES.join("|"),
            )}),
        ),
        (
            "/oauth2/authorize",
            "state",
            false,
            json!({"type": "string", "maxLength": 1024, "pattern": NO_CONTROL}),
        ),
        (
            "/oauth2/authorize",
            "nonce",
            false,
            json!({"type": "string", "maxLength": 1024, "pattern": NO_CONTROL}),
        ),
        (
            "/oauth2/authorize",
            "connection",
            false,
            minted(statuspulse_api::ids::SSO_CONNECTION),
        ),
        // signin::flow::callback: the state our login set.
        (
            "/oauth2/callback",
            "state",
            true,
            json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,256}$"}),
        ),
        // management::effective_access: an IP address, a region (validate::region).
        (
            "/v1/effective-access",
            "ip",
            false,
            json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
        ),
        (
            "/v1/effective-access",
            "region",
            false,
            json!({"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}),
        ),
        // signin::flow::login.
        (
            "/v1/sso/login",
            "connection",
            false,
            minted(statuspulse_api::ids::SSO_CONNECTION),
        ),
        (
            "/v1/sso/login",
            "email",
            false,
            json!({"type": "string", "format": "email", "maxLength": 254}),
        ),
        // signin::flow::return_to: a path of this server.
        (
            "/v1/sso/login",
            "return_to",
            false,
            json!({"type": "string", "maxLength": 2048, "pattern": RETURN_TO}),
        ),
    ]
}

fn document_browser_pages(document: &mut serde_json::Value) {
    for (path, name, required, schema) in query_parameters() {
        let pointer = format!("/paths/{}/get/parameters", path.replace('/', "~1"));
        let Some(parameters) = document
            .pointer_mut(&pointer)
            .and_then(serde_json::Value::as_array_mut)
        else {
            continue;
        };
        for parameter in parameters {
            if parameter.get("name") == Some(&serde_json::json!(name)) {
                parameter["required"] = serde_json::Value::Bool(required);
                parameter["schema"] = schema.clone();
            }
        }
    }
    for (_, operation) in operations_mut(document).filter(|(path, _)| BROWSER_PATHS.contains(path))
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            // A connection test's report (200) and every refusal are pages too; redirects and
            // other successes have no body.
            let page = match status.as_str() {
                "200" => "The connection test's report, as a page.",
                s if s.starts_with('2') || s.starts_with('3') => continue,
                _ => "A page for the person: what went wrong, what to do, and the stable code for their administrator.",
            };
            if let Some(content) = response
                .get_mut("content")
                .and_then(serde_json::Value::as_object_mut)
            {
                content.insert(
                    "text/html".into(),
                    serde_json::json!({"schema": {"type": "string", "description": page}}),
                );
            }
        }
    }
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
            if method == HttpMethod::Patch {
                refusals.push(("409", "A name already taken, or a change the object's state does not allow (a revoked key); `code` says which."));
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
    /// An id of one kind as the server mints them (`sa_` and 32 hex digits, `ids::is_minted`).
    Id(&'static str),
    /// An audit event type pattern: `*`, a family (`auth.*`) or a type the server records.
    EventType,
    /// validate::opaque: 1 to so many bytes (characters, in the document), no control
    /// character, no white space at either end.
    Opaque(usize),
    /// An RFC 3339 time.
    DateTime,
}

/// signin::flow::return_to: a path of this server (no `//` or `\` a browser would read as
/// another host, no white space or control character), at most 2,048 characters.
const RETURN_TO: &str = "^(?=[\\s\\S]{1,2048}$)/(?![/\\\\])[^\\\\\\s\\x00-\\x1f\\x7f-\\x9f]*$";
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
/// validate::host_name: lowercase DNS labels, at least two, a top-level label not all digits.
const HOST: &str = "^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+(?![0-9]+$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
/// `patterns::NAME` as a query parameter: no tab or line break (the request screen refuses
/// every control character in a query).
static QUERY_NAME: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| statuspulse_api::validate::patterns::NAME.replace("\\t\\n\\r", ""));
/// `patterns::NAME` without its surrounding white space: a name that is stored as written
/// (a test keeps the two in step).
const TRIMMED_NAME: &str = "^[^\\x00-\\x20\\x7f-\\xa0\\xad\\u1680\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u2069\\u3000\\ufeff](?:[^\\x00-\\x1f\\x7f-\\x9f\\xad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]{0,198}[^\\x00-\\x20\\x7f-\\xa0\\xad\\u1680\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u2069\\u3000\\ufeff])?$";
/// validate::opaque: no control character, no white space at either end; at most 256
/// characters (the shortest limit, 256 bytes, in ASCII).
const OPAQUE_TRIMMED: &str = "^(?=.{1,256}$)[^\\s\\x00-\\x1f\\x7f-\\x9f\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000](?:[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?$";

/// The rules of the request bodies' fields, by schema and property: the same functions the
/// handlers call (named beside each), so what the document allows the handler accepts. A string
/// or list property of a request body that is not here is free text the server takes as it is;
/// `hygiene::every_request_field_has_its_rule` keeps this table complete.
fn field_rules() -> Vec<(&'static str, &'static str, Rule)> {
    use statuspulse_api::ids;
    use statuspulse_api::validate;
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
        "^(https://[^#\\s\\x00-\\x1f\\x7f-\\x9f]+|http://(127(\\.[0-9]{1,3}){3}|\\[::1\\]|localhost)(:[0-9]+)?(/[^#\\s\\x00-\\x1f\\x7f-\\x9f]*)?)$",
    );
    static CLUSTER_ITEM: Rule = CLUSTER;
    static ID_ITEM: Rule = ID;
    // validate::access_policy: each condition list bounded; items as below.
    // validate::access_policy and validate::group_mappings: a name stored as written, so
    // without surrounding spaces.
    static GROUP_ITEM: Rule = Rule::Pattern(TRIMMED_NAME);
    static CLIENT_ID_ITEM: Rule = Rule::Pattern("^oc_[A-Za-z0-9_-]{1,128}$");
    static AMR_ITEM: Rule = Rule::Pattern("^[A-Za-z0-9._-]{1,32}$");
    // validate::cidr also wants the canonical form (no host bits), which a pattern cannot say.
    static CIDR_ITEM: Rule =
        Rule::Pattern("^([0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9a-f:.]{2,45}/[0-9]{1,3})$");
    static REGION_ITEM: Rule = Rule::Pattern("^[a-z0-9_-]{1,64}$"); // validate::region
                                                                    // validate::https_url (the issuer: https, or http on loopback; no query or fragment).
    const ISSUER: &str = "^(https://[^?#\\s\\x00-\\x1f\\x7f-\\x9f]+|http://(127(\\.[0-9]{1,3}){3}|\\[::1\\]|localhost)(:[0-9]+)?(/[^?#\\s\\x00-\\x1f\\x7f-\\x9f]*)?)$";
    // validate::opaque: 1 to 512 characters, no control characters.
    const OPAQUE: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,512}$";
    use statuspulse_api::v1::workload_identities::{
        MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS,
    };
    // validate::event_type_pattern: `*`, a family `auth.*`, or an exact type.
    static EVENT_TYPE_ITEM: Rule = Rule::EventType;
    use statuspulse_api::v1::audit::{MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
    // validate::guid, validate::host_name, validate::scope_token.
    static GUID_ITEM: Rule =
        Rule::Pattern("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
    static HOST_ITEM: Rule = Rule::Pattern(HOST);
    static TOKEN_ITEM: Rule = Rule::Pattern("^[!#-\\[\\]-~]{1,256}$");
    // validate::opaque: 1 to N bytes, no control character, no surrounding spaces.
    static OPAQUE_ITEM: Rule = Rule::Pattern(OPAQUE_TRIMMED);
    let scopes = Rule::List(&SCOPE, 1, None); // validate::scopes
    let mut sso_rules = Vec::new();
    for schema in ["CreateSsoConnection", "UpdateSsoConnection"] {
        sso_rules.extend([
            (
                schema,
                "email_domains",
                Rule::List(&HOST_ITEM, 0, Some(validate::MAX_EMAIL_DOMAINS)),
            ),
            (
                schema,
                "scopes",
                Rule::List(&TOKEN_ITEM, 1, Some(validate::MAX_SSO_TOKENS)),
            ),
            (
                schema,
                "acr_values",
                Rule::List(&TOKEN_ITEM, 0, Some(validate::MAX_SSO_TOKENS)),
            ),
            (schema, "allowed_groups", Rule::List(&OPAQUE_ITEM, 0, None)),
            (schema, "client_id", Rule::Opaque(512)),
            // validate::client_secret: 1 to 4096 bytes, no control character.
            (
                schema,
                "client_secret",
                Rule::Pattern("^[^\\x00-\\x1f\\x7f-\\x9f]{1,4096}$"),
            ),
            // validate::https_url.
            (schema, "endpoint_override", Rule::Pattern(ISSUER)),
        ]);
    }
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
        // validate::aws_region and validate::log_name.
        (
            "CloudWatchSettingsInput",
            "region",
            Rule::Pattern("^(?=.{1,32}$)[a-z]+(-[a-z]+)+-[0-9]+$"),
        ),
        (
            "CloudWatchSettingsInput",
            "log_group",
            Rule::Pattern("^[A-Za-z0-9._/#-]{1,512}$"),
        ),
        (
            "CloudWatchSettingsInput",
            "log_stream",
            Rule::Pattern("^[A-Za-z0-9._/#=@+,-]{1,512}$"),
        ),
        ("SamlSettings", "idp_entity_id", Rule::Opaque(1024)),
        ("SamlSettings", "groups_attribute", Rule::Opaque(256)),
        ("OktaSettings", "domain", Rule::Pattern(HOST)),
        (
            "OktaSettings",
            "authorization_server_id",
            Rule::Pattern("^[A-Za-z0-9]{1,64}$"),
        ),
        (
            "AzureAdSettings",
            "tenant_id",
            Rule::Pattern(
                "^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|common|organizations)$",
            ),
        ),
        (
            "AzureAdSettings",
            "allowed_tenants",
            Rule::List(&GUID_ITEM, 0, Some(validate::MAX_GROUPS)),
        ),
        (
            "CloudWatchSettingsInput",
            "access_key_id",
            Rule::Pattern("^[A-Z0-9]{16,128}$"),
        ),
        (
            "CloudWatchSettingsInput",
            "secret_access_key",
            Rule::Pattern("^[!-~]{16,128}$"),
        ),
        (
            "CloudWatchSettingsInput",
            "role_arn",
            Rule::Pattern("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"),
        ),
        (
            "CloudWatchSettingsInput",
            "external_id",
            Rule::Pattern("^[A-Za-z0-9+=,.@:/_-]{2,1224}$"),
        ),
        ("OidcSettings", "issuer", Rule::Pattern(ISSUER)),
        (
            "OneLoginSettings",
            "subdomain",
            Rule::Pattern("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ),
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
        ("StartSsoConnectionTest", "return_to", Rule::Pattern(RETURN_TO)),
        ("RevokeAllSessions", "user_id", Rule::Id(ids::USER)),
        ("RevokeAllSessions", "api_key_id", Rule::Id(ids::API_KEY)),
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
            "service_account_id",
            Rule::Id(ids::SERVICE_ACCOUNT),
        ),
        (
            "CreateRoleBinding",
            "service_account_id",
            Rule::Id(ids::SERVICE_ACCOUNT),
        ),
        (
            "CreateWorkloadIdentity",
            "service_account_id",
            Rule::Id(ids::SERVICE_ACCOUNT),
        ),
        ("RevokeApiKey", "id", Rule::Id(ids::API_KEY)),
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
    policy_rules.extend(sso_rules);
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
        // The schemas a request body refers to (`webhook: WebhookSettingsInput`) are bodies too.
        let mut request_schemas = request_schemas;
        let mut i = 0;
        while i < request_schemas.len() {
            if let Some(schema) = components.schemas.get(&request_schemas[i]) {
                let text = serde_json::to_string(schema).unwrap_or_default();
                for reference in text.split("\"#/components/schemas/").skip(1) {
                    let name = reference.split('"').next().unwrap_or_default().to_owned();
                    if !request_schemas.contains(&name) {
                        request_schemas.push(name);
                    }
                }
            }
            i += 1;
        }
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
                    (ParameterIn::Query, "since" | "until") => Rule::DateTime,
                    // A name, without the tab and line breaks the query screen refuses.
                    (ParameterIn::Query, "group") => Rule::Pattern(QUERY_NAME.as_str()),
                    (ParameterIn::Query, "user_id") => Rule::Id(statuspulse_api::ids::USER),
                    (ParameterIn::Query, "service_account_id") => {
                        Rule::Id(statuspulse_api::ids::SERVICE_ACCOUNT)
                    }
                    (ParameterIn::Query, "api_key_id") => Rule::Id(statuspulse_api::ids::API_KEY),
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
        (Schema::Object(object), Rule::Id(prefix)) if is_string(object) => {
            object.pattern = Some(format!(
                "^{prefix}_[0-9a-fA-F]{{{}}}$",
                statuspulse_api::ids::MINTED_BODY_LEN
            ));
        }
        (Schema::Object(object), Rule::Opaque(max)) if is_string(object) => {
            object.pattern = Some(OPAQUE_TRIMMED.replace("{1,256}", &format!("{{1,{max}}}")));
        }
        (Schema::Object(object), Rule::EventType) => {
            // validate::event_type_pattern, and `sinks::known_patterns`: it must match a type
            // this server records.
            let types = crate::audit::EventType::ALL.iter().map(|t| t.as_str());
            let mut names: Vec<String> = std::iter::once("*".to_owned())
                .chain(
                    types
                        .clone()
                        .filter_map(|t| t.split_once('.'))
                        .map(|(family, _)| format!("{family}.*")),
                )
                .chain(types.map(str::to_owned))
                .collect();
            names.sort();
            names.dedup();
            object.pattern = None;
            object.enum_values = Some(names.into_iter().map(Into::into).collect());
        }
        (Schema::Object(object), Rule::DateTime) if is_string(object) => {
            object.pattern = None;
            object.format = Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            ));
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
    fn the_trimmed_name_is_the_name_without_its_white_space() {
        let name = statuspulse_api::validate::patterns::NAME;
        let space = &name[1..name.find("]*").unwrap() + 2];
        let core = &super::TRIMMED_NAME[1..super::TRIMMED_NAME.len() - 1];
        assert_eq!(name, format!("^{space}{core}{space}$"));
    }

    #[test]
    fn the_documented_oauth_scopes_are_the_server_s() {
        let names: Vec<&str> = statuspulse_api::scopes::OAUTH_SCOPES
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, super::OAUTH_SCOPE_NAMES);
    }
}
