//! A real OpenID provider for SSO tests: `tests/support/idp/idp.mjs` (npm `oidc-provider` 9 on the
//! Node 22 that `scripts/install-test-tools.sh` puts in `.tools/idp/`), one process per [`Idp`],
//! on 127.0.0.1 with a port of its own, killed when the `Idp` is dropped.
//!
//! A test picks the vendor layout ([`Shape`]) and the clients, queues who logs in next and how
//! ([`Idp::set_next_login`]: `sub`, `email`, `email_verified`, `name`, `groups`, `amr`, `acr`),
//! and sends a browser (or [`Idp::complete_authorization`]) to the authorization endpoint; the
//! IdP's interaction middleware finishes login and consent with those claims.
//!
//! It also stands in for a CI platform's OIDC issuer (GitHub Actions, GitLab CI) for workload
//! identity federation: a client registered with [`IdpClient::workload`] gets from
//! [`Idp::workload_token`] a JWT that oidc-provider itself issues (client-credentials grant, the
//! audience as RFC 8707 resource indicator, JWT access token format) and signs with the keys its
//! `jwks_uri` publishes, carrying the CI claims the test asks for (`repository`, `ref`,
//! `project_path`, a `sub` such as `repo:acme/infra:ref:refs/heads/main`, …).
//!
//! The tests at the end of this file prove the harness itself: discovery per shape, the
//! authorization-code + PKCE flow, the claims in the ID token, key rotation, the JWKS hit counter
//! and the workload tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the IdP may take to print its ready line (Node start, key generation).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A workload token's audience that is not an absolute URI (GitHub's `audience` input is often a
/// bare word such as `statuspulse`) cannot be an RFC 8707 resource indicator: it is sent as this
/// URN followed by the audience in base64url, which `idp.mjs` turns back into the `aud`.
const OPAQUE_AUDIENCE_PREFIX: &str = "urn:statuspulse:test:audience:";

/// The vendor whose paths and issuer the IdP imitates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Issuer at the root, oidc-provider's own endpoint paths (`/auth`, `/token`, `/jwks`).
    Generic,
    /// Okta's org authorization server: issuer `http://127.0.0.1:port`, endpoints
    /// `/oauth2/v1/authorize|token|keys`, discovery at the root.
    OktaOrg,
    /// An Okta custom authorization server: issuer `…/oauth2/{id}`, endpoints `…/oauth2/{id}/v1/…`.
    OktaCustom { authorization_server_id: String },
    /// Azure AD v2: issuer `…/{tenant}/v2.0`, endpoints `/{tenant}/oauth2/v2.0/authorize|token`,
    /// keys `/{tenant}/discovery/v2.0/keys`. The same provider also answers under `/common` and
    /// `/organizations`, whose discovery issuer is the template `…/{tenantid}/v2.0`; tokens carry
    /// the tenant's issuer and `tid`.
    Azure { tenant: String },
    /// OneLogin: issuer `…/oidc/2`, endpoints `/oidc/2/auth|token|certs|me`.
    OneLogin,
}

impl Shape {
    pub fn okta_custom(id: &str) -> Self {
        Shape::OktaCustom {
            authorization_server_id: id.to_owned(),
        }
    }

    pub fn azure(tenant: &str) -> Self {
        Shape::Azure {
            tenant: tenant.to_owned(),
        }
    }

    fn config(&self) -> Value {
        match self {
            Shape::Generic => json!({ "shape": "generic" }),
            Shape::OktaOrg => json!({ "shape": "okta_org" }),
            Shape::OktaCustom {
                authorization_server_id,
            } => {
                json!({ "shape": "okta_custom", "authorization_server_id": authorization_server_id })
            }
            Shape::Azure { tenant } => json!({ "shape": "azure", "tenant": tenant }),
            Shape::OneLogin => json!({ "shape": "onelogin" }),
        }
    }
}

/// A client registered at the IdP.
#[derive(Clone, Debug)]
pub struct IdpClient {
    pub client_id: String,
    /// `None` for a public client (`token_endpoint_auth_method` `none`).
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: String,
    /// `authorization_code` and `refresh_token`, or only `client_credentials` for a workload.
    pub grant_types: Vec<String>,
    /// `code`, or none for a workload.
    pub response_types: Vec<String>,
}

impl IdpClient {
    /// A confidential client authenticating with HTTP Basic, ID tokens signed RS256.
    pub fn confidential(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        IdpClient {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
            id_token_signed_response_alg: "RS256".to_owned(),
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            response_types: vec!["code".to_owned()],
        }
    }

    /// A CI platform's stand-in for a job: a client allowed only the client-credentials grant,
    /// authenticating with HTTP Basic, no redirect URI. [`Idp::workload_token`] gets its tokens.
    pub fn workload(client_id: &str, client_secret: &str) -> Self {
        IdpClient {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: vec![],
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
            id_token_signed_response_alg: "RS256".to_owned(),
            grant_types: vec!["client_credentials".to_owned()],
            response_types: vec![],
        }
    }

    pub fn signed_with(mut self, alg: &str) -> Self {
        alg.clone_into(&mut self.id_token_signed_response_alg);
        self
    }

    pub fn auth_method(mut self, method: &str) -> Self {
        method.clone_into(&mut self.token_endpoint_auth_method);
        self
    }

    fn config(&self) -> Value {
        let mut client = json!({
            "client_id": self.client_id,
            "redirect_uris": self.redirect_uris,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "grant_types": self.grant_types,
            "response_types": self.response_types,
        });
        if let Some(secret) = &self.client_secret {
            client["client_secret"] = json!(secret);
        }
        client
    }
}

/// How a workload token is made, beyond its claims ([`Idp::workload_token_with`]).
#[derive(Clone, Debug, Default)]
pub struct WorkloadTokenOptions {
    /// Lifetime in seconds, 1 to 86400: `exp` is `iat` plus this on the IdP's (real) clock.
    /// Default 300, as GitHub's. oidc-provider cannot issue an already expired token: an expiry
    /// test moves the server's clock instead.
    pub ttl_seconds: Option<u64>,
    /// `RS256` (default, as GitHub and GitLab), `ES256` or `EdDSA`: signed by the IdP's current
    /// key of that kind.
    pub alg: Option<String>,
    /// The JWS `typ` header: oidc-provider writes `at+jwt` (RFC 9068) unless this says otherwise;
    /// GitHub Actions and GitLab CI send `JWT`.
    pub typ: Option<String>,
}

/// A running IdP process. Dropping it kills the process.
pub struct Idp {
    /// The issuer its tokens carry (for Azure `common`, still the tenant's issuer).
    pub issuer: String,
    pub port: u16,
    /// `http://127.0.0.1:{port}`.
    pub origin: String,
    pub shape: Shape,
    http: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    child: Child,
}

impl Idp {
    /// Starts an IdP with the Node 22 and oidc-provider from `.tools/idp/` (or
    /// `$STATUSPULSE_TOOLS_DIR/idp/`). Panics, naming `scripts/install-test-tools.sh`, when they
    /// are not installed: an SSO test never silently skips.
    pub async fn start(shape: Shape, clients: Vec<IdpClient>) -> Idp {
        match Idp::try_start_in(&tools_dir(), shape, clients).await {
            Ok(idp) => idp,
            Err(message) => panic!("{message}"),
        }
    }

    /// [`Idp::start`] with the tools directory given, returning the error instead of panicking.
    pub async fn try_start_in(
        tools: &Path,
        shape: Shape,
        clients: Vec<IdpClient>,
    ) -> Result<Idp, String> {
        let node = tools.join("idp/node");
        let modules = tools.join("idp/node_modules");
        if !node.is_file() || !modules.join("oidc-provider/package.json").is_file() {
            return Err(format!(
                "the test OpenID provider needs Node 22 and oidc-provider in {}: run \
                 scripts/install-test-tools.sh (it installs them from npm)",
                tools.join("idp").display()
            ));
        }
        let mut config = shape.config();
        config["port"] = json!(0);
        config["exit_on_stdin_close"] = json!(true);
        config["clients"] = clients.iter().map(IdpClient::config).collect();

        let mut child = Command::new(&node)
            .arg(script_path())
            .arg(config.to_string())
            .env("STATUSPULSE_IDP_NODE_MODULES", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} (run scripts/install-test-tools.sh): {e}",
                    node.display()
                )
            })?;

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await;
        let line = match ready {
            Ok(Ok(Some(line))) => line,
            other => {
                // Give the stderr reader a moment to collect the reason.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = child.start_kill();
                return Err(format!(
                    "the test IdP did not report ready within {READY_TIMEOUT:?} ({other:?}); its \
                     stderr:\n{}",
                    stderr.lock().unwrap()
                ));
            }
        };
        let ready: Value = serde_json::from_str(&line)
            .map_err(|e| format!("the test IdP printed {line:?} instead of its ready line: {e}"))?;
        if ready["ready"] != json!(true) {
            return Err(format!("the test IdP is not ready: {line}"));
        }
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let port = u16::try_from(ready["port"].as_u64().unwrap_or(0))
            .map_err(|e| format!("bad port in {line}: {e}"))?;
        Ok(Idp {
            issuer: ready["issuer"].as_str().unwrap_or_default().to_owned(),
            port,
            origin: format!("http://127.0.0.1:{port}"),
            shape,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            stderr,
            child,
        })
    }

    /// Where this shape publishes its discovery document: `{issuer}/.well-known/openid-configuration`
    /// for every shape (for Okta's org server that is the domain root).
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Azure only: the multi-tenant discovery document of `common` or `organizations`, whose
    /// issuer is the template `…/{tenantid}/v2.0`.
    pub fn azure_multi_tenant_discovery_url(&self, tenant_alias: &str) -> String {
        format!(
            "{}/{tenant_alias}/v2.0/.well-known/openid-configuration",
            self.origin
        )
    }

    /// The discovery document at `url`.
    pub async fn discovery(&self, url: &str) -> Value {
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response.json().await.unwrap()
    }

    /// Queues the next login: `{sub, email, email_verified, name, groups, amr, acr}`, each
    /// optional (a missing claim is absent from the tokens; a missing `sub` is `user-1`). Logins
    /// are consumed in order; with none queued the default account logs in
    /// (`user-1`, `user@example.com`, verified, no `amr`/`acr`). A JSON `login_hint` (raw or
    /// base64url) on the authorization request wins over the queue.
    pub async fn set_next_login(&self, claims: Value) {
        self.post_test("next-login", claims).await;
    }

    /// Adds a new signing key of each kind (RS256, ES256, EdDSA) in front of the old ones: later
    /// ID tokens carry the new `kid`, the JWKS publishes old and new. Returns the new kids.
    pub async fn rotate_keys(&self) -> Vec<String> {
        let answer = self.post_test("rotate-keys", json!({})).await;
        answer["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// How many times the JWKS endpoint has been fetched (for JWKS refetch rate-limit tests).
    pub async fn jwks_hits(&self) -> u64 {
        self.stats().await["jwks_hits"].as_u64().unwrap()
    }

    /// Every counter: `jwks_hits`, `discovery_hits`, `authorization_hits`, `token_hits`, `logins`,
    /// `workload_tokens` (client-credentials tokens issued).
    pub async fn stats(&self) -> Value {
        let url = format!("{}/__test/stats", self.origin);
        self.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Makes the next token response's `id_token` a forgery, for the negative tests:
    /// `{"claims": {"aud": "other", "nonce": null}, "header": {"kid": "x"}, "sign": MODE}` where
    /// `null` removes a claim and MODE is `key` (default: re-signed with the IdP's real key for the
    /// header's `alg`), `foreign` (a key the JWKS does not publish), `none` (`alg: none`),
    /// `hs256-public-key` (HMAC keyed with the IdP's public RSA key) or `garbage` (bad signature).
    pub async fn tamper_next_id_token(&self, spec: Value) {
        self.post_test("tamper-next-id-token", spec).await;
    }

    /// The token endpoint of this shape (what discovery names), worked out without fetching
    /// discovery, so that getting a workload token leaves `discovery_hits` alone.
    pub fn token_endpoint(&self) -> String {
        match &self.shape {
            Shape::OktaOrg => format!("{}/oauth2/v1/token", self.origin),
            Shape::OktaCustom { .. } => format!("{}/v1/token", self.issuer),
            Shape::Azure { tenant } => format!("{}/{tenant}/oauth2/v2.0/token", self.origin),
            Shape::Generic | Shape::OneLogin => format!("{}/token", self.issuer),
        }
    }

    /// A CI job's OIDC token, issued and signed by the IdP for the workload client `client_id`
    /// ([`IdpClient::workload`]): a JWT whose header is `{"alg": "RS256", "typ": "at+jwt", "kid"}`
    /// (the `kid` of the IdP's current RSA key, published at its `jwks_uri`) and whose claims are
    /// `iss` (the IdP's issuer), `aud` (`audience`, any string), `sub`, `iat`, `nbf` (= `iat`),
    /// `exp` (`iat` + 300 s), `jti` (unique), and every member of `claims`, a JSON object such as
    /// `{"sub": "repo:acme/infra:ref:refs/heads/main", "repository": "acme/infra", …}`. `sub` is
    /// the client id unless `claims` names one; `claims` may not name `iss`, `aud`, `iat`, `nbf`,
    /// `exp` or `jti` (the IdP sets those). Counts in `token_hits` and `workload_tokens`.
    pub async fn workload_token(
        &self,
        client_id: &str,
        client_secret: &str,
        audience: &str,
        claims: Value,
    ) -> String {
        self.workload_token_with(
            client_id,
            client_secret,
            audience,
            claims,
            &WorkloadTokenOptions::default(),
        )
        .await
    }

    /// [`Idp::workload_token`] with another lifetime, algorithm or `typ`.
    ///
    /// It queues the token's spec (`POST /__test/next-workload-token`), then asks the token
    /// endpoint for `grant_type=client_credentials&resource=<audience>` with HTTP Basic client
    /// authentication; the next client-credentials request takes the spec. Panics, with the IdP's
    /// answer, if the token is refused.
    pub async fn workload_token_with(
        &self,
        client_id: &str,
        client_secret: &str,
        audience: &str,
        claims: Value,
        options: &WorkloadTokenOptions,
    ) -> String {
        let mut spec = json!({ "claims": claims });
        if let Some(ttl) = options.ttl_seconds {
            spec["ttl"] = json!(ttl);
        }
        if let Some(alg) = &options.alg {
            spec["alg"] = json!(alg);
        }
        if let Some(typ) = &options.typ {
            spec["typ"] = json!(typ);
        }
        self.post_test("next-workload-token", spec).await;

        // RFC 6749 §2.3.1: the id and secret are form-encoded before they go into Basic.
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let url = self.token_endpoint();
        let response = self
            .http
            .post(&url)
            .basic_auth(encode(client_id), Some(encode(client_secret)))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", &resource_indicator(audience)),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "POST {url} (client_credentials for {client_id}, audience {audience}): {answer}\nIdP \
             stderr: {}",
            self.stderr()
        );
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {answer}"))
            .to_owned()
    }

    /// What the IdP wrote on stderr so far (for a failing test's message).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Plays the browser at the IdP: GET `authorize_url`, then follows the IdP's redirects (to the
    /// interaction, which logs in, and back to the authorization endpoint), keeping the IdP's
    /// cookies, until a redirect leaves the IdP. Returns that redirect (the client's
    /// `redirect_uri` with `code`, `state` and `iss`, or with `error`).
    pub async fn complete_authorization(&self, authorize_url: &str) -> Url {
        let mut cookies: BTreeMap<String, String> = BTreeMap::new();
        let mut url = Url::parse(authorize_url).unwrap();
        for _ in 0..10 {
            let mut request = self.http.get(url.clone());
            if !cookies.is_empty() {
                let header = cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                request = request.header(reqwest::header::COOKIE, header);
            }
            let response = request.send().await.unwrap();
            for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
                let text = value.to_str().unwrap();
                let pair = text.split(';').next().unwrap();
                let (name, val) = pair.split_once('=').unwrap();
                if val.is_empty() || text.contains("expires=Thu, 01 Jan 1970") {
                    cookies.remove(name);
                } else {
                    cookies.insert(name.to_owned(), val.to_owned());
                }
            }
            let status = response.status();
            assert!(
                status.is_redirection(),
                "GET {url}: {status} {}\nIdP stderr: {}",
                response.text().await.unwrap_or_default(),
                self.stderr()
            );
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap();
            let next = url.join(location).unwrap();
            if next.origin() != Url::parse(&self.origin).unwrap().origin() {
                return next;
            }
            url = next;
        }
        panic!("more than 10 redirects at the IdP from {authorize_url}");
    }

    async fn post_test(&self, name: &str, body: Value) -> Value {
        let url = format!("{}/__test/{name}", self.origin);
        let response = self.http.post(&url).json(&body).send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "POST {url}: {answer}");
        answer
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        // kill_on_drop would too; this also asks for it before the runtime goes away.
        let _ = self.child.start_kill();
    }
}

/// The RFC 8707 resource indicator that makes the IdP issue a token with `aud` = `audience`: the
/// audience itself when it is an absolute URI without fragment, as oidc-provider requires, else
/// the audience wrapped in [`OPAQUE_AUDIENCE_PREFIX`].
fn resource_indicator(audience: &str) -> String {
    if Url::parse(audience).is_ok() && !audience.contains('#') {
        audience.to_owned()
    } else {
        format!(
            "{OPAQUE_AUDIENCE_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(audience.as_bytes())
        )
    }
}

/// `.tools/` of this checkout, or `$STATUSPULSE_TOOLS_DIR`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("STATUSPULSE_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools"),
        PathBuf::from,
    )
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/idp/idp.mjs")
}

/// Tests of the harness itself: no StatusPulse server is involved, only a client doing what the
/// server's SSO code will do.
mod harness {
    use rand::RngCore as _;
    use sha2::{Digest as _, Sha256};

    use super::*;

    const REDIRECT: &str = "http://127.0.0.1:9/sso/callback";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn random() -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// The header and payload of a compact JWT (no signature check: that is the server's job).
    fn decode_jwt(jwt: &str) -> (Value, Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        (decode_part(parts[0]), decode_part(parts[1]))
    }

    /// Whether `jwt` is signed by a key of `jwks` (the `kid` in its header, by its `alg`). The
    /// server does this for real; here it proves the IdP publishes the keys it signs with.
    fn signed_by(jwt: &str, jwks: &Value) -> bool {
        use ring::signature;
        let Some((input, sig)) = jwt.rsplit_once('.') else {
            return false;
        };
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        let (header, _) = decode_jwt(jwt);
        let Some(jwk) = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
        else {
            return false;
        };
        let b = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        match header["alg"].as_str().unwrap() {
            "RS256" => signature::RsaPublicKeyComponents {
                n: b("n"),
                e: b("e"),
            }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &sig,
            )
            .is_ok(),
            "ES256" => {
                let point = [vec![4u8], b("x"), b("y")].concat();
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input.as_bytes(), &sig)
                    .is_ok()
            }
            "EdDSA" => signature::UnparsedPublicKey::new(&signature::ED25519, b("x"))
                .verify(input.as_bytes(), &sig)
                .is_ok(),
            _ => false,
        }
    }

    fn alice() -> Value {
        json!({
            "sub": "alice-0001",
            "email": "alice@acme.test",
            "email_verified": true,
            "name": "Alice Example",
            "groups": ["engineering", "sre"],
            "amr": ["pwd", "mfa"],
            "acr": "urn:okta:loa:2fa:any",
        })
    }

    struct Flow {
        state: String,
        nonce: String,
        verifier: String,
    }

    fn authorize_url(
        discovery: &Value,
        client_id: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> (String, Flow) {
        let flow = Flow {
            state: random(),
            nonce: random(),
            verifier: random(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
        let mut url = Url::parse(discovery["authorization_endpoint"].as_str().unwrap()).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        (url.to_string(), flow)
    }

    fn query(url: &Url) -> BTreeMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    async fn exchange(
        discovery: &Value,
        client: &IdpClient,
        code: &str,
        verifier: &str,
    ) -> (StatusCode, Value) {
        let http = reqwest::Client::new();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        let mut request = http.post(discovery["token_endpoint"].as_str().unwrap());
        match client.token_endpoint_auth_method.as_str() {
            "client_secret_basic" => {
                request = request.basic_auth(&client.client_id, client.client_secret.as_deref());
            }
            "client_secret_post" => {
                form.push(("client_id", &client.client_id));
                form.push(("client_secret", client.client_secret.as_deref().unwrap()));
            }
            _ => form.push(("client_id", &client.client_id)),
        }
        let response = request.form(&form).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Authorization code + PKCE from the authorization request to the ID token's claims, checking
    /// every step a relying party checks (state echoed, RFC 9207 `iss`, nonce and audience).
    async fn sign_in(
        idp: &Idp,
        discovery: &Value,
        client: &IdpClient,
        scope: &str,
    ) -> (Value, Value, String) {
        let (url, flow) = authorize_url(discovery, &client.client_id, scope, &[]);
        let back = idp.complete_authorization(&url).await;
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        let params = query(&back);
        assert_eq!(params.get("state"), Some(&flow.state), "{back}");
        assert_eq!(params.get("iss"), Some(&idp.issuer), "RFC 9207 iss: {back}");
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("no code in {back}"));

        let (status, tokens) = exchange(discovery, client, code, &flow.verifier).await;
        assert_eq!(status, StatusCode::OK, "{tokens}\n{}", idp.stderr());
        assert_eq!(tokens["token_type"], "Bearer");
        let (header, claims) = decode_jwt(tokens["id_token"].as_str().unwrap());
        assert_eq!(header["alg"], json!(client.id_token_signed_response_alg));
        assert_eq!(claims["iss"], json!(idp.issuer));
        assert_eq!(claims["aud"], json!(client.client_id));
        assert_eq!(claims["nonce"], json!(flow.nonce));
        (
            header,
            claims,
            tokens["id_token"].as_str().unwrap().to_owned(),
        )
    }

    fn assert_alice(claims: &Value) {
        let expected = alice();
        for name in [
            "sub",
            "email",
            "email_verified",
            "name",
            "groups",
            "amr",
            "acr",
        ] {
            assert_eq!(claims[name], expected[name], "claim {name} in {claims}");
        }
    }

    /// Starts `shape`, checks its discovery document (issuer and where each endpoint lives), and
    /// signs Alice in with her MFA claims.
    async fn shape_round_trip(
        shape: Shape,
        endpoint_prefix: &str,
        authorize: &str,
        token: &str,
        jwks: &str,
    ) -> Value {
        let client = IdpClient::confidential("statuspulse", "s3cret-s3cret-s3cret", REDIRECT);
        let idp = Idp::start(shape, vec![client.clone()]).await;
        let discovery = idp.discovery(&idp.discovery_url()).await;
        assert_eq!(discovery["issuer"], json!(idp.issuer));
        assert_eq!(idp.origin, format!("http://127.0.0.1:{}", idp.port));
        let base = format!("{}{endpoint_prefix}", idp.origin);
        assert_eq!(
            discovery["authorization_endpoint"],
            json!(format!("{base}{authorize}"))
        );
        assert_eq!(discovery["token_endpoint"], json!(format!("{base}{token}")));
        assert_eq!(discovery["token_endpoint"], json!(idp.token_endpoint()));
        assert_eq!(discovery["jwks_uri"], json!(format!("{base}{jwks}")));
        assert_eq!(
            discovery["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(
            discovery["authorization_response_iss_parameter_supported"],
            json!(true)
        );
        for alg in ["RS256", "ES256", "EdDSA"] {
            assert!(
                discovery["id_token_signing_alg_values_supported"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(alg)),
                "{alg} in {discovery}"
            );
        }

        idp.set_next_login(alice()).await;
        let scope = if matches!(idp.shape, Shape::Azure { .. }) {
            "openid email profile"
        } else {
            "openid email profile groups"
        };
        let (header, claims, id_token) = sign_in(&idp, &discovery, &client, scope).await;
        assert_alice(&claims);

        // The signing key is published at the shape's jwks_uri.
        let jwks = idp.discovery(discovery["jwks_uri"].as_str().unwrap()).await;
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == header["kid"]),
            "{jwks}"
        );
        assert!(
            signed_by(&id_token, &jwks),
            "{id_token} not signed by {jwks}"
        );
        assert_eq!(idp.jwks_hits().await, 1);
        claims
    }

    #[tokio::test]
    async fn idp_generic_discovery_and_code_flow() {
        shape_round_trip(Shape::Generic, "", "/auth", "/token", "/jwks").await;
    }

    #[tokio::test]
    async fn idp_okta_org_server_paths() {
        shape_round_trip(
            Shape::OktaOrg,
            "",
            "/oauth2/v1/authorize",
            "/oauth2/v1/token",
            "/oauth2/v1/keys",
        )
        .await;
    }

    #[tokio::test]
    async fn idp_okta_custom_authorization_server_paths() {
        let claims = shape_round_trip(
            Shape::okta_custom("aus1a2b3c4d5e6f7g8h9"),
            "/oauth2/aus1a2b3c4d5e6f7g8h9",
            "/v1/authorize",
            "/v1/token",
            "/v1/keys",
        )
        .await;
        assert!(claims["iss"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/aus1a2b3c4d5e6f7g8h9"));
    }

    #[tokio::test]
    async fn idp_azure_tenant_issuer_and_tid() {
        let claims = shape_round_trip(
            Shape::azure(TENANT),
            &format!("/{TENANT}"),
            "/oauth2/v2.0/authorize",
            "/oauth2/v2.0/token",
            "/discovery/v2.0/keys",
        )
        .await;
        assert_eq!(claims["tid"], json!(TENANT));
        assert!(claims["iss"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{TENANT}/v2.0")));
    }

    #[tokio::test]
    async fn idp_onelogin_paths() {
        shape_round_trip(Shape::OneLogin, "/oidc/2", "/auth", "/token", "/certs").await;
    }

    /// Azure's multi-tenant endpoints: discovery under `common` and `organizations` names the
    /// templated issuer, the flow runs on `/common/…`, and the ID token carries the real tenant's
    /// issuer and `tid`, which is what the template must be filled with to match.
    #[tokio::test]
    async fn idp_azure_common_templated_issuer() {
        let client = IdpClient::confidential("statuspulse", "s3cret-s3cret-s3cret", REDIRECT);
        let idp = Idp::start(Shape::azure(TENANT), vec![client.clone()]).await;
        let template = format!("{}/{{tenantid}}/v2.0", idp.origin);
        for alias in ["common", "organizations"] {
            let discovery = idp
                .discovery(&idp.azure_multi_tenant_discovery_url(alias))
                .await;
            assert_eq!(discovery["issuer"], json!(template));
            assert_eq!(
                discovery["authorization_endpoint"],
                json!(format!("{}/{alias}/oauth2/v2.0/authorize", idp.origin))
            );
            assert_eq!(
                discovery["jwks_uri"],
                json!(format!("{}/{alias}/discovery/v2.0/keys", idp.origin))
            );
        }
        let discovery = idp
            .discovery(&idp.azure_multi_tenant_discovery_url("common"))
            .await;
        idp.set_next_login(alice()).await;
        let (_, claims, id_token) =
            sign_in(&idp, &discovery, &client, "openid email profile").await;
        assert_alice(&claims);
        let tid = claims["tid"].as_str().unwrap();
        assert_eq!(tid, TENANT);
        assert_eq!(
            template.replace("{tenantid}", tid),
            claims["iss"].as_str().unwrap()
        );
        let jwks = idp.discovery(discovery["jwks_uri"].as_str().unwrap()).await;
        assert!(signed_by(&id_token, &jwks));
    }

    /// ES256 and EdDSA ID tokens for clients that ask for them; logins queue in order and fall
    /// back to the default account; a JSON `login_hint` picks the account too.
    #[tokio::test]
    async fn idp_algorithms_login_queue_and_login_hint() {
        let es = IdpClient::confidential("es-client", "es-secret-es-secret", REDIRECT)
            .signed_with("ES256")
            .auth_method("client_secret_post");
        let ed = IdpClient::confidential("ed-client", "ed-secret-ed-secret", REDIRECT)
            .signed_with("EdDSA");
        let idp = Idp::start(Shape::Generic, vec![es.clone(), ed.clone()]).await;
        let discovery = idp.discovery(&idp.discovery_url()).await;
        let scope = "openid email profile groups";

        idp.set_next_login(
            json!({"sub": "bob", "email": "bob@acme.test", "email_verified": false}),
        )
        .await;
        idp.set_next_login(alice()).await;
        let (header, bob, es_token) = sign_in(&idp, &discovery, &es, scope).await;
        assert_eq!(header["alg"], "ES256");
        assert_eq!(bob["sub"], "bob");
        assert_eq!(bob["email_verified"], json!(false));
        assert!(
            bob.get("amr").is_none() && bob.get("acr").is_none(),
            "{bob}"
        );
        let (header, claims, ed_token) = sign_in(&idp, &discovery, &ed, scope).await;
        assert_eq!(header["alg"], "EdDSA");
        assert_alice(&claims);
        let (_, default, _) = sign_in(&idp, &discovery, &es, scope).await;
        assert_eq!(default["sub"], "user-1");
        assert_eq!(default["email"], "user@example.com");
        let jwks = idp.discovery(discovery["jwks_uri"].as_str().unwrap()).await;
        assert!(signed_by(&es_token, &jwks) && signed_by(&ed_token, &jwks));
        // Alice's claims under Bob's signature: refused.
        let es_parts: Vec<&str> = es_token.split('.').collect();
        let ed_parts: Vec<&str> = ed_token.split('.').collect();
        let spliced = format!("{}.{}.{}", es_parts[0], ed_parts[1], es_parts[2]);
        assert!(!signed_by(&spliced, &jwks));

        let hint = URL_SAFE_NO_PAD.encode(json!({"sub": "carol", "amr": ["hwk"]}).to_string());
        let (url, flow) = authorize_url(&discovery, &ed.client_id, scope, &[("login_hint", &hint)]);
        let back = idp.complete_authorization(&url).await;
        let code = query(&back)["code"].clone();
        let (_, tokens) = exchange(&discovery, &ed, &code, &flow.verifier).await;
        let (_, carol) = decode_jwt(tokens["id_token"].as_str().unwrap());
        assert_eq!(carol["sub"], "carol");
        assert_eq!(carol["amr"], json!(["hwk"]));
        assert_eq!(idp.stats().await["logins"], json!(4));
    }

    /// PKCE is required and checked, and a code is single-use: what the server's negative tests
    /// rely on the IdP to enforce.
    #[tokio::test]
    async fn idp_requires_pkce_and_single_use_codes() {
        let client = IdpClient::confidential("statuspulse", "s3cret-s3cret-s3cret", REDIRECT);
        let idp = Idp::start(Shape::OktaOrg, vec![client.clone()]).await;
        let discovery = idp.discovery(&idp.discovery_url()).await;

        let (url, _) = authorize_url(&discovery, &client.client_id, "openid", &[]);
        let mut without = Url::parse(&url).unwrap();
        let kept: Vec<(String, String)> = without
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| !k.starts_with("code_challenge"))
            .collect();
        without.query_pairs_mut().clear().extend_pairs(&kept);
        let back = idp.complete_authorization(without.as_str()).await;
        assert_eq!(
            query(&back).get("error").map(String::as_str),
            Some("invalid_request"),
            "{back}"
        );

        let (url, _) = authorize_url(&discovery, &client.client_id, "openid", &[]);
        let code = query(&idp.complete_authorization(&url).await)["code"].clone();
        // A well-formed verifier (43 characters or more) that is not the one challenged.
        let (status, answer) = exchange(&discovery, &client, &code, &random()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{answer}"
        );

        let (url, flow2) = authorize_url(&discovery, &client.client_id, "openid", &[]);
        let code = query(&idp.complete_authorization(&url).await)["code"].clone();
        let (status, _) = exchange(&discovery, &client, &code, &flow2.verifier).await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = exchange(&discovery, &client, &code, &flow2.verifier).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }

    /// After a rotation the next ID token is signed by a new kid that only a refetched JWKS has,
    /// and the JWKS counter sees each fetch.
    #[tokio::test]
    async fn idp_key_rotation_and_jwks_counter() {
        let client = IdpClient::confidential("statuspulse", "s3cret-s3cret-s3cret", REDIRECT);
        let idp = Idp::start(Shape::OneLogin, vec![client.clone()]).await;
        let discovery = idp.discovery(&idp.discovery_url()).await;
        let jwks_uri = discovery["jwks_uri"].as_str().unwrap().to_owned();
        assert_eq!(idp.jwks_hits().await, 0);
        let before = idp.discovery(&jwks_uri).await;
        let (old, _, old_token) = sign_in(&idp, &discovery, &client, "openid").await;

        let added = idp.rotate_keys().await;
        assert_eq!(added.len(), 3);
        let (new, _, new_token) = sign_in(&idp, &discovery, &client, "openid").await;
        assert_ne!(new["kid"], old["kid"]);
        assert!(added.contains(&new["kid"].as_str().unwrap().to_owned()));
        let kids = |jwks: &Value| -> Vec<Value> {
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].clone())
                .collect()
        };
        assert!(!kids(&before).contains(&new["kid"]));
        let after = idp.discovery(&jwks_uri).await;
        assert!(kids(&after).contains(&new["kid"]) && kids(&after).contains(&old["kid"]));
        assert!(
            after["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k.get("d").is_none()),
            "no private parts"
        );
        assert_eq!(idp.jwks_hits().await, 2);
        // The old key still verifies the token it signed; the new one only with the new JWKS.
        assert!(signed_by(&old_token, &before) && signed_by(&old_token, &after));
        assert!(!signed_by(&new_token, &before) && signed_by(&new_token, &after));
    }

    /// The forgeries the server's negative matrix needs come out as asked.
    #[tokio::test]
    async fn idp_tampered_id_tokens() {
        let client = IdpClient::confidential("statuspulse", "s3cret-s3cret-s3cret", REDIRECT);
        let idp = Idp::start(Shape::Generic, vec![client.clone()]).await;
        let discovery = idp.discovery(&idp.discovery_url()).await;
        let id_token = |tamper: Value| {
            let idp = &idp;
            let discovery = &discovery;
            let client = &client;
            async move {
                idp.tamper_next_id_token(tamper).await;
                let (url, flow) = authorize_url(discovery, &client.client_id, "openid", &[]);
                let code = query(&idp.complete_authorization(&url).await)["code"].clone();
                let (status, tokens) = exchange(discovery, client, &code, &flow.verifier).await;
                assert_eq!(status, StatusCode::OK);
                tokens["id_token"].as_str().unwrap().to_owned()
            }
        };
        let token = id_token(json!({"claims": {"aud": "someone-else", "nonce": null}})).await;
        let (header, claims) = decode_jwt(&token);
        assert_eq!(
            (header["alg"].as_str(), header["kid"].as_str()),
            (Some("RS256"), Some("rs256-1"))
        );
        assert_eq!(claims["aud"], "someone-else");
        assert!(claims.get("nonce").is_none());
        let jwks = idp.discovery(discovery["jwks_uri"].as_str().unwrap()).await;
        assert!(signed_by(&token, &jwks), "re-signed by the IdP's real key");

        let token = id_token(json!({"header": {"alg": "ES256"}, "claims": {"exp": 1}})).await;
        assert_eq!(decode_jwt(&token).1["exp"], 1);
        assert!(signed_by(&token, &jwks), "ES256 by the IdP's real EC key");

        let token = id_token(json!({"sign": "foreign", "header": {"kid": "rs256-1"}})).await;
        assert!(
            !signed_by(&token, &jwks),
            "a published kid, an unpublished key"
        );
        let token = id_token(json!({"sign": "garbage"})).await;
        assert!(!signed_by(&token, &jwks));

        let token = id_token(json!({"sign": "none"})).await;
        assert!(token.ends_with('.'));
        assert_eq!(decode_jwt(&format!("{token}x")).0["alg"], "none");

        let token = id_token(json!({"sign": "hs256-public-key"})).await;
        assert_eq!(decode_jwt(&token).0["alg"], "HS256");

        let token = id_token(json!({"sign": "foreign", "header": {"kid": "unknown-kid"}})).await;
        assert_eq!(decode_jwt(&token).0["kid"], "unknown-kid");
    }

    const GITHUB_SUB: &str = "repo:acme/infra:ref:refs/heads/main";

    fn github_claims() -> Value {
        json!({
            "sub": GITHUB_SUB,
            "repository": "acme/infra",
            "repository_owner": "acme",
            "ref": "refs/heads/main",
            "environment": "production",
            "job_workflow_ref": "acme/infra/.github/workflows/deploy.yml@refs/heads/main",
        })
    }

    fn gitlab_claims() -> Value {
        json!({
            "sub": "project_path:acme/infra:ref_type:branch:ref:main",
            "project_path": "acme/infra",
            "namespace_path": "acme",
            "ref_protected": "true",
        })
    }

    /// Checks what every workload token carries: a signature by a key the IdP's `jwks_uri`
    /// publishes under the header's `kid`, `iss` as discovery says, the asked-for `aud` and
    /// lifetime, `nbf` = `iat`, a `jti`, no `client_id`, and `expected` claim for claim (nothing
    /// else). Returns the header and the claims.
    async fn assert_workload_token(
        idp: &Idp,
        token: &str,
        audience: &str,
        ttl: i64,
        expected: &Value,
    ) -> (Value, Value) {
        let discovery = idp.discovery(&idp.discovery_url()).await;
        let jwks = idp.discovery(discovery["jwks_uri"].as_str().unwrap()).await;
        let (header, claims) = decode_jwt(token);
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == header["kid"] && k["alg"] == header["alg"]),
            "kid {} in {jwks}",
            header["kid"]
        );
        assert!(signed_by(token, &jwks), "{token} not signed by {jwks}");
        assert_eq!(claims["iss"], discovery["issuer"]);
        assert_eq!(claims["aud"], json!(audience));
        let iat = claims["iat"].as_i64().unwrap();
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        assert!((iat - now).abs() <= 5, "iat {iat}, now {now}");
        assert_eq!(claims["nbf"], json!(iat));
        assert_eq!(claims["exp"], json!(iat + ttl));
        assert!(
            claims["jti"].as_str().is_some_and(|j| j.len() >= 20),
            "{claims}"
        );
        let mut names: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        let mut want: Vec<&str> = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]
            .into_iter()
            .chain(expected.as_object().unwrap().keys().map(String::as_str))
            .collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(names, want, "{claims}");
        for (name, value) in expected.as_object().unwrap() {
            assert_eq!(&claims[name], value, "claim {name} in {claims}");
        }
        (header, claims)
    }

    /// A GitHub Actions-shaped token, issued by oidc-provider's client-credentials grant and
    /// signed RS256 by a published key, with the queued claims; each token has its own `jti`;
    /// a bare-word audience works as well as a URL; lifetime and `typ` as asked.
    #[tokio::test]
    async fn idp_workload_tokens_github_shaped() {
        let idp = Idp::start(
            Shape::Generic,
            vec![IdpClient::workload("gha", "gha-secret-gha-secret")],
        )
        .await;
        let audience = "https://github.com/acme";
        let first = idp
            .workload_token("gha", "gha-secret-gha-secret", audience, github_claims())
            .await;
        let (header, claims) =
            assert_workload_token(&idp, &first, audience, 300, &github_claims()).await;
        assert_eq!(
            (header["alg"].as_str(), header["typ"].as_str()),
            (Some("RS256"), Some("at+jwt")),
            "{header}"
        );
        assert_eq!(claims["sub"], GITHUB_SUB);

        let second = idp
            .workload_token("gha", "gha-secret-gha-secret", audience, github_claims())
            .await;
        let (_, again) =
            assert_workload_token(&idp, &second, audience, 300, &github_claims()).await;
        assert_ne!(claims["jti"], again["jti"]);

        // GitHub's `audience` input is often a bare word; `typ` and lifetime per token. Without a
        // `sub` in the claims, it is the client id.
        let options = WorkloadTokenOptions {
            ttl_seconds: Some(60),
            typ: Some("JWT".to_owned()),
            ..WorkloadTokenOptions::default()
        };
        let token = idp
            .workload_token_with(
                "gha",
                "gha-secret-gha-secret",
                "statuspulse",
                json!({"repository": "acme/infra"}),
                &options,
            )
            .await;
        let (header, claims) = assert_workload_token(
            &idp,
            &token,
            "statuspulse",
            60,
            &json!({"repository": "acme/infra"}),
        )
        .await;
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims["sub"], "gha");
        let stats = idp.stats().await;
        assert_eq!(
            (
                stats["workload_tokens"].as_u64(),
                stats["token_hits"].as_u64()
            ),
            (Some(3), Some(3)),
            "{stats}"
        );
    }

    /// A GitLab CI-shaped token from a shape whose token endpoint is not oidc-provider's own path;
    /// after a key rotation the next token carries a new `kid` that only the refetched JWKS
    /// publishes (the server's "unknown kid, refetch once" path), while the old token still
    /// verifies; ES256 when asked.
    #[tokio::test]
    async fn idp_workload_tokens_gitlab_shaped_and_key_rotation() {
        let idp = Idp::start(
            Shape::okta_custom("ausci"),
            vec![IdpClient::workload("gitlab", "gl-secret-gl-secret")],
        )
        .await;
        let discovery = idp.discovery(&idp.discovery_url()).await;
        let jwks_uri = discovery["jwks_uri"].as_str().unwrap().to_owned();
        let audience = "https://statuspulse.example";
        let before = idp.discovery(&jwks_uri).await;
        let old = idp
            .workload_token("gitlab", "gl-secret-gl-secret", audience, gitlab_claims())
            .await;
        let (old_header, claims) =
            assert_workload_token(&idp, &old, audience, 300, &gitlab_claims()).await;
        assert_eq!(claims["ref_protected"], json!("true"));
        assert!(claims["iss"].as_str().unwrap().ends_with("/oauth2/ausci"));

        let added = idp.rotate_keys().await;
        let new = idp
            .workload_token("gitlab", "gl-secret-gl-secret", audience, gitlab_claims())
            .await;
        let (new_header, _) =
            assert_workload_token(&idp, &new, audience, 300, &gitlab_claims()).await;
        assert_ne!(new_header["kid"], old_header["kid"]);
        assert!(added.contains(&new_header["kid"].as_str().unwrap().to_owned()));
        assert!(
            !signed_by(&new, &before),
            "the new kid is not in the old JWKS"
        );
        let after = idp.discovery(&jwks_uri).await;
        assert!(signed_by(&new, &after) && signed_by(&old, &after));

        let es = idp
            .workload_token_with(
                "gitlab",
                "gl-secret-gl-secret",
                audience,
                gitlab_claims(),
                &WorkloadTokenOptions {
                    alg: Some("ES256".to_owned()),
                    ..WorkloadTokenOptions::default()
                },
            )
            .await;
        let (header, _) = assert_workload_token(&idp, &es, audience, 300, &gitlab_claims()).await;
        assert_eq!(header["alg"], "ES256");
        assert!(added.contains(&header["kid"].as_str().unwrap().to_owned()));
    }

    /// The IdP refuses claims it sets itself, and a client-credentials request that fails uses
    /// up the spec queued for it, so the next token does not inherit it.
    #[tokio::test]
    async fn idp_workload_token_refusals() {
        let idp = Idp::start(
            Shape::Generic,
            vec![IdpClient::workload("gha", "gha-secret-gha-secret")],
        )
        .await;
        let http = reqwest::Client::new();
        let queue = format!("{}/__test/next-workload-token", idp.origin);
        for claims in [json!({"aud": "x"}), json!({"iss": "x"}), json!({"exp": 1})] {
            let response = http
                .post(&queue)
                .json(&json!({ "claims": claims }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{claims}");
        }

        let response = http
            .post(&queue)
            .json(&json!({"claims": {"repository": "evil/repo"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let response = http
            .post(idp.token_endpoint())
            .basic_auth("gha", Some("wrong-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", "https://statuspulse.example"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let token = idp
            .workload_token(
                "gha",
                "gha-secret-gha-secret",
                "https://statuspulse.example",
                json!({"repository": "acme/infra"}),
            )
            .await;
        assert_eq!(decode_jwt(&token).1["repository"], "acme/infra");
        assert_eq!(idp.stats().await["workload_tokens"], json!(1));
    }

    /// Without the installed tools the harness fails loudly, naming the install script.
    #[tokio::test]
    async fn idp_missing_tools_fail_loudly() {
        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/no-such-tools");
        let error = Idp::try_start_in(&missing, Shape::Generic, vec![])
            .await
            .err()
            .expect("start must fail without Node");
        assert!(error.contains("scripts/install-test-tools.sh"), "{error}");
    }
}
