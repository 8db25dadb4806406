//! The OpenAPI document, assembled from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "StatusPulse Auth", description = "API keys, service accounts, credential verification and audit."),
    paths(
        crate::verify::routes::verify_credential,
        crate::scopes_routes::list_scopes,
        crate::workspaces::create_workspace,
        crate::workspaces::list_workspaces,
        crate::workspaces::get_workspace,
        crate::workspaces::update_workspace,
        crate::workspaces::delete_workspace,
        crate::service_accounts::create_service_account,
        crate::service_accounts::list_service_accounts,
        crate::service_accounts::get_service_account,
        crate::service_accounts::update_service_account,
        crate::service_accounts::delete_service_account,
        crate::api_keys::routes::create_api_key,
        crate::api_keys::routes::list_api_keys,
        crate::api_keys::routes::get_api_key,
        crate::api_keys::routes::update_api_key,
        crate::api_keys::routes::rotate_api_key,
        crate::api_keys::routes::revoke_api_key,
        crate::audit::routes::list_audit_events,
        crate::audit::routes::verify_audit_chain,
        crate::environment_clusters::create_environment_cluster,
        crate::environment_clusters::list_environment_clusters,
        crate::environment_clusters::get_environment_cluster,
        crate::environment_clusters::update_environment_cluster,
        crate::environment_clusters::delete_environment_cluster,
        crate::role_bindings::create_role_binding,
        crate::role_bindings::list_role_bindings,
        crate::role_bindings::get_role_binding,
        crate::role_bindings::update_role_binding,
        crate::role_bindings::delete_role_binding,
        crate::access::effective::get_effective_access,
    ),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
