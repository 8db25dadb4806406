//! `statuspulse_api_key` with a `secret_store` block (issue 13) against the real server and a real
//! moto_server with SigV4 and IAM enforced (the same setup as the CloudWatch client's tests):
//! the key goes to Secrets Manager and never into plan, output or state; the stored value is a
//! working key; a replacement writes its successor to the secret while the old key keeps working
//! for its grace; an overwritten secret is drift that replaces the key; a store that refuses the
//! key leaves no active key behind; bad credentials and a bad block are clear diagnostics.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use statuspulse_aws::secrets_manager;

use crate::aws_support::{Key, Moto, REGION};
use crate::examples::REQUIRED_PROVIDERS;
use crate::harness::{assert_diagnostic_at, heavy_lock, Run, Server, Terraform};

/// A moto_server and the runtime its async client needs, for these synchronous tests.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    pub moto: Moto,
}

impl Aws {
    pub fn start() -> Aws {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let moto = runtime.block_on(Moto::start());
        Aws { runtime, moto }
    }

    /// The environment a pipeline allowed to write secrets gives Terraform.
    pub fn environment(key: &Key) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", key.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", key.secret_access_key.clone()),
            ("AWS_REGION", REGION.to_owned()),
            // Nothing from this machine's own AWS configuration.
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/credentials".to_owned(),
            ),
        ]
    }

    /// The secret's current value and version, read with the test's own signed client.
    pub fn current(&self, secret_id: &str) -> (String, String) {
        let client = self.moto.secrets_client(&self.moto.storer);
        let value = self
            .runtime
            .block_on(client.get_secret_value(secret_id, None))
            .unwrap();
        (
            value.secret_string.unwrap().expose_secret().to_owned(),
            value.version_id,
        )
    }

    pub fn describe(&self, secret_id: &str) -> Option<secrets_manager::SecretDescription> {
        let client = self.moto.secrets_client(&self.moto.storer);
        self.runtime
            .block_on(client.describe_secret(secret_id))
            .unwrap()
    }

    /// Someone writes another value into the secret, outside Terraform.
    fn overwrite(&self, secret_id: &str, value: &str) {
        let client = self.moto.secrets_client(&self.moto.storer);
        self.runtime
            .block_on(client.put_secret_value(
                secret_id,
                &SecretString::from(value),
                "someone-else-0000000000000000000000000001",
            ))
            .unwrap();
    }
}

fn key_config(name: &str, secret_id: &str, endpoint: &str, keeper: &str) -> String {
    format!(
        r#"
resource "statuspulse_api_key" "{name}" {{
  name        = "{name}"
  environment = "test"
  scopes      = ["read:checks"]
  keepers = {{
    rotation = "{keeper}"
  }}

  secret_store {{
    aws_secrets_manager {{
      secret_id = "{secret_id}"
      region    = "{REGION}"
      endpoint  = "{endpoint}"
    }}
  }}

  lifecycle {{
    create_before_destroy = true
  }}
}}
"#
    )
}

/// No key, in any environment's format, in any output or file Terraform wrote.
fn assert_no_key_in(what: &str, text: &str) {
    for prefix in ["sp_test_", "sp_live_"] {
        assert!(!text.contains(prefix), "{what} holds a key:\n{text}");
    }
}

fn assert_no_key_in_state(tf: &Terraform) {
    let state = std::fs::read_to_string(tf.work().join("terraform.tfstate")).unwrap();
    assert_no_key_in("terraform.tfstate", &state);
}

fn active_keys_named(server: &Server, name: &str) -> Vec<Value> {
    let (status, page) = server.admin("GET", "/v1/api-keys?status=active&limit=200", None);
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == name)
        .cloned()
        .collect()
}

fn key_status(server: &Server, id: &str) -> String {
    let (_, key) = server.admin("GET", &format!("/v1/api-keys/{id}"), None);
    key["status"].as_str().unwrap_or_default().to_owned()
}

fn store_attributes(tf: &Terraform, address: &str) -> (String, Value) {
    let resource = tf.resources()[address].clone();
    assert!(resource["key"].is_null(), "{resource}");
    (
        resource["id"].as_str().unwrap().to_owned(),
        resource["secret_store"][0]["aws_secrets_manager"][0].clone(),
    )
}

fn assert_secret_free(run: &Run, aws: &Aws) {
    let text = run.all();
    assert_no_key_in("terraform's output", &text);
    for secret in [
        aws.moto.storer.secret_access_key.as_str(),
        aws.moto.nobody.secret_access_key.as_str(),
    ] {
        assert!(!text.contains(secret), "an AWS secret key in:\n{text}");
    }
    assert!(!text.contains("Signature="), "{text}");
}

pub fn lifecycle(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let aws = Aws::start();
    let endpoint = aws.moto.endpoint.clone();
    let secret_id = "ci/statuspulse-deployer";
    let mut tf = Terraform::new(version, &server);
    for (name, value) in Aws::environment(&aws.moto.storer) {
        tf.set_env(name, &value);
    }
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write(
        "main.tf",
        &key_config("deployer", secret_id, &endpoint, "1"),
    );

    // Created: the secret holds a working key; plan, output and state hold none.
    let plan = tf.plan();
    assert_no_key_in("the plan", &plan.stdout);
    let applied = tf.apply();
    assert_secret_free(&applied, &aws);
    assert_no_key_in_state(&tf);
    let (first_id, store) = store_attributes(&tf, "statuspulse_api_key.deployer");
    let (first_key, first_version) = aws.current(secret_id);
    assert!(
        first_key.starts_with("sp_test_"),
        "the secret is the key itself"
    );
    assert_eq!(server.verify(&first_key), 200);
    assert_eq!(store["version_id"], first_version.as_str());
    assert_eq!(first_version, format!("statuspulse-{first_id}"));
    assert!(
        store["arn"]
            .as_str()
            .unwrap()
            .contains(":secret:ci/statuspulse-deployer"),
        "{store}"
    );
    tf.assert_no_changes();

    // Rotation by replacement: the successor is written first, the old key keeps its grace.
    tf.write(
        "main.tf",
        &key_config("deployer", secret_id, &endpoint, "2"),
    );
    let plan = tf.plan();
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert_no_key_in("the plan", &plan.stdout);
    let applied = tf.apply();
    assert_secret_free(&applied, &aws);
    assert_no_key_in_state(&tf);
    let (second_id, store) = store_attributes(&tf, "statuspulse_api_key.deployer");
    assert_ne!(second_id, first_id);
    let (second_key, second_version) = aws.current(secret_id);
    assert_ne!(second_key, first_key);
    assert_eq!(store["version_id"], second_version.as_str());
    assert_eq!(server.verify(&second_key), 200);
    // A consumer that has not re-read the secret yet is not refused during the grace.
    assert_eq!(server.verify(&first_key), 200);
    assert_eq!(key_status(&server, &first_id), "rotating");
    let described = aws.describe(secret_id).unwrap();
    assert_eq!(
        described.version_ids_to_stages[&first_version],
        ["AWSPREVIOUS".to_owned()]
    );
    tf.assert_no_changes();

    // Someone overwrites the secret: drift, reported, and the key is replaced into the secret.
    aws.overwrite(secret_id, "not-a-statuspulse-key");
    let plan = tf.plan();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.all()
            .contains("The secret store no longer holds this key"),
        "{}",
        plan.all()
    );
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply();
    let (third_id, _) = store_attributes(&tf, "statuspulse_api_key.deployer");
    assert_ne!(third_id, second_id);
    let (third_key, _) = aws.current(secret_id);
    assert_eq!(server.verify(&third_key), 200);
    tf.assert_no_changes();

    // Destroy revokes the key and leaves the secret alone.
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(key_status(&server, &third_id), "revoked");
    assert_eq!(server.verify(&third_key), 401);
    assert!(
        aws.describe(secret_id).is_some(),
        "destroy deleted the secret"
    );
}

/// A store that refuses the key (no IAM permission, a wrong secret key, nothing listening), and
/// credentials missing altogether: one clear diagnostic each, and no active key left behind.
pub fn store_failures(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let aws = Aws::start();
    let endpoint = aws.moto.endpoint.clone();
    let forged = Key {
        access_key_id: aws.moto.storer.access_key_id.clone(),
        secret_access_key: "a-wrong-secret-access-key-for-storer".to_owned(),
    };
    let cases: [(&str, Key, String, &str); 3] = [
        (
            "denied",
            aws.moto.nobody.clone(),
            endpoint.clone(),
            "secretsmanager:PutSecretValue",
        ),
        (
            "forged",
            forged,
            endpoint.clone(),
            "does not match the access key id",
        ),
        // Nothing listens on the discard port of loopback.
        (
            "unreachable",
            aws.moto.storer.clone(),
            "http://127.0.0.1:9".to_owned(),
            "could not connect",
        ),
    ];
    for (name, key, at, expected) in cases {
        let mut tf = Terraform::new(version, &server);
        for (variable, value) in Aws::environment(&key) {
            tf.set_env(variable, &value);
        }
        tf.write("versions.tf", REQUIRED_PROVIDERS);
        tf.write(
            "main.tf",
            &key_config(name, &format!("ci/{name}"), &at, "1"),
        );
        let run = tf.run(&["apply", "-auto-approve", "-no-color"]);
        assert_ne!(run.code, 0, "{name}: {}", run.all());
        let text = run.all();
        assert_secret_free(&run, &aws);
        assert!(
            text.contains("Could not store the API key in AWS Secrets Manager"),
            "{name}: {text}"
        );
        assert!(text.contains(expected), "{name}: {text}");
        assert!(
            text.contains(&format!("secret `ci/{name}`")),
            "{name}: {text}"
        );
        assert!(text.contains("was revoked"), "{name}: {text}");
        assert!(
            active_keys_named(&server, name).is_empty(),
            "{name}: a key the store did not take is still active"
        );
        assert!(tf.resources().is_empty(), "{name}: in state after failing");
    }

    // No credentials at all: said before any key is minted.
    let mut tf = Terraform::new(version, &server);
    tf.set_env("AWS_REGION", REGION);
    tf.set_env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write(
        "main.tf",
        &key_config("uncredentialed", "ci/none", &endpoint, "1"),
    );
    let (_, before) = server.admin("GET", "/v1/api-keys?limit=200", None);
    let run = tf.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("No AWS credentials for the secret store")
            && text.contains("AWS_ACCESS_KEY_ID")
            && text.contains("No key was created"),
        "{text}"
    );
    let (_, after) = server.admin("GET", "/v1/api-keys?limit=200", None);
    assert_eq!(before["items"], after["items"], "a key was minted");
}

/// Plan-time checks of the block, on the offending attribute, before anything is sent.
pub fn plan_time_validation(version: &'static str) {
    let _heavy = heavy_lock();
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write(
        "main.tf",
        r#"
resource "statuspulse_api_key" "bad" {
  name        = "bad"
  environment = "test"
  scopes      = ["read:checks"]

  secret_store {
    aws_secrets_manager {
      secret_id = "has spaces"
      region    = "Europe"
      endpoint  = "http://secrets.example.com"
    }
  }
}

resource "statuspulse_api_key" "empty" {
  name        = "empty"
  environment = "test"
  scopes      = ["read:checks"]

  secret_store {}
}
"#,
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let text = run.all();
    assert_diagnostic_at(
        &text,
        "Invalid secret_store.aws_secrets_manager.secret_id",
        "secret_id = \"has spaces\"",
    );
    assert_diagnostic_at(
        &text,
        "Invalid secret_store.aws_secrets_manager.region",
        "region    = \"Europe\"",
    );
    assert_diagnostic_at(
        &text,
        "Invalid secret_store.aws_secrets_manager.endpoint",
        "endpoint  = \"http://secrets.example.com\"",
    );
    // An empty block has no attribute to point at: Terraform shows the resource.
    assert_diagnostic_at(
        &text,
        "secret_store needs a destination",
        "resource \"statuspulse_api_key\" \"empty\"",
    );
}
