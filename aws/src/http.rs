//! One signed HTTPS call, bounded in time and size, and what a transport failure means.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::credentials::Session;
use crate::error::{Error, ErrorKind};
use crate::sigv4;

/// Every request is bounded: connect, send and the whole answer.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers are read up to this size; CloudWatch's, STS's and Secrets Manager's are a few KiB at most.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Refuses a region that could not be a host name label and signing scope: letters, digits
/// and dashes only (`eu-west-1`).
pub(crate) fn check_region(region: &str) -> Result<(), String> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "`{region}` is not an AWS region name (such as eu-west-1)"
        ));
    }
    Ok(())
}

/// Where one service is reached.
pub(crate) struct Endpoint {
    pub url: reqwest::Url,
    /// The `Host` header reqwest will send (port only when not the scheme's default): signed.
    pub host: String,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http(s) URL"));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("`{url}` has no host")),
        };
        Ok(Self { url, host })
    }
}

/// A raw answer, read within bounds.
pub(crate) struct Reply {
    pub status: u16,
    /// `x-amzn-errortype`, which names the error when the body does not.
    pub error_type: Option<String>,
    /// `Retry-After` in seconds (the form AWS uses).
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// One `POST` to sign and send.
pub(crate) struct Call<'a> {
    pub endpoint: &'a Endpoint,
    /// The SigV4 service name: `logs`, `sts` or `secretsmanager`.
    pub service: &'a str,
    pub region: &'a str,
    /// Headers to send and sign besides `host`, `x-amz-date` and `x-amz-security-token`.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Vec<u8>,
    pub max_response_bytes: usize,
    pub timeout: Duration,
}

/// Signs and sends one `POST`, and reads the answer within bounds of time and size.
pub(crate) async fn send(
    http: &reqwest::Client,
    session: &Session,
    call: Call<'_>,
) -> Result<Reply, Error> {
    let Call {
        endpoint,
        service,
        region,
        headers,
        body,
        max_response_bytes,
        timeout,
    } = call;
    let mut to_sign: Vec<(&str, &str)> = vec![("host", endpoint.host.as_str())];
    to_sign.extend_from_slice(headers);
    let signer = sigv4::Signer {
        access_key_id: &session.access_key_id,
        secret_access_key: session.secret_access_key.expose_secret(),
        session_token: session
            .session_token
            .as_ref()
            .map(ExposeSecret::expose_secret),
        region,
        service,
    };
    let signed = signer.sign(
        &sigv4::Request {
            method: "POST",
            path: endpoint.url.path(),
            query: &[],
            headers: &to_sign,
            body: &body,
        },
        OffsetDateTime::now_utc(),
    );

    let mut header_map = HeaderMap::new();
    let all = headers.iter().copied().chain(
        signed
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
    );
    for (name, value) in all {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::Invalid,
                format!("`{name}` is not an HTTP header name: a bug in StatusPulse's AWS client"),
            )
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
                // Only a session token with a character HTTP forbids can get here; do not echo it.
                Error::new(
                    ErrorKind::Denied,
                    format!("the `{name}` header cannot be sent (a character HTTP does not allow): check the AWS credentials"),
                )
            })?;
        // Keeps the signature and the token out of reqwest's and hyper's Debug output.
        if matches!(name.as_str(), "authorization" | "x-amz-security-token") {
            value.set_sensitive(true);
        }
        header_map.insert(name, value);
    }

    let what = format!("{} at {}", service_name(service), endpoint.url);
    let response = http
        .post(endpoint.url.clone())
        .headers(header_map)
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_failure(&what, &e, timeout))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let error_type = header("x-amzn-errortype");
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = read_bounded(response, max_response_bytes)
        .await
        .map_err(|e| transport_failure(&what, &e, timeout))?;
    Ok(Reply {
        status,
        error_type,
        retry_after,
        body,
    })
}

fn service_name(service: &str) -> &'static str {
    match service {
        "sts" => "STS",
        "secretsmanager" => "Secrets Manager",
        _ => "CloudWatch Logs",
    }
}

/// A transport failure: the request may or may not have arrived, so it is retried as a whole.
fn transport_failure(what: &str, error: &reqwest::Error, timeout: Duration) -> Error {
    let happened = if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    // reqwest's own text names the cause (DNS, refused, TLS); it holds no header values.
    let cause = error_chain(error);
    Error::new(
        ErrorKind::Unavailable,
        format!("{what}: {happened} ({cause}): retry later; if it lasts, check the endpoint, DNS and the network path"),
    )
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads at most `limit` bytes of the body; the rest is dropped with the connection.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A JSON 1.1 request body for `service` (as messages name it: "CloudWatch Logs").
pub(crate) fn json_body(service: &str, value: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| {
        Error::new(
            ErrorKind::Invalid,
            format!("could not encode a {service} request: {e}"),
        )
    })
}

/// `service`'s answer to `operation`. serde_json's message names a position and an
/// expectation, never the input's text, so nothing secret is quoted.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    service: &str,
    operation: &str,
    body: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::Invalid,
            format!("{service} answered {operation} with a body we cannot read ({e}): is the endpoint really {service}?"),
        )
    })
}
