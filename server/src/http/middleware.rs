//! Cross-cutting request handling: control characters in the URI, credentials outside the header,
//! authentication before bodies are read, body size, memory and time, rate-limit headers, one
//! error format, metrics and request logs.

use std::cell::RefCell;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{
    authenticate, bearer_credential, has_session_cookie, record_failure, Authenticated,
    RATE_LIMIT_DECISION,
};
use crate::app::AppState;
use crate::audit::SYSTEM_CHAIN;
use crate::authn::token::KeyRef;
use crate::error::ApiError;
use crate::platform::metrics::{method_label, RequestLabels, RouteLabels};

pub use crate::platform::config::MAX_BODY_BYTES;

/// Parameter and field names that look like a credential (compared case-insensitively).
const CREDENTIAL_NAMES: [&str; 5] = ["api_key", "apikey", "key", "token", "access_token"];

fn is_credential_name(name: &str) -> bool {
    CREDENTIAL_NAMES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// How the screen treats a route's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyPolicy {
    /// The management API: the Bearer credential is verified before the body is read, and a
    /// field named like a credential is refused (a key pasted into a body is a leaked key).
    BearerFirst,
    /// The OAuth 2.0 endpoints under `/oauth2/`: by protocol their form bodies carry credentials
    /// (`token` for RFC 7009 revocation and RFC 7662 introspection, `client_secret`, the RFC 8693
    /// `subject_token`), and the handler authenticates the client from the body. Such a body is
    /// read without a Bearer credential, but only up to [`OAUTH_BODY_LIMIT`].
    CredentialProtocol,
    /// The SAML assertion consumer: the IdP's signed response arrives as a form POST from the
    /// person's browser, which holds no credential of ours yet. Read up to
    /// [`SAML_BODY_LIMIT`]; the handler verifies the signature before anything else.
    SignInForm,
}

/// A base64 SAML response of at most 256 KiB decoded (statuspulse_saml::MAX_RESPONSE_BYTES),
/// form-encoded, with its RelayState.
const SAML_BODY_LIMIT: usize = 512 * 1024;

/// Where SAML responses are posted (docs/CONTRACT.md, "Sign-in").
pub const SAML_ACS_PATH: &str = "/v1/sso/saml/acs";

/// An OAuth form body is a handful of short fields; a JWT subject token is the largest of them.
const OAUTH_BODY_LIMIT: usize = 16 * 1024;

fn body_policy(path: &str) -> BodyPolicy {
    if path.starts_with("/oauth2/") {
        BodyPolicy::CredentialProtocol
    } else if path == SAML_ACS_PATH {
        BodyPolicy::SignInForm
    } else {
        BodyPolicy::BearerFirst
    }
}

/// A request without a credential of the right shape gets at most this much of its body read:
/// enough to catch a key pasted into a small JSON or form body and tell its owner to rotate it,
/// too little to matter however many such requests arrive.
const KEYLESS_BODY_PEEK: usize = 8 * 1024;

/// Screens every request before routing: control characters in the path or query, credentials
/// outside the `Authorization` header, the body size limit, and the order of authentication and
/// body reading.
///
/// A body is read only once the request's credential has been verified in full (the `Caller`
/// extractor then takes that verification instead of repeating it), and only within the global
/// body-memory budget and the body timeout. Without a key of the right shape, only a small
/// declared body is peeked at; anything else is refused before its body is read, so clients
/// without a valid credential (garbage, or forged keys with a correct checksum) cannot make the
/// server buffer bodies. Every route that takes a body authenticates with a Bearer credential,
/// except the OAuth endpoints, whose bodies carry credentials by protocol ([`BodyPolicy`]).
pub async fn screen_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = control_character_in_uri(request.uri()) {
        return refusal.into_response();
    }
    let in_query = request
        .uri()
        .query()
        .is_some_and(|q| form_names(q.as_bytes()).any(|name| is_credential_name(&name)));
    if in_query {
        return refuse(&state, request, "credential_in_query").await;
    }

    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return without_reading_body(too_large());
    }
    if declared == Some(0) || (declared.is_none() && !has_chunked_body(&request)) {
        return next.run(request).await;
    }
    let policy = body_policy(request.uri().path());
    if policy == BodyPolicy::CredentialProtocol && declared.is_some_and(|n| n > OAUTH_BODY_LIMIT) {
        return without_reading_body(too_large());
    }
    if policy == BodyPolicy::SignInForm && declared.is_some_and(|n| n > SAML_BODY_LIMIT) {
        return without_reading_body(too_large());
    }
    let (mut parts, body) = request.into_parts();
    // A key of the right shape, or a session cookie (checked with its CSRF token, before the
    // body too).
    let shaped = bearer_credential(&parts.headers).is_ok_and(|key| KeyRef::parse(key).is_ok())
        || (bearer_credential(&parts.headers).is_err() && has_session_cookie(&parts.headers));
    let limit = if policy == BodyPolicy::CredentialProtocol {
        // The handler authenticates the client from the body it is about to read.
        OAUTH_BODY_LIMIT
    } else if policy == BodyPolicy::SignInForm {
        // The handler verifies the IdP's signature over what it reads.
        SAML_BODY_LIMIT
    } else if !shaped && declared.is_some_and(|n| n <= KEYLESS_BODY_PEEK) {
        // Peeked for a pasted key; the `Caller` extractor refuses the request after that.
        KEYLESS_BODY_PEEK
    } else {
        // Verified in full before any of the body is read: a forged key of the right shape
        // and checksum gets no body buffered either.
        match authenticate(&parts, &state).await {
            Ok(principal) => {
                parts.extensions.insert(Authenticated(principal));
                MAX_BODY_BYTES
            }
            Err(refused) => return without_reading_body(refused.into_response()),
        }
    };
    // Reserve what the body may take before reading any of it; a chunked body may take the limit.
    let reserved = declared.unwrap_or(limit).min(limit);
    let Ok(_reservation) = state
        .body_budget
        .clone()
        .try_acquire_many_owned(u32::try_from(reserved).unwrap_or(u32::MAX))
    else {
        return without_reading_body(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "too many request bodies are being received; retry shortly",
            )
            .with_retry_after(1)
            .into_response(),
        );
    };
    let read = tokio::time::timeout(
        state.settings.body_timeout,
        axum::body::to_bytes(body, limit),
    );
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return without_reading_body(too_large()),
        Err(_) => {
            return without_reading_body(
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!(
                        "the request body must arrive within {} s",
                        state.settings.body_timeout.as_secs()
                    ),
                )
                .into_response(),
            )
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let in_body = if policy != BodyPolicy::BearerFirst {
        false
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_names(&bytes).any(|name| is_credential_name(&name))
    } else {
        // Any body that parses as a JSON object is checked, whatever its declared type.
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes)
            .is_ok_and(|object| object.keys().any(|k| is_credential_name(k)))
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    if in_body {
        return refuse(&state, request, "credential_in_body").await;
    }
    // The reservation is held until the answer is built, when the handler has dropped the body.
    next.run(request).await
}

/// Refuses a path or query string that holds a control character once percent-decoded. Ids and
/// filters never contain one, and PostgreSQL cannot compare text with a NUL at all (it answered
/// 500): refusing here, before routing, covers every route, present and future.
fn control_character_in_uri(uri: &Uri) -> Option<ApiError> {
    if has_control_character(uri.path()) {
        return Some(ApiError::invalid(
            "path",
            "control_character",
            "the path must not contain control characters",
        ));
    }
    let pair = uri.query()?.split('&').find(|p| has_control_character(p))?;
    // The name is the client's own text: shown without its controls, and not at any length.
    let name: String = percent_decode(pair.split('=').next().unwrap_or_default())
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    Some(ApiError::invalid(
        &name,
        "control_character",
        format!("query parameter `{name}` must not contain control characters"),
    ))
}

/// Whether a raw path or query component holds a control character, escaped or not. Plain
/// printable ASCII, what nearly every request has, is answered without decoding.
fn has_control_character(raw: &str) -> bool {
    let plain = raw.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%');
    !plain && percent_decode(raw).chars().any(char::is_control)
}

/// Marks an answer sent while (some of) the body is still unread: the connection cannot carry
/// another request, so say so, or a client's pool would reuse it and fail its next request
/// (RFC 9110 §15.5.14).
fn without_reading_body(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

fn has_chunked_body(request: &Request) -> bool {
    request.headers().contains_key(header::TRANSFER_ENCODING)
}

fn form_names(input: &[u8]) -> impl Iterator<Item = String> + '_ {
    input.split(|b| *b == b'&').filter_map(|pair| {
        let name = pair.split(|b| *b == b'=').next()?;
        let name = String::from_utf8_lossy(name).replace('+', " ");
        Some(percent_decode(&name))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Audits and counts a failed authentication that names no key, as the `Caller` extractor does.
async fn record_keyless_failure(state: &AppState, request: Request, reason: &'static str) {
    let (parts, _) = request.into_parts();
    record_failure(state, &parts, SYSTEM_CHAIN, None, None, reason).await;
    state
        .metrics
        .verifications
        .get_or_create(&crate::platform::metrics::OutcomeLabels { outcome: reason })
        .inc();
}

async fn refuse(state: &AppState, request: Request, reason: &'static str) -> Response {
    record_keyless_failure(state, request, reason).await;
    let where_ = if reason == "credential_in_query" {
        "query string"
    } else {
        "request body"
    };
    ApiError::bad_request(
        reason,
        format!(
            "credentials are accepted only in the Authorization header, never in the {where_}; \
             treat the key you sent as exposed and rotate it"
        ),
    )
    .into_response()
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "request bodies are limited to 1 MiB",
    )
    .into_response()
}

/// Turns every error answer that is not problem details yet (axum's own: a query string or path
/// that does not deserialize, a method the route lacks) into problem details, so clients meet
/// one error format whatever produced the error.
pub async fn errors_as_problem_details(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // JSON is already a problem document; HTML is a page made for a person (sign-in's).
    let is_rendered = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_rendered {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's rejection texts are short; anything longer is cut rather than buffered.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::NOT_FOUND => "no_such_route",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "http_error",
    };
    let detail = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut mapped = ApiError::new(status, code, detail).into_response();
    // What the original said about the request still holds (`Allow` on a 405 above all).
    for name in [header::ALLOW, header::CONNECTION, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            mapped.headers_mut().insert(name, value.clone());
        }
    }
    mapped
}

/// Gives the `Caller` extractor a place to leave its rate-limit decision, then turns it into
/// `RateLimit-Policy` and `RateLimit` headers on whatever the answer is.
pub async fn rate_limit_headers(request: Request, next: Next) -> Response {
    RATE_LIMIT_DECISION
        .scope(RefCell::new(None), async move {
            let mut response = next.run(request).await;
            if let Some(decision) = RATE_LIMIT_DECISION.with(|slot| slot.borrow_mut().take()) {
                decision.write_headers(response.headers_mut());
            }
            response
        })
        .await
}

/// Counts and times each request by route template and logs one line for it. Only the route
/// template is logged, never the query string, which may hold a leaked credential.
pub async fn record_request(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(
        method,
        route,
        status,
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_a_uri_only_once_decoded() {
        for uri in [
            "/v1/x/%00",
            "/v1/x?a=%1b",
            "/v1/x?a=1&b%7F=2",
            "/v1/x?a=%C2%85",
        ] {
            assert!(
                control_character_in_uri(&uri.parse().unwrap()).is_some(),
                "{uri}"
            );
        }
        for uri in ["/v1/x/a%20b", "/v1/x?a=b+c&d=%E2%82%AC", "/v1/x?a=%2500"] {
            assert!(
                control_character_in_uri(&uri.parse().unwrap()).is_none(),
                "{uri}"
            );
        }
    }

    #[test]
    fn only_the_oauth_endpoints_take_credentials_in_their_bodies() {
        for path in ["/oauth2/revoke", "/oauth2/introspect", "/oauth2/token"] {
            assert_eq!(body_policy(path), BodyPolicy::CredentialProtocol, "{path}");
        }
        for path in [
            "/v1/api-keys",
            "/v1/oauth2/revoke",
            "/oauth2",
            "/OAUTH2/revoke",
            "/",
        ] {
            assert_eq!(body_policy(path), BodyPolicy::BearerFirst, "{path}");
        }
    }

    #[test]
    fn credential_names_are_found_whatever_their_case_or_encoding() {
        let names: Vec<String> = form_names(b"a=1&API_KEY=x&to%6Ben=y").collect();
        assert_eq!(names, ["a", "API_KEY", "token"]);
        assert!(names.iter().filter(|n| is_credential_name(n)).count() == 2);
        assert!(!is_credential_name("keys"));
    }
}
