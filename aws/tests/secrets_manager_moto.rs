//! The Secrets Manager client against a real moto_server with SigV4 signatures and IAM policies
//! enforced: every request below is signed by our code and checked by botocore's in moto.

// A panic in a test (or its helpers) is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use secrecy::{ExposeSecret, SecretString};
use statuspulse_aws::ErrorKind;
use support::{Key, Moto};

const FIRST: &str = "sp_test_first-value-of-the-secret";
const SECOND: &str = "sp_test_second-value-of-the-secret";
const TOKEN_1: &str = "statuspulse-key_0000000000000000000001";
const TOKEN_2: &str = "statuspulse-key_0000000000000000000002";

fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

#[tokio::test]
async fn a_missing_secret_is_created_and_its_value_read_back() {
    let moto = Moto::start().await;
    let client = moto.secrets_client(&moto.storer);
    assert_eq!(client.describe_secret("ci/key").await.unwrap(), None);

    let written = client
        .write_secret("ci/key", &secret(FIRST), TOKEN_1, "made by a test")
        .await
        .unwrap();

    assert_eq!(written.version_id, TOKEN_1);
    assert!(written.arn.contains(":secret:ci/key"), "{written:?}");
    let value = client.get_secret_value("ci/key", None).await.unwrap();
    assert_eq!(value.secret_string.unwrap().expose_secret(), FIRST);
    assert_eq!(value.version_id, TOKEN_1);
    let described = client.describe_secret("ci/key").await.unwrap().unwrap();
    assert_eq!(described.current_version(), Some(TOKEN_1));
    assert_eq!(described.arn, written.arn);
}

#[tokio::test]
async fn a_second_write_becomes_current_and_the_first_stays_readable_as_previous() {
    let moto = Moto::start().await;
    let client = moto.secrets_client(&moto.storer);
    client
        .write_secret("rotated", &secret(FIRST), TOKEN_1, "")
        .await
        .unwrap();

    let second = client
        .write_secret("rotated", &secret(SECOND), TOKEN_2, "")
        .await
        .unwrap();

    assert_eq!(second.version_id, TOKEN_2);
    let current = client.get_secret_value("rotated", None).await.unwrap();
    assert_eq!(current.secret_string.unwrap().expose_secret(), SECOND);
    let described = client.describe_secret("rotated").await.unwrap().unwrap();
    assert_eq!(described.current_version(), Some(TOKEN_2));
    assert_eq!(
        described.version_ids_to_stages[TOKEN_1],
        ["AWSPREVIOUS".to_owned()]
    );
    let previous = client
        .get_secret_value("rotated", Some(TOKEN_1))
        .await
        .unwrap();
    assert_eq!(previous.secret_string.unwrap().expose_secret(), FIRST);
}

#[tokio::test]
async fn a_write_repeated_with_the_same_token_creates_no_new_version() {
    let moto = Moto::start().await;
    let client = moto.secrets_client(&moto.storer);
    client
        .write_secret("retried", &secret(FIRST), TOKEN_1, "")
        .await
        .unwrap();
    client
        .write_secret("retried", &secret(SECOND), TOKEN_2, "")
        .await
        .unwrap();

    // The answer to the second write was "lost": it is sent again.
    let again = client
        .write_secret("retried", &secret(SECOND), TOKEN_2, "")
        .await
        .unwrap();

    assert_eq!(again.version_id, TOKEN_2);
    let described = client.describe_secret("retried").await.unwrap().unwrap();
    assert_eq!(described.version_ids_to_stages.len(), 2, "{described:?}");
    assert_eq!(described.current_version(), Some(TOKEN_2));
}

#[tokio::test]
async fn a_principal_without_permission_is_denied_with_what_to_grant() {
    let moto = Moto::start().await;
    let client = moto.secrets_client(&moto.nobody);

    let error = client
        .write_secret("forbidden", &secret(FIRST), TOKEN_1, "")
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert!(error.message.contains("`forbidden`"), "{error}");
    assert!(
        error.message.contains("secretsmanager:PutSecretValue"),
        "{error}"
    );
    assert!(!error.message.contains(FIRST));
    assert!(!error
        .message
        .contains(moto.nobody.secret_access_key.as_str()));
}

#[tokio::test]
async fn a_wrong_secret_access_key_is_refused_by_the_signature_check() {
    let moto = Moto::start().await;
    let forged = Key {
        access_key_id: moto.storer.access_key_id.clone(),
        secret_access_key: "not-the-secret-access-key-of-storer".to_owned(),
    };
    let client = moto.secrets_client(&forged);

    let error = client.describe_secret("anything").await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert!(error.message.contains("does not match"), "{error}");
    assert!(
        !error.message.contains("not-the-secret-access-key"),
        "{error}"
    );
    assert!(!error.message.contains("Signature="), "{error}");
}

#[tokio::test]
async fn a_missing_secret_given_by_arn_is_not_created() {
    let moto = Moto::start().await;
    let client = moto.secrets_client(&moto.storer);
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf";

    let error = client
        .write_secret(arn, &secret(FIRST), TOKEN_1, "")
        .await
        .unwrap_err();

    assert!(
        error.message.contains("cannot be created by ARN"),
        "{error}"
    );
    assert_eq!(client.describe_secret("nowhere").await.unwrap(), None);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_and_names_the_secret() {
    let client = statuspulse_aws::secrets_manager::Client::new(
        reqwest::Client::new(),
        statuspulse_aws::secrets_manager::Config {
            region: support::REGION.to_owned(),
            // Nothing listens on port 9 (discard) of loopback here.
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            credentials: statuspulse_aws::StaticCredentials {
                access_key_id: "AKIAEXAMPLE".to_owned(),
                secret_access_key: secret("secret"),
                session_token: None,
            },
            credentials_source: "a test".to_owned(),
        },
    );

    let error = client
        .write_secret("s", &secret(FIRST), TOKEN_1, "")
        .await
        .unwrap_err();

    assert_eq!(error.kind, ErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("secret `s`"), "{error}");
    assert!(error.message.contains("connect"), "{error}");
}
