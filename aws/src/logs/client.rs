//! The client: PutLogEvents and its recoveries, CreateLogStream, and the credentials cache.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::batch;
use super::{Config, LogEvent, PutError, PutOutcome};
use crate::credentials::{parse_assume_role_response, Session};
use crate::error::{AwsError, Error, Hints};
use crate::http::{self, Endpoint, Reply, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_BYTES};
use crate::sigv4;
use crate::{Auth, ErrorKind, StaticCredentials};

/// How messages name this service.
const SERVICE: &str = "CloudWatch Logs";

/// GetLogEvents pages can be large (up to 10,000 events); it is a test and diagnostic call.
const MAX_GET_LOG_EVENTS_RESPONSE_BYTES: usize = 64 << 20;
/// Assumed-role credentials are renewed this long before they expire.
const CREDENTIALS_RENEW_BEFORE: time::Duration = time::Duration::minutes(5);
/// Role sessions last an hour; shorter would mean more STS calls, longer needs the role's consent.
const ASSUME_ROLE_SECONDS: u32 = 3600;
/// Attempts of one PutLogEvents call (stream creation, a token to follow, renewed credentials).
const MAX_ATTEMPTS: usize = 4;

/// A CloudWatch Logs client for one log stream. Cheap to clone; clones share the cached
/// assumed-role credentials and sequence token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    timeout: Duration,
}

struct Inner {
    http: reqwest::Client,
    config: Config,
    endpoints: Result<Endpoints, String>,
    /// Held across the STS call, so that concurrent senders assume the role once.
    assumed: tokio::sync::Mutex<Option<Arc<Session>>>,
    sequence_token: Mutex<Option<String>>,
    sts_calls: AtomicU64,
}

struct Endpoints {
    logs: Endpoint,
    sts: Endpoint,
}

/// Where logs and STS are reached: the override for both, or AWS's regional endpoints.
fn endpoints(config: &Config) -> Result<Endpoints, String> {
    let region = &config.region;
    http::check_region(region)?;
    let (logs, sts) = match &config.endpoint {
        Some(url) => {
            let url = url.trim_end_matches('/');
            (url.to_owned(), url.to_owned())
        }
        None => (
            format!("https://logs.{region}.amazonaws.com"),
            format!("https://sts.{region}.amazonaws.com"),
        ),
    };
    Ok(Endpoints {
        logs: Endpoint::parse(&logs)?,
        sts: Endpoint::parse(&sts)?,
    })
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client writing to `config.log_stream` through `http` (whose TLS, proxy and pool settings
    /// are kept; every request also gets this crate's own timeout).
    pub fn new(http: reqwest::Client, config: Config) -> Self {
        let endpoints = endpoints(&config);
        Self {
            inner: Arc::new(Inner {
                http,
                config,
                endpoints,
                assumed: tokio::sync::Mutex::new(None),
                sequence_token: Mutex::new(None),
                sts_calls: AtomicU64::new(0),
            }),
            timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Bounds each request (connect, send, whole answer) by `timeout` instead of 10 s.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times this client (and its clones) called STS AssumeRole: one per hour of sending
    /// while the cache works. A metric, and how the tests see the cache.
    pub fn assume_role_calls(&self) -> u64 {
        self.inner.sts_calls.load(Ordering::Relaxed)
    }

    /// Sends `events` in order, split into as many PutLogEvents calls as CloudWatch's limits need
    /// (≤ 10,000 events, ≤ 1,048,576 bytes counting message UTF-8 bytes + 26 per event, < 24 h
    /// span, timestamps non-decreasing within a call: a timestamp that goes backwards is clamped to
    /// its predecessor's, never reordered; a message over 256 KiB is cut to fit).
    ///
    /// Creates the log stream when missing (ResourceNotFoundException on the stream) and retries.
    /// InvalidSequenceToken / DataAlreadyAccepted: takes the expected token from the error and
    /// continues (DataAlreadyAccepted means that batch is already stored: it counts as delivered).
    /// Events CloudWatch rejects one by one (too old, too new, expired) are counted in the outcome,
    /// not an error.
    ///
    /// # Errors
    /// A [`PutError`] whose `delivered` says how many leading events were stored before it.
    pub async fn put(&self, events: &[LogEvent]) -> Result<PutOutcome, PutError> {
        let (prepared, truncated) = batch::prepare(events);
        let mut outcome = PutOutcome {
            truncated,
            ..PutOutcome::default()
        };
        for range in batch::split(&prepared) {
            let delivered = range.start;
            let rejected = self
                .put_batch(&prepared[range])
                .await
                .map_err(|failure| failure.at(delivered))?;
            outcome.rejected_too_old += rejected.rejected_too_old;
            outcome.rejected_too_new += rejected.rejected_too_new;
            outcome.rejected_expired += rejected.rejected_expired;
        }
        Ok(outcome)
    }

    /// Reads the whole log stream back, oldest first (GetLogEvents, paged). For tests and
    /// diagnostics: the principal needs `logs:GetLogEvents`, which a sink does not.
    ///
    /// # Errors
    /// As [`Client::put`], with `delivered` always 0.
    pub async fn get_log_events(&self) -> Result<Vec<LogEvent>, PutError> {
        self.read_stream().await.map_err(|failure| failure.at(0))
    }

    async fn read_stream(&self) -> Result<Vec<LogEvent>, Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Request<'a> {
            log_group_name: &'a str,
            log_stream_name: &'a str,
            start_from_head: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_token: Option<&'a str>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            events: Vec<Event>,
            next_forward_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Event {
            timestamp: i64,
            message: String,
        }

        let config = &self.inner.config;
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let session = self.session().await?;
            let body = http::json_body(
                SERVICE,
                &Request {
                    log_group_name: &config.log_group,
                    log_stream_name: &config.log_stream,
                    start_from_head: true,
                    next_token: token.as_deref(),
                },
            )?;
            let reply = self
                .call_logs(
                    "GetLogEvents",
                    &session,
                    body,
                    MAX_GET_LOG_EVENTS_RESPONSE_BYTES,
                )
                .await?;
            if reply.status != 200 {
                return Err(self.logs_failure("GetLogEvents", &reply, &session));
            }
            let page: Page = http::parse_json(SERVICE, "GetLogEvents", &reply.body)?;
            let empty = page.events.is_empty();
            events.extend(page.events.into_iter().map(|e| LogEvent {
                timestamp_ms: e.timestamp,
                message: e.message,
            }));
            // GetLogEvents signals the end by handing back the token it was given.
            if empty || page.next_forward_token.is_none() || page.next_forward_token == token {
                return Ok(events);
            }
            token = page.next_forward_token;
        }
    }

    /// One PutLogEvents call for `batch` (already within limits), with the recoveries the
    /// protocol allows.
    async fn put_batch(&self, batch: &[batch::Prepared<'_>]) -> Result<PutOutcome, Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Request<'a> {
            log_group_name: &'a str,
            log_stream_name: &'a str,
            log_events: Vec<Event<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sequence_token: Option<String>,
        }
        #[derive(Serialize)]
        struct Event<'a> {
            timestamp: i64,
            message: &'a str,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Response {
            next_sequence_token: Option<String>,
            rejected_log_events_info: Option<Rejected>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Rejected {
            too_new_log_event_start_index: Option<usize>,
            too_old_log_event_end_index: Option<usize>,
            expired_log_event_end_index: Option<usize>,
        }

        let config = &self.inner.config;
        let mut stream_created = false;
        let mut credentials_renewed = false;
        for _ in 0..MAX_ATTEMPTS {
            let session = self.session().await?;
            let body = http::json_body(
                SERVICE,
                &Request {
                    log_group_name: &config.log_group,
                    log_stream_name: &config.log_stream,
                    log_events: batch
                        .iter()
                        .map(|e| Event {
                            timestamp: e.timestamp_ms,
                            message: e.message.as_ref(),
                        })
                        .collect(),
                    sequence_token: self.sequence_token(),
                },
            )?;
            let reply = self
                .call_logs("PutLogEvents", &session, body, MAX_RESPONSE_BYTES)
                .await?;
            if reply.status == 200 {
                let response: Response = http::parse_json(SERVICE, "PutLogEvents", &reply.body)?;
                if response.next_sequence_token.is_some() {
                    self.set_sequence_token(response.next_sequence_token);
                }
                // AWS: tooNewLogEventStartIndex is inclusive, tooOldLogEventEndIndex and
                // expiredLogEventEndIndex are exclusive ends of a leading run.
                let len = batch.len();
                let rejected = response.rejected_log_events_info;
                let rejected = rejected.as_ref();
                return Ok(PutOutcome {
                    rejected_too_new: rejected
                        .and_then(|r| r.too_new_log_event_start_index)
                        .map_or(0, |start| len.saturating_sub(start)),
                    rejected_too_old: rejected
                        .and_then(|r| r.too_old_log_event_end_index)
                        .map_or(0, |end| end.min(len)),
                    rejected_expired: rejected
                        .and_then(|r| r.expired_log_event_end_index)
                        .map_or(0, |end| end.min(len)),
                    truncated: 0,
                });
            }
            let error = self.parse_error(&reply, &session);
            match error.code.as_str() {
                "ResourceNotFoundException" if mentions_log_group(&error) => {
                    return Err(self.missing_log_group(&error));
                }
                "ResourceNotFoundException" if !stream_created => {
                    self.create_log_stream(&session).await?;
                    stream_created = true;
                }
                "ResourceNotFoundException" => {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!(
                            "the log stream `{}` was gone again right after it was created (is something deleting it?): retry later",
                            config.log_stream
                        ),
                    ));
                }
                "InvalidSequenceTokenException" => {
                    self.set_sequence_token(error.expected_sequence_token.clone());
                }
                "DataAlreadyAcceptedException" => {
                    self.set_sequence_token(error.expected_sequence_token.clone());
                    return Ok(PutOutcome::default());
                }
                "ExpiredToken" | "ExpiredTokenException"
                    if self.assumes_role() && !credentials_renewed =>
                {
                    *self.inner.assumed.lock().await = None;
                    credentials_renewed = true;
                }
                _ => return Err(self.failure("PutLogEvents", &error)),
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "PutLogEvents to log stream `{}` of log group `{}` did not succeed in {MAX_ATTEMPTS} attempts \
                 (the stream was recreated or its sequence token kept changing, as when another writer uses it): retry later",
                config.log_stream, config.log_group
            ),
        ))
    }

    async fn create_log_stream(&self, session: &Session) -> Result<(), Error> {
        let config = &self.inner.config;
        let body = http::json_body(
            SERVICE,
            &serde_json::json!({
                "logGroupName": config.log_group,
                "logStreamName": config.log_stream,
            }),
        )?;
        let reply = self
            .call_logs("CreateLogStream", session, body, MAX_RESPONSE_BYTES)
            .await?;
        if reply.status == 200 {
            // A new stream starts without a sequence token.
            self.set_sequence_token(None);
            return Ok(());
        }
        let error = self.parse_error(&reply, session);
        match error.code.as_str() {
            // Another writer created it first: just as good.
            "ResourceAlreadyExistsException" => Ok(()),
            "ResourceNotFoundException" => Err(self.missing_log_group(&error)),
            _ => Err(self.failure("CreateLogStream", &error)),
        }
    }

    fn missing_log_group(&self, error: &AwsError) -> Error {
        let config = &self.inner.config;
        Error::new(
            ErrorKind::Denied,
            format!(
                "the log group `{}` does not exist in {} ({}): create it, StatusPulse creates only the log stream",
                config.log_group,
                config.region,
                error.summary()
            ),
        )
    }

    fn failure(&self, operation: &str, error: &AwsError) -> Error {
        let config = &self.inner.config;
        Error::new(
            error.kind(),
            format!(
                "CloudWatch Logs refused {operation} on log group `{}` in {} ({}): {}",
                config.log_group,
                config.region,
                error.summary(),
                error.advice(&sink_hints())
            ),
        )
    }

    fn logs_failure(&self, operation: &str, reply: &Reply, session: &Session) -> Error {
        self.failure(operation, &self.parse_error(reply, session))
    }

    fn parse_error(&self, reply: &Reply, session: &Session) -> AwsError {
        let mut secrets = session.secrets();
        if let Auth::AssumeRole { base, .. } = &self.inner.config.auth {
            secrets.push(base.secret_access_key.expose_secret());
            if let Some(token) = &base.session_token {
                secrets.push(token.expose_secret());
            }
        }
        AwsError::parse(
            reply.status,
            reply.error_type.as_deref(),
            reply.retry_after,
            &reply.body,
            &secrets,
        )
    }

    fn assumes_role(&self) -> bool {
        matches!(self.inner.config.auth, Auth::AssumeRole { .. })
    }

    fn sequence_token(&self) -> Option<String> {
        // A poisoned lock only means another sender panicked mid-assignment of a plain string.
        match self.inner.sequence_token.lock() {
            Ok(token) => token.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_sequence_token(&self, token: Option<String>) {
        match self.inner.sequence_token.lock() {
            Ok(mut slot) => *slot = token,
            Err(poisoned) => *poisoned.into_inner() = token,
        }
    }

    /// The credentials to sign with now: the static ones, or the cached assumed-role ones,
    /// renewed 5 minutes before they expire.
    async fn session(&self) -> Result<Arc<Session>, Error> {
        let (base, role_arn, external_id, session_name) = match &self.inner.config.auth {
            Auth::Static(credentials) => return Ok(Arc::new(Session::from_static(credentials))),
            Auth::AssumeRole {
                base,
                role_arn,
                external_id,
                session_name,
            } => (base, role_arn, external_id, session_name),
        };
        let mut cached = self.inner.assumed.lock().await;
        if let Some(session) = cached.as_ref() {
            if session.valid_for(OffsetDateTime::now_utc(), CREDENTIALS_RENEW_BEFORE) {
                return Ok(Arc::clone(session));
            }
        }
        let session = Arc::new(
            self.assume_role(base, role_arn, external_id.as_deref(), session_name)
                .await?,
        );
        *cached = Some(Arc::clone(&session));
        Ok(session)
    }

    async fn assume_role(
        &self,
        base: &StaticCredentials,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Result<Session, Error> {
        let endpoints = self.endpoints()?;
        let duration = ASSUME_ROLE_SECONDS.to_string();
        let mut form = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session_name),
            ("DurationSeconds", duration.as_str()),
        ];
        if let Some(external_id) = external_id {
            form.push(("ExternalId", external_id));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes();
        let base_session = Session::from_static(base);
        self.inner.sts_calls.fetch_add(1, Ordering::Relaxed);
        let reply = self
            .send(
                &endpoints.sts,
                "sts",
                &base_session,
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                body,
                MAX_RESPONSE_BYTES,
            )
            .await
            .map_err(|failure| Error {
                message: format!("STS AssumeRole of `{role_arn}`: {}", failure.message),
                ..failure
            })?;
        let region = &self.inner.config.region;
        if reply.status == 200 {
            let text = String::from_utf8_lossy(&reply.body);
            return parse_assume_role_response(&text, OffsetDateTime::now_utc()).ok_or_else(|| {
                Error::new(
                    ErrorKind::Invalid,
                    format!("STS in {region} answered AssumeRole of `{role_arn}` without credentials: is the endpoint really STS?"),
                )
            });
        }
        let error = AwsError::parse(
            reply.status,
            reply.error_type.as_deref(),
            reply.retry_after,
            &reply.body,
            &base_session.secrets(),
        );
        let advice = match error.kind() {
            ErrorKind::Denied => "check that the role's trust policy names this principal (and the external id, if it requires one) and that the principal may call sts:AssumeRole on it".to_owned(),
            _ => error.advice(&sink_hints()),
        };
        Err(Error::new(
            error.kind(),
            format!(
                "STS in {region} refused to assume role `{role_arn}` ({}): {advice}",
                error.summary()
            ),
        ))
    }

    fn endpoints(&self) -> Result<&Endpoints, Error> {
        self.inner.endpoints.as_ref().map_err(|problem| {
            Error::new(
                ErrorKind::Denied,
                format!("the sink's CloudWatch region or endpoint is unusable: {problem}: fix the sink's configuration"),
            )
        })
    }

    async fn call_logs(
        &self,
        operation: &str,
        session: &Session,
        body: Vec<u8>,
        max_response_bytes: usize,
    ) -> Result<Reply, Error> {
        let endpoints = self.endpoints()?;
        let target = format!("Logs_20140328.{operation}");
        self.send(
            &endpoints.logs,
            "logs",
            session,
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target.as_str()),
            ],
            body,
            max_response_bytes,
        )
        .await
    }

    /// Signs and sends one request with this client's region and timeout.
    async fn send(
        &self,
        endpoint: &Endpoint,
        service: &str,
        session: &Session,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        max_response_bytes: usize,
    ) -> Result<Reply, Error> {
        http::send(
            &self.inner.http,
            session,
            http::Call {
                endpoint,
                service,
                region: &self.inner.config.region,
                headers,
                body,
                max_response_bytes,
                timeout: self.timeout,
            },
        )
        .await
    }
}

/// A sink's errors point at the sink's settings on the server.
fn sink_hints() -> Hints {
    Hints {
        credentials: "the sink's credentials".to_owned(),
        permissions: "grant the principal logs:PutLogEvents and logs:CreateLogStream on the log group (and sts:AssumeRole on the role, if one is used)".to_owned(),
        client: "StatusPulse's CloudWatch client",
    }
}

fn mentions_log_group(error: &AwsError) -> bool {
    error.message.to_ascii_lowercase().contains("log group")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine keeps one client per sink in shared state and calls it from spawned tasks.
    #[test]
    fn the_client_and_its_put_future_can_cross_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        fn sendable<T: Send>(_: &T) {}
        shareable::<Client>();
        let client = Client::new(
            reqwest::Client::new(),
            Config {
                region: "us-east-1".to_owned(),
                log_group: "g".to_owned(),
                log_stream: "s".to_owned(),
                endpoint: None,
                auth: Auth::Static(StaticCredentials {
                    access_key_id: "AKIAEXAMPLE".to_owned(),
                    secret_access_key: secrecy::SecretString::from("secret"),
                    session_token: None,
                }),
            },
        );
        sendable(&client.put(&[]));
        sendable(&client.get_log_events());
    }

    #[test]
    fn default_endpoints_are_the_regional_aws_ones() {
        let client = Client::new(
            reqwest::Client::new(),
            Config {
                region: "eu-west-3".to_owned(),
                log_group: "g".to_owned(),
                log_stream: "s".to_owned(),
                endpoint: None,
                auth: Auth::Static(StaticCredentials {
                    access_key_id: "AKIAEXAMPLE".to_owned(),
                    secret_access_key: secrecy::SecretString::from("secret"),
                    session_token: None,
                }),
            },
        );
        let endpoints = client.inner.endpoints.as_ref().unwrap();
        assert_eq!(
            endpoints.logs.url.as_str(),
            "https://logs.eu-west-3.amazonaws.com/"
        );
        assert_eq!(endpoints.logs.host, "logs.eu-west-3.amazonaws.com");
        assert_eq!(endpoints.sts.host, "sts.eu-west-3.amazonaws.com");
    }

    #[tokio::test]
    async fn an_endpoint_that_is_not_a_url_is_denied_with_what_to_fix() {
        let client = Client::new(
            reqwest::Client::new(),
            Config {
                region: "us-east-1".to_owned(),
                log_group: "g".to_owned(),
                log_stream: "s".to_owned(),
                endpoint: Some("ftp://example.com".to_owned()),
                auth: Auth::Static(StaticCredentials {
                    access_key_id: "AKIAEXAMPLE".to_owned(),
                    secret_access_key: secrecy::SecretString::from("secret"),
                    session_token: None,
                }),
            },
        );
        let error = client
            .put(&[LogEvent {
                timestamp_ms: 1,
                message: "m".to_owned(),
            }])
            .await
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Denied);
        assert_eq!(error.delivered, 0);
        assert!(
            error.message.contains("fix the sink's configuration"),
            "{error}"
        );
    }
}
