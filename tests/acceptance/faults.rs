//! The provider behind a misbehaving gateway (tests/acceptance/fault_proxy.rs), driven by real
//! Terraform against a real server: a write forwarded and then answered 502, or cut off after
//! forwarding, is retried with the same `Idempotency-Key`, so an apply ends with exactly the
//! objects it declares and no orphaned live credential; a 429 storm is waited out within the
//! retry budget; a gateway that keeps refusing is one diagnostic saying how many attempts over
//! how long and what to do.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;

use crate::examples::REQUIRED_PROVIDERS;
use crate::fault_proxy::{Fault, FaultProxy};
use crate::harness::{Server, Terraform};

const CONFIG: &str = r#"
resource "statuspulse_service_account" "runner" {
  name = "flaky-runner"
}

resource "statuspulse_api_key" "k" {
  count       = 3
  name        = "flaky-${count.index}"
  environment = "live"
  scopes      = ["read:checks"]
}
"#;

/// Every write the server acts on is first answered 502, then cut off, then passed: each create
/// reaches the server three times.
fn flaky_writes(method: &str, path: &str, n: usize) -> Fault {
    let write = matches!(method, "POST" | "PATCH" | "DELETE") && path != "/v1/api-keys/check";
    match n {
        0 if write => Fault::ForwardThen502,
        1 if write => Fault::ForwardThenReset,
        _ => Fault::Pass,
    }
}

fn active_keys_named_flaky(server: &Server) -> Vec<Value> {
    let (status, page) = server.admin("GET", "/v1/api-keys?status=active&limit=200", None);
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"].as_str().unwrap().starts_with("flaky-"))
        .cloned()
        .collect()
}

pub fn a_flaky_gateway_leaves_no_orphaned_credentials(version: &'static str) {
    let server = Server::start();
    let proxy = FaultProxy::start(&server.url, flaky_writes);
    let mut tf = Terraform::new(version, &server);
    tf.set_env("STATUSPULSE_ENDPOINT", &proxy.url);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write("main.tf", CONFIG);
    let applied = tf.apply();
    assert!(!applied.all().contains("sp_live_"), "{}", applied.all());

    // Exactly what the configuration declares: three live keys, one service account.
    let on_server = active_keys_named_flaky(&server);
    assert_eq!(on_server.len(), 3, "orphaned keys: {on_server:?}");
    let (_, accounts) = server.admin("GET", "/v1/service-accounts?limit=200", None);
    let runners = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "flaky-runner")
        .count();
    assert_eq!(runners, 1, "{accounts}");
    let resources = tf.resources();
    let in_state: BTreeSet<String> = (0..3)
        .map(|i| {
            resources[&format!("statuspulse_api_key.k[{i}]")]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let live: BTreeSet<String> = on_server
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(in_state, live, "the state holds the keys the server has");
    // The secrets in state are the live keys' (the first answer, replayed).
    for i in 0..3 {
        let key = resources[&format!("statuspulse_api_key.k[{i}]")]["key"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(server.verify_query(&key, "scope=read:checks").0, 200);
    }
    // Each create was tried three times with one Idempotency-Key; the server minted once.
    let creates: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.path == "/v1/api-keys")
        .collect();
    assert_eq!(creates.len(), 9, "{creates:?}");
    let keys: BTreeSet<_> = creates.iter().map(|s| s.idempotency_key.clone()).collect();
    assert_eq!(
        keys.len(),
        3,
        "one key per create, reused by its retries: {keys:?}"
    );
    assert!(keys.iter().all(Option::is_some));
    tf.assert_no_changes();

    // Destroy through the same gateway: every key revoked, the account deleted, nothing left.
    let run = tf.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(active_keys_named_flaky(&server).is_empty());
    let (_, accounts) = server.admin("GET", "/v1/service-accounts?limit=200", None);
    assert!(!accounts.to_string().contains("flaky-runner"), "{accounts}");
}

pub fn a_429_storm_is_waited_out_and_a_refusing_gateway_explained(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("versions.tf", REQUIRED_PROVIDERS);
    tf.write("main.tf", CONFIG);
    tf.apply();

    // Three 429s (Retry-After: 1) for every read: the plan waits them out, and says so in the log.
    let storm = FaultProxy::start(&server.url, |method, _, n| {
        if method == "GET" && n < 3 {
            Fault::TooManyRequests
        } else {
            Fault::Pass
        }
    });
    tf.set_env("STATUSPULSE_ENDPOINT", &storm.url);
    tf.set_env("TF_LOG", "INFO");
    let started = Instant::now();
    let run = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(started.elapsed().as_secs() >= 3, "Retry-After was honoured");
    let refused = storm
        .seen()
        .iter()
        .filter(|s| s.fault == Fault::TooManyRequests)
        .count();
    assert!(refused >= 3, "{refused}");
    assert!(
        run.all().contains("429"),
        "the retries are in the log:\n{}",
        run.all()
    );

    // A gateway that never stops refusing: one diagnostic, bounded by max_retries.
    let wall = FaultProxy::start(&server.url, |_, _, _| Fault::TooManyRequests);
    tf.set_env("STATUSPULSE_ENDPOINT", &wall.url);
    tf.set_env("STATUSPULSE_MAX_RETRIES", "2");
    tf.set_env("TF_LOG", "");
    let started = Instant::now();
    let run = tf.run(&["plan", "-no-color"]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(text.contains("gave up after 3 attempts over"), "{text}");
    assert!(text.contains("max_retries"), "says what to do: {text}");
    assert!(
        !text.contains("stack backtrace") && !text.contains("sp_live_"),
        "{text}"
    );
    assert!(took.as_secs() < 60, "bounded: {took:?}");
}
