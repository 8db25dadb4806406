//! The client against a real moto_server with SigV4 signatures and IAM policies enforced: every
//! request below is signed by our code and checked by botocore's in moto.

// A panic in a test (or its helpers) is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use secrecy::SecretString;
use statuspulse_aws::logs::{Client, LogEvent, PutOutcome};
use statuspulse_aws::{Auth, ErrorKind, StaticCredentials};
use support::{events, now_ms, Moto, EXTERNAL_ID};

#[tokio::test]
async fn events_put_are_read_back_in_order_with_get_log_events() {
    let moto = Moto::start().await;
    let client = moto.writer_client("round-trip");
    let now = now_ms();
    let sent = vec![
        LogEvent {
            timestamp_ms: now,
            message: r#"{"event_id":"01","type":"auth.key.created","seq":1}"#.to_owned(),
        },
        LogEvent {
            timestamp_ms: now + 1,
            message: "unicode: é ü 日本 🔑".to_owned(),
        },
        LogEvent {
            timestamp_ms: now + 1,
            message: "third, same millisecond".to_owned(),
        },
    ];

    let outcome = client.put(&sent).await.unwrap();

    assert_eq!(outcome, PutOutcome::default());
    assert_eq!(client.get_log_events().await.unwrap(), sent);
}

#[tokio::test]
async fn a_missing_log_stream_is_created_and_the_events_arrive() {
    let moto = Moto::start().await;
    let client = moto.writer_client("created-on-first-put");
    let before = client.get_log_events().await.unwrap_err();
    assert!(
        before.message.contains("ResourceNotFoundException"),
        "{before}"
    );

    let sent = events(5, now_ms(), 40);
    client.put(&sent).await.unwrap();

    assert_eq!(client.get_log_events().await.unwrap(), sent);
    // A second put to the stream that now exists goes straight through.
    let more = events(3, now_ms(), 40);
    client.put(&more).await.unwrap();
    assert_eq!(client.get_log_events().await.unwrap().len(), 8);
}

#[tokio::test]
async fn a_batch_over_10000_events_is_split_and_all_arrive_in_order() {
    let moto = Moto::start().await;
    let client = moto.writer_client("many-events");
    let sent = events(25_003, now_ms() - 60_000, 30);

    client.put(&sent).await.unwrap();

    assert_eq!(client.get_log_events().await.unwrap(), sent);
}

#[tokio::test]
async fn a_batch_over_one_mebibyte_is_split_and_all_arrive_in_order() {
    let moto = Moto::start().await;
    let client = moto.writer_client("big-events");
    // 13 events of 200,000 bytes: 2.6 MB, three calls.
    let sent = events(13, now_ms(), 200_000);

    client.put(&sent).await.unwrap();

    assert_eq!(client.get_log_events().await.unwrap(), sent);
}

#[tokio::test]
async fn timestamps_going_backwards_are_clamped_and_order_is_kept() {
    let moto = Moto::start().await;
    let client = moto.writer_client("clock-jumps");
    let now = now_ms();
    let sent: Vec<LogEvent> = [now, now - 5_000, now + 10, now - 1, now + 20]
        .iter()
        .enumerate()
        .map(|(i, &timestamp_ms)| LogEvent {
            timestamp_ms,
            message: format!("event {i}"),
        })
        .collect();

    // moto refuses a call whose timestamps go backwards, as CloudWatch does.
    client.put(&sent).await.unwrap();

    let got = client.get_log_events().await.unwrap();
    let got: Vec<_> = got
        .iter()
        .map(|e| (e.timestamp_ms, e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (now, "event 0"),
            (now, "event 1"),
            (now + 10, "event 2"),
            (now + 10, "event 3"),
            (now + 20, "event 4"),
        ]
    );
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_as_denied() {
    let moto = Moto::start().await;
    let wrong = "wrongSecretKeyThatMustNeverBeShown000000";
    let client = Client::new(
        reqwest::Client::new(),
        moto.config(
            "wrong-secret",
            Auth::Static(StaticCredentials {
                access_key_id: moto.writer.access_key_id.clone(),
                secret_access_key: SecretString::from(wrong),
                session_token: None,
            }),
        ),
    );

    let error = client.put(&events(3, now_ms(), 20)).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert_eq!(error.delivered, 0);
    assert!(error.message.contains("SignatureDoesNotMatch"), "{error}");
    assert!(error.message.contains("secret access key"), "{error}");
    assert!(!format!("{error} {error:?}").contains(wrong));
}

#[tokio::test]
async fn a_user_without_permission_is_denied() {
    let moto = Moto::start().await;
    let client = Client::new(
        reqwest::Client::new(),
        moto.config("no-permission", Auth::Static(moto.nobody.credentials())),
    );

    let error = client.put(&events(3, now_ms(), 20)).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert!(error.message.contains("AccessDenied"), "{error}");
    assert!(error.message.contains("logs:PutLogEvents"), "{error}");
}

#[tokio::test]
async fn a_missing_log_group_is_denied_with_what_to_do() {
    let moto = Moto::start().await;
    let mut config = moto.config("any", Auth::Static(moto.writer.credentials()));
    config.log_group = "no-such-group".to_owned();
    let client = Client::new(reqwest::Client::new(), config);

    let error = client.put(&events(2, now_ms(), 20)).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert!(
        error.message.starts_with(
            "the log group `no-such-group` does not exist in us-east-1 (ResourceNotFoundException"
        ),
        "{error}"
    );
    assert!(
        error
            .message
            .ends_with("create it, StatusPulse creates only the log stream"),
        "{error}"
    );
}

#[tokio::test]
async fn assumed_role_credentials_work_and_are_cached() {
    let moto = Moto::start().await;
    let auth = Auth::AssumeRole {
        // `assumer` may only assume the role: what it writes, it writes as the role.
        base: moto.assumer.credentials(),
        role_arn: moto.role_arn.clone(),
        external_id: Some(EXTERNAL_ID.to_owned()),
        session_name: "statuspulse-audit-sink".to_owned(),
    };
    let client = Client::new(reqwest::Client::new(), moto.config("as-role", auth));
    let first = events(4, now_ms(), 30);
    let second = events(4, now_ms() + 1_000, 30);

    client.put(&first).await.unwrap();
    // A clone (as each sink task holds) shares the cache.
    client.clone().put(&second).await.unwrap();
    let got = client.get_log_events().await.unwrap();

    assert_eq!(got, [first, second].concat());
    assert_eq!(client.assume_role_calls(), 1);

    // The assumer's own key cannot write: the role's credentials did.
    let direct = Client::new(
        reqwest::Client::new(),
        moto.config("as-role", Auth::Static(moto.assumer.credentials())),
    );
    let error = direct.put(&events(1, now_ms(), 10)).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
}

#[tokio::test]
async fn a_role_assumed_with_the_wrong_external_id_is_denied() {
    let moto = Moto::start().await;
    let auth = Auth::AssumeRole {
        base: moto.assumer.credentials(),
        role_arn: moto.role_arn.clone(),
        external_id: Some("not-the-external-id".to_owned()),
        session_name: "statuspulse-audit-sink".to_owned(),
    };
    let client = Client::new(reqwest::Client::new(), moto.config("as-role", auth));

    let error = client.put(&events(1, now_ms(), 10)).await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Denied, "{error}");
    assert!(
        error.message.starts_with(
            "STS in us-east-1 refused to assume role `arn:aws:iam::123456789012:role/audit-writer`"
        ),
        "{error}"
    );
    assert!(error.message.contains("trust policy"), "{error}");
}

#[tokio::test]
async fn no_secret_appears_in_any_error_or_debug_output() {
    let moto = Moto::start().await;
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    let token = "FQoGZXIvYXdzEXAMPLESESSIONTOKENxyz0123456789";
    let leaky = StaticCredentials {
        access_key_id: moto.writer.access_key_id.clone(),
        secret_access_key: SecretString::from(secret),
        session_token: Some(SecretString::from(token)),
    };
    let static_client = Client::new(
        reqwest::Client::new(),
        moto.config("secrets", Auth::Static(leaky.clone())),
    );
    let role_client = Client::new(
        reqwest::Client::new(),
        moto.config(
            "secrets",
            Auth::AssumeRole {
                base: leaky.clone(),
                role_arn: moto.role_arn.clone(),
                external_id: Some(EXTERNAL_ID.to_owned()),
                session_name: "s".to_owned(),
            },
        ),
    );
    let real_secret = moto.writer.secret_access_key.clone();
    let writer = moto.writer_client("secrets");

    let mut seen = vec![
        format!("{static_client:?}"),
        format!("{role_client:?}"),
        format!("{writer:?}"),
        format!("{:?}", leaky),
    ];
    for error in [
        static_client
            .put(&events(1, now_ms(), 10))
            .await
            .unwrap_err(),
        role_client.put(&events(1, now_ms(), 10)).await.unwrap_err(),
        static_client.get_log_events().await.unwrap_err(),
    ] {
        seen.push(error.to_string());
        seen.push(format!("{error:?}"));
    }

    for text in &seen {
        for needle in [secret, token, real_secret.as_str(), "Signature="] {
            assert!(!text.contains(needle), "`{needle}` leaked in: {text}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_fast() {
    // A port nothing listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(
        reqwest::Client::new(),
        statuspulse_aws::logs::Config {
            region: "us-east-1".to_owned(),
            log_group: "g".to_owned(),
            log_stream: "s".to_owned(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            auth: Auth::Static(StaticCredentials {
                access_key_id: "AKIAEXAMPLE".to_owned(),
                secret_access_key: SecretString::from("secret"),
                session_token: None,
            }),
        },
    );
    let started = Instant::now();

    let error = client.put(&events(3, now_ms(), 10)).await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error}");
    assert_eq!(error.delivered, 0);
    assert!(error.message.contains("could not connect"), "{error}");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_unavailable_after_the_request_timeout() {
    // Accepts connections (the kernel does, into the backlog) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = Client::new(
        reqwest::Client::new(),
        statuspulse_aws::logs::Config {
            region: "us-east-1".to_owned(),
            log_group: "g".to_owned(),
            log_stream: "s".to_owned(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            auth: Auth::Static(StaticCredentials {
                access_key_id: "AKIAEXAMPLE".to_owned(),
                secret_access_key: SecretString::from("secret"),
                session_token: None,
            }),
        },
    )
    .with_request_timeout(Duration::from_millis(300));
    let started = Instant::now();

    let error = client.put(&events(3, now_ms(), 10)).await.unwrap_err();

    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("no answer within 300 ms"), "{error}");
    drop(listener);
}
