//! Sign-ins against a real SAML IdP (SimpleSAMLphp, `support/idp.rs`): our AuthnRequest goes
//! in, its signed response comes back and verifies, with the identity its users carry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/idp.rs"]
mod idp;

use idp::SamlIdp;
use statuspulse_saml::{
    authn_request_redirect_url, is_mfa_context, new_request_id, verify_response, SpContext,
};

const SP_ENTITY_ID: &str = "https://auth.statuspulse.test/saml/sp";
const ACS_URL: &str = "http://127.0.0.1:9/v1/sso/saml/acs";

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Signs `username` in through the IdP and returns (request ID, SAMLResponse, RelayState).
async fn sign_in(idp: &SamlIdp, username: &str, password: &str) -> (String, String, String) {
    let request_id = new_request_id();
    let sp = SpContext {
        entity_id: SP_ENTITY_ID,
        acs_url: ACS_URL,
        expected_request_id: Some(&request_id),
        now_unix: now(),
    };
    let url = authn_request_redirect_url(
        &idp.settings(),
        &sp,
        &request_id,
        "/console/keys",
        &[],
        now(),
    )
    .unwrap();
    let (response, relay_state) = idp.login(&url, username, password).await;
    (request_id, response, relay_state)
}

fn sp<'a>(request_id: &'a str) -> SpContext<'a> {
    SpContext {
        entity_id: SP_ENTITY_ID,
        acs_url: ACS_URL,
        expected_request_id: Some(request_id),
        now_unix: now(),
    }
}

#[tokio::test]
async fn a_password_sign_in_at_simplesamlphp_yields_the_users_identity() {
    let idp = SamlIdp::start(SP_ENTITY_ID, ACS_URL);
    let (request_id, response, relay_state) = sign_in(&idp, "alice", "alice-password").await;
    assert_eq!(relay_state, "/console/keys");

    let identity = verify_response(&idp.settings(), &sp(&request_id), &response)
        .unwrap_or_else(|refusal| panic!("{} ({refusal})\n{}", refusal.code(), idp.log()));
    assert_eq!(identity.subject, "alice@example.com");
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(identity.name.as_deref(), Some("Alice Example"));
    assert_eq!(identity.groups, ["engineering", "statuspulse-admins"]);
    let class = identity.authn_context_class.as_deref().unwrap();
    assert!(!is_mfa_context(class), "{class}");
    assert!(identity.assertion_not_on_or_after > now());
    assert!(identity.session_not_on_or_after.unwrap() > now());
}

#[tokio::test]
async fn a_multi_factor_sign_in_at_simplesamlphp_reports_its_mfa_context() {
    let idp = SamlIdp::start(SP_ENTITY_ID, ACS_URL);
    let (request_id, response, _) = sign_in(&idp, "bob", "bob-password").await;
    let identity = verify_response(&idp.settings(), &sp(&request_id), &response).unwrap();
    assert_eq!(identity.subject, "bob@example.com");
    assert_eq!(identity.groups, ["support"]);
    assert_eq!(
        identity.authn_context_class.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract")
    );
    assert!(is_mfa_context(
        identity.authn_context_class.as_deref().unwrap()
    ));
}

#[tokio::test]
async fn a_genuine_simplesamlphp_response_is_refused_in_the_wrong_context() {
    let idp = SamlIdp::start(SP_ENTITY_ID, ACS_URL);
    let (request_id, response, _) = sign_in(&idp, "alice", "alice-password").await;
    let settings = idp.settings();
    let code = |settings: &statuspulse_saml::IdpSettings, sp: &SpContext<'_>| {
        verify_response(settings, sp, &response).unwrap_err().code()
    };

    // Another sign-in's request, or none (IdP-initiated only).
    assert_eq!(code(&settings, &sp("_another")), "wrong_in_response_to");
    assert_eq!(
        code(
            &settings,
            &SpContext {
                expected_request_id: None,
                ..sp(&request_id)
            }
        ),
        "wrong_in_response_to"
    );
    // Another service provider replaying it.
    let other = SpContext {
        entity_id: "https://other-sp.test",
        ..sp(&request_id)
    };
    assert_eq!(code(&settings, &other), "wrong_audience");
    let other = SpContext {
        acs_url: "https://other-sp.test/acs",
        ..sp(&request_id)
    };
    assert_eq!(code(&settings, &other), "wrong_destination");
    // Too late (SimpleSAMLphp gives assertions 5 minutes).
    let later = SpContext {
        now_unix: now() + 10 * 60,
        ..sp(&request_id)
    };
    assert_eq!(code(&settings, &later), "expired");
    // A connection configured with another IdP's entity ID or certificate.
    let mut other_issuer = settings.clone();
    other_issuer.entity_id = "https://other-idp.test".into();
    assert_eq!(code(&other_issuer, &sp(&request_id)), "wrong_issuer");
    let mut other_certificate = settings.clone();
    other_certificate.certificate_pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/keys/attacker.crt"
    ))
    .unwrap();
    assert_eq!(code(&other_certificate, &sp(&request_id)), "wrong_signer");
}

#[tokio::test]
async fn the_sp_metadata_is_accepted_by_simplesamlphps_parser() {
    // SimpleSAMLphp's own metadata parser (the one its admin UI imports with) must read ours.
    let xml = statuspulse_saml::sp_metadata(SP_ENTITY_ID, ACS_URL);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, &xml).unwrap();
    let script = r#"
        require '/usr/share/simplesamlphp/lib/_autoload.php';
        $xml = file_get_contents($argv[1]);
        $entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString($xml);
        foreach ($entities as $id => $entity) {
            $sp = $entity->getMetadata20SP();
            echo $id, "\n", $sp['AssertionConsumerService'][0]['Location'], "\n",
                $sp['AssertionConsumerService'][0]['Binding'], "\n";
        }
    "#;
    let out = std::process::Command::new("php")
        .arg("-r")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            SP_ENTITY_ID,
            ACS_URL,
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        ]
    );
}
