//! The provider's one error boundary: API errors and validation failures become Terraform
//! diagnostics on the right attribute path.
//!
//! Diagnostics are built as struct literals rather than with `Diagnostic::new`: tf-provider's
//! constructors capture a backtrace and append it to the detail whenever `RUST_BACKTRACE` is set,
//! and a user must never see one (issue 3). `main` also clears the variable for the library's own
//! diagnostics; building ours directly means they stay clean even if that ever regresses.

use std::borrow::Cow;

use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::client::ApiError;

/// The attribute path of a field the server or a shared rule names: `name`, `email_domains[0]`
/// (the attribute: sets have no index), or `oidc.issuer`, an attribute inside a nested block
/// (blocks are lists of at most one element, so the block's element 0).
pub fn field_path(field: &str) -> AttributePath {
    let mut segments = field
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s).to_owned());
    let mut path = AttributePath::new(segments.next().unwrap_or_default());
    for segment in segments {
        path = path.index(0).attribute(segment);
    }
    path
}

/// Short-hands for adding backtrace-free diagnostics.
pub trait DiagnosticsExt {
    fn add(
        &mut self,
        summary: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
        at: AttributePath,
    );
    /// A warning: the plan goes on.
    fn warn(
        &mut self,
        summary: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
        at: AttributePath,
    );
    /// Reports a failed API call made while doing `action` (e.g. "create the API key").
    fn api_error(&mut self, action: &str, err: &ApiError);
}

impl DiagnosticsExt for Diagnostics {
    fn add(
        &mut self,
        summary: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
        at: AttributePath,
    ) {
        self.add_error(Diagnostic {
            summary: summary.into(),
            detail: detail.into(),
            attribute: at,
        });
    }

    fn warn(
        &mut self,
        summary: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
        at: AttributePath,
    ) {
        self.add_warning(Diagnostic {
            summary: summary.into(),
            detail: detail.into(),
            attribute: at,
        });
    }

    fn api_error(&mut self, action: &str, err: &ApiError) {
        let (summary, detail, at) = describe(action, err);
        self.add(summary, detail, at);
    }
}

/// Turns a failed API call into a diagnostic, so call sites read `call.await.or_report(…)?`.
pub trait OrReport<T> {
    fn or_report(self, diags: &mut Diagnostics, action: &str) -> Option<T>;
}

impl<T> OrReport<T> for Result<T, ApiError> {
    fn or_report(self, diags: &mut Diagnostics, action: &str) -> Option<T> {
        match self {
            Ok(value) => Some(value),
            Err(err) => {
                diags.api_error(action, &err);
                None
            }
        }
    }
}

/// The errors a check reports, as summary and attribute: what the plan-time tests compare.
#[cfg(test)]
pub fn errors_of(check: impl FnOnce(&mut Diagnostics)) -> Vec<(String, AttributePath)> {
    let mut diags = Diagnostics::default();
    check(&mut diags);
    diags
        .errors
        .into_iter()
        .map(|d| (d.summary.into_owned(), d.attribute))
        .collect()
}

fn describe(action: &str, err: &ApiError) -> (String, String, AttributePath) {
    match err {
        ApiError::Problem { status: 401, .. } => (
            "StatusPulse rejected the provider's API key".to_owned(),
            format!(
                "Could not {action}: the server answered 401 Unauthorized. Check `api_key` in the \
                 provider block or the STATUSPULSE_API_KEY environment variable: the key may be \
                 revoked, expired, or for another StatusPulse endpoint. With an OIDC token, the \
                 workload identity trust policy or its service account may have been deleted."
            ),
            AttributePath::root(),
        ),
        ApiError::Problem {
            status: 403,
            detail,
            ..
        } => {
            (
                "The provider's API key may not do this".to_owned(),
                format!(
                "Could not {action}: the server answered 403 Forbidden{}. Give the provider's key \
                 (or its workload identity trust policy's `scopes`) the management scope this needs (admin:service_accounts, admin:keys, admin:access, admin:sso or admin:audit).",
                detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
            ),
                AttributePath::root(),
            )
        }
        ApiError::Problem {
            status,
            code,
            title,
            detail,
            field,
        } => {
            let at = field
                .as_deref()
                .filter(|f| !f.is_empty())
                .map(field_path)
                .unwrap_or_default();
            (
                format!("Could not {action}: {title}"),
                format!(
                    "{}StatusPulse answered HTTP {status} with code `{code}`.",
                    detail
                        .as_deref()
                        .map(|d| format!("{d}\n\n"))
                        .unwrap_or_default()
                ),
                at,
            )
        }
        ApiError::Transport { .. } => (
            format!("Could not {action}: StatusPulse is unreachable"),
            format!("{err}. Check `endpoint` in the provider block or STATUSPULSE_ENDPOINT."),
            AttributePath::root(),
        ),
        // Mid-apply, when the provider exchanges its OIDC token again (crate::exchange); at
        // configure time `provider.rs` says more, on the attribute holding the token.
        ApiError::Exchange { .. } => (
            format!("Could not {action}: StatusPulse refused the provider's OIDC token"),
            format!(
                "{err}. The provider exchanges its OIDC token again before the access token \
                 expires: the new token no longer matches the workload identity trust policy, \
                 or the policy changed meanwhile."
            ),
            AttributePath::root(),
        ),
        ApiError::OidcToken(_) => (
            format!("Could not {action}: the provider's OIDC token is unavailable"),
            format!("{err}."),
            AttributePath::root(),
        ),
        ApiError::Decode(_) => (
            format!("Could not {action}: unexpected answer from StatusPulse"),
            format!("{err}. The provider and server versions may not match; upgrade the provider."),
            AttributePath::root(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::AttributePathStep;

    #[test]
    fn field_errors_point_at_the_terraform_attribute() {
        let mut diags = Diagnostics::default();
        diags.api_error(
            "create the API key",
            &ApiError::Problem {
                status: 422,
                code: "scope_not_allowed".into(),
                title: "Scope not allowed".into(),
                detail: Some("admin:all needs a workspace policy".into()),
                field: Some("scopes".into()),
            },
        );
        let diag = &diags.errors[0];
        assert_eq!(
            diag.attribute.steps,
            vec![AttributePathStep::Attribute("scopes".into())]
        );
        assert!(diag.detail.contains("scope_not_allowed"));
    }
}
