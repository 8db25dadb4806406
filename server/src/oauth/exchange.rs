//! Workload identity federation: RFC 8693 token exchange at `/oauth2/token`.
//!
//! A workload (a CI job, a Kubernetes pod) presents the OIDC JWT its platform issued it
//! (`subject_token`, type `urn:ietf:params:oauth:token-type:jwt`) and gets a StatusPulse access
//! token acting as a service account, under a trust policy of `/v1/workload-identities`
//! (`management::workload_identities`). No client secret and no refresh token: the platform's
//! token is the credential, and the workload exchanges a new one when it needs to.
//!
//! The JWT is validated in full: signature against the issuer's JWKS (discovered through the
//! egress policy, cached, fetched again on an unknown `kid` at most once a minute), an
//! asymmetric algorithm only, `iss`, `aud`, `exp`, `nbf`, `iat` not in the future, a lifetime of
//! at most a day, and single use (its `jti`, or its digest, is remembered until it expires).
//! Then the trust policies of that issuer are matched on audience and conditions; the scopes
//! given are what was asked (default: the policy's) ∩ the policy's ∩ the service account's
//! bindings, narrowed by conditional access in this request's circumstances. Every outcome is
//! audited: `token.exchanged` with issuer, subject and the matched claims, or
//! `token.exchange_refused` with the reason (aggregated like failed authentication: the first of
//! a kind per client network, then counted), never the token.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::OAuthError;
use crate::app::AppState;
use crate::audit::{Actor, EventType, Failure, NewEvent};
use crate::authn::signing::{self, SigningAlg};
use crate::authz::conditional::Circumstances;
use crate::authz::scopes::Scopes;
use crate::http::auth::Whereabouts;
use crate::management::access_policies;
use crate::management::workload_identities::{self, IdentityRow};
use crate::platform::db::stored_list;
use crate::platform::egress::{self, Reach};
use crate::platform::network::ClientNetwork;
use statuspulse_api::v1::workload_identities::{ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE};

/// The largest subject token accepted.
const MAX_SUBJECT_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on the subject token's times.
const SKEW_SECS: i64 = 60;
/// A subject token valid longer than this is refused (and so the replay cache stays bounded).
const MAX_SUBJECT_LIFETIME_SECS: i64 = 24 * 3600;
/// Trust policies of one issuer considered, at most.
const MAX_CANDIDATES: i64 = 200;
/// How long an issuer's discovery and keys are kept.
const ISSUER_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// An unknown `kid` fetches the issuer's keys again at most this often.
const REFETCH_EVERY_MS: i64 = 60_000;

/// The RFC 8693 form fields of an exchange (beside `grant_type`).
pub struct ExchangeRequest<'a> {
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    pub scope: Option<&'a str>,
    /// The trust policy, when several could match.
    pub client_id: Option<&'a str>,
}

/// The keys of the workload issuers this replica has seen.
#[derive(Debug)]
pub struct WorkloadIssuers {
    keys: moka::future::Cache<String, Arc<CoreJsonWebKeySet>>,
    refetched: dashmap::DashMap<String, i64>,
}

impl Default for WorkloadIssuers {
    fn default() -> Self {
        Self {
            keys: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ISSUER_TTL)
                .build(),
            refetched: dashmap::DashMap::new(),
        }
    }
}

#[derive(serde::Deserialize)]
struct IssuerDiscovery {
    issuer: String,
    jwks_uri: String,
}

impl WorkloadIssuers {
    /// The issuer's keys: cached, or discovered now (concurrent exchanges share one fetch).
    async fn keys(
        &self,
        state: &AppState,
        issuer: &str,
        reach: Reach,
    ) -> Result<Arc<CoreJsonWebKeySet>, Refused> {
        let key = format!("{reach:?}|{issuer}");
        self.keys
            .try_get_with(key, Self::fetch(state, issuer, reach))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn fetch(
        state: &AppState,
        issuer: &str,
        reach: Reach,
    ) -> Result<Arc<CoreJsonWebKeySet>, Refused> {
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let unreachable = |e: crate::signin::Refusal| Refused {
            error: "invalid_request",
            reason: "issuer_unreachable",
            detail: e.detail,
        };
        let discovery: IssuerDiscovery = state
            .sign_in
            .fetch_json(&discovery_url, reach, "discovery_failed")
            .await
            .map_err(unreachable)?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(Refused::new(
                "issuer_mismatch",
                "the issuer's discovery document names another issuer",
            ));
        }
        egress::check(&discovery.jwks_uri, reach).map_err(|detail| {
            Refused::new(
                "issuer_unreachable",
                format!("the issuer's discovery document names {detail}"),
            )
        })?;
        let jwks: CoreJsonWebKeySet = state
            .sign_in
            .fetch_json(&discovery.jwks_uri, reach, "jwks_failed")
            .await
            .map_err(unreachable)?;
        Ok(Arc::new(jwks))
    }

    /// Fetches the keys again after a token named one we do not have, unless that was done for
    /// this issuer within the last minute. `None`: not fetched again.
    async fn refetch(
        &self,
        state: &AppState,
        issuer: &str,
        reach: Reach,
        now_ms: i64,
    ) -> Result<Option<Arc<CoreJsonWebKeySet>>, Refused> {
        let key = format!("{reach:?}|{issuer}");
        if self.refetched.len() > 10_000 {
            self.refetched
                .retain(|_, at| now_ms - *at < REFETCH_EVERY_MS);
        }
        if let Some(at) = self.refetched.get(&key) {
            if now_ms - *at < REFETCH_EVERY_MS {
                return Ok(None);
            }
        }
        self.refetched.insert(key.clone(), now_ms);
        let fresh = Self::fetch(state, issuer, reach).await?;
        self.keys.insert(key, fresh.clone()).await;
        Ok(Some(fresh))
    }
}

/// Why an exchange is refused: the OAuth error, a stable reason for the audit log, and a detail
/// for the workload's operator (never the token).
#[derive(Clone, Debug)]
pub struct Refused {
    error: &'static str,
    reason: &'static str,
    detail: String,
}

impl Refused {
    /// RFC 8693 §2.2.2: an unacceptable subject token is `invalid_request`.
    fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            error: "invalid_request",
            reason,
            detail: detail.into(),
        }
    }

    fn scope(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            error: "invalid_scope",
            reason,
            detail: detail.into(),
        }
    }
}

/// A subject token split and decoded, its signature not yet checked.
struct SubjectToken<'a> {
    signed: &'a str,
    signature: Vec<u8>,
    /// The header's `alg`, as written: judged once the token's issuer is known, so that a forged
    /// `none` or HMAC token is audited in the workspace whose trust policy it aimed at.
    alg_name: String,
    kid: Option<String>,
    claims: serde_json::Map<String, Value>,
}

fn parse(token: &str) -> Result<SubjectToken<'_>, Refused> {
    let malformed = || Refused::new("malformed_token", "subject_token is not a signed JWT");
    let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
    let (header, payload) = signed.split_once('.').ok_or_else(malformed)?;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| malformed())?;
    let claims: Value = serde_json::from_slice(&decode(payload)?).map_err(|_| malformed())?;
    let Value::Object(claims) = claims else {
        return Err(malformed());
    };
    Ok(SubjectToken {
        signed,
        signature: decode(signature)?,
        alg_name: header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_owned(),
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        claims,
    })
}

/// The token's algorithm, if it is one of the asymmetric ones accepted (never `none` or HMAC,
/// whose "key" would be public).
fn algorithm(token: &SubjectToken<'_>) -> Result<CoreJwsSigningAlgorithm, Refused> {
    serde_json::from_value::<CoreJwsSigningAlgorithm>(json!(token.alg_name))
        .ok()
        .filter(|a| crate::signin::oidc::ASYMMETRIC_ALGS.contains(a))
        .ok_or_else(|| {
            Refused::new(
                "algorithm_refused",
                format!(
                    "subject_token is signed with `{}`; only asymmetric algorithms (RS*, PS*, \
                     ES256, ES384, EdDSA) are accepted",
                    token.alg_name.chars().take(16).collect::<String>()
                ),
            )
        })
}

/// Whether one of the issuer's keys (the `kid`'s, or any signing key when there is no `kid`)
/// verifies the signature. `Err(())`: no key with that `kid`.
fn verified_by(
    keys: &CoreJsonWebKeySet,
    token: &SubjectToken<'_>,
    alg: &CoreJwsSigningAlgorithm,
) -> Result<bool, ()> {
    let candidates: Vec<&CoreJsonWebKey> = keys
        .keys()
        .iter()
        .filter(|k| match &token.kid {
            Some(kid) => k.key_id().is_some_and(|id| id.as_str() == kid),
            None => true,
        })
        .filter(|k| {
            k.key_use()
                .is_none_or(|u| *u == openidconnect::core::CoreJsonWebKeyUse::Signature)
        })
        .collect();
    if candidates.is_empty() {
        return Err(());
    }
    Ok(candidates.iter().any(|k| {
        k.verify_signature(alg, token.signed.as_bytes(), &token.signature)
            .is_ok()
    }))
}

/// A claim as conditions compare it: strings as they are, numbers and booleans as JSON writes
/// them; arrays, objects and null match no condition.
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn audiences(claims: &serde_json::Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    }
}

/// The first condition of `conditions` that the claims do not meet.
fn unmet_condition<'a>(
    conditions: &'a BTreeMap<String, String>,
    claims: &serde_json::Map<String, Value>,
) -> Option<&'a str> {
    conditions
        .iter()
        .find(|(claim, pattern)| {
            !claims
                .get(claim.as_str())
                .and_then(claim_text)
                .is_some_and(|v| statuspulse_api::validate::glob_matches(pattern, &v))
        })
        .map(|(claim, _)| claim.as_str())
}

/// The subject token's times against `now` (Unix seconds): not expired, `nbf` and `iat` not in
/// the future (each with [`SKEW_SECS`]), valid for at most [`MAX_SUBJECT_LIFETIME_SECS`].
/// Returns `exp`.
fn check_times(claims: &serde_json::Map<String, Value>, now: i64) -> Result<i64, Refused> {
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp =
        time("exp").ok_or_else(|| Refused::new("malformed_token", "subject_token has no `exp`"))?;
    if now >= exp + SKEW_SECS {
        return Err(Refused::new("token_expired", "subject_token has expired"));
    }
    if time("nbf").is_some_and(|nbf| nbf > now + SKEW_SECS) {
        return Err(Refused::new(
            "token_not_yet_valid",
            "subject_token is not valid yet (`nbf`)",
        ));
    }
    let iat = time("iat");
    if iat.is_some_and(|iat| iat > now + SKEW_SECS) {
        return Err(Refused::new(
            "issued_in_the_future",
            "subject_token's `iat` is in the future",
        ));
    }
    if exp - iat.unwrap_or(now).min(now) > MAX_SUBJECT_LIFETIME_SECS {
        return Err(Refused::new(
            "token_lifetime_too_long",
            "subject_token is valid for more than a day; use a short-lived token",
        ));
    }
    Ok(exp)
}

/// What an exchange found out, for its audit event.
#[derive(Default)]
struct Findings {
    workspace_id: Option<String>,
    identity_id: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
}

/// The `token-exchange` grant: an access token for the workload, or the RFC 8693 error.
pub async fn exchange_grant(
    state: &AppState,
    parts: &Parts,
    request: ExchangeRequest<'_>,
) -> Result<Value, OAuthError> {
    let mut findings = Findings::default();
    let whereabouts = Whereabouts::of(parts, &state.settings);
    let outcome = exchange(state, &whereabouts, &request, &mut findings).await;
    let mut details = whereabouts.add_to(json!({
        "issuer": findings.issuer, "subject": findings.subject,
        "workload_identity_id": findings.identity_id,
    }));
    let workspace = findings.workspace_id.clone().unwrap_or_default();
    match outcome {
        Ok((answer, extra)) => {
            if let (Value::Object(into), Value::Object(extra)) = (&mut details, extra) {
                into.extend(extra);
            }
            let event = NewEvent::success(&workspace, EventType::TokenExchanged, Actor::Anonymous)
                .target(
                    "service_account",
                    answer["sub"].as_str().unwrap_or_default(),
                )
                .details(details);
            state.audit.store_durably(event).await;
            let mut answer = answer;
            if let Value::Object(map) = &mut answer {
                map.remove("sub");
            }
            Ok(answer)
        }
        Err(refused) => {
            // The endpoint is open to anyone: refusals go through the failure aggregation, so a
            // flood costs a few audit events. The first of a kind (workspace, reason, client
            // network) is this event; repeats are counted into the aggregation's summary events.
            let first = state.audit.count_failure(&Failure {
                workspace_id: &workspace,
                key_id: None,
                target: findings
                    .identity_id
                    .as_deref()
                    .map(|id| ("workload_identity", id)),
                reason: refused.reason,
                network: whereabouts
                    .ip
                    .map_or(ClientNetwork::UNKNOWN, ClientNetwork::of),
                source_ip: whereabouts.ip,
                method: parts.method.as_str(),
                route: "/oauth2/token",
                path: parts.uri.path(),
                user_agent: parts
                    .headers
                    .get(axum::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()),
            });
            if first.is_some() {
                details["reason"] = json!(refused.reason);
                details["detail"] = json!(refused.detail);
                let mut event = NewEvent::success(
                    &workspace,
                    EventType::TokenExchangeRefused,
                    Actor::Anonymous,
                )
                .details(details);
                if let Some(id) = &findings.identity_id {
                    event = event.target("workload_identity", id);
                }
                state.audit.store_durably(event).await;
            }
            Err(OAuthError::new(refused.error, refused.detail))
        }
    }
}

async fn exchange(
    state: &AppState,
    whereabouts: &Whereabouts,
    request: &ExchangeRequest<'_>,
    findings: &mut Findings,
) -> Result<(Value, Value), Refused> {
    match request.subject_token_type {
        Some(t) if t == JWT_TOKEN_TYPE || t == "urn:ietf:params:oauth:token-type:id_token" => {}
        Some(_) => {
            return Err(Refused::new(
                "unsupported_token_type",
                format!("subject_token_type must be `{JWT_TOKEN_TYPE}`"),
            ))
        }
        None => {
            return Err(Refused::new(
                "missing_parameter",
                "subject_token_type is required",
            ))
        }
    }
    let raw = request
        .subject_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refused::new("missing_parameter", "subject_token is required"))?;
    if raw.len() > MAX_SUBJECT_TOKEN_BYTES {
        return Err(Refused::new(
            "malformed_token",
            format!("subject_token is larger than {MAX_SUBJECT_TOKEN_BYTES} bytes"),
        ));
    }
    let token = parse(raw)?;
    let issuer = token
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .map(|i| i.trim_end_matches('/').to_owned())
        .filter(|i| i.len() <= 2048)
        .ok_or_else(|| Refused::new("malformed_token", "subject_token has no `iss`"))?;
    findings.issuer = Some(issuer.clone());
    findings.subject = token
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(512).collect());

    // The trust policies that could accept it: of this issuer (and the one named, if any).
    let mut candidates: Vec<IdentityRow> = sqlx::query_as(&format!(
        "SELECT {} FROM workload_identities WHERE issuer = $1 ORDER BY id LIMIT {MAX_CANDIDATES}",
        workload_identities::COLUMNS
    ))
    .bind(&issuer)
    .fetch_all(state.db.pool())
    .await
    .map_err(|e| server(&e))?;
    if let Some(named) = request.client_id {
        candidates.retain(|c| c.id == named);
    }
    if candidates.is_empty() {
        return Err(Refused::new(
            "no_trust_policy",
            "no workload identity trusts tokens of this issuer",
        ));
    }
    if let [only] = candidates.as_slice() {
        findings.workspace_id = Some(only.workspace_id.clone());
        findings.identity_id = Some(only.id.clone());
    }

    // The signature, with the issuer's keys (fetched again once for an unknown key).
    let alg = algorithm(&token)?;
    let reach = Reach::of(&state.settings);
    let keys = state.workload_issuers.keys(state, &issuer, reach).await?;
    let now_ms = state.clock.now_ms();
    let verified = match verified_by(&keys, &token, &alg) {
        Ok(verified) => verified,
        Err(()) => match state
            .workload_issuers
            .refetch(state, &issuer, reach, now_ms)
            .await?
        {
            Some(fresh) => verified_by(&fresh, &token, &alg).unwrap_or(false),
            None => false,
        },
    };
    if !verified {
        return Err(Refused::new(
            "bad_signature",
            "subject_token is not signed by a key of its issuer",
        ));
    }

    let now = now_ms / 1000;
    let exp = check_times(&token.claims, now)?;

    // The trust policies whose audience and conditions it meets.
    let audiences = audiences(&token.claims);
    let mut first_unmet: Option<String> = None;
    let matching: Vec<&IdentityRow> = candidates
        .iter()
        .filter(|c| {
            if !audiences.contains(&c.audience) {
                first_unmet.get_or_insert_with(|| "aud".to_owned());
                return false;
            }
            match c
                .conditions()
                .ok()
                .as_ref()
                .map(|cond| unmet_condition(cond, &token.claims))
            {
                Some(None) => true,
                Some(Some(claim)) => {
                    first_unmet.get_or_insert_with(|| claim.to_owned());
                    false
                }
                None => false,
            }
        })
        .collect();
    let identity = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(Refused::new(
                "conditions_not_met",
                match (&first_unmet, candidates.len()) {
                    (Some(claim), 1) => {
                        format!("the token's `{claim}` does not meet the trust policy")
                    }
                    _ => {
                        "no workload identity's audience and conditions match the token".to_owned()
                    }
                },
            ))
        }
        _ => {
            return Err(Refused::new(
                "several_trust_policies",
                "several workload identities match the token: name one with client_id=wi_…",
            ))
        }
    };
    findings.workspace_id = Some(identity.workspace_id.clone());
    findings.identity_id = Some(identity.id.clone());

    // The service account, and the scopes.
    let account: Option<(String,)> =
        sqlx::query_as("SELECT id FROM service_accounts WHERE workspace_id = $1 AND id = $2")
            .bind(&identity.workspace_id)
            .bind(&identity.service_account_id)
            .fetch_optional(state.db.pool())
            .await
            .map_err(|e| server(&e))?;
    if account.is_none() {
        return Err(Refused::new(
            "service_account_gone",
            "the service account of this workload identity no longer exists",
        ));
    }
    let policy_scopes = Scopes::parse(
        stored_list("scopes", &identity.scopes)
            .map_err(|e| server(&e))?
            .iter()
            .map(String::as_str),
    )
    .map_err(|_| Refused::new("corrupt_policy", "the trust policy's scopes are unreadable"))?;
    let asked = match request.scope {
        Some(scope) => {
            let asked = Scopes::parse(scope.split_whitespace()).map_err(|_| {
                Refused::scope("unknown_scope", "scope names a scope that does not exist")
            })?;
            if let Some(beyond) = asked.iter().find(|s| !policy_scopes.grants(*s)) {
                return Err(Refused::scope(
                    "scope_beyond_policy",
                    format!("the workload identity does not give `{beyond}`"),
                ));
            }
            asked
        }
        None => policy_scopes.clone(),
    };
    let bound =
        workload_identities::held_by(state, &identity.workspace_id, &identity.service_account_id)
            .await
            .map_err(|e| server(&e))?;
    let held: Scopes = asked.iter().filter(|s| bound.grants(*s)).collect();
    // Conditional access: a policy governing an OAuth scope governs the catalog scopes it stands
    // for; a workload has no groups and no MFA, and is where its request comes from.
    let policies = access_policies::enabled(state.db.pool(), &identity.workspace_id)
        .await
        .map_err(|e| server(&e))?;
    let all: Vec<String> = statuspulse_api::scopes::OAUTH_SCOPES
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let (_, withheld) = policies.evaluate(
        &all,
        &Circumstances {
            groups: &[],
            client_id: Some(&identity.id),
            mfa: false,
            amr: &[],
            ip: whereabouts.ip,
            region: whereabouts.region.as_deref(),
        },
    );
    let withheld_catalog: Scopes = withheld
        .iter()
        .filter_map(|w| statuspulse_api::scopes::oauth_scope(&w.scope))
        .flat_map(|s| s.iter().copied())
        .collect();
    let granted: Scopes = held
        .iter()
        .filter(|s| !withheld_catalog.contains(*s))
        .collect();
    if granted.is_empty() {
        return Err(Refused::scope(
            "nothing_to_grant",
            "the service account's bindings and conditional access leave none of the scopes asked",
        ));
    }

    // Single use: remembered until it expires.
    let seen_key = match token.claims.get("jti").and_then(Value::as_str) {
        Some(jti) => format!("{issuer}\u{0}jti\u{0}{jti}"),
        None => format!("{issuer}\u{0}token\u{0}{raw}"),
    };
    let seen_hash = hex::encode(Sha256::digest(seen_key.as_bytes()));
    let first_use = sqlx::query(
        "INSERT INTO workload_tokens_seen (token_hash, expires_at) VALUES ($1, $2) \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(&seen_hash)
    .bind((exp + SKEW_SECS) * 1000)
    .execute(state.db.pool())
    .await
    .map_err(|e| server(&e))?
    .rows_affected();
    if first_use == 0 {
        return Err(Refused::new(
            "token_replayed",
            "this subject_token was already exchanged; a token is exchanged once",
        ));
    }

    // The access token.
    let lifetime = identity.token_lifetime_seconds;
    let key_ring = super::token::signing_ring(state, SigningAlg::Es256, now_ms)
        .await
        .map_err(|e| server(&e.description))?;
    let key = key_ring
        .signer_at(SigningAlg::Es256, now_ms, super::keys::period_ms(state))
        .ok_or_else(|| server(&"no signing key is active"))?;
    let ours = super::issuer(state);
    let subject = findings.subject.clone().unwrap_or_default();
    let scope = granted.names().join(" ");
    let claims = json!({
        "iss": ours, "aud": ours, "sub": identity.service_account_id,
        "client_id": identity.id, "workspace_id": identity.workspace_id, "scope": scope,
        "jti": uuid::Uuid::new_v4().simple().to_string(), "iat": now, "exp": now + lifetime,
        "act": {"iss": issuer, "sub": subject},
    });
    let access_token =
        signing::sign(key, &claims, crate::authn::access_token::TYP).map_err(|e| server(&e))?;
    let matched: serde_json::Map<String, Value> = identity
        .conditions()
        .map_err(|e| server(&e))?
        .keys()
        .filter_map(|claim| Some((claim.clone(), token.claims.get(claim)?.clone())))
        .collect();
    Ok((
        json!({
            "access_token": access_token, "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer", "expires_in": lifetime, "scope": scope,
            "sub": identity.service_account_id,
        }),
        json!({"matched_claims": matched, "scope": scope, "expires_in": lifetime,
               "subject_token_hash": seen_hash}),
    ))
}

fn server(e: &dyn std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "a token exchange failed");
    Refused {
        error: "server_error",
        reason: "server_error",
        detail: "the authorization server failed; try again".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_compare_strings_numbers_and_booleans_as_text() {
        let claims: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "repository": "acme/infra", "ref_protected": true, "run_number": 7,
            "groups": ["a"]
        }))
        .unwrap();
        let cond = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            unmet_condition(
                &cond(&[
                    ("repository", "acme/*"),
                    ("ref_protected", "true"),
                    ("run_number", "7")
                ]),
                &claims
            ),
            None
        );
        assert_eq!(
            unmet_condition(&cond(&[("ref_protected", "false")]), &claims),
            Some("ref_protected")
        );
        assert_eq!(
            unmet_condition(&cond(&[("groups", "a")]), &claims),
            Some("groups")
        );
        assert_eq!(
            unmet_condition(&cond(&[("environment", "*prod*")]), &claims),
            Some("environment")
        );
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_is_looked_up() {
        let token = |alg: &str| {
            format!(
                "{}.{}.c2ln",
                URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string()),
                URL_SAFE_NO_PAD.encode(json!({"iss": "https://ci.example"}).to_string())
            )
        };
        for alg in ["none", "HS256", "HS512", "nonsense"] {
            let refused = algorithm(&parse(&token(alg)).unwrap()).err().unwrap();
            assert_eq!(refused.reason, "algorithm_refused", "{alg}");
        }
        assert!(algorithm(&parse(&token("RS256")).unwrap()).is_ok());
        assert_eq!(parse("a.b").err().unwrap().reason, "malformed_token");
    }

    #[test]
    fn times_refuse_expired_early_future_and_day_long_tokens() {
        let at = |v: Value| -> Result<i64, &'static str> {
            let claims: serde_json::Map<String, Value> = serde_json::from_value(v).unwrap();
            check_times(&claims, 10_000).map_err(|r| r.reason)
        };
        assert_eq!(
            at(json!({"exp": 10_300, "iat": 10_000, "nbf": 10_000})),
            Ok(10_300)
        );
        // Within the skew either way.
        assert_eq!(
            at(json!({"exp": 9_950, "nbf": 10_050, "iat": 10_050})),
            Ok(9_950)
        );
        assert_eq!(at(json!({"exp": 9_900})), Err("token_expired"));
        assert_eq!(
            at(json!({"exp": 10_300, "nbf": 10_100})),
            Err("token_not_yet_valid")
        );
        assert_eq!(
            at(json!({"exp": 10_300, "iat": 10_100})),
            Err("issued_in_the_future")
        );
        assert_eq!(
            at(json!({"exp": 10_000 + 2 * 86_400, "iat": 10_000})),
            Err("token_lifetime_too_long")
        );
        assert_eq!(at(json!({"iat": 10_000})), Err("malformed_token"));
    }
}
