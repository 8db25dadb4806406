//! Workload identity for the provider itself: the workload's OIDC token (a CI job's JWT) is
//! exchanged at `/oauth2/token` (RFC 8693) for a short-lived StatusPulse access token, which then
//! authenticates every management call like an API key.
//!
//! The access token is exchanged at configure time and again before it expires, so that an apply
//! longer than its lifetime keeps working: once less than a minute (or half its lifetime, for
//! very short ones) remains, the next call re-reads the OIDC token (CI platforms refresh the file
//! or answer a fresh one) and exchanges again. Terraform calls the provider concurrently; the
//! cache sits behind one async mutex, so the calls that find the token due wait for a single
//! exchange and share its result instead of each exchanging (no stampede on the server).
//!
//! The server exchanges an OIDC token once (a replay is refused). So when the token read again
//! is the one already exchanged (the platform has not refreshed it yet, or it was given as a
//! value), the provider keeps the access token it has until it actually expires, reading the
//! source again on each call meanwhile, and only then fails, saying why, instead of sending a
//! replay the server would refuse and audit.
//!
//! Both tokens are secrets: they live in `SecretString`s, go out only in a request body or a
//! sensitive header, and no error message carries them (a JSON error from the exchange answer is
//! reported without serde's text, which may quote a value).

use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use statuspulse_api::v1::workload_identities::{JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT};
use tokio::sync::Mutex;

use crate::auth::{OidcCredential, TokenSource};
use crate::client::{
    backoff_delay, describe_transport_error, is_retriable, parse_retry_after, problem_from,
    ApiError, RetryPolicy,
};
use crate::model::ExchangedToken;

/// Exchange again once less than this remains of the access token's life.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The token exchange endpoint (RFC 8693 §2.1), relative to the provider's `endpoint`.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// Whether an access token valid for `lifetime` until `expires_at` must be exchanged again at
/// `now`: less than [`REFRESH_MARGIN`] remains, or less than half of a lifetime shorter than two
/// margins (a 60-second token would otherwise be due the moment it is issued).
pub fn refresh_due(now: Instant, expires_at: Instant, lifetime: Duration) -> bool {
    let margin = REFRESH_MARGIN.min(lifetime / 2);
    now.checked_add(margin).is_none_or(|t| t >= expires_at)
}

/// An exchanged access token and when to stop using it.
struct AccessToken {
    token: SecretString,
    expires_at: Instant,
    lifetime: Duration,
}

/// The provider's OIDC credential and the access token last exchanged for it.
pub struct Exchanger {
    credential: OidcCredential,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    access: Option<AccessToken>,
    /// The OIDC token of the last successful exchange: the server would refuse it again.
    exchanged: Option<SecretString>,
}

impl Exchanger {
    pub fn new(credential: OidcCredential) -> Self {
        Self {
            credential,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn source(&self) -> &TokenSource {
        &self.credential.source
    }

    /// The access token to send: the cached one, or, when there is none or it is due
    /// ([`refresh_due`]), a new one from one exchange that concurrent callers wait for.
    pub async fn access_token(
        &self,
        http: &reqwest::Client,
        endpoint: &str,
        retry: &RetryPolicy,
    ) -> Result<SecretString, ApiError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(current) = &cache.access {
            if !refresh_due(now, current.expires_at, current.lifetime) {
                return Ok(current.token.clone());
            }
        }
        let subject = subject_token(&self.credential.source, http).await?;
        let unchanged = cache
            .exchanged
            .as_ref()
            .is_some_and(|last| last.expose_secret() == subject.expose_secret());
        if unchanged {
            if let Some(current) = cache.access.as_ref().filter(|c| now < c.expires_at) {
                return Ok(current.token.clone());
            }
            return Err(ApiError::OidcToken(format!(
                "{} has not changed since the provider exchanged it, and StatusPulse exchanges \
                 an OIDC token only once; {}",
                self.credential.source.describe(),
                self.credential.source.refresh_advice()
            )));
        }
        let fresh = exchange(
            http,
            endpoint,
            &subject,
            self.credential.workload_identity.as_deref(),
            retry,
        )
        .await?;
        let token = fresh.token.clone();
        cache.access = Some(fresh);
        cache.exchanged = Some(subject);
        Ok(token)
    }

    /// Forgets the cached token if it is still `used`, which the server has just refused (a
    /// policy edited or deleted mid-apply): the next call exchanges again.
    pub async fn invalidate(&self, used: &SecretString) {
        let mut cache = self.cache.lock().await;
        if cache
            .access
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == used.expose_secret())
        {
            cache.access = None;
        }
    }

    /// Tests: pretend the cached token expires in `remaining`.
    #[cfg(test)]
    pub async fn expire_in(&self, remaining: Duration) {
        if let Some(current) = self.cache.lock().await.access.as_mut() {
            current.expires_at = Instant::now() + remaining;
        }
    }
}

/// GitHub Actions' answer to an ID token request.
#[derive(Deserialize)]
struct GitHubIdToken {
    value: SecretString,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads the workload's OIDC token afresh from its source.
async fn subject_token(
    source: &TokenSource,
    http: &reqwest::Client,
) -> Result<SecretString, ApiError> {
    match source {
        TokenSource::Static(token) => Ok(token.clone()),
        TokenSource::File(path) => {
            // A few hundred bytes, read once per exchange: not worth a blocking-pool hop.
            let text = std::fs::read_to_string(path).map_err(|err| {
                ApiError::OidcToken(format!("cannot read `{}`: {err}", path.display()))
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(ApiError::OidcToken(format!(
                    "`{}` is empty: the CI platform has not written its token there",
                    path.display()
                )));
            }
            Ok(SecretString::from(token.to_owned()))
        }
        TokenSource::GitHubActions {
            request_url,
            request_token,
            audience,
        } => {
            let mut url = url::Url::parse(request_url).map_err(|err| {
                ApiError::OidcToken(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {err}"))
            })?;
            url.query_pairs_mut().append_pair("audience", audience);
            let mut authorization =
                HeaderValue::from_str(&format!("bearer {}", request_token.expose_secret()))
                    .map_err(|_| {
                        ApiError::OidcToken(
                            "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not a valid header value".into(),
                        )
                    })?;
            authorization.set_sensitive(true);
            let response = http
                .get(url)
                .header(AUTHORIZATION, authorization)
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(|err| {
                    ApiError::OidcToken(format!(
                        "cannot reach GitHub Actions' ID token endpoint: {}",
                        describe_transport_error(&err)
                    ))
                })?;
            let status = response.status();
            if !status.is_success() {
                return Err(ApiError::OidcToken(format!(
                    "GitHub Actions answered HTTP {status} to the ID token request: give the job \
                     `permissions: id-token: write`"
                )));
            }
            let answer: GitHubIdToken = response.json().await.map_err(|_| {
                ApiError::OidcToken("GitHub Actions' ID token answer has no `value`".into())
            })?;
            Ok(answer.value)
        }
    }
}

/// One RFC 8693 exchange, retried like any call on 429, 5xx and broken connections.
async fn exchange(
    http: &reqwest::Client,
    endpoint: &str,
    subject: &SecretString,
    workload_identity: Option<&str>,
    retry: &RetryPolicy,
) -> Result<AccessToken, ApiError> {
    let body = exchange_form(subject, workload_identity);
    let url = format!("{endpoint}{TOKEN_PATH}");
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = http
            .post(&url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body.expose_secret().to_owned())
            .send()
            .await;
        let (retry_after, error) = match outcome {
            Ok(response) => {
                let status = response.status();
                let retry_after = parse_retry_after(response.headers());
                let bytes = response.bytes().await.map_err(|err| ApiError::Transport {
                    endpoint: endpoint.to_owned(),
                    message: describe_transport_error(&err),
                })?;
                if status.is_success() {
                    return access_token_from(&bytes);
                }
                let error = match serde_json::from_slice::<OAuthError>(&bytes) {
                    Ok(oauth) => ApiError::Exchange {
                        status: status.as_u16(),
                        error: oauth.error,
                        description: oauth.error_description.filter(|d| !d.is_empty()),
                    },
                    Err(_) => problem_from(status, Some(&bytes)),
                };
                if !is_retriable(status) {
                    return Err(error);
                }
                (retry_after, error)
            }
            Err(err) => (
                None,
                ApiError::Transport {
                    endpoint: endpoint.to_owned(),
                    message: describe_transport_error(&err),
                },
            ),
        };
        let delay = retry_after.unwrap_or_else(|| backoff_delay(retry, attempt));
        if attempt >= retry.max_attempts || started.elapsed() + delay > retry.budget {
            return Err(error);
        }
        tokio::time::sleep(delay).await;
    }
}

/// The exchange request's form body (it holds the subject token).
fn exchange_form(subject: &SecretString, workload_identity: Option<&str>) -> SecretString {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", TOKEN_EXCHANGE_GRANT)
        .append_pair("subject_token", subject.expose_secret())
        .append_pair("subject_token_type", JWT_TOKEN_TYPE);
    if let Some(id) = workload_identity {
        form.append_pair("client_id", id);
    }
    SecretString::from(form.finish())
}

fn access_token_from(bytes: &[u8]) -> Result<AccessToken, ApiError> {
    // serde's message may quote a value of the answer, which holds the token: say only what
    // was wrong with its shape.
    let answer: ExchangedToken = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::Decode("the token exchange answer is not an RFC 8693 token response".into())
    })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Decode(format!(
            "the token exchange issued a `{}` token; the provider sends Bearer tokens",
            answer.token_type
        )));
    }
    let lifetime = Duration::from_secs(u64::try_from(answer.expires_in).unwrap_or(0));
    Ok(AccessToken {
        token: SecretString::from(answer.access_token),
        expires_at: Instant::now() + lifetime,
        lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_exchanged_again_when_less_than_a_minute_remains() {
        let now = Instant::now();
        let lifetime = Duration::from_secs(900);
        assert!(!refresh_due(now, now + Duration::from_secs(61), lifetime));
        assert!(refresh_due(now, now + Duration::from_secs(60), lifetime));
        assert!(refresh_due(now, now + Duration::from_secs(5), lifetime));
        assert!(refresh_due(now + Duration::from_secs(10), now, lifetime));
    }

    #[test]
    fn a_very_short_lifetime_refreshes_at_half_life_not_at_once() {
        let now = Instant::now();
        let lifetime = Duration::from_secs(60);
        assert!(!refresh_due(now, now + lifetime, lifetime));
        assert!(!refresh_due(
            now + Duration::from_secs(29),
            now + lifetime,
            lifetime
        ));
        assert!(refresh_due(
            now + Duration::from_secs(30),
            now + lifetime,
            lifetime
        ));
    }

    #[test]
    fn an_exchange_answer_with_another_token_type_is_refused_without_quoting_the_token() {
        let answer = br#"{"access_token":"secret-at","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"N_A","expires_in":900,"scope":"read:checks"}"#;
        let Err(err) = access_token_from(answer) else {
            panic!("a non-Bearer token was accepted")
        };
        assert!(!err.to_string().contains("secret-at"));
        let malformed =
            br#"{"access_token":"secret-at","token_type":"Bearer","expires_in":"soon"}"#;
        let Err(err) = access_token_from(malformed) else {
            panic!("a malformed answer was accepted")
        };
        assert!(!err.to_string().contains("secret-at"), "{err}");
    }
}

/// The client against a small in-process HTTP peer standing in for `/oauth2/token` and one
/// management route: the real server's exchange needs a CI issuer (the acceptance tests,
/// `tests/acceptance/workload_identity.rs`, drive that end to end); these pin the client's
/// side: what it sends, when it exchanges again, and that concurrent calls share one exchange.
#[cfg(test)]
mod client_tests {
    use std::sync::{Arc, Mutex as StdMutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::auth::Credentials;
    use crate::client::{ApiClient, ClientConfig};

    #[derive(Default)]
    struct Seen {
        /// Form bodies of the exchanges, in order.
        exchanges: Vec<String>,
        /// `Authorization` of each management call.
        bearers: Vec<String>,
        /// Request lines of GitHub ID token requests, with their `Authorization`.
        github: Vec<String>,
        /// Access tokens the management route refuses with 401.
        refused: Vec<String>,
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn answer(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn form_value(form: &str, name: &str) -> Option<String> {
        url::form_urlencoded::parse(form.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    async fn respond(seen: &StdMutex<Seen>, head: &str, body: &str) -> String {
        let line = head.lines().next().unwrap_or_default().to_owned();
        if line.starts_with("POST /oauth2/token ") {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.exchanges.push(body.to_owned());
                seen.exchanges.len()
            };
            // Slow enough that concurrent callers overlap with the exchange.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if form_value(body, "subject_token").as_deref() == Some("jwt-of-a-feature-branch") {
                return answer(
                    "400 Bad Request",
                    r#"{"error":"invalid_request","error_description":"the token's `ref` does not meet the trust policy"}"#,
                );
            }
            return answer(
                "200 OK",
                &format!(
                    r#"{{"access_token":"at-{n}","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":900,"scope":"admin:keys"}}"#
                ),
            );
        }
        if line.starts_with("GET /github-id-token?") {
            let auth = header(head, "authorization").unwrap_or_default();
            seen.lock().unwrap().github.push(format!("{line} {auth}"));
            let n = seen.lock().unwrap().github.len();
            return answer("200 OK", &format!(r#"{{"value":"jwt-from-github-{n}"}}"#));
        }
        let bearer = header(head, "authorization").unwrap_or_default().to_owned();
        let mut seen = seen.lock().unwrap();
        seen.bearers.push(bearer.clone());
        if seen.refused.iter().any(|t| bearer == format!("Bearer {t}")) {
            return answer(
                "401 Unauthorized",
                r#"{"type":"x","title":"Unauthorized","status":401,"code":"unauthorized"}"#,
            );
        }
        answer("200 OK", r#"{"ok":true}"#)
    }

    /// Serves every connection on its own task until the test ends.
    async fn peer() -> (String, Arc<StdMutex<Seen>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(StdMutex::new(Seen::default()));
        let shared = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let seen = shared.clone();
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buf = [0u8; 4096];
                    let (head, body) = loop {
                        let n = socket.read(&mut buf).await.unwrap();
                        data.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&data).into_owned();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length: usize = header(head, "content-length")
                                .and_then(|l| l.parse().ok())
                                .unwrap_or(0);
                            if body.len() >= length || n == 0 {
                                break (head.to_owned(), body.to_owned());
                            }
                        }
                        if n == 0 {
                            return;
                        }
                    };
                    let reply = respond(&seen, &head, &body).await;
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (url, seen)
    }

    fn client(endpoint: String, source: TokenSource, workload_identity: Option<&str>) -> ApiClient {
        ApiClient::new(ClientConfig {
            endpoint,
            credentials: Credentials::Oidc(OidcCredential {
                source,
                workload_identity: workload_identity.map(str::to_owned),
            }),
            terraform_version: "1.15.5".into(),
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_token_file_is_exchanged_once_then_reread_and_exchanged_again_before_expiry() {
        let (url, seen) = peer().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "jwt-1\n").unwrap();
        let client = client(url, TokenSource::File(file.clone()), Some("wi_01J8"));
        for _ in 0..3 {
            let _: serde_json::Value = client.get("/v1/auth/verify").await.unwrap();
        }
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.exchanges.len(), 1, "a valid token is reused");
            let form = &seen.exchanges[0];
            assert_eq!(
                form_value(form, "grant_type").unwrap(),
                TOKEN_EXCHANGE_GRANT
            );
            assert_eq!(form_value(form, "subject_token").unwrap(), "jwt-1");
            assert_eq!(
                form_value(form, "subject_token_type").unwrap(),
                JWT_TOKEN_TYPE
            );
            assert_eq!(form_value(form, "client_id").unwrap(), "wi_01J8");
            assert_eq!(form_value(form, "client_secret"), None);
            assert!(
                seen.bearers.iter().all(|b| b == "Bearer at-1"),
                "{:?}",
                seen.bearers
            );
        }
        // The platform refreshed the file; the access token is within a minute of expiry.
        std::fs::write(&file, "jwt-2").unwrap();
        let exchanger = client.exchanger().unwrap();
        exchanger.expire_in(Duration::from_secs(90)).await;
        let _: serde_json::Value = client.get("/v1/auth/verify").await.unwrap();
        assert_eq!(
            seen.lock().unwrap().exchanges.len(),
            1,
            "90 s left is not due"
        );
        exchanger.expire_in(Duration::from_secs(30)).await;
        let _: serde_json::Value = client.get("/v1/auth/verify").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.exchanges.len(), 2);
        assert_eq!(
            form_value(&seen.exchanges[1], "subject_token").unwrap(),
            "jwt-2"
        );
        assert_eq!(seen.bearers.last().unwrap(), "Bearer at-2");
    }

    #[tokio::test]
    async fn concurrent_calls_with_a_due_token_wait_for_one_exchange() {
        let (url, seen) = peer().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "jwt-1").unwrap();
        let client = Arc::new(client(url, TokenSource::File(file.clone()), None));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let client = client.clone();
            calls.spawn(async move { client.get::<serde_json::Value>("/v1/scopes").await });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap().unwrap();
        }
        std::fs::write(&file, "jwt-2").unwrap();
        client.exchanger().unwrap().expire_in(Duration::ZERO).await;
        for _ in 0..8 {
            let client = client.clone();
            calls.spawn(async move { client.get::<serde_json::Value>("/v1/scopes").await });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap().unwrap();
        }
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.exchanges.len(),
            2,
            "one exchange per expiry, not per call"
        );
        assert_eq!(seen.bearers.len(), 16);
        assert_eq!(form_value(&seen.exchanges[0], "client_id"), None);
    }

    #[tokio::test]
    async fn a_refused_exchange_says_which_condition_failed_and_never_quotes_the_token() {
        let (url, _seen) = peer().await;
        let client = client(
            url,
            TokenSource::Static(SecretString::from("jwt-of-a-feature-branch".to_owned())),
            Some("wi_1"),
        );
        let err = client.authenticate().await.unwrap_err();
        let ApiError::Exchange {
            status,
            ref error,
            ref description,
        } = err
        else {
            panic!("not an exchange refusal: {err}")
        };
        assert_eq!((status, error.as_str()), (400, "invalid_request"));
        assert!(description
            .as_deref()
            .unwrap()
            .contains("`ref` does not meet"));
        let mut diags = tf_provider::Diagnostics::default();
        crate::diag::DiagnosticsExt::api_error(&mut diags, "read the API key", &err);
        let shown = format!("{} {}", diags.errors[0].summary, diags.errors[0].detail);
        assert!(shown.contains("`ref` does not meet"), "{shown}");
        assert!(!shown.contains("jwt-of-a-feature-branch"), "{shown}");
    }

    #[tokio::test]
    async fn an_exchanged_token_refused_early_is_exchanged_once_more() {
        let (url, seen) = peer().await;
        seen.lock().unwrap().refused.push("at-1".into());
        let client = client(
            url.clone(),
            TokenSource::GitHubActions {
                request_url: format!("{url}/github-id-token?api-version=2.0"),
                request_token: SecretString::from("gh-request-token".to_owned()),
                audience: "statuspulse".into(),
            },
            None,
        );
        let _: serde_json::Value = client.get("/v1/scopes").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.exchanges.len(), 2);
        assert_eq!(seen.bearers, ["Bearer at-1", "Bearer at-2"]);
        assert_eq!(
            seen.github.len(),
            2,
            "a fresh ID token for the new exchange"
        );
    }

    #[tokio::test]
    async fn an_unrefreshed_token_is_never_replayed_the_access_token_lasts_then_the_error_says_why()
    {
        let (url, seen) = peer().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "jwt-1").unwrap();
        let client = client(url, TokenSource::File(file.clone()), None);
        client.authenticate().await.unwrap();
        let exchanger = client.exchanger().unwrap();
        exchanger.expire_in(Duration::from_secs(30)).await;
        let _: serde_json::Value = client.get("/v1/scopes").await.unwrap();
        assert_eq!(seen.lock().unwrap().exchanges.len(), 1, "no replay sent");
        assert_eq!(seen.lock().unwrap().bearers, ["Bearer at-1"]);
        exchanger.expire_in(Duration::ZERO).await;
        let err = client
            .get::<serde_json::Value>("/v1/scopes")
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::OidcToken(_)), "{err}");
        assert!(err.to_string().contains("only once"), "{err}");
        assert!(!err.to_string().contains("jwt-1"), "{err}");
        assert_eq!(seen.lock().unwrap().exchanges.len(), 1);
        // Once the platform writes a new token, the provider recovers by itself.
        std::fs::write(&file, "jwt-2").unwrap();
        let _: serde_json::Value = client.get("/v1/scopes").await.unwrap();
        assert_eq!(seen.lock().unwrap().exchanges.len(), 2);
    }

    #[tokio::test]
    async fn github_actions_is_asked_for_a_token_with_the_audience() {
        let (url, seen) = peer().await;
        let client = client(
            url.clone(),
            TokenSource::GitHubActions {
                request_url: format!("{url}/github-id-token?api-version=2.0"),
                request_token: SecretString::from("gh-request-token".to_owned()),
                audience: "statuspulse".into(),
            },
            None,
        );
        client.authenticate().await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.github,
            ["GET /github-id-token?api-version=2.0&audience=statuspulse HTTP/1.1 bearer gh-request-token"]
        );
        assert_eq!(
            form_value(&seen.exchanges[0], "subject_token").unwrap(),
            "jwt-from-github-1"
        );
    }

    #[tokio::test]
    async fn an_unreadable_token_file_is_named_without_a_token() {
        let (url, seen) = peer().await;
        let client = client(url, TokenSource::File("/nonexistent/ci-token".into()), None);
        let err = client.authenticate().await.unwrap_err();
        assert!(matches!(err, ApiError::OidcToken(_)), "{err}");
        assert!(err.to_string().contains("/nonexistent/ci-token"), "{err}");
        assert!(seen.lock().unwrap().exchanges.is_empty());
    }
}
