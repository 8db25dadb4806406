//! AWS Secrets Manager over its JSON 1.1 protocol (`X-Amz-Target: secretsmanager.<Operation>`):
//! the four calls the provider needs to keep an API key in a secret instead of Terraform's state.
//!
//! Writes carry a `ClientRequestToken`, which Secrets Manager uses as the new version's id and as
//! an idempotency key: a write repeated with the same token and value creates nothing new, so a
//! caller that derives the token from what it stores may retry a write whose answer it lost.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::credentials::Session;
use crate::error::{AwsError, Error, Hints};
use crate::http::{self, Endpoint, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_BYTES};
use crate::{ErrorKind, StaticCredentials};

/// How messages name this service.
const SERVICE: &str = "Secrets Manager";

/// The staging label of a secret's current version: what a plain GetSecretValue returns.
pub const AWSCURRENT: &str = "AWSCURRENT";

/// Where and as whom to call Secrets Manager.
#[derive(Debug, Clone)]
pub struct Config {
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// A base URL replacing `https://secretsmanager.{region}.amazonaws.com` (VPC endpoints, tests).
    pub endpoint: Option<String>,
    /// The credentials to sign with.
    pub credentials: StaticCredentials,
    /// Where the credentials came from (e.g. "the environment variables AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY"): named in messages about refused credentials.
    pub credentials_source: String,
}

/// A version a write created (or found already written with the same token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenVersion {
    /// The secret's ARN.
    pub arn: String,
    /// The version's id: the `ClientRequestToken` the write was given.
    pub version_id: String,
}

/// What DescribeSecret says about a secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDescription {
    pub arn: String,
    pub name: String,
    /// Each version's staging labels (`AWSCURRENT`, `AWSPREVIOUS`, custom ones).
    pub version_ids_to_stages: BTreeMap<String, Vec<String>>,
    /// Set when the secret is scheduled for deletion.
    pub deleted: bool,
}

impl SecretDescription {
    /// The id of the version labelled `AWSCURRENT`, if any.
    pub fn current_version(&self) -> Option<&str> {
        self.version_ids_to_stages
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == AWSCURRENT))
            .map(|(id, _)| id.as_str())
    }
}

/// One version's value.
pub struct SecretValue {
    pub arn: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
    /// `SecretString`; binary secrets are not read here.
    pub secret_string: Option<SecretString>,
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("arn", &self.arn)
            .field("version_id", &self.version_id)
            .field("version_stages", &self.version_stages)
            .field("secret_string", &"[redacted]")
            .finish()
    }
}

/// A Secrets Manager client for one region and one set of credentials.
pub struct Client {
    http: reqwest::Client,
    config: Config,
    endpoint: Result<Endpoint, String>,
    timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `https://secretsmanager.{region}.amazonaws.com`, or the override.
fn endpoint(config: &Config) -> Result<Endpoint, String> {
    let region = &config.region;
    http::check_region(region)?;
    match &config.endpoint {
        Some(url) => Endpoint::parse(url.trim_end_matches('/')),
        None => Endpoint::parse(&format!("https://secretsmanager.{region}.amazonaws.com")),
    }
}

impl Client {
    /// A client calling through `http` (its TLS, proxy and pool settings are kept; every request
    /// also gets this client's own timeout).
    pub fn new(http: reqwest::Client, config: Config) -> Self {
        let endpoint = endpoint(&config);
        Self {
            http,
            config,
            endpoint,
            timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Bounds each request (connect, send, whole answer) by `timeout` instead of 10 s.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL requests go to.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint.as_ref().ok().map(|e| e.url.as_str())
    }

    /// DescribeSecret: the secret's versions and their labels, or `None` when it does not exist.
    ///
    /// # Errors
    /// An [`Error`] saying what failed and what to do.
    pub async fn describe_secret(
        &self,
        secret_id: &str,
    ) -> Result<Option<SecretDescription>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Response {
            #[serde(rename = "ARN")]
            arn: String,
            name: String,
            #[serde(default)]
            version_ids_to_stages: BTreeMap<String, Vec<String>>,
            deleted_date: Option<serde_json::Value>,
        }
        let body = http::json_body(SERVICE, &serde_json::json!({ "SecretId": secret_id }))?;
        match self.call("DescribeSecret", secret_id, body, None).await {
            Ok(reply) => {
                let r: Response = http::parse_json(SERVICE, "DescribeSecret", &reply)?;
                Ok(Some(SecretDescription {
                    arn: r.arn,
                    name: r.name,
                    version_ids_to_stages: r.version_ids_to_stages,
                    deleted: r.deleted_date.is_some_and(|d| !d.is_null()),
                }))
            }
            Err(Refused::Aws(error)) if error.code == "ResourceNotFoundException" => Ok(None),
            Err(refused) => Err(self.failure("DescribeSecret", secret_id, refused)),
        }
    }

    /// CreateSecret named `name` holding `value` as its first version, `token`.
    ///
    /// # Errors
    /// An [`Error`] saying what failed and what to do (`ResourceExistsException` when the secret
    /// exists already).
    pub async fn create_secret(
        &self,
        name: &str,
        value: &SecretString,
        token: &str,
        description: &str,
    ) -> Result<WrittenVersion, Error> {
        self.create(name, value, token, description)
            .await
            .map_err(|refused| self.failure("CreateSecret", name, refused))
    }

    async fn create(
        &self,
        name: &str,
        value: &SecretString,
        token: &str,
        description: &str,
    ) -> Result<WrittenVersion, Refused> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Request<'a> {
            name: &'a str,
            secret_string: &'a str,
            client_request_token: &'a str,
            description: &'a str,
        }
        let body = http::json_body(
            SERVICE,
            &Request {
                name,
                secret_string: value.expose_secret(),
                client_request_token: token,
                description,
            },
        )
        .map_err(Refused::Local)?;
        let reply = self.call("CreateSecret", name, body, Some(value)).await?;
        written("CreateSecret", &reply, token).map_err(Refused::Local)
    }

    /// PutSecretValue: `value` becomes the new `AWSCURRENT` version of the existing secret
    /// `secret_id`, with `token` as its version id.
    ///
    /// # Errors
    /// An [`Error`] saying what failed and what to do (`ResourceNotFoundException` when there is
    /// no such secret).
    pub async fn put_secret_value(
        &self,
        secret_id: &str,
        value: &SecretString,
        token: &str,
    ) -> Result<WrittenVersion, Error> {
        self.put(secret_id, value, token)
            .await
            .map_err(|refused| self.failure("PutSecretValue", secret_id, refused))
    }

    async fn put(
        &self,
        secret_id: &str,
        value: &SecretString,
        token: &str,
    ) -> Result<WrittenVersion, Refused> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Request<'a> {
            secret_id: &'a str,
            secret_string: &'a str,
            client_request_token: &'a str,
        }
        let body = http::json_body(
            SERVICE,
            &Request {
                secret_id,
                secret_string: value.expose_secret(),
                client_request_token: token,
            },
        )
        .map_err(Refused::Local)?;
        let reply = self
            .call("PutSecretValue", secret_id, body, Some(value))
            .await?;
        written("PutSecretValue", &reply, token).map_err(Refused::Local)
    }

    /// Stores `value` as the `AWSCURRENT` version `token` of `secret_id`: PutSecretValue when the
    /// secret exists, CreateSecret (with `description`) when it does not. Repeating it with the
    /// same token and value is harmless.
    ///
    /// # Errors
    /// An [`Error`] saying what failed and what to do.
    pub async fn write_secret(
        &self,
        secret_id: &str,
        value: &SecretString,
        token: &str,
        description: &str,
    ) -> Result<WrittenVersion, Error> {
        match self.put(secret_id, value, token).await {
            Ok(version) => return Ok(version),
            Err(Refused::Aws(error)) if error.code == "ResourceNotFoundException" => {}
            Err(refused) => return Err(self.failure("PutSecretValue", secret_id, refused)),
        }
        if secret_id.starts_with("arn:") {
            return Err(Error::new(
                ErrorKind::Denied,
                format!(
                    "the secret `{secret_id}` does not exist in {}, and a secret cannot be created \
                     by ARN: create it first, or give its name as secret_id so it is created",
                    self.config.region
                ),
            ));
        }
        match self.create(secret_id, value, token, description).await {
            Ok(version) => Ok(version),
            // Created by someone else between the two calls: write the version into it.
            Err(Refused::Aws(error)) if error.code == "ResourceExistsException" => {
                self.put_secret_value(secret_id, value, token).await
            }
            Err(refused) => Err(self.failure("CreateSecret", secret_id, refused)),
        }
    }

    /// GetSecretValue of `version_id`, or of the `AWSCURRENT` version when `None`.
    ///
    /// # Errors
    /// An [`Error`] saying what failed and what to do.
    pub async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
    ) -> Result<SecretValue, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Response {
            #[serde(rename = "ARN")]
            arn: String,
            version_id: String,
            #[serde(default)]
            version_stages: Vec<String>,
            secret_string: Option<String>,
        }
        let mut request = serde_json::json!({ "SecretId": secret_id });
        if let Some(version) = version_id {
            request["VersionId"] = version.into();
        }
        let body = http::json_body(SERVICE, &request)?;
        let reply = self
            .call("GetSecretValue", secret_id, body, None)
            .await
            .map_err(|refused| self.failure("GetSecretValue", secret_id, refused))?;
        let r: Response = http::parse_json(SERVICE, "GetSecretValue", &reply)?;
        Ok(SecretValue {
            arn: r.arn,
            version_id: r.version_id,
            version_stages: r.version_stages,
            secret_string: r.secret_string.map(SecretString::from),
        })
    }

    /// Signs and sends one call; a non-200 answer is parsed, scrubbed of the credentials and of
    /// `value`, the secret being written (AWS does not echo it, but a proxy or emulator might).
    async fn call(
        &self,
        operation: &str,
        secret_id: &str,
        body: Vec<u8>,
        value: Option<&SecretString>,
    ) -> Result<Vec<u8>, Refused> {
        let endpoint = self.endpoint.as_ref().map_err(|problem| {
            Refused::Local(Error::new(
                ErrorKind::Denied,
                format!("the Secrets Manager region or endpoint is unusable: {problem}: fix the secret store's configuration"),
            ))
        })?;
        let session = Session::from_static(&self.config.credentials);
        let target = format!("secretsmanager.{operation}");
        let reply = http::send(
            &self.http,
            &session,
            http::Call {
                endpoint,
                service: "secretsmanager",
                region: &self.config.region,
                headers: &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", target.as_str()),
                ],
                body,
                max_response_bytes: MAX_RESPONSE_BYTES,
                timeout: self.timeout,
            },
        )
        .await
        .map_err(|e| {
            Refused::Local(Error {
                message: format!("{operation} of secret `{secret_id}`: {}", e.message),
                ..e
            })
        })?;
        if reply.status == 200 {
            return Ok(reply.body);
        }
        let mut secrets = session.secrets();
        secrets.extend(value.map(ExposeSecret::expose_secret));
        Err(Refused::Aws(AwsError::parse(
            reply.status,
            reply.error_type.as_deref(),
            reply.retry_after,
            &reply.body,
            &secrets,
        )))
    }

    fn failure(&self, operation: &str, secret_id: &str, refused: Refused) -> Error {
        let error = match refused {
            Refused::Local(error) => return error,
            Refused::Aws(error) => error,
        };
        let region = &self.config.region;
        let advice = match error.code.as_str() {
            "ResourceNotFoundException" => format!(
                "check secret_id and the region ({region}); a secret is created only by name, not by ARN"
            ),
            "InvalidRequestException" if error.message.contains("deletion") => {
                "the secret is scheduled for deletion: restore it (RestoreSecret) or use another secret_id".to_owned()
            }
            "ResourceExistsException" => "another version holds this request token: a different value was written for the same key; replace the key".to_owned(),
            _ => error.advice(&Hints {
                credentials: format!("the AWS credentials (from {})", self.config.credentials_source),
                permissions: format!(
                    "grant the principal whose credentials come from {} secretsmanager:CreateSecret, \
                     secretsmanager:PutSecretValue and secretsmanager:DescribeSecret on the secret",
                    self.config.credentials_source
                ),
                client: "StatusPulse's Secrets Manager client",
            }),
        };
        Error::new(
            error.kind(),
            format!(
                "Secrets Manager in {region} refused {operation} of secret `{secret_id}` ({}): {advice}",
                error.summary()
            ),
        )
    }
}

/// A call that did not succeed: refused by AWS (parsed, to branch on its code), or failed here.
enum Refused {
    Aws(AwsError),
    Local(Error),
}

/// The version a CreateSecret or PutSecretValue answer names.
fn written(operation: &str, body: &[u8], token: &str) -> Result<WrittenVersion, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Response {
        #[serde(rename = "ARN")]
        arn: String,
        version_id: Option<String>,
    }
    let r: Response = http::parse_json(SERVICE, operation, body)?;
    Ok(WrittenVersion {
        arn: r.arn,
        version_id: r.version_id.unwrap_or_else(|| token.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<&str>, region: &str) -> Config {
        Config {
            region: region.to_owned(),
            endpoint: endpoint.map(str::to_owned),
            credentials: StaticCredentials {
                access_key_id: "AKIAEXAMPLE".to_owned(),
                secret_access_key: SecretString::from("secret"),
                session_token: None,
            },
            credentials_source: "a test".to_owned(),
        }
    }

    #[test]
    fn the_default_endpoint_is_the_regional_aws_one() {
        let client = Client::new(reqwest::Client::new(), config(None, "eu-west-3"));
        assert_eq!(
            client.endpoint_url(),
            Some("https://secretsmanager.eu-west-3.amazonaws.com/")
        );
    }

    #[tokio::test]
    async fn a_bad_region_is_denied_before_anything_is_sent() {
        let client = Client::new(reqwest::Client::new(), config(None, "Europe"));
        let error = client.describe_secret("s").await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Denied);
        assert!(error.message.contains("not an AWS region"), "{error}");
    }

    #[test]
    fn the_current_version_is_the_one_labelled_awscurrent() {
        let description = SecretDescription {
            arn: "arn".into(),
            name: "n".into(),
            version_ids_to_stages: [
                ("a".to_owned(), vec!["AWSPREVIOUS".to_owned()]),
                ("b".to_owned(), vec!["AWSCURRENT".to_owned()]),
            ]
            .into(),
            deleted: false,
        };
        assert_eq!(description.current_version(), Some("b"));
    }

    #[test]
    fn a_secret_value_never_shows_in_debug_output() {
        let value = SecretValue {
            arn: "arn".into(),
            version_id: "v".into(),
            version_stages: vec![],
            secret_string: Some(SecretString::from("sp_test_secret")),
        };
        assert!(!format!("{value:?}").contains("sp_test_secret"));
    }
}
