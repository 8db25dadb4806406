//! SAML 2.0 sign-in, for connections of kind `saml` (legacy directories).
//!
//! `GET /v1/sso/login` sends the browser to the IdP with an AuthnRequest (HTTP-Redirect binding)
//! whose `RelayState` is the sign-in's state and whose ID the state row keeps; the IdP posts the
//! signed response to `POST /v1/sso/saml/acs` (HTTP-POST binding). There the state is taken
//! (single use, this browser), and the response is verified by the `statuspulse-saml` crate
//! (samael on xmlsec1; its docs say why that and not a pure-Rust library): signature by exactly
//! the connection's certificate over the very assertion whose data is used (the XSW defence),
//! `Issuer`, `Audience` (our entity id), `Recipient` and `Destination` (our ACS),
//! `InResponseTo` (this sign-in's request), `NotBefore`/`NotOnOrAfter` with 60 s of skew. The
//! assertion's id then goes into a replay cache until the assertion expires. MFA is the
//! `AuthnContextClassRef`: a multi-factor class (`statuspulse_saml::MFA_CONTEXT_CLASSES`) or one
//! the connection lists in `acr_values`. The rest (email domains, allowed groups, mappings, the
//! user and session, or a connection test's report) is the same as OIDC's ([`super::flow::conclude`]).
//!
//! An IdP asserts the email of its own directory; SAML has no `email_verified`, so an asserted
//! email counts as verified for `email_domains`.
//!
//! SP metadata (`GET /v1/sso-connections/{id}/saml/metadata`) is public, as IdP administrators
//! fetch it to register us.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use statuspulse_saml::{self as sp, IdpSettings, SpContext};

use super::flow::{self, Pending, Verified};
use super::{Identity, Refusal};
use crate::app::AppState;
use crate::audit::SYSTEM_CHAIN;
use crate::error::ApiError;
use crate::http::auth::record_failure;
use crate::management::sso_connections::{self, SAML_ACS_PATH};
use statuspulse_api::v1::SsoConnection;

pub fn new_request_id() -> String {
    sp::new_request_id()
}

fn idp_settings(connection: &SsoConnection) -> Result<IdpSettings, Refusal> {
    let saml = connection
        .saml
        .as_ref()
        .ok_or_else(|| Refusal::request("wrong_protocol", "this connection does not use SAML"))?;
    Ok(IdpSettings {
        entity_id: saml.idp_entity_id.clone(),
        sso_url: saml.idp_sso_url.clone(),
        certificate_pem: saml.idp_certificate.clone(),
        groups_attribute: saml.groups_attribute.clone(),
    })
}

/// Our entity id for the connection and our ACS URL.
fn sp_urls(state: &AppState, connection_id: &str) -> (String, String) {
    let public_url = state.public_url();
    (
        sso_connections::saml_entity_id(&public_url, connection_id),
        format!("{public_url}{SAML_ACS_PATH}"),
    )
}

/// The IdP's SSO URL with the AuthnRequest of this sign-in (asking for the connection's
/// `acr_values` as authentication contexts when it requires MFA).
pub fn request_url(
    state: &AppState,
    connection: &SsoConnection,
    request_id: &str,
    relay_state: &str,
) -> Result<String, Refusal> {
    let idp = idp_settings(connection)?;
    let (entity_id, acs_url) = sp_urls(state, &connection.id);
    let now = state.clock.now_ms() / 1000;
    let contexts = if connection.require_mfa {
        connection.acr_values.clone()
    } else {
        Vec::new()
    };
    let sp = SpContext {
        entity_id: &entity_id,
        acs_url: &acs_url,
        expected_request_id: Some(request_id),
        now_unix: now,
    };
    sp::authn_request_redirect_url(&idp, &sp, request_id, relay_state, &contexts, now)
        .map_err(|e| Refusal::idp("saml_request_failed", e.to_string()))
}

/// Our service provider metadata for a SAML connection: what its IdP registers.
#[utoipa::path(get, path = "/v1/sso-connections/{id}/saml/metadata", tag = "sign-in",
    params(("id" = String, Path)),
    responses((status = 200, description = "SAML 2.0 SP metadata", content_type = "application/samlmetadata+xml"),
        (status = 404, body = crate::error::Problem)))]
pub async fn metadata(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let found = match sso_connections::workspace_of(&state, &id).await {
        Ok(found) => found,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(workspace_id) = found else {
        return ApiError::not_found().into_response();
    };
    let connection = match sso_connections::load_for_sign_in(&state, &workspace_id, &id).await {
        Ok(signin) => signin.connection,
        Err(e) => return e.into_response(),
    };
    if connection.kind != "saml" {
        return ApiError::not_found().into_response();
    }
    let (entity_id, acs_url) = sp_urls(&state, &id);
    let mut response = sp::sp_metadata(&entity_id, &acs_url).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    response
}

/// The HTTP-POST binding's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AcsForm {
    /// The IdP's signed response, base64.
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    /// The state of the sign-in this answers.
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The assertion consumer: the IdP's signed response, posted by the browser. On success the
/// session cookie is set and the browser goes to `return_to` (303); otherwise a page says why.
#[utoipa::path(post, path = "/v1/sso/saml/acs", tag = "sign-in",
    request_body(content = AcsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to `return_to`, with the session cookie"),
        (status = 200, body = statuspulse_api::v1::SsoConnectionTestResult,
            description = "A connection test's report (`POST /v1/sso-connections/{id}/test`): \
                no user, no session"),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn acs(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let refusal = Refusal::request(
            "invalid_saml_post",
            "the identity provider's answer is not a SAML HTTP-POST form",
        );
        record_failure(&state, &parts, SYSTEM_CHAIN, None, None, refusal.code).await;
        return refusal.answer(&parts.headers);
    };
    let pending = match flow::take_state(&state, &parts, form.relay_state.as_deref()).await {
        Ok(pending) => pending,
        Err(refusal) => {
            record_failure(&state, &parts, SYSTEM_CHAIN, None, None, refusal.code).await;
            return refusal.answer(&parts.headers);
        }
    };
    let verified = verify(&state, form.saml_response, &pending).await;
    flow::conclude(&state, &parts, &pending, verified).await
}

/// The SAML half of a sign-in's return: the response's signature, conditions and subject
/// verified, and its assertion used once.
async fn verify(
    state: &AppState,
    saml_response: String,
    pending: &Pending,
) -> Result<Verified, Refusal> {
    let signin =
        sso_connections::load_for_sign_in(state, &pending.workspace_id, &pending.connection_id)
            .await?;
    let connection = signin.connection;
    let idp = idp_settings(&connection)?;
    let (entity_id, acs_url) = sp_urls(state, &connection.id);
    let request_id = pending
        .request_id
        .clone()
        .ok_or_else(|| Refusal::request("wrong_protocol", "this sign-in was not a SAML sign-in"))?;
    let now = state.clock.now_ms() / 1000;
    // XML signature verification is CPU work in a C library: off the async workers.
    let verified = tokio::task::spawn_blocking(move || {
        let sp = SpContext {
            entity_id: &entity_id,
            acs_url: &acs_url,
            expected_request_id: Some(&request_id),
            now_unix: now,
        };
        sp::verify_response(&idp, &sp, &saml_response)
    })
    .await
    .map_err(|e| Refusal::internal(format!("SAML verification task: {e}")))?;
    let identity = verified.map_err(|e| Refusal::token(e.code(), e.to_string()))?;

    // A replayed assertion is refused even within its validity (the state is single use too,
    // but an assertion must not open a second sign-in of another browser).
    let key = hex::encode(Sha256::digest(
        format!("{}\0{}", connection.id, identity.assertion_id).as_bytes(),
    ));
    let fresh = sqlx::query(
        "INSERT INTO saml_assertions_seen (assertion_hash, connection_id, expires_at) \
         VALUES ($1, $2, $3) ON CONFLICT (assertion_hash) DO NOTHING",
    )
    .bind(&key)
    .bind(&connection.id)
    .bind(identity.assertion_not_on_or_after.saturating_mul(1000))
    .execute(state.db.pool())
    .await?
    .rows_affected();
    if fresh == 0 {
        return Err(Refusal::token(
            "assertion_replayed",
            "this SAML assertion was already used to sign in",
        ));
    }

    let mfa = identity
        .authn_context_class
        .as_deref()
        .is_some_and(|class| {
            sp::is_mfa_context(class) || connection.acr_values.iter().any(|a| a == class)
        });
    let identity = Identity {
        subject: identity.subject,
        email_verified: identity.email.is_some(),
        email: identity.email,
        name: identity.name,
        groups: identity.groups,
        amr: Vec::new(),
        acr: identity.authn_context_class,
    };
    Ok(Verified {
        connection,
        identity,
        mfa,
    })
}
