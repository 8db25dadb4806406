//! What a user sees when something is wrong: one clear diagnostic, on the right attribute, and
//! never a Rust backtrace (RUST_BACKTRACE=1 is set for every run by the harness).

use crate::harness::{Server, Terraform};

const TWO_RESOURCES: &str = r#"
terraform {
  required_providers {
    statuspulse = {
      source = "statuspulse/statuspulse"
    }
  }
}

provider "statuspulse" {}

resource "statuspulse_service_account" "a" {
  name = "a"
}

resource "statuspulse_api_key" "a" {
  name        = "a"
  environment = "test"
  scopes      = ["read:checks"]
}
"#;

fn errors(text: &str) -> usize {
    text.matches("Error: ").count()
}

pub fn wrong_credential(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    tf.set_env(
        "STATUSPULSE_API_KEY",
        &format!("sp_live_{}", "A".repeat(64)),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        run.all()
            .contains("StatusPulse rejected the provider's API key"),
        "{}",
        run.all()
    );
}

/// A server that accepts connections and never answers: with `request_timeout = 1` and
/// `max_retries = 1` (from the environment) the plan fails in seconds, saying so, instead of
/// stalling for minutes.
pub fn a_hung_server_costs_the_configured_timeout(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = hung.local_addr().unwrap();
    // Accepted and held open, never answered.
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in hung.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    tf.write("main.tf", TWO_RESOURCES);
    tf.set_env("STATUSPULSE_ENDPOINT", &format!("http://{address}"));
    tf.set_env("STATUSPULSE_REQUEST_TIMEOUT", "1");
    tf.set_env("STATUSPULSE_MAX_RETRIES", "1");
    let started = std::time::Instant::now();
    let run = tf.run(&["plan", "-no-color"]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        took < std::time::Duration::from_secs(20),
        "took {took:?}:\n{}",
        run.all()
    );
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(run.all().contains("timed out"), "{}", run.all());
    crate::harness::assert_no_backtrace(&run.all());
    drop(held);
    // Out of range, from the provider block: refused on its attribute.
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "provider \"statuspulse\" {}",
            "provider \"statuspulse\" {\n  max_retries = 99\n}",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("Invalid max_retries"), "{}", run.all());
    assert!(run.all().contains("0 to 20"), "{}", run.all());
}

/// With `TF_LOG`, every request and retry is in Terraform's log at its level (go-hclog JSON
/// from the provider), saying what was tried, how often and for how long, and never the key.
pub fn requests_and_retries_are_logged_for_tf_log_without_the_key(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    tf.apply();
    // Requests to the real server, at debug.
    tf.set_env("TF_LOG", "DEBUG");
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let log = run.all();
    assert!(log.contains("StatusPulse API request"), "{log}");
    assert!(log.contains("status=200"), "{log}");
    assert!(!log.contains(&server.admin_key), "the key is in the log");
    // A server that is down: each retry is logged at info, the surrender at warn.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    tf.set_env("STATUSPULSE_ENDPOINT", &format!("http://{address}"));
    tf.set_env("STATUSPULSE_MAX_RETRIES", "2");
    let run = tf.run(&["plan", "-refresh=true", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let log = run.all();
    assert!(
        log.contains("StatusPulse API request will be retried"),
        "{log}"
    );
    assert!(log.contains("StatusPulse API request given up"), "{log}");
    assert!(log.contains("attempts=3"), "{log}");
    assert!(!log.contains(&server.admin_key), "the key is in the log");
}

/// A plan refreshes many resources through one listing per collection: a handful of requests,
/// not one per resource; one deleted outside Terraform is still seen (issue 13, finding 7).
pub fn a_plan_of_many_resources_reads_them_through_one_listing(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    let config = TWO_RESOURCES.replace(
        "resource \"statuspulse_service_account\" \"a\" {\n  name = \"a\"\n}",
        "resource \"statuspulse_service_account\" \"many\" {\n  count = 60\n  name  = \"svc-${count.index}\"\n}",
    );
    assert_ne!(config, TWO_RESOURCES);
    tf.write("main.tf", &config);
    tf.apply();
    let gone = tf.resources()["statuspulse_service_account.many[7]"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = server.admin("DELETE", &format!("/v1/service-accounts/{gone}"), None);
    assert_eq!(status, 204);
    tf.set_env("TF_LOG_PROVIDER", "DEBUG");
    let run = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.all()
            .contains("statuspulse_service_account.many[7] will be created"),
        "{}",
        run.all()
    );
    let log = run.all();
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("StatusPulse API request") && l.contains("/v1/service-accounts"))
        .collect();
    assert!(
        (2..=6).contains(&requests.len()),
        "{} requests to refresh 60 service accounts:\n{}",
        requests.len(),
        requests.join("\n")
    );
}

pub fn missing_credential(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    tf.set_env("STATUSPULSE_API_KEY", "");
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert_eq!(errors(&run.all()), 1, "{}", run.all());
    assert!(
        run.all().contains("Missing StatusPulse API key"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("STATUSPULSE_API_KEY"), "{}", run.all());
}

pub fn validation(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "  environment = \"test\"\n  scopes      = [\"read:checks\"]",
            "  environment = \"prod\"\n  scopes      = [\"read:checks\", \"read:everything\"]\n  rotation_days = 366\n  service_account_id = \"key_123\"",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let text = run.all();
    for (summary, line) in [
        ("Invalid environment", "environment = \"prod\""),
        ("Unknown scope", "read:everything"),
        ("rotation_days out of range", "rotation_days = 366"),
        ("Invalid id", "service_account_id = \"key_123\""),
    ] {
        let at = text
            .find(&format!("Error: {summary}"))
            .unwrap_or_else(|| panic!("{summary}:\n{text}"));
        // Terraform quotes the offending line right under the diagnostic when it has a path.
        let quoted = &text[at..text[at..]
            .find("\n\n\n")
            .map_or(text.len(), |e| at + e)
            .min(text.len())];
        assert!(
            quoted.contains(line),
            "{summary} does not point at `{line}`:\n{quoted}"
        );
    }
    assert_eq!(errors(&text), 4, "{text}");

    // A fraction for a whole number is named at its attribute, in words (it was serde's "data
    // did not match any variant of untagged enum Value", at the block).
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "  environment = \"test\"",
            "  environment = \"test\"\n  rotation_days = 1.5",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let text = run.all();
    let at = text
        .find("Error: Invalid value")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text[at..].contains("rotation_days = 1.5"), "{text}");
    assert!(text.contains("whole number"), "{text}");
    assert!(!text.contains("untagged enum"), "{text}");
}

pub fn bad_imports(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    tf.write("main.tf", TWO_RESOURCES);
    let run = tf.run(&[
        "import",
        "-no-color",
        "statuspulse_api_key.a",
        "key_0123456789abcdef",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.all().contains("Cannot import a missing API key"),
        "{}",
        run.all()
    );
    let run = tf.run(&["import", "-no-color", "statuspulse_api_key.a", "sa_0123"]);
    assert_eq!(run.code, 1);
    assert!(run.all().contains("Invalid import id"), "{}", run.all());
    let run = tf.run(&[
        "import",
        "-no-color",
        "statuspulse_service_account.a",
        "nonsense",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.all().contains("is not a service account id"),
        "{}",
        run.all()
    );
}

/// Plan time and the server apply one set of rules (`statuspulse_api::validate`): every value the
/// real server refuses with a 422 is refused at plan time on the attribute the server names, so
/// no apply fails on something a plan could have caught. The one deliberate difference: names
/// the server would trim are refused at plan time, where the trimmed name would not match the plan.
pub fn plan_time_checks_refuse_what_the_server_refuses() {
    use serde_json::{json, Value as Json};
    use terraform_provider_statuspulse::diag::field_path;
    use terraform_provider_statuspulse::resources::{
        AuditSettingsResource, AuditSettingsState, AuditSinkResource, AuditSinkState,
        ManagedResource, OAuthClientResource, OAuthClientState,
    };
    use terraform_provider_statuspulse::state::StringSet;
    use terraform_provider_statuspulse::validate;
    use tf_provider::value::Value;
    use tf_provider::Diagnostics;

    type Check = Box<dyn Fn(&mut Diagnostics)>;

    let server = Server::start();
    let set = |items: &[&str]| -> Value<StringSet> {
        Value::Value(
            items
                .iter()
                .map(|s| Value::Value((*s).to_owned()))
                .collect(),
        )
    };
    let key = |extra: Json| {
        let mut body = json!({"name": "k", "environment": "test", "scopes": ["read:checks"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let long_name = "n".repeat(201);
    let long_cluster = "c".repeat(64);
    let long_id = "i".repeat(129);
    // (what is checked, request, plan-time check of the same value)
    let mut cases: Vec<(String, &str, Json, Check)> = Vec::new();
    for name in [
        "fine-sa",
        "",
        "   ",
        &long_name,
        "bell\u{7}",
        "tab\tname",
        "fx-sa\u{200b}",
        "\u{202e}gnp",
        " padded ",
    ] {
        let value = Value::Value(name.to_owned());
        cases.push((
            format!("service account name {name:?}"),
            "/v1/service-accounts",
            json!({"name": name, "description": ""}),
            Box::new(move |d| validate::name(d, &value, "name")),
        ));
    }
    let long_description = "d".repeat(2001);
    for description in [
        "two\nlines\tand a tab",
        "esc\u{1b}[31m",
        "nul\u{0}",
        &long_description,
    ] {
        let value = Value::Value(description.to_owned());
        cases.push((
            format!("service account description {description:?}"),
            "/v1/service-accounts",
            json!({"name": format!("sa-{}", description.len()), "description": description}),
            Box::new(move |d| validate::description(d, &value, "description")),
        ));
    }
    for name in ["eu-prod-1", "", "-eu", "EU", "eu_prod", &long_cluster] {
        let value = Value::Value(name.to_owned());
        cases.push((
            format!("cluster name {name:?}"),
            "/v1/environment-clusters",
            json!({"name": name, "environment": "test", "description": ""}),
            Box::new(move |d| validate::cluster_name(d, &value, "name")),
        ));
    }
    for environment in ["live", "prod", "LIVE", ""] {
        let value = Value::Value(environment.to_owned());
        cases.push((
            format!("environment {environment:?}"),
            "/v1/api-keys",
            key(json!({"environment": environment})),
            Box::new(move |d| validate::environment(d, &value)),
        ));
    }
    for scopes in [
        &["write:alerts"][..],
        &[],
        &["read:everything"],
        &["read:checks", "admin:nope"],
    ] {
        let value = set(scopes);
        cases.push((
            format!("scopes {scopes:?}"),
            "/v1/api-keys",
            key(json!({"scopes": scopes})),
            Box::new(move |d| validate::scopes(d, &value)),
        ));
    }
    for ids in [
        &["grp:eu.prod-1_a"][..],
        &["a b"],
        &[""],
        &[long_id.as_str()],
    ] {
        let value = set(ids);
        cases.push((
            format!("check_group_ids {ids:?}"),
            "/v1/api-keys",
            key(json!({"check_group_ids": ids})),
            Box::new(move |d| validate::restriction_ids(d, &value, "check_group_ids")),
        ));
    }
    for days in [1, 365, 0, 366, -5] {
        let value = Value::Value(days);
        cases.push((
            format!("rotation_days {days}"),
            "/v1/api-keys",
            key(json!({"rotation_days": days})),
            Box::new(move |d| validate::rotation_days(d, &value)),
        ));
    }

    // OAuth clients: the server stops at the first bad field (type, name, redirect URIs,
    // scopes), so each case has one.
    let https = &["https://app.example.com/cb"][..];
    let twice = &["https://app.example.com/cb", "https://app.example.com/cb"][..];
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("https://app.example.com/{i}"))
        .collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let oauth_cases: Vec<(&str, bool, &[&str], &[&str])> = vec![
        ("ok", false, https, &["openid", "email"]),
        (
            "ok",
            true,
            &["http://127.0.0.1:8400/cb", "http://[::1]/cb"],
            &["openid"],
        ),
        (
            "ok",
            true,
            https,
            &["statuspulse:alerts:manage", "openid", "openid"],
        ),
        (" padded ", true, https, &["openid"]),
        ("", true, https, &["openid"]),
        ("uri", true, &["http://app.example.com/cb"], &["openid"]),
        (
            "uri",
            true,
            &["https://app.example.com/cb#top"],
            &["openid"],
        ),
        (
            "uri",
            true,
            &["https://user:pw@app.example.com/cb"],
            &["openid"],
        ),
        ("uri", true, &["/relative/cb"], &["openid"]),
        ("uri", true, &["custom.scheme:/cb"], &["openid"]),
        ("uri", true, twice, &["openid"]),
        ("uri", true, &[], &["openid"]),
        ("uri", true, &eleven, &["openid"]),
        ("scope", true, https, &[]),
        ("scope", true, https, &["read:checks"]),
        ("scope", true, https, &["openid", "offline_access"]),
    ];
    for (n, (name, public, uris, scopes)) in oauth_cases.into_iter().enumerate() {
        // Accepted names must not collide: the server keeps them unique per workspace.
        let name = match name {
            "ok" => format!("oauth-ok-{n}"),
            other => other.to_owned(),
        };
        let state = OAuthClientState {
            name: Value::Value(name.clone()),
            public: Value::Value(public),
            redirect_uris: Value::Value(
                uris.iter().map(|u| Value::Value((*u).to_owned())).collect(),
            ),
            allowed_scopes: set(scopes),
            ..Default::default()
        };
        cases.push((
            format!("OAuth client {name:?} public={public} {uris:?} {scopes:?}"),
            "/v1/oauth-clients",
            json!({"name": name, "public": public, "redirect_uris": uris, "allowed_scopes": scopes}),
            Box::new(move |d| OAuthClientResource::validate(d, &state)),
        ));
    }

    // Audit sinks: one bad field per case, nested ones named `block.field` by the server and
    // reported inside the block at plan time. Accepted ones stay below the 10 sinks a workspace
    // may have.
    let webhook = |url: &str| json!({"url": url});
    let cloudwatch = |extra: Json| {
        let mut block = json!({"region": "eu-west-1", "log_group": "audit", "log_stream": "s"});
        block
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        block
    };
    let key_pair =
        json!({"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "x".repeat(40)});
    let sink_cases: Vec<Json> = vec![
        json!({"webhook": webhook("https://siem.example.com/in")}),
        json!({"webhook": webhook("http://siem.example.com/in")}),
        json!({"webhook": webhook("https://siem.example.com/in?token=x")}),
        json!({"webhook": webhook("ftp://siem.example.com/in")}),
        json!({"webhook": {"url": "https://siem.example.com/in",
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
        json!({"webhook": {"url": "https://siem.example.com/in", "secret": "whsec_c2hvcnQ="}}),
        json!({"webhook": {"url": "https://siem.example.com/in", "secret": "not-a-secret"}}),
        json!({"event_types": ["auth.*", "api_key.revoked"],
            "webhook": webhook("https://siem.example.com/in")}),
        json!({"event_types": [], "webhook": webhook("https://siem.example.com/in")}),
        json!({"event_types": ["Auth.*"], "webhook": webhook("https://siem.example.com/in")}),
        json!({"event_types": ["auth.**"], "webhook": webhook("https://siem.example.com/in")}),
        json!({"cloudwatch": cloudwatch(key_pair.clone())}),
        json!({"cloudwatch": cloudwatch(json!({"region": "Europe"}))}),
        json!({"cloudwatch": cloudwatch(json!({"log_group": "bad group!"}))}),
        json!({"cloudwatch": cloudwatch(json!({"log_stream": ""}))}),
        json!({"cloudwatch": cloudwatch(json!({"access_key_id": "akia-lower"}))}),
        json!({"cloudwatch": cloudwatch(json!({"secret_access_key": "x".repeat(40)}))}),
        json!({"cloudwatch": cloudwatch(json!({"role_arn": "arn:aws:iam::12:role/r"}))}),
        json!({"cloudwatch": cloudwatch(json!({"external_id": "ext-id"}))}),
        json!({"cloudwatch": cloudwatch(json!({"endpoint_override": "http://logs.example.com"}))}),
        json!({"webhook": webhook("https://siem.example.com/in"),
            "cloudwatch": cloudwatch(json!({}))}),
        json!({}),
    ];
    for (n, mut body) in sink_cases.into_iter().enumerate() {
        body["name"] = json!(format!("sink-{n}"));
        // The state holds each block as a list of at most one.
        let mut state = body.clone();
        for block in ["webhook", "cloudwatch"] {
            if let Some(settings) = state.get(block).cloned() {
                state[block] = json!([settings]);
            }
        }
        let state: AuditSinkState = serde_json::from_value(state).unwrap();
        cases.push((
            format!("audit sink {body}"),
            "/v1/audit-sinks",
            body,
            Box::new(move |d| AuditSinkResource::validate(d, &state)),
        ));
    }

    for (what, path, body, plan_check) in cases {
        let (status, answer) = server.admin("POST", path, Some(body));
        let mut diags = Diagnostics::default();
        plan_check(&mut diags);
        let at_plan: Vec<_> = diags
            .errors
            .iter()
            .map(|e| e.attribute.steps.clone())
            .collect();
        if status == 422 {
            let field = answer["field"].as_str().unwrap_or_default().to_owned();
            assert!(
                at_plan.contains(&field_path(&field).steps),
                "{what}: the server refused it on `{field}` ({answer}); plan time said {at_plan:?}"
            );
        } else {
            assert_eq!(status, 201, "{what}: {answer}");
            let trimmed = what.contains("padded");
            assert_eq!(
                at_plan.is_empty(),
                !trimmed,
                "{what}: the server accepted it; plan time said {at_plan:?}"
            );
        }
    }

    // Audit retention, a PUT of the workspace's settings: the shared bounds and either side.
    for days in [29, 30, 365, 3650, 3651, 0, -30] {
        let state = AuditSettingsState {
            retention_days: Value::Value(days),
            ..Default::default()
        };
        let (status, answer) = server.admin(
            "PUT",
            "/v1/audit-settings",
            Some(json!({"retention_days": days})),
        );
        let mut diags = Diagnostics::default();
        AuditSettingsResource::validate(&mut diags, &state);
        let at_plan: Vec<_> = diags.errors.iter().map(|e| e.attribute.clone()).collect();
        if status == 422 {
            assert_eq!(answer["field"], "retention_days", "{days}: {answer}");
            assert_eq!(
                at_plan,
                [field_path("retention_days")],
                "retention_days {days}"
            );
        } else {
            assert_eq!(status, 200, "retention_days {days}: {answer}");
            assert!(at_plan.is_empty(), "retention_days {days}: {at_plan:?}");
        }
    }
}

/// docs/CONTRACT.md: a `sp_test_` key bound to a live cluster is caught at plan time, on the attribute.
pub fn test_key_in_live_cluster(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    let (status, body) = server.admin(
        "POST",
        "/v1/environment-clusters",
        Some(serde_json::json!({"name": "eu-prod-1", "environment": "live", "description": ""})),
    );
    assert_eq!(status, 201, "{body}");
    tf.write(
        "main.tf",
        &TWO_RESOURCES.replace(
            "  scopes      = [\"read:checks\"]",
            "  scopes      = [\"read:checks\"]\n  environment_clusters = [\"eu-prod-1\"]",
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains("Error: Environment cluster in another environment"),
        "{text}"
    );
    assert!(
        text.contains("environment_clusters = [\"eu-prod-1\"]"),
        "{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");
}

/// What only the server knows is judged at plan time (`POST /v1/api-keys/check`): the provider
/// credential's authority and the `admin:all` policy are errors; an unknown cluster and scopes
/// beyond a service account's bindings, which the same apply may create, are warnings. Nothing
/// is created by any of these plans.
pub fn server_checks_at_plan_time(version: &'static str) {
    let server = Server::start();
    let mut tf = Terraform::new(version, &server);
    let header = TWO_RESOURCES.split("resource ").next().unwrap();
    let cluster = serde_json::json!({"name": "eu-prod-1", "environment": "live"});
    let (status, answer) = server.admin("POST", "/v1/environment-clusters", Some(cluster));
    assert_eq!(status, 201, "{answer}");
    let (status, sa) = server.admin(
        "POST",
        "/v1/service-accounts",
        Some(serde_json::json!({"name": "runner"})),
    );
    assert_eq!(status, 201, "{sa}");
    let sa = sa["id"].as_str().unwrap().to_owned();
    let (status, binding) = server.admin(
        "POST",
        "/v1/role-bindings",
        Some(serde_json::json!({"service_account_id": sa, "scopes": ["read:checks"], "environment_clusters": ["eu-prod-1"]})),
    );
    assert_eq!(status, 201, "{binding}");
    let keys_before = server.admin("GET", "/v1/api-keys?limit=200", None).1["items"]
        .as_array()
        .unwrap()
        .len();
    let key = |attributes: &str| {
        format!(
            "{header}resource \"statuspulse_api_key\" \"k\" {{\n  name        = \"k\"\n  environment = \"live\"\n{attributes}}}\n"
        )
    };

    // Beyond the account's bindings: a warning naming the scope, and the plan goes on.
    tf.write(
        "main.tf",
        &key(&format!(
            "  service_account_id = \"{sa}\"\n  scopes = [\"read:checks\", \"write:alerts\"]\n"
        )),
    );
    let run = tf.run(&["plan", "-no-color"]);
    let text = run.all();
    assert_eq!(run.code, 0, "{text}");
    assert!(
        text.contains("Warning: StatusPulse would refuse this key now"),
        "{text}"
    );
    assert!(
        text.contains("write:alerts") && text.contains("depends_on"),
        "{text}"
    );

    // A cluster that does not exist (yet): a warning too.
    tf.write(
        "main.tf",
        &key("  scopes = [\"read:checks\"]\n  environment_clusters = [\"nowhere-1\"]\n"),
    );
    let run = tf.run(&["plan", "-no-color"]);
    let text = run.all();
    assert_eq!(run.code, 0, "{text}");
    assert!(
        text.contains("nowhere-1") && text.contains("Warning:"),
        "{text}"
    );

    // admin:all for a service account: refused by policy, an error on `scopes`.
    tf.write(
        "main.tf",
        &key(&format!(
            "  service_account_id = \"{sa}\"\n  scopes = [\"admin:all\"]\n"
        )),
    );
    let run = tf.run(&["plan", "-no-color"]);
    let text = run.all();
    assert_eq!(run.code, 1, "{text}");
    assert!(
        text.contains("Error: admin:all is not granted to service accounts"),
        "{text}"
    );
    assert!(
        text.contains("scopes = [\"admin:all\"]"),
        "on its attribute: {text}"
    );
    assert_eq!(errors(&text), 1, "{text}");

    // A provider credential that cannot grant what the key asks for: an error, at plan time.
    let (status, narrow) = server.admin(
        "POST",
        "/v1/api-keys",
        Some(serde_json::json!({"name": "pipeline", "environment": "live", "scopes": ["admin:keys", "read:checks"]})),
    );
    assert_eq!(status, 201, "{narrow}");
    tf.set_env("STATUSPULSE_API_KEY", narrow["key"].as_str().unwrap());
    tf.write("main.tf", &key("  scopes = [\"write:alerts\"]\n"));
    let run = tf.run(&["plan", "-no-color"]);
    let text = run.all();
    assert_eq!(run.code, 1, "{text}");
    assert!(
        text.contains("Error: The provider's credential cannot grant this key"),
        "{text}"
    );
    assert!(!text.contains("sp_live_"), "{text}");

    let keys_after = server.admin("GET", "/v1/api-keys?limit=200", None).1["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        keys_after,
        keys_before + 1,
        "only the narrow key was created"
    );
}

/// `statuspulse_effective_access` asks about exactly one principal; anything else is a plan-time
/// diagnostic on the attribute, before any API call.
pub fn effective_access_needs_exactly_one_principal(version: &'static str) {
    let server = Server::start();
    let tf = Terraform::new(version, &server);
    let header = TWO_RESOURCES.split("resource ").next().unwrap();
    tf.write(
        "main.tf",
        &format!(
            "{header}data \"statuspulse_effective_access\" \"both\" {{\n  api_key_id = \"key_0123456789abcdef\"\n  service_account_id = \"sa_0123456789abcdef\"\n}}\n"
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(
        text.contains(
            "Error: Set exactly one of api_key_id, service_account_id, user_id and group"
        ),
        "{text}"
    );
    assert!(
        text.contains("service_account_id = \"sa_0123456789abcdef\""),
        "the diagnostic does not point at the attribute:\n{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");

    tf.write(
        "main.tf",
        &format!(
            "{header}data \"statuspulse_effective_access\" \"wrong\" {{\n  api_key_id = \"sa_0123456789abcdef\"\n}}\n"
        ),
    );
    let run = tf.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(text.contains("Error: Invalid id"), "{text}");
    assert!(
        text.contains("api_key_id = \"sa_0123456789abcdef\""),
        "{text}"
    );
    assert_eq!(errors(&text), 1, "{text}");
}
