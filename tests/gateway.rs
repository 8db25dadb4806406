//! End to end through a real gateway: Debian's nginx, configured from
//! `examples/gateway/nginx.conf.template`, guards a sample upstream with `auth_request` against a
//! real StatusPulse server. The client talks only to nginx.
//!
//! nginx is installed by `scripts/install-test-tools.sh`; without it this test fails (it does not
//! skip), so a CI that forgot the install step cannot pass by testing nothing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use reqwest::StatusCode;
use serde_json::{json, Value};
use statuspulse_server::audit::Actor;
use statuspulse_server::platform::config::RateLimitTiers;
use statuspulse_server::{Application, Clock, Settings};

/// Requests per minute of the workspace whose key the rate-limit case exhausts.
const TINY_TIER_PER_MINUTE: usize = 3;

/// One request as the sample upstream received it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The application behind the gateway: answers 200 with what it saw and records every request.
async fn start_upstream() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let path_and_query = uri.path_and_query().map(ToString::to_string);
                let answer = json!({
                    "upstream": true,
                    "path": path_and_query,
                    "body_bytes": body.len(),
                });
                log.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path_and_query: path_and_query.unwrap_or_default(),
                    headers,
                    body,
                });
                axum::Json(answer)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// The nginx binary: `STATUSPULSE_TEST_NGINX`, else `nginx` on PATH, else Debian's /usr/sbin/nginx
/// (not on a non-root user's PATH).
fn nginx_binary() -> PathBuf {
    if let Ok(path) = std::env::var("STATUSPULSE_TEST_NGINX") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "STATUSPULSE_TEST_NGINX={} is not a file; the gateway test needs nginx",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    let found = on_path.or_else(|| {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "nginx is not installed, and the gateway test needs Debian's nginx: run \
             scripts/install-test-tools.sh (it installs it), or point STATUSPULSE_TEST_NGINX at a binary"
        )
    })
}

/// A running nginx, stopped (SIGTERM to the master, so its workers exit too) when dropped.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &Path, statuspulse: SocketAddr, upstream: SocketAddr) -> Self {
        let template_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gateway/nginx.conf.template");
        let template = std::fs::read_to_string(&template_path)
            .unwrap_or_else(|e| panic!("{}: {e}", template_path.display()));
        // A free port can be taken between our probe and nginx's bind; try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let config = template
                .replace("@LISTEN@", &addr.to_string())
                .replace("@STATUSPULSE@", &statuspulse.to_string())
                .replace("@UPSTREAM@", &upstream.to_string());
            assert!(
                !config.contains("@LISTEN@")
                    && !config.contains("@STATUSPULSE@")
                    && !config.contains("@UPSTREAM@"),
                "every placeholder is replaced"
            );
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("logs")).unwrap();
            std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config).unwrap();
            // As root nginx would switch its workers to an unprivileged user that cannot enter
            // this private temporary directory; keep them as root. Unprivileged, the directive
            // would only draw a warning, so it is left out.
            let euid = std::fs::metadata("/proc/self").map_or(1, |m| m.uid());
            let globals = if euid == 0 {
                "daemon off; user root;"
            } else {
                "daemon off;"
            };
            let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
            let mut child = Command::new(binary)
                .arg("-p")
                .arg(format!("{}/", dir.path().display()))
                .args(["-e", "logs/error.log", "-c"])
                .arg(&conf)
                .args(["-g", globals])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    last_error = format!(
                        "nginx exited with {status}:\n{}\n{}",
                        read(&dir.path().join("stderr.log")),
                        read(&dir.path().join("logs/error.log"))
                    );
                    break;
                }
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Self { child, addr, dir };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "nginx did not listen on {addr} within 10 s:\n{}",
                        read(&dir.path().join("logs/error.log"))
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("nginx would not start: {last_error}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn error_log(&self) -> String {
        read(&self.dir.path().join("logs/error.log"))
    }

    fn access_log(&self) -> String {
        read(&self.dir.path().join("logs/access.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM is nginx's fast shutdown: the master stops its workers, then exits. A SIGKILL
        // would orphan the workers, still listening.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_guards_an_upstream() {
    // First, so a machine without nginx fails at once with the remedy.
    let nginx_binary = nginx_binary();

    // The real server on SQLite, with a frozen clock so a rate-limit budget never refills, and a
    // tiny tier so exhausting it takes a handful of requests.
    let db_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_database(format!(
        "sqlite://{}/auth.db?mode=rwc",
        db_dir.path().display()
    ));
    settings.rate_limit_tiers =
        RateLimitTiers::parse(&format!("standard=1200,tiny={TINY_TIER_PER_MINUTE}")).unwrap();
    let app = Application::build_with_clock(settings, Clock::frozen())
        .await
        .unwrap();
    let server_addr = app.local_addr();
    let state = app.state();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let (workspace, admin) = statuspulse_server::management::workspaces::provision(
        &state,
        "operator",
        "standard",
        true,
        Actor::System,
    )
    .await
    .unwrap();
    let (_, tiny_admin) = statuspulse_server::management::workspaces::provision(
        &state,
        "throttled",
        "tiny",
        false,
        Actor::System,
    )
    .await
    .unwrap();

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let create_key = |environment: &'static str, scopes: Value| {
        let http = http.clone();
        let admin = admin.key.expose().to_owned();
        async move {
            let answer = send(
                http.post(format!("http://{server_addr}/v1/api-keys"))
                    .bearer_auth(admin)
                    .json(&json!({
                        "name": format!("gateway-{}", uuid::Uuid::new_v4().simple()),
                        "environment": environment,
                        "scopes": scopes,
                    })),
            )
            .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
            answer.body
        }
    };
    let reader = create_key("live", json!(["read:checks"])).await;
    let writer = create_key("live", json!(["read:checks", "write:checks"])).await;
    let sandbox = create_key("test", json!(["read:checks"])).await;
    let reader_key = reader["key"].as_str().unwrap().to_owned();
    let writer_key = writer["key"].as_str().unwrap().to_owned();
    let sandbox_key = sandbox["key"].as_str().unwrap().to_owned();

    let (upstream_addr, seen) = start_upstream().await;
    let nginx = Nginx::start(&nginx_binary, server_addr, upstream_addr);
    let hits = || seen.lock().unwrap().len();
    let last = || seen.lock().unwrap().last().cloned().unwrap();

    // A public route needs no key.
    let answer = send(http.get(nginx.url("/status"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // 1. A valid key with the right scope reaches the upstream, which never sees the key and
    //    cannot be fooled by identity headers the client made up.
    let before = hits();
    let answer = send(
        http.get(nginx.url("/api/checks/chk_1?page=2"))
            .bearer_auth(&reader_key)
            .header("X-StatusPulse-Workspace", "ws_forged")
            .header("X-StatusPulse-Key-Id", "forged"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["upstream"], true, "{}", answer.body);
    assert_eq!(hits(), before + 1);
    let request = last();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path_and_query, "/api/checks/chk_1?page=2");
    assert_eq!(
        request.header("authorization"),
        None,
        "the key stops at the gateway"
    );
    assert_eq!(request.header("x-statuspulse-scope"), Some("read:checks"));
    // Identity headers come only from verify's answer: today verify sends none, so the forged
    // ones are dropped; once it does, they carry the real workspace and key id.
    let workspace_header = request.header("x-statuspulse-workspace");
    assert!(
        workspace_header.is_none() || workspace_header == Some(workspace.id.as_str()),
        "{workspace_header:?}"
    );
    let key_id_header = request.header("x-statuspulse-key-id");
    assert!(
        key_id_header.is_none() || key_id_header == reader["key_id"].as_str(),
        "{key_id_header:?}"
    );
    // The client sees the key's rate-limit state, relayed from verify.
    assert!(
        answer.header("ratelimit").contains("r="),
        "{:?}",
        answer.headers
    );
    assert!(answer.header("ratelimit-policy").contains("q=1200"));

    // 2. The route's scope depends on the method: POST needs write:checks. The reader is refused,
    //    the writer passes, and its body reaches the upstream whole. The body never goes to verify:
    //    if it did, the server would refuse this one (a `token` field is a credential in a body)
    //    and the gateway would answer 500.
    let before = hits();
    let body = json!({"name": "homepage", "token": "not-a-credential-for-us"}).to_string();
    let answer = send(
        http.post(nginx.url("/api/checks/"))
            .bearer_auth(&reader_key)
            .header("content-type", "application/json")
            .body(body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.body["status"], 403, "{}", answer.body);
    assert_eq!(
        hits(),
        before,
        "a refused request never reaches the upstream"
    );
    let answer = send(
        http.post(nginx.url("/api/checks/"))
            .bearer_auth(&writer_key)
            .header("content-type", "application/json")
            .body(body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let request = last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, body.as_bytes());
    assert_eq!(request.header("x-statuspulse-scope"), Some("write:checks"));
    // A scope the key does not have at all.
    let answer = send(
        http.get(nginx.url("/api/metrics/latency"))
            .bearer_auth(&writer_key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    // This is the live gateway: a sandbox key is refused (environment_mismatch).
    let answer = send(
        http.get(nginx.url("/api/checks/"))
            .bearer_auth(&sandbox_key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(hits(), before + 1);

    // 3. No key, a malformed key, a wrong scheme: 401.
    let before = hits();
    let answer = send(http.get(nginx.url("/api/checks/"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        "application/problem+json",
        "{:?}",
        answer.headers
    );
    let answer = send(
        http.get(nginx.url("/api/checks/"))
            .bearer_auth("sp_live_tooshort"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let answer = send(
        http.get(nginx.url("/api/checks/"))
            .basic_auth("user", Some(&reader_key)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(hits(), before);

    // 4. A key in the query string is refused at the gateway, whatever the parameter's case or
    //    encoding, even alongside a valid Authorization header, and never reaches the upstream.
    let before = hits();
    for name in [
        "api_key",
        "APIKEY",
        "Key",
        "token",
        "Access_Token",
        "%61pi_key",
        "ac%63ess_token",
    ] {
        for query in [
            format!("?{name}={reader_key}"),
            format!("?page=1&{name}={reader_key}"),
            format!("?{name}"),
        ] {
            let path = format!("/api/checks/{query}");
            let answer = send(http.get(nginx.url(&path))).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{path}: {}",
                answer.body
            );
            assert_eq!(answer.body["code"], "credential_in_query", "{path}");
            let answer = send(http.get(nginx.url(&path)).bearer_auth(&reader_key)).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{path}: {}",
                answer.body
            );
        }
    }
    assert_eq!(
        hits(),
        before,
        "no query-string key ever reaches the upstream"
    );
    // The key must not be written to nginx's logs either.
    assert!(!nginx.access_log().contains(&reader_key[8..]));
    assert!(!nginx.error_log().contains(&reader_key[8..]));
    // Names that merely contain a credential name are fine.
    let answer = send(
        http.get(nginx.url("/api/checks/?monkey=1&keys=2&tokenizer=3"))
            .bearer_auth(&reader_key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // 5. A rate-limited key gets 429 at the client, with Retry-After, and the upstream is spared.
    for n in 0..TINY_TIER_PER_MINUTE {
        let answer = send(
            http.get(nginx.url("/api/checks/"))
                .bearer_auth(tiny_admin.key.expose()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {n}: {}",
            answer.body
        );
    }
    let before = hits();
    let answer = send(
        http.get(nginx.url("/api/checks/"))
            .bearer_auth(tiny_admin.key.expose()),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["code"], "rate_limited", "{}", answer.body);
    let retry_after: u64 = answer
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is whole seconds: {:?}", answer.headers));
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        answer.header("ratelimit").contains("r=0"),
        "{:?}",
        answer.headers
    );
    assert_eq!(hits(), before);
    // The budget is per key: other keys still pass.
    let answer = send(http.get(nginx.url("/api/checks/")).bearer_auth(&reader_key)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // Routes the configuration does not declare are not exposed.
    let answer = send(http.get(nginx.url("/admin")).bearer_auth(&writer_key)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);

    // 6. With the auth server gone the gateway fails closed: 503, the upstream is not asked.
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    let before = hits();
    let answer = send(http.get(nginx.url("/api/checks/")).bearer_auth(&reader_key)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(hits(), before);

    drop(nginx);
}
