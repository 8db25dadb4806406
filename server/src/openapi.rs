//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What the document says besides its paths, which [`crate::http::routes`] registers with the
/// routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(title = "StatusPulse Auth", description = "API keys, service accounts, credential verification and audit."),
    components(schemas(crate::error::Problem)),
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
        document
    })
}

/// The refusals every operation can answer, whatever its handler says: they come from the
/// layers in front of it (the request screen, the `Caller` extractor, the JSON extractor, the
/// idempotency layer), so they are added here, once, from what the operation is (authenticated,
/// with a body, with a path id, a create) rather than repeated in every annotation. Every
/// refusal is `application/problem+json` with the `Problem` schema.
fn document_refusals(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::HttpMethod;
    for (path, item) in &mut document.paths.paths {
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
