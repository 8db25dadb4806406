//! A small W3C WebDriver client over reqwest, driving Debian's headless Chromium through
//! Debian's `chromedriver` (both installed by `scripts/install-test-tools.sh`): real pages, real
//! cookies, real script, several tabs. Only loopback: chromedriver listens on 127.0.0.1.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver, killed when dropped.
pub struct Driver {
    process: tokio::process::Child,
    base: String,
    http: reqwest::Client,
}

/// A test that panics before `Browser::quit` must not leave its Chromium running: the whole
/// process group (chromedriver and the browsers it started) is killed.
impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.process.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Driver {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            // A process group of its own, which the browsers it starts join: see `Drop`.
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian chromium-driver, scripts/install-test-tools.sh)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(r) = ready {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            process,
            base,
            http,
        }
    }

    /// A new browser (its own profile) with a window of `width` × `height` CSS pixels.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // Downloads land here without asking (the audit export is a download).
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let answer: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        let browser = Browser {
            base: format!("{}/session/{session}", self.base),
            http: self.http.clone(),
            downloads,
            _profile: profile,
        };
        browser.resize(width, height).await;
        browser
    }
}

/// One browser session.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    downloads: std::path::PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = answer["value"].get("error") {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    /// The folder the browser saves downloads in.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    pub async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_owned()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    /// Types `text` into the element `css` (focused and cleared first), as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    /// Sends `keys` (text, or WebDriver key codes such as Enter, `\u{E007}`) to the element
    /// `css`, after what it already holds.
    pub async fn press(&self, css: &str, keys: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/value"), json!({"text": keys}))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Runs `script` that ends by calling its last argument (the callback) with the result.
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// The serious and critical accessibility violations axe-core (npm, installed in
    /// `.tools/axe` by `scripts/install-test-tools.sh`) finds in the current page, one line each.
    /// Injected through WebDriver, which the page's policy does not govern.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let path = crate::idp::tools_dir().join("axe/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core at {}: {e}; run scripts/install-test-tools.sh",
                path.display()
            )
        });
        self.run(&format!("{axe}\nreturn true;"), json!([])).await;
        let found = self
            .run_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then((r) => done(
                   r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                       v.nodes.map((n) => n.target.join(' ')).join(', '))),
                   (e) => done(['axe failed: ' + e]));",
                json!([]),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until `script` (returning a boolean) is true, up to `timeout`.
    pub async fn wait_for(&self, script: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if self.run(script, json!([])).await == json!(true) {
                return;
            }
            if started.elapsed() > timeout {
                let url = self.url().await;
                let text = self.run("return document.body.innerText", json!([])).await;
                panic!("timed out waiting for `{script}` on {url}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css` ("" when none).
    pub async fn text(&self, css: &str) -> String {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint).
    pub async fn console_log(&self) -> Vec<Value> {
        self.post("/se/log", json!({"type": "browser"}))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every cookie of the current page's origin, HttpOnly ones included.
    pub async fn cookies(&self) -> Vec<Value> {
        self.get("/cookie")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Opens a new tab and switches to it.
    pub async fn new_tab(&self) -> String {
        let handle = self.post("/window/new", json!({"type": "tab"})).await;
        let handle = handle["handle"].as_str().unwrap().to_owned();
        self.switch_to(&handle).await;
        handle
    }

    pub async fn window(&self) -> String {
        self.get("/window").await.as_str().unwrap().to_owned()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.post("/window", json!({"handle": handle})).await;
    }

    pub async fn quit(self) {
        let _ = self
            .http
            .delete(&self.base)
            .send()
            .await
            .map(|r| r.status());
    }
}
