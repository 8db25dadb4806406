//! Runs `forge.py` (pysaml2 and the xmlsec1 binary, from the tools venv) to make SAML
//! responses the tests expect to be refused. Panics naming `scripts/install-test-tools.sh` when
//! the tools are missing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

pub const SP_ENTITY_ID: &str = "https://auth.statuspulse.test/saml/sp";
pub const ACS_URL: &str = "https://auth.statuspulse.test/v1/sso/saml/acs";
pub const IDP_ENTITY_ID: &str = "https://idp.forged.test/metadata";
pub const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";
/// A fixed "now" (2026-11-30T00:00:00Z): the forged responses are dated from it.
pub const NOW: i64 = 1_795_996_800;

pub fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../saml/tests/support")
}

pub fn key(name: &str) -> String {
    support_dir().join("keys").join(name).display().to_string()
}

fn tools_python() -> PathBuf {
    let tools = std::env::var_os("STATUSPULSE_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools"),
        PathBuf::from,
    );
    tools.join("venv/bin/python")
}

/// The spec of a valid response signed (assertion only) by `keys/idp.key`, for `NOW`.
pub fn valid_spec() -> Value {
    json!({
        "key": key("idp.key"),
        "cert": key("idp.crt"),
        "sign": "assertion",
        "now": NOW,
        "issuer": IDP_ENTITY_ID,
        "audience": SP_ENTITY_ID,
        "recipient": ACS_URL,
        "destination": ACS_URL,
        "in_response_to": REQUEST_ID,
        "name_id": "alice@example.com",
        "email": "alice@example.com",
        "name": "Alice Example",
        "groups": ["engineering", "statuspulse-admins"],
        "authn_context_class": "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
        "session_not_on_or_after": NOW + 8 * 3600,
    })
}

/// `valid_spec()` with the given keys replaced.
pub fn spec_with(changes: &Value) -> Value {
    let mut spec = valid_spec();
    if let (Some(target), Some(changes)) = (spec.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            target.insert(k.clone(), v.clone());
        }
    }
    spec
}

/// The base64 SAMLResponse forge.py makes for `spec`.
pub fn forge(spec: &Value) -> String {
    let python = tools_python();
    assert!(
        python.is_file(),
        "{} is missing: run scripts/install-test-tools.sh (it installs pysaml2 and xmlsec1)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(support_dir().join("forge.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run forge.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write the spec");
    let out = child.wait_with_output().expect("forge.py output");
    assert!(
        out.status.success(),
        "forge.py failed (is pysaml2 installed? run scripts/install-test-tools.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("base64")
        .trim()
        .to_owned()
}

pub fn decoded(b64: &str) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

pub fn encoded(xml: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(xml)
}
