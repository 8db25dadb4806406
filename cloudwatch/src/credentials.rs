//! Credentials as configured (an access key pair, or a role to assume with it) and the session
//! credentials a request is signed with.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

/// An access key pair, with the session token of temporary credentials when there is one.
/// `Debug` shows the access key id only: the id names a key, the secret is the key.
pub struct StaticCredentials {
    /// `AKIA…` (long-term) or `ASIA…` (temporary).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretString,
    /// The session token that comes with temporary credentials.
    pub session_token: Option<SecretString>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Clone for StaticCredentials {
    fn clone(&self) -> Self {
        Self {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: SecretString::from(self.secret_access_key.expose_secret()),
            session_token: self
                .session_token
                .as_ref()
                .map(|t| SecretString::from(t.expose_secret())),
        }
    }
}

/// How the client authenticates to CloudWatch Logs.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Sign with these credentials directly.
    Static(StaticCredentials),
    /// Sign with the temporary credentials of `role_arn`, assumed through STS with `base`; they
    /// are cached until 5 minutes before they expire.
    AssumeRole {
        /// The credentials that call `sts:AssumeRole`.
        base: StaticCredentials,
        /// `arn:aws:iam::<account>:role/<name>`.
        role_arn: String,
        /// The external id the role's trust policy requires, if it requires one.
        external_id: Option<String>,
        /// Shows in CloudTrail as the session that wrote (2 to 64 of `[\w+=,.@-]`).
        session_name: String,
    },
}

/// Credentials one request is signed with.
pub(crate) struct Session {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    /// When the credentials stop working; `None` for long-term keys.
    pub expires_at: Option<OffsetDateTime>,
}

impl Session {
    pub(crate) fn from_static(credentials: &StaticCredentials) -> Self {
        Self {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: SecretString::from(credentials.secret_access_key.expose_secret()),
            session_token: credentials
                .session_token
                .as_ref()
                .map(|t| SecretString::from(t.expose_secret())),
            expires_at: None,
        }
    }

    /// Still good for at least `margin` from `now`.
    pub(crate) fn valid_for(&self, now: OffsetDateTime, margin: time::Duration) -> bool {
        self.expires_at.is_none_or(|at| now + margin < at)
    }

    /// Every value an error message must never repeat.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.secret_access_key.expose_secret()];
        if let Some(token) = &self.session_token {
            secrets.push(token.expose_secret());
        }
        secrets
    }
}

/// The credentials in an STS `AssumeRoleResponse`, or `None` when one is missing.
pub(crate) fn parse_assume_role_response(xml: &str, now: OffsetDateTime) -> Option<Session> {
    use crate::error::xml_text;
    let access_key_id = xml_text(xml, "AccessKeyId")?;
    let secret = xml_text(xml, "SecretAccessKey")?;
    let token = xml_text(xml, "SessionToken")?;
    // An Expiration we cannot read is taken as the shortest a role session can last (15 min), so
    // the credentials are renewed in 10 minutes rather than trusted for longer than they may live.
    let expires_at = xml_text(xml, "Expiration")
        .and_then(|text| {
            OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).ok()
        })
        .unwrap_or(now + time::Duration::minutes(15));
    Some(Session {
        access_key_id,
        secret_access_key: SecretString::from(secret),
        session_token: Some(SecretString::from(token)),
        expires_at: Some(expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assume_role_response_gives_temporary_credentials_and_their_expiry() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><SessionToken>t0k&amp;en</SessionToken><Expiration>2026-11-30T08:00:00.123456Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let session = parse_assume_role_response(xml, now).unwrap();
        assert_eq!(session.access_key_id, "ASIAEXAMPLE");
        assert_eq!(session.secret_access_key.expose_secret(), "s3cr3t");
        assert_eq!(
            session.session_token.as_ref().unwrap().expose_secret(),
            "t0k&en"
        );
        assert_eq!(session.expires_at.unwrap().unix_timestamp(), 1_796_025_600);
    }

    #[test]
    fn an_unreadable_expiry_is_taken_as_fifteen_minutes() {
        let xml = "<AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>soon</Expiration>";
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let session = parse_assume_role_response(xml, now).unwrap();
        assert_eq!(session.expires_at, Some(now + time::Duration::minutes(15)));
        assert!(session.valid_for(now, time::Duration::minutes(5)));
        assert!(!session.valid_for(
            now + time::Duration::minutes(10),
            time::Duration::minutes(5)
        ));
    }

    #[test]
    fn debug_output_never_shows_the_secret_or_the_token() {
        let credentials = StaticCredentials {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG"),
            session_token: Some(SecretString::from("FQoGZXIvYXdz")),
        };
        let debug = format!("{:?}", Auth::Static(credentials.clone()));
        assert!(debug.contains("AKIAEXAMPLE"));
        assert!(!debug.contains("wJalrXUtnFEMI"));
        assert!(!debug.contains("FQoGZXIvYXdz"));
    }
}
