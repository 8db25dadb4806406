//! The `secret_store` block of `statuspulse_api_key` (issue 13): the new key goes straight to a
//! secret store, AWS Secrets Manager for now, and only the version that holds it enters state.
//!
//! The rules, and why:
//! - everything the store needs (region, endpoint, credentials) is resolved before a key is
//!   minted, so a store that cannot be used costs no key;
//! - the write carries a `ClientRequestToken` derived from the key's id, so a write retried after a
//!   lost answer creates no second version;
//! - a write that fails revokes the key just minted (grace 0) before the error is reported: a live
//!   credential must not exist that nothing holds;
//! - refresh checks that the secret's `AWSCURRENT` version is still ours; when someone overwrote
//!   or deleted it, a warning says so and `version_id` becomes null, which plans a replacement (a
//!   new key written to the store), because consumers no longer read the key Terraform manages;
//! - destroy revokes the key as always and leaves the secret alone: it may hold other versions,
//!   may be shared with its consumers' configuration, and deleting it is the AWS provider's job.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use statuspulse_aws::secrets_manager::{self, WrittenVersion};
use statuspulse_aws::{ErrorKind, StaticCredentials};
use tf_provider::schema::{Block, Description, NestedBlock};
use tf_provider::value::{self, Value};
use tf_provider::{AttributePath, Diagnostics};

use crate::diag::{field_path, DiagnosticsExt};
use crate::model::PlainKey;
use crate::schema::{computed, optional, optional_block, required, string};
use crate::state::known;
use statuspulse_api::validate as rules;

/// `secret_store { … }`: one destination block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretStoreBlock {
    #[serde(with = "value::serde_as_vec")]
    pub aws_secrets_manager: Value<AwsSecretsManagerBlock>,
}

/// `secret_store { aws_secrets_manager { … } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AwsSecretsManagerBlock {
    pub secret_id: Value<String>,
    pub region: Value<String>,
    pub endpoint: Value<String>,
    pub version_id: Value<String>,
    pub arn: Value<String>,
}

/// The AWS block of a configured store, if any.
pub fn aws(store: &Value<SecretStoreBlock>) -> Option<&AwsSecretsManagerBlock> {
    store.as_ref_option()?.aws_secrets_manager.as_ref_option()
}

/// The same, to change its computed attributes.
pub fn aws_mut(store: &mut Value<SecretStoreBlock>) -> Option<&mut AwsSecretsManagerBlock> {
    match store {
        Value::Value(block) => match &mut block.aws_secrets_manager {
            Value::Value(aws) => Some(aws),
            _ => None,
        },
        _ => None,
    }
}

/// Where diagnostics about the store point.
fn at(attribute: &str) -> AttributePath {
    field_path(&format!("secret_store.aws_secrets_manager.{attribute}"))
}

/// The path of `version_id`, the attribute a drift replacement is planned on.
pub fn version_id_path() -> AttributePath {
    at("version_id")
}

/// The `secret_store` block of the schema.
pub fn block() -> NestedBlock {
    let aws = optional_block(
        "AWS Secrets Manager. The secret is created when it does not exist (only by name); \
         otherwise the key is written as its new `AWSCURRENT` version. Credentials come from the \
         environment as for the AWS provider: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and \
         `AWS_SESSION_TOKEN`, else profile `AWS_PROFILE` (or `default`) of the shared credentials \
         file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`). The principal needs \
         `secretsmanager:CreateSecret` (when the provider creates the secret), \
         `secretsmanager:PutSecretValue` and `secretsmanager:DescribeSecret`.",
        vec![
            ("secret_id", required(string(), "Name or ARN of the secret. A secret given by name is created when missing; one given by ARN must exist. Changing it replaces the key.")),
            ("region", optional(string(), "AWS region of the secret, e.g. `eu-west-1`. Default: `AWS_REGION`, else `AWS_DEFAULT_REGION`. Changing it replaces the key.")),
            ("endpoint", optional(string(), "Base URL replacing `https://secretsmanager.<region>.amazonaws.com` (VPC endpoints, tests): `https`, or `http` on a loopback address. Default: `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`, else AWS's regional endpoint. Changing it replaces the key.")),
            ("version_id", computed(string(), "The secret's version holding this key (its `ClientRequestToken`, `statuspulse-<id>`). Null after a refresh that found another version current, or the secret gone: the next plan then replaces the key.")),
            ("arn", computed(string(), "ARN of the secret.")),
        ],
    );
    NestedBlock::Optional(Block {
        version: 1,
        attributes: Default::default(),
        blocks: [("aws_secrets_manager".to_owned(), aws)].into(),
        description: Description::markdown(
            "Hands the new key straight to a secret store instead of Terraform's state: `key` \
             stays null in plan and state, and only the store's version id is kept. Anything \
             changed in this block replaces the key, and so does adding the block to an existing \
             or imported key: the provider can store only a key it creates.",
        ),
        deprecated: false,
    })
}

/// Plan-time checks of the block, on what is known.
pub fn validate(diags: &mut Diagnostics, store: &Value<SecretStoreBlock>) {
    let Some(block) = store.as_ref_option() else {
        return;
    };
    let Some(aws) = block.aws_secrets_manager.as_ref_option() else {
        if block.aws_secrets_manager.is_null() {
            diags.add(
                "secret_store needs a destination",
                "Add an aws_secrets_manager block inside secret_store (the only store so far), \
                 or remove secret_store to keep the key in Terraform's state.",
                AttributePath::new("secret_store").index(0),
            );
        }
        return;
    };
    if let Some(id) = known(&aws.secret_id) {
        if let Err(problem) = secret_id(id) {
            diags.add(
                "Invalid secret_store.aws_secrets_manager.secret_id",
                problem,
                at("secret_id"),
            );
        }
    }
    if let Some(region) = known(&aws.region) {
        if let Err(e) = rules::aws_region("secret_store.aws_secrets_manager.region", region) {
            diags.add(
                "Invalid secret_store.aws_secrets_manager.region",
                e.detail,
                at("region"),
            );
        }
    }
    if let Some(endpoint) = known(&aws.endpoint) {
        if let Err(e) = rules::https_url(
            "secret_store.aws_secrets_manager.endpoint",
            endpoint.trim_end_matches('/'),
        ) {
            diags.add(
                "Invalid secret_store.aws_secrets_manager.endpoint",
                e.detail,
                at("endpoint"),
            );
        }
    }
}

/// A secret's name (1 to 512 of ASCII letters, digits and `/_+=.@-`) or ARN (up to 2048).
fn secret_id(id: &str) -> Result<(), String> {
    if id.starts_with("arn:") {
        let ok = id.len() <= 2048
            && id.split(':').nth(2) == Some("secretsmanager")
            && id.contains(":secret:")
            && !id.chars().any(|c| c.is_control() || c.is_whitespace());
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "`{id}` is not a Secrets Manager secret ARN \
                 (arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
            ))
        };
    }
    let ok = (1..=512).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a secret name: use 1 to 512 letters, digits or `/_+=.@-` \
             (e.g. `ci/statuspulse-key`), or the secret's ARN"
        ))
    }
}

/// The secret's version id for key `id`: the same on every retry of the same key's write, and
/// telling in the AWS console which key a version holds.
pub fn request_token(id: &str) -> String {
    format!("statuspulse-{id}")
}

/// A store ready to use: region, endpoint and credentials resolved.
pub struct Store {
    client: secrets_manager::Client,
    secret_id: String,
    region: String,
}

/// Retries of a write that AWS throttled or could not answer; the token makes them safe.
const WRITE_ATTEMPTS: u32 = 3;

impl Store {
    /// Resolves what the block leaves to the environment. Called before a key is minted.
    pub fn open(diags: &mut Diagnostics, block: &AwsSecretsManagerBlock) -> Option<Store> {
        Self::open_with(diags, block, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    fn open_with(
        diags: &mut Diagnostics,
        block: &AwsSecretsManagerBlock,
        var: impl Fn(&str) -> Option<String>,
    ) -> Option<Store> {
        let secret_id = known(&block.secret_id)?.to_owned();
        let Some(region) = known(&block.region)
            .map(str::to_owned)
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
        else {
            diags.add(
                "No AWS region for the secret store",
                format!(
                    "The secret `{secret_id}` needs a region: set `region` in the \
                     aws_secrets_manager block, or AWS_REGION (or AWS_DEFAULT_REGION) in \
                     Terraform's environment. No key was created."
                ),
                at("region"),
            );
            return None;
        };
        if let Err(e) = rules::aws_region("AWS_REGION", &region) {
            diags.add(
                "Invalid AWS region for the secret store",
                format!("{} (from the environment). No key was created.", e.detail),
                at("region"),
            );
            return None;
        }
        let endpoint = known(&block.endpoint)
            .map(str::to_owned)
            .or_else(|| var("AWS_ENDPOINT_URL_SECRETS_MANAGER"))
            .or_else(|| var("AWS_ENDPOINT_URL"));
        let (credentials, credentials_source) = match StaticCredentials::from_environment_with(&var)
        {
            Ok(found) => found,
            Err(e) => {
                diags.add(
                    "No AWS credentials for the secret store",
                    format!(
                        "The key cannot be stored in secret `{secret_id}`: {}. No key was created.",
                        e.message
                    ),
                    field_path("secret_store.aws_secrets_manager"),
                );
                return None;
            }
        };
        let http = match reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                diags.add(
                    "Could not set up an HTTPS client for AWS",
                    format!("{e}. No key was created."),
                    field_path("secret_store.aws_secrets_manager"),
                );
                return None;
            }
        };
        let client = secrets_manager::Client::new(
            http,
            secrets_manager::Config {
                region: region.clone(),
                endpoint,
                credentials,
                credentials_source,
            },
        );
        Some(Store {
            client,
            secret_id,
            region,
        })
    }

    /// Writes `key` (the resource `id`, named `name`) as the secret's `AWSCURRENT` version.
    ///
    /// # Errors
    /// What failed, already safe to show (the credentials are scrubbed, the key never in it).
    pub async fn write(
        &self,
        key: &PlainKey,
        id: &str,
        name: &str,
    ) -> Result<WrittenVersion, statuspulse_aws::Error> {
        let token = request_token(id);
        let value = SecretString::from(key.expose());
        let description =
            format!("StatusPulse API key `{name}`, written by Terraform (statuspulse_api_key)");
        let mut attempt = 1;
        loop {
            match self
                .client
                .write_secret(&self.secret_id, &value, &token, &description)
                .await
            {
                Ok(version) => return Ok(version),
                Err(e)
                    if attempt < WRITE_ATTEMPTS
                        && matches!(
                            e.kind,
                            ErrorKind::Throttled { .. } | ErrorKind::Unavailable
                        ) =>
                {
                    let wait = match e.kind {
                        ErrorKind::Throttled {
                            retry_after: Some(after),
                        } => after.min(Duration::from_secs(10)),
                        _ => Duration::from_secs(u64::from(attempt)),
                    };
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Refresh: is `version_id` still the secret's `AWSCURRENT` version? Warns and clears
    /// `version_id` (planning a replacement) when it is not; only warns when it cannot tell, so
    /// that an AWS outage does not block plans of everything else.
    pub async fn check_current(&self, diags: &mut Diagnostics, block: &mut AwsSecretsManagerBlock) {
        let Some(ours) = known(&block.version_id).map(str::to_owned) else {
            return;
        };
        let secret = &self.secret_id;
        let region = &self.region;
        match self.client.describe_secret(secret).await {
            Ok(Some(described)) if !described.deleted => {
                block.arn = Value::Value(described.arn.clone());
                let current = described.current_version();
                if current == Some(ours.as_str()) {
                    return;
                }
                diags.warn(
                    "The secret store no longer holds this key",
                    format!(
                        "The AWSCURRENT version of secret `{secret}` in {region} is {}, not `{ours}`, \
                         the version holding this key: it was overwritten outside Terraform. \
                         Consumers reading the secret no longer get the key Terraform manages, so \
                         the plan replaces the key and writes the new one to the secret. To keep \
                         the other value instead, remove the secret_store block from this key.",
                        current.map_or_else(|| "none".to_owned(), |v| format!("`{v}`")),
                    ),
                    version_id_path(),
                );
                block.version_id = Value::Null;
            }
            Ok(_) => {
                diags.warn(
                    "The secret store no longer holds this key",
                    format!(
                        "Secret `{secret}` in {region} no longer exists (or is scheduled for \
                         deletion), so it no longer holds this key. The plan replaces the key and \
                         writes the new one to the secret, creating it again (restore a secret \
                         scheduled for deletion first)."
                    ),
                    version_id_path(),
                );
                block.version_id = Value::Null;
            }
            Err(e) => diags.warn(
                "Could not check the secret store",
                format!(
                    "{}. Whether secret `{secret}` still holds this key is unknown; the state is \
                     kept as it was.",
                    e.message
                ),
                version_id_path(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::errors_of;

    fn block(
        secret_id: &str,
        region: Option<&str>,
        endpoint: Option<&str>,
    ) -> Value<SecretStoreBlock> {
        Value::Value(SecretStoreBlock {
            aws_secrets_manager: Value::Value(AwsSecretsManagerBlock {
                secret_id: Value::Value(secret_id.into()),
                region: region.map_or(Value::Null, |r| Value::Value(r.into())),
                endpoint: endpoint.map_or(Value::Null, |e| Value::Value(e.into())),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn a_valid_block_has_no_diagnostics() {
        for store in [
            block("ci/statuspulse-key", None, None),
            block(
                "ci",
                Some("eu-west-1"),
                Some("https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"),
            ),
            block(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci-AbCdEf",
                None,
                Some("http://127.0.0.1:5000/"),
            ),
        ] {
            assert!(errors_of(|d| validate(d, &store)).is_empty(), "{store:?}");
        }
    }

    #[test]
    fn each_bad_attribute_is_reported_on_itself() {
        let errors = errors_of(|d| {
            validate(
                d,
                &block("", Some("Europe"), Some("http://secrets.example.com")),
            );
        });
        let at: Vec<AttributePath> = errors.into_iter().map(|(_, path)| path).collect();
        assert_eq!(
            at,
            [
                field_path("secret_store.aws_secrets_manager.secret_id"),
                field_path("secret_store.aws_secrets_manager.region"),
                field_path("secret_store.aws_secrets_manager.endpoint"),
            ]
        );
    }

    #[test]
    fn a_store_without_a_destination_is_refused() {
        let errors = errors_of(|d| {
            validate(d, &Value::Value(SecretStoreBlock::default()));
        });
        assert_eq!(errors[0].0, "secret_store needs a destination");
    }

    #[test]
    fn the_request_token_is_stable_and_within_aws_limits() {
        let token = request_token("key_0190f3a1b2c3d4e5f60718293a4b5c6d");
        assert_eq!(token, request_token("key_0190f3a1b2c3d4e5f60718293a4b5c6d"));
        assert!((32..=64).contains(&token.len()), "{token}");
    }

    fn open(vars: &[(&str, &str)], block: &AwsSecretsManagerBlock) -> (Option<Store>, Vec<String>) {
        let mut diags = Diagnostics::default();
        let store = Store::open_with(&mut diags, block, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        let details = diags.errors.iter().map(|d| d.detail.to_string()).collect();
        (store, details)
    }

    #[test]
    fn region_and_endpoint_come_from_the_environment_when_the_block_leaves_them_out() {
        let Value::Value(config) = block("ci", None, None) else {
            unreachable!()
        };
        let aws = config.aws_secrets_manager.as_ref_option().unwrap();
        let (store, errors) = open(
            &[
                ("AWS_DEFAULT_REGION", "eu-central-1"),
                ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ],
            aws,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let store = store.unwrap();
        assert_eq!(store.region, "eu-central-1");
        assert_eq!(
            store.client.endpoint_url(),
            Some("https://secretsmanager.eu-central-1.amazonaws.com/")
        );
        let (store, _) = open(
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ],
            aws,
        );
        assert_eq!(
            store.unwrap().client.endpoint_url(),
            Some("http://127.0.0.1:4566/")
        );
    }

    #[test]
    fn no_region_or_no_credentials_is_a_diagnostic_before_any_key_is_minted() {
        let Value::Value(config) = block("ci", None, None) else {
            unreachable!()
        };
        let aws = config.aws_secrets_manager.as_ref_option().unwrap();
        let (store, errors) = open(&[], aws);
        assert!(store.is_none());
        assert!(errors[0].contains("AWS_REGION"), "{errors:?}");
        let (store, errors) = open(
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ],
            aws,
        );
        assert!(store.is_none());
        assert!(
            errors[0].contains("AWS_ACCESS_KEY_ID") && errors[0].contains("No key was created"),
            "{errors:?}"
        );
    }
}
