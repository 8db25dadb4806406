//! What every fuzz target checks, shared by the `cargo fuzz` targets (`server/fuzz/`, run for
//! minutes by `scripts/fuzz.sh`) and the smoke run in the test suite (`server/tests/fuzz_smoke.rs`).
//!
//! The invariant is the API's own: whatever arrives, the server answers without panicking, never
//! with a 5xx, and every refusal is `application/problem+json`. Requests go through the real
//! router (every middleware and extractor) on a real SQLite database, with a real admin key, so
//! bodies reach the same validation they would in production.

// Each including crate (a fuzz target, the smoke test) uses only part of it.
#![allow(dead_code)]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use statuspulse_server::platform::config::RateLimitTiers;
use statuspulse_server::{Clock, Settings};
use tower::ServiceExt;

/// A server state on a throwaway SQLite database, with objects every route can name.
pub struct Target {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    admin_key: String,
    /// `Bearer <admin key>`.
    bearer: String,
    /// Path parameters by placeholder: `{ws}`, `{sa}`, `{key}`, `{cluster}`, `{binding}`.
    ids: Vec<(&'static str, String)>,
    /// Holds the SQLite database while the target lives.
    _dir: Option<tempfile::TempDir>,
}

/// Write routes and filtered lists: the first input byte picks one, the rest is its body (or
/// query string).
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/workspaces"),
    ("PATCH", "/v1/workspaces/{ws}"),
    ("POST", "/v1/service-accounts"),
    ("PATCH", "/v1/service-accounts/{sa}"),
    ("POST", "/v1/api-keys"),
    ("PATCH", "/v1/api-keys/{key}"),
    ("POST", "/v1/api-keys/{key}/rotate"),
    ("POST", "/v1/api-keys/revoke"),
    ("POST", "/v1/environment-clusters"),
    ("PATCH", "/v1/environment-clusters/{cluster}"),
    ("POST", "/v1/role-bindings"),
    ("PATCH", "/v1/role-bindings/{binding}"),
    ("GET", "/v1/api-keys?"),
    ("GET", "/v1/service-accounts?"),
    ("GET", "/v1/role-bindings?"),
    ("GET", "/v1/environment-clusters?"),
    ("GET", "/v1/audit-events?"),
    ("GET", "/v1/effective-access?"),
    ("GET", "/v1/auth/verify?"),
    ("GET", "/v1/api-keys/"),
    ("DELETE", "/v1/role-bindings/"),
];

impl Target {
    /// The fuzzing process's one target: on `STATUSPULSE_FUZZ_DATABASE_URL` (an empty
    /// PostgreSQL database, say) or else a fresh SQLite file.
    pub fn for_fuzzing() -> &'static Target {
        static TARGET: OnceLock<Target> = OnceLock::new();
        TARGET.get_or_init(|| match std::env::var("STATUSPULSE_FUZZ_DATABASE_URL") {
            Ok(url) => Target::start(&url),
            Err(_) => Target::on_sqlite(),
        })
    }

    /// A target on a SQLite file that lives as long as it does.
    pub fn on_sqlite() -> Target {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/fuzz.db?mode=rwc", dir.path().display());
        Target {
            _dir: Some(dir),
            ..Target::start(&url)
        }
    }

    /// A target on an empty database.
    pub fn start(url: &str) -> Target {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut settings = Settings::for_database(url);
        // The admin key must never be rate limited: the fuzzer sends far more than 1,200/min.
        settings.rate_limit_tiers =
            RateLimitTiers::parse("standard=4000000000").expect("tiers parse");
        let (state, admin_key, ws) = runtime.block_on(async {
            let (workspace, created) = statuspulse_server::bootstrap(settings.clone(), "fuzz")
                .await
                .expect("bootstrap");
            let state = statuspulse_server::build_state(settings, Clock::system())
                .await
                .expect("state");
            (state, created.key.expose().to_owned(), workspace.id)
        });
        let router = statuspulse_server::router::router(state);
        let mut target = Target {
            runtime,
            router,
            bearer: format!("Bearer {admin_key}"),
            admin_key,
            ids: vec![("{ws}", ws)],
            _dir: None,
        };
        for (placeholder, path, body) in [
            (
                "{cluster}",
                "/v1/environment-clusters",
                r#"{"name":"eu-prod-1","environment":"live"}"#,
            ),
            ("{sa}", "/v1/service-accounts", r#"{"name":"runner"}"#),
            (
                "{key}",
                "/v1/api-keys",
                r#"{"name":"k","environment":"live","scopes":["read:checks"]}"#,
            ),
            (
                "{binding}",
                "/v1/role-bindings",
                r#"{"group":"admins","scopes":["read:checks"]}"#,
            ),
        ] {
            let (status, body) = target.send(
                "POST",
                path,
                Some(target.bearer.as_bytes()),
                body.as_bytes(),
            );
            assert_eq!(
                status,
                StatusCode::CREATED,
                "fixture {path}: {}",
                String::from_utf8_lossy(&body)
            );
            let id = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["id"]
                .as_str()
                .expect("an id")
                .to_owned();
            target.ids.push((placeholder, id));
        }
        target
    }

    /// Sends one request through the router; `None` when the input cannot even form an HTTP
    /// request (a URI or header value no client could send).
    fn try_send(
        &self,
        method: &str,
        path: &[u8],
        authorization: Option<&[u8]>,
        body: &[u8],
    ) -> Option<(StatusCode, Option<String>, Vec<u8>)> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        let mut request = Request::builder().method(method).uri(path);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        if !body.is_empty() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Body::from(body.to_vec())).ok()?;
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            Some((status, content_type, body.to_vec()))
        })
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        auth: Option<&[u8]>,
        body: &[u8],
    ) -> (StatusCode, Vec<u8>) {
        let (status, _, body) = self
            .try_send(method, path.as_bytes(), auth, body)
            .expect("a well-formed request");
        (status, body)
    }

    fn path(&self, template: &str) -> String {
        self.ids
            .iter()
            .fold(template.to_owned(), |path, (placeholder, id)| {
                path.replace(placeholder, id)
            })
    }
}

/// The API's invariant for one answer.
fn assert_answer(what: &str, input: &[u8], answer: Option<(StatusCode, Option<String>, Vec<u8>)>) {
    let Some((status, content_type, body)) = answer else {
        return;
    };
    let body = String::from_utf8_lossy(&body);
    assert!(
        !status.is_server_error(),
        "{what} answered {status} to {:?}: {body}",
        String::from_utf8_lossy(input)
    );
    if status.is_client_error() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{what} answered {status} without a problem document to {:?}: {body}",
            String::from_utf8_lossy(input)
        );
    }
}

/// Whether the route `pick` chooses takes a query string (or trailing id) rather than a body.
pub fn takes_query(pick: u8) -> bool {
    matches!(ROUTES[usize::from(pick) % ROUTES.len()].0, "GET" | "DELETE")
}

/// A body (or query string, or trailing id) for a route picked by the first byte.
pub fn api_request(target: &Target, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (method, template) = ROUTES[usize::from(pick) % ROUTES.len()];
    let path = target.path(template);
    let answer = if method == "GET" || method == "DELETE" {
        let mut uri = path.into_bytes();
        uri.extend_from_slice(rest);
        target.try_send(method, &uri, Some(target.bearer.as_bytes()), b"")
    } else {
        target.try_send(
            method,
            path.as_bytes(),
            Some(target.bearer.as_bytes()),
            rest,
        )
    };
    assert_answer(template, data, answer);
}

/// Anything as the `Authorization` header of a verification.
pub fn authorization_header(target: &Target, data: &[u8]) {
    let answer = target.try_send("GET", b"/v1/auth/verify", Some(data), b"");
    if let Some((status, _, _)) = &answer {
        // Only the real admin key may authenticate; anything else is refused.
        if status.is_success() {
            let presented = String::from_utf8_lossy(data);
            assert!(
                presented.contains(&target.admin_key),
                "{presented:?} authenticated"
            );
        }
    }
    assert_answer("verify", data, answer);
}

/// The key parser: never panics, and what it accepts is exactly a well-formed key.
pub fn key_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = statuspulse_server::authn::token::PlainApiKey::parse(text) {
        assert_eq!(key.expose(), text, "a parsed key is the text it came from");
        assert!(text.len() == 72 && (text.starts_with("sp_live_") || text.starts_with("sp_test_")));
    }
}
