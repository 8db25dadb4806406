//! The page a person sees when sign-in does not happen: what went wrong and what to do, in
//! plain words, with the stable code for their administrator. Static HTML, everything escaped,
//! a policy that allows no script, style from elsewhere, or framing. Also the report of a
//! connection test.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, DOCTYPE};
use statuspulse_api::v1::SsoConnectionTestResult;

pub fn failure(status: StatusCode, code: &str, detail: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "You cannot sign in here",
        StatusCode::BAD_GATEWAY => "Your identity provider did not answer as expected",
        StatusCode::TOO_MANY_REQUESTS => "Too many sign-in attempts",
        _ => "Sign-in failed",
    };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · StatusPulse</title></head>\n<body>\n<main>\n<h1>{title}</h1>\n\
         <p id=\"detail\">{detail}</p>\n\
         <p>If this keeps happening, give your administrator this code: \
         <code id=\"code\">{code}</code>.</p>\n\
         <p><a href=\"/console/\">Start again</a></p>\n</main>\n</body></html>\n",
        title = escape(title),
        detail = escape(detail),
        code = escape(code),
    );
    html_page(status, body)
}

/// The report of a connection test (`super::connection_test`): the outcome in words, the claims
/// the identity provider sent, and a way back to `return_to`.
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
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · StatusPulse" }
            }
            body {
                main {
                    h1 #outcome data-outcome=(result.outcome) { (title) }
                    p #summary { (summary) }
                    @if let (Some(code), Some(detail)) = (&result.code, &result.detail) {
                        p #reason { (detail) " (" code #code { (code) } ")" }
                    }
                    p #nothing-created { "This was a test: no user was created and no session \
                        was started." }
                    h2 { "Claims received" }
                    @if let Some(claims) = &result.claims {
                        dl #claims {
                            dt { "Subject" } dd #claim-subject { (claims.subject) }
                            dt { "Email" }
                            dd #claim-email { (claims.email.as_deref().unwrap_or("none")) }
                            dt { "Email verified" } dd #claim-email-verified {
                                (yes_no(claims.email_verified)) }
                            dt { "Name" }
                            dd #claim-name { (claims.name.as_deref().unwrap_or("none")) }
                            dt { "Identity provider groups" }
                            dd #claim-idp-groups { (listed(&claims.idp_groups)) }
                            dt { "Authentication methods (amr)" }
                            dd #claim-amr { (listed(&claims.amr)) }
                            dt { "Authentication context (acr)" }
                            dd #claim-acr { (claims.acr.as_deref().unwrap_or("none")) }
                        }
                    } @else {
                        p #no-claims { "None: the sign-in did not get that far." }
                    }
                    h2 { "What StatusPulse makes of them" }
                    dl #verdict {
                        dt { "Multi-factor authentication proven" } dd #mfa { (yes_no(result.mfa)) }
                        dt { "Required by the connection" }
                        dd #mfa-required { (yes_no(result.mfa_required)) }
                        dt { "StatusPulse groups (from the group mappings)" }
                        dd #groups { (listed(&result.groups)) }
                        dt { "Connection" } dd { code #connection { (result.connection_id) } }
                    }
                    p { a #back href=(return_to) { "Back to SSO connections" } }
                }
            }
        }
    };
    html_page(StatusCode::OK, markup.into_string())
}

fn html_page(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
