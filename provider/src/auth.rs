//! Which credential the provider authenticates with, from the provider block, the environment and
//! the CI platform, in this order (the first layer that names a credential wins):
//!
//! 1. the provider block: `api_key`, `oidc_token` or `oidc_token_file`;
//! 2. the environment: `STATUSPULSE_API_KEY`, `STATUSPULSE_OIDC_TOKEN` or
//!    `STATUSPULSE_OIDC_TOKEN_FILE`;
//! 3. GitHub Actions' ID token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` and
//!    `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present in a job with `permissions: id-token: write`), so
//!    that a workflow needs no configuration at all.
//!
//! Two credentials in one layer are refused rather than ranked: which one a run uses must never
//! depend on a precedence the user did not choose. A layer above shadows the ones below, as every
//! other setting's HCL value shadows its environment variable. `workload_identity` and
//! `oidc_audience` (HCL, then environment) only mean something with an OIDC token, so they are
//! refused next to an API key instead of being silently ignored.
//!
//! The resolution is a pure function of the configuration and an environment lookup, so that the
//! precedence is unit-tested without touching the process environment.

use std::path::PathBuf;

use secrecy::SecretString;
use tf_provider::value::Value;

use crate::model::{check_api_key_format, IdKind, ObjectId};

pub const API_KEY_ENV: &str = "STATUSPULSE_API_KEY";
pub const OIDC_TOKEN_ENV: &str = "STATUSPULSE_OIDC_TOKEN";
pub const OIDC_TOKEN_FILE_ENV: &str = "STATUSPULSE_OIDC_TOKEN_FILE";
pub const WORKLOAD_IDENTITY_ENV: &str = "STATUSPULSE_WORKLOAD_IDENTITY";
pub const OIDC_AUDIENCE_ENV: &str = "STATUSPULSE_OIDC_AUDIENCE";
/// GitHub Actions sets both in a job allowed `id-token: write`.
pub const GITHUB_REQUEST_URL_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const GITHUB_REQUEST_TOKEN_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// The audience the provider asks GitHub Actions for when `oidc_audience` is not set; a trust
/// policy for the provider's pipelines uses the same `audience`.
pub const DEFAULT_OIDC_AUDIENCE: &str = "statuspulse";

/// The credential settings of the provider block as Terraform sends them.
#[derive(Default)]
pub struct CredentialSettings<'a> {
    pub api_key: Option<&'a Value<String>>,
    pub oidc_token: Option<&'a Value<String>>,
    pub oidc_token_file: Option<&'a Value<String>>,
    pub workload_identity: Option<&'a Value<String>>,
    pub oidc_audience: Option<&'a Value<String>>,
}

/// Where the workload's OIDC token comes from; read again before each exchange, because CI
/// platforms refresh it.
pub enum TokenSource {
    /// A JWT given as is (`oidc_token`, `STATUSPULSE_OIDC_TOKEN`).
    Static(SecretString),
    /// A file the platform writes (`oidc_token_file`, `STATUSPULSE_OIDC_TOKEN_FILE`).
    File(PathBuf),
    /// GitHub Actions' ID token endpoint, asked for a token with `audience`.
    GitHubActions {
        request_url: String,
        request_token: SecretString,
        audience: String,
    },
}

impl TokenSource {
    /// How a diagnostic names it (never its value).
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Static(_) => "the OIDC token in `oidc_token` (or STATUSPULSE_OIDC_TOKEN)".to_owned(),
            TokenSource::File(path) => format!(
                "the OIDC token in `{}` (`oidc_token_file` or STATUSPULSE_OIDC_TOKEN_FILE)",
                path.display()
            ),
            TokenSource::GitHubActions { audience, .. } => format!(
                "the GitHub Actions ID token (audience `{audience}`, from ACTIONS_ID_TOKEN_REQUEST_URL)"
            ),
        }
    }

    /// What makes a new token appear, for the error of an unrefreshed one.
    pub fn refresh_advice(&self) -> &'static str {
        match self {
            TokenSource::Static(_) => {
                "a token given as a value cannot be refreshed: raise the trust policy's \
                 `token_lifetime_seconds` to cover the whole run, or give the token as \
                 `oidc_token_file`, which the platform refreshes"
            }
            TokenSource::File(_) => {
                "the platform must write a new token to the file before the access token \
                 expires (a Kubernetes projected token with `expirationSeconds: 600` is renewed \
                 every 8 minutes), or raise the trust policy's `token_lifetime_seconds`"
            }
            TokenSource::GitHubActions { .. } => "ask GitHub Actions for a new token",
        }
    }

    /// The provider block attribute a diagnostic about it points at, if any.
    pub fn attribute(&self) -> Option<&'static str> {
        match self {
            TokenSource::Static(_) => Some("oidc_token"),
            TokenSource::File(_) => Some("oidc_token_file"),
            TokenSource::GitHubActions { .. } => None,
        }
    }
}

/// An OIDC token to exchange, and the trust policy to name, if any.
pub struct OidcCredential {
    pub source: TokenSource,
    /// `wi_…`, sent as `client_id`; needed only when several trust policies match the token.
    pub workload_identity: Option<String>,
}

/// What the provider authenticates with. No `Debug`: it holds secrets.
pub enum Credentials {
    ApiKey(SecretString),
    Oidc(OidcCredential),
}

/// The outcome of resolving the credential settings.
pub enum Resolution {
    /// A setting depends on something not yet known: configure later.
    Unknown,
    /// No layer names a credential.
    Missing,
    Found(Credentials),
}

/// A refused configuration, reported on `attribute` (the provider block's root when `None`).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub summary: &'static str,
    pub detail: String,
    pub attribute: Option<&'static str>,
}

fn refuse(summary: &'static str, detail: String, attribute: &'static str) -> Refusal {
    Refusal {
        summary,
        detail,
        attribute: Some(attribute),
    }
}

/// One setting: the HCL value, else its environment variable. `Err(())` when it is unknown.
fn setting(
    hcl: Option<&Value<String>>,
    env_name: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, Origin)>, ()> {
    match hcl {
        Some(Value::Unknown) => return Err(()),
        Some(Value::Value(v)) if !v.is_empty() => return Ok(Some((v.clone(), Origin::Block))),
        _ => {}
    }
    Ok(env_name
        .and_then(env)
        .filter(|v| !v.is_empty())
        .map(|v| (v, Origin::Env)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Block,
    Env,
}

/// Names a setting as the user wrote it: the attribute or its environment variable.
fn named(attribute: &'static str, env_name: &str, origin: Origin) -> String {
    match origin {
        Origin::Block => format!("`{attribute}`"),
        Origin::Env => env_name.to_owned(),
    }
}

/// Resolves the credential (module doc) from the provider block and `env`.
pub fn resolve(
    settings: &CredentialSettings<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolution, Refusal> {
    let no_env = |_: &str| None;
    let block = |value| setting(value, None, &no_env);
    let (Ok(block_key), Ok(block_token), Ok(block_file)) = (
        block(settings.api_key),
        block(settings.oidc_token),
        block(settings.oidc_token_file),
    ) else {
        return Ok(Resolution::Unknown);
    };
    let (Ok(workload_identity), Ok(audience)) = (
        setting(settings.workload_identity, Some(WORKLOAD_IDENTITY_ENV), env),
        setting(settings.oidc_audience, Some(OIDC_AUDIENCE_ENV), env),
    ) else {
        return Ok(Resolution::Unknown);
    };
    let in_block = [
        ("api_key", block_key),
        ("oidc_token", block_token),
        ("oidc_token_file", block_file),
    ];
    let in_env = [
        ("api_key", env(API_KEY_ENV).filter(|v| !v.is_empty())),
        ("oidc_token", env(OIDC_TOKEN_ENV).filter(|v| !v.is_empty())),
        (
            "oidc_token_file",
            env(OIDC_TOKEN_FILE_ENV).filter(|v| !v.is_empty()),
        ),
    ];
    let env_name = |attribute: &str| match attribute {
        "api_key" => API_KEY_ENV,
        "oidc_token" => OIDC_TOKEN_ENV,
        _ => OIDC_TOKEN_FILE_ENV,
    };

    let block_set: Vec<(&'static str, String)> = in_block
        .into_iter()
        .filter_map(|(a, v)| v.map(|(v, _)| (a, v)))
        .collect();
    let chosen = if block_set.is_empty() {
        let env_set: Vec<(&'static str, String)> = in_env
            .into_iter()
            .filter_map(|(a, v)| v.map(|v| (a, v)))
            .collect();
        if let [(first, _), (second, _), ..] = env_set.as_slice() {
            return Err(Refusal {
                summary: "Conflicting StatusPulse credentials",
                detail: format!(
                    "Both {} and {} are set: the provider authenticates with one credential. \
                     Unset one of them (an API key, or an OIDC token to exchange for a \
                     short-lived token).",
                    env_name(first),
                    env_name(second)
                ),
                attribute: None,
            });
        }
        env_set.into_iter().next().map(|(a, v)| (a, v, Origin::Env))
    } else {
        if let [(first, _), (second, _), ..] = block_set.as_slice() {
            return Err(refuse(
                "Conflicting StatusPulse credentials",
                format!(
                    "`{first}` and `{second}` are mutually exclusive: the provider authenticates \
                     either with an API key or with an OIDC token that it exchanges for a \
                     short-lived token. Remove one of them."
                ),
                second,
            ));
        }
        block_set
            .into_iter()
            .next()
            .map(|(a, v)| (a, v, Origin::Block))
    };

    let oidc_only = |what: &'static str, env_var: &str, origin: Origin| {
        refuse(
            "Setting without an OIDC token",
            format!(
                "{} names the workload identity exchange, but the provider authenticates with \
                 an API key ({}): remove one of them.",
                named(what, env_var, origin),
                match chosen.as_ref().map(|c| c.2) {
                    Some(Origin::Env) => format!("{API_KEY_ENV} is set"),
                    _ => "`api_key` is set".to_owned(),
                }
            ),
            what,
        )
    };
    if let Some(("api_key", key, _)) = &chosen {
        if let Some((_, o)) = &workload_identity {
            return Err(oidc_only("workload_identity", WORKLOAD_IDENTITY_ENV, *o));
        }
        if let Some((_, o)) = &audience {
            return Err(oidc_only("oidc_audience", OIDC_AUDIENCE_ENV, *o));
        }
        if let Err(detail) = check_api_key_format(key) {
            return Err(refuse("Malformed StatusPulse API key", detail, "api_key"));
        }
        return Ok(Resolution::Found(Credentials::ApiKey(SecretString::from(
            key.clone(),
        ))));
    }

    let workload_identity = match workload_identity {
        Some((id, origin)) => match ObjectId::parse(IdKind::WorkloadIdentity, &id) {
            Ok(_) => Some(id),
            Err(detail) => {
                return Err(refuse(
                    "Invalid workload_identity",
                    format!(
                        "{}: {detail}",
                        named("workload_identity", WORKLOAD_IDENTITY_ENV, origin)
                    ),
                    "workload_identity",
                ))
            }
        },
        None => None,
    };
    let source = match chosen {
        Some(("oidc_token", token, _)) => TokenSource::Static(SecretString::from(token)),
        Some((_, path, _)) => TokenSource::File(PathBuf::from(path)),
        None => {
            match (
                env(GITHUB_REQUEST_URL_ENV).filter(|v| !v.is_empty()),
                env(GITHUB_REQUEST_TOKEN_ENV).filter(|v| !v.is_empty()),
            ) {
                (Some(request_url), Some(request_token)) => TokenSource::GitHubActions {
                    request_url,
                    request_token: SecretString::from(request_token),
                    audience: audience.map_or_else(|| DEFAULT_OIDC_AUDIENCE.to_owned(), |(a, _)| a),
                },
                _ => return Ok(Resolution::Missing),
            }
        }
    };
    Ok(Resolution::Found(Credentials::Oidc(OidcCredential {
        source,
        workload_identity,
    })))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn key() -> String {
        format!("sp_live_{}", "A".repeat(64))
    }

    fn v(s: &str) -> Value<String> {
        Value::Value(s.to_owned())
    }

    fn run(settings: &CredentialSettings<'_>, env: &[(&str, &str)]) -> Result<Resolution, Refusal> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve(settings, &|name| env.get(name).cloned())
    }

    /// A short name for what was chosen, secrets exposed only here.
    fn chosen(outcome: Result<Resolution, Refusal>) -> String {
        match outcome {
            Ok(Resolution::Unknown) => "unknown".into(),
            Ok(Resolution::Missing) => "missing".into(),
            Ok(Resolution::Found(Credentials::ApiKey(k))) => {
                format!("key:{}", &k.expose_secret()[..9])
            }
            Ok(Resolution::Found(Credentials::Oidc(o))) => {
                let wi = o.workload_identity.unwrap_or_default();
                match o.source {
                    TokenSource::Static(t) => format!("token:{}{wi}", t.expose_secret()),
                    TokenSource::File(p) => format!("file:{}{wi}", p.display()),
                    TokenSource::GitHubActions { audience, .. } => {
                        format!("github:{audience}{wi}")
                    }
                }
            }
            Err(r) => format!("refused:{}@{}", r.summary, r.attribute.unwrap_or("root")),
        }
    }

    const GITHUB: [(&str, &str); 2] = [
        (
            GITHUB_REQUEST_URL_ENV,
            "https://pipelines.example/token?api-version=2.0",
        ),
        (GITHUB_REQUEST_TOKEN_ENV, "request-token"),
    ];

    #[test]
    fn the_provider_block_shadows_the_environment_which_shadows_github_actions() {
        let file = v("/run/ci/token");
        let block = CredentialSettings {
            oidc_token_file: Some(&file),
            ..Default::default()
        };
        let mut env = vec![(API_KEY_ENV, "sp_live_x"), (OIDC_TOKEN_ENV, "jwt")];
        env.extend(GITHUB);
        assert_eq!(chosen(run(&block, &env)), "file:/run/ci/token");
        let k = key();
        let env_key = [(API_KEY_ENV, k.as_str()), GITHUB[0], GITHUB[1]];
        assert_eq!(
            chosen(run(&CredentialSettings::default(), &env_key)),
            "key:sp_live_A"
        );
        assert_eq!(
            chosen(run(
                &CredentialSettings::default(),
                &[(OIDC_TOKEN_ENV, "jwt")]
            )),
            "token:jwt"
        );
        assert_eq!(
            chosen(run(&CredentialSettings::default(), &GITHUB)),
            "github:statuspulse"
        );
        assert_eq!(
            chosen(run(&CredentialSettings::default(), &[GITHUB[0]])),
            "missing"
        );
    }

    #[test]
    fn two_credentials_in_one_layer_are_refused_on_the_second() {
        let k = v(&key());
        let token = v("jwt");
        let both = CredentialSettings {
            api_key: Some(&k),
            oidc_token: Some(&token),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&both, &[])),
            "refused:Conflicting StatusPulse credentials@oidc_token"
        );
        let outcome = run(
            &CredentialSettings::default(),
            &[(API_KEY_ENV, "k"), (OIDC_TOKEN_FILE_ENV, "/t")],
        );
        let Err(refusal) = outcome else {
            panic!("two credentials in the environment were accepted")
        };
        assert!(
            refusal.detail.contains(API_KEY_ENV) && refusal.detail.contains(OIDC_TOKEN_FILE_ENV)
        );
    }

    #[test]
    fn oidc_settings_next_to_an_api_key_are_refused_not_ignored() {
        let k = v(&key());
        let wi = v("wi_01J8");
        let with_wi = CredentialSettings {
            api_key: Some(&k),
            workload_identity: Some(&wi),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&with_wi, &[])),
            "refused:Setting without an OIDC token@workload_identity"
        );
        let key_only = CredentialSettings {
            api_key: Some(&k),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&key_only, &[(OIDC_AUDIENCE_ENV, "x")])),
            "refused:Setting without an OIDC token@oidc_audience"
        );
    }

    #[test]
    fn workload_identity_and_audience_come_from_the_block_then_the_environment() {
        let wi = v("wi_block");
        let audience = v("https://statuspulse.example");
        let settings = CredentialSettings {
            workload_identity: Some(&wi),
            oidc_audience: Some(&audience),
            ..Default::default()
        };
        let mut env = vec![
            (WORKLOAD_IDENTITY_ENV, "wi_env"),
            (OIDC_AUDIENCE_ENV, "env"),
        ];
        env.extend(GITHUB);
        assert_eq!(
            chosen(run(&settings, &env)),
            "github:https://statuspulse.examplewi_block"
        );
        assert_eq!(
            chosen(run(&CredentialSettings::default(), &env)),
            "github:envwi_env"
        );
        let bad = v("sa_1");
        let settings = CredentialSettings {
            workload_identity: Some(&bad),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&settings, &[(OIDC_TOKEN_ENV, "jwt")])),
            "refused:Invalid workload_identity@workload_identity"
        );
    }

    #[test]
    fn an_unknown_setting_defers_the_decision_and_empty_means_unset() {
        let unknown = Value::Unknown;
        let settings = CredentialSettings {
            oidc_token: Some(&unknown),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&settings, &[(OIDC_TOKEN_ENV, "jwt")])),
            "unknown"
        );
        let empty = v("");
        let settings = CredentialSettings {
            api_key: Some(&empty),
            ..Default::default()
        };
        assert_eq!(
            chosen(run(&settings, &[(OIDC_TOKEN_ENV, "jwt")])),
            "token:jwt"
        );
    }

    #[test]
    fn a_malformed_api_key_is_refused_on_api_key() {
        assert_eq!(
            chosen(run(
                &CredentialSettings::default(),
                &[(API_KEY_ENV, "sp_live_short")]
            )),
            "refused:Malformed StatusPulse API key@api_key"
        );
    }
}
