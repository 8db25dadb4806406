//! Webhook delivery, signed per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>): headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`, the key being
//! the base64-decoded part of the `whsec_` secret. During a secret rotation both secrets sign
//! (space-separated signatures), so a receiver that knows either accepts the batch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::delivery::Failure;
use statuspulse_api::v1::audit_sinks::WEBHOOK_SECRET_PREFIX;

/// How long one delivery may take, connection to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured; a longer one is shortened (the sink is retried sooner).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The HMAC key of a stored secret (`whsec_<base64>`), or `None` for a malformed one.
pub fn signing_key(secret: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(secret).ok()?;
    let b64 = text.strip_prefix(WEBHOOK_SECRET_PREFIX)?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// The `webhook-signature` header: one `v1,<base64>` per key, space-separated.
pub fn signature(
    keys: &[zeroize::Zeroizing<Vec<u8>>],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.iter()
        .filter_map(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
            mac.update(msg_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// POSTs one signed batch. The timestamp is wall-clock time (receivers compare it with theirs
/// to refuse replays), not the server's schedule clock.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    keys: &[zeroize::Zeroizing<Vec<u8>>],
    msg_id: &str,
    body: Vec<u8>,
) -> Result<(), Failure> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let signature = signature(keys, msg_id, timestamp, &body);
    let response = http
        .post(url)
        .timeout(TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::retry(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
        .map(|d| d.min(MAX_RETRY_AFTER));
    let why = if status.is_redirection() {
        format!(
            "the webhook answered {status}; redirects are not followed: configure the final URL"
        )
    } else {
        format!("the webhook answered {status}")
    };
    Err(Failure {
        message: why,
        retry_after,
        delivered: 0,
    })
}

/// A failed request, said without the URL's secrets (it has none: credentials are refused) and
/// without reqwest's noise.
fn describe(error: &reqwest::Error) -> String {
    if crate::platform::egress::is_refusal(error) {
        "the webhook's host resolves to an address sinks may not reach".to_owned()
    } else if error.is_timeout() {
        format!("the webhook did not answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "the webhook refused the connection or could not be reached".to_owned()
    } else {
        "the request to the webhook failed".to_owned()
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::PrimitiveDateTime::parse(value, &format)
        .ok()?
        .assume_utc();
    let now = time::OffsetDateTime::now_utc();
    Some(Duration::try_from(date - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks reference libraries' test suite.
        let key = signing_key(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &[key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let a = signing_key(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = signing_key(b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let sig = signature(&[a, b], "msg", 1, b"{}");
        assert_eq!(sig.split(' ').count(), 2);
        assert!(sig.split(' ').all(|s| s.starts_with("v1,")));
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
