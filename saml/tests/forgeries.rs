//! Responses made by another implementation (pysaml2 signing with the xmlsec1 binary,
//! `support/forge.py`): one valid response, then every forgery and mistake, each refused with its
//! own code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/forge.rs"]
mod forge;

use forge::{forge, spec_with, valid_spec, ACS_URL, IDP_ENTITY_ID, NOW, REQUEST_ID, SP_ENTITY_ID};
use serde_json::json;
use statuspulse_saml::{verify_response, IdpSettings, SamlIdentity, SpContext};

fn idp() -> IdpSettings {
    IdpSettings {
        entity_id: IDP_ENTITY_ID.into(),
        sso_url: "https://idp.forged.test/sso".into(),
        certificate_pem: std::fs::read_to_string(forge::key("idp.crt")).unwrap(),
        groups_attribute: None,
    }
}

fn sp_at(now_unix: i64) -> SpContext<'static> {
    SpContext {
        entity_id: SP_ENTITY_ID,
        acs_url: ACS_URL,
        expected_request_id: Some(REQUEST_ID),
        now_unix,
    }
}

fn verify(b64: &str) -> Result<SamlIdentity, statuspulse_saml::Refusal> {
    verify_response(&idp(), &sp_at(NOW), b64)
}

/// The code of the refusal of a response forged from `valid_spec()` with `changes`.
fn refusal_code(changes: &serde_json::Value) -> &'static str {
    match verify(&forge(&spec_with(changes))) {
        Ok(identity) => panic!("accepted: {identity:?}"),
        Err(refusal) => {
            let message = refusal.to_string();
            assert!(
                !message.contains("<saml:"),
                "the message shows XML: {message}"
            );
            refusal.code()
        }
    }
}

#[test]
fn a_valid_response_signed_by_the_configured_key_is_accepted_with_its_identity() {
    let identity = verify(&forge(&valid_spec())).unwrap();
    assert_eq!(identity.subject, "alice@example.com");
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(identity.name.as_deref(), Some("Alice Example"));
    assert_eq!(identity.groups, ["engineering", "statuspulse-admins"]);
    assert_eq!(
        identity.authn_context_class.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract")
    );
    assert!(identity.assertion_id.starts_with("_a"));
    // forge.py ends both Conditions and the confirmation at NOW + 300; plus the 60 s skew.
    assert_eq!(identity.assertion_not_on_or_after, NOW + 300 + 60);
    assert_eq!(identity.session_not_on_or_after, Some(NOW + 8 * 3600));
}

#[test]
fn a_signed_response_a_doubly_signed_one_and_an_ecdsa_one_are_accepted() {
    for sign in ["response", "both"] {
        let identity = verify(&forge(&spec_with(&json!({ "sign": sign })))).unwrap();
        assert_eq!(identity.subject, "alice@example.com", "{sign}");
    }
    let ec = spec_with(
        &json!({ "key": forge::key("ec.key"), "cert": forge::key("ec.crt"), "algorithm": "ecdsa-sha256" }),
    );
    let mut settings = idp();
    settings.certificate_pem = std::fs::read_to_string(forge::key("ec.crt")).unwrap();
    let identity = verify_response(&settings, &sp_at(NOW), &forge(&ec)).unwrap();
    assert_eq!(identity.subject, "alice@example.com");
}

#[test]
fn an_idp_initiated_response_is_accepted_only_without_an_expected_request() {
    let unsolicited = forge(&spec_with(&json!({ "in_response_to": null })));
    let sp = SpContext {
        expected_request_id: None,
        ..sp_at(NOW)
    };
    assert!(verify_response(&idp(), &sp, &unsolicited).is_ok());
    assert_eq!(
        verify(&unsolicited).unwrap_err().code(),
        "wrong_in_response_to"
    );
}

#[test]
fn an_unsigned_response_is_refused() {
    assert_eq!(refusal_code(&json!({ "sign": "none" })), "not_signed");
}

#[test]
fn a_response_signed_by_another_key_is_refused() {
    let other = json!({ "key": forge::key("attacker.key"), "cert": forge::key("attacker.crt") });
    assert_eq!(refusal_code(&other), "wrong_signer");
    // The attacker's signature with the genuine certificate pasted into KeyInfo.
    let pretending = json!({ "key": forge::key("attacker.key"), "cert": forge::key("idp.crt") });
    assert_eq!(refusal_code(&pretending), "signature_invalid");
}

#[test]
fn a_response_altered_after_signing_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "tamper_name_id" })),
        "signature_invalid"
    );
}

#[test]
fn a_sha1_signature_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "algorithm": "rsa-sha1" })),
        "weak_algorithm"
    );
}

#[test]
fn an_expired_or_not_yet_valid_assertion_is_refused_beyond_a_minute_of_skew() {
    let ended = json!({ "not_on_or_after": NOW - 61, "subject_not_on_or_after": NOW + 300 });
    assert_eq!(refusal_code(&ended), "expired");
    let confirmation_ended = json!({ "subject_not_on_or_after": NOW - 61 });
    assert_eq!(refusal_code(&confirmation_ended), "expired");
    assert_eq!(
        refusal_code(&json!({ "not_before": NOW + 61 })),
        "not_yet_valid"
    );
    // Within the skew both ways.
    assert!(verify(&forge(&spec_with(
        &json!({ "not_before": NOW + 59, "not_on_or_after": NOW - 59 })
    )))
    .is_ok());
}

#[test]
fn a_valid_response_is_refused_once_its_time_has_passed() {
    let b64 = forge(&valid_spec());
    assert!(verify_response(&idp(), &sp_at(NOW + 300 + 59), &b64).is_ok());
    let err = verify_response(&idp(), &sp_at(NOW + 300 + 60), &b64).unwrap_err();
    assert_eq!(err.code(), "expired");
}

#[test]
fn a_response_for_another_audience_recipient_destination_request_or_issuer_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "audience": "https://other-sp.test" })),
        "wrong_audience"
    );
    assert_eq!(refusal_code(&json!({ "audience": null })), "wrong_audience");
    assert_eq!(
        refusal_code(&json!({ "recipient": "https://other-sp.test/acs" })),
        "wrong_recipient"
    );
    assert_eq!(
        refusal_code(&json!({ "destination": "https://other-sp.test/acs" })),
        "wrong_destination"
    );
    assert_eq!(
        refusal_code(&json!({ "in_response_to": "_another_request" })),
        "wrong_in_response_to"
    );
    assert_eq!(
        refusal_code(&json!({ "in_response_to": null })),
        "wrong_in_response_to"
    );
    assert_eq!(
        refusal_code(&json!({ "issuer": "https://evil-idp.test" })),
        "wrong_issuer"
    );
    // The assertion's own fields are checked even when the response's are right.
    let only_assertion =
        json!({ "issuer": "https://evil-idp.test", "response_issuer": IDP_ENTITY_ID });
    assert_eq!(refusal_code(&only_assertion), "wrong_issuer");
    let only_assertion =
        json!({ "in_response_to": "_another_request", "response_in_response_to": null });
    assert_eq!(refusal_code(&only_assertion), "wrong_in_response_to");
    // The response's Issuer is optional in SAML, and checked when present.
    assert!(verify(&forge(&spec_with(&json!({ "response_issuer": null })))).is_ok());
    let only_response = json!({ "response_issuer": "https://evil-idp.test" });
    assert_eq!(refusal_code(&only_response), "wrong_issuer");
    // Destination is optional in SAML: absent is fine.
    assert!(verify(&forge(&spec_with(&json!({ "destination": null })))).is_ok());
}

#[test]
fn an_idp_failure_status_is_reported_as_such() {
    let failed =
        json!({ "status": "urn:oasis:names:tc:SAML:2.0:status:Responder", "sign": "none" });
    assert_eq!(refusal_code(&failed), "status_not_success");
}

#[test]
fn a_response_without_an_mfa_context_verifies_but_is_not_mfa() {
    let password = spec_with(
        &json!({ "authn_context_class": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" }),
    );
    let identity = verify(&forge(&password)).unwrap();
    assert!(!statuspulse_saml::is_mfa_context(
        identity.authn_context_class.as_deref().unwrap()
    ));
    let identity = verify(&forge(&spec_with(&json!({ "authn_context_class": null })))).unwrap();
    assert_eq!(identity.authn_context_class, None);
}

#[test]
fn an_encrypted_assertion_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "encrypted_assertion" })),
        "encrypted_assertion"
    );
}

#[test]
fn an_unsigned_assertion_before_or_after_the_signed_one_is_refused() {
    assert_eq!(refusal_code(&json!({ "attack": "evil_before" })), "wrapped");
    assert_eq!(refusal_code(&json!({ "attack": "evil_after" })), "wrapped");
    assert_eq!(
        refusal_code(&json!({ "attack": "evil_before", "sign": "response" })),
        "wrapped"
    );
}

#[test]
fn an_assertion_wrapping_the_signed_one_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "evil_wraps_signed" })),
        "wrapped"
    );
}

#[test]
fn a_signed_assertion_moved_into_extensions_or_a_signature_object_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "signed_in_extensions" })),
        "wrapped"
    );
    assert_eq!(
        refusal_code(&json!({ "attack": "signed_in_object" })),
        "wrapped"
    );
}

#[test]
fn a_signed_response_wrapped_in_an_evil_response_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "response_wrapping" })),
        "wrapped"
    );
    assert_eq!(
        refusal_code(&json!({ "attack": "response_signature_moved" })),
        "wrapped"
    );
}

#[test]
fn an_evil_assertion_reusing_the_signed_id_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "duplicate_id" })),
        "wrapped"
    );
}

#[test]
fn a_dtd_with_external_or_expanding_entities_is_refused() {
    assert_eq!(
        refusal_code(&json!({ "attack": "doctype_xxe" })),
        "dtd_forbidden"
    );
    assert_eq!(
        refusal_code(&json!({ "attack": "billion_laughs" })),
        "dtd_forbidden"
    );
}

#[test]
fn a_comment_inside_the_signed_name_id_does_not_truncate_it() {
    // The IdP signed "admin@example.com.evil.com"; a comment after "admin@example.com" keeps the
    // signature valid (C14N drops comments) and must not make us read the shorter name.
    let spec = spec_with(&json!({
        "name_id": "admin@example.com.evil.com",
        "attack": "comment_in_name_id",
        "comment_after": "admin@example.com",
    }));
    let b64 = forge(&spec);
    assert!(forge::decoded(&b64).contains("admin@example.com<!---->.evil.com"));
    assert_eq!(verify(&b64).unwrap().subject, "admin@example.com.evil.com");
}

#[test]
fn an_oversized_or_garbled_response_is_refused_before_parsing() {
    let huge = forge::encoded(&format!("<x>{}</x>", "a".repeat(300 * 1024)));
    assert_eq!(verify(&huge).unwrap_err().code(), "too_large");
    assert_eq!(verify("not base64!").unwrap_err().code(), "malformed");
    assert_eq!(
        verify(&forge::encoded("<not-closed>")).unwrap_err().code(),
        "malformed"
    );
    assert_eq!(
        verify(&forge::encoded("<a/>")).unwrap_err().code(),
        "malformed"
    );
}

#[test]
fn a_response_in_a_declared_non_utf8_encoding_is_refused() {
    let xml = forge::decoded(&forge(&valid_spec()));
    let latin1 = format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{xml}");
    assert_eq!(
        verify(&forge::encoded(&latin1)).unwrap_err().code(),
        "malformed"
    );
    let utf8 = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}");
    assert!(verify(&forge::encoded(&utf8)).is_ok());
}

#[test]
fn a_configured_groups_attribute_is_read_instead_of_the_usual_names() {
    let spec = spec_with(&json!({ "groups_attribute": "roles", "groups": ["b", "a", "b"] }));
    let b64 = forge(&spec);
    assert_eq!(verify(&b64).unwrap().groups, Vec::<String>::new());
    let mut settings = idp();
    settings.groups_attribute = Some("roles".into());
    assert_eq!(
        verify_response(&settings, &sp_at(NOW), &b64)
            .unwrap()
            .groups,
        ["a", "b"]
    );
}

#[test]
fn base64_wrapped_in_lines_is_accepted() {
    let b64 = forge(&valid_spec());
    let wrapped: Vec<String> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert!(verify(&wrapped.join("\r\n")).is_ok());
}
