//! AWS Signature Version 4, header form, for the two services this crate calls.
//!
//! Only what CloudWatch Logs (JSON over `POST /`) and STS (a form over `POST /`) need: a path that
//! is already canonical (we only ever send `/`), a query of plain pairs, any headers, and the
//! payload hashed into the canonical request. Proven against AWS's published test suite (the
//! vectors in the tests below), not only against our own reading of the documentation.
//!
//! Nothing here keeps or prints a secret: the signing key lives on the stack for one call and the
//! result is an `Authorization` header the caller marks sensitive.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// The credentials and scope one signature is made with.
pub(crate) struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
}

/// One request as SigV4 sees it. `headers` must hold `host`; names may be in any case.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// What to add to the request: `x-amz-date`, `x-amz-security-token` when there is a session
/// token, and `authorization`. The intermediate texts are kept for the test vectors.
pub(crate) struct Signed {
    pub headers: Vec<(&'static str, String)>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub canonical_request: String,
    #[cfg_attr(not(test), allow(dead_code))]
    pub string_to_sign: String,
    #[cfg_attr(not(test), allow(dead_code))]
    pub signature: String,
}

impl Signer<'_> {
    pub(crate) fn sign(&self, request: &Request<'_>, now: OffsetDateTime) -> Signed {
        let now = now.to_offset(time::UtcOffset::UTC);
        let date = format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let amz_date = format!(
            "{date}T{:02}{:02}{:02}Z",
            now.hour(),
            now.minute(),
            now.second()
        );

        // The session token is signed (it is listed in SignedHeaders), as STS requires.
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), canonical_header_value(value)))
            .collect();
        headers.push(("x-amz-date".to_owned(), amz_date.clone()));
        if let Some(token) = self.session_token {
            headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        headers.sort();
        // Repeated names are one canonical header whose values are joined by commas, in order.
        let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            match merged.last_mut() {
                Some((last, joined)) if *last == name => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                _ => merged.push((name, value)),
            }
        }
        let canonical_headers: String = merged
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        let signed_headers = merged
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(";");

        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method,
            request.path,
            canonical_query(request.query),
            canonical_headers,
            signed_headers,
            hex::encode(Sha256::digest(request.body)),
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );

        let k_secret = format!("AWS4{}", self.secret_access_key);
        let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));

        let mut out = vec![("x-amz-date", amz_date)];
        if let Some(token) = self.session_token {
            out.push(("x-amz-security-token", token.to_owned()));
        }
        out.push((
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key_id
            ),
        ));
        Signed {
            headers: out,
            canonical_request,
            string_to_sign,
            signature,
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail; the fallback keeps the
    // function total without a panic path.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Trims the value and collapses runs of spaces, as the canonical form requires.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Pairs URI-encoded and sorted by name, then value.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 encoding as SigV4 wants it: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case
/// hex). Also the encoding of an `application/x-www-form-urlencoded` STS body, which AWS accepts.
pub(crate) fn uri_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's SigV4 test suite as published in awslabs/aws-c-auth,
    //! `tests/aws-signing-test-suite/v4/<case>/` (commit 495329c2433034bd8fd53fc6ba9e0202d3fac876):
    //! `context.json` gives the credentials and time, `request.txt` the request,
    //! `header-canonical-request.txt` and `header-signature.txt` the expected results.

    use super::*;

    const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn signer(session_token: Option<&str>) -> Signer<'_> {
        Signer {
            access_key_id: ACCESS_KEY_ID,
            secret_access_key: SECRET,
            session_token,
            region: "us-east-1",
            service: "service",
        }
    }

    fn at() -> OffsetDateTime {
        // 2015-08-30T12:36:00Z, the suite's `timestamp`.
        OffsetDateTime::from_unix_timestamp(1_440_938_160).unwrap()
    }

    fn authorization(signed: &Signed) -> &str {
        &signed
            .headers
            .iter()
            .find(|(name, _)| *name == "authorization")
            .unwrap()
            .1
    }

    #[test]
    fn get_vanilla_matches_the_aws_test_suite() {
        let signed = signer(None).sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert_eq!(
            signed.canonical_request,
            format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA256}")
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authorization(&signed),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla_matches_the_aws_test_suite() {
        let signed = signer(None).sign(
            &Request {
                method: "POST",
                path: "/",
                query: &[],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert_eq!(
            signed.signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_matches_the_aws_test_suite() {
        // `sign_body: true` in the suite: the payload hash is also sent as x-amz-content-sha256.
        let body = b"Param1=value1";
        let body_hash = hex::encode(Sha256::digest(body));
        let signed = signer(None).sign(
            &Request {
                method: "POST",
                path: "/",
                query: &[],
                headers: &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Host", "example.amazonaws.com"),
                    ("Content-Length", "13"),
                    ("x-amz-content-sha256", &body_hash),
                ],
                body,
            },
            at(),
        );
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nx-amz-date:20150830T123600Z\n\ncontent-length;content-type;host;x-amz-content-sha256;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nb1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb"
        );
        assert_eq!(
            signed.signature,
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case_matches_the_aws_test_suite() {
        let signed = signer(None).sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[("Param2", "value2"), ("Param1", "value1")],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert!(signed
            .canonical_request
            .starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert_eq!(
            signed.signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn get_vanilla_query_unreserved_matches_the_aws_test_suite() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let signed = signer(None).sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[(unreserved, unreserved)],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert_eq!(
            signed.signature,
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
        );
    }

    #[test]
    fn get_vanilla_with_session_token_matches_the_aws_test_suite() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let signed = signer(Some(token)).sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert!(signed.canonical_request.contains(&format!(
            "x-amz-security-token:{token}\n\nhost;x-amz-date;x-amz-security-token\n"
        )));
        assert_eq!(
            signed.signature,
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        );
        assert!(signed
            .headers
            .iter()
            .any(|(name, value)| *name == "x-amz-security-token" && value == token));
    }

    #[test]
    fn post_sts_header_before_matches_the_aws_test_suite() {
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let signed = signer(Some(token)).sign(
            &Request {
                method: "POST",
                path: "/",
                query: &[],
                headers: &[("Host", "example.amazonaws.com")],
                body: b"",
            },
            at(),
        );
        assert_eq!(
            signed.signature,
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_spaces_collapsed() {
        assert_eq!(canonical_header_value("  a   b  c "), "a b c");
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            uri_encode("arn:aws:iam::1:role/a b+c=é"),
            "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b%2Bc%3D%C3%A9"
        );
    }
}
