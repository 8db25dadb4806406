//! What went wrong, in the four kinds callers act on (the sink engine retries by them, the provider
//! decides whether a write may be repeated), with a message an operator can act on. AWS's own error
//! text is kept (it names the missing permission or resource) but scrubbed: SignatureDoesNotMatch
//! answers can echo the canonical request, which carries the session token.

use std::time::Duration;

/// How the caller should react to a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// AWS asked us to slow down: retry after `retry_after` when it said, else back
    /// off.
    Throttled {
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// A 5xx, a refused or dropped connection, or a timeout: retry with backoff.
    Unavailable,
    /// Credentials, permissions or configuration (a missing log group, a role that cannot be
    /// assumed): retrying later is fine, but it will not heal until the operator acts.
    Denied,
    /// A request this crate built was refused as malformed: a bug or an unsupported input.
    Invalid,
}

/// A `put` that stopped before every event was stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PutError {
    /// How many leading events of the slice given to `put` were stored before the failure: the
    /// caller advances its cursor by this much and retries the rest.
    pub delivered: usize,
    /// How to react.
    pub kind: ErrorKind,
    /// What happened and what to do; never holds a secret key, session token or signature.
    pub message: String,
}

/// A failed AWS call: how to react, and what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// How to react.
    pub kind: ErrorKind,
    /// What happened and what to do; never holds a secret key, session token or signature.
    pub message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn at(self, delivered: usize) -> PutError {
        PutError {
            delivered,
            kind: self.kind,
            message: self.message,
        }
    }
}

/// An error answer from CloudWatch Logs (JSON) or STS (XML), parsed.
#[derive(Debug, Default)]
pub(crate) struct AwsError {
    pub status: u16,
    /// The bare code, e.g. `ResourceNotFoundException` (namespace and URI suffixes removed).
    pub code: String,
    /// AWS's message, scrubbed of secrets and cut to a readable length.
    pub message: String,
    /// `expectedSequenceToken` of InvalidSequenceToken and DataAlreadyAccepted answers.
    pub expected_sequence_token: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AwsError {
    /// `secrets` are the values that must never be repeated back (secret key, session token).
    pub(crate) fn parse(
        status: u16,
        error_type_header: Option<&str>,
        retry_after: Option<Duration>,
        body: &[u8],
        secrets: &[&str],
    ) -> Self {
        let text = String::from_utf8_lossy(body);
        let mut code = String::new();
        let mut message = String::new();
        let mut expected_sequence_token = None;
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
            let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            code = field("__type")
                .or_else(|| field("code"))
                .unwrap_or_default();
            message = field("message")
                .or_else(|| field("Message"))
                .unwrap_or_default();
            expected_sequence_token = field("expectedSequenceToken");
        } else if text.trim_start().starts_with('<') {
            code = xml_text(&text, "Code").unwrap_or_default();
            message = xml_text(&text, "Message").unwrap_or_default();
        }
        if code.is_empty() {
            code = error_type_header.unwrap_or_default().to_owned();
        }
        Self {
            status,
            code: bare_code(&code).to_owned(),
            message: scrub(&message, secrets),
            expected_sequence_token,
            retry_after,
        }
    }

    /// `code: message`, or the HTTP status when AWS said nothing usable.
    pub(crate) fn summary(&self) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.code, self.message),
            (false, true) => self.code.clone(),
            (true, false) => format!("HTTP {}: {}", self.status, self.message),
            (true, true) => format!("HTTP {}", self.status),
        }
    }

    pub(crate) fn kind(&self) -> ErrorKind {
        match self.code.as_str() {
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded" => ErrorKind::Throttled {
                retry_after: self.retry_after,
            },
            "ServiceUnavailableException"
            | "ServiceUnavailable"
            | "InternalFailure"
            | "OperationAbortedException" => ErrorKind::Unavailable,
            "AccessDenied"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "NotAuthorized"
            | "RegionDisabledException"
            | "LimitExceededException" => ErrorKind::Denied,
            _ => match self.status {
                429 => ErrorKind::Throttled {
                    retry_after: self.retry_after,
                },
                401 | 403 => ErrorKind::Denied,
                500..=599 => ErrorKind::Unavailable,
                _ => ErrorKind::Invalid,
            },
        }
    }

    /// What the operator should do about an error of this kind, in the words of `hints`.
    pub(crate) fn advice(&self, hints: &Hints) -> String {
        let Hints {
            credentials,
            permissions,
            client,
        } = hints;
        match self.code.as_str() {
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature"
                if self.message.contains("expired") =>
            {
                "the request time was refused: check this machine's clock (NTP)".to_owned()
            }
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature" => {
                format!(
                    "the secret access key does not match the access key id: check {credentials}"
                )
            }
            "UnrecognizedClientException" | "InvalidClientTokenId" => {
                format!("the access key id (or session token) is unknown to AWS: check {credentials} and the region")
            }
            "ExpiredToken" | "ExpiredTokenException" => {
                format!("the session token has expired: renew {credentials}")
            }
            "AccessDenied" | "AccessDeniedException" | "NotAuthorized" => permissions.clone(),
            "LimitExceededException" => {
                "an account quota of the AWS service is reached: raise it or free capacity"
                    .to_owned()
            }
            _ => match self.kind() {
                ErrorKind::Throttled { .. } => "retry later, more slowly".to_owned(),
                ErrorKind::Unavailable => "retry later".to_owned(),
                ErrorKind::Denied => {
                    format!("check {credentials}, the region and the principal's permissions")
                }
                ErrorKind::Invalid => {
                    format!("this is a bug in {client}: report it with this message")
                }
            },
        }
    }
}

/// How one client's errors name what the operator must check: the words differ between an audit
/// sink (configured on the server) and the provider (credentials from its environment).
pub(crate) struct Hints {
    /// The credentials in use, e.g. "the sink's credentials".
    pub credentials: String,
    /// What to grant when access is denied.
    pub permissions: String,
    /// Who to blame for a malformed request.
    pub client: &'static str,
}

/// `com.amazonaws.logs#ResourceNotFoundException` and
/// `ResourceNotFoundException:http://internal.amazon.com/...` both mean `ResourceNotFoundException`.
fn bare_code(code: &str) -> &str {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim()
}

/// The text of the first `<tag>…</tag>`, with XML's five predefined entities decoded. STS answers
/// are small and flat enough that this is all the XML we need.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// AWS text made safe to show: cut before an echoed canonical request or string to sign, known
/// secrets replaced, control characters dropped, length bounded.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    const MAX_CHARS: usize = 400;
    let mut text = text;
    for marker in ["The Canonical String", "The String-to-Sign", "Signature="] {
        if let Some(at) = text.find(marker) {
            text = &text[..at];
        }
    }
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "[redacted]");
    }
    let out: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_sequence_token_answer_yields_the_expected_token() {
        let body = br#"{"__type":"com.amazonaws.logs#InvalidSequenceTokenException","message":"The given sequenceToken is invalid. The next expected sequenceToken is: 4963","expectedSequenceToken":"4963"}"#;
        let err = AwsError::parse(400, None, None, body, &[]);
        assert_eq!(err.code, "InvalidSequenceTokenException");
        assert_eq!(err.expected_sequence_token.as_deref(), Some("4963"));
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn a_data_already_accepted_answer_yields_the_expected_token() {
        let body = br#"{"__type":"DataAlreadyAcceptedException","message":"The given batch of log events has already been accepted. The next batch can be sent with sequenceToken: 7","expectedSequenceToken":"7"}"#;
        let err = AwsError::parse(400, None, None, body, &[]);
        assert_eq!(err.code, "DataAlreadyAcceptedException");
        assert_eq!(err.expected_sequence_token.as_deref(), Some("7"));
    }

    #[test]
    fn the_error_type_header_names_the_code_when_the_body_does_not() {
        let err = AwsError::parse(
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"),
            Some(Duration::from_secs(3)),
            b"",
            &[],
        );
        assert_eq!(
            err.kind(),
            ErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn an_sts_xml_error_is_parsed_and_classified_as_denied() {
        let body = b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/w is not authorized to perform: sts:AssumeRole</Message></Error></ErrorResponse>";
        let err = AwsError::parse(403, None, None, body, &[]);
        assert_eq!(err.code, "AccessDenied");
        assert!(err.message.contains("sts:AssumeRole"));
        assert_eq!(err.kind(), ErrorKind::Denied);
    }

    #[test]
    fn statuses_without_a_known_code_are_classified_by_status() {
        let kind = |status| AwsError::parse(status, None, None, b"oops", &[]).kind();
        assert_eq!(kind(503), ErrorKind::Unavailable);
        assert_eq!(kind(502), ErrorKind::Unavailable);
        assert_eq!(kind(403), ErrorKind::Denied);
        assert_eq!(kind(429), ErrorKind::Throttled { retry_after: None });
        assert_eq!(kind(400), ErrorKind::Invalid);
    }

    #[test]
    fn an_echoed_canonical_request_and_known_secrets_are_scrubbed() {
        let token = "FQoGZXIvYXdzEXAMPLETOKEN";
        let body = format!(
            r#"{{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided. token {token} The Canonical String for this request should have been 'POST / x-amz-security-token:{token}'"}}"#
        );
        let err = AwsError::parse(400, None, None, body.as_bytes(), &[token]);
        assert!(!err.message.contains(token), "{}", err.message);
        assert!(!err.message.contains("Canonical"), "{}", err.message);
        assert!(err.message.contains("[redacted]"));
        assert_eq!(err.kind(), ErrorKind::Denied);
    }

    #[test]
    fn xml_entities_are_decoded() {
        assert_eq!(
            xml_text("<a><T>x&amp;y&lt;z&gt;</T></a>", "T").as_deref(),
            Some("x&y<z>")
        );
        assert_eq!(xml_text("<a></a>", "T"), None);
    }
}
