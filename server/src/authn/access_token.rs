//! Access tokens of StatusPulse's own OAuth server, as `/v1/auth/verify` and every Bearer route
//! see them: JWTs (RFC 9068, `typ: at+jwt`) checked against the key ring in memory, without a
//! database round trip on the hot path.
//!
//! A token outlives nothing it stands on: revoking its session (or signing the user out
//! everywhere) refuses it on this replica at once ([`AccessTokens::session_revoked`]) and on
//! every other within the poll period ([`REVOCATION_POLL_MS`], a read of sessions revoked since
//! the last poll). Entries are kept as long as a token of the session could still be valid.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;

use super::signing::{self, KeyRing, TokenFailure};
use crate::authz::scopes::{Scope, Scopes};
use crate::platform::secrets::MasterKeys;

/// The JOSE `typ` of our access tokens.
pub const TYP: &str = "at+jwt";
/// How often each replica reads the sessions revoked elsewhere.
pub const REVOCATION_POLL_MS: i64 = 5_000;

/// A verified access token: who, for which client, with which scopes. Either a person's, issued
/// through an OAuth client on a sign-in session, or a workload's, exchanged for the token its
/// platform gave it (RFC 8693) and acting as a service account.
#[derive(Debug)]
pub struct TokenPrincipal {
    /// `sub`: the user (`usr_…`), or the service account (`sa_…`) of an exchanged token.
    pub subject: String,
    pub workspace_id: String,
    /// The sign-in session (`sid`); none for an exchanged token.
    pub session_id: Option<String>,
    /// The service account an exchanged token acts as.
    pub service_account_id: Option<String>,
    /// The OAuth client (`oc_…`), or the trust policy (`wi_…`) of an exchanged token.
    pub client_id: String,
    /// The OAuth scopes granted (`scope` claim); none for an exchanged token, whose `scope` names
    /// catalog scopes.
    pub oauth_scopes: Vec<String>,
    /// The catalog scopes they stand for.
    pub scopes: Scopes,
    pub jti: String,
    pub expires_at_secs: i64,
    /// The verify answer, rendered once per verified token and thread (like a key's): a gateway
    /// asks again and again for the same token, and per-thread copies keep the reference counts
    /// of its bytes on the core that serves them.
    pub rendered: super::per_thread::PerThread<super::routes::RenderedAnswer>,
}

impl TokenPrincipal {
    pub fn grants(&self, scope: Scope) -> bool {
        self.scopes.grants(scope)
    }
}

/// Why a presented token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessTokenFailure {
    Token(TokenFailure),
    /// Its session was revoked (or the user signed out everywhere).
    SessionRevoked,
    /// Tokens cannot be checked (no signing keys readable).
    Unavailable,
}

impl AccessTokenFailure {
    pub fn reason(self) -> &'static str {
        match self {
            AccessTokenFailure::Token(t) => t.reason(),
            AccessTokenFailure::SessionRevoked => "session_revoked",
            AccessTokenFailure::Unavailable => "token_keys_unavailable",
        }
    }
}

/// Whether a Bearer credential is shaped like a JWT (three base64url parts, a JSON header).
pub fn looks_like_jwt(presented: &str) -> bool {
    presented.starts_with("eyJ") && presented.bytes().filter(|b| *b == b'.').count() == 2
}

/// The key ring, the tokens already verified and the revoked sessions of this replica.
#[derive(Debug)]
pub struct AccessTokens {
    pub ring: KeyRing,
    /// Tokens whose signature was checked, by the SHA-256 of the whole token: a gateway sends
    /// the same token many times, and an ECDSA verification costs far more than a lookup. A
    /// forged or altered token has another digest; expiry and revocation are checked on every
    /// use all the same. A plain concurrent map (a lookup is a shard read, as for keys), bounded
    /// in count ([`VERIFIED_CAPACITY`]); expired entries leave at each revocation poll.
    verified: DashMap<[u8; 32], Arc<TokenPrincipal>, foldhash::fast::RandomState>,
    /// Session id → when it was revoked (ms).
    revoked: DashMap<String, i64>,
    last_poll_ms: AtomicI64,
}

/// Verified tokens remembered at most, per replica. Only tokens whose signature checked out get
/// in, so filling it takes that many genuine tokens; when full, the expired ones leave, and if
/// none has, everything does (the next use of each verifies it again).
const VERIFIED_CAPACITY: usize = 50_000;

impl Default for AccessTokens {
    fn default() -> Self {
        Self {
            ring: KeyRing::default(),
            verified: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            revoked: DashMap::new(),
            last_poll_ms: AtomicI64::new(0),
        }
    }
}

impl AccessTokens {
    /// Verifies `presented` as an access token of `issuer`.
    pub async fn verify(
        &self,
        presented: &str,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        issuer: &str,
        now_ms: i64,
    ) -> Result<Arc<TokenPrincipal>, AccessTokenFailure> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let known = self
            .verified
            .get(&digest)
            .map(|entry| entry.value().clone());
        let principal = match known {
            Some(known) => known,
            None => {
                let checked = Arc::new(self.check(presented, pool, master, issuer, now_ms).await?);
                if self.verified.len() >= VERIFIED_CAPACITY {
                    self.forget_expired(now_ms);
                    if self.verified.len() >= VERIFIED_CAPACITY {
                        self.verified.clear();
                    }
                }
                self.verified.insert(digest, checked.clone());
                checked
            }
        };
        if now_ms / 1000 >= principal.expires_at_secs + signing::SKEW_SECS {
            return Err(AccessTokenFailure::Token(TokenFailure::Expired));
        }
        // The set is kept by each replica's poll job (`REVOCATION_POLL_MS`) and the Redis
        // fan-out; verification itself never waits for the database.
        if let Some(session) = &principal.session_id {
            if self.revoked.contains_key(session) {
                return Err(AccessTokenFailure::SessionRevoked);
            }
        }
        Ok(principal)
    }

    /// The signature and claims of a token not seen before.
    async fn check(
        &self,
        presented: &str,
        pool: &AnyPool,
        master: Option<&MasterKeys>,
        issuer: &str,
        now_ms: i64,
    ) -> Result<TokenPrincipal, AccessTokenFailure> {
        let kid = signing::header_kid(presented, TYP).map_err(AccessTokenFailure::Token)?;
        let ring = self
            .ring
            .for_kid(&kid, pool, master, now_ms)
            .await
            .map_err(|_| AccessTokenFailure::Unavailable)?;
        let claims = signing::verify(presented, TYP, &ring, issuer, now_ms / 1000)
            .map_err(AccessTokenFailure::Token)?;
        principal_of(&claims).ok_or(AccessTokenFailure::Token(TokenFailure::Malformed))
    }

    /// Records a revocation made on this replica (refused here at once).
    pub fn session_revoked(&self, session_id: &str, now_ms: i64) {
        self.revoked.insert(session_id.to_owned(), now_ms);
    }

    /// Reads the sessions revoked since the last poll (with a margin for clocks and slow
    /// commits), and forgets those revoked long enough ago that no token of theirs is valid.
    pub async fn poll_revocations(&self, pool: &AnyPool, now_ms: i64) -> Result<(), sqlx::Error> {
        let since = self.last_poll_ms.swap(now_ms, Ordering::Relaxed);
        let margin = 2 * REVOCATION_POLL_MS;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, revoked_at FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= $1",
        )
        .bind(if since == 0 { 0 } else { since - margin })
        .fetch_all(pool)
        .await?;
        for (id, at) in rows {
            self.revoked.insert(id, at);
        }
        let horizon = (signing::ACCESS_TOKEN_TTL_SECS + signing::SKEW_SECS) * 1000 + margin;
        self.revoked.retain(|_, at| now_ms - *at < horizon);
        self.forget_expired(now_ms);
        Ok(())
    }

    /// Drops verified tokens that can no longer be used.
    fn forget_expired(&self, now_ms: i64) {
        self.verified
            .retain(|_, p| now_ms / 1000 < p.expires_at_secs + signing::SKEW_SECS);
    }
}

fn principal_of(claims: &Value) -> Option<TokenPrincipal> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let scope = text("scope").unwrap_or_default();
    let subject = text("sub")?;
    let session_id = text("sid");
    // A token with no session is a workload's (`act` names who exchanged it): its scopes are
    // catalog scopes of the service account it acts as. Only we sign tokens, so the shape is ours.
    let exchanged = session_id.is_none();
    let (oauth_scopes, scopes, service_account_id) = if exchanged {
        if !statuspulse_api::ids::is_minted(&subject, statuspulse_api::ids::SERVICE_ACCOUNT)
            || claims.get("act").is_none()
        {
            return None;
        }
        let scopes = Scopes::parse(scope.split_whitespace()).ok()?;
        (Vec::new(), scopes, Some(subject.clone()))
    } else {
        let oauth_scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
        let scopes = oauth_scopes
            .iter()
            .filter_map(|s| statuspulse_api::scopes::oauth_scope(s))
            .flat_map(|s| s.iter().copied())
            .collect();
        (oauth_scopes, scopes, None)
    };
    Some(TokenPrincipal {
        subject,
        workspace_id: text("workspace_id")?,
        session_id,
        service_account_id,
        client_id: text("client_id")?,
        oauth_scopes,
        scopes,
        jti: text("jti")?,
        expires_at_secs: claims.get("exp")?.as_i64()?,
        rendered: super::per_thread::PerThread::new(),
    })
}
