//! The page a person sees when sign-in does not happen: what went wrong and what to do, in
//! plain words, with the stable code for their administrator; and the report of a connection
//! test. maud templates (everything escaped) in the console's look, under a policy that allows
//! its stylesheet and no script, style from elsewhere, form or framing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use statuspulse_api::v1::SsoConnectionTestResult;

pub fn failure(status: StatusCode, code: &str, detail: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "You cannot sign in here",
        StatusCode::BAD_GATEWAY => "Your identity provider did not answer as expected",
        StatusCode::TOO_MANY_REQUESTS => "Too many sign-in attempts",
        _ => "Sign-in failed",
    };
    let main = html! {
        h1 { (title) }
        section .card {
            p #detail { (detail) }
            p { "If this keeps happening, give your administrator this code: "
                code #code { (code) } "." }
            p { a .button href="/console/" { "Start again" } }
        }
    };
    page(status, title, &main)
}

/// The report of a connection test (`super::connection_test`): the outcome in words, the claims
/// the identity provider sent, what the connection's rules make of them, and a way back to
/// `return_to`.
pub fn test_result(result: &SsoConnectionTestResult, return_to: &str) -> Response {
    let (title, summary) = match result.outcome.as_str() {
        "would_sign_in" => (
            "Connection test passed",
            "The identity provider vouched for this person and the connection's rules admit \
             them: they would be signed in.",
        ),
        "would_be_refused" => (
            "Connection test: sign-in would be refused",
            "The identity provider vouched for this person, but a rule of the connection \
             refuses them.",
        ),
        _ => (
            "Connection test failed",
            "No verified identity came back from the identity provider.",
        ),
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let listed = |values: &[String]| {
        if values.is_empty() {
            "none".to_owned()
        } else {
            values.join(", ")
        }
    };
    let main = html! {
        h1 #outcome data-outcome=(result.outcome) { (title) }
        section .card.stack {
            p #summary { (summary) }
            @if let (Some(code), Some(detail)) = (&result.code, &result.detail) {
                p #reason .problem { (detail) " (" code #code { (code) } ")" }
            }
            p #nothing-created .notice { "This was a test: no user was created and no session \
                was started." }
        }
        section .card aria-labelledby="claims-title" {
            h2 #claims-title { "Claims received" }
            @if let Some(claims) = &result.claims {
                dl #claims .summary {
                    dt { "Subject" } dd #claim-subject { (claims.subject) }
                    dt { "Email" }
                    dd #claim-email { (claims.email.as_deref().unwrap_or("none")) }
                    dt { "Email verified" }
                    dd #claim-email-verified { (yes_no(claims.email_verified)) }
                    dt { "Name" } dd #claim-name { (claims.name.as_deref().unwrap_or("none")) }
                    dt { "Identity provider groups" }
                    dd #claim-idp-groups { (listed(&claims.idp_groups)) }
                    dt { "Authentication methods (amr)" } dd #claim-amr { (listed(&claims.amr)) }
                    dt { "Authentication context (acr)" }
                    dd #claim-acr { (claims.acr.as_deref().unwrap_or("none")) }
                }
            } @else {
                p #no-claims .hint { "None: the sign-in did not get that far." }
            }
        }
        section .card aria-labelledby="verdict-title" {
            h2 #verdict-title { "What StatusPulse makes of them" }
            dl #verdict .summary {
                dt { "Multi-factor authentication proven" } dd #mfa { (yes_no(result.mfa)) }
                dt { "Required by the connection" }
                dd #mfa-required { (yes_no(result.mfa_required)) }
                dt { "StatusPulse groups (from the group mappings)" }
                dd #groups { (listed(&result.groups)) }
                dt { "Connection" } dd { code #connection { (result.connection_id) } }
            }
        }
        p { a #back .button href=(return_to) { "Back to SSO connections" } }
    };
    page(StatusCode::OK, title, &main)
}

/// A page in the console's look (its stylesheet, same-origin), under a policy that allows that
/// stylesheet and nothing else: no script, no framing, no form.
fn page(status: StatusCode, title: &str, main: &Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · StatusPulse" }
                link rel="stylesheet" href=(crate::console::assets::style().path);
            }
            body {
                header .top { a .brand href="/console/" { "StatusPulse" } }
                main .narrow { (main) }
            }
        }
    };
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The pages' policy: the console's stylesheet, nothing else.
const POLICY: &str = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn everything_shown_is_escaped() {
        let page = failure(
            StatusCode::FORBIDDEN,
            "mfa_required",
            "<script>alert('x')</script> & \"more\"",
        );
        let body = axum::body::to_bytes(page.into_body(), 1 << 16)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;more&quot;"),
            "{html}"
        );
        assert!(
            html.contains("<code id=\"code\">mfa_required</code>"),
            "{html}"
        );
    }
}
