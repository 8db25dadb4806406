//! Answers moto cannot give: it ignores sequence tokens (as CloudWatch has since 2023), never
//! throttles, never fails with a 5xx and never rejects an event as expired. A raw HTTP/1.1 stub on
//! loopback plays CloudWatch's documented answers, and records what the client sent.

// A panic in a test (or its helpers) is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use statuspulse_aws::logs::{Client, Config, PutOutcome};
use statuspulse_aws::{Auth, ErrorKind, StaticCredentials};
use support::{events, now_ms};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One canned answer: status, extra header lines, JSON body.
struct Answer {
    status: u16,
    headers: &'static str,
    body: String,
}

fn answer(status: u16, body: impl Into<String>) -> Answer {
    Answer {
        status,
        headers: "",
        body: body.into(),
    }
}

/// An STS AssumeRoleResponse whose credentials expire `expires_in` from now.
fn assumed(expires_in: time::Duration) -> Answer {
    let expiration = (time::OffsetDateTime::now_utc() + expires_in)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    answer(
        200,
        format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIASTUB</AccessKeyId>\
             <SecretAccessKey>stub-secret</SecretAccessKey><SessionToken>stub-token</SessionToken>\
             <Expiration>{expiration}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        ),
    )
}

/// What the client sent: `X-Amz-Target` (empty for STS) and the JSON body (STS's form as a string).
type Recorded = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves `answers` in order, one per request, then 500s; returns a client (signing with
/// static credentials) and the record.
async fn stub(answers: Vec<Answer>) -> (Client, Recorded) {
    stub_with(
        answers,
        Auth::Static(StaticCredentials {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            secret_access_key: SecretString::from("secret"),
            session_token: None,
        }),
    )
    .await
}

async fn stub_with(answers: Vec<Answer>, auth: Auth) -> (Client, Recorded) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let recorded: Recorded = Arc::default();
    let record = Arc::clone(&recorded);
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 65536];
            let head_end = loop {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed mid-request");
                raw.extend_from_slice(&buf[..n]);
                if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                    .unwrap_or_default()
            };
            let length: usize = header("content-length").trim().parse().unwrap();
            while raw.len() < head_end + length {
                let n = socket.read(&mut buf).await.unwrap();
                raw.extend_from_slice(&buf[..n]);
            }
            let raw_body = &raw[head_end..head_end + length];
            let body = serde_json::from_slice(raw_body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw_body).into_owned()));
            // Signed like any request (the signature itself is moto's to check, in tests/moto.rs).
            assert!(header("authorization").starts_with("aws4-hmac-sha256 credential="));
            record.lock().unwrap().push((header("x-amz-target"), body));
            let Answer {
                status,
                headers,
                body,
            } = answers.next().unwrap_or_else(|| answer(500, "{}"));
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\n{headers}\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    let client = Client::new(
        reqwest::Client::new(),
        Config {
            region: "us-east-1".to_owned(),
            log_group: "g".to_owned(),
            log_stream: "s".to_owned(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            auth,
        },
    );
    (client, recorded)
}

fn sent(recorded: &Recorded) -> Vec<(String, Value)> {
    recorded.lock().unwrap().clone()
}

#[tokio::test]
async fn an_invalid_sequence_token_is_replaced_by_the_expected_one_and_the_call_retried() {
    let (client, recorded) = stub(vec![
        answer(
            400,
            r#"{"__type":"InvalidSequenceTokenException","message":"The given sequenceToken is invalid. The next expected sequenceToken is: tok-1","expectedSequenceToken":"tok-1"}"#,
        ),
        answer(200, r#"{"nextSequenceToken":"tok-2"}"#),
        answer(200, "{}"),
    ])
    .await;

    client.put(&events(3, now_ms(), 10)).await.unwrap();
    client.put(&events(2, now_ms(), 10)).await.unwrap();

    let sent = sent(&recorded);
    let tokens: Vec<_> = sent
        .iter()
        .map(|(_, body)| body.get("sequenceToken").cloned())
        .collect();
    assert_eq!(
        tokens,
        [None, Some("tok-1".into()), Some("tok-2".into())],
        "the first call has no token, the retry the expected one, the next put the returned one"
    );
    assert!(sent
        .iter()
        .all(|(target, _)| target == "logs_20140328.putlogevents"));
    assert_eq!(sent[0].1["logEvents"], sent[1].1["logEvents"]);
}

#[tokio::test]
async fn data_already_accepted_counts_the_batch_as_delivered_and_follows_the_expected_token() {
    let (client, recorded) = stub(vec![
        answer(
            400,
            r#"{"__type":"DataAlreadyAcceptedException","message":"The given batch of log events has already been accepted. The next batch can be sent with sequenceToken: tok-9","expectedSequenceToken":"tok-9"}"#,
        ),
        answer(200, r#"{"nextSequenceToken":"tok-10"}"#),
    ])
    .await;
    let events = events(10_001, now_ms(), 10);

    let outcome = client.put(&events).await.unwrap();

    assert_eq!(outcome, PutOutcome::default());
    let sent = sent(&recorded);
    assert_eq!(sent.len(), 2, "the accepted batch is not sent again");
    assert_eq!(sent[0].1["logEvents"].as_array().unwrap().len(), 10_000);
    assert_eq!(sent[1].1["sequenceToken"], "tok-9");
    assert_eq!(
        sent[1].1["logEvents"][0]["message"],
        events[10_000].message.as_str()
    );
}

#[tokio::test]
async fn a_failure_in_a_later_call_reports_how_many_events_were_delivered() {
    let (client, _) = stub(vec![
        answer(200, "{}"),
        answer(
            503,
            r#"{"__type":"ServiceUnavailableException","message":"The service cannot complete the request."}"#,
        ),
    ])
    .await;

    let error = client.put(&events(10_001, now_ms(), 10)).await.unwrap_err();

    assert_eq!(error.delivered, 10_000);
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error}");
    assert!(
        error.message.contains("ServiceUnavailableException"),
        "{error}"
    );
}

#[tokio::test]
async fn throttling_is_reported_with_the_servers_retry_after() {
    let (client, _) = stub(vec![Answer {
        status: 400,
        headers: "retry-after: 7\r\n",
        body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
    }])
    .await;

    let error = client.put(&events(1, now_ms(), 10)).await.unwrap_err();

    assert_eq!(
        error.kind,
        ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(7))
        },
        "{error}"
    );
    assert_eq!(error.delivered, 0);
}

#[tokio::test]
async fn events_rejected_one_by_one_are_counted_not_an_error() {
    // AWS: tooOldLogEventEndIndex and expiredLogEventEndIndex are exclusive ends,
    // tooNewLogEventStartIndex an inclusive start.
    let (client, _) = stub(vec![answer(
        200,
        r#"{"nextSequenceToken":"t","rejectedLogEventsInfo":{"expiredLogEventEndIndex":1,"tooOldLogEventEndIndex":2,"tooNewLogEventStartIndex":4}}"#,
    )])
    .await;

    let outcome = client.put(&events(6, now_ms(), 10)).await.unwrap();

    assert_eq!(
        outcome,
        PutOutcome {
            rejected_too_old: 2,
            rejected_too_new: 2,
            rejected_expired: 1,
            truncated: 0,
        }
    );
}

#[tokio::test]
async fn a_request_refused_as_malformed_is_invalid() {
    let (client, _) = stub(vec![answer(
        400,
        r#"{"__type":"InvalidParameterException","message":"1 validation error detected"}"#,
    )])
    .await;

    let error = client.put(&events(1, now_ms(), 10)).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
    assert!(error.message.contains("report it"), "{error}");
}

fn role() -> Auth {
    Auth::AssumeRole {
        base: StaticCredentials {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            secret_access_key: SecretString::from("secret"),
            session_token: None,
        },
        role_arn: "arn:aws:iam::123456789012:role/audit-writer".to_owned(),
        external_id: None,
        session_name: "statuspulse".to_owned(),
    }
}

fn targets(recorded: &Recorded) -> Vec<String> {
    sent(recorded)
        .into_iter()
        .map(|(target, _)| target)
        .collect()
}

#[tokio::test]
async fn assumed_role_credentials_about_to_expire_are_renewed_before_use() {
    let (client, recorded) = stub_with(
        vec![
            // Good for 4 more minutes: inside the 5-minute margin, so not reused.
            assumed(time::Duration::minutes(4)),
            answer(200, "{}"),
            assumed(time::Duration::hours(1)),
            answer(200, "{}"),
            answer(200, "{}"),
        ],
        role(),
    )
    .await;

    for _ in 0..3 {
        client.put(&events(1, now_ms(), 10)).await.unwrap();
    }

    assert_eq!(client.assume_role_calls(), 2);
    let put = "logs_20140328.putlogevents";
    assert_eq!(targets(&recorded), ["", put, "", put, put]);
    let form = sent(&recorded)[0].1.as_str().unwrap().to_owned();
    assert!(form.contains("Action=AssumeRole"), "{form}");
    assert!(
        form.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Faudit-writer"),
        "{form}"
    );
}

#[tokio::test]
async fn an_expired_session_token_is_renewed_once_and_the_call_retried() {
    let (client, recorded) = stub_with(
        vec![
            assumed(time::Duration::hours(1)),
            answer(
                400,
                r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#,
            ),
            assumed(time::Duration::hours(1)),
            answer(200, "{}"),
        ],
        role(),
    )
    .await;

    client.put(&events(2, now_ms(), 10)).await.unwrap();

    assert_eq!(client.assume_role_calls(), 2);
    assert_eq!(targets(&recorded).len(), 4);
}

/// moto does not enforce CloudWatch's per-call limits (only chronological order), so the calls
/// themselves are checked here.
#[tokio::test]
async fn every_call_stays_within_cloudwatchs_limits_and_the_calls_keep_the_order() {
    let (client, recorded) = stub((0..20).map(|_| answer(200, "{}")).collect()).await;
    let now = now_ms();
    let mut sent = events(12_000, now, 20);
    sent.extend(events(10, now + 1_000, 200_000));
    // Then a day and an hour later: no call may span 24 hours.
    sent.extend(events(3, now + 25 * 3_600_000, 20));

    client.put(&sent).await.unwrap();

    let calls = sent_events(&recorded);
    assert!(calls.len() >= 4, "{} calls", calls.len());
    for call in &calls {
        let bytes: usize = call.iter().map(|(_, message)| message.len() + 26).sum();
        assert!(call.len() <= 10_000, "{} events in one call", call.len());
        assert!(bytes <= 1_048_576, "{bytes} bytes in one call");
        let (first, last) = (call[0].0, call[call.len() - 1].0);
        assert!(
            last - first < 24 * 3_600_000,
            "a call spans {} ms",
            last - first
        );
        assert!(call.windows(2).all(|w| w[0].0 <= w[1].0));
    }
    let flattened: Vec<(i64, String)> = calls.concat();
    let expected: Vec<(i64, String)> = sent
        .iter()
        .map(|e| (e.timestamp_ms, e.message.clone()))
        .collect();
    assert_eq!(flattened, expected);
}

/// The `(timestamp, message)` pairs of each PutLogEvents call, in order.
fn sent_events(recorded: &Recorded) -> Vec<Vec<(i64, String)>> {
    sent(recorded)
        .iter()
        .map(|(_, body)| {
            body["logEvents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["timestamp"].as_i64().unwrap(),
                        e["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn concurrent_senders_assume_the_role_once() {
    let (client, recorded) = stub_with(
        vec![
            assumed(time::Duration::hours(1)),
            answer(200, "{}"),
            answer(200, "{}"),
            answer(200, "{}"),
        ],
        role(),
    )
    .await;
    let (a, b, c) = (client.clone(), client.clone(), client.clone());
    let batch = events(1, now_ms(), 10);

    let (ra, rb, rc) = tokio::join!(a.put(&batch), b.put(&batch), c.put(&batch));

    ra.unwrap();
    rb.unwrap();
    rc.unwrap();
    assert_eq!(client.assume_role_calls(), 1);
    assert_eq!(targets(&recorded)[0], "", "STS first, then the puts");
}
