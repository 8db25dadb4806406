//! The OpenID Connect relying party: discovery and keys of a connection's issuer, the
//! authorization request, the code exchange with PKCE, and full validation of the ID token.
//!
//! ID token validation is the `openidconnect` crate's (`IdTokenVerifier`: signature against the
//! issuer's JWKS with the algorithms allowed here, `iss`, `aud`, `exp`, `nonce`), completed here
//! with what it leaves to its caller: `azp`, `iat` and `nbf` within 60 s of skew, `at_hash`,
//! Azure AD's tenant. Only asymmetric algorithms are allowed, whatever the IdP announces: never
//! `none`, never an HMAC (a public key used as an HMAC secret is the classic forgery).
//!
//! HTTP to the IdP goes through a client that follows no redirects, waits at most 10 s and
//! reads at most 1 MiB, and calls only the URLs [`egress`] allows: on a production server,
//! `https` to public addresses, for the issuer and for every endpoint its discovery names. Discovery documents and keys are cached per connection; an ID token
//! signed with a key we do not know makes us fetch the JWKS again (the IdP rotated), at most
//! once a minute per connection, so tokens with made-up `kid`s cannot make us hammer the IdP.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, ClaimsVerificationError, ClientId,
    ClientSecret, IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::connectors::{self, Connector};
use super::{Identity, Refusal};
use crate::platform::clock::Clock;
use crate::platform::egress::{self, Reach};

/// The most of a response from an IdP we read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How long discovery and keys are trusted before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The least time between two JWKS fetches caused by unknown `kid`s, per connection.
const JWKS_REFETCH_EVERY_MS: i64 = 60_000;
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const SKEW_SECS: i64 = 60;
/// An ID token must have been issued this recently (the code was exchanged just now).
const MAX_TOKEN_AGE_SECS: i64 = 600;

/// The only signature algorithms an ID token may use.
pub(crate) const ASYMMETRIC_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Claims beyond the standard ones that sign-in reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct VendorClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<Value>,
    /// Azure AD's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    /// Azure AD: the email's domain owner is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_edov: Option<bool>,
}
impl AdditionalClaims for VendorClaims {}

type IdToken = openidconnect::IdToken<
    VendorClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What sign-in takes from the IdP's discovery document.
#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

/// A connection's issuer as last fetched.
#[derive(Clone, Debug)]
pub struct Provider {
    pub connector: Connector,
    /// Where it was discovered from, and so where its endpoints may be.
    reach: Reach,
    discovery: Discovery,
    jwks: CoreJsonWebKeySet,
}

impl Provider {
    /// Whether the IdP promises RFC 9207's `iss` on its authorization responses (then it must
    /// be there).
    pub fn sends_iss(&self) -> bool {
        self.discovery
            .authorization_response_iss_parameter_supported
    }
}

/// Discovery, keys and HTTP for every OIDC connection of this replica.
#[derive(Debug)]
pub struct RelyingParty {
    /// For a production server: names resolve to public addresses only ([`egress::Resolver`]).
    /// `None` if it could not be built: then nothing is called (never a client without the
    /// resolver in its place).
    http: Option<reqwest::Client>,
    /// For a development server ([`Reach::Local`]): public and loopback addresses.
    local_http: Option<reqwest::Client>,
    /// Keyed by connection id and its `updated_at`, so an edited connection is fetched afresh.
    providers: moka::future::Cache<String, Arc<Provider>>,
    /// Per connection: when the JWKS was last fetched because of an unknown key.
    refetched: Mutex<std::collections::HashMap<String, i64>>,
}

impl Default for RelyingParty {
    fn default() -> Self {
        Self::new()
    }
}

impl RelyingParty {
    pub fn new() -> Self {
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("StatusPulse-Auth/", env!("CARGO_PKG_VERSION")))
                // A proxy from the environment would resolve names itself, past the egress
                // policy's resolver.
                .no_proxy()
        };
        // No fallback to a default client: one without the resolver would call any address.
        let http = builder()
            .dns_resolver(Arc::new(egress::Resolver(Reach::Public.addresses())))
            .build()
            .ok();
        let local_http = builder()
            .dns_resolver(Arc::new(egress::Resolver(Reach::Local.addresses())))
            .build()
            .ok();
        Self {
            http,
            local_http,
            providers: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(METADATA_TTL)
                .build(),
            refetched: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The provider of a connection: cached, or discovered now.
    pub async fn provider(
        &self,
        cache_key: &str,
        connector: &Connector,
        reach: Reach,
    ) -> Result<Arc<Provider>, Refusal> {
        if let Some(found) = self.providers.get(cache_key).await {
            if found.reach == reach {
                return Ok(found);
            }
            self.providers.invalidate(cache_key).await;
        }
        // Concurrent sign-ins of one connection share one discovery: a flood of unauthenticated
        // `GET /v1/sso/login` against a slow or unreachable IdP makes one call to it at a time,
        // not one per request, each holding a task and a socket for up to 10 s.
        self.providers
            .try_get_with(cache_key.to_owned(), self.discover(connector, reach))
            .await
            .map_err(|e| Refusal::clone(&e))
    }

    async fn discover(
        &self,
        connector: &Connector,
        reach: Reach,
    ) -> Result<Arc<Provider>, Refusal> {
        let discovery: Discovery = self
            .get_json(&connector.discovery_url(), reach)
            .await
            .map_err(|e| e.refusal("discovery_failed"))?;
        if discovery.issuer != connector.issuer {
            return Err(Refusal::idp(
                "discovery_issuer_mismatch",
                format!(
                    "the identity provider's discovery document names the issuer `{}`, not the \
                     `{}` this connection is configured for",
                    discovery.issuer, connector.issuer
                ),
            ));
        }
        if let Some(methods) = &discovery.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(Refusal::idp(
                    "pkce_unsupported",
                    "the identity provider does not support PKCE with S256",
                ));
            }
        }
        // Every endpoint discovery names is called (or shown to browsers) like the issuer: a
        // discovery document must not point us at an internal host or at plain http.
        for endpoint in [
            &discovery.authorization_endpoint,
            &discovery.token_endpoint,
            &discovery.jwks_uri,
        ] {
            egress::check(endpoint, reach).map_err(|detail| {
                Refusal::idp(
                    egress::REFUSED_CODE,
                    format!("the identity provider's discovery document names {detail}"),
                )
            })?;
        }
        let jwks = self.fetch_jwks(&discovery.jwks_uri, reach).await?;
        Ok(Arc::new(Provider {
            connector: connector.clone(),
            reach,
            discovery,
            jwks,
        }))
    }

    async fn fetch_jwks(&self, uri: &str, reach: Reach) -> Result<CoreJsonWebKeySet, Refusal> {
        let value: Value = self
            .get_json(uri, reach)
            .await
            .map_err(|e| e.refusal("jwks_failed"))?;
        serde_json::from_value(value).map_err(|e| {
            Refusal::idp(
                "jwks_failed",
                format!("the identity provider's key set is not a JWKS: {e}"),
            )
        })
    }

    /// Fetches the JWKS again after a token named a key we do not have, unless that was done
    /// for this connection within the last minute. `None`: not refetched.
    async fn refetch_keys(
        &self,
        cache_key: &str,
        provider: &Provider,
        clock: &Clock,
    ) -> Result<Option<Arc<Provider>>, Refusal> {
        let now = clock.now_ms();
        {
            let mut refetched = self
                .refetched
                .lock()
                .map_err(|_| Refusal::internal("the key refetch limiter is poisoned"))?;
            if refetched.len() > 10_000 {
                refetched.retain(|_, at| now - *at < JWKS_REFETCH_EVERY_MS);
            }
            let last = refetched.get(cache_key).copied();
            if last.is_some_and(|at| now - at < JWKS_REFETCH_EVERY_MS) {
                return Ok(None);
            }
            refetched.insert(cache_key.to_owned(), now);
        }
        let jwks = self
            .fetch_jwks(&provider.discovery.jwks_uri, provider.reach)
            .await?;
        let fresh = Arc::new(Provider {
            connector: provider.connector.clone(),
            reach: provider.reach,
            discovery: provider.discovery.clone(),
            jwks,
        });
        self.providers
            .insert(cache_key.to_owned(), fresh.clone())
            .await;
        Ok(Some(fresh))
    }

    /// Forgets the cached provider of a connection (after it was edited or deleted).
    pub async fn forget(&self, cache_key: &str) {
        self.providers.invalidate(cache_key).await;
    }

    /// The client for `reach`, once `url` is one it may call.
    fn client_for(
        &self,
        url: &str,
        reach: Reach,
    ) -> Result<(&reqwest::Client, reqwest::Url), FetchError> {
        let url = egress::check(url, reach).map_err(FetchError::Refused)?;
        let client = match reach {
            Reach::Public => self.http.as_ref(),
            Reach::Local => self.local_http.as_ref(),
        }
        .ok_or_else(|| {
            FetchError::Failed("the HTTP client for identity providers is unavailable".into())
        })?;
        Ok((client, url))
    }

    /// GET a JSON document from an identity provider (or another issuer, such as a workload
    /// platform's), through the egress policy of `reach`, the answer bounded in size.
    pub async fn fetch_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        reach: Reach,
        failed_code: &'static str,
    ) -> Result<T, Refusal> {
        self.get_json(url, reach)
            .await
            .map_err(|e| e.refusal(failed_code))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        reach: Reach,
    ) -> Result<T, FetchError> {
        let (client, parsed) = self.client_for(url, reach)?;
        let response = client
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::of(&e, url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Failed(format!("{url} answered {status}")));
        }
        let body = read_bounded(response).await.map_err(FetchError::Failed)?;
        serde_json::from_slice(&body)
            .map_err(|e| FetchError::Failed(format!("{url} did not answer JSON: {e}")))
    }

    /// The code exchange: the token endpoint with the code, our redirect URI and the PKCE
    /// verifier, authenticated as the connection's client.
    pub async fn exchange(
        &self,
        provider: &Provider,
        client: &Client<'_>,
        code: &str,
        verifier: &str,
    ) -> Result<TokenResponse, Refusal> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri),
            ("code_verifier", verifier),
        ];
        // Checked at discovery too; again here, as this request carries the client secret.
        let (http, token_endpoint) = self
            .client_for(&provider.discovery.token_endpoint, provider.reach)
            .map_err(|e| e.refusal("token_exchange_failed"))?;
        let mut request = http
            .post(token_endpoint)
            .header(reqwest::header::ACCEPT, "application/json");
        match client.secret {
            Some(secret) if provider.prefers_basic() => {
                request = request.basic_auth(
                    form_urlencode(client.client_id),
                    Some(form_urlencode(secret)),
                );
            }
            Some(secret) => {
                form.push(("client_id", client.client_id));
                form.push(("client_secret", secret));
            }
            None => form.push(("client_id", client.client_id)),
        }
        let response = request.form(&form).send().await.map_err(|e| {
            if egress::is_refusal(&e) {
                FetchError::of(&e, "the token endpoint").refusal("token_exchange_failed")
            } else {
                Refusal::idp(
                    "token_exchange_failed",
                    format!("cannot reach the token endpoint: {}", without_url(&e)),
                )
            }
        })?;
        let status = response.status();
        let body = read_bounded(response)
            .await
            .map_err(|d| Refusal::idp("token_exchange_failed", d))?;
        if !status.is_success() {
            let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let code = error
                .get("error")
                .and_then(Value::as_str)
                .map(safe_code)
                .unwrap_or_default();
            return Err(Refusal::idp(
                "token_exchange_failed",
                format!(
                    "the identity provider refused the authorization code ({status}{}{code})",
                    if code.is_empty() { "" } else { ", " }
                ),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Refusal::idp(
                "token_exchange_failed",
                format!("the token response is not what OAuth 2.0 specifies: {e}"),
            )
        })
    }

    /// Validates the ID token of a code exchange in full and returns who it says signed in.
    pub async fn verify_id_token(
        &self,
        cache_key: &str,
        provider: Arc<Provider>,
        client: &Client<'_>,
        tokens: &TokenResponse,
        nonce: &str,
        clock: &Clock,
    ) -> Result<Identity, Refusal> {
        let raw = tokens.id_token.as_deref().ok_or_else(|| {
            Refusal::token("id_token_missing", "the token response has no ID token")
        })?;
        let token: IdToken = raw.parse().map_err(|_| {
            Refusal::token("id_token_malformed", "the ID token is not a signed JWT")
        })?;
        match check_token(&provider, client, &token, tokens, nonce, clock) {
            Err(TokenError::UnknownKey) => {
                match self.refetch_keys(cache_key, &provider, clock).await? {
                    Some(fresh) => check_token(&fresh, client, &token, tokens, nonce, clock)
                        .map_err(TokenError::into_refusal),
                    None => Err(TokenError::UnknownKey.into_refusal()),
                }
            }
            other => other.map_err(TokenError::into_refusal),
        }
    }

    /// The authorization request's URL.
    pub fn authorization_url(
        provider: &Provider,
        client: &Client<'_>,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, Refusal> {
        let mut url =
            reqwest::Url::parse(&provider.discovery.authorization_endpoint).map_err(|_| {
                Refusal::idp(
                    "discovery_failed",
                    "the identity provider's authorization endpoint is not a URL",
                )
            })?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            request.verifier.to_owned(),
        ));
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client.client_id)
                .append_pair("redirect_uri", client.redirect_uri)
                .append_pair("scope", &request.scopes.join(" "))
                .append_pair("state", request.state)
                .append_pair("nonce", request.nonce)
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256");
            if !request.acr_values.is_empty() {
                query.append_pair("acr_values", &request.acr_values.join(" "));
            }
            if let Some(hint) = request.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(url.into())
    }
}

impl Provider {
    /// `client_secret_basic` unless the IdP lists methods without it (RFC 8414: the default).
    fn prefers_basic(&self) -> bool {
        self.discovery
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_none_or(|m| m.iter().any(|m| m == "client_secret_basic"))
    }
}

/// Our client at the IdP.
pub struct Client<'a> {
    pub client_id: &'a str,
    pub secret: Option<&'a str>,
    pub redirect_uri: &'a str,
}

/// One authorization request's parameters.
pub struct AuthorizationRequest<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    pub verifier: &'a str,
    pub scopes: &'a [String],
    pub acr_values: &'a [String],
    pub login_hint: Option<&'a str>,
}

/// The token endpoint's answer (RFC 6749 §5.1 plus the ID token).
#[derive(Deserialize)]
pub struct TokenResponse {
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenResponse { .. }")
    }
}

/// Why a token failed, before it becomes a [`Refusal`].
#[derive(Debug)]
enum TokenError {
    UnknownKey,
    Refused(Refusal),
}

impl TokenError {
    fn into_refusal(self) -> Refusal {
        match self {
            TokenError::UnknownKey => Refusal::token(
                "id_token_unknown_key",
                "the ID token is signed with a key the identity provider does not publish",
            ),
            TokenError::Refused(r) => r,
        }
    }
}

fn refused(code: &'static str, detail: impl Into<String>) -> TokenError {
    TokenError::Refused(Refusal::token(code, detail))
}

/// Every check of one ID token against one key set.
fn check_token(
    provider: &Provider,
    client: &Client<'_>,
    token: &IdToken,
    tokens: &TokenResponse,
    nonce: &str,
    clock: &Clock,
) -> Result<Identity, TokenError> {
    let connector = &provider.connector;
    let now = clock.now_ms() / 1000;
    // Read the tenant before anything is trusted only to know which issuer to demand; the
    // signature check below covers it.
    let unverified_tid = token
        .claims(
            &IdTokenVerifier::<CoreJsonWebKey>::new_insecure_without_verification(),
            |_: Option<&Nonce>| Ok(()),
        )
        .ok()
        .and_then(|c| c.additional_claims().tid.clone());
    let issuer = connector
        .expected_issuer(unverified_tid.as_deref())
        .map_err(|code| {
            refused(
                code,
                "the ID token's tenant is not one this connection allows",
            )
        })?;
    let issuer = IssuerUrl::new(issuer)
        .map_err(|_| refused("id_token_wrong_issuer", "the expected issuer is not a URL"))?;
    let client_id = ClientId::new(client.client_id.to_owned());
    let verifier = match client.secret {
        Some(secret) => IdTokenVerifier::new_confidential_client(
            client_id,
            ClientSecret::new(secret.to_owned()),
            issuer,
            provider.jwks.clone(),
        ),
        None => IdTokenVerifier::new_public_client(client_id, issuer, provider.jwks.clone()),
    }
    .set_allowed_algs(ASYMMETRIC_ALGS.iter().cloned())
    // `exp` with the skew allowance: the verifier compares it with this "now".
    .set_time_fn(move || chrono::DateTime::from_timestamp(now - SKEW_SECS, 0).unwrap_or_default())
    .set_issue_time_verifier_fn(move |iat| {
        let iat = iat.timestamp();
        if iat > now + SKEW_SECS {
            Err("issued in the future".to_owned())
        } else if iat < now - MAX_TOKEN_AGE_SECS {
            Err("issued too long ago".to_owned())
        } else {
            Ok(())
        }
    });
    let expected_nonce = Nonce::new(nonce.to_owned());
    let claims = token
        .claims(&verifier, &expected_nonce)
        .map_err(|e| classify(&e))?;

    // What the verifier leaves to us: `azp`, `nbf`, `at_hash`.
    let extra = claims.additional_claims();
    if let Some(azp) = claims.authorized_party() {
        if azp.as_str() != client.client_id {
            return Err(refused(
                "id_token_wrong_audience",
                "the ID token was issued to another client (azp)",
            ));
        }
    } else if claims.audiences().len() > 1 {
        return Err(refused(
            "id_token_wrong_audience",
            "the ID token has several audiences and no authorized party (azp)",
        ));
    }
    if extra.nbf.is_some_and(|nbf| nbf > now + SKEW_SECS) {
        return Err(refused(
            "id_token_not_yet_valid",
            "the ID token is not valid yet (nbf)",
        ));
    }
    if let Some(expected) = claims.access_token_hash() {
        let alg = token
            .signing_alg()
            .map_err(|_| refused("id_token_malformed", "the ID token has no signature"))?;
        let key = token
            .signing_key(&verifier)
            .map_err(|_| TokenError::UnknownKey)?;
        let actual =
            AccessTokenHash::from_token(&AccessToken::new(tokens.access_token.clone()), alg, key)
                .map_err(|_| {
                refused(
                    "id_token_malformed",
                    "cannot compute at_hash for this algorithm",
                )
            })?;
        if actual != *expected {
            return Err(refused(
                "id_token_at_hash_mismatch",
                "the ID token's at_hash does not match the access token it came with",
            ));
        }
    }

    let raw_extra = serde_json::to_value(extra).unwrap_or(Value::Null);
    let email = claims.email().map(|e| e.as_str().to_owned());
    Ok(Identity {
        subject: claims.subject().as_str().to_owned(),
        email_verified: email.is_some()
            && connectors::email_verified(connector.vendor, claims.email_verified(), &raw_extra),
        email,
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        groups: connectors::groups_claim(extra.groups.as_ref()),
        amr: claims
            .auth_method_refs()
            .map(|refs| refs.iter().map(|r| r.as_str().to_owned()).collect())
            .unwrap_or_default(),
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
    })
}

/// The refusal code of a failed check by the `openidconnect` verifier.
fn classify(error: &ClaimsVerificationError) -> TokenError {
    match error {
        ClaimsVerificationError::SignatureVerification(sig) => match sig {
            SignatureVerificationError::NoMatchingKey => TokenError::UnknownKey,
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_)
            | SignatureVerificationError::NoSignature => refused(
                "id_token_disallowed_alg",
                "the ID token is not signed with an asymmetric algorithm this server accepts \
                 (never `none` or an HMAC)",
            ),
            _ => refused(
                "id_token_bad_signature",
                "the ID token's signature is not valid",
            ),
        },
        ClaimsVerificationError::InvalidIssuer(_) => refused(
            "id_token_wrong_issuer",
            "the ID token comes from another issuer",
        ),
        ClaimsVerificationError::InvalidAudience(_) => refused(
            "id_token_wrong_audience",
            "the ID token is not for this client",
        ),
        ClaimsVerificationError::Expired(detail) => {
            if detail.contains("future") || detail.contains("too long ago") {
                refused("id_token_bad_iat", format!("the ID token was {detail}"))
            } else {
                refused("id_token_expired", "the ID token has expired")
            }
        }
        ClaimsVerificationError::InvalidNonce(_) => refused(
            "nonce_mismatch",
            "the ID token's nonce is missing or not the one this sign-in sent",
        ),
        _ => refused("id_token_invalid", "the ID token is not valid"),
    }
}

/// A PKCE verifier or nonce derived from the browser's sign-in secret and the state: nothing
/// stored server-side completes a sign-in without that browser.
pub fn derive(purpose: &str, browser_secret: &str, state: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(browser_secret.as_bytes());
    hasher.update([0]);
    hasher.update(state.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// An IdP's error code, reduced to what is safe to show and store.
pub fn safe_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic.
fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Why a call to the IdP did not give an answer.
#[derive(Debug)]
enum FetchError {
    /// [`egress`] does not let this server call the URL (or its host's addresses).
    Refused(String),
    Failed(String),
}

impl FetchError {
    fn of(error: &reqwest::Error, url: &str) -> Self {
        if egress::is_refusal(error) {
            FetchError::Refused(format!(
                "{url} resolves only to loopback, private, link-local or otherwise internal \
                 addresses"
            ))
        } else {
            FetchError::Failed(format!("cannot reach {url}: {}", without_url(error)))
        }
    }

    fn refusal(self, failed_code: &'static str) -> Refusal {
        match self {
            FetchError::Refused(detail) => Refusal::idp(
                egress::REFUSED_CODE,
                format!("this server does not call the identity provider there: {detail}"),
            ),
            FetchError::Failed(detail) => Refusal::idp(failed_code, detail),
        }
    }
}

/// A reqwest error without the URL (which may carry a code or state).
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_redirect() {
        "redirects are not followed".to_owned()
    } else {
        "request failed".to_owned()
    }
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {}", without_url(&e)))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The algorithms this relying party accepts, by name (for docs and tests).
pub fn accepted_algorithms() -> HashSet<String> {
    ASYMMETRIC_ALGS
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok()?.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        let names = accepted_algorithms();
        assert!(names.contains("RS256") && names.contains("ES256") && names.contains("EdDSA"));
        assert!(!names.contains("none") && !names.contains("HS256"));
    }

    #[test]
    fn derived_values_are_pkce_verifiers_bound_to_browser_and_state() {
        let v = derive("pkce", "browser-a", "state-1");
        assert_eq!(v.len(), 43);
        assert_ne!(v, derive("pkce", "browser-b", "state-1"));
        assert_ne!(v, derive("pkce", "browser-a", "state-2"));
        assert_ne!(v, derive("nonce", "browser-a", "state-1"));
    }

    #[test]
    fn idp_error_codes_are_reduced_to_a_safe_alphabet() {
        assert_eq!(safe_code("invalid_grant"), "invalid_grant");
        assert_eq!(safe_code("<script>x</script>"), "scriptxscript");
        assert_eq!(safe_code(&"a".repeat(100)).len(), 64);
    }
}
