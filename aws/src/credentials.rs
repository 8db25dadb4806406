//! Credentials as configured (an access key pair, or a role to assume with it), credentials found
//! in the environment the way the AWS CLI and the Terraform AWS provider find them, and the session
//! credentials a request is signed with.

use std::fmt;
use std::path::PathBuf;

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

impl StaticCredentials {
    /// The credentials of this process's environment: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, else profile `AWS_PROFILE` (or `default`)
    /// of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`).
    /// Returns them with a description of where they were found, for messages.
    ///
    /// # Errors
    /// [`ErrorKind::Denied`](crate::ErrorKind::Denied) when there are none, or only half a pair,
    /// saying what to set.
    pub fn from_environment() -> Result<(Self, String), crate::Error> {
        Self::from_environment_with(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`StaticCredentials::from_environment`] reading variables through `var` (for tests).
    ///
    /// # Errors
    /// As [`StaticCredentials::from_environment`].
    pub fn from_environment_with(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, String), crate::Error> {
        let denied = |message: String| crate::Error::new(crate::ErrorKind::Denied, message);
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret)) => {
                let source =
                    "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
                return Ok((
                    Self {
                        access_key_id,
                        secret_access_key: SecretString::from(secret),
                        session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
                    },
                    source.to_owned(),
                ));
            }
            (Some(_), None) | (None, Some(_)) => return Err(denied(
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both (and \
                     AWS_SESSION_TOKEN for temporary credentials), or neither to use the shared \
                     credentials file"
                    .to_owned(),
            )),
            (None, None) => {}
        }
        let explicit_profile = var("AWS_PROFILE");
        let profile = explicit_profile
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let file = match (var("AWS_SHARED_CREDENTIALS_FILE"), var("HOME")) {
            (Some(path), home) => expand_home(&path, home.as_deref()),
            (None, Some(home)) => PathBuf::from(home).join(".aws/credentials"),
            (None, None) => PathBuf::from(".aws/credentials"),
        };
        let none = || {
            denied(format!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN for temporary credentials), or add profile `{profile}` to {} \
                 (AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE choose another file or profile)",
                file.display()
            ))
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Err(none());
        };
        let Some(entries) = ini_section(&text, &profile) else {
            return Err(if explicit_profile.is_some() {
                denied(format!(
                    "AWS_PROFILE names profile `{profile}`, which {} does not have: fix \
                     AWS_PROFILE or add the profile",
                    file.display()
                ))
            } else {
                none()
            });
        };
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key_id), Some(secret)) => Ok((
                Self {
                    access_key_id,
                    secret_access_key: SecretString::from(secret),
                    session_token: get("aws_session_token").map(SecretString::from),
                },
                format!("profile `{profile}` of {}", file.display()),
            )),
            _ => Err(denied(format!(
                "profile `{profile}` of {} has no aws_access_key_id and aws_secret_access_key \
                 (single sign-on, roles and credential processes are not supported here): give \
                 it an access key pair, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                file.display()
            ))),
        }
    }
}

fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The `key = value` lines of section `[name]` of an INI file (the shared credentials format),
/// or `None` when there is no such section.
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found: Option<Vec<(String, String)>> = None;
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == name;
            if inside && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if let (true, Some(entries), Some((key, value))) =
            (inside, found.as_mut(), line.split_once('='))
        {
            entries.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    found
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

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn environment_variables_come_before_the_shared_credentials_file() {
        let (credentials, source) = StaticCredentials::from_environment_with(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "env-token"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ]))
        .unwrap();
        assert_eq!(credentials.access_key_id, "AKIAENV");
        assert_eq!(credentials.secret_access_key.expose_secret(), "env-secret");
        assert_eq!(
            credentials.session_token.unwrap().expose_secret(),
            "env-token"
        );
        assert!(source.contains("AWS_ACCESS_KEY_ID"), "{source}");
    }

    #[test]
    fn the_named_profile_of_the_shared_credentials_file_is_used() {
        let dir = std::env::temp_dir().join(format!("sp-aws-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(
            &file,
            "# comment\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n[ci]\naws_access_key_id=AKIACI\naws_secret_access_key=ci-secret\naws_session_token = ci-token\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let (ci, source) = StaticCredentials::from_environment_with(env(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "ci"),
        ]))
        .unwrap();
        assert_eq!(ci.access_key_id, "AKIACI");
        assert_eq!(ci.session_token.unwrap().expose_secret(), "ci-token");
        assert!(source.contains("profile `ci`"), "{source}");
        let (default, _) =
            StaticCredentials::from_environment_with(env(&[("AWS_SHARED_CREDENTIALS_FILE", path)]))
                .unwrap();
        assert_eq!(default.access_key_id, "AKIADEFAULT");
        let missing = StaticCredentials::from_environment_with(env(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "prod"),
        ]))
        .unwrap_err();
        assert!(missing.message.contains("`prod`"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_credentials_or_half_a_pair_say_what_to_set() {
        let none = StaticCredentials::from_environment_with(env(&[(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/credentials",
        )]))
        .unwrap_err();
        assert_eq!(none.kind, crate::ErrorKind::Denied);
        assert!(none.message.contains("AWS_ACCESS_KEY_ID"), "{none}");
        let half = StaticCredentials::from_environment_with(env(&[("AWS_ACCESS_KEY_ID", "AKIA")]))
            .unwrap_err();
        assert!(half.message.contains("only one of"), "{half}");
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
