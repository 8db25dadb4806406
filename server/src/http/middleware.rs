//! Cross-cutting request handling: credentials outside the header, body size, rate-limit
//! headers, metrics and request logs.

use std::cell::RefCell;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{record_failure, RATE_LIMIT_DECISION};
use crate::audit::SYSTEM_CHAIN;
use crate::error::ApiError;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::state::AppState;

/// Bodies larger than this are refused with 413 (SPEC).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Parameter and field names that look like a credential (compared case-insensitively).
const CREDENTIAL_NAMES: [&str; 5] = ["api_key", "apikey", "key", "token", "access_token"];

fn is_credential_name(name: &str) -> bool {
    CREDENTIAL_NAMES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// Refuses any request that carries a credential in its query string or body, before routing,
/// so such a credential is never used to authenticate. Also enforces the body size limit, since
/// the body has to be read to be checked.
pub async fn refuse_credentials_outside_header(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
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
        return too_large();
    }
    if declared == Some(0) || (declared.is_none() && !has_chunked_body(&request)) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return too_large();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let in_body = if content_type.starts_with("application/x-www-form-urlencoded") {
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
    next.run(request).await
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

async fn refuse(state: &AppState, request: Request, reason: &'static str) -> Response {
    let (parts, _) = request.into_parts();
    record_failure(state, &parts, SYSTEM_CHAIN, None, None, reason).await;
    state
        .metrics
        .verifications
        .get_or_create(&crate::metrics::OutcomeLabels { outcome: reason })
        .inc();
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
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "request bodies are limited to 1 MiB",
    )
    .into_response();
    // The rest of the body is never read, so this connection cannot carry another request:
    // say so, or a client's pool would reuse it and fail its next request (RFC 9110 §15.5.14).
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
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
    let method = request.method().clone();
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.to_string(),
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
    tracing::debug!(%method, route, status, latency_us = elapsed.as_micros() as u64, "request");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_found_whatever_their_case_or_encoding() {
        let names: Vec<String> = form_names(b"a=1&API_KEY=x&to%6Ben=y").collect();
        assert_eq!(names, ["a", "API_KEY", "token"]);
        assert!(names.iter().filter(|n| is_credential_name(n)).count() == 2);
        assert!(!is_credential_name("keys"));
    }
}
