//! A real SAML identity provider for tests: Debian's SimpleSAMLphp served by `php -S` on a
//! loopback port of its own, configured by the files in `simplesamlphp/` beside this file.
//!
//! Other crates' tests include it with `#[path = ...] mod saml_idp;`, the path relative to the
//! including file's directory (from `server/tests/x.rs`: `../../saml/tests/support/idp.rs`; from
//! `server/tests/api/main.rs`: `../../../saml/tests/support/idp.rs`). It needs, as
//! dev-dependencies, `reqwest` with the `cookies` feature, `tempfile` and `statuspulse-saml`. Users (config/authsources.php):
//! `alice` / `alice-password` (groups engineering, statuspulse-admins; password only) and
//! `bob` / `bob-password` (group support; AuthnContextClassRef MobileTwoFactorContract).
//!
//! When PHP or SimpleSAMLphp is missing it panics and names `scripts/install-test-tools.sh`:
//! a test that cannot run fails, it never passes by skipping.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use statuspulse_saml::IdpSettings;

/// Where Debian's simplesamlphp package puts its web root.
const SIMPLESAMLPHP_WWW: &str = "/usr/share/simplesamlphp/www";
const INSTALL_HINT: &str =
    "run scripts/install-test-tools.sh (it installs Debian php-cli, php-xml, \
                            simplesamlphp and xmlsec1)";

/// A running SimpleSAMLphp IdP; the PHP process is killed when this is dropped.
pub struct SamlIdp {
    child: Child,
    base_url: String,
    state: tempfile::TempDir,
}

/// The directory holding config/, metadata/ and cert/ for SimpleSAMLphp.
fn support_dir() -> PathBuf {
    // Both this crate and the server live directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../saml/tests/support/simplesamlphp")
}

fn php_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("php"))
        .find(|p| p.is_file());
    match found {
        Some(php) => php,
        None => panic!("`php` is not installed: {INSTALL_HINT}"),
    }
}

impl SamlIdp {
    /// Starts SimpleSAMLphp for one service provider (`sp_entity_id`, posting to `acs_url`).
    pub fn start(sp_entity_id: &str, acs_url: &str) -> SamlIdp {
        let php = php_binary();
        assert!(
            Path::new(SIMPLESAMLPHP_WWW).join("_include.php").is_file(),
            "SimpleSAMLphp is not installed in {SIMPLESAMLPHP_WWW}: {INSTALL_HINT}"
        );
        let state = tempfile::tempdir().expect("a temporary directory for SimpleSAMLphp");
        // A free port: bind port 0, read it, release it. Another process could take it in
        // between; then PHP fails to bind and the error below says so.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(state.path().join("php.log")).expect("the PHP log file");
        let child = Command::new(php)
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-t")
            .arg(SIMPLESAMLPHP_WWW)
            .env("SIMPLESAMLPHP_CONFIG_DIR", support_dir().join("config"))
            .env("SAMLIDP_BASE_URL", &base_url)
            .env("SAMLIDP_STATE_DIR", state.path())
            .env("SAMLIDP_SP_ENTITY_ID", sp_entity_id)
            .env("SAMLIDP_SP_ACS_URL", acs_url)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the PHP log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting php -S failed ({e}): {INSTALL_HINT}"));
        let mut idp = SamlIdp {
            child,
            base_url,
            state,
        };
        idp.wait_until_listening(port);
        idp
    }

    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("php -S exited ({status}) before listening:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "php -S did not listen within 15 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What PHP and SimpleSAMLphp wrote (for failure messages).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.state.path().join("php.log")) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Its entity ID.
    pub fn entity_id(&self) -> String {
        format!("{}/saml2/idp/metadata.php", self.base_url)
    }

    /// Its signing certificate (PEM).
    pub fn certificate_pem() -> String {
        std::fs::read_to_string(support_dir().join("cert/idp.crt")).expect("the IdP certificate")
    }

    /// The settings an administrator would enter for this IdP.
    pub fn settings(&self) -> IdpSettings {
        IdpSettings {
            entity_id: self.entity_id(),
            sso_url: format!("{}/saml2/idp/SSOService.php", self.base_url),
            certificate_pem: Self::certificate_pem(),
            groups_attribute: Some("groups".into()),
        }
    }

    /// Plays the browser: follows `redirect_url` (an AuthnRequest) to the login form, signs in
    /// as `username`, and returns what the IdP's auto-submitting form would POST to the ACS:
    /// `(SAMLResponse, RelayState)`. Panics (with the page and the IdP log) if no form comes.
    pub async fn login(
        &self,
        redirect_url: &str,
        username: &str,
        password: &str,
    ) -> (String, String) {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::limited(10))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let login_page = client
            .get(redirect_url)
            .send()
            .await
            .expect("GET the AuthnRequest URL");
        let mut form_url = login_page.url().clone();
        let page = login_page.text().await.expect("the login page");
        let auth_state = match hidden_input(&page, "AuthState") {
            Some(state) => state,
            None => panic!("no login form at {form_url}:\n{page}\n{}", self.log()),
        };
        // The form's action is "?": the same script, without the query.
        form_url.set_query(None);
        let answer = client
            .post(form_url)
            .form(&[
                ("username", username),
                ("password", password),
                ("AuthState", &auth_state),
            ])
            .send()
            .await
            .expect("POST the login form");
        let page = answer.text().await.expect("the IdP's answer");
        match (
            hidden_input(&page, "SAMLResponse"),
            hidden_input(&page, "RelayState"),
        ) {
            (Some(response), relay_state) => (response, relay_state.unwrap_or_default()),
            _ => panic!(
                "no SAMLResponse form after signing in as {username}:\n{page}\n{}",
                self.log()
            ),
        }
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `<input type="hidden" name="{name}" value="...">` in SimpleSAMLphp's pages.
fn hidden_input(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let tag_start = page.find(&marker)?;
    let tag = &page[page[..tag_start].rfind('<')?..];
    let tag = &tag[..tag.find('>')?];
    let value_start = tag.find("value=\"")? + "value=\"".len();
    let value = &tag[value_start..];
    Some(html_unescape(&value[..value.find('"')?]))
}

fn html_unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
