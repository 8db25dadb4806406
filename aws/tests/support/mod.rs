//! A real moto_server (PyPI `moto[server]`) per test, with IAM enforced after its setup.
//!
//! moto checks nothing for its first `INITIAL_NO_AUTH_ACTION_COUNT` actions and then recomputes
//! every request's SigV4 signature (with botocore) and evaluates IAM policies. The setup below is
//! exactly `SETUP_ACTIONS` actions, so every request a test makes is authenticated for real.
//!
//! Shared by this crate's tests, the server's sink tests and benches, and the provider's
//! acceptance tests of `secret_store` (each through a `#[path]` include).

#![allow(dead_code)] // each test binary uses a different part

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use statuspulse_aws::logs::{Client, Config, LogEvent};
use statuspulse_aws::{secrets_manager, Auth, StaticCredentials};

pub const REGION: &str = "us-east-1";
pub const LOG_GROUP: &str = "statuspulse-audit";
pub const EXTERNAL_ID: &str = "statuspulse-external-id";

/// The actions `Moto::start` makes before IAM is enforced; must match the setup exactly.
const SETUP_ACTIONS: u32 = 14;

/// An access key pair created in moto.
#[derive(Clone)]
pub struct Key {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Key {
    pub fn credentials(&self) -> StaticCredentials {
        StaticCredentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: SecretString::from(self.secret_access_key.as_str()),
            session_token: None,
        }
    }
}

/// A running moto_server, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    /// May write to and read back from CloudWatch Logs.
    pub writer: Key,
    /// May only call sts:AssumeRole on `role_arn`.
    pub assumer: Key,
    /// Has no permission at all.
    pub nobody: Key,
    /// Trusts `assumer` (with `EXTERNAL_ID`) and may write to and read CloudWatch Logs.
    pub role_arn: String,
    /// May create, write, describe and read Secrets Manager secrets (and nothing else).
    pub storer: Key,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server_binary() -> PathBuf {
    let tools = std::env::var_os("STATUSPULSE_TOOLS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools"),
        PathBuf::from,
    );
    tools.join("venv/bin/moto_server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const LOGS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents","logs:CreateLogStream","logs:DescribeLogStreams","logs:GetLogEvents"],"Resource":"*"}]}"#;

const SECRETS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:CreateSecret","secretsmanager:PutSecretValue","secretsmanager:DescribeSecret","secretsmanager:GetSecretValue"],"Resource":"*"}]}"#;

impl Moto {
    pub async fn start() -> Moto {
        let binary = moto_server_binary();
        assert!(
            binary.exists(),
            "moto_server is not installed at {}: run scripts/install-test-tools.sh, which installs \
             PyPI moto[server] into .tools/venv (or set STATUSPULSE_TOOLS_DIR)",
            binary.display()
        );
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_ACTIONS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            writer: Key {
                access_key_id: String::new(),
                secret_access_key: String::new(),
            },
            assumer: Key {
                access_key_id: String::new(),
                secret_access_key: String::new(),
            },
            nobody: Key {
                access_key_id: String::new(),
                secret_access_key: String::new(),
            },
            role_arn: String::new(),
            storer: Key {
                access_key_id: String::new(),
                secret_access_key: String::new(),
            },
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server exited at start ({status})");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {port} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        moto.setup().await;
        moto
    }

    /// Exactly `SETUP_ACTIONS` actions, while moto still lets everything through.
    async fn setup(&mut self) {
        self.writer = self.user_with_key("writer").await; // 2
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "writer"),
            ("PolicyName", "logs"),
            ("PolicyDocument", LOGS_POLICY),
        ])
        .await; // 3
        self.assumer = self.user_with_key("assumer").await; // 5
        let assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "assumer"),
            ("PolicyName", "assume"),
            ("PolicyDocument", assume),
        ])
        .await; // 6
        self.nobody = self.user_with_key("nobody").await; // 8
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:user/assumer"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"{EXTERNAL_ID}"}}}}}}]}}"#
        );
        let role = self
            .iam(&[
                ("Action", "CreateRole"),
                ("RoleName", "audit-writer"),
                ("AssumeRolePolicyDocument", &trust),
            ])
            .await; // 9
        self.role_arn = between(&role, "<Arn>", "</Arn>");
        self.iam(&[
            ("Action", "PutRolePolicy"),
            ("RoleName", "audit-writer"),
            ("PolicyName", "logs"),
            ("PolicyDocument", LOGS_POLICY),
        ])
        .await; // 10
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("authorization", setup_authorization("logs"))
            .header("x-amz-target", "Logs_20140328.CreateLogGroup")
            .header("content-type", "application/x-amz-json-1.1")
            .body(format!(r#"{{"logGroupName":"{LOG_GROUP}"}}"#))
            .send()
            .await
            .unwrap(); // 11
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        self.storer = self.user_with_key("storer").await; // 13
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "storer"),
            ("PolicyName", "secrets"),
            ("PolicyDocument", SECRETS_POLICY),
        ])
        .await; // 14
    }

    async fn user_with_key(&self, name: &str) -> Key {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let key = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        Key {
            access_key_id: between(&key, "<AccessKeyId>", "</AccessKeyId>"),
            secret_access_key: between(&key, "<SecretAccessKey>", "</SecretAccessKey>"),
        }
    }

    async fn iam(&self, params: &[(&str, &str)]) -> String {
        let mut form = params.to_vec();
        form.push(("Version", "2010-05-08"));
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("authorization", setup_authorization("iam"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "IAM {params:?}: {body}");
        body
    }

    /// A client config for `log_stream` of the test log group.
    pub fn config(&self, log_stream: &str, auth: Auth) -> Config {
        Config {
            region: REGION.to_owned(),
            log_group: LOG_GROUP.to_owned(),
            log_stream: log_stream.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            auth,
        }
    }

    /// A client that writes as `writer`.
    pub fn writer_client(&self, log_stream: &str) -> Client {
        Client::new(
            reqwest::Client::new(),
            self.config(log_stream, Auth::Static(self.writer.credentials())),
        )
    }
}

impl Moto {
    /// A Secrets Manager client signing with `key`.
    pub fn secrets_client(&self, key: &Key) -> secrets_manager::Client {
        secrets_manager::Client::new(
            reqwest::Client::new(),
            secrets_manager::Config {
                region: REGION.to_owned(),
                endpoint: Some(self.endpoint.clone()),
                credentials: key.credentials(),
                credentials_source: "the test's moto user".to_owned(),
            },
        )
    }
}

/// Moto routes a request to a service by the credential scope of its Authorization header; during
/// setup nothing else of it is checked.
fn setup_authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=00"
    )
}

fn between(text: &str, open: &str, close: &str) -> String {
    let start = text
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in {text}"))
        + open.len();
    let end = start + text[start..].find(close).unwrap();
    text[start..end].to_owned()
}

/// Milliseconds since the epoch, now (CloudWatch refuses events over 14 days old).
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

pub fn events(count: usize, start_ms: i64, message_len: usize) -> Vec<LogEvent> {
    (0..count)
        .map(|i| {
            let prefix = format!("event {i:06} ");
            let padding = message_len.saturating_sub(prefix.len());
            LogEvent {
                timestamp_ms: start_ms + i64::try_from(i / 100).unwrap(),
                message: format!("{prefix}{}", "x".repeat(padding)),
            }
        })
        .collect()
}
