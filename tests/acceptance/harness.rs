//! The real things the acceptance tests drive: a StatusPulse server on port 0 with its own SQLite
//! file, Terraform binaries of several versions, and the provider binary under test.
//!
//! Everything is installed or built by the test itself (scripts/install-test-tools.sh, and one
//! `cargo build` of the provider and of the server with its test clock), so `cargo test` needs no
//! setup.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from)
}

/// The two binaries under test, built once per test binary by one `cargo build` and copied
/// aside, so that a concurrent `cargo build` with other features cannot swap them under the tests.
struct Binaries {
    server: PathBuf,
    provider: PathBuf,
}

fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-p",
                "statuspulse-server",
                "-p",
                "terraform-provider-statuspulse",
                "--features",
                "statuspulse-server/test-clock",
            ])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build for the server and the provider");
        assert!(
            status.success(),
            "building the server and the provider failed"
        );
        sweep_stale_copies();
        let server = std::env::temp_dir().join(format!("{SERVER_COPY}{}", std::process::id()));
        std::fs::copy(target_dir().join("debug/statuspulse-server"), &server)
            .expect("copy the server binary");
        // A directory holding only the provider binary, for `dev_overrides`.
        let provider = std::env::temp_dir().join(format!("{PROVIDER_COPY}{}", std::process::id()));
        std::fs::create_dir_all(&provider).unwrap();
        let copy = provider.join("terraform-provider-statuspulse");
        let _ = std::fs::remove_file(&copy);
        std::fs::copy(
            target_dir().join("debug/terraform-provider-statuspulse"),
            &copy,
        )
        .expect("copy the provider binary");
        Binaries { server, provider }
    })
}

/// The server binary (`STATUSPULSE_SERVER_BIN` overrides it).
pub fn server_binary() -> PathBuf {
    std::env::var_os("STATUSPULSE_SERVER_BIN")
        .map_or_else(|| binaries().server.clone(), PathBuf::from)
}

const SERVER_COPY: &str = "statuspulse-server-acceptance-";
const PROVIDER_COPY: &str = "statuspulse-provider-acceptance-";

/// Removes the binary copies earlier test processes left in the temporary directory (a static
/// cannot clean up after itself), so that repeated runs do not fill it: those of processes that
/// no longer run.
fn sweep_stale_copies() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = [SERVER_COPY, PROVIDER_COPY]
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix))
        else {
            continue;
        };
        let alive = std::path::Path::new("/proc").join(pid).exists();
        if !alive && pid.parse::<u32>().is_ok() {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// Installs the Terraform versions once per test binary (idempotent script), into
/// `$STATUSPULSE_TOOLS_DIR` or the repository's `.tools/`.
pub fn tools_dir() -> PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let status = Command::new("bash")
                .arg(repo_root().join("scripts/install-test-tools.sh"))
                .status()
                .expect("run scripts/install-test-tools.sh");
            assert!(status.success(), "installing the test tools failed");
            // Where the script installed them: a worktree may share another checkout's tools.
            std::env::var_os("STATUSPULSE_TOOLS_DIR")
                .map_or_else(|| repo_root().join(".tools"), PathBuf::from)
        })
        .clone()
}

/// A directory holding only the provider binary, for `dev_overrides`.
pub fn provider_dir() -> PathBuf {
    binaries().provider.clone()
}

/// A running server with its bootstrap admin key; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub admin_key: String,
    http: reqwest::blocking::Client,
    _dir: TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with more settings in its environment, e.g. `STATUSPULSE_ALLOW_LOOPBACK_IDPS`.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let binary = server_binary();
        let dir = TempDir::new().unwrap();
        let database = format!("sqlite://{}?mode=rwc", dir.path().join("auth.db").display());
        let bootstrap = Command::new(&binary)
            .args(["bootstrap", "--workspace-name", "acceptance"])
            .env("STATUSPULSE_DATABASE_URL", &database)
            .output()
            .expect("run statuspulse-server bootstrap");
        assert!(
            bootstrap.status.success(),
            "bootstrap failed: {}",
            String::from_utf8_lossy(&bootstrap.stderr)
        );
        let admin_key = String::from_utf8(bootstrap.stdout)
            .unwrap()
            .trim()
            .to_owned();

        let mut child = Command::new(&binary)
            .arg("serve")
            .env("STATUSPULSE_DATABASE_URL", &database)
            .env("STATUSPULSE_LISTEN", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start statuspulse-server serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log_path = dir.path().join("server.log");
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(log_path).ok();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    let _ = tx.send(url);
                }
                if let Some(log) = log.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(log, "{line}");
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs `listening on http://…` within 60 s");
        let server = Server {
            child,
            url,
            admin_key,
            http: reqwest::blocking::Client::new(),
            _dir: dir,
        };
        let clock = server.advance_clock(0);
        assert_ne!(
            clock.status().as_u16(),
            404,
            "the server binary lacks the test-clock feature"
        );
        server
    }

    pub fn advance_clock(&self, seconds: u64) -> reqwest::blocking::Response {
        self.http
            .post(format!("{}/_test/clock", self.url))
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .unwrap()
    }

    /// `GET /v1/auth/verify` with `key`: the status the key's user would see.
    pub fn verify(&self, key: &str) -> u16 {
        self.http
            .get(format!("{}/v1/auth/verify", self.url))
            .bearer_auth(key)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    /// `GET /v1/auth/verify?{query}` with `key`: the authorization decision a gateway would get,
    /// as status and the problem `code` (empty on success).
    pub fn verify_query(&self, key: &str, query: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}/v1/auth/verify?{query}", self.url))
            .bearer_auth(key)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    }

    /// The workspace's audit events of `event_type`, oldest first.
    pub fn audit_events(&self, event_type: &str) -> Vec<Value> {
        let (status, page) = self.admin(
            "GET",
            &format!("/v1/audit-events?event_type={event_type}&limit=200"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// An admin call; returns status and JSON body.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{}", self.url, path);
        let request = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "DELETE" => self.http.delete(url),
            other => panic!("unsupported method {other}"),
        }
        .bearer_auth(&self.admin_key);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Terraform version working in one directory against one server.
pub struct Terraform {
    pub version: &'static str,
    binary: PathBuf,
    pub dir: TempDir,
    cli_config: PathBuf,
    env: Vec<(String, String)>,
}

/// The outcome of a Terraform command, with everything a failure message needs.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Terraform {
    /// Panics when this version is missing rather than skipping: a machine or CI that forgot
    /// the install step must not pass by testing nothing.
    pub fn new(version: &'static str, server: &Server) -> Terraform {
        let binary = tools_dir().join("bin").join(format!("terraform-{version}"));
        assert!(
            binary.exists(),
            "Terraform {version} is not installed ({} is missing), and the acceptance tests run \
             on every supported version: run scripts/install-test-tools.sh (it installs 1.0.3 and \
             1.15.5, and links 1.11.4 when /usr/local/bin/terraform is that version)",
            binary.display()
        );
        let dir = TempDir::new().unwrap();
        let cli_config = dir.path().join("terraformrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"statuspulse/statuspulse\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir().display()
            ),
        )
        .unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        Terraform {
            version,
            binary,
            dir,
            cli_config,
            env: vec![
                ("STATUSPULSE_ENDPOINT".into(), server.url.clone()),
                ("STATUSPULSE_API_KEY".into(), server.admin_key.clone()),
            ],
        }
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// A second working directory sharing this one's CLI configuration (for import checks).
    pub fn sibling(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    pub fn write(&self, file: &str, contents: &str) {
        std::fs::write(self.work().join(file), contents).unwrap();
    }

    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let started = Instant::now();
        let output: Output = Command::new(&self.binary)
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // The requirement: no backtrace may reach the user even when asked for.
            .env("RUST_BACKTRACE", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run terraform");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        eprintln!(
            "[terraform {}] {} -> {} in {:.1?}",
            self.version,
            args.join(" "),
            run.code,
            started.elapsed()
        );
        assert_no_backtrace(&run.all());
        run
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.work(), args)
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            0,
            "terraform {} {} failed:\n{}",
            self.version,
            args.join(" "),
            run.all()
        );
        run
    }

    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-no-color"])
    }

    /// `plan -detailed-exitcode`: 0 = no changes, 2 = changes.
    pub fn plan(&self) -> Run {
        let run = self.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert!(
            run.code == 0 || run.code == 2,
            "terraform {} plan failed:\n{}",
            self.version,
            run.all()
        );
        run
    }

    pub fn assert_no_changes(&self) {
        let run = self.plan();
        assert_eq!(
            run.code, 0,
            "terraform {}: expected an empty plan:\n{}",
            self.version, run.stdout
        );
    }

    /// The state as `terraform show -json` sees it, resources keyed by address.
    pub fn resources_in(&self, dir: &Path) -> serde_json::Map<String, Value> {
        let run = self.run_in(dir, &["show", "-json"]);
        assert_eq!(run.code, 0, "terraform show failed:\n{}", run.all());
        let state: Value = serde_json::from_str(&run.stdout).expect("show -json is JSON");
        state["values"]["root_module"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                (
                    r["address"].as_str().unwrap().to_owned(),
                    r["values"].clone(),
                )
            })
            .collect()
    }

    /// `terraform output -json`, sensitive values included: output name to value.
    pub fn outputs(&self) -> serde_json::Map<String, Value> {
        let run = self.ok(&["output", "-json"]);
        let outputs: Value = serde_json::from_str(&run.stdout).expect("output -json is JSON");
        outputs
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(name, output)| (name, output["value"].clone()))
            .collect()
    }

    pub fn resources(&self) -> serde_json::Map<String, Value> {
        self.resources_in(&self.work())
    }
}

/// Fails on anything that looks like a Rust backtrace or panic report.
pub fn assert_no_backtrace(text: &str) {
    for marker in [
        "stack backtrace",
        "Backtrace",
        "panicked at",
        "rust_begin_unwind",
        "std::backtrace",
        "tf_provider::",
        "at /rustc/",
    ] {
        assert!(
            !text.contains(marker),
            "user-visible output contains a backtrace marker `{marker}`:\n{text}"
        );
    }
}

/// Serialises the heaviest tests on this 2-core machine so Terraform timings stay sane.
pub fn heavy_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Asserts that Terraform's output has the diagnostic `summary` and that the configuration it
/// quotes contains `line` (the offending attribute's line).
pub fn assert_diagnostic_at(text: &str, summary: &str, line: &str) {
    let at = text
        .find(&format!("Error: {summary}"))
        .unwrap_or_else(|| panic!("{summary}:\n{text}"));
    let quoted = &text[at..text[at..].find("\n\n\n").map_or(text.len(), |e| at + e)];
    assert!(
        quoted.contains(line),
        "{summary} does not point at `{line}`:\n{quoted}"
    );
}
