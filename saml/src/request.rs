//! What we send: the AuthnRequest (HTTP-Redirect binding), our metadata, request IDs.

use std::io::Write;

use base64::Engine;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use crate::xml::{escape, format_instant, MD, SAML, SAMLP};
use crate::{IdpSettings, Refusal, SpContext};

/// The SAML binding of our AssertionConsumerService.
const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// `unspecified` lets each IdP choose the NameID it is configured for; an `emailAddress` policy
/// makes AD FS and some Entra ID set-ups fail with `InvalidNameIDPolicy`. The email is read from
/// the attributes, or from the NameID when the IdP chose the email format.
const NAME_ID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// SAML bindings 3.4.3: RelayState must not exceed 80 bytes.
const MAX_RELAY_STATE: usize = 80;

/// A fresh AuthnRequest ID: `_` and 32 hex digits (128 random bits). An XML ID must not start
/// with a digit, hence the underscore.
#[must_use]
pub fn new_request_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The operating system's generator failing is not something to continue from: a predictable
    // request ID would let another site's response be accepted as the answer to ours.
    #[allow(clippy::expect_used)]
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator failed");
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Whether `id` can be an XML ID (an NCName, restricted to ASCII: our IDs are `_` and hex).
fn is_xml_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && id.len() <= 256
}

/// The URL that sends the browser to the IdP with an AuthnRequest (HTTP-Redirect binding:
/// raw DEFLATE, base64, URL-encoded; unsigned, as our metadata says). `ForceAuthn` is false,
/// the NameID policy `unspecified`; `requested_authn_contexts`, when not empty, become a
/// `RequestedAuthnContext` with comparison `exact` (any one of them).
pub fn authn_request_redirect_url(
    idp: &IdpSettings,
    sp: &SpContext<'_>,
    request_id: &str,
    relay_state: &str,
    requested_authn_contexts: &[String],
    now_unix: i64,
) -> Result<String, Refusal> {
    let mut url = url::Url::parse(&idp.sso_url)
        .map_err(|e| Refusal::InvalidSettings(format!("the IdP SSO URL is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(Refusal::InvalidSettings(
            "the IdP SSO URL must be an http(s) URL".into(),
        ));
    }
    if !is_xml_id(request_id) {
        return Err(Refusal::InvalidRequest(
            "the request ID is not an XML ID (use new_request_id)".into(),
        ));
    }
    if relay_state.len() > MAX_RELAY_STATE {
        return Err(Refusal::InvalidRequest(format!(
            "RelayState is longer than {MAX_RELAY_STATE} bytes"
        )));
    }
    let issue_instant = format_instant(now_unix)
        .ok_or_else(|| Refusal::InvalidRequest("the time is out of range".into()))?;

    let mut contexts = String::new();
    if !requested_authn_contexts.is_empty() {
        contexts.push_str(r#"<samlp:RequestedAuthnContext Comparison="exact">"#);
        for class in requested_authn_contexts {
            contexts.push_str("<saml:AuthnContextClassRef>");
            contexts.push_str(&escape(class));
            contexts.push_str("</saml:AuthnContextClassRef>");
        }
        contexts.push_str("</samlp:RequestedAuthnContext>");
    }
    let request = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0""#,
            r#" IssueInstant="{instant}" Destination="{destination}" ForceAuthn="false" IsPassive="false""#,
            r#" ProtocolBinding="{binding}" AssertionConsumerServiceURL="{acs}">"#,
            "<saml:Issuer>{issuer}</saml:Issuer>",
            r#"<samlp:NameIDPolicy Format="{name_id}" AllowCreate="true"/>"#,
            "{contexts}</samlp:AuthnRequest>"
        ),
        samlp = SAMLP,
        saml = SAML,
        id = request_id,
        instant = issue_instant,
        destination = escape(&idp.sso_url),
        binding = HTTP_POST,
        acs = escape(sp.acs_url),
        issuer = escape(sp.entity_id),
        name_id = NAME_ID_UNSPECIFIED,
        contexts = contexts,
    );

    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
    let deflated = deflate
        .write_all(request.as_bytes())
        .and_then(|()| deflate.finish())
        .map_err(|e| Refusal::InvalidRequest(format!("compressing the request failed ({e})")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("SAMLRequest", &encoded);
        if !relay_state.is_empty() {
            query.append_pair("RelayState", relay_state);
        }
    }
    Ok(url.into())
}

/// Our SP metadata for the IdP administrator: unsigned AuthnRequests, signed assertions
/// required, one AssertionConsumerService (HTTP-POST), no encryption key.
#[must_use]
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="{md}" entityID="{entity_id}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true""#,
            r#" protocolSupportEnumeration="{samlp}">"#,
            "<md:NameIDFormat>{email}</md:NameIDFormat>",
            "<md:NameIDFormat>{unspecified}</md:NameIDFormat>",
            r#"<md:AssertionConsumerService Binding="{binding}" Location="{acs}" index="0" isDefault="true"/>"#,
            "</md:SPSSODescriptor></md:EntityDescriptor>\n"
        ),
        md = MD,
        entity_id = escape(entity_id),
        samlp = SAMLP,
        email = NAME_ID_EMAIL,
        unspecified = NAME_ID_UNSPECIFIED,
        binding = HTTP_POST,
        acs = escape(acs_url),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::xml::{child, is};

    fn idp() -> IdpSettings {
        IdpSettings {
            entity_id: "https://idp.example.com".into(),
            sso_url: "https://idp.example.com/sso?tenant=a&b=c".into(),
            certificate_pem: String::new(),
            groups_attribute: None,
        }
    }

    const SP: SpContext<'static> = SpContext {
        entity_id: "https://auth.statuspulse.test/saml/sp",
        acs_url: "https://auth.statuspulse.test/v1/sso/saml/acs",
        expected_request_id: None,
        now_unix: 1_795_996_800,
    };

    fn decoded_request(url: &str) -> (String, Option<String>) {
        let url = url::Url::parse(url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(get("SAMLRequest").unwrap())
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .unwrap();
        (xml, get("RelayState"))
    }

    #[test]
    fn redirect_url_carries_a_deflated_request_and_keeps_the_sso_url_query() {
        let contexts = vec!["https://refeds.org/profile/mfa".to_string()];
        let url =
            authn_request_redirect_url(&idp(), &SP, "_0123abcd", "rs<&>", &contexts, SP.now_unix)
                .unwrap();
        assert!(
            url.starts_with("https://idp.example.com/sso?tenant=a&b=c&SAMLRequest="),
            "{url}"
        );
        let (xml, relay) = decoded_request(&url);
        assert_eq!(relay.as_deref(), Some("rs<&>"));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert!(is(root, SAMLP, "AuthnRequest"));
        assert_eq!(root.attribute("ID"), Some("_0123abcd"));
        assert_eq!(root.attribute("ForceAuthn"), Some("false"));
        assert_eq!(root.attribute("IssueInstant"), Some("2026-11-30T00:00:00Z"));
        assert_eq!(
            root.attribute("Destination"),
            Some("https://idp.example.com/sso?tenant=a&b=c")
        );
        assert_eq!(
            root.attribute("AssertionConsumerServiceURL"),
            Some(SP.acs_url)
        );
        assert_eq!(root.attribute("ProtocolBinding"), Some(HTTP_POST));
        assert_eq!(
            child(root, SAML, "Issuer").unwrap().text(),
            Some(SP.entity_id)
        );
        assert_eq!(
            child(root, SAMLP, "NameIDPolicy")
                .unwrap()
                .attribute("Format"),
            Some(NAME_ID_UNSPECIFIED)
        );
        let requested = child(root, SAMLP, "RequestedAuthnContext").unwrap();
        assert_eq!(requested.attribute("Comparison"), Some("exact"));
        assert_eq!(
            child(requested, SAML, "AuthnContextClassRef")
                .unwrap()
                .text(),
            Some("https://refeds.org/profile/mfa")
        );
    }

    #[test]
    fn no_requested_context_and_no_relay_state_are_left_out() {
        let url = authn_request_redirect_url(&idp(), &SP, &new_request_id(), "", &[], SP.now_unix)
            .unwrap();
        let (xml, relay) = decoded_request(&url);
        assert_eq!(relay, None);
        assert!(!xml.contains("RequestedAuthnContext"));
    }

    #[test]
    fn bad_settings_and_parameters_are_refused() {
        let mut bad = idp();
        bad.sso_url = "javascript:alert(1)".into();
        let err = authn_request_redirect_url(&bad, &SP, "_a", "", &[], 0).unwrap_err();
        assert_eq!(err.code(), "invalid_settings");
        let err = authn_request_redirect_url(&idp(), &SP, "1\"><x", "", &[], 0).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        let err =
            authn_request_redirect_url(&idp(), &SP, "_a", &"r".repeat(81), &[], 0).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn request_ids_are_underscore_and_32_random_hex_digits() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert!(a[1..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(is_xml_id(&a));
    }

    #[test]
    fn metadata_describes_an_unsigned_request_signed_assertion_post_sp() {
        let xml = sp_metadata("https://sp.test/a?b&c", "https://sp.test/acs");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert!(is(root, MD, "EntityDescriptor"));
        assert_eq!(root.attribute("entityID"), Some("https://sp.test/a?b&c"));
        let sp = child(root, MD, "SPSSODescriptor").unwrap();
        assert_eq!(sp.attribute("AuthnRequestsSigned"), Some("false"));
        assert_eq!(sp.attribute("WantAssertionsSigned"), Some("true"));
        let acs = child(sp, MD, "AssertionConsumerService").unwrap();
        assert_eq!(acs.attribute("Binding"), Some(HTTP_POST));
        assert_eq!(acs.attribute("Location"), Some("https://sp.test/acs"));
        assert!(child(sp, MD, "KeyDescriptor").is_none());
    }
}
