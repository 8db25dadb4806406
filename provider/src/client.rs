//! Typed HTTP client for the StatusPulse management API.
//!
//! Every call goes through [`ApiClient::send`], which owns the retry policy docs/CONTRACT.md asks of the
//! provider: 429 and 5xx are retried with exponential backoff, and a `Retry-After` from the server
//! always wins over our own guess, so that a fleet of `terraform apply` runs backs off the way the
//! server asks instead of hammering it.
//!
//! A create is retried safely: [`ApiClient::create`] sends one random `Idempotency-Key` and
//! reuses it for every retry of that create, so a retry after an answer that was lost (a proxy's
//! 502 after the server created, a reset, a timeout) gets the first answer back instead of
//! creating a second object (a second API key nobody manages). While the first attempt is still
//! running on the server, the retry's 409 `idempotency_key_in_progress` is waited out like a 429.
//!
//! The credential is an API key, or an OIDC token exchanged for short-lived access tokens
//! (`crate::exchange`); each attempt asks for the current one, so a retry or a long apply picks up
//! a token exchanged in the meantime, and a 401 answered to an exchanged token exchanges once more.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use statuspulse_api::Problem;

use crate::auth::Credentials;
use crate::exchange::Exchanger;

/// An API failure, already classified for the diagnostics a user will read.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an RFC 9457 problem (or at least a 4xx/5xx status).
    #[error("{title} (HTTP {status}, code {code}){}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Problem {
        status: u16,
        code: String,
        title: String,
        detail: Option<String>,
        /// The Terraform attribute at fault, when the server names one.
        field: Option<String>,
    },
    /// The server could not be reached (after retries) or the connection broke.
    #[error("cannot reach StatusPulse at {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    /// The server answered 2xx with a body we do not understand (version skew).
    #[error("unexpected answer from StatusPulse: {0}")]
    Decode(String),
    /// The token exchange at `/oauth2/token` was refused (an RFC 6749 §5.2 error answer).
    #[error("StatusPulse refused the token exchange (HTTP {status}, `{error}`){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Exchange {
        status: u16,
        /// `invalid_grant`, `invalid_request`, `invalid_scope`, …
        error: String,
        /// The server's explanation, such as the trust policy condition that failed.
        description: Option<String>,
    },
    /// The workload's OIDC token could not be obtained (never carries the token).
    #[error("cannot obtain the OIDC token: {0}")]
    OidcToken(String),
}

impl ApiError {
    /// True for a 404: the object is gone (deleted outside Terraform, purged, or never existed).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Problem { status: 404, .. })
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Problem { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How hard to retry. Defaults suit an interactive `terraform apply`; tests shorten them.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Total time budget across attempts; a `Retry-After` beyond it ends the retries.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            budget: Duration::from_secs(300),
        }
    }
}

/// Connection settings resolved from the provider block and the environment.
pub struct ClientConfig {
    pub endpoint: String,
    pub credentials: Credentials,
    pub terraform_version: String,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

/// A configured client; cheap to share behind an `Arc` between concurrent resource calls.
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: String,
    auth: Auth,
    retry: RetryPolicy,
    snapshots: crate::snapshot::Snapshots,
}

/// How requests are authenticated. No `Debug`: it holds secrets.
enum Auth {
    ApiKey(SecretString),
    Exchanged(Exchanger),
}

/// The User-Agent names both versions so that server operators can tell which provider and
/// Terraform release a misbehaving pipeline runs.
pub fn user_agent(terraform_version: &str) -> String {
    format!(
        "terraform-provider-statuspulse/{} (+terraform {})",
        env!("CARGO_PKG_VERSION"),
        if terraform_version.is_empty() {
            "unknown"
        } else {
            terraform_version
        }
    )
}

impl ApiClient {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent(&config.terraform_version))
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            .build()
            .map_err(|err| ApiError::Transport {
                endpoint: config.endpoint.clone(),
                message: err.to_string(),
            })?;
        Ok(Self {
            http,
            endpoint: config.endpoint.trim_end_matches('/').to_owned(),
            auth: match config.credentials {
                Credentials::ApiKey(key) => Auth::ApiKey(key),
                Credentials::Oidc(oidc) => Auth::Exchanged(Exchanger::new(oidc)),
            },
            retry: config.retry,
            snapshots: crate::snapshot::Snapshots::default(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The exchanger, when the provider authenticates with an OIDC token.
    pub fn exchanger(&self) -> Option<&Exchanger> {
        match &self.auth {
            Auth::Exchanged(exchanger) => Some(exchanger),
            Auth::ApiKey(_) => None,
        }
    }

    /// Makes sure there is a credential to send: with an OIDC token, exchanges it now, so that a
    /// refused exchange is one diagnostic at configure time.
    pub async fn authenticate(&self) -> Result<(), ApiError> {
        self.bearer().await.map(|_| ())
    }

    /// The secret to send as `Bearer`: the API key, or the current exchanged access token.
    async fn bearer(&self) -> Result<SecretString, ApiError> {
        match &self.auth {
            Auth::ApiKey(key) => Ok(key.clone()),
            Auth::Exchanged(exchanger) => {
                exchanger
                    .access_token(&self.http, &self.endpoint, &self.retry)
                    .await
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.json(Method::GET, path, None::<&()>).await
    }

    /// Reads `{collection}/{id}` for a refresh, from this process's listing of the collection
    /// once it has read a few of its objects ([`crate::snapshot`]).
    pub async fn read<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<T, ApiError> {
        if let Some(listing) = self
            .snapshots
            .listing(collection)
            .filter(|l| l.use_listing())
        {
            let listed = listing.find(id, || self.list_all(collection)).await;
            if let Some(object) = listed {
                return serde_json::from_value(object)
                    .map_err(|err| ApiError::Decode(err.to_string()));
            }
        }
        self.get(&format!("{collection}/{id}")).await
    }

    /// Pages through `collection` (which may carry a query) with `visit` until it returns true.
    pub async fn visit_pages<T: DeserializeOwned>(
        &self,
        collection: &str,
        mut visit: impl FnMut(T) -> bool,
    ) -> Result<(), ApiError> {
        let joiner = if collection.contains('?') { '&' } else { '?' };
        let mut cursor: Option<String> = None;
        loop {
            // Cursors are base64url: nothing to escape.
            let path = match &cursor {
                Some(c) => format!("{collection}{joiner}limit=200&cursor={c}"),
                None => format!("{collection}{joiner}limit=200"),
            };
            let page: crate::model::Page<T> = self.get(&path).await?;
            for item in page.items {
                if visit(item) {
                    return Ok(());
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Every object of `collection` by id, or `None` when it cannot be listed whole.
    async fn list_all(
        &self,
        collection: &str,
    ) -> Option<std::collections::HashMap<String, serde_json::Value>> {
        let mut objects = std::collections::HashMap::new();
        let mut whole = true;
        self.visit_pages(collection, |object: serde_json::Value| {
            match object.get("id").and_then(serde_json::Value::as_str) {
                Some(id) if objects.len() < crate::snapshot::MAX_OBJECTS => {
                    objects.insert(id.to_owned(), object);
                    false
                }
                _ => {
                    whole = false;
                    true
                }
            }
        })
        .await
        .ok()?;
        whole.then_some(objects)
    }

    /// A public document of the server (OpenID discovery), as served. It is fetched without the
    /// provider's key: a public URL answers anyone, and a credential sent where none is needed
    /// only adds places (caches, proxy logs) it could leak to.
    pub async fn get_public_text(&self, path: &str) -> Result<String, ApiError> {
        let bytes = self
            .send(Method::GET, path, None, None, Credential::None)
            .await?;
        String::from_utf8(bytes).map_err(|err| ApiError::Decode(err.to_string()))
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.json(Method::POST, path, Some(body)).await
    }

    /// POSTs a create with one `Idempotency-Key` (a UUIDv4) for this create, sent unchanged with
    /// every retry: the server creates once however many attempts reach it.
    pub async fn create<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let key = uuid::Uuid::new_v4().to_string();
        let body = serde_json::to_vec(body).map_err(|err| ApiError::Decode(err.to_string()))?;
        let bytes = self
            .send(
                Method::POST,
                path,
                Some(body),
                Some(&key),
                Credential::Bearer,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|err| ApiError::Decode(err.to_string()))
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.json(Method::PATCH, path, Some(body)).await
    }

    /// PUTs a whole singleton (such as `/v1/audit-settings`): idempotent, so retried like a GET.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.json(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send(Method::DELETE, path, None, None, Credential::Bearer)
            .await
            .map(|_| ())
    }

    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|err| ApiError::Decode(err.to_string()))?;
        let bytes = self
            .send(method, path, body, None, Credential::Bearer)
            .await?;
        serde_json::from_slice(&bytes).map_err(|err| ApiError::Decode(err.to_string()))
    }

    /// Sends one logical request, retrying 429/5xx and connection failures; every attempt
    /// carries the same `idempotency_key`, when there is one.
    /// POSTs to a route that only judges (`/v1/api-keys/check`): it changes nothing, so the
    /// refresh listings stay valid, and retrying it is safe.
    pub async fn check<B: Serialize>(&self, path: &str, body: &B) -> Result<(), ApiError> {
        let body = serde_json::to_vec(body).map_err(|err| ApiError::Decode(err.to_string()))?;
        self.send_with(
            Method::POST,
            path,
            Some(body),
            None,
            Credential::Bearer,
            false,
        )
        .await
        .map(|_| ())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
        credential: Credential,
    ) -> Result<Vec<u8>, ApiError> {
        let changes = method != Method::GET;
        self.send_with(method, path, body, idempotency_key, credential, changes)
            .await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
        credential: Credential,
        invalidates_listings: bool,
    ) -> Result<Vec<u8>, ApiError> {
        if invalidates_listings {
            // What this process changes is read afresh.
            self.snapshots.invalidate();
        }
        let url = format!("{}{}", self.endpoint, path);
        let started = Instant::now();
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url);
            let bearer = match credential {
                Credential::Bearer => Some(self.bearer().await?),
                Credential::None => None,
            };
            if let Some(bearer) = &bearer {
                request = request.headers(auth_headers(bearer));
            }
            if let Some(key) = idempotency_key {
                request = request.header(IDEMPOTENCY_KEY, key);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let sent = Instant::now();
            let outcome = request.send().await;
            // Logged for TF_LOG: method, path and outcome, never a header (credentials) or body.
            match &outcome {
                Ok(response) => tracing::debug!(
                    method = %method,
                    path,
                    attempt,
                    status = response.status().as_u16(),
                    elapsed_ms = u64::try_from(sent.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "StatusPulse API request"
                ),
                Err(err) => tracing::debug!(
                    method = %method,
                    path,
                    attempt,
                    error = %describe_transport_error(err),
                    elapsed_ms = u64::try_from(sent.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "StatusPulse API request failed"
                ),
            }
            let (retry_after, error) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return response.bytes().await.map(|b| b.to_vec()).map_err(|err| {
                            ApiError::Transport {
                                endpoint: self.endpoint.clone(),
                                message: err.to_string(),
                            }
                        });
                    }
                    if let (StatusCode::UNAUTHORIZED, Auth::Exchanged(exchanger), Some(used)) =
                        (status, &self.auth, &bearer)
                    {
                        // The exchanged token was refused before its expiry (its trust policy
                        // changed, the server restarted its token store): exchange once more.
                        if !reauthenticated {
                            reauthenticated = true;
                            exchanger.invalidate(used).await;
                            continue;
                        }
                    }
                    let retry_after = parse_retry_after(response.headers());
                    let body = response.bytes().await.ok();
                    let error = problem_from(status, body.as_deref());
                    if !is_retriable(status) && !is_in_progress(&error) {
                        return Err(error);
                    }
                    (retry_after, error)
                }
                Err(err) => (
                    None,
                    ApiError::Transport {
                        endpoint: self.endpoint.clone(),
                        message: describe_transport_error(&err),
                    },
                ),
            };
            let delay = retry_after.unwrap_or_else(|| backoff_delay(&self.retry, attempt));
            if attempt >= self.retry.max_attempts || started.elapsed() + delay > self.retry.budget {
                tracing::warn!(
                    method = %method,
                    path,
                    attempts = attempt,
                    elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "StatusPulse API request given up"
                );
                return Err(gave_up(error, attempt, started.elapsed()));
            }
            tracing::info!(
                method = %method,
                path,
                attempt,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                server_asked = retry_after.is_some(),
                error = %error,
                "StatusPulse API request will be retried"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

fn auth_headers(bearer: &SecretString) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // A key that is not a valid header value was already refused by validation; sending no
    // header then yields the server's clear 401 instead of a panic here.
    if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", bearer.expose_secret())) {
        // Keeps the secret out of reqwest's debug output and HTTP/2 header compression tables.
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    headers
}

/// The last error of a request that was retried, saying how hard it was tried: a user waiting on
/// a plan must see that it was retried, not only the last answer.
fn gave_up(error: ApiError, attempts: u32, elapsed: Duration) -> ApiError {
    if attempts <= 1 {
        return error;
    }
    let tried = format!(
        "gave up after {attempts} attempts over {:.1} s (the provider's `max_retries` and \
         `request_timeout` set how hard it tries)",
        elapsed.as_secs_f64()
    );
    match error {
        ApiError::Transport { endpoint, message } => ApiError::Transport {
            endpoint,
            message: format!("{message}; {tried}"),
        },
        ApiError::Problem {
            status,
            code,
            title,
            detail,
            field,
        } => ApiError::Problem {
            status,
            code,
            title,
            detail: Some(match detail {
                Some(detail) => format!("{detail}; {tried}"),
                None => tried,
            }),
            field,
        },
        other => other,
    }
}

/// The exponential backoff before retry `attempt` (1-based) when the server names no delay.
pub(crate) fn backoff_delay(retry: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    retry
        .initial_backoff
        .saturating_mul(factor)
        .min(retry.max_backoff)
}

/// Whether a request carries the provider's credential.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Credential {
    Bearer,
    None,
}

pub(crate) fn is_retriable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The header that makes a create safe to retry (CONTRACT "Idempotency").
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The server is still running an earlier attempt of this create: wait (its `Retry-After`) and
/// ask again, which then answers with that attempt's result.
fn is_in_progress(error: &ApiError) -> bool {
    matches!(error, ApiError::Problem { status: 409, code, .. } if code == "idempotency_key_in_progress")
}

/// `Retry-After` in delta-seconds (what the server sends); an HTTP-date falls back to backoff.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub(crate) fn problem_from(status: StatusCode, body: Option<&[u8]>) -> ApiError {
    let problem = body.and_then(|bytes| serde_json::from_slice::<Problem>(bytes).ok());
    let reason = status.canonical_reason().unwrap_or("HTTP error").to_owned();
    // Missing members parse as empty (a proxy's error, not the server's): fall back on the status.
    let non_empty = |text: String| Some(text).filter(|t| !t.is_empty());
    match problem {
        Some(problem) => ApiError::Problem {
            status: status.as_u16(),
            code: non_empty(problem.code.into_owned())
                .unwrap_or_else(|| format!("http_{}", status.as_u16())),
            title: non_empty(problem.title.into_owned()).unwrap_or(reason),
            detail: non_empty(problem.detail),
            field: problem.field,
        },
        None => ApiError::Problem {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            title: reason,
            detail: None,
            field: None,
        },
    }
}

/// reqwest's Display for errors omits the cause ("error sending request"); the chain says why.
pub(crate) fn describe_transport_error(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "the request timed out".to_owned()
    } else if err.is_connect() {
        "connection failed".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_provider_and_terraform_versions() {
        assert_eq!(
            user_agent("1.11.4"),
            format!(
                "terraform-provider-statuspulse/{} (+terraform 1.11.4)",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn retry_after_seconds_are_honoured() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
    }

    /// A scripted HTTP/1.1 peer: the real server's limiter needs 1,200 requests in a minute to
    /// answer 429, so the retry policy is exercised against canned answers instead.
    async fn scripted_server(
        answers: Vec<&'static str>,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let mut served = 0;
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
                served += 1;
            }
            served
        });
        (url, handle)
    }

    fn client(endpoint: String) -> ApiClient {
        ApiClient::new(ClientConfig {
            endpoint,
            credentials: Credentials::ApiKey(SecretString::from(format!(
                "sp_test_{}",
                "a".repeat(64)
            ))),
            terraform_version: "1.11.4".into(),
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
        let (url, server) = scripted_server(vec![
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
        ])
        .await;
        let started = Instant::now();
        let answer: serde_json::Value = client(url).get("/v1/scopes").await.unwrap();
        assert_eq!(answer["ok"], true);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After was not honoured"
        );
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn giving_up_says_how_many_attempts_over_how_long() {
        let unavailable =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, server) = scripted_server(vec![unavailable; 3]).await;
        let mut client = client(url);
        client.retry.max_attempts = 3;
        let err = client
            .get::<serde_json::Value>("/v1/scopes")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("gave up after 3 attempts over"), "{err}");
        assert!(err.contains("max_retries"), "{err}");
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried_and_keep_the_problem_field() {
        let body = r#"{"type":"urn:statuspulse:problem:invalid_name","title":"Invalid","status":422,"code":"invalid_name","field":"name"}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = scripted_server(vec![answer]).await;
        let err = client(url)
            .get::<serde_json::Value>("/v1/x")
            .await
            .unwrap_err();
        match err {
            ApiError::Problem {
                status,
                code,
                field,
                ..
            } => {
                assert_eq!(
                    (status, code.as_str(), field.as_deref()),
                    (422, "invalid_name", Some("name"))
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(server.await.unwrap(), 1);
    }

    /// Like [`scripted_server`], and returns the head of every request it received.
    async fn recording_server(
        answers: Vec<&'static str>,
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
            seen
        });
        (url, handle)
    }

    fn idempotency_key_of(request: &str) -> Option<String> {
        request.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("idempotency-key")
                .then(|| value.trim().to_owned())
        })
    }

    #[tokio::test]
    async fn every_retry_of_a_create_sends_the_same_idempotency_key() {
        let created = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}";
        let (url, server) = recording_server(vec![
            // A gateway's 502 after the server may have created; then the server still running
            // that first attempt; then its answer.
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 409 Conflict\r\nRetry-After: 0\r\nContent-Type: application/problem+json\r\nContent-Length: 81\r\nConnection: close\r\n\r\n{\"type\":\"x\",\"title\":\"Conflict\",\"status\":409,\"code\":\"idempotency_key_in_progress\"}",
            created,
            // A second create: a key of its own.
            created,
        ])
        .await;
        let client = client(url);
        let answer: serde_json::Value = client
            .create("/v1/api-keys", &serde_json::json!({"name": "ci"}))
            .await
            .unwrap();
        assert_eq!(answer["ok"], true);
        let _: serde_json::Value = client
            .create("/v1/api-keys", &serde_json::json!({"name": "cd"}))
            .await
            .unwrap();
        let requests = server.await.unwrap();
        assert_eq!(requests.len(), 4);
        let keys: Vec<String> = requests
            .iter()
            .map(|r| idempotency_key_of(r).expect("every create attempt carries a key"))
            .collect();
        assert_eq!(keys[0], keys[1], "a retry reuses the key");
        assert_eq!(keys[1], keys[2], "a retry reuses the key");
        assert_ne!(keys[2], keys[3], "another create has another key");
        assert_eq!(keys[0].len(), 36, "a UUID: {}", keys[0]);
        assert_eq!(keys[0].as_bytes()[14], b'4', "version 4: {}", keys[0]);
    }

    #[tokio::test]
    async fn other_requests_send_no_idempotency_key_and_other_conflicts_are_final() {
        let conflict = "HTTP/1.1 409 Conflict\r\nContent-Type: application/problem+json\r\nContent-Length: 64\r\nConnection: close\r\n\r\n{\"type\":\"x\",\"title\":\"Conflict\",\"status\":409,\"code\":\"name_taken\"}";
        let (url, server) = recording_server(vec![conflict, conflict]).await;
        let client = client(url);
        let err = client
            .create::<_, serde_json::Value>("/v1/service-accounts", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(409));
        let err = client
            .post::<_, serde_json::Value>("/v1/api-keys/revoke", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(409));
        let requests = server.await.unwrap();
        assert!(idempotency_key_of(&requests[0]).is_some());
        assert_eq!(idempotency_key_of(&requests[1]), None);
    }

    #[tokio::test]
    async fn public_documents_are_fetched_as_served_without_the_key() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"issuer\": \"x\"}";
        let (url, server) = recording_server(vec![ok, ok]).await;
        let client = client(url);
        let text = client
            .get_public_text("/.well-known/openid-configuration")
            .await
            .unwrap();
        assert_eq!(text, "{\"issuer\": \"x\"}");
        let _: serde_json::Value = client.get("/v1/scopes").await.unwrap();
        let requests = server.await.unwrap();
        let has_key = |request: &str| {
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer")
        };
        assert!(!has_key(&requests[0]), "{}", requests[0]);
        assert!(
            has_key(&requests[1]),
            "the management API call lost its key"
        );
    }

    #[test]
    fn only_rate_limits_and_server_errors_are_retried() {
        assert!(is_retriable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retriable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retriable(StatusCode::UNAUTHORIZED));
        assert!(!is_retriable(StatusCode::NOT_FOUND));
    }
}
