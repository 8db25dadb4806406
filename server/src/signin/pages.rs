//! The page a person sees when sign-in does not happen: what went wrong and what to do, in
//! plain words, with the stable code for their administrator. Static HTML, everything escaped,
//! a policy that allows no script, style from elsewhere, or framing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
